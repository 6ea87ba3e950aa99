import { z } from 'zod';
import { NotFoundError } from '../../common/errors.ts';
import { ROLES } from '../../domain/governance.ts';
import { PROPOSAL_ID, PROPOSAL_STATES, REVIEW_KINDS } from '../../domain/proposal.ts';
import { aliasName, LIMITS, promptName, templateInput, text, versionNumber } from '../../registry/names.ts';
import { mergeAnswer, policyAnswer, policyOut, proposalAnswer, proposalListAnswer, proposalOut, proposalViewAnswer, proposalViewOut } from '../controllers/proposals.ts';
import { moveAnswer } from '../controllers/registry.ts';
import { pageQuery } from '../registry-schemas.ts';
import { errorAnswer } from '../schemas.ts';
import { route } from '../route.ts';

// Review and promote: proposals of a prompt (open, review, merge, close) and the policies of
// protected aliases. Reading needs `prompts`; opening and commenting `propose`; approving and
// requesting changes `edit` (checked by the service, with the reason); merging `edit` and the
// alias's policy; policies are set by admins.

const JSON_LIMIT = '2mb';
const err = (description: string) => ({ description, schema: errorAnswer });
const nonBlank = (max: number, what: string) =>
  text()
    .max(max, `${what} is longer than ${max} characters`)
    .refine((s) => s.trim().length > 0, `${what} is empty`);

const byName = z.object({ name: promptName.describe('The prompt name.') });
const byProposal = byName.extend({ id: z.string().regex(PROPOSAL_ID, 'a proposal id is pr_ and 12 hex digits').describe('The proposal id, e.g. pr_0123456789ab.') });
const byAlias = z.object({ alias: aliasName.describe('A protected alias, e.g. production.') });

const openBody = z
  .object({
    template: templateInput.describe('The candidate: a text template, or {messages} for a chat template.'),
    title: nonBlank(200, 'the title'),
    description: text().max(LIMITS.commitMessageChars).default(''),
    baseVersion: versionNumber.optional().describe('The version the candidate changes; by default the one the alias points to.'),
    move: z
      .object({
        alias: aliasName,
        steps: z
          .array(z.number().int().min(1).max(100))
          .min(2, 'a staged split has at least two steps, e.g. [10, 100]')
          .max(10)
          .optional()
          .describe('Staged split: the candidate’s share at each merge step, ending at 100, e.g. [10, 50, 100]. Without it, one merge moves the alias to the candidate.'),
      })
      .strict(),
  })
  .strict();

const reviewBody = z.object({ verdict: z.enum(REVIEW_KINDS), message: text().max(LIMITS.reasonChars).default('') }).strict();
const mergeBody = z.object({ override: z.object({ reason: nonBlank(LIMITS.reasonChars, 'the override reason') }).strict().optional().describe('Admins only: merge although the policy does not hold, recorded as an override.') }).strict();
const closeBody = z.object({ reason: text().max(LIMITS.reasonChars).default('') }).strict();

const policyBody = z
  .object({
    approvals: z.object({ count: z.number().int().min(0).max(20), roles: z.array(z.enum(ROLES)).min(1).default(['edit', 'admin']) }).strict(),
    evaluations: z
      .array(
        z
          .object({
            dataset: nonBlank(512, 'the dataset'),
            scorer: nonBlank(512, 'the scorer'),
            minScore: z.number().nullable().default(null),
            noRegression: z.boolean().default(false),
          })
          .strict()
          .refine((g) => g.minScore !== null || g.noRegression, 'an evaluation gate has a minScore, or noRegression, or both'),
      )
      .max(20)
      .default([]),
    rollout: z.object({ minResponses: z.number().int().min(1).max(100_000_000) }).strict().nullable().default(null),
  })
  .strict();

