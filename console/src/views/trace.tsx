import { useLocation, useRoute } from 'preact-iso';
import { useMemo } from 'preact/hooks';
import { seg, withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { ErrorBox, Facts, Loading, Page, Time, formatCount, formatMs } from '../components/common.tsx';
import { Waterfall, waterfallRows } from '../components/investigate-waterfall.tsx';
import { SpanDetail } from '../components/investigate-span.tsx';
import { responsesPath, statusOf } from '../components/investigate-bits.tsx';
import type { TraceAnswer, TraceSpan } from '../components/investigate-types.ts';

// One trace: its spans as a waterfall, and the selected span (span= in the address) with its
// lineage, messages, attributes and events.

/** The span shown when the address names none: the last model response, else the first root. */
function defaultSpan(spans: TraceSpan[], ordered: TraceSpan[]): string | null {
  const responses = spans.filter((s) => s.lineage.responseId !== null);
  const last = responses.sort((a, b) => b.timestamp.localeCompare(a.timestamp))[0];
  return last?.spanId ?? ordered[0]?.spanId ?? null;
}

export function TraceView(props: { traceId?: string }) {
  const { params } = useRoute();
  const location = useLocation();
  // The router hands over the path segment decoded.
  const traceId = props.traceId ?? params.traceId ?? '';
  const trace = useApi<TraceAnswer>(`/v1/traces/${seg(traceId)}`);
  const data = trace.data;
  const rows = useMemo(() => (data ? waterfallRows(data.spans) : []), [data]);
  const byId = useMemo(() => new Map((data?.spans ?? []).map((s) => [s.spanId, s])), [data]);

  const asked = location.query.span ?? null;
  const selectedId = asked ?? (data ? defaultSpan(data.spans, rows.map((r) => r.span)) : null);
  const selected = selectedId ? byId.get(selectedId) : undefined;

  const select = (spanId: string) => {
    location.route(withQuery(`/traces/${seg(traceId)}`, { ...location.query, span: spanId }), true);
  };

  const title = `Trace ${traceId}`;
  if (trace.error) {
    return (
      <Page title={title}>
        <ErrorBox error={trace.error} />
        <p>
          <a href="/responses">Back to the responses</a>
        </p>
      </Page>
    );
  }
  if (!data) {
    return (
      <Page title={title}>
        <Loading what="trace" />
      </Page>
    );
  }
  const start = rows.length > 0 ? Math.min(...rows.map((r) => r.startMs)) : 0;
  const end = rows.length > 0 ? Math.max(...rows.map((r) => r.startMs + r.durationMs)) : 0;
  const services = [...new Set(data.spans.map((s) => s.serviceName).filter(Boolean))];
  const firstStart = rows.length > 0 ? rows.reduce((a, b) => (b.startMs < a.startMs ? b : a)).span.timestamp : null;
  const errors = data.spans.filter((s) => statusOf(s.status.code) === 'error').length;
  return (
    <Page
      title={title}
      actions={
        <a class="button" href={responsesPath({ trace_id: data.traceId })}>
          Responses of this trace
        </a>
      }
    >
      <section class="panel">
        <Facts
          rows={[
            ['Trace id', <code>{data.traceId}</code>],
            ['Spans', formatCount(data.spans.length)],
            ['Errors', errors > 0 ? <span class="badge error">{formatCount(errors)}</span> : '0'],
            ['Services', services.join(', ')],
            ['Start', <Time iso={firstStart} />],
            ['Duration', formatMs(end - start)],
          ]}
        />
      </section>
      <section class="panel" aria-labelledby="waterfall-title">
        <h2 id="waterfall-title">Spans</h2>
        <p class="hint">Select a span to see its lineage, messages and attributes; the up and down arrow keys move between spans.</p>
        <Waterfall rows={rows} selected={selected?.spanId ?? null} onSelect={select} />
      </section>
      {asked && !selected ? (
        <div class="error" role="alert">
          No span with id {asked} in this trace.
        </div>
      ) : null}
      {selected ? <SpanDetail key={selected.spanId} span={selected} byId={byId} onSelect={select} /> : null}
    </Page>
  );
}
