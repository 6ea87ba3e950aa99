import { useMemo } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { seg } from '../api.ts';
import { useApi } from '../hooks.ts';
import { SimpleChart } from '../components/chart.tsx';
import { Empty, ErrorBox, Loading, Page } from '../components/common.tsx';
import { RANGES, comparePath, decodeParam, formatNumber, formatPercent, promptPath, rangeWindow, responsesPath, versionParam, versionPath, type RangeValue } from '../components/prompts-common.tsx';
import { StatsTable } from '../components/prompts-stats.tsx';
import type { CompareVerdict, VersionComparison, RegistryVersionList } from '../types.ts';

// Two versions of a prompt side by side (?a=&b=, and ?range= for a window; all time by default):
// the numbers /compare computes with their 95 % intervals, drawn as charts, and its verdict in words.

function metricName(metric: string): string {
  if (metric === 'errorRate') return 'error rate';
  if (metric.startsWith('score:')) return `score “${metric.slice('score:'.length)}”`;
  return metric;
}

/** A confidence as a percentage; one that rounds to 100 % is shown as more than 99.9 %. */
function formatConfidence(x: number | null): string {
  if (x !== null && x >= 0.9995) return 'more than 99.9 %';
  return formatPercent(x, 1);
}

function listOf(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}

/** The overall verdict as a sentence. */
export function verdictText(c: VersionComparison): string {
  const va = c.a.version;
  const vb = c.b.version;
  const needed = formatPercent(c.decisionConfidence, 0);
  if (va === vb) return `Version ${va} is compared with itself: there is nothing to decide.`;
  if (c.overall.better) {
    const winner = c.overall.better === 'a' ? va : vb;
    const loser = c.overall.better === 'a' ? vb : va;
    return `Version ${winner} is better than version ${loser} on ${listOf(c.overall.basis.map(metricName))}, with ${formatConfidence(c.overall.confidence)} confidence.`;
  }
  if (c.overall.basis.length > 0) return `No verdict: the metrics disagree (${listOf(c.overall.basis.map(metricName))}) about which version is better.`;
  if (c.verdicts.length === 0) return `No verdict: there are too few responses or scores of versions ${va} and ${vb} to compare them.`;
  return `No verdict: neither version is better with ${needed} confidence; the differences seen could be chance.`;
}

function VerdictRow(props: { v: CompareVerdict; c: VersionComparison }) {
  const v = props.v;
  const better = v.better === null ? 'neither' : `version ${v.better === 'a' ? props.c.a.version : props.c.b.version}`;
  const diff = v.metric === 'errorRate' ? `${v.difference >= 0 ? '+' : ''}${formatPercent(v.difference)}` : `${v.difference >= 0 ? '+' : ''}${formatNumber(v.difference, 3)}`;
  return (
    <tr>
      <th scope="row">{metricName(v.metric)}</th>
      <td>{diff}</td>
      <td>{formatConfidence(v.confidence)}</td>
      <td>{better}</td>
      <td class="muted">{v.method}</td>
    </tr>
  );
}

