import type { AliasPolicy, Proposal, ProposalEvent, ProposalState } from '../domain/proposal.ts';
import type { NewProposal } from './proposals.ts';
import { dateOrNull } from './values.ts';

// How both backends store a proposal: its fixed part, each event's body and a policy as JSON
// text; progress as plain values; times as milliseconds.

export interface ProposalRow {
  name: string;
  id: string;
  fixed: string;
  state: string;
  steps_done: number;
  alias_seq: number;
  step_started_at: number | null;
  created_at: number;
  updated_at: number;
  revision: number;
}

export type Fixed = Pick<Proposal, 'title' | 'description' | 'author' | 'baseVersion' | 'candidateVersion' | 'request' | 'fromTarget'>;
export type EventBody = Omit<ProposalEvent, 'seq' | 'at'>;

export function toProposal(r: ProposalRow, events: ProposalEvent[]): Proposal {
  const f = JSON.parse(r.fixed) as Fixed;
  return {
    id: r.id,
    name: r.name,
    ...f,
    createdAt: new Date(r.created_at),
    state: r.state as ProposalState,
    stepsDone: r.steps_done,
    aliasSeq: r.alias_seq,
    stepStartedAt: dateOrNull(r.step_started_at),
    updatedAt: new Date(r.updated_at),
    revision: r.revision,
    events,
  };
}

export const fixedOf = (p: NewProposal): Fixed => ({ title: p.title, description: p.description, author: p.author, baseVersion: p.baseVersion, candidateVersion: p.candidateVersion, request: p.request, fromTarget: p.fromTarget });

/** Policies come back with their times as Dates. */
export const policyFrom = (text: string): AliasPolicy => {
  const p = JSON.parse(text) as AliasPolicy & { updatedAt: number };
  return { ...p, updatedAt: new Date(p.updatedAt) };
};
export const policyText = (p: AliasPolicy) => JSON.stringify({ ...p, updatedAt: p.updatedAt.getTime() });

export function eventFrom(seq: number, at: number, body: string): ProposalEvent {
  const e = JSON.parse(body) as EventBody;
  // The policy in force at a merge is kept in the event, its time as JSON made it.
  if (e.merge?.policy) e.merge.policy = { ...e.merge.policy, updatedAt: new Date(e.merge.policy.updatedAt) };
  return { seq, at: new Date(at), ...e };
}

