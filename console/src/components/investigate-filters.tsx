import { useEffect, useRef, useState } from 'preact/hooks';
import type { FacetValue, ResponseFacets } from './investigate-types.ts';

// The filters of the responses list. Every value lives in the page's query (the same names as
// GET /v1/responses), so a pasted link opens the same list; typing updates the address after a
// short pause, replacing the history entry instead of adding one per keystroke.

export const TIME_PRESETS: Array<{ id: string; label: string; ms: number }> = [
  { id: '15m', label: 'Last 15 min', ms: 15 * 60_000 },
  { id: '1h', label: 'Last 1 h', ms: 3_600_000 },
  { id: '24h', label: 'Last 24 h', ms: 24 * 3_600_000 },
  { id: '7d', label: 'Last 7 d', ms: 7 * 86_400_000 },
  { id: '30d', label: 'Last 30 d', ms: 30 * 86_400_000 },
];

/** The window GET /v1/responses searches when it is given no from. */
const DEFAULT_RANGE = '7d';

/** The list's filters: the API's query names. */
export const FILTER_KEYS = [
  'from',
  'to',
  'app',
  'app_version',
  'prompt',
  'version',
  'alias',
  'model',
  'provider',
  'dataset',
  'conversation',
  'status',
  'registration',
  'q',
  'response_id',
  'trace_id',
] as const;

export type FilterKey = (typeof FILTER_KEYS)[number];

/** Console-only query values: a relative time range, and the page's cursor. */
export type ViewKey = FilterKey | 'range' | 'cursor';

type Patch = Partial<Record<ViewKey, string | null>>;

const FACETED: Array<{ key: FilterKey; label: string; facet: keyof ResponseFacets; placeholder?: string }> = [
  { key: 'app', label: 'App', facet: 'apps' },
  { key: 'app_version', label: 'App version', facet: 'appVersions' },
  { key: 'prompt', label: 'Prompt', facet: 'prompts' },
  { key: 'version', label: 'Version', facet: 'promptVersions' },
  { key: 'alias', label: 'Alias', facet: 'aliases' },
  { key: 'model', label: 'Model', facet: 'models' },
  { key: 'provider', label: 'Provider', facet: 'providers' },
  { key: 'dataset', label: 'Dataset', facet: 'datasets' },
];

const FREE: Array<{ key: FilterKey; label: string; wide?: boolean }> = [
  { key: 'conversation', label: 'Conversation' },
  { key: 'q', label: 'Span name contains' },
  { key: 'response_id', label: 'Response id', wide: true },
  { key: 'trace_id', label: 'Trace id', wide: true },
];

/** `2026-11-25T14:02` in the reader's time zone, as a datetime-local input holds it. */
function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function TextFilter(props: { label: string; value: string; list?: string; wide?: boolean; onCommit: (v: string) => void }) {
  const [text, setText] = useState(props.value);
  const committed = useRef(props.value);
  // The address changed from elsewhere (a link, the back button): show what it says.
  useEffect(() => {
    if (props.value !== committed.current) {
      committed.current = props.value;
      setText(props.value);
    }
  }, [props.value]);
  const commit = (v: string) => {
    if (v.trim() === committed.current) return;
    committed.current = v.trim();
    props.onCommit(v.trim());
  };
  useEffect(() => {
    if (text.trim() === committed.current) return;
    const t = setTimeout(() => commit(text), 350);
    return () => clearTimeout(t);
  }, [text]);
  return (
    <label class={props.wide ? 'wide' : undefined}>
      {props.label}
      <input
        type="search"
        value={text}
        list={props.list}
        autocomplete="off"
        spellcheck={false}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit(e.currentTarget.value);
        }}
        onBlur={(e) => commit(e.currentTarget.value)}
      />
    </label>
  );
}

function Datalist(props: { id: string; values: FacetValue[] | undefined }) {
  return (
    <datalist id={props.id}>
      {(props.values ?? []).map((v) => (
        <option key={v.value} value={v.value} label={`${v.value} (${v.count.toLocaleString('en-US')})`} />
      ))}
    </datalist>
  );
}

export function ResponseFilters(props: { query: Record<string, string>; facets: ResponseFacets | null; onChange: (patch: Patch) => void }) {
  const q = props.query;
  const range = q.range ?? '';
  return (
    <form class="filters investigate-filters" role="search" aria-label="Filter responses" onSubmit={(e) => e.preventDefault()}>
      <fieldset class="time-range">
        <legend>Time</legend>
        <div class="presets" role="group" aria-label="Time range presets">
          {TIME_PRESETS.map((p) => (
            <button
              key={p.id}
              type="button"
              // Without a range the server searches the last 7 days.
              aria-pressed={range === p.id || (p.id === DEFAULT_RANGE && !range && !q.from && !q.to)}
              onClick={() => props.onChange({ range: p.id, from: null, to: null })}
            >
              {p.label}
            </button>
          ))}
        </div>
        <label>
          From
          <input type="datetime-local" value={toLocalInput(q.from)} onChange={(e) => props.onChange({ from: fromLocalInput(e.currentTarget.value), range: null })} />
        </label>
        <label>
          To
          <input type="datetime-local" value={toLocalInput(q.to)} onChange={(e) => props.onChange({ to: fromLocalInput(e.currentTarget.value), range: null })} />
        </label>
      </fieldset>
      {FACETED.map((f) => (
        <TextFilter key={f.key} label={f.label} value={q[f.key] ?? ''} list={`facet-${f.key}`} onCommit={(v) => props.onChange({ [f.key]: v || null })} />
      ))}
      {FACETED.map((f) => (
        <Datalist key={f.key} id={`facet-${f.key}`} values={props.facets?.[f.facet]} />
      ))}
      <label>
        Status
        <select value={q.status ?? ''} onChange={(e) => props.onChange({ status: e.currentTarget.value || null })}>
          <option value="">any</option>
          <option value="error">errors</option>
          <option value="ok">ok</option>
          <option value="unset">unset</option>
        </select>
      </label>
      <label>
        Registration
        <select value={q.registration ?? ''} onChange={(e) => props.onChange({ registration: e.currentTarget.value || null })}>
          <option value="">any</option>
          <option value="registered">registered</option>
          <option value="unregistered">unregistered</option>
          <option value="template_mismatch">template mismatch</option>
        </select>
      </label>
      {FREE.map((f) => (
        <TextFilter key={f.key} label={f.label} value={q[f.key] ?? ''} wide={f.wide} onCommit={(v) => props.onChange({ [f.key]: v || null })} />
      ))}
    </form>
  );
}
