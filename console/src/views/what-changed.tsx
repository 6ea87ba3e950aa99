import { useLocation } from 'preact-iso';
import { useMemo, useState } from 'preact/hooks';
import { withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { ErrorBox, Loading, Page } from '../components/common.tsx';
import { TIME_PRESETS } from '../components/investigate-filters.tsx';
import { METRICS, metricParam } from '../components/monitors-common.tsx';
import { WhatChangedResult } from '../components/what-changed-result.tsx';
import type { ResponseFacets } from '../components/investigate-types.ts';
import type { WhatChangedAnswer } from '../types.ts';

// /what-changed?app=&prompt=&metric=&from=&to= (or &range=1h…): the lineage changes around the
// time a metric moved, ranked by how much of the move each explains. The URL is the question: the
// form writes it, and the answer is read from it.

/** The window GET /v1/what-changed looks at when it is given none. */
const DEFAULT_RANGE = '24h';

function isoOrNull(text: string): string | null {
  const t = text.trim();
  if (t === '') return '';
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function WhatChangedView() {
  const session = useSession();
  const location = useLocation();
  const q = location.query;
  const metric = metricParam(q.metric);
  const range = q.range ?? '';
  const [refreshed, setRefreshed] = useState(0);
  // A relative range becomes a window once per choice (and per refresh), not per render.
  const relative = useMemo(() => {
    const preset = TIME_PRESETS.find((p) => p.id === range);
    if (!preset || q.from || q.to) return null;
    const now = Date.now();
    return { from: new Date(now - preset.ms).toISOString(), to: new Date(now).toISOString() };
  }, [range, q.from, q.to, refreshed]);
  const query = { app: q.app, prompt: q.prompt, metric, from: q.from ?? relative?.from, to: q.to ?? relative?.to };
  const allowed = session.may('read');
  const answer = useApi<WhatChangedAnswer>(allowed ? '/v1/what-changed' : null, { query });
  const facets = useApi<ResponseFacets>(allowed ? '/v1/responses/facets' : null, { query: { from: query.from, to: query.to } });

  if (!allowed) {
    return (
      <Page title="What changed">
        <p class="error" role="alert">
          What changed needs a key that may read lineage (role read, edit or admin).
        </p>
      </Page>
    );
  }
  const go = (patch: Record<string, string | null>) => {
    const next = { app: q.app, prompt: q.prompt, metric: q.metric, from: q.from, to: q.to, range: q.range, ...patch };
    location.route(withQuery('/what-changed', next), true);
  };
  const w = answer.data?.window;
  return (
    <Page
      title="What changed"
      actions={
        <>
          {relative ? (
            <button type="button" onClick={() => go({ range: null, from: relative.from, to: relative.to })}>
              Pin times
            </button>
          ) : null}
          <button type="button" onClick={() => (relative ? setRefreshed((n) => n + 1) : answer.reload())}>
            Refresh
          </button>
          {w ? <a href={withQuery('/responses', { app: q.app, prompt: q.prompt, from: w.from, to: w.to })}>Responses in this window</a> : null}
        </>
      }
    >
      <p class="hint">For an app or a prompt and a window in which a metric moved: the alias moves, prompt versions, model snapshots, datasets, app versions and unregistered prompts of the window, ranked by how much of the move the responses under each explain.</p>
      <div class="presets standalone" role="group" aria-label="Time range presets">
        {TIME_PRESETS.map((p) => (
          <button key={p.id} type="button" aria-pressed={range === p.id || (p.id === DEFAULT_RANGE && !range && !q.from && !q.to)} onClick={() => go({ range: p.id, from: null, to: null })}>
            {p.label}
          </button>
        ))}
      </div>
      {/* Keyed by the URL: going back or following a link shows that URL's question in the form. */}
      <WhatChangedForm key={location.url} query={{ ...q, metric }} facets={facets.data} onSubmit={(next) => location.route(withQuery('/what-changed', { ...next, range: next.from || next.to ? undefined : q.range }))} />
      {answer.loading && !answer.data ? <Loading what="what changed" /> : null}
      <ErrorBox error={answer.error} />
      {answer.data && !answer.error ? (
        <div aria-busy={answer.loading}>
          <WhatChangedResult answer={answer.data} />
        </div>
      ) : null}
    </Page>
  );
}

function WhatChangedForm(props: { query: Record<string, string | undefined>; facets: ResponseFacets | null; onSubmit: (q: { app?: string; prompt?: string; metric: WhatChangedAnswer['metric']; from?: string; to?: string }) => void }) {
  const q = props.query;
  const [v, setV] = useState({ app: q.app ?? '', prompt: q.prompt ?? '', metric: q.metric ?? 'error_rate', from: q.from ?? '', to: q.to ?? '' });
  const [problem, setProblem] = useState<string | null>(null);
  const set = (k: keyof typeof v) => (e: { currentTarget: { value: string } }) => setV((old) => ({ ...old, [k]: e.currentTarget.value }));
  const submit = (e: Event) => {
    e.preventDefault();
    const from = isoOrNull(v.from);
    const to = isoOrNull(v.to);
    if (from === null || to === null) {
      setProblem(`${from === null ? 'From' : 'To'} is not a time: give one like 2026-11-25T14:00:00Z.`);
      return;
    }
    setProblem(null);
    props.onSubmit({ app: v.app.trim() || undefined, prompt: v.prompt.trim() || undefined, metric: metricParam(v.metric), from: from || undefined, to: to || undefined });
  };
  return (
    <form class="filters" aria-label="What changed question" onSubmit={submit}>
      <label>
        App
        <input name="app" list="wc-apps" value={v.app} onInput={set('app')} placeholder="any app" autocomplete="off" />
      </label>
      <datalist id="wc-apps">
        {(props.facets?.apps ?? []).map((f) => (
          <option key={f.value} value={f.value} />
        ))}
      </datalist>
      <label>
        Prompt
        <input name="prompt" list="wc-prompts" value={v.prompt} onInput={set('prompt')} placeholder="any prompt" autocomplete="off" />
      </label>
      <datalist id="wc-prompts">
        {(props.facets?.prompts ?? []).map((f) => (
          <option key={f.value} value={f.value} />
        ))}
      </datalist>
      <label>
        Metric
        <select name="metric" value={v.metric} onChange={set('metric')}>
          {METRICS.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        From
        <input name="from" value={v.from} onInput={set('from')} placeholder="24 hours before to" autocomplete="off" />
      </label>
      <label>
        To
        <input name="to" value={v.to} onInput={set('to')} placeholder="now" autocomplete="off" />
      </label>
      <button type="submit" class="primary">
        Show what changed
      </button>
      {problem ? (
        <p class="error" role="alert">
          {problem}
        </p>
      ) : null}
    </form>
  );
}
