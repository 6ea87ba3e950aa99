import { randomBytes } from 'node:crypto';
import { BadRequestError, ConflictError, NotFoundError, PromptlineError, UnprocessableError } from '../common/errors.ts';
import { systemClock, type Clock } from '../common/clock.ts';
import { NO_EVENTS, type EventPublisher } from '../domain/events.ts';
import type { AliasMove, AliasState, AliasTarget } from '../domain/prompt.ts';
import { proposalTag, stateAfterReview, stepsOf, stepTarget, type AliasPolicy, type GateResult, type MergeRecord, type Proposal, type ProposalActor, type ProposalState, type ReviewKind } from '../domain/proposal.ts';
import { may, require as requirePermission, ForbiddenError, type Principal } from '../governance/access.ts';
import type { AuditService } from '../governance/audit.ts';
import type { NewAliasPolicy, PolicyChange, ProposalStore } from '../storage/proposals.ts';
import type { SpanAnalytics } from '../storage/span-analytics.ts';
import { diffVersions, type VersionDiff } from './diff.ts';
import { checkPolicy } from './proposal-policy.ts';
import type { RegisterInput, RegistryService } from './registry-service.ts';

// Review and promote: a proposal registers its candidate as a normal version (tagged with the
// proposal), collects reviews, and merges by moving its alias (or advancing its staged split one
// step) only when the alias's policy holds, or an admin overrides it with a reason. A merge expects
// the alias where the proposal last saw it: if anything moved it since, the merge is refused (409)
// rather than applied over a target its reviewers never looked at.

export interface OpenInput {
  name: string;
  template: RegisterInput['template'];
  title: string;
  description: string;
  baseVersion?: number | undefined;
  alias: string;
  steps?: number[] | undefined;
}

export interface ProposalView {
  proposal: Proposal;
  /** Where the alias points now, and the candidate against it. */
  current: AliasTarget | null;
  diff: VersionDiff | null;
  diffError: string | null;
  policy: AliasPolicy | null;
  /** What the next merge step would check now (null once merged or closed), and whether the alias moved since the proposal last saw it. */
  nextStep: { step: number; steps: number; checks: GateResult[]; aliasMoved: boolean } | null;
}

export interface MergeResult {
  proposal: Proposal;
  move: AliasMove;
  checks: GateResult[];
}

export interface ProposalServiceDeps {
  store: ProposalStore;
  registry: RegistryService;
  analytics: SpanAnalytics;
  protectedAliases: readonly string[];
  audit?: AuditService | undefined;
  events?: EventPublisher | undefined;
  clock?: Clock | undefined;
}

const proposalTarget = (name: string, id: string) => `prompts:/${name}/proposals/${id}`;
const actorOf = (p: Principal): ProposalActor => ({ actor: p.actor, keyId: p.keyId, keyName: p.name, role: p.role });
const versionOfTarget = (t: AliasTarget | null) => (t === null ? null : t.split ? null : t.version);

export class ProposalService {
  private readonly deps: ProposalServiceDeps;
  private readonly events: EventPublisher;
  private readonly clock: Clock;
  private readonly protectedAliases: ReadonlySet<string>;

  constructor(deps: ProposalServiceDeps) {
    this.deps = deps;
    this.events = deps.events ?? NO_EVENTS;
    this.clock = deps.clock ?? systemClock;
    this.protectedAliases = new Set(deps.protectedAliases);
  }

  async open(projectId: string, who: Principal, input: OpenInput): Promise<Proposal> {
    const current = await this.aliasNow(projectId, input.name, input.alias);
    if (input.steps) validateSteps(input.steps, input.alias, current);
    const id = `pr_${randomBytes(6).toString('hex')}`;
    const baseVersion = input.baseVersion ?? versionOfTarget(current?.target ?? null) ?? undefined;
    // The candidate is a version like any other, marked by the proposal's tag. Should the proposal
    // then fail to store, the version stays (versions are immutable) with a tag naming no proposal.
    const candidate = await this.deps.registry.register(projectId, who.actor, { name: input.name, template: input.template, commitMessage: input.title, tags: [proposalTag(id)], baseVersion });
    const stored = await this.deps.store.createProposal(
      projectId,
      {
        id,
        name: input.name,
        title: input.title.trim(),
        description: input.description,
        author: actorOf(who),
        baseVersion: baseVersion ?? null,
        candidateVersion: candidate.version,
        request: input.steps ? { alias: input.alias, steps: input.steps } : { alias: input.alias, steps: null },
        fromTarget: current?.target ?? null,
        aliasSeq: current?.since.seq ?? 0,
        message: input.description,
      },
      this.deps.audit?.draft((p: Proposal) => ({ project: projectId, actor: who.actor, action: 'proposal.open', target: proposalTarget(p.name, p.id), before: null, after: { title: p.title, candidateVersion: p.candidateVersion, request: p.request, aliasSeq: p.aliasSeq } })),
    );
    this.publish(projectId, 'proposal.opened', stored, { title: stored.title, author: stored.author.actor, candidateVersion: stored.candidateVersion, request: stored.request });
    return stored;
  }

