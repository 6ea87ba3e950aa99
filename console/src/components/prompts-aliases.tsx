import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, seg, withQuery } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { Empty, ErrorBox, Loading, Time } from './common.tsx';
import { TargetText, errorOf, fromLocalInput, promptPath, toLocalInput } from './prompts-common.tsx';
import type { RegistryAlias, RegistryAliasMove, RegistryAliasState, RegistryVersion } from '../types.ts';

// A prompt's aliases: where each points and since when, the timeline of one alias's moves, where
// it pointed at a given time, and (with the edit permission) moving it, splitting it, rolling it
// back and creating a new one. Protected aliases need more than edit: the server decides and its
// refusal is shown as it says it. The selected alias and the time asked about are in the URL.

const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

function aliasesPath(name: string) {
  return `/v1/prompts/${seg(name)}/aliases`;
}

function aliasPath(name: string, alias: string) {
  return `${aliasesPath(name)}/${seg(alias)}`;
}

/** One change at a time: busy while it runs, the server's refusal, or what was done. */
function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const run = (work: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setDone(null);
    work()
      .then((message) => setDone(message))
      .catch((e: unknown) => setError(errorOf(e)))
      .finally(() => setBusy(false));
  };
  return { busy, error, done, run };
}

function ActionResult(props: { error: Error | null; done: string | null }) {
  return (
    <>
      <ErrorBox error={props.error} />
      {props.done ? (
        <p class="done" role="status">
          {props.done}
        </p>
      ) : null}
    </>
  );
}

function VersionSelect(props: { label: string; versions: RegistryVersion[]; value: number | null; onChange: (v: number) => void }) {
  return (
    <label>
      {props.label}
      <select required value={props.value === null ? '' : String(props.value)} onChange={(e) => props.onChange(Number(e.currentTarget.value))}>
        {props.value === null ? <option value="">Choose a version</option> : null}
        {props.versions.map((v) => (
          <option key={v.version} value={String(v.version)}>
            v{v.version} — {v.commitMessage.length > 60 ? `${v.commitMessage.slice(0, 60)}…` : v.commitMessage}
          </option>
        ))}
      </select>
    </label>
  );
}

