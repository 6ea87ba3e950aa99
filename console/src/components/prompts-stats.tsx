import type { ComponentChildren } from 'preact';
import { formatCount, formatMs } from './common.tsx';
import { formatNumber, formatPercent, responsesPath } from './prompts-common.tsx';
import type { CompareVersionStats } from '../types.ts';

// The numbers of one or more versions in a time window, each a link to the responses behind it
// (the responses list filtered by prompt, version and window; the error rate by status=error too).

export interface StatsWindow {
  from?: string | undefined;
  to?: string | undefined;
}

function interval(ci: [number, number] | null, format: (x: number) => string): string {
  return ci ? `95 % interval ${format(ci[0])} – ${format(ci[1])}` : 'no interval (too few)';
}

export function StatsTable(props: { name: string; stats: CompareVersionStats[]; window: StatsWindow; caption: string }) {
  const link = (s: CompareVersionStats, text: string, extra: Record<string, string> = {}) => (
    <a href={responsesPath({ prompt: props.name, version: s.version, from: props.window.from, to: props.window.to, ...extra })}>{text}</a>
  );
  const scorers = [...new Set(props.stats.flatMap((s) => s.scores.map((x) => x.scorer)))].sort();
  const rows: Array<[string, (s: CompareVersionStats) => ComponentChildren]> = [
    ['Responses', (s) => link(s, formatCount(s.responses))],
    [
      'Error rate',
      (s) => (
        <>
          {link(s, formatPercent(s.errorRate.value), { status: 'error' })}
          <span class="ci"> {s.errorRate.n > 0 ? interval(s.errorRate.ci95, (x) => formatPercent(x)) : ''}</span>
        </>
      ),
    ],
    ['Latency p50', (s) => link(s, formatMs(s.latencyMs.p50))],
    ['Latency p95', (s) => link(s, formatMs(s.latencyMs.p95))],
    ['Latency mean', (s) => link(s, formatMs(s.latencyMs.mean))],
    ['Input tokens', (s) => link(s, formatCount(s.tokens.input))],
    ['Output tokens', (s) => link(s, formatCount(s.tokens.output))],
    ['Tokens per response (mean)', (s) => link(s, formatNumber(s.tokens.meanTotal, 1))],
    ...scorers.map((scorer): [string, (s: CompareVersionStats) => ComponentChildren] => [
      `Score: ${scorer}`,
      (s) => {
        const x = s.scores.find((y) => y.scorer === scorer);
        if (!x) return <span class="muted">—</span>;
        return (
          <>
            {link(s, formatNumber(x.mean, 3))}
            <span class="ci">
              {' '}
              {interval(x.ci95, (v) => formatNumber(v, 3))}, n = {formatCount(x.n)}
            </span>
          </>
        );
      },
    ]),
  ];
  return (
    <table class="stats" aria-label={props.caption}>
      <thead>
        <tr>
          <th scope="col">Metric</th>
          {props.stats.map((s, i) => (
            <th scope="col" key={i}>
              Version {s.version}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map(([label, cell]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            {props.stats.map((s, i) => (
              <td key={i}>{cell(s)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
