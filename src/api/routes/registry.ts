import { z } from 'zod';
import { MethodNotAllowedError, NotFoundError } from '../../common/errors.ts';
import { require as requirePermission } from '../../governance/access.ts';
import { aliasName, moveAliasBody, promptName, registerVersionBody, text, versionNumber } from '../../registry/names.ts';
import { aliasStateAnswer, moveAnswer, resolveAnswerFor, variablesFrom, versionAnswer } from '../controllers/registry.ts';
import * as r from '../registry-schemas.ts';
import { errorAnswer } from '../schemas.ts';
import { route, type RouteContext } from '../route.ts';
import type { ApiServices } from '../services.ts';

// The prompt registry: immutable numbered versions, and aliases with their whole history.

const isoTime = z.iso.datetime({ offset: true, error: 'at must be an ISO-8601 time, e.g. 2026-11-25T14:02:00Z' });
const versionOrLatest = z.union([z.literal('latest'), versionNumber]).describe('A version number, or latest.');
const splitKey = z.string().min(1).max(512);
const JSON_LIMIT = '2mb';

const byName = z.object({ name: promptName.describe('The prompt name.') });
const byVersion = byName.extend({ version: versionOrLatest });
const byAlias = byName.extend({ alias: aliasName.describe('The alias, e.g. production.') });
const err = (description: string) => ({ description, schema: errorAnswer });

/** Protected aliases (production, by default) move only for admin keys or keys with the promote right. */
function mayMove(ctx: RouteContext<unknown, unknown, unknown>, services: ApiServices, name: string, alias: string): void {
  if (services.protectedAliasSet.has(alias)) requirePermission(ctx.principal, 'promote', `move the protected alias ${alias} of ${name}`);
}

const immutable = (method: 'put' | 'patch' | 'delete') =>
  route({
    method,
    path: '/v1/prompts/{name}/versions/{version}',
    access: 'edit',
    what: 'change prompt versions',
    tag: 'registry',
    summary: 'Refused: versions are immutable',
    params: byVersion,
    responses: { '405': err('Versions are immutable') },
    handle: () => {
      throw new MethodNotAllowedError('prompt versions are immutable: register a new version instead');
    },
  });

