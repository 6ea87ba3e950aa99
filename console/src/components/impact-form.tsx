import { useState } from 'preact/hooks';
import { seg, type Query } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import type { ImpactMove, PromptSummary } from '../types.ts';

// Where an impact query starts: a prompt version, an alias move, a model, a dataset or an app
// version, and an optional window. The form edits a copy of the URL's query; submitting it puts
// the new query in the URL, and the URL drives the answer.

export type StartKind = 'version' | 'alias' | 'model' | 'dataset' | 'app';

const KINDS: Array<[StartKind, string]> = [
  ['version', 'A prompt version'],
  ['alias', 'An alias move'],
  ['model', 'A model'],
  ['dataset', 'A dataset'],
  ['app', 'An app version'],
];

/** The query parameters of /impact (the same names as GET /v1/impact takes). */
export const IMPACT_PARAMS = ['prompt', 'version', 'alias', 'move', 'dataset', 'model', 'provider', 'app', 'app_version', 'from', 'to'] as const;

/** Which starting point a URL names; the prompt version form when it names none. */
export function startKindOf(q: Record<string, string | undefined>): StartKind {
  if (q.alias) return 'alias';
  if (q.prompt) return 'version';
  if (q.model) return 'model';
  if (q.dataset) return 'dataset';
  if (q.app) return 'app';
  return 'version';
}

/** Whether the URL names a starting point at all. */
export function hasStart(q: Record<string, string | undefined>): boolean {
  return Boolean(q.prompt || q.model || q.dataset || q.app);
}