export const proposalRoutes = [
  route({
    method: 'get',
    path: '/v1/prompts/{name}/proposals',
    access: 'prompts',
    what: 'read proposals',
    tag: 'proposals',
    summary: 'Proposals of a prompt, newest first',
    params: byName,
    query: pageQuery.extend({ state: z.enum(PROPOSAL_STATES).optional() }),
    responses: { '200': { description: 'Proposals', schema: proposalListAnswer } },
    handle: async (ctx, s) => {
      const list = await s.proposals.list(ctx.project, ctx.params.name, ctx.query);
      ctx.res.json({ name: ctx.params.name, proposals: list.map(proposalOut) });
    },
  }),
  route({
    method: 'post',
    path: '/v1/prompts/{name}/proposals',
    access: 'propose',
    what: 'open proposals',
    tag: 'proposals',
    summary: 'Open a proposal: the candidate is registered as a version tagged with the proposal',
    params: byName,
    body: { schema: openBody, limit: JSON_LIMIT },
    responses: { '201': { description: 'Opened', schema: proposalAnswer }, '400': err('Invalid candidate, title or move'), '404': err('Unknown base version') },
    handle: async (ctx, s) => {
      const b = ctx.body;
      const p = await s.proposals.open(ctx.project, ctx.principal, { name: ctx.params.name, template: b.template, title: b.title, description: b.description, baseVersion: b.baseVersion, alias: b.move.alias, steps: b.move.steps });
      ctx.res.status(201).location(`/v1/prompts/${encodeURIComponent(p.name)}/proposals/${p.id}`).json(proposalOut(p));
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/{name}/proposals/{id}',
    access: 'prompts',
    what: 'read proposals',
    tag: 'proposals',
    summary: 'A proposal, its reviews and transitions, and the diff against the version its alias points to now',
    params: byProposal,
    responses: { '200': { description: 'The proposal', schema: proposalViewAnswer }, '404': err('Unknown proposal') },
    handle: async (ctx, s) => {
      ctx.res.json(proposalViewOut(await s.proposals.view(ctx.project, ctx.params.name, ctx.params.id)));
    },
  }),
  route({
    method: 'post',
    path: '/v1/prompts/{name}/proposals/{id}/reviews',
    access: 'propose',
    what: 'review proposals',
    tag: 'proposals',
    summary: 'Comment, request changes or approve (the last two need the edit role; an author never approves their own)',
    params: byProposal,
    body: { schema: reviewBody, limit: JSON_LIMIT },
    responses: { '200': { description: 'The proposal after the review', schema: proposalAnswer }, '403': err('Not a reviewer, or the author approving'), '404': err('Unknown proposal'), '409': err('Merged or closed, or reviewed meanwhile') },
    handle: async (ctx, s) => {
      ctx.res.json(proposalOut(await s.proposals.review(ctx.project, ctx.principal, ctx.params.name, ctx.params.id, ctx.body.verdict, ctx.body.message)));
    },
  }),
  route({
    method: 'post',
    path: '/v1/prompts/{name}/proposals/{id}/merge',
    access: 'edit',
    what: 'merge proposals',
    tag: 'proposals',
    summary: "Move the alias to the candidate (or advance its staged split one step) when the alias's policy holds",
    description: 'Refused with 422 naming what the policy misses, unless an admin overrides with a reason (recorded as an override on the move, the proposal and in the audit log); 409 when the alias moved since the proposal last saw it.',
    params: byProposal,
    body: { schema: mergeBody, limit: JSON_LIMIT },
    responses: {
      '200': { description: 'The merge step, the move it made and the checks', schema: mergeAnswer },
      '403': err('Override without the admin role'),
      '404': err('Unknown proposal'),
      '409': err('The alias moved under it, or the proposal is merged or closed'),
      '422': err('The policy does not hold: what is missing'),
    },
    handle: async (ctx, s) => {
      const r = await s.proposals.merge(ctx.project, ctx.principal, ctx.params.name, ctx.params.id, ctx.body.override?.reason ?? null);
      ctx.res.json({ proposal: proposalOut(r.proposal), move: moveAnswer(r.move), checks: r.checks });
    },
  }),
  route({
    method: 'post',
    path: '/v1/prompts/{name}/proposals/{id}/close',
    access: 'propose',
    what: 'close proposals',
    tag: 'proposals',
    summary: 'Close a proposal without merging (its author, or the edit role)',
    params: byProposal,
    body: { schema: closeBody, limit: JSON_LIMIT },
    responses: { '200': { description: 'Closed', schema: proposalAnswer }, '403': err("Another's proposal without the edit role"), '404': err('Unknown proposal'), '409': err('Merged or closed already') },
    handle: async (ctx, s) => {
      ctx.res.json(proposalOut(await s.proposals.close(ctx.project, ctx.principal, ctx.params.name, ctx.params.id, ctx.body.reason)));
    },
  }),
  route({
    method: 'get',
    path: '/v1/alias-policies',
    access: 'prompts',
    what: 'read alias policies',
    tag: 'proposals',
    summary: 'The policies of protected aliases',
    responses: { '200': { description: 'Policies', schema: z.object({ policies: z.array(policyAnswer) }) } },
    handle: async (ctx, s) => {
      ctx.res.json({ policies: (await s.proposals.listPolicies(ctx.project)).map(policyOut) });
    },
  }),
  route({
    method: 'get',
    path: '/v1/alias-policies/{alias}',
    access: 'prompts',
    what: 'read alias policies',
    tag: 'proposals',
    summary: 'The policy of a protected alias',
    params: byAlias,
    responses: { '200': { description: 'The policy', schema: policyAnswer }, '404': err('No policy') },
    handle: async (ctx, s) => {
      const p = await s.proposals.policyFor(ctx.project, ctx.params.alias);
      if (!p) throw new NotFoundError(`alias ${ctx.params.alias} has no policy`);
      ctx.res.json(policyOut(p));
    },
  }),
  route({
    method: 'put',
    path: '/v1/alias-policies/{alias}',
    access: 'admin',
    what: 'set alias policies',
    tag: 'proposals',
    summary: 'Set the policy a protected alias moves under (audited)',
    params: byAlias,
    body: { schema: policyBody, limit: JSON_LIMIT },
    responses: { '200': { description: 'The policy as stored', schema: policyAnswer }, '400': err('Not a protected alias, or an invalid policy') },
    handle: async (ctx, s) => {
      const change = await s.proposals.setPolicy(ctx.project, ctx.actor, ctx.params.alias, ctx.body);
      ctx.res.json(policyOut(change.after!));
    },
  }),
  route({
    method: 'delete',
    path: '/v1/alias-policies/{alias}',
    access: 'admin',
    what: 'remove alias policies',
    tag: 'proposals',
    summary: 'Remove the policy of a protected alias (audited)',
    params: byAlias,
    responses: { '204': { description: 'Removed' }, '404': err('No policy') },
    handle: async (ctx, s) => {
      await s.proposals.setPolicy(ctx.project, ctx.actor, ctx.params.alias, null);
      ctx.res.status(204).end();
    },
  }),
];
