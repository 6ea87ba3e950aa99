import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { ErrorBox } from './common.tsx';
import { RESPONSE_SIGNALS } from './monitors-common.tsx';
import type { Monitor, PromptSummary } from '../types.ts';

// The form that creates a monitor (POST /v1/monitors), shown to keys that may edit. The server
// checks the body again; what it refuses is shown as it says it.

type BaselineKind = 'first_days' | 'window' | 'evaluation';

function isoOrNull(text: string): string | null {
  const ms = Date.parse(text.trim());
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function MonitorForm(props: { onCreated: (m: Monitor) => void }) {
  const session = useSession();
  const [name, setName] = useState('');
  const [prompt, setPrompt] = useState('');
  const [by, setBy] = useState<'version' | 'alias'>('version');
  const [version, setVersion] = useState('');
  const [alias, setAlias] = useState('');
  const [signals, setSignals] = useState<string[]>([]);
  const [window, setWindow] = useState('1h');
  const [baseline, setBaseline] = useState<BaselineKind>('first_days');
  const [days, setDays] = useState('7');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const prompts = useApi<{ prompts: PromptSummary[] }>(session.may('prompts') ? '/v1/prompts' : null, { query: { limit: 500 } });
  const registered = prompts.data?.prompts.find((p) => p.name === prompt.trim());

  const toggle = (s: string) => setSignals((old) => (old.includes(s) ? old.filter((x) => x !== s) : [...old, s]));

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (!name.trim() || !prompt.trim()) return setProblem('Give the monitor a name and the prompt it watches.');
    if (by === 'version' && !/^[1-9]\d*$/.test(version.trim())) return setProblem('Give the version to watch (a whole number).');
    if (by === 'alias' && !alias.trim()) return setProblem('Give the alias to watch.');
    let base: Record<string, unknown> = { kind: baseline };
    if (baseline === 'first_days') {
      if (!/^[1-9]\d*$/.test(days.trim())) return setProblem('Give the number of first days to compare with.');
      base = { kind: baseline, days: Number(days) };
    } else if (baseline === 'window') {
      const f = isoOrNull(from);
      const t = isoOrNull(to);
      if (!f || !t) return setProblem('Give the baseline window’s start and end as times, like 2026-11-25T14:00:00Z.');
      base = { kind: baseline, from: f, to: t };
    }
    setProblem(null);
    setBusy(true);
    try {
      const body = {
        name: name.trim(),
        prompt: prompt.trim(),
        ...(by === 'version' ? { version: Number(version) } : { alias: alias.trim() }),
        ...(signals.length > 0 ? { signals } : {}),
        window: window.trim(),
        baseline: base,
      };
      const m = await api<Monitor>('/v1/monitors', { method: 'POST', body });
      setName('');
      props.onCreated(m);
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel monitor-form" aria-label="New monitor" onSubmit={(e) => void submit(e)}>
      <h2>New monitor</h2>
      <div class="filters">
        <label>
          Name
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="answer length" autocomplete="off" />
        </label>
        <label>
          Prompt
          <input name="prompt" list="monitor-prompt-names" value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)} placeholder="support-reply" autocomplete="off" />
        </label>
        <datalist id="monitor-prompt-names">
          {(prompts.data?.prompts ?? []).map((p) => (
            <option key={p.name} value={p.name} />
          ))}
        </datalist>
        <label>
          Watch
          <select value={by} onChange={(e) => setBy(e.currentTarget.value as 'version' | 'alias')}>
            <option value="version">a version</option>
            <option value="alias">an alias</option>
          </select>
        </label>
        {by === 'version' ? (
          <label>
            Version
            <input name="version" type="number" min={1} step={1} max={registered?.latestVersion} value={version} onInput={(e) => setVersion(e.currentTarget.value)} />
          </label>
        ) : registered && registered.aliases.length > 0 ? (
          <label>
            Alias
            <select name="alias" value={alias} onChange={(e) => setAlias(e.currentTarget.value)}>
              <option value="">choose…</option>
              {registered.aliases.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            Alias
            <input name="alias" value={alias} onInput={(e) => setAlias(e.currentTarget.value)} placeholder="production" autocomplete="off" />
          </label>
        )}
        <label>
          Window
          <input name="window" value={window} onInput={(e) => setWindow(e.currentTarget.value)} placeholder="1h" size={6} autocomplete="off" />
        </label>
        <label>
          Baseline
          <select value={baseline} onChange={(e) => setBaseline(e.currentTarget.value as BaselineKind)}>
            <option value="first_days">its first days</option>
            <option value="window">a fixed window</option>
            <option value="evaluation">its evaluation’s window</option>
          </select>
        </label>
        {baseline === 'first_days' ? (
          <label>
            First days
            <input name="days" type="number" min={1} max={365} step={1} value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </label>
        ) : null}
        {baseline === 'window' ? (
          <>
            <label>
              Baseline from
              <input name="baseline_from" value={from} onInput={(e) => setFrom(e.currentTarget.value)} placeholder="2026-11-25T14:00:00Z" autocomplete="off" />
            </label>
            <label>
              Baseline to
              <input name="baseline_to" value={to} onInput={(e) => setTo(e.currentTarget.value)} placeholder="2026-11-26T14:00:00Z" autocomplete="off" />
            </label>
          </>
        ) : null}
      </div>
      <fieldset class="signal-choice">
        <legend>Signals (none chosen: every signal)</legend>
        {RESPONSE_SIGNALS.map((s) => (
          <label key={s} class="check">
            <input type="checkbox" checked={signals.includes(s)} onChange={() => toggle(s)} /> {s}
          </label>
        ))}
      </fieldset>
      <p class="hint">A window is a number and a unit: 20s, 15m, 1h, 1d. A watched signal breaches when its test’s p is below 0.001 and its PSI is at least 0.1.</p>
      <button type="submit" class="primary" disabled={busy}>
        Create monitor
      </button>
      {problem ? (
        <p class="error" role="alert">
          {problem}
        </p>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}
