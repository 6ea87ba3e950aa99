import { SimpleChart } from './chart.tsx';
import { formatP } from './monitors-common.tsx';
import type { DriftSignal, DriftSummary } from '../types.ts';

// One drift signal against its baseline, as a small grouped bar chart: the median and 90th
// percentile of a continuous signal (latency, token counts), or the share of each value of a
// categorical one (error or not, finish reasons), baseline beside current.

const isShares = (s: DriftSummary): s is { n: number; shares: Record<string, number> } => 'shares' in s;

const round = (n: number | null, digits: number) => (n === null || !Number.isFinite(n) ? null : Number(n.toFixed(digits)));

export function DriftSignalChart(props: { signal: DriftSignal }) {
  const s = props.signal;
  const b = s.baseline;
  const c = s.current;
  const verdict = `${s.drifted ? 'drifted' : 'within its baseline'} · PSI ${s.psi.toFixed(2)} · p ${formatP(s.pValue)} (${s.test === 'ks' ? 'Kolmogorov–Smirnov' : 'chi-square'}) · n ${b.n} baseline, ${c.n} now`;
  if (isShares(b) || isShares(c)) {
    const bs = isShares(b) ? b.shares : {};
    const cs = isShares(c) ? c.shares : {};
    const labels = [...new Set([...Object.keys(bs), ...Object.keys(cs)])].sort();
    return (
      <div class="drift-chart">
        <SimpleChart
          type="bar"
          height={180}
          title={`${s.signal}: share of each value, baseline and now (%)`}
          labels={labels}
          series={[
            { label: 'baseline', values: labels.map((l) => round((bs[l] ?? 0) * 100, 1)) },
            { label: 'now', values: labels.map((l) => round((cs[l] ?? 0) * 100, 1)) },
          ]}
        />
        <p class="hint">{verdict}</p>
      </div>
    );
  }
  return (
    <div class="drift-chart">
      <SimpleChart
        type="bar"
        height={180}
        title={`${s.signal}: median and 90th percentile, baseline and now`}
        labels={['p50', 'p90']}
        series={[
          { label: 'baseline', values: [round(b.p50, 1), round(b.p90, 1)] },
          { label: 'now', values: [round(c.p50, 1), round(c.p90, 1)] },
        ]}
      />
      <p class="hint">{verdict}</p>
    </div>
  );
}
