import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, seg } from '../api.ts';
import { ErrorBox } from './common.tsx';
import { errorOf } from './prompts-common.tsx';
import { useTemplateEditor } from './prompts-editor.tsx';
import { proposalPath } from './proposals-common.tsx';
import type { Proposal, RegistryAlias, RegistryTemplate, RegistryVersion } from '../types.ts';

// "Propose a change" (the propose permission): a title and description, the candidate template
// (text or chat, the version editor's fields), the version it changes, and the alias move it asks
// for: at once, or a staged split whose steps are the candidate's share at each merge. The
// server checks everything; its refusal is shown as it says it. On success the reader lands on
// the new proposal.

/** "10, 50, 100" as numbers; null when a part is not a whole number. */
function parseSteps(value: string): number[] | null {
  const parts = value
    .split(/[\s,;→>]+/)
    .map((s) => s.replace(/%$/, '').trim())
    .filter((s) => s !== '');
  if (parts.length === 0 || parts.some((s) => !/^[0-9]{1,3}$/.test(s))) return null;
  return parts.map(Number);
}

export function ProposeForm(props: { name: string; versions: RegistryVersion[]; aliases: RegistryAlias[] }) {
  const location = useLocation();
  const firstAlias = (props.aliases.find((a) => a.alias === 'production') ?? props.aliases[0])?.alias ?? '';
  const [alias, setAlias] = useState(firstAlias);
  // The candidate starts from the version the alias points to now (or the newest).
  const aliasVersion = props.aliases.find((a) => a.alias === firstAlias)?.target.version ?? null;
  const startVersion = props.versions.find((v) => v.version === aliasVersion) ?? props.versions[0] ?? null;
  const start: RegistryTemplate = startVersion?.template ?? { type: 'text', text: '' };
  const editor = useTemplateEditor(start);
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [base, setBase] = useState('');
  const [rollout, setRollout] = useState<'once' | 'staged'>('once');
  const [steps, setSteps] = useState('10, 50, 100');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const parsedSteps = rollout === 'staged' ? parseSteps(steps) : null;
  const stepsProblem = rollout === 'staged' && parsedSteps === null ? 'Steps are whole percentages separated by commas, e.g. 10, 50, 100.' : null;

  const submit = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      title,
      description,
      template: editor.template,
      ...(base === '' ? {} : { baseVersion: Number(base) }),
      move: { alias: alias.trim(), ...(rollout === 'staged' && parsedSteps ? { steps: parsedSteps } : {}) },
    };
    api<Proposal>(`/v1/prompts/${seg(props.name)}/proposals`, { method: 'POST', body })
      .then((p) => location.route(proposalPath(p.name, p.id)))
      .catch((err: unknown) => {
        setError(errorOf(err));
        setBusy(false);
      });
  };

  return (
    <form class="panel editor" aria-label="Propose a change" onSubmit={submit}>
      <h3>Propose a change to {props.name}</h3>
      <p class="hint">
        The candidate is registered as a new version marked with the proposal; the alias moves only when the proposal is merged
        {startVersion ? `. The template starts from version ${startVersion.version}` : ''}.
      </p>
      <div class="form-row">
        <label class="grow">
          Title
          <input type="text" required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </label>
      </div>
      <label class="block">
        Description
        <textarea rows={3} maxLength={2000} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </label>
      {editor.fields}
      <div class="form-row">
        <label>
          Base version
          <select value={base} onChange={(e) => setBase(e.currentTarget.value)}>
            <option value="">the alias's version</option>
            {props.versions.map((v) => (
              <option key={v.version} value={String(v.version)}>
                v{v.version} — {v.commitMessage.length > 60 ? `${v.commitMessage.slice(0, 60)}…` : v.commitMessage}
              </option>
            ))}
          </select>
        </label>
        {props.aliases.length > 0 ? (
          <label>
            Alias to move
            <select value={alias} onChange={(e) => setAlias(e.currentTarget.value)}>
              {props.aliases.map((a) => (
                <option key={a.alias} value={a.alias}>
                  {a.alias}
                </option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            Alias to move
            <input type="text" required maxLength={64} value={alias} onInput={(e) => setAlias(e.currentTarget.value)} />
          </label>
        )}
        <label>
          Rollout
          <select value={rollout} onChange={(e) => setRollout(e.currentTarget.value === 'staged' ? 'staged' : 'once')}>
            <option value="once">at once: the alias moves to the candidate</option>
            <option value="staged">staged split: the candidate's share grows at each merge</option>
          </select>
        </label>
        {rollout === 'staged' ? (
          <label>
            Steps (% of traffic to the candidate)
            <input type="text" required value={steps} aria-invalid={stepsProblem ? 'true' : undefined} onInput={(e) => setSteps(e.currentTarget.value)} />
          </label>
        ) : null}
      </div>
      {stepsProblem ? <p class="hint warn">{stepsProblem}</p> : null}
      <div class="form-row">
        <button type="submit" class="primary" disabled={busy || title.trim() === '' || alias.trim() === '' || stepsProblem !== null}>
          {busy ? 'Opening…' : 'Open proposal'}
        </button>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}