  async get(projectId: string, name: string, id: string): Promise<Proposal> {
    const p = await this.deps.store.getProposal(projectId, name, id);
    if (!p) throw new NotFoundError(`prompt ${name} has no proposal ${id}`);
    return p;
  }

  list(projectId: string, name: string, filter: { state?: ProposalState | undefined; limit: number; offset: number }) {
    return this.deps.store.listProposals(projectId, name, filter);
  }

  proposalsOfVersion(projectId: string, name: string, version: number) {
    return this.deps.store.proposalsOfVersion(projectId, name, version);
  }

  /** The proposal with the diff of its candidate against the alias's version now, and the policy. */
  async view(projectId: string, name: string, id: string): Promise<ProposalView> {
    const proposal = await this.get(projectId, name, id);
    const state = await this.aliasNow(projectId, name, proposal.request.alias);
    const current = state?.target ?? null;
    // A split compares with the version that is not the candidate (the rest of the traffic).
    const against = current?.split ? (current.split.arms.find((a) => a.version !== proposal.candidateVersion)?.version ?? null) : (current?.version ?? proposal.baseVersion);
    let diff: VersionDiff | null = null;
    let diffError: string | null = null;
    if (against !== null) {
      try {
        diff = diffVersions(await this.deps.registry.getVersion(projectId, name, against), await this.deps.registry.getVersion(projectId, name, proposal.candidateVersion));
      } catch (err) {
        if (!(err instanceof PromptlineError) || err.status >= 500) throw err;
        diffError = err.message;
      }
    }
    const policy = await this.policyFor(projectId, proposal.request.alias);
    let nextStep: ProposalView['nextStep'] = null;
    if (proposal.state !== 'merged' && proposal.state !== 'closed') {
      const step = proposal.stepsDone + 1;
      const checks = await checkPolicy(this.deps.analytics, projectId, { proposal, policy, step, currentVersion: versionOfTarget(proposal.fromTarget), now: this.clock.now() });
      nextStep = { step, steps: stepsOf(proposal), checks, aliasMoved: (state?.since.seq ?? 0) !== proposal.aliasSeq };
    }
    return { proposal, current, diff, diffError, policy, nextStep };
  }

  async review(projectId: string, who: Principal, name: string, id: string, kind: ReviewKind, message: string): Promise<Proposal> {
    const p = await this.get(projectId, name, id);
    if (kind !== 'comment') requirePermission(who, 'edit', kind === 'approve' ? 'approve proposals' : 'request changes on proposals');
    if (p.state === 'merged' || p.state === 'closed') throw new ConflictError(`proposal ${id} of ${name} is ${p.state}: it takes no more reviews`);
    if (kind === 'approve' && isAuthor(p, who)) throw new ForbiddenError(`an author never approves their own proposal: ${who.name} opened ${id}`);
    const to = stateAfterReview(p, kind, who.name);
    const stored = await this.deps.store.recordEvent(
      projectId,
      name,
      id,
      { expectRevision: p.revision, event: { ...actorOf(who), kind, message, merge: null }, to: { state: to, stepsDone: p.stepsDone, aliasSeq: p.aliasSeq, stepStartedAt: p.stepStartedAt } },
      this.deps.audit?.draft((s: Proposal) => ({ project: projectId, actor: who.actor, action: 'proposal.review', target: proposalTarget(name, id), before: { state: p.state }, after: { verdict: kind, state: s.state, seq: s.revision } })),
    );
    this.publish(projectId, 'proposal.reviewed', stored, { verdict: kind, reviewer: who.actor, message, state: stored.state });
    return stored;
  }