export function CompareView() {
  const route = useRoute();
  const location = useLocation();
  const name = decodeParam(route.params.name);
  const list = useApi<RegistryVersionList>(`/v1/prompts/${seg(name)}/versions`, { query: { limit: 500 } });
  const versions = list.data?.versions ?? [];
  const a = versionParam(location.query.a) ?? versions[1]?.version ?? versions[0]?.version ?? null;
  const b = versionParam(location.query.b) ?? versions[0]?.version ?? null;
  const rangeValue = RANGES.find((r) => r.value === location.query.range)?.value ?? null;
  const window = useMemo(() => (rangeValue ? rangeWindow(rangeValue) : { from: undefined, to: undefined }), [rangeValue]);
  const cmp = useApi<VersionComparison>(a !== null && b !== null ? `/v1/prompts/${seg(name)}/compare` : null, { query: { a, b, from: window.from, to: window.to } });
  const set = (change: { a?: string; b?: string; range?: RangeValue | null }) =>
    location.route(comparePath(name, a, b, { range: rangeValue, ...change }), true);
  const c = cmp.data;

  return (
    <Page
      title={`Compare versions of ${name}`}
      actions={
        <a class="button" href={promptPath(name)}>
          {name}
        </a>
      }
    >
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="versions" /> : null}
      {list.data ? (
        <form class="filters" aria-label="Versions to compare" onSubmit={(e) => e.preventDefault()}>
          <label>
            Version A
            <select value={String(a)} onChange={(e) => set({ a: e.currentTarget.value })}>
              {versions.map((v) => (
                <option key={v.version} value={String(v.version)}>
                  v{v.version}
                </option>
              ))}
            </select>
          </label>
          <label>
            Version B
            <select value={String(b)} onChange={(e) => set({ b: e.currentTarget.value })}>
              {versions.map((v) => (
                <option key={v.version} value={String(v.version)}>
                  v{v.version}
                </option>
              ))}
            </select>
          </label>
          <label>
            Time range
            <select value={rangeValue ?? 'all'} onChange={(e) => set({ range: RANGES.find((r) => r.value === e.currentTarget.value)?.value ?? null })}>
              <option value="all">All time</option>
              {RANGES.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
          {a !== null && b !== null ? (
            <span class="links">
              <a href={promptPath(name, { tab: 'diff', from: a, to: b })}>Diff v{a} → v{b}</a>
            </span>
          ) : null}
        </form>
      ) : null}
      {list.data && versions.length === 0 ? <Empty>No versions to compare.</Empty> : null}
      <ErrorBox error={cmp.error} />
      {cmp.loading ? <Loading what="comparison" /> : null}
      {c && !cmp.loading ? (
        <>
          <div class="panel verdict" role="status" aria-label="Verdict">
            <h2 class="first">Verdict</h2>
            <p class="verdict-text">{verdictText(c)}</p>
            <p class="hint">
              A version is called better only at {formatPercent(c.decisionConfidence, 0)} confidence or more; the call rests on evaluation scores where there are any, else on the error rate.
            </p>
          </div>
          <div class="compare-versions">
            {[c.a, c.b].map((s, i) => (
              <p key={i}>
                <strong>{i === 0 ? 'A' : 'B'}:</strong> <a href={versionPath(name, s.version)}>version {s.version}</a> ·{' '}
                <a href={responsesPath({ prompt: name, version: s.version, from: window.from, to: window.to })}>its {s.responses} {s.responses === 1 ? 'response' : 'responses'}</a>
              </p>
            ))}
          </div>
          <StatsTable name={name} stats={[c.a, c.b]} window={window} caption="The two versions in numbers" />
          <div class="grid2 charts">
            <SimpleChart
              type="bar"
              title="Latency (ms)"
              labels={[`Version ${c.a.version}`, `Version ${c.b.version}`]}
              series={[
                { label: 'p50', values: [c.a.latencyMs.p50, c.b.latencyMs.p50] },
                { label: 'p95', values: [c.a.latencyMs.p95, c.b.latencyMs.p95] },
              ]}
            />
            <SimpleChart
              type="bar"
              title="Error rate (%), with 95 % interval bounds"
              labels={[`Version ${c.a.version}`, `Version ${c.b.version}`]}
              series={[
                { label: 'error rate', values: [c.a.errorRate.value, c.b.errorRate.value].map((x) => (x === null ? null : Number((x * 100).toFixed(2)))) },
                { label: 'interval low', values: [c.a.errorRate.ci95, c.b.errorRate.ci95].map((x) => (x === null ? null : Number((x[0] * 100).toFixed(2)))) },
                { label: 'interval high', values: [c.a.errorRate.ci95, c.b.errorRate.ci95].map((x) => (x === null ? null : Number((x[1] * 100).toFixed(2)))) },
              ]}
            />
            <ScoreChart c={c} />
          </div>
          {c.verdicts.length > 0 ? (
            <table aria-label="Per metric">
              <thead>
                <tr>
                  <th scope="col">Metric</th>
                  <th scope="col">Difference (B − A)</th>
                  <th scope="col">Confidence it is not chance</th>
                  <th scope="col">Better</th>
                  <th scope="col">Method</th>
                </tr>
              </thead>
              <tbody>
                {c.verdicts.map((v) => (
                  <VerdictRow key={v.metric} v={v} c={c} />
                ))}
              </tbody>
            </table>
          ) : null}
        </>
      ) : null}
    </Page>
  );
}

function ScoreChart(props: { c: VersionComparison }) {
  const c = props.c;
  const scorers = [...new Set([...c.a.scores, ...c.b.scores].map((s) => s.scorer))].sort();
  if (scorers.length === 0) return <p class="empty">No evaluation scores of these versions.</p>;
  const meanOf = (s: typeof c.a, scorer: string) => s.scores.find((x) => x.scorer === scorer)?.mean ?? null;
  return (
    <SimpleChart
      type="bar"
      title="Mean evaluation score per scorer"
      labels={scorers}
      series={[
        { label: `Version ${c.a.version}`, values: scorers.map((x) => meanOf(c.a, x)) },
        { label: `Version ${c.b.version}${c.a.version === c.b.version ? ' (B)' : ''}`, values: scorers.map((x) => meanOf(c.b, x)) },
      ]}
    />
  );
}
