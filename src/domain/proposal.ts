import type { Role } from './governance.ts';
import type { AliasTarget } from './prompt.ts';

// Proposals: a candidate version someone asks to put behind an alias, reviewed before it moves;
// and the policy a protected alias moves under. Types and the pure rules of their states.

export const PROPOSAL_STATES = ['open', 'changes_requested', 'approved', 'merged', 'closed'] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

/** What a proposal asks for: the alias to point at the candidate, at once or through staged splits. */
export type ProposalRequest = { alias: string; steps: null } | { alias: string; steps: number[] };

export const PROPOSAL_EVENTS = ['opened', 'comment', 'approve', 'request_changes', 'merge_step', 'merged', 'closed'] as const;
export type ProposalEventKind = (typeof PROPOSAL_EVENTS)[number];
export const REVIEW_KINDS = ['comment', 'approve', 'request_changes'] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

/** Who did something, as a proposal records it: the actor string, the key, and the role it had then. */
export interface ProposalActor {
  actor: string;
  keyId: string;
  /** The key's name: a person with two keys is still one author. */
  keyName: string;
  role: Role;
}

export interface ProposalEvent extends ProposalActor {
  /** 1 for `opened`, then 2, 3 … */
  seq: number;
  at: Date;
  kind: ProposalEventKind;
  message: string;
  from: ProposalState | null;
  to: ProposalState;
  /** For merge steps: the step, the move, the policy in force and the gate results, any override. */
  merge: MergeRecord | null;
}

export interface MergeRecord {
  /** 1-based; equals `steps` for the last (or only) one. */
  step: number;
  steps: number;
  /** The alias move this step made. */
  moveSeq: number;
  target: AliasTarget;
  policy: AliasPolicy | null;
  checks: GateResult[];
  /** An admin's reason for merging although the policy did not hold; null when it held. */
  override: string | null;
}

export interface Proposal {
  id: string;
  name: string;
  title: string;
  description: string;
  author: ProposalActor;
  /** The version the candidate changes (the alias's version when opened, unless named). */
  baseVersion: number | null;
  candidateVersion: number;
  request: ProposalRequest;
  /** Where the alias pointed when the proposal was opened: what a staged split keeps the rest of the traffic on. */
  fromTarget: AliasTarget | null;
  createdAt: Date;
  state: ProposalState;
  /** Merge steps done (0 until the first). */
  stepsDone: number;
  /** The alias move the next merge step expects to find (optimistic concurrency): the alias must not move under it. */
  aliasSeq: number;
  /** When the current split step began: responses are counted from here. */
  stepStartedAt: Date | null;
  updatedAt: Date;
  /** The seq of the last event: a change names it, and is refused when another came first. */
  revision: number;
  events: ProposalEvent[];
}

/** An evaluation a policy requires of the candidate: a minimum mean score, or no significant regression. */
export interface EvaluationGate {
  dataset: string;
  scorer: string;
  /** The candidate's mean must be at least this. */
  minScore: number | null;
  /** The candidate must not be significantly worse than the version the alias points to (95 %). */
  noRegression: boolean;
}

export interface AliasPolicy {
  alias: string;
  approvals: { count: number; roles: Role[] };
  evaluations: EvaluationGate[];
  /** A staged split must run for this many responses of the candidate (per step) before the next. */
  rollout: { minResponses: number } | null;
  updatedAt: Date;
  updatedBy: string;
  /** 1 for the first setting, then 2, 3 … */
  revision: number;
}

export interface GateResult {
  gate: string;
  ok: boolean;
  detail: string;
}

/** The version a proposal's candidate is tagged with: the mark that it was proposed. */
export const proposalTag = (id: string) => `proposal:${id}`;

export const PROPOSAL_ID = /^pr_[0-9a-f]{12}$/;

/** The state after a review, from the reviews so far: the latest verdict of each reviewer counts. */
export function stateAfterReview(p: Pick<Proposal, 'state' | 'events'>, kind: ReviewKind, reviewer: string): ProposalState {
  if (kind === 'comment') return p.state;
  const verdicts = latestVerdicts(p.events);
  verdicts.set(reviewer, kind);
  if ([...verdicts.values()].includes('request_changes')) return 'changes_requested';
  return [...verdicts.values()].includes('approve') ? 'approved' : p.state;
}

/** Each reviewer's latest approve or request_changes (by key name). */
export function latestVerdicts(events: readonly ProposalEvent[]): Map<string, 'approve' | 'request_changes'> {
  const out = new Map<string, 'approve' | 'request_changes'>();
  for (const e of events) if (e.kind === 'approve' || e.kind === 'request_changes') out.set(e.keyName, e.kind);
  return out;
}

/** The approvals standing now: reviewers whose latest verdict approves, with the role each had. */
export function standingApprovals(events: readonly ProposalEvent[]): ProposalEvent[] {
  const verdicts = latestVerdicts(events);
  const seen = new Set<string>();
  const out: ProposalEvent[] = [];
  for (const e of [...events].reverse()) {
    if (e.kind !== 'approve' || seen.has(e.keyName) || verdicts.get(e.keyName) !== 'approve') continue;
    seen.add(e.keyName);
    out.push(e);
  }
  return out.reverse();
}

/**
 * Where merge step `step` (1-based) points the alias: a split giving the candidate the step's share
 * and the rest to the version the alias was on, or the candidate alone at 100 % (and for a direct move).
 */
export function stepTarget(p: Pick<Proposal, 'request' | 'candidateVersion' | 'fromTarget'>, step: number): AliasTarget {
  const steps = p.request.steps;
  const weight = steps ? steps[step - 1]! : 100;
  if (weight >= 100) return { version: p.candidateVersion, split: null };
  const rest = p.fromTarget?.version ?? null;
  if (rest === null) throw new Error('a staged split needs the version the alias was on');
  return { version: null, split: { id: '', arms: [{ version: rest, weight: 100 - weight }, { version: p.candidateVersion, weight }] } };
}

export const stepsOf = (p: Pick<Proposal, 'request'>) => p.request.steps?.length ?? 1;
