import { useLocation } from 'preact-iso';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { Empty, ErrorBox, Loading, Page, Time, formatCount, formatMs } from '../components/common.tsx';
import { FILTER_KEYS, ResponseFilters, TIME_PRESETS, type ViewKey } from '../components/investigate-filters.tsx';
import { PromptVersionLink, RegistrationBadge, StatusBadge, responsePath, tracePath } from '../components/investigate-bits.tsx';
import type { ResponseFacets, ResponseItem, ResponsesPage } from '../components/investigate-types.ts';

// Responses, newest first, found by what produced them: prompt version, alias, model, app version,
// dataset, conversation, status, registration, span name or id. The filters are the address.

const PAGE_SIZE = 50;

/** Rows a page: `limit` in the address (1–200, as the API takes it), else 50. */
function pageSize(raw: string | undefined): number {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 200 ? n : PAGE_SIZE;
}

/** The filters as the page's address says them (range and cursor are the console's own). */
function filtersOf(query: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of FILTER_KEYS) if (query[k]) out[k] = query[k];
  return out;
}

export function ResponsesView() {
  const location = useLocation();
  const query = location.query;
  const filters = filtersOf(query);
  const range = query.range ?? '';
  const cursor = query.cursor ?? '';
  const [refreshed, setRefreshed] = useState(0);
  // Cursors of the pages before this one, for "Previous page"; a change of filter starts again.
  const [previous, setPrevious] = useState<string[]>([]);
  const filterKey = JSON.stringify([filters, range, query.limit]);
  useEffect(() => setPrevious([]), [filterKey]);

  // A relative range is turned into a time once per choice (and per refresh), not per render.
  const since = useMemo(() => {
    const preset = TIME_PRESETS.find((p) => p.id === range);
    return preset ? new Date(Date.now() - preset.ms).toISOString() : undefined;
  }, [range, refreshed]);
  const apiFilters = { ...filters, from: filters.from ?? since };

  const list = useApi<ResponsesPage>('/v1/responses', { query: { ...apiFilters, limit: pageSize(query.limit), cursor: cursor || undefined } });
  const facets = useApi<ResponseFacets>('/v1/responses/facets', { query: apiFilters });

  /** Applies a change to the address as it is now (not as this render saw it), without a new history entry. */
  const update = (patch: Partial<Record<ViewKey, string | null>>) => {
    const params = new URLSearchParams(window.location.search);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null || v === undefined || v === '') params.delete(k);
      else params.set(k, v);
    }
    // A new filter starts at the first page.
    if (!('cursor' in patch)) params.delete('cursor');
    const s = params.toString();
    location.route(s ? `/responses?${s}` : '/responses', true);
  };

  const refresh = () => {
    // A relative range moves with the clock (which loads again by itself); fixed filters load again as they are.
    if (since) setRefreshed((n) => n + 1);
    else {
      list.reload();
      facets.reload();
    }
  };

  const page = list.data;
  const anyFilter = Object.keys(filters).length > 0 || range !== '';
  return (
    <Page
      title="Responses"
      actions={
        <>
          {range && since ? (
            <button type="button" onClick={() => update({ range: null, from: since, to: new Date().toISOString() })}>
              Pin times
            </button>
          ) : null}
          <button type="button" onClick={refresh}>
            Refresh
          </button>
          {page?.window ? (
            <a class="button" href={withQuery('/what-changed', { app: filters.app, prompt: filters.prompt, from: page.window.from, to: page.window.to })}>
              What changed here
            </a>
          ) : null}
          {anyFilter ? (
            <a class="button" href="/responses">
              Clear filters
            </a>
          ) : null}
        </>
      }
    >
      <ResponseFilters query={query} facets={facets.data} onChange={(patch) => update(patch)} />
      <ErrorBox error={list.error} />
      {page === null && list.loading ? <Loading what="responses" /> : null}
      {page ? (
        <div class="investigate-list" aria-busy={list.loading}>
          <p class="count" role="status">
            {formatCount(page.count)} {page.count === 1 ? 'response' : 'responses'}
            {previous.length > 0 ? ` · page ${previous.length + 1}` : ''}
          </p>
          {page.window ? (
            <p class="hint window">
              Responses that started between <Time iso={page.window.from} /> and <Time iso={page.window.to} />
              {!filters.from && !filters.to && !range ? ' (the last 7 days, unless a time range is chosen)' : ''}.
            </p>
          ) : null}
          {page.items.length === 0 ? (
            <Empty>
              No responses match these filters. Widen the time range or remove a filter
              {anyFilter ? (
                <>
                  {' '}
                  (<a href="/responses">show all responses</a>)
                </>
              ) : null}
              ; a response shows here a moment after its app sends the span.
            </Empty>
          ) : (
            <ResponseTable items={page.items} />
          )}
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={!cursor} onClick={() => {
                setPrevious([]);
                update({ cursor: null });
              }}>
              First page
            </button>
            <button
              type="button"
              disabled={previous.length === 0}
              onClick={() => {
                const before = previous.at(-1) ?? '';
                setPrevious(previous.slice(0, -1));
                update({ cursor: before || null });
              }}
            >
              Previous page
            </button>
            <button
              type="button"
              disabled={!page.nextCursor}
              onClick={() => {
                setPrevious([...previous, cursor]);
                update({ cursor: page.nextCursor });
              }}
            >
              Next page
            </button>
          </nav>
        </div>
      ) : null}
    </Page>
  );
}

function ResponseTable(props: { items: ResponseItem[] }) {
  return (
    <div class="table-scroll">
      <table class="responses">
        <caption class="visually-hidden">Responses, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Response</th>
            <th scope="col">Span</th>
            <th scope="col">App</th>
            <th scope="col">Prompt</th>
            <th scope="col">Alias</th>
            <th scope="col">Model</th>
            <th scope="col">Registration</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">
              Duration
            </th>
            <th scope="col">Trace</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((r) => (
            <ResponseRow key={`${r.traceId}/${r.spanId}`} r={r} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ResponseRow({ r }: { r: ResponseItem }) {
  const appName = r.app.name || r.serviceName;
  const datasets = r.datasets ?? [];
  return (
    <tr>
      <td class="nowrap">
        <Time iso={r.timestamp} />
      </td>
      <td class="mono">{r.responseId ? <a href={responsePath(r.responseId)}>{r.responseId}</a> : <span class="muted">—</span>}</td>
      <td class="span-name">{r.spanName}</td>
      <td>
        {appName || <span class="muted">—</span>}
        {r.app.version ? <span class="muted"> {r.app.version}</span> : null}
        {r.serviceName && r.serviceName !== appName ? <div class="hint">service {r.serviceName}</div> : null}
      </td>
      <td>
        {r.prompt ? <PromptVersionLink name={r.prompt.name} version={r.prompt.version} /> : <span class="muted">—</span>}
        {datasets.length > 0 ? <div class="hint">datasets {datasets.join(', ')}</div> : null}
      </td>
      <td>{r.prompt?.alias || <span class="muted">—</span>}</td>
      <td>
        {r.model?.name || <span class="muted">—</span>}
        {r.model?.provider ? <div class="hint">{r.model.provider}</div> : null}
      </td>
      <td>
        <RegistrationBadge registration={r.registration} />
      </td>
      <td>
        <StatusBadge status={r.status} />
      </td>
      <td class="num">{formatMs(r.durationMs)}</td>
      <td>
        <a href={tracePath(r.traceId, r.spanId)} aria-label={`Trace of ${r.responseId ?? r.spanName}`}>
          trace
        </a>
      </td>
    </tr>
  );
}
