import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { withQuery, type Query } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { Empty, ErrorBox, Loading, Page, Time, formatCount } from '../components/common.tsx';
import type { AuditEntry, AuditPage, AuditVerify } from '../types.ts';

// /audit?actor=&action=&target=&since=&until=&before=N: the project's audit log, newest first,
// and whether the hash chain verifies. For admin keys only; the server checks that too.

const FILTERS = ['actor', 'action', 'target', 'since', 'until'] as const;
const PAGE_SIZE = 50;
const KNOWN_ACTIONS = ['prompt.register', 'alias.move', 'alias.split', 'alias.rollback', 'key.create', 'key.revoke', 'evaluation.record'];

function asIso(text: string): string | null {
  const t = text.trim();
  if (t === '') return '';
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function VerifyStatus(props: { verify: AuditVerify }) {
  const v = props.verify;
  const where = v.problem?.seq !== null && v.problem?.seq !== undefined ? ` at seq ${v.problem.seq}` : '';
  return (
    <section class={`panel audit-verify ${v.ok ? 'ok' : 'broken'}`} aria-labelledby="audit-verify-title">
      <h2 id="audit-verify-title">
        Chain <span class={`badge ${v.ok ? 'ok' : 'error'}`}>{v.ok ? 'verified' : `broken${where}`}</span>
      </h2>
      {v.ok ? (
        <p>
          {v.scope === 'instance' ? `The whole chain, ${formatCount(v.entries)} entries, is intact` : `The chain is intact; ${formatCount(v.entries)} of its entries are this project's`}
          {v.registry ? `, and the registry (${formatCount(v.registry.versions)} versions, ${formatCount(v.registry.moves)} alias moves) matches it` : ''}.
        </p>
      ) : (
        <>
          <p class="error" role="alert">
            The audit log does not verify{where}: {v.problem?.reason}
          </p>
          {v.problems.length > 1 ? (
            <ul>
              {v.problems.map((p, i) => (
                <li key={i}>
                  {p.seq === null ? '' : `seq ${p.seq}: `}
                  {p.reason}
                </li>
              ))}
            </ul>
          ) : null}
        </>
      )}
      <dl class="facts">
        <div>
          <dt>Head</dt>
          <dd>
            {v.head ? (
              <>
                <code class="audit-hash" title={`seq ${v.head.seq}, hash ${v.head.hash}`}>
                  {v.head.seq}:{v.head.hash}
                </code>
              </>
            ) : (
              <span class="muted">{v.scope === 'project' ? 'shown to an instance admin' : 'no entries'}</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Anchor</dt>
          <dd>{v.anchor}</dd>
        </div>
      </dl>
      {v.head ? <p class="hint">Keep the head (SEQ:HASH) somewhere else and give it back to `promptline audit verify --head` later: it shows entries cut off the end or rewritten.</p> : null}
      {v.notes.length > 0 ? (
        <ul class="hint">
          {v.notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

/** A before or after value as text: an object's fields as "key value" pairs, strings as they are. */
function Details(props: { label: string; value: unknown }) {
  const v = props.value;
  if (v === null || v === undefined) return null;
  const text = (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x));
  return (
    <div class="audit-kv">
      <span class="audit-kv-label">{props.label}</span>{' '}
      {typeof v === 'object' && !Array.isArray(v)
        ? Object.entries(v as Record<string, unknown>).map(([k, x]) => (
            <span class="kv" key={k}>
              <span class="k">{k}</span> {text(x)}
            </span>
          ))
        : text(v)}
    </div>
  );
}

function Entries(props: { entries: AuditEntry[] }) {
  const chain = props.entries.some((e) => e.seq !== undefined);
  return (
    <table class="audit">
      <thead>
        <tr>
          <th scope="col" class="num">
            #
          </th>
          {chain ? (
            <th scope="col" class="num">
              seq
            </th>
          ) : null}
          <th scope="col">time</th>
          <th scope="col">actor</th>
          <th scope="col">action</th>
          <th scope="col">target</th>
          <th scope="col">details</th>
          {chain ? <th scope="col">hash</th> : null}
        </tr>
      </thead>
      <tbody>
        {props.entries.map((e) => (
          <tr key={`${e.seq ?? ''}:${e.projectSeq ?? ''}:${e.at}`}>
            <td class="num">{e.projectSeq ?? '—'}</td>
            {chain ? <td class="num">{e.seq ?? '—'}</td> : null}
            <td>
              <Time iso={e.at} />
            </td>
            <td>{e.actor}</td>
            <td>
              <span class="badge">{e.action}</span>
            </td>
            <td class="mono">{e.target}</td>
            <td class="audit-details">
              <Details label="before" value={e.before} />
              <Details label="after" value={e.after} />
            </td>
            {chain ? (
              <td>
                <code title={e.hash}>{e.hash ? e.hash.slice(0, 12) : '—'}</code>
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Filters(props: { query: Record<string, string>; actors: string[]; onSubmit: (q: Query) => void }) {
  const [v, setV] = useState<Record<string, string>>(() => ({ ...props.query }));
  const [problem, setProblem] = useState<string | null>(null);
  const set = (k: string) => (e: { currentTarget: { value: string } }) => setV((old) => ({ ...old, [k]: e.currentTarget.value }));
  return (
    <form
      class="filters"
      aria-label="Audit filters"
      onSubmit={(e) => {
        e.preventDefault();
        const since = asIso(v.since ?? '');
        const until = asIso(v.until ?? '');
        if (since === null || until === null) {
          setProblem(`${since === null ? 'Since' : 'Until'} is not a time: give one like 2026-11-25T14:00:00Z.`);
          return;
        }
        setProblem(null);
        const t = (k: string) => (v[k] ?? '').trim() || undefined;
        props.onSubmit({ actor: t('actor'), action: t('action'), target: t('target'), since: since || undefined, until: until || undefined });
      }}
    >
      <label>
        Actor
        <input name="actor" list="audit-actors" value={v.actor ?? ''} onInput={set('actor')} autocomplete="off" />
      </label>
      <datalist id="audit-actors">
        {props.actors.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <label>
        Action
        <input name="action" list="audit-actions" value={v.action ?? ''} onInput={set('action')} autocomplete="off" placeholder="alias.move" />
      </label>
      <datalist id="audit-actions">
        {KNOWN_ACTIONS.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <label>
        Target
        <input name="target" value={v.target ?? ''} onInput={set('target')} autocomplete="off" placeholder="prompts:/support-reply@production" />
      </label>
      <label>
        Since
        <input name="since" value={v.since ?? ''} onInput={set('since')} autocomplete="off" placeholder="2026-11-25T00:00:00Z" />
      </label>
      <label>
        Until
        <input name="until" value={v.until ?? ''} onInput={set('until')} autocomplete="off" placeholder="now" />
      </label>
      <button type="submit" class="primary">
        Filter
      </button>
      <a class="button" href="/audit">
        Clear
      </a>
      {problem ? (
        <p class="error" role="alert">
          {problem}
        </p>
      ) : null}
    </form>
  );
}

export function AuditView() {
  const session = useSession();
  const location = useLocation();
  const admin = session.may('admin');
  const filters: Record<string, string> = {};
  for (const k of FILTERS) {
    const v = location.query[k];
    if (v) filters[k] = v;
  }
  const before = location.query.before || undefined;
  const verify = useApi<AuditVerify>(admin ? '/v1/audit/verify' : null);
  const page = useApi<AuditPage>(admin ? '/v1/audit' : null, { query: { ...filters, before, limit: PAGE_SIZE } });

  if (!admin) {
    return (
      <Page title="Audit">
        <div class="panel" role="alert">
          <p>
            <strong>The audit log needs an admin key.</strong> This key ({session.info?.name} · {session.info?.role}) may not read it; sign in with an admin key of this project to see who changed
            what.
          </p>
        </div>
      </Page>
    );
  }
  const entries = page.data?.entries ?? [];
  const actors = [...new Set(entries.map((e) => e.actor))].sort();
  return (
    <Page title="Audit">
      {verify.loading ? <Loading what="chain verification" /> : verify.error ? <ErrorBox error={verify.error} /> : verify.data ? <VerifyStatus verify={verify.data} /> : null}
      <Filters key={location.url} query={filters} actors={actors} onSubmit={(q) => location.route(withQuery('/audit', q))} />
      {page.loading ? (
        <Loading what="audit log" />
      ) : page.error ? (
        <ErrorBox error={page.error} />
      ) : entries.length === 0 ? (
        <Empty>No entries{Object.keys(filters).length > 0 || before ? ' match' : ' yet'}.</Empty>
      ) : (
        <>
          <p class="hint">
            {before ? `Entries before #${before}` : 'The newest entries'}, newest first{Object.keys(filters).length > 0 ? ', filtered' : ''}.
          </p>
          <Entries entries={entries} />
          <nav class="pager" aria-label="Audit pages">
            {before ? <a href={withQuery('/audit', filters)}>Newest entries</a> : null}
            {page.data?.next ? <a href={withQuery('/audit', { ...filters, before: page.data.next })}>Older entries</a> : null}
          </nav>
        </>
      )}
    </Page>
  );
}
