import { z } from 'zod';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import { ROLES, type ApiKey, type NewAuditEntry, type StoredApiKey } from '../../domain/governance.ts';
import { administeredProject, ForbiddenError, isInstanceAdmin, type Principal } from '../../governance/access.ts';
import { generateKey, hashKey } from '../../governance/keys.ts';
import { text } from '../../registry/names.ts';
import { errorAnswer, projectName } from '../schemas.ts';
import { route } from '../route.ts';
import type { ApiServices } from '../services.ts';

// API keys (shown once, stored hashed). The audit log's routes are in audit.ts.
//
// An admin key administers the keys of its own project. An instance admin key (the bootstrap key,
// and admin keys an instance admin creates with instanceAdmin) administers the keys of every
// project: `project` in the body or the query names which, and a key is revoked by its id wherever
// it is. A key's creation and revocation are audited in its project's log, and in the actor's
// project's log too when that is another.

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 time, e.g. 2026-12-31T00:00:00Z' });
const err = (description: string) => ({ description, schema: errorAnswer });

export const createKeyBody = z
  .object({
    role: z.enum(ROLES).describe('app: what an agent app needs (send spans, load prompts and aliases); ingest: send spans; metrics: read GET /metrics only (a Prometheus scraper); proposer: read prompts, open and comment on proposals; read, edit, admin.'),
    project: projectName.optional().describe("The key's project; another than the caller's only for an instance admin. Default: the caller's."),
    name: text().trim().min(1).max(100).optional(),
    promote: z.boolean().default(false).describe('May move protected aliases (with role edit).'),
    instanceAdmin: z.boolean().default(false).describe('With role admin: administers the keys and audit log of every project. Only an instance admin may create one.'),
    expiresAt: isoTime.optional(),
  })
  .strict();

const listKeysQuery = z
  .object({ project: projectName.optional().describe("Whose keys; another project than the caller's only for an instance admin.") })
  .strict();

const keyAnswer = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  promote: z.boolean(),
  project: z.string(),
  instanceAdmin: z.boolean(),
  createdAt: z.string(),
  createdBy: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});




const keyView = (k: Omit<ApiKey, 'revokedBy'>) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  promote: k.promote,
  project: k.project,
  instanceAdmin: k.instanceAdmin,
  createdAt: k.createdAt.toISOString(),
  createdBy: k.createdBy,
  expiresAt: k.expiresAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

/**
 * The audit entries of a change to a key, written with it in one transaction: in its project's log,
 * and in the caller's when that is another project.
 */
function keyAudit(s: ApiServices, caller: Principal, entry: (stored: StoredApiKey) => Omit<NewAuditEntry, 'actor'>) {
  return s.audit.draft((stored: StoredApiKey) => {
    const e = { ...entry(stored), actor: caller.actor };
    return caller.project === e.project ? [e] : [e, { ...e, project: caller.project }];
  });
}

export const governanceRoutes = [
  route({
    method: 'post',
    path: '/v1/keys',
    access: 'admin',
    what: 'manage API keys',
    tag: 'governance',
    summary: 'Create an API key (the key is in this answer only)',
    description: "In the caller's project; in another (`project`) only with an instance admin key.",
    body: { schema: createKeyBody, limit: '16kb' },
    responses: {
      '201': { description: 'The key record and, once, the key', schema: keyAnswer.extend({ key: z.string() }) },
      '400': err('Invalid body'),
      '403': err('Another project, or an instance admin key, asked for without an instance admin key'),
    },
    handle: async (ctx, s) => {
      const body = ctx.body;
      const now = s.clock.now();
      const project = administeredProject(ctx.principal, body.project ?? ctx.project, 'create keys');
      if (body.instanceAdmin && !isInstanceAdmin(ctx.principal)) throw new ForbiddenError('this key may not create an instance admin key: only an instance admin key may');
      if (body.instanceAdmin && body.role !== 'admin') throw new BadRequestError('instanceAdmin is for role admin only');
      if (body.expiresAt && Date.parse(body.expiresAt) <= now.getTime()) throw new BadRequestError('expiresAt is in the past');
      const { id, key } = generateKey();
      const record = {
        id,
        name: body.name ?? `${body.role} key`,
        role: body.role,
        promote: body.promote,
        project,
        instanceAdmin: body.instanceAdmin,
        secretHash: await hashKey(key),
        createdAt: now,
        createdBy: ctx.actor,
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
        revokedAt: null,
        revokedBy: null,
      };
      await s.keys.createKey(record, keyAudit(s, ctx.principal, (stored) => ({ project, action: 'key.create', target: `key:${id}`, before: null, after: keyView(stored) })));
      ctx.res.status(201).json({ ...keyView(record), key });
    },
  }),
  route({
    method: 'get',
    path: '/v1/keys',
    access: 'admin',
    what: 'manage API keys',
    tag: 'governance',
    summary: "The keys of the caller's project, or of `project` for an instance admin (never their secrets)",
    query: listKeysQuery,
    responses: { '200': { description: 'Keys', schema: z.object({ keys: z.array(keyAnswer) }) }, '403': err("Another project's keys, asked for without an instance admin key") },
    handle: async (ctx, s) => {
      const project = administeredProject(ctx.principal, ctx.query.project ?? ctx.project, 'list keys');
      ctx.res.json({ keys: (await s.keys.listKeys(project)).map(keyView) });
    },
  }),
  route({
    method: 'delete',
    path: '/v1/keys/{id}',
    access: 'admin',
    what: 'manage API keys',
    tag: 'governance',
    summary: 'Revoke a key, at once',
    description: "A key of the caller's project; a key of any project with an instance admin key. An instance admin key is revoked only by an instance admin key.",
    params: z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a key id is 16 hex characters').describe('The key id.') }),
    responses: {
      '204': { description: 'Revoked (or already revoked)' },
      '403': err('An instance admin key, and the caller is not one'),
      '404': err("No such key in the caller's project (in any project, for an instance admin)"),
    },
    handle: async (ctx, s) => {
      const id = ctx.params.id;
      const key = await s.keys.getKey(id);
      const instance = isInstanceAdmin(ctx.principal);
      // Another project's key is, to a project admin, a key that does not exist.
      if (!key || (key.project !== ctx.project && !instance)) throw new NotFoundError(instance ? `no key ${id}` : `no key ${id} in project ${ctx.project}`);
      if (key.instanceAdmin && !instance) throw new ForbiddenError(`this key may not revoke key ${id}: it is an instance admin key, which only an instance admin key may revoke`);
      const at = s.clock.now();
      const revoked = await s.keys.revokeKey(id, at, ctx.actor, keyAudit(s, ctx.principal, (stored) => ({ project: key.project, action: 'key.revoke', target: `key:${id}`, before: keyView(key), after: keyView(stored) })));
      if (revoked) s.auth?.forget(id);
      ctx.res.status(204).end();
    },
  }),
];
