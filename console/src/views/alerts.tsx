import { useLocation } from 'preact-iso';
import { withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { Empty, ErrorBox, Loading, Page, Time } from '../components/common.tsx';
import { AlertState, MonitorTarget, SignalList, alertPath } from '../components/monitors-common.tsx';
import type { Alert, MonitorList } from '../types.ts';

// /alerts?state=open|resolved&monitor=ID: the project's alerts, newest first. The filters are the address.

export function AlertsView() {
  const location = useLocation();
  const state = location.query.state === 'open' || location.query.state === 'resolved' ? location.query.state : '';
  const monitor = location.query.monitor ?? '';
  const alerts = useApi<{ alerts: Alert[] }>('/v1/alerts', { query: { state: state || undefined, monitor: monitor || undefined } });
  const monitors = useApi<MonitorList>('/v1/monitors');
  const byId = new Map((monitors.data?.monitors ?? []).map((m) => [m.id, m]));
  const update = (patch: Record<string, string>) => location.route(withQuery('/alerts', { state, monitor, ...patch }), true);
  const items = alerts.data?.alerts ?? [];

  return (
    <Page
      title="Alerts"
      actions={
        <button type="button" onClick={() => alerts.reload()}>
          Refresh
        </button>
      }
    >
      <form class="filters" role="search" aria-label="Filter alerts" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select value={state} onChange={(e) => update({ state: e.currentTarget.value })}>
            <option value="">any</option>
            <option value="open">open</option>
            <option value="resolved">resolved</option>
          </select>
        </label>
        <label>
          Monitor
          <select value={monitor} onChange={(e) => update({ monitor: e.currentTarget.value })}>
            <option value="">any</option>
            {(monitors.data?.monitors ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
            {monitor && monitors.data && !byId.has(monitor) ? <option value={monitor}>{monitor} (deleted)</option> : null}
          </select>
        </label>
      </form>
      <ErrorBox error={alerts.error ?? monitors.error} />
      {alerts.loading && !alerts.data ? <Loading what="alerts" /> : null}
      {alerts.data && items.length === 0 ? <Empty>No {state ? `${state} ` : ''}alerts{monitor ? ' for this monitor' : ''}.</Empty> : null}
      {items.length > 0 ? (
        <div class="table-scroll">
          <table class="alerts" aria-label="Alerts">
            <thead>
              <tr>
                <th scope="col">Alert</th>
                <th scope="col">Monitor</th>
                <th scope="col">Watches</th>
                <th scope="col">Breached</th>
                <th scope="col">First seen</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => {
                const m = byId.get(a.monitorId);
                return (
                  <tr key={a.id}>
                    <td>
                      <a href={alertPath(a.id)}>
                        <AlertState alert={a} />
                      </a>
                    </td>
                    <td class="monitor-name">{m ? m.name : <span class="muted">{a.monitorId}</span>}</td>
                    <td>{m ? <MonitorTarget monitor={m} /> : <span class="muted">—</span>}</td>
                    <td>
                      <SignalList signals={a.signals} />
                    </td>
                    <td class="nowrap">
                      <Time iso={a.firstSeen} />
                    </td>
                    <td class="nowrap">
                      <Time iso={a.lastSeen} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
