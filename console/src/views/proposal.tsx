import { useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { api, seg } from '../api.ts';
import { useApi } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { Empty, ErrorBox, Facts, Loading, Page, Time } from '../components/common.tsx';
import { TargetText, decodeParam, errorOf, formatNumber, promptPath, versionPath } from '../components/prompts-common.tsx';
import { SideBySideDiff } from '../components/prompts-diff.tsx';
import { EVENT_LABELS, StateBadge, isAuthor, proposalApi, proposalsPath, requestText, stateLabel } from '../components/proposals-common.tsx';
import type { AliasPolicy, GateResult, MergeAnswer, Proposal, ProposalEvent, ProposalView as ProposalAnswer, RegistryDiff, ReviewVerdict } from '../types.ts';

// /prompts/:name/proposals/:id: one proposal. What it asks for and where the alias points now, the
// candidate against that version (the diff the API answers with), the policy of the alias and how
// the approvals stand against it, the staged rollout's steps, every transition and review with who
// and when; and the actions the key may take: comment (propose), request changes or approve (edit,
// not the author), merge (edit; an admin may override the policy with a reason), close. The server
// decides every one; a refusal is shown as the server words it (a refused merge names what is missing).

export function ProposalView() {
  const route = useRoute();
  const name = decodeParam(route.params.name);
  const id = decodeParam(route.params.id);
  const view = useApi<ProposalAnswer>(proposalApi(name, id));
  const p = view.data;

  return (
    <Page
      title={p ? p.title : `Proposal ${id}`}
      actions={
        <>
          <a class="button" href={proposalsPath(name)}>
            Proposals of {name}
          </a>
          <button type="button" onClick={() => view.reload()}>
            Refresh
          </button>
        </>
      }
    >
      <ErrorBox error={view.error} />
      {view.loading && !p ? <Loading what="the proposal" /> : null}
      {p ? <ProposalBody key={p.id} p={p} onChanged={() => view.reload()} /> : null}
    </Page>
  );
}

function ProposalBody(props: { p: ProposalAnswer; onChanged: () => void }) {
  const p = props.p;
  const finished = p.state === 'merged' || p.state === 'closed';
  const lastChecks = [...p.events].reverse().find((e) => e.merge && e.merge.checks.length > 0)?.merge?.checks ?? null;
  return (
    <div class="proposal">
      <Facts
        rows={[
          ['State', <StateBadge state={p.state} />],
          ['Prompt', <a href={promptPath(p.name)}>{p.name}</a>],
          ['Proposal', <code>{p.id}</code>],
          ['Author', p.author],
          ['Candidate', <a href={versionPath(p.name, p.candidate.version)}>v{p.candidate.version}</a>],
          ['Based on', p.baseVersion === null ? null : <a href={versionPath(p.name, p.baseVersion)}>v{p.baseVersion}</a>],
          ['Asks for', requestText(p)],
          [`${p.request.alias} was at`, <TargetText name={p.name} target={p.fromTarget} />],
          [`${p.request.alias} is at now`, <TargetText name={p.name} target={p.current} />],
          ['Opened', <Time iso={p.createdAt} />],
          ['Updated', <Time iso={p.updatedAt} />],
        ]}
      />
      {p.description ? (
        <>
          <h2>Description</h2>
          <p class="proposal-description">{p.description}</p>
        </>
      ) : null}

      <DiffSection p={p} />

      <div class="grid2">
        <div>
          <PolicySection p={p} lastChecks={lastChecks} />
          {p.request.steps ? <RolloutSection p={p} /> : null}
          <ApprovalsSection p={p} />
        </div>
        <div>
          {!finished ? <Actions p={p} onChanged={props.onChanged} /> : <p class="hint">This proposal is {stateLabel(p.state)}: it takes no more reviews or merges.</p>}
        </div>
      </div>

      <h2>History</h2>
      <ol class="timeline proposal-history" aria-label="History">
        {p.events.map((e) => (
          <HistoryEntry key={e.seq} name={p.name} e={e} />
        ))}
      </ol>
    </div>
  );
}

/**
 * The candidate against the version the alias points to now (the API's diff). Once the alias is on
 * the candidate (merged), that diff is empty: the candidate is shown against where the alias was
 * when the proposal was opened instead.
 */
function DiffSection(props: { p: ProposalAnswer }) {
  const p = props.p;
  const before = p.fromTarget?.version ?? p.baseVersion;
  const onCandidate = p.diff !== null && p.diff.from === p.diff.to;
  const earlier = useApi<RegistryDiff>(onCandidate && before !== null && before !== p.candidate.version ? `/v1/prompts/${seg(p.name)}/diff` : null, { query: { from: before, to: p.candidate.version } });
  return (
    <section aria-labelledby="diff-title">
      <h2 id="diff-title">What the candidate changes</h2>
      {onCandidate && before !== null ? (
        <p class="hint">
          {p.request.alias} points to the candidate, v{p.candidate.version}, now: here it is against v{before}, where {p.request.alias} was when the proposal was opened.
        </p>
      ) : (
        <p class="hint">
          The candidate, v{p.candidate.version}, against the version {p.request.alias} points to now{p.current?.split ? ' (for a split: the version that is not the candidate)' : ''}.
        </p>
      )}
      {onCandidate ? (
        <>
          <ErrorBox error={earlier.error} />
          {earlier.loading ? <Loading what="diff" /> : null}
          {earlier.data ? <SideBySideDiff diff={earlier.data} /> : before === null || before === p.candidate.version ? <SideBySideDiff diff={p.diff!} /> : null}
        </>
      ) : p.diff ? (
        <SideBySideDiff diff={p.diff} />
      ) : null}
      {p.diffError ? <ErrorBox error={new Error(p.diffError)} /> : null}
      {!p.diff && !p.diffError ? <Empty>Nothing to compare with: {p.request.alias} points to no version.</Empty> : null}
    </section>
  );
}

const roleList = (roles: string[]) => (roles.length <= 1 ? roles.join('') : `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}`);

function PolicySection(props: { p: ProposalAnswer; lastChecks: GateResult[] | null }) {
  const p = props.p;
  const policy = p.policy;
  return (
    <section class="panel" aria-labelledby="policy-title">
      <h3 id="policy-title">Policy of {p.request.alias}</h3>
      {policy ? <PolicyRules policy={policy} p={p} /> : <p>No policy: a merge needs one approval (and, for a protected alias, the promote right).</p>}
      {p.nextStep ? (
        <>
          <h3>
            What a merge {p.nextStep.steps > 1 ? `of step ${p.nextStep.step} of ${p.nextStep.steps} ` : ''}would check now
          </h3>
          <Checks checks={p.nextStep.checks} label="Checks now" />
          {p.nextStep.aliasMoved ? (
            <p class="notice" role="status">
              {p.request.alias} moved since this proposal last saw it: a merge will be refused. Close it and propose against the new target.
            </p>
          ) : null}
        </>
      ) : null}
      {props.lastChecks ? (
        <>
          <h3>Checks at the last merge step</h3>
          <Checks checks={props.lastChecks} label="Checks at the last merge step" />
        </>
      ) : null}
    </section>
  );
}

function PolicyRules(props: { policy: AliasPolicy; p: Proposal }) {
  const { policy, p } = props;
  const counted = p.approvals.filter((a) => policy.approvals.roles.includes(a.role)).length;
  const enough = counted >= policy.approvals.count;
  return (
    <ul class="policy-rules" aria-label="What the policy requires">
      <li>
        <span class={`badge ${enough ? 'ok' : 'warn'}`}>{enough ? 'met' : 'not yet'}</span> {policy.approvals.count} {policy.approvals.count === 1 ? 'approval' : 'approvals'} from {roleList(policy.approvals.roles)}: {counted} so far
      </li>
      {policy.evaluations.map((g, i) => (
        <li key={i}>
          evaluation <code>{g.scorer}</code> on dataset <code>{g.dataset}</code>
          {g.minScore !== null ? `: mean score at least ${formatNumber(g.minScore)}` : ''}
          {g.noRegression ? `${g.minScore !== null ? ', and' : ':'} no significant regression against the current version` : ''}
        </li>
      ))}
      {policy.rollout ? <li>a staged split, with {policy.rollout.minResponses.toLocaleString('en-US')} responses of the candidate at each step before the next</li> : null}
      <li class="hint">
        Policy revision {policy.revision}, set by {policy.updatedBy} <Time iso={policy.updatedAt} />
      </li>
    </ul>
  );
}

function Checks(props: { checks: GateResult[]; label?: string }) {
  return (
    <ul class="checks" aria-label={props.label ?? 'Checks'}>
      {props.checks.map((c, i) => (
        <li key={i}>
          <span class={`badge ${c.ok ? 'ok' : 'error'}`}>{c.ok ? 'passed' : 'failed'}</span> {c.detail}
        </li>
      ))}
    </ul>
  );
}

function RolloutSection(props: { p: ProposalAnswer }) {
  const p = props.p;
  const steps = p.request.steps ?? [];
  return (
    <section class="panel" aria-labelledby="rollout-title">
      <h3 id="rollout-title">Staged rollout</h3>
      <p>
        {p.rollout.done} of {p.rollout.steps} steps merged
        {p.rollout.stepStartedAt ? (
          <>
            ; the current step began <Time iso={p.rollout.stepStartedAt} />
          </>
        ) : null}
        .
      </p>
      <ol class="rollout-steps" aria-label="Rollout steps">
        {steps.map((s, i) => {
          const status = i < p.rollout.done ? (i === p.rollout.done - 1 && p.state !== 'merged' ? 'current' : 'done') : i === p.rollout.done && p.state !== 'closed' ? 'next' : 'to come';
          return (
            <li key={i} aria-current={status === 'current' ? 'step' : undefined}>
              step {i + 1}: {formatNumber(s)} % of the traffic to v{p.candidate.version} <span class={`badge ${status === 'done' || status === 'current' ? 'ok' : ''}`}>{status}</span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function ApprovalsSection(props: { p: ProposalAnswer }) {
  const reviews = props.p.events.filter((e) => e.kind === 'approve' || e.kind === 'request_changes' || e.kind === 'comment');
  return (
    <section class="panel" aria-labelledby="approvals-title">
      <h3 id="approvals-title">Approvals standing</h3>
      {props.p.approvals.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <ul class="approvals" aria-label="Approvals">
          {props.p.approvals.map((a) => (
            <li key={a.actor}>
              {a.actor} ({a.role}), <Time iso={a.at} />
            </li>
          ))}
        </ul>
      )}
      <p class="hint">
        {reviews.length} {reviews.length === 1 ? 'review or comment' : 'reviews and comments'} in the history below; each reviewer's latest verdict counts.
      </p>
    </section>
  );
}

function HistoryEntry(props: { name: string; e: ProposalEvent }) {
  const e = props.e;
  return (
    <li>
      <div class="move-head">
        <strong>#{e.seq}</strong> <Time iso={e.at} /> <span class="event-actor">{e.actor}</span> <span class="muted">({e.role})</span> {EVENT_LABELS[e.kind]}
        {e.from !== null && e.from !== e.to ? (
          <span class="muted">
            {' '}
            · {stateLabel(e.from)} → {stateLabel(e.to)}
          </span>
        ) : null}
      </div>
      {e.merge ? (
        <div class="event-merge">
          Step {e.merge.step} of {e.merge.steps}: move #{e.merge.moveSeq} to <TargetText name={props.name} target={e.merge.target} />
          {e.merge.override !== null ? (
            <>
              {' '}
              <span class="badge warn">override</span> <span class="event-message">{e.merge.override}</span>
            </>
          ) : null}
          {e.merge.checks.length > 0 ? <Checks checks={e.merge.checks} /> : null}
        </div>
      ) : null}
      {e.message && !(e.merge && e.merge.override === e.message) ? <div class="event-message">{e.message}</div> : null}
    </li>
  );
}

/** One action at a time: busy while it runs, the server's refusal (verbatim), or what was done. */
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

function Result(props: { error: Error | null; done: string | null }) {
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

function Actions(props: { p: ProposalAnswer; onChanged: () => void }) {
  const session = useSession();
  const info = session.info!;
  const author = isAuthor(props.p.author, info);
  const mayEdit = session.may('edit');
  return (
    <>
      {session.may('propose') ? <ReviewForm p={props.p} author={author} mayEdit={mayEdit} onChanged={props.onChanged} /> : null}
      {mayEdit ? <MergeForm p={props.p} admin={session.may('admin')} onChanged={props.onChanged} /> : null}
      {author || mayEdit ? <CloseForm p={props.p} onChanged={props.onChanged} /> : null}
    </>
  );
}

function ReviewForm(props: { p: Proposal; author: boolean; mayEdit: boolean; onChanged: () => void }) {
  const [message, setMessage] = useState('');
  const action = useAction();
  const review = (verdict: ReviewVerdict) =>
    action.run(async () => {
      const p = await api<Proposal>(proposalApi(props.p.name, props.p.id, 'reviews'), { method: 'POST', body: { verdict, message } });
      setMessage('');
      props.onChanged();
      return verdict === 'approve' ? `Approved: the proposal is ${stateLabel(p.state)}.` : verdict === 'request_changes' ? `Changes requested: the proposal is ${stateLabel(p.state)}.` : 'Comment added.';
    });
  const reviewer = props.mayEdit && !props.author;
  return (
    <form class="panel" aria-label="Review" onSubmit={(e) => e.preventDefault()}>
      <h3>Review</h3>
      <label class="block">
        Review message
        <textarea rows={3} maxLength={2000} value={message} onInput={(e) => setMessage(e.currentTarget.value)} />
      </label>
      <div class="form-row">
        <button type="button" disabled={action.busy || message.trim() === ''} onClick={() => review('comment')}>
          Comment
        </button>
        {reviewer ? (
          <>
            <button type="button" class="danger" disabled={action.busy} onClick={() => review('request_changes')}>
              Request changes
            </button>
            <button type="button" class="primary" disabled={action.busy} onClick={() => review('approve')}>
              Approve
            </button>
          </>
        ) : null}
      </div>
      {props.author ? <p class="hint">You opened this proposal: an author never approves their own.</p> : !props.mayEdit ? <p class="hint">Approving and requesting changes need a key with the edit role.</p> : null}
      <Result error={action.error} done={action.done} />
    </form>
  );
}

function MergeForm(props: { p: ProposalAnswer; admin: boolean; onChanged: () => void }) {
  const p = props.p;
  const [overriding, setOverriding] = useState(false);
  const [reason, setReason] = useState('');
  const action = useAction();
  const step = p.rollout.done + 1;
  const staged = p.rollout.steps > 1;
  const weight = p.request.steps?.[step - 1];
  const label = staged ? `Merge step ${step} of ${p.rollout.steps}` : 'Merge';
  const merge = (override: string | null) =>
    action.run(async () => {
      const r = await api<MergeAnswer>(proposalApi(p.name, p.id, 'merge'), { method: 'POST', body: override === null ? {} : { override: { reason: override } } });
      setReason('');
      setOverriding(false);
      props.onChanged();
      const to = r.move.to.split ? r.move.to.split.arms.map((a) => `v${a.version} ${formatNumber(a.weight)} %`).join(', ') : `v${r.move.to.version}`;
      return `Merged${staged ? ` step ${r.proposal.rollout.done} of ${r.proposal.rollout.steps}` : ''}: ${p.request.alias} points to ${to} (move #${r.move.seq}).`;
    });
  return (
    <section class="panel" aria-labelledby="merge-title">
      <h3 id="merge-title">Merge</h3>
      <p class="hint">
        {staged ? `Step ${step} points ${p.request.alias} ${weight !== undefined && weight < 100 ? `${formatNumber(weight)} % to v${p.candidate.version}` : `to v${p.candidate.version}`}` : `Points ${p.request.alias} to v${p.candidate.version}`}, when the policy holds.
      </p>
      <div class="form-row">
        <button type="button" class="primary" disabled={action.busy} onClick={() => merge(null)}>
          {label}
        </button>
        {props.admin ? (
          <label class="check">
            <input type="checkbox" checked={overriding} onChange={(e) => setOverriding(e.currentTarget.checked)} /> Override the policy (admin)
          </label>
        ) : null}
      </div>
      {props.admin && overriding ? (
        <form
          aria-label="Override the policy"
          onSubmit={(e) => {
            e.preventDefault();
            merge(reason);
          }}
        >
          <div class="form-row">
            <label class="grow">
              Reason for the override
              <input type="text" required maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            </label>
            <button type="submit" class="danger" disabled={action.busy || reason.trim() === ''}>
              {label} with override
            </button>
          </div>
          <p class="hint">Recorded as an override on the move, on the proposal and in the audit log.</p>
        </form>
      ) : null}
      <Result error={action.error} done={action.done} />
    </section>
  );
}

function CloseForm(props: { p: Proposal; onChanged: () => void }) {
  const [reason, setReason] = useState('');
  const action = useAction();
  return (
    <details class="panel">
      <summary>Close without merging</summary>
      <form
        aria-label="Close the proposal"
        onSubmit={(e) => {
          e.preventDefault();
          action.run(async () => {
            await api<Proposal>(proposalApi(props.p.name, props.p.id, 'close'), { method: 'POST', body: { reason } });
            props.onChanged();
            return 'Closed.';
          });
        }}
      >
        <div class="form-row">
          <label class="grow">
            Reason for closing
            <input type="text" maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button type="submit" class="danger" disabled={action.busy}>
            Close proposal
          </button>
        </div>
        <Result error={action.error} done={action.done} />
      </form>
    </details>
  );
}
