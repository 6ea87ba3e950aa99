import { seg } from '../api.ts';
import { useApi } from '../hooks.ts';
import { ErrorBox, Facts, Loading, Page, Time, formatCount } from '../components/common.tsx';
import { DriftSignalChart } from '../components/drift-charts.tsx';
import { AlertState, MonitorTarget, SignalList, alertWhatChangedPath, BaselineText, formatP, formatSeconds, metricForSignal, metricLabel } from '../components/monitors-common.tsx';
import { decodeParam } from '../components/prompts-common.tsx';
import type { AlertDetail, DriftSignal, DriftSummary } from '../types.ts';

// /alerts/:id: an alert (its state, when it was first and last seen, the signals that breached
// with their PSI and p), and each signal its monitor watches charted against the baseline, each
// chart linking to what changed for the monitor's prompt over the alert's window.

export function AlertView(props: { id?: string }) {
  const id = decodeParam(props.id);
  const detail = useApi<AlertDetail>(`/v1/alerts/${seg(id)}`);
  const d = detail.data;
  return (
    <Page title={d ? `Alert: ${d.monitor.name}` : 'Alert'} actions={<a href="/alerts">All alerts</a>}>
      <ErrorBox error={detail.error} />
      {detail.loading && !d ? <Loading what="alert" /> : null}
      {d ? <AlertBody d={d} /> : null}
    </Page>
  );
}

/** A window's summary in a line: quantiles of a continuous signal, the largest shares of a categorical one; and n. */
function summaryText(s: DriftSummary): string {
  if ('shares' in s) {
    const top = Object.entries(s.shares)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, share]) => `${k} ${(share * 100).toFixed(1)} %`);
    return `${top.join(', ')} (n ${formatCount(s.n)})`;
  }
  const q = (x: number | null) => (x === null ? '—' : x.toFixed(x >= 100 ? 0 : 1));
  return `p50 ${q(s.p50)}, p90 ${q(s.p90)} (n ${formatCount(s.n)})`;
}

function AlertBody({ d }: { d: AlertDetail }) {
  const { alert, monitor, drift } = d;
  const watched = monitor.signals.length > 0 ? monitor.signals : (drift?.signals.map((s) => s.signal) ?? []);
  const signals: Array<{ name: string; drift: DriftSignal | undefined }> = watched.map((name) => ({ name, drift: drift?.signals.find((s) => s.signal === name) }));
  // The breached signals first: they are why the reader is here.
  signals.sort((a, b) => Number(alert.signals.includes(b.name)) - Number(alert.signals.includes(a.name)));
  return (
    <>
      <section class="panel" aria-labelledby="alert-facts">
        <h2 id="alert-facts">
          <AlertState alert={alert} />
        </h2>
        <Facts
          rows={[
            ['monitor', <span class="monitor-name">{monitor.name}</span>],
            ['watches', <MonitorTarget monitor={monitor} />],
            ['signals', <SignalList signals={monitor.signals} />],
            ['window', `the last ${formatSeconds(monitor.windowSeconds)}`],
            ['baseline', <BaselineText baseline={monitor.baseline} />],
            ['thresholds', `p < ${monitor.pValue} and PSI ≥ ${monitor.psi}`],
            ['first seen', <Time iso={alert.firstSeen} />],
            ['last seen', <Time iso={alert.lastSeen} />],
            ['resolved', alert.resolvedAt ? <Time iso={alert.resolvedAt} /> : null],
          ]}
        />
      </section>
      <section class="panel" aria-labelledby="alert-breached">
        <h2 id="alert-breached">Breached signals</h2>
        <table aria-label="Breached signals">
          <thead>
            <tr>
              <th scope="col">Signal</th>
              <th scope="col" class="num">
                PSI
              </th>
              <th scope="col" class="num">
                p
              </th>
              <th scope="col" class="num">
                Statistic
              </th>
              <th scope="col">Baseline then</th>
              <th scope="col">Current then</th>
              <th scope="col">What changed</th>
            </tr>
          </thead>
          <tbody>
            {alert.values.map((v) => (
              <tr key={v.signal}>
                <th scope="row">{v.signal}</th>
                <td class="num">{v.psi.toFixed(2)}</td>
                <td class="num">{formatP(v.pValue)}</td>
                <td class="num">{v.statistic.toFixed(3)}</td>
                <td>{v.baseline ? summaryText(v.baseline) : '—'}</td>
                <td>{v.current ? summaryText(v.current) : '—'}</td>
                <td>
                  <a href={alertWhatChangedPath(alert, monitor, v.signal)}>what changed ({metricLabel(metricForSignal(v.signal))})</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <p class="hint">The values of the latest evaluation that saw the breach, with the baseline and the current window as it measured them (the charts below are of now).</p>
      </section>
      <section aria-labelledby="alert-charts">
        <h2 id="alert-charts">Signals against their baseline</h2>
        {drift ? (
          <p class="hint">
            Now: {formatCount(drift.current.responses)} responses from <Time iso={drift.current.from} /> to <Time iso={drift.current.to} />; baseline: {formatCount(drift.baseline.responses)} responses from{' '}
            <Time iso={drift.baseline.from} /> to <Time iso={drift.baseline.to} />.
          </p>
        ) : (
          <p class="notice">There is nothing to compare now: the monitor’s baseline has no responses yet.</p>
        )}
        <div class="drift-grid">
          {signals.map((s) => (
            <section class={`panel drift-signal${alert.signals.includes(s.name) ? ' breached' : ''}`} key={s.name} aria-label={`Signal ${s.name}`}>
              <h3>
                {s.name} {alert.signals.includes(s.name) ? <span class="badge error">breached</span> : null}
              </h3>
              {s.drift ? <DriftSignalChart signal={s.drift} /> : <p class="muted">No figures for this signal now.</p>}
              <a href={alertWhatChangedPath(alert, monitor, s.name)}>What changed around this alert ({metricLabel(metricForSignal(s.name))})</a>
            </section>
          ))}
        </div>
      </section>
    </>
  );
}
