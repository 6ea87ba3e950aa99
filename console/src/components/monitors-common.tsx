import { seg, withQuery } from '../api.ts';
import { Time } from './common.tsx';
import { promptPath, versionPath } from './prompts-common.tsx';
import type { Alert, Monitor, MonitorBaseline, WhatChangedMetric } from '../types.ts';

// Pieces the monitor, alert and what-changed views share: their paths, how a monitor's target,
// window and baseline read, and which what-changed question an alert's signal asks.

/** The signals drift reports for responses (src/storage/span-analytics.ts RESPONSE_SIGNALS). */
export const RESPONSE_SIGNALS = ['latency_ms', 'input_tokens', 'output_tokens', 'error_rate', 'finish_reason', 'tool_call_rate', 'registration'] as const;

export const METRICS: Array<{ value: WhatChangedMetric; label: string }> = [
  { value: 'error_rate', label: 'error rate' },
  { value: 'latency_ms', label: 'latency' },
  { value: 'output_tokens', label: 'output tokens' },
  { value: 'input_tokens', label: 'input tokens' },
];

export function metricParam(value: string | undefined): WhatChangedMetric {
  return METRICS.find((m) => m.value === value)?.value ?? 'error_rate';
}

export function metricLabel(metric: WhatChangedMetric): string {
  return METRICS.find((m) => m.value === metric)?.label ?? metric;
}

/** A metric's value as a reader says it: error rate in per cent, latency in ms, tokens as counts. */
export function formatMetric(metric: WhatChangedMetric, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (metric === 'error_rate') return `${(value * 100).toFixed(1)} %`;
  if (metric === 'latency_ms') return `${value.toFixed(0)} ms`;
  return value.toFixed(0);
}

/** The what-changed metric that asks about a drift signal: the same quantity where there is one, else the error rate. */
export function metricForSignal(signal: string): WhatChangedMetric {
  return METRICS.find((m) => m.value === signal)?.value ?? 'error_rate';
}

export const alertPath = (id: string) => `/alerts/${seg(id)}`;

export function whatChangedPath(q: { app?: string | null; prompt?: string | null; metric?: WhatChangedMetric; from?: string; to?: string }): string {
  return withQuery('/what-changed', { app: q.app, prompt: q.prompt, metric: q.metric, from: q.from, to: q.to });
}

const HOUR_MS = 3_600_000;

/**
 * The window what-changed looks at for an alert: from well before it opened (four of the monitor's
 * windows, at least an hour, and from the start of a fixed baseline window within 30 days, so that
 * what-changed sees the metric before it moved) to when it resolved, or when it was last seen.
 */
function alertWindow(alert: Alert, monitor: Monitor): { from: string; to: string } {
  const first = Date.parse(alert.firstSeen);
  let from = first - Math.max(HOUR_MS, 4 * monitor.windowSeconds * 1000);
  if (monitor.baseline.kind === 'window') {
    const baselineFrom = Date.parse(monitor.baseline.from);
    if (baselineFrom < from && baselineFrom >= first - 30 * 24 * HOUR_MS) from = baselineFrom;
  }
  const end = Date.parse(alert.resolvedAt ?? alert.lastSeen);
  // An alert seen once still gets a bucket after its opening.
  const to = Math.max(end, first + 60_000);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

/** The what-changed view for the monitor's prompt, over the alert's window, asking about the signal. */
export function alertWhatChangedPath(alert: Alert, monitor: Monitor, signal: string): string {
  return whatChangedPath({ prompt: monitor.prompt, metric: metricForSignal(signal), ...alertWindow(alert, monitor) });
}

/** "2 h", "20 s", "1 d 6 h". */
export function formatSeconds(s: number): string {
  const units: Array<[number, string]> = [
    [86_400, 'd'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  const parts: string[] = [];
  let rest = Math.round(s);
  for (const [n, u] of units) {
    if (rest >= n) {
      parts.push(`${Math.floor(rest / n)} ${u}`);
      rest %= n;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ') || '0 s';
}

function baselineText(b: MonitorBaseline): string {
  if (b.kind === 'first_days') return `its first ${b.days} ${b.days === 1 ? 'day' : 'days'}`;
  if (b.kind === 'evaluation') return 'the window of its evaluation';
  return `${new Date(b.from).toISOString().replace('.000Z', 'Z')} – ${new Date(b.to).toISOString().replace('.000Z', 'Z')}`;
}

/** A monitor's baseline, its window's times as the reader's local times. */
export function BaselineText(props: { baseline: MonitorBaseline }) {
  const b = props.baseline;
  if (b.kind !== 'window') return <>{baselineText(b)}</>;
  return (
    <>
      <Time iso={b.from} /> – <Time iso={b.to} />
    </>
  );
}

/** The prompt a monitor watches, linked: `name v3` to the version, `name @production` to the alias. */
export function MonitorTarget(props: { monitor: Pick<Monitor, 'prompt' | 'version' | 'alias'> }) {
  const m = props.monitor;
  const version = m.version !== null && /^\d{1,15}$/.test(m.version) ? Number(m.version) : null;
  return (
    <span class="monitor-target">
      <a href={promptPath(m.prompt)}>{m.prompt}</a>{' '}
      {version !== null ? (
        <a class="badge" href={versionPath(m.prompt, version)}>
          v{version}
        </a>
      ) : m.alias ? (
        <a class="badge" href={promptPath(m.prompt, { tab: 'aliases', alias: m.alias })}>
          @{m.alias}
        </a>
      ) : null}
    </span>
  );
}

export function AlertState(props: { alert: Pick<Alert, 'state' | 'firstSeen' | 'resolvedAt'> }) {
  const a = props.alert;
  if (a.state === 'open')
    return (
      <span class="alert-state">
        <span class="badge error">open</span> since <Time iso={a.firstSeen} />
      </span>
    );
  return (
    <span class="alert-state">
      <span class="badge ok">resolved</span> <Time iso={a.resolvedAt} />
    </span>
  );
}

export function SignalList(props: { signals: string[] }) {
  if (props.signals.length === 0) return <span class="muted">all signals</span>;
  return (
    <span class="tags">
      {props.signals.map((s) => (
        <span class="badge" key={s}>
          {s}
        </span>
      ))}
    </span>
  );
}

/** A p-value as a reader compares it with a threshold: 3.2e-9 rather than 0.0000000032. */
export function formatP(p: number): string {
  if (!Number.isFinite(p)) return '—';
  if (p === 0) return '0';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}
