import { useMemo } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { seg, withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { SimpleChart } from './chart.tsx';
import { whatChangedPath } from './monitors-common.tsx';
import { ErrorBox, Loading, Time } from './common.tsx';
import { RANGES, comparePath, rangeParam, rangeWindow, responsesPath } from './prompts-common.tsx';
import { StatsTable } from './prompts-stats.tsx';
import type { ImpactAnswer, VersionComparison } from '../types.ts';

// How a version has done in a time window (?range=24h|7d|30d): its responses over time, from the
// impact query, and its latency, tokens, error rate and evaluation scores, from the comparison of
// the version with itself (the comparison computes the intervals).

function bucketLabel(iso: string, bucketSeconds: number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return bucketSeconds >= 86_400
    ? d.toLocaleDateString('en-US', { month: 'short', day: '2-digit' })
    : d.toLocaleString('en-US', { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}

/** Every bucket of the window, the empty ones too, so that the chart's axis is time. */
export function fillBuckets(histogram: Array<{ start: string; count: number }>, window: { from: string; to: string }, bucketSeconds: number): Array<{ start: string; count: number }> {
  const step = bucketSeconds * 1000;
  const first = Math.floor(Date.parse(window.from) / step) * step;
  const end = Date.parse(window.to);
  if (!Number.isFinite(first) || !Number.isFinite(end) || step <= 0 || (end - first) / step > 1000) return histogram;
  const counts = new Map<number, number>();
  for (const h of histogram) {
    const at = Math.floor(Date.parse(h.start) / step) * step;
    counts.set(at, (counts.get(at) ?? 0) + h.count);
  }
  const out: Array<{ start: string; count: number }> = [];
  for (let t = first; t < end; t += step) out.push({ start: new Date(t).toISOString(), count: counts.get(t) ?? 0 });
  return out;
}

export function VersionInsights(props: { name: string; version: number }) {
  const location = useLocation();
  const range = rangeParam(location.query.range, '7d');
  // The window ends when the range was chosen (or the page opened), not at every render.
  const window = useMemo(() => rangeWindow(range), [range]);
  const impact = useApi<ImpactAnswer>('/v1/impact', { query: { prompt: props.name, version: props.version, from: window.from, to: window.to, limit: 1 } });
  const stats = useApi<VersionComparison>(`/v1/prompts/${seg(props.name)}/compare`, { query: { a: props.version, b: props.version, from: window.from, to: window.to } });
  const bucket = impact.data?.responses.bucketSeconds ?? 3600;
  const seen = impact.data?.responses.histogram ?? [];
  const histogram = seen.length === 0 ? [] : fillBuckets(seen, window, bucket);

  return (
    <section class="insights" aria-labelledby="insights-title">
      <div class="insights-head">
        <h2 id="insights-title">Insights</h2>
        <form class="filters" onSubmit={(e) => e.preventDefault()}>
          <label>
            Time range
            <select value={range} onChange={(e) => location.route(withQuery(location.path, { ...location.query, range: e.currentTarget.value }), true)}>
              {RANGES.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
        </form>
      </div>
      <p class="hint">
        From <Time iso={window.from} /> to <Time iso={window.to} />. <a href={responsesPath({ prompt: props.name, version: props.version, from: window.from, to: window.to })}>All responses of this version in this window</a> · <a href={whatChangedPath({ prompt: props.name, from: window.from, to: window.to })}>What changed for this prompt in this window</a>
        {props.version > 1 ? (
          <>
            {' '}
            · <a href={comparePath(props.name, props.version - 1, props.version)}>Compare with version {props.version - 1}</a>
          </>
        ) : null}
      </p>
      <ErrorBox error={impact.error} />
      {impact.loading && !impact.data ? <Loading what="responses over time" /> : null}
      {impact.data ? (
        histogram.length === 0 ? (
          <p class="empty">No responses of this version in this window.</p>
        ) : (
          <SimpleChart
            type="bar"
            title={`Responses over time (${impact.data.responses.count} in all)`}
            labels={histogram.map((h) => bucketLabel(h.start, bucket))}
            series={[{ label: 'responses', values: histogram.map((h) => h.count) }]}
            onSelect={(i) => {
              const h = histogram[i];
              if (!h) return;
              const start = new Date(h.start);
              location.route(responsesPath({ prompt: props.name, version: props.version, from: start.toISOString(), to: new Date(start.getTime() + bucket * 1000).toISOString() }));
            }}
          />
        )
      ) : null}
      <ErrorBox error={stats.error} />
      {stats.loading && !stats.data ? <Loading what="statistics" /> : null}
      {stats.data ? <StatsTable name={props.name} stats={[stats.data.a]} window={window} caption={`Version ${props.version} in numbers`} /> : null}
    </section>
  );
}
