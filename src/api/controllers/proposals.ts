import { z } from 'zod';
import { ROLES } from '../../domain/governance.ts';
import { PROPOSAL_EVENTS, PROPOSAL_STATES, standingApprovals, stepsOf, type AliasPolicy, type Proposal, type ProposalEvent } from '../../domain/proposal.ts';
import type { ProposalView } from '../../registry/proposals.ts';
import { formatPromptUri } from '../../registry/uri.ts';
import { aliasMoveAnswer, diffAnswer } from '../registry-schemas.ts';

// Proposal and policy answers as the API gives them (dates as ISO strings), and their schemas.

const target = z.object({ version: z.number().int().nullable(), split: z.object({ id: z.string(), arms: z.array(z.object({ version: z.number().int(), weight: z.number() })) }).nullable() });
const gateResult = z.object({ gate: z.string(), ok: z.boolean(), detail: z.string() });

export const policyAnswer = z.object({
  alias: z.string(),
  approvals: z.object({ count: z.number().int(), roles: z.array(z.enum(ROLES)) }),
  evaluations: z.array(z.object({ dataset: z.string(), scorer: z.string(), minScore: z.number().nullable(), noRegression: z.boolean() })),
  rollout: z.object({ minResponses: z.number().int() }).nullable(),
  updatedAt: z.string(),
  updatedBy: z.string(),
  revision: z.number().int(),
});

const eventAnswer = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string(),
  role: z.enum(ROLES),
  kind: z.enum(PROPOSAL_EVENTS),
  message: z.string(),
  from: z.enum(PROPOSAL_STATES).nullable(),
  to: z.enum(PROPOSAL_STATES),
  merge: z
    .object({ step: z.number().int(), steps: z.number().int(), moveSeq: z.number().int(), target, policy: policyAnswer.nullable(), checks: z.array(gateResult), override: z.string().nullable() })
    .nullable()
    .describe('For a merge step: the move it made, the policy in force, the checks and any override.'),
});

export const proposalAnswer = z.object({
  id: z.string(),
  name: z.string(),
  title: z.string(),
  description: z.string(),
  author: z.string(),
  state: z.enum(PROPOSAL_STATES),
  baseVersion: z.number().int().nullable(),
  candidate: z.object({ version: z.number().int(), uri: z.string() }),
  request: z.object({ alias: z.string(), steps: z.array(z.number()).nullable() }),
  fromTarget: target.nullable().describe('Where the alias pointed when the proposal was opened.'),
  rollout: z.object({ steps: z.number().int(), done: z.number().int(), stepStartedAt: z.string().nullable() }),
  approvals: z.array(z.object({ actor: z.string(), role: z.enum(ROLES), at: z.string() })).describe('The approvals standing: each reviewer whose latest verdict approves.'),
  createdAt: z.string(),
  updatedAt: z.string(),
  revision: z.number().int(),
  events: z.array(eventAnswer).describe('Every transition and review, oldest first: who, when, from which state to which.'),
});

export const proposalViewAnswer = proposalAnswer.extend({
  current: target.nullable().describe('Where the alias points now.'),
  diff: diffAnswer.nullable().describe('The candidate against the version the alias points to now (for a split: the version that is not the candidate).'),
  diffError: z.string().nullable(),
  policy: policyAnswer.nullable().describe('The policy of the alias, when it is protected and has one.'),
  nextStep: z
    .object({
      step: z.number().int(),
      steps: z.number().int(),
      checks: z.array(gateResult).describe('What a merge of this step would check, evaluated now: approvals, evaluation gates with their scores, the rollout minimum'),
      aliasMoved: z.boolean().describe('The alias moved since the proposal last saw it: a merge would be refused 409'),
    })
    .nullable()
    .describe('The next merge step, null once merged or closed.'),
});

export const proposalListAnswer = z.object({ name: z.string(), proposals: z.array(proposalAnswer) });
export const mergeAnswer = z.object({ proposal: proposalAnswer, move: aliasMoveAnswer, checks: z.array(gateResult) });

export function policyOut(p: AliasPolicy) {
  return { ...p, updatedAt: p.updatedAt.toISOString() };
}

function eventOut(e: ProposalEvent) {
  return {
    seq: e.seq,
    at: e.at.toISOString(),
    actor: e.actor,
    role: e.role,
    kind: e.kind,
    message: e.message,
    from: e.from,
    to: e.to,
    merge: e.merge ? { ...e.merge, policy: e.merge.policy ? policyOut(e.merge.policy) : null } : null,
  };
}

export function proposalOut(p: Proposal) {
  return {
    id: p.id,
    name: p.name,
    title: p.title,
    description: p.description,
    author: p.author.actor,
    state: p.state,
    baseVersion: p.baseVersion,
    candidate: { version: p.candidateVersion, uri: formatPromptUri({ name: p.name, version: p.candidateVersion }) },
    request: p.request,
    fromTarget: p.fromTarget,
    rollout: { steps: stepsOf(p), done: p.stepsDone, stepStartedAt: p.stepStartedAt?.toISOString() ?? null },
    approvals: standingApprovals(p.events).map((a) => ({ actor: a.actor, role: a.role, at: a.at.toISOString() })),
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    revision: p.revision,
    events: p.events.map(eventOut),
  };
}

export function proposalViewOut(v: ProposalView) {
  return { ...proposalOut(v.proposal), current: v.current, diff: v.diff, diffError: v.diffError, policy: v.policy ? policyOut(v.policy) : null, nextStep: v.nextStep };
}