  async close(projectId: string, who: Principal, name: string, id: string, reason: string): Promise<Proposal> {
    const p = await this.get(projectId, name, id);
    if (!isAuthor(p, who) && !may(who, 'edit')) throw new ForbiddenError(`this key (role ${who.role}) may not close another's proposal: it needs one of the roles edit, admin`);
    if (p.state === 'merged' || p.state === 'closed') throw new ConflictError(`proposal ${id} of ${name} is ${p.state} already`);
    const stored = await this.deps.store.recordEvent(
      projectId,
      name,
      id,
      { expectRevision: p.revision, event: { ...actorOf(who), kind: 'closed', message: reason, merge: null }, to: { state: 'closed', stepsDone: p.stepsDone, aliasSeq: p.aliasSeq, stepStartedAt: p.stepStartedAt } },
      this.deps.audit?.draft(() => ({ project: projectId, actor: who.actor, action: 'proposal.close', target: proposalTarget(name, id), before: { state: p.state }, after: { state: 'closed', reason } })),
    );
    this.publish(projectId, 'proposal.closed', stored, { by: who.actor, reason });
    return stored;
  }

  /**
   * Makes the next merge step: the whole move, or the next split of a staged rollout. Refused
   * (422) naming what the policy misses, unless an admin overrides with a reason; refused (409)
   * when the alias moved since the proposal last saw it.
   */
  async merge(projectId: string, who: Principal, name: string, id: string, override: string | null): Promise<MergeResult> {
    const p = await this.get(projectId, name, id);
    if (p.state === 'merged' || p.state === 'closed') throw new ConflictError(`proposal ${id} of ${name} is ${p.state}: there is nothing to merge`);
    if (override !== null && who.role !== 'admin') throw new ForbiddenError(`this key (role ${who.role}) may not override an alias policy: it needs the admin role`);
    const alias = p.request.alias;
    const policy = await this.policyFor(projectId, alias);
    // A protected alias without a policy moves as it always did: for admins and the promote right.
    if (this.protectedAliases.has(alias) && !policy) requirePermission(who, 'promote', `merge proposals into the protected alias ${alias}`);
    const steps = stepsOf(p);
    const step = p.stepsDone + 1;
    // The alias move is the record of a step and the proposal follows it: a step whose move was
    // stored but whose event was not (the process stopped between the two) is recorded now, not made twice.
    const head = await this.aliasNow(projectId, name, alias);
    const made = head?.since;
    if (made && made.seq === p.aliasSeq + 1 && made.governance?.proposal === id && made.governance.step === step) {
      return { proposal: await this.recordStep(projectId, who, p, made, policy, [], made.governance.override), move: made, checks: [] };
    }
    const checks = await checkPolicy(this.deps.analytics, projectId, { proposal: p, policy, step, currentVersion: versionOfTarget(p.fromTarget), now: this.clock.now() });
    const missing = checks.filter((c) => !c.ok).map((c) => c.detail);
    if (missing.length > 0 && override === null) throw new UnprocessableError(`proposal ${id} cannot merge into ${alias} yet: ${missing.join('; ')}`, 'policy_not_met');
    const target = stepTarget(p, step);
    let move: AliasMove;
    try {
      move = await this.deps.registry.moveAlias(projectId, who.actor, {
        name,
        alias,
        ...(target.split ? { split: target.split.arms } : { version: target.version }),
        reason: `proposal ${id}: ${p.title}${steps > 1 ? ` (step ${step} of ${steps})` : ''}${override !== null ? ` — override: ${override}` : ''}`,
        expectSeq: p.aliasSeq,
        governance: { proposal: id, step, steps, override: missing.length > 0 ? override : null },
      });
    } catch (err) {
      if (err instanceof ConflictError) {
        const now = await this.aliasNow(projectId, name, alias);
        throw new ConflictError(`the alias moved under it: alias ${alias} of ${name} was at move ${p.aliasSeq} when proposal ${id} last saw it and is at move ${now?.since.seq ?? 0} now (${now?.since.actor ?? 'unknown'}: ${now?.since.reason ?? ''}); close it and propose against the new target`);
      }
      throw err;
    }
    return { proposal: await this.recordStep(projectId, who, p, move, policy, checks, missing.length > 0 ? override : null), move, checks };
  }

