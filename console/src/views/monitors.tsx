import { useState } from 'preact/hooks';
import { api, seg, withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { Empty, ErrorBox, Loading, Page } from '../components/common.tsx';
import { MonitorForm } from '../components/monitors-form.tsx';
import { AlertState, MonitorTarget, SignalList, alertPath, BaselineText, formatSeconds } from '../components/monitors-common.tsx';
import type { Monitor, MonitorList } from '../types.ts';

// The project's monitors: what each watches (a prompt version or alias, its signals, its window
// and baseline) and whether it has an open alert. Keys that may edit also create and delete them.

export function MonitorsView() {
  const session = useSession();
  const list = useApi<MonitorList>('/v1/monitors');
  const mayEdit = session.may('edit');
  const [created, setCreated] = useState<Monitor | null>(null);
  const monitors = list.data?.monitors ?? [];

  return (
    <Page
      title="Monitors"
      actions={
        <>
          <a class="button" href="/alerts?state=open">
            Open alerts
          </a>
          <button type="button" onClick={() => list.reload()}>
            Refresh
          </button>
        </>
      }
    >
      <p class="hint">A monitor compares a prompt version’s (or alias’s) latest window with a baseline every minute (PROMPTLINE_MONITOR_INTERVAL); a watched signal that drifts opens an alert, which resolves itself when the signal comes back.</p>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="monitors" /> : null}
      {list.data && monitors.length === 0 ? <Empty>No monitors yet{mayEdit ? ': create one below.' : '. A key that may edit creates them.'}</Empty> : null}
      {monitors.length > 0 ? (
        <div class="table-scroll">
          <table class="monitors" aria-label="Monitors">
            <thead>
              <tr>
                <th scope="col">Monitor</th>
                <th scope="col">Watches</th>
                <th scope="col">Signals</th>
                <th scope="col">Window</th>
                <th scope="col">Baseline</th>
                <th scope="col">State</th>
                {mayEdit ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {monitors.map((m) => (
                <MonitorRow key={m.id} m={m} mayEdit={mayEdit} onDeleted={() => list.reload()} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {created ? (
        <p class="done" role="status">
          Created monitor “{created.name}”.
        </p>
      ) : null}
      {mayEdit ? (
        <MonitorForm
          onCreated={(m) => {
            setCreated(m);
            list.reload();
          }}
        />
      ) : null}
    </Page>
  );
}

function MonitorRow(props: { m: MonitorList['monitors'][number]; mayEdit: boolean; onDeleted: () => void }) {
  const m = props.m;
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const remove = async () => {
    try {
      await api(`/v1/monitors/${seg(m.id)}`, { method: 'DELETE' });
      props.onDeleted();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    }
  };
  return (
    <tr>
      <th scope="row" class="monitor-name">
        <a href={withQuery('/alerts', { monitor: m.id })} aria-label={`Alerts of ${m.name}`}>
          {m.name}
        </a>
        <div class="hint">by {m.createdBy}</div>
      </th>
      <td>
        <MonitorTarget monitor={m} />
      </td>
      <td>
        <SignalList signals={m.signals} />
      </td>
      <td class="nowrap">{formatSeconds(m.windowSeconds)}</td>
      <td>
        <BaselineText baseline={m.baseline} />
      </td>
      <td>
        {m.openAlert ? (
          <a href={alertPath(m.openAlert.id)} class="alert-link">
            <AlertState alert={m.openAlert} />
          </a>
        ) : (
          <span class="badge ok">no open alert</span>
        )}
      </td>
      {props.mayEdit ? (
        <td class="nowrap">
          {confirming ? (
            <>
              <button type="button" class="danger" onClick={() => void remove()}>
                Delete “{m.name}” and its alerts
              </button>{' '}
              <button type="button" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </>
          ) : (
            <button type="button" onClick={() => setConfirming(true)} aria-label={`Delete ${m.name}`}>
              Delete
            </button>
          )}
          <ErrorBox error={error} />
        </td>
      ) : null}
    </tr>
  );
}
