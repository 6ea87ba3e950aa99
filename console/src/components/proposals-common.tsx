import { seg, withQuery, type Query } from '../api.ts';
import { formatNumber } from './prompts-common.tsx';
import type { Proposal, ProposalEventKind, ProposalState } from '../types.ts';

// Pieces the proposal views share: their paths, a proposal's state, the alias move it asks for.

export const PROPOSAL_STATES: ProposalState[] = ['open', 'changes_requested', 'approved', 'merged', 'closed'];

const STATE_LABELS: Record<ProposalState, string> = {
  open: 'open',
  changes_requested: 'changes requested',
  approved: 'approved',
  merged: 'merged',
  closed: 'closed',
};

const STATE_CLASSES: Record<ProposalState, string> = {
  open: '',
  changes_requested: 'warn',
  approved: 'ok',
  merged: 'ok',
  closed: 'error',
};

export const EVENT_LABELS: Record<ProposalEventKind, string> = {
  opened: 'opened',
  comment: 'commented',
  approve: 'approved',
  request_changes: 'requested changes',
  merge_step: 'merged a step',
  merged: 'merged',
  closed: 'closed',
};

export function stateParam(value: string | undefined): ProposalState | null {
  return PROPOSAL_STATES.find((s) => s === value) ?? null;
}

export function stateLabel(state: ProposalState): string {
  return STATE_LABELS[state];
}

export function proposalsPath(name: string, query: Query = {}): string {
  return withQuery(`/prompts/${seg(name)}/proposals`, query);
}

export function proposalPath(name: string, id: string): string {
  return `/prompts/${seg(name)}/proposals/${seg(id)}`;
}

/** The API's address of a proposal (or of one of its actions: `reviews`, `merge`, `close`). */
export function proposalApi(name: string, id: string, action?: 'reviews' | 'merge' | 'close'): string {
  return `/v1/prompts/${seg(name)}/proposals/${seg(id)}${action ? `/${action}` : ''}`;
}

export function StateBadge(props: { state: ProposalState }) {
  return <span class={`badge state ${STATE_CLASSES[props.state]}`}>{STATE_LABELS[props.state]}</span>;
}

/** "production → v3", or "production → v3 in steps 10 % → 50 % → 100 %". */
export function requestText(p: Pick<Proposal, 'request' | 'candidate'>): string {
  const move = `${p.request.alias} → v${p.candidate.version}`;
  if (!p.request.steps) return move;
  return `${move} in steps ${p.request.steps.map((s) => `${formatNumber(s)} %`).join(' → ')}`;
}

/** Whether the signed-in key opened the proposal (the API names an author `NAME [key ID]`). */
export function isAuthor(author: string, who: { name: string; keyId: string }): boolean {
  return author === `${who.name} [key ${who.keyId}]` || author.startsWith(`${who.name} [key `) || author.endsWith(`[key ${who.keyId}]`);
}