  private async recordStep(projectId: string, who: Principal, p: Proposal, move: AliasMove, policy: AliasPolicy | null, checks: GateResult[], override: string | null): Promise<Proposal> {
    const { name, id } = p;
    const alias = p.request.alias;
    const steps = stepsOf(p);
    const step = p.stepsDone + 1;
    const merge: MergeRecord = { step, steps, moveSeq: move.seq, target: move.to, policy, checks, override };
    const final = step === steps;
    const stored = await this.deps.store.recordEvent(
      projectId,
      name,
      id,
      {
        expectRevision: p.revision,
        event: { ...actorOf(who), kind: final ? 'merged' : 'merge_step', message: override ?? '', merge },
        to: { state: final ? 'merged' : p.state, stepsDone: step, aliasSeq: move.seq, stepStartedAt: move.at },
      },
      this.deps.audit?.draft(() => ({
        project: projectId,
        actor: who.actor,
        action: merge.override !== null ? 'proposal.merge.override' : 'proposal.merge',
        target: proposalTarget(name, id),
        before: { state: p.state, stepsDone: p.stepsDone },
        after: { step, steps, alias, moveSeq: move.seq, policyRevision: policy?.revision ?? null, checks, override: merge.override },
      })),
    );
    this.publish(projectId, 'proposal.merged', stored, { alias, step, steps, final, moveSeq: move.seq, to: move.to, by: who.actor, override: merge.override });
    return stored;
  }

  /** A protected alias's policy; null for an alias that is not protected or has none. */
  async policyFor(projectId: string, alias: string): Promise<AliasPolicy | null> {
    return this.protectedAliases.has(alias) ? this.deps.store.getPolicy(projectId, alias) : null;
  }

  listPolicies(projectId: string) {
    return this.deps.store.listPolicies(projectId);
  }

  /** Admins only (the route says so); audited in the change's transaction. */
  async setPolicy(projectId: string, actor: string, alias: string, policy: Omit<NewAliasPolicy, 'alias' | 'updatedBy'> | null): Promise<PolicyChange> {
    if (!this.protectedAliases.has(alias)) throw new BadRequestError(`alias ${alias} is not protected (PROMPTLINE_PROTECTED_ALIASES: ${[...this.protectedAliases].join(', ') || 'none'}): only a protected alias has a policy`);
    const change = await this.deps.store.setPolicy(
      projectId,
      alias,
      policy === null ? null : { ...policy, alias, updatedBy: actor },
      this.deps.audit?.draft((c: PolicyChange) => ({ project: projectId, actor, action: c.after ? 'policy.set' : 'policy.remove', target: `alias-policy:${alias}`, before: policyFacts(c.before), after: policyFacts(c.after) })),
    );
    if (!change) throw new NotFoundError(`alias ${alias} has no policy`);
    return change;
  }

  /**
   * A direct move (PUT …/aliases/{alias}) of a protected alias with a policy goes through a proposal,
   * unless an admin overrides with a reason. Rollbacks are not asked here: they stay instant.
   * True when the move goes ahead by an override (to be recorded as one).
   */
  async checkDirectMove(projectId: string, who: Principal, name: string, alias: string, override: string | undefined): Promise<boolean> {
    const policy = await this.policyFor(projectId, alias);
    if (!policy) return false;
    if (override !== undefined && who.role === 'admin') return true;
    if (override !== undefined) throw new ForbiddenError(`this key (role ${who.role}) may not override the policy of alias ${alias}: it needs the admin role`);
    throw new ForbiddenError(`alias ${alias} is protected by a policy: move it through a proposal (POST /v1/prompts/${name}/proposals, then …/merge), or, as an admin, give an override reason`);
  }

  private async aliasNow(projectId: string, name: string, alias: string): Promise<AliasState | null> {
    try {
      return await this.deps.registry.getAlias(projectId, name, alias);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
  }

  private publish(projectId: string, type: string, p: Proposal, data: Record<string, unknown>): void {
    this.events.publish({ type, project: projectId, at: p.updatedAt, subject: `prompt:${p.name}/proposal:${p.id}`, data: { prompt: p.name, proposal: p.id, state: p.state, ...data } });
  }
}

function isAuthor(p: Proposal, who: Principal): boolean {
  return p.author.keyId === who.keyId || p.author.keyName === who.name;
}

function validateSteps(steps: number[], alias: string, current: AliasState | null): void {
  if (steps.at(-1) !== 100) throw new BadRequestError('the steps of a staged split end at 100 (the full move)');
  for (let i = 1; i < steps.length; i++) if (steps[i]! <= steps[i - 1]!) throw new BadRequestError('the steps of a staged split grow: e.g. 10, 50, 100');
  if (!current || current.target.split) throw new BadRequestError(`a staged split needs alias ${alias} to point to one version now (the rest of the traffic stays on it)`);
}

function policyFacts(p: AliasPolicy | null) {
  return p === null ? null : { approvals: p.approvals, evaluations: p.evaluations, rollout: p.rollout, revision: p.revision };
}