/** "2026-11-25T14:00:00Z", or a local time without a zone, as ISO-8601 UTC; '' stays ''; null when not a time. */
function isoOrNull(text: string): string | null {
  const t = text.trim();
  if (t === '') return '';
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function target(t: ImpactMove['to']): string {
  if (t.split) return `split ${t.split.arms.map((a) => `v${a.version} ${a.weight}%`).join(' / ')}`;
  return `v${t.version}`;
}

export function moveLabel(m: ImpactMove): string {
  const from = m.from ? target(m.from) : 'nothing';
  return `#${m.seq}: ${from} → ${target(m.to)}${m.rollback ? ' (rollback)' : ''} · ${new Date(m.at).toISOString().replace('.000Z', 'Z')} · ${m.actor}`;
}

export function ImpactForm(props: { query: Record<string, string | undefined>; onSubmit: (q: Query) => void }) {
  const session = useSession();
  const q = props.query;
  const [kind, setKind] = useState<StartKind>(startKindOf(q));
  const [v, setV] = useState<Record<string, string>>(() => Object.fromEntries(IMPACT_PARAMS.map((k) => [k, q[k] ?? ''])));
  const [problem, setProblem] = useState<string | null>(null);
  const set = (k: string) => (e: { currentTarget: { value: string } }) => setV((old) => ({ ...old, [k]: e.currentTarget.value }));

  const prompts = useApi<{ prompts: PromptSummary[] }>(session.may('prompts') ? '/v1/prompts' : null, { query: { limit: 500 } });
  const names = prompts.data?.prompts ?? [];
  const registered = names.find((p) => p.name === v.prompt);
  const aliasesOfPrompt = registered?.aliases ?? [];
  const wantsAlias = kind === 'alias' && registered !== undefined;
  const aliasKnown = wantsAlias && aliasesOfPrompt.includes(v.alias ?? '');
  const history = useApi<{ moves: ImpactMove[] }>(aliasKnown ? `/v1/prompts/${seg(v.prompt!)}/aliases/${seg(v.alias!)}/history` : null);
  const moves = aliasKnown ? [...(history.data?.moves ?? [])].reverse() : [];

  const submit = (e: Event) => {
    e.preventDefault();
    const from = isoOrNull(v.from ?? '');
    const to = isoOrNull(v.to ?? '');
    if (from === null || to === null) {
      setProblem(`${from === null ? 'From' : 'To'} is not a time: give one like 2026-11-25T14:00:00Z.`);
      return;
    }
    const need = (k: string, label: string) => ((v[k] ?? '').trim() === '' ? label : null);
    const missing =
      kind === 'version'
        ? (need('prompt', 'a prompt') ?? need('version', 'a version'))
        : kind === 'alias'
          ? (need('prompt', 'a prompt') ?? need('alias', 'an alias'))
          : kind === 'model'
            ? need('model', 'a model')
            : kind === 'dataset'
              ? need('dataset', 'a dataset')
              : (need('app', 'an app') ?? need('app_version', 'an app version'));
    if (missing) {
      setProblem(`Give ${missing}.`);
      return;
    }
    setProblem(null);
    const t = (k: string) => (v[k] ?? '').trim() || undefined;
    const start: Query =
      kind === 'version'
        ? { prompt: t('prompt'), version: t('version') }
        : kind === 'alias'
          ? { prompt: t('prompt'), alias: t('alias'), move: t('move') }
          : kind === 'model'
            ? { model: t('model'), provider: t('provider') }
            : kind === 'dataset'
              ? { dataset: t('dataset') }
              : { app: t('app'), app_version: t('app_version') };
    props.onSubmit({ ...start, from: from || undefined, to: to || undefined });
  };

  return (
    <form class="filters impact-form" onSubmit={submit} aria-label="Impact starting point">
      <label>
        Start from
        <select value={kind} onChange={(e) => setKind(e.currentTarget.value as StartKind)}>
          {KINDS.map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
      </label>
      {kind === 'version' || kind === 'alias' ? (
        <label>
          Prompt
          <input name="prompt" list="impact-prompt-names" value={v.prompt} onInput={set('prompt')} placeholder="support-reply" autocomplete="off" />
        </label>
      ) : null}
      <datalist id="impact-prompt-names">
        {names.map((p) => (
          <option key={p.name} value={p.name} />
        ))}
      </datalist>
      {kind === 'version' ? (
        <label>
          Version
          <input name="version" type="number" min={1} step={1} value={v.version} onInput={set('version')} max={registered?.latestVersion} />
        </label>
      ) : null}
      {kind === 'alias' ? (
        wantsAlias ? (
          <label>
            Alias
            <select name="alias" value={v.alias} onChange={(e) => setV((old) => ({ ...old, alias: e.currentTarget.value, move: '' }))}>
              <option value="">choose…</option>
              {aliasesOfPrompt.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            Alias
            <input name="alias" value={v.alias} onInput={set('alias')} placeholder="production" autocomplete="off" />
          </label>
        )
      ) : null}
      {kind === 'alias' ? (
        aliasKnown ? (
          <label>
            Move
            <select name="move" value={v.move} onChange={set('move')}>
              <option value="">the latest</option>
              {moves.map((m) => (
                <option key={m.seq} value={String(m.seq)}>
                  {moveLabel(m)}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            Move (number; empty for the latest)
            <input name="move" type="number" min={1} step={1} value={v.move} onInput={set('move')} />
          </label>
        )
      ) : null}
      {kind === 'model' ? (
        <>
          <label>
            Model
            <input name="model" value={v.model} onInput={set('model')} placeholder="gpt-4o-mini" autocomplete="off" />
          </label>
          <label>
            Provider (optional)
            <input name="provider" value={v.provider} onInput={set('provider')} placeholder="openai" autocomplete="off" />
          </label>
        </>
      ) : null}
      {kind === 'dataset' ? (
        <label>
          Dataset
          <input name="dataset" value={v.dataset} onInput={set('dataset')} autocomplete="off" />
        </label>
      ) : null}
      {kind === 'app' ? (
        <>
          <label>
            App
            <input name="app" value={v.app} onInput={set('app')} placeholder="support-bot" autocomplete="off" />
          </label>
          <label>
            App version
            <input name="app_version" value={v.app_version} onInput={set('app_version')} placeholder="1.4.0" autocomplete="off" />
          </label>
        </>
      ) : null}
      <label>
        From
        <input name="from" value={v.from} onInput={set('from')} placeholder="2026-11-25T14:00:00Z" autocomplete="off" />
      </label>
      <label>
        To
        <input name="to" value={v.to} onInput={set('to')} placeholder="now" autocomplete="off" />
      </label>
      <button type="submit" class="primary">
        Show impact
      </button>
      {problem ? (
        <p class="error" role="alert">
          {problem}
        </p>
      ) : null}
      {prompts.error || history.error ? <p class="hint">The registry's choices could not be loaded; type the names.</p> : null}
    </form>
  );
}