export function AliasesTab(props: { name: string; versions: RegistryVersion[] }) {
  const session = useSession();
  const location = useLocation();
  const list = useApi<{ name: string; aliases: RegistryAlias[] }>(aliasesPath(props.name));
  const aliases = list.data?.aliases ?? [];
  const asked = location.query.alias;
  const selected = asked ?? (aliases.find((a) => a.alias === 'production') ?? aliases[0])?.alias;
  const current = aliases.find((a) => a.alias === selected);
  const mayEdit = session.may('edit');

  return (
    <div>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="aliases" /> : null}
      {list.data && aliases.length === 0 ? <Empty>This prompt has no aliases yet.</Empty> : null}
      {aliases.length > 0 ? (
        <table aria-label="Aliases">
          <thead>
            <tr>
              <th scope="col">Alias</th>
              <th scope="col">Points at</th>
              <th scope="col">Since</th>
              <th scope="col">By</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {aliases.map((a) => (
              <tr key={a.alias} class={a.alias === selected ? 'selected' : undefined}>
                <td>
                  <a href={promptPath(props.name, { tab: 'aliases', alias: a.alias })} aria-current={a.alias === selected ? 'true' : undefined}>
                    {a.alias}
                  </a>
                </td>
                <td>
                  <TargetText name={props.name} target={a.target} />
                </td>
                <td>
                  <Time iso={a.since.at} />
                </td>
                <td>{a.since.actor}</td>
                <td>{a.since.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {mayEdit && list.data ? <CreateAlias name={props.name} versions={props.versions} existing={aliases.map((a) => a.alias)} onCreated={() => list.reload()} /> : null}
      {list.data && selected && !current ? <ErrorBox error={new Error(`${props.name} has no alias “${selected}”.`)} /> : null}
      {current ? <AliasDetail key={current.alias} name={props.name} alias={current} versions={props.versions} onChanged={() => list.reload()} /> : null}
    </div>
  );
}

function AliasDetail(props: { name: string; alias: RegistryAlias; versions: RegistryVersion[]; onChanged: () => void }) {
  const session = useSession();
  const alias = props.alias.alias;
  const history = useApi<{ moves: RegistryAliasMove[] }>(`${aliasPath(props.name, alias)}/history`);
  const changed = () => {
    props.onChanged();
    history.reload();
  };
  const moves = [...(history.data?.moves ?? [])].reverse();
  return (
    <section class="alias-detail" aria-labelledby="alias-detail-title">
      <h2 id="alias-detail-title">Alias {alias}</h2>
      <p>
        Points at <TargetText name={props.name} target={props.alias.target} /> since <Time iso={props.alias.since.at} />, moved by {props.alias.since.actor}.
      </p>
      <div class="grid2">
        <div>
          <h3>Moves, newest first</h3>
          <ErrorBox error={history.error} />
          {history.loading && !history.data ? <Loading what="moves" /> : null}
          {history.data ? (
            <ol class="timeline" aria-label={`Moves of ${alias}`}>
              {moves.map((m) => (
                <li key={m.seq}>
                  <div class="move-head">
                    <strong>#{m.seq}</strong> <Time iso={m.at} /> {m.rollback ? <span class="badge warn">rollback</span> : null}
                  </div>
                  <div class="move-change">
                    {m.from ? <TargetText name={props.name} target={m.from} /> : <span class="muted">created</span>} → <TargetText name={props.name} target={m.to} />
                  </div>
                  <div class="move-actor">by {m.actor}</div>
                  <div class="move-reason">“{m.reason}”</div>
                  {session.may('read') ? (
                    <a class="hint" href={withQuery('/impact', { prompt: props.name, alias, move: m.seq })}>
                      What this move touched
                    </a>
                  ) : null}
                </li>
              ))}
            </ol>
          ) : null}
        </div>
        <div>
          <AliasAt name={props.name} alias={alias} />
          {session.may('edit') ? (
            <>
              <MoveAlias name={props.name} alias={alias} versions={props.versions} current={props.alias.target.version} onChanged={changed} />
              <SplitAlias name={props.name} alias={alias} versions={props.versions} onChanged={changed} />
              <RollbackAlias name={props.name} alias={alias} onChanged={changed} />
            </>
          ) : null}
        </div>
      </div>
    </section>
  );
}

/** Where the alias pointed at a time (?at=ISO in the URL). */
function AliasAt(props: { name: string; alias: string }) {
  const location = useLocation();
  const at = location.query.at;
  const [value, setValue] = useState(toLocalInput(at));
  const state = useApi<RegistryAliasState>(at ? aliasPath(props.name, props.alias) : null, { query: { at } });
  return (
    <form
      class="panel"
      aria-label="Where did it point"
      onSubmit={(e) => {
        e.preventDefault();
        const iso = fromLocalInput(value);
        location.route(withQuery(location.path, { ...location.query, at: iso }), true);
      }}
    >
      <h3>Where did {props.alias} point at…</h3>
      <div class="form-row">
        <label>
          Time (your time zone)
          <input type="datetime-local" step={1} required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        <button type="submit">Look up</button>
      </div>
      <ErrorBox error={state.error} />
      {at && state.loading ? <Loading /> : null}
      {at && state.data && !state.loading ? (
        <p class="alias-at" role="status">
          At <Time iso={state.data.at} />, {props.alias} pointed at <TargetText name={props.name} target={state.data.target} />, since move #{state.data.since.seq} (<Time iso={state.data.since.at} />) by{' '}
          {state.data.since.actor}: “{state.data.since.reason}”.
        </p>
      ) : null}
    </form>
  );
}

function MoveAlias(props: { name: string; alias: string; versions: RegistryVersion[]; current: number | null; onChanged: () => void }) {
  const [version, setVersion] = useState<number | null>(props.versions.find((v) => v.version !== props.current)?.version ?? props.versions[0]?.version ?? null);
  const [reason, setReason] = useState('');
  const action = useAction();
  return (
    <form
      class="panel"
      aria-label={`Move ${props.alias}`}
      onSubmit={(e) => {
        e.preventDefault();
        action.run(async () => {
          const m = await api<RegistryAliasMove>(aliasPath(props.name, props.alias), { method: 'PUT', body: { version, reason } });
          setReason('');
          props.onChanged();
          return `Moved ${props.alias} to version ${m.to.version} (move #${m.seq}).`;
        });
      }}
    >
      <h3>Move {props.alias}</h3>
      <div class="form-row">
        <VersionSelect label="Version" versions={props.versions} value={version} onChange={setVersion} />
        <label class="grow">
          Reason for the move
          <input type="text" required maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={action.busy || version === null || reason.trim() === ''}>
          Move
        </button>
      </div>
      <ActionResult error={action.error} done={action.done} />
    </form>
  );
}

function SplitAlias(props: { name: string; alias: string; versions: RegistryVersion[]; onChanged: () => void }) {
  const first = props.versions[0]?.version ?? null;
  const second = props.versions[1]?.version ?? first;
  const [arms, setArms] = useState<Array<{ version: number | null; weight: string }>>([
    { version: first, weight: '50' },
    { version: second, weight: '50' },
  ]);
  const [reason, setReason] = useState('');
  const action = useAction();
  const total = arms.reduce((n, a) => n + (Number(a.weight) || 0), 0);
  const setArm = (i: number, change: Partial<{ version: number | null; weight: string }>) => setArms(arms.map((a, j) => (j === i ? { ...a, ...change } : a)));
  return (
    <form
      class="panel"
      aria-label={`Split ${props.alias}`}
      onSubmit={(e) => {
        e.preventDefault();
        action.run(async () => {
          const split = arms.map((a) => ({ version: a.version, weight: Number(a.weight) }));
          const m = await api<RegistryAliasMove>(aliasPath(props.name, props.alias), { method: 'PUT', body: { split, reason } });
          setReason('');
          props.onChanged();
          return `Split ${props.alias} over ${m.to.split?.arms.map((a) => `v${a.version} ${a.weight} %`).join(', ') ?? ''} (move #${m.seq}).`;
        });
      }}
    >
      <h3>Split {props.alias} between versions</h3>
      {arms.map((a, i) => (
        <div class="form-row" key={i}>
          <VersionSelect label={`Version of arm ${i + 1}`} versions={props.versions} value={a.version} onChange={(v) => setArm(i, { version: v })} />
          <label>
            Weight of arm {i + 1} (%)
            <input type="number" required min={0.01} max={100} step="any" value={a.weight} onInput={(e) => setArm(i, { weight: e.currentTarget.value })} />
          </label>
          <button type="button" disabled={arms.length <= 2} onClick={() => setArms(arms.filter((_, j) => j !== i))}>
            Remove arm {i + 1}
          </button>
        </div>
      ))}
      <div class="form-row">
        <button type="button" disabled={arms.length >= 10} onClick={() => setArms([...arms, { version: first, weight: '0' }])}>
          Add arm
        </button>
        <span class={Math.abs(total - 100) < 1e-9 ? 'hint' : 'hint warn'}>Weights add up to {Number(total.toFixed(4))} % (they must add up to 100 %).</span>
      </div>
      <div class="form-row">
        <label class="grow">
          Reason for the split
          <input type="text" required maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={action.busy || reason.trim() === '' || arms.some((a) => a.version === null)}>
          Set split
        </button>
      </div>
      <ActionResult error={action.error} done={action.done} />
    </form>
  );
}

function RollbackAlias(props: { name: string; alias: string; onChanged: () => void }) {
  const [reason, setReason] = useState('');
  const action = useAction();
  return (
    <form
      class="panel"
      aria-label={`Roll back ${props.alias}`}
      onSubmit={(e) => {
        e.preventDefault();
        action.run(async () => {
          const m = await api<RegistryAliasMove>(`${aliasPath(props.name, props.alias)}/rollback`, { method: 'POST', body: { reason } });
          setReason('');
          props.onChanged();
          return `Rolled ${props.alias} back to ${m.to.split ? 'its split' : `version ${m.to.version}`} (move #${m.seq}).`;
        });
      }}
    >
      <h3>Roll {props.alias} back</h3>
      <p class="hint">Points the alias where it pointed before its last move; recorded as a move of its own.</p>
      <div class="form-row">
        <label class="grow">
          Reason for the rollback
          <input type="text" required maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
        <button type="submit" class="danger" disabled={action.busy || reason.trim() === ''}>
          Roll back
        </button>
      </div>
      <ActionResult error={action.error} done={action.done} />
    </form>
  );
}

function CreateAlias(props: { name: string; versions: RegistryVersion[]; existing: string[]; onCreated: () => void }) {
  const location = useLocation();
  const [alias, setAlias] = useState('');
  const [version, setVersion] = useState<number | null>(props.versions[0]?.version ?? null);
  const [reason, setReason] = useState('');
  const action = useAction();
  const problem =
    alias === ''
      ? null
      : !ALIAS_NAME.test(alias)
        ? 'An alias is 1 to 64 lower-case letters, digits, “_” or “-”, starting with a letter.'
        : alias === 'latest'
          ? 'The alias “latest” is reserved: it always means the newest version.'
          : props.existing.includes(alias)
            ? `${alias} exists already: move it below.`
            : null;
  return (
    <details class="panel create-alias">
      <summary>New alias</summary>
      <form
        aria-label="Create an alias"
        onSubmit={(e) => {
          e.preventDefault();
          action.run(async () => {
            const m = await api<RegistryAliasMove>(aliasPath(props.name, alias), { method: 'PUT', body: { version, reason } });
            props.onCreated();
            location.route(promptPath(props.name, { tab: 'aliases', alias: m.alias }), true);
            setAlias('');
            setReason('');
            return `Created ${m.alias} at version ${m.to.version}.`;
          });
        }}
      >
        <div class="form-row">
          <label>
            Alias name
            <input type="text" required maxLength={64} value={alias} aria-invalid={problem ? 'true' : undefined} onInput={(e) => setAlias(e.currentTarget.value.trim())} />
          </label>
          <VersionSelect label="Points at version" versions={props.versions} value={version} onChange={setVersion} />
          <label class="grow">
            Reason for the new alias
            <input type="text" required maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary" disabled={action.busy || alias === '' || problem !== null || version === null || reason.trim() === ''}>
            Create alias
          </button>
        </div>
        {problem ? <p class="hint warn">{problem}</p> : null}
        <ActionResult error={action.error} done={action.done} />
      </form>
    </details>
  );
}