export const registryRoutes = [
  route({
    method: 'get',
    path: '/v1/prompts',
    access: 'prompts',
    what: 'read prompts',
    tag: 'registry',
    summary: 'List registered prompts',
    query: r.pageQuery,
    responses: { '200': { description: 'Prompts', schema: r.promptListAnswer } },
    handle: async (ctx, s) => {
      const prompts = await s.registryService.listPrompts(ctx.project, ctx.query);
      ctx.res.json({ prompts: prompts.map((p) => ({ ...p, updatedAt: p.updatedAt.toISOString() })) });
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/resolve',
    access: 'prompts',
    what: 'read prompts',
    tag: 'registry',
    summary: 'Resolve a prompt URI (prompts:/name/3, prompts:/name@production, prompts:/name@latest)',
    query: z.object({
      uri: z.string().min(1).describe('The prompt URI.'),
      key: splitKey.optional().describe('A user or session id: picks the arm of an alias that splits traffic.'),
      at: isoTime.optional().describe('Resolve the alias as it was at this ISO-8601 time.'),
    }),
    responses: { '200': { description: 'The version', schema: r.resolveAnswer }, '400': err('A malformed URI, or a split alias without a key'), '404': err('Unknown prompt, version or alias') },
    handle: async (ctx, s) => {
      const q = ctx.query;
      ctx.res.json(await resolveAnswerFor(s.registryService, ctx.project, q.uri, { key: q.key, at: q.at ? new Date(q.at) : undefined }));
    },
  }),
  route({
    method: 'post',
    path: '/v1/prompts/{name}/versions',
    access: 'edit',
    what: 'register prompt versions',
    tag: 'registry',
    summary: 'Register a new version (its number is assigned: 1, 2, 3 …)',
    params: byName,
    body: { schema: registerVersionBody, limit: JSON_LIMIT },
    responses: { '201': { description: 'Registered', schema: r.promptVersionAnswer }, '400': err('Invalid name, empty or oversize template, no commit message, an origin naming unregistered versions'), '404': err('Unknown base version') },
    handle: async (ctx, s) => {
      const name = ctx.params.name;
      const v = await s.registryService.register(ctx.project, ctx.actor, { name, ...ctx.body });
      ctx.res.status(201).location(`/v1/prompts/${encodeURIComponent(name)}/versions/${v.version}`).json(versionAnswer(v));
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/{name}/versions',
    access: 'prompts',
    what: 'read prompts',
    tag: 'registry',
    summary: 'List versions, newest first',
    params: byName,
    query: r.pageQuery,
    responses: { '200': { description: 'Versions', schema: r.versionListAnswer }, '404': err('Unknown prompt') },
    handle: async (ctx, s) => {
      const name = ctx.params.name;
      const { versions, total } = await s.registryService.listVersions(ctx.project, name, ctx.query);
      if (total === 0) throw new NotFoundError(`prompt ${name} has no versions`);
      ctx.res.json({ name, total, versions: versions.map(versionAnswer) });
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/{name}/versions/{version}',
    access: 'prompts',
    what: 'read prompts',
    tag: 'registry',
    summary: 'One version',
    params: byVersion,
    responses: { '200': { description: 'The version', schema: r.promptVersionAnswer }, '404': err('Unknown prompt or version') },
    handle: async (ctx, s) => {
      ctx.res.json(versionAnswer(await s.registryService.getVersion(ctx.project, ctx.params.name, ctx.params.version)));
    },
  }),
  immutable('put'),
  immutable('patch'),
  immutable('delete'),
  route({
    method: 'post',
    path: '/v1/prompts/{name}/versions/{version}/render',
    access: 'prompts',
    what: 'render prompts',
    tag: 'registry',
    summary: 'Render a version with {{variables}}',
    params: byVersion,
    // Checked by variablesFrom into a Map, so that variable names such as "__proto__" stay data.
    body: { schema: z.unknown(), limit: JSON_LIMIT },
    bodyDoc: { type: 'object', properties: { variables: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } } } },
    responses: { '200': { description: 'Rendered', schema: r.renderAnswer }, '400': err('A variable the template uses is missing'), '404': err('Unknown prompt or version'), '422': err('The rendering would be longer than 4 MiB characters') },
    handle: async (ctx, s) => {
      const { version: v, rendered } = await s.registryService.render(ctx.project, ctx.params.name, ctx.params.version, variablesFrom(ctx.body));
      ctx.res.json({ name: ctx.params.name, version: v.version, templateHash: v.templateHash, rendered });
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/{name}/diff',
    access: 'prompts',
    what: 'read prompts',
    tag: 'registry',
    summary: 'Difference between two versions (unified diff; per message for chat templates)',
    params: byName,
    query: z.object({ from: versionNumber.describe('Version number'), to: versionNumber.describe('Version number') }),
    responses: {
      '200': { description: 'The diff', schema: r.diffAnswer },
      '404': err('Unknown prompt or version'),
      '422': err('The versions differ too much to diff (more than 1,000 lines added or removed, or more than 250 ms of work)'),
    },
    handle: async (ctx, s) => {
      ctx.res.json(await s.registryService.diff(ctx.project, ctx.params.name, ctx.query.from, ctx.query.to));
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/{name}/aliases',
    access: 'prompts',
    what: 'read prompts',
    tag: 'registry',
    summary: 'Aliases and where they point',
    params: byName,
    responses: { '200': { description: 'Aliases', schema: r.aliasListAnswer } },
    handle: async (ctx, s) => {
      const aliases = await s.registryService.listAliases(ctx.project, ctx.params.name);
      ctx.res.json({ name: ctx.params.name, aliases: aliases.map((a) => ({ name: a.name, alias: a.alias, target: a.target, since: moveAnswer(a.since) })) });
    },
  }),
  route({
    method: 'put',
    path: '/v1/prompts/{name}/aliases/{alias}',
    access: 'edit',
    what: 'move aliases',
    tag: 'registry',
    summary: 'Set or move an alias to a version, or to a weighted split over versions',
    description: 'Protected aliases (PROMPTLINE_PROTECTED_ALIASES, default production) also need the admin role or the promote right.',
    params: byAlias,
    body: { schema: moveAliasBody, limit: JSON_LIMIT },
    responses: {
      '200': { description: 'The move, as recorded', schema: r.aliasMoveAnswer },
      '400': err('Invalid alias, weights or body'),
      '404': err('Unknown prompt or version'),
      '409': err('The alias moved meanwhile (expectSeq)'),
    },
    handle: async (ctx, s) => {
      const { name, alias } = ctx.params;
      mayMove(ctx, s, name, alias);
      // A protected alias with a policy moves through proposals (src/registry/proposals.ts), or by an admin's override.
      const { override, ...move } = ctx.body;
      const overridden = await s.proposals.checkDirectMove(ctx.project, ctx.principal, name, alias, override);
      const governance = overridden ? { proposal: null, step: null, steps: null, override: override! } : undefined;
      ctx.res.json(moveAnswer(await s.registryService.moveAlias(ctx.project, ctx.actor, { name, alias, ...move, governance })));
    },
  }),
  route({
    method: 'post',
    path: '/v1/prompts/{name}/aliases/{alias}/rollback',
    access: 'edit',
    what: 'roll aliases back',
    tag: 'registry',
    summary: 'Move the alias back to where it pointed before its last move (recorded as a move)',
    params: byAlias,
    body: { schema: z.object({ reason: text().trim().min(1, 'the reason is empty').max(2000) }).strict(), limit: JSON_LIMIT },
    responses: { '200': { description: 'The move', schema: r.aliasMoveAnswer }, '404': err('Unknown alias'), '409': err('Nothing to roll back to') },
    handle: async (ctx, s) => {
      const { name, alias } = ctx.params;
      mayMove(ctx, s, name, alias);
      ctx.res.json(moveAnswer(await s.registryService.rollback(ctx.project, ctx.actor, name, alias, ctx.body.reason)));
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/{name}/aliases/{alias}',
    access: 'prompts',
    what: 'read prompts',
    tag: 'registry',
    summary: 'Where an alias points, now or at a time; the version a key gets from a split',
    params: byName.extend({ alias: z.union([z.literal('latest'), aliasName]).describe('The alias, or latest.') }),
    query: z.object({
      at: isoTime.optional().describe('An ISO-8601 time: where the alias pointed then.'),
      key: splitKey.optional().describe('A user or session id for a split.'),
    }),
    responses: { '200': { description: 'The alias', schema: r.aliasAnswer }, '404': err('Unknown alias, or the alias did not exist at that time') },
    handle: async (ctx, s) => {
      const q = ctx.query;
      const at = q.at ? new Date(q.at) : new Date();
      ctx.res.json(aliasStateAnswer(await s.registryService.getAlias(ctx.project, ctx.params.name, ctx.params.alias, q.at ? at : undefined), at, q.key));
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/{name}/aliases/{alias}/history',
    access: 'prompts',
    what: 'read prompts',
    tag: 'registry',
    summary: 'Every move of an alias: who, when, from, to, why',
    params: byAlias,
    responses: { '200': { description: 'Moves, oldest first', schema: r.aliasHistoryAnswer }, '404': err('Unknown alias') },
    handle: async (ctx, s) => {
      const { name, alias } = ctx.params;
      ctx.res.json({ name, alias, moves: (await s.registryService.aliasHistory(ctx.project, name, alias)).map(moveAnswer) });
    },
  }),
];
