import { z } from 'zod';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import { ROLES } from '../../domain/governance.ts';
import { generateKey, hashKey } from '../../governance/keys.ts';
import { errorAnswer } from '../schemas.ts';
import { route } from '../route.ts';

// API keys (shown once, stored hashed) and the hash-chained audit log.

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 time, e.g. 2026-12-31T00:00:00Z' });
const err = (description: string) => ({ description, schema: errorAnswer });

export const createKeyBody = z
  .object({
    role: z.enum(ROLES),
    project: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a project is 1 to 64 letters, digits, ".", "_" or "-"').optional(),
    name: z.string().trim().min(1).max(100).optional(),
    promote: z.boolean().default(false).describe('May move protected aliases (with role edit).'),
    expiresAt: isoTime.optional(),
  })
  .strict();

const keyAnswer = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  promote: z.boolean(),
  project: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

const auditEntryAnswer = z.object({
  seq: z.number().int(),
  at: z.string(),
  project: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  prevHash: z.string(),
  hash: z.string(),
});

const verifyAnswer = z.object({
  ok: z.boolean(),
  entries: z.number().int(),
  problem: z.object({ seq: z.number().int().nullable(), reason: z.string() }).nullable(),
  head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
});

const auditQuery = z
  .object({
    actor: z.string().max(300).optional(),
    action: z.string().max(100).optional(),
    target: z.string().max(600).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    before: z.coerce.number().int().min(1).optional().describe('next of the previous page: entries before this seq.'),
  })
  .strict();

const keyView = (k: { id: string; name: string; role: (typeof ROLES)[number]; promote: boolean; project: string; createdAt: Date; createdBy: string; expiresAt: Date | null; revokedAt: Date | null }) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  promote: k.promote,
  project: k.project,
  createdAt: k.createdAt.toISOString(),
  createdBy: k.createdBy,
  expiresAt: k.expiresAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

export const governanceRoutes = [
  route({
    method: 'post',
    path: '/v1/keys',
    access: 'admin',
    what: 'manage API keys',
    tag: 'governance',
    summary: 'Create an API key (the key is in this answer only)',
    body: { schema: createKeyBody, limit: '16kb' },
    responses: { '201': { description: 'The key record and, once, the key', schema: keyAnswer.extend({ key: z.string() }) }, '400': err('Invalid body') },
    handle: async (ctx, s) => {
      const body = ctx.body;
      if (body.expiresAt && Date.parse(body.expiresAt) <= Date.now()) throw new BadRequestError('expiresAt is in the past');
      const { id, key } = generateKey();
      const record = {
        id,
        name: body.name ?? `${body.role} key`,
        role: body.role,
        promote: body.promote,
        project: body.project ?? ctx.project,
        secretHash: await hashKey(key),
        createdAt: new Date(),
        createdBy: ctx.actor,
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
        revokedAt: null,
        revokedBy: null,
      };
      await s.keys.createKey(record);
      await s.audit.record({ project: record.project, actor: ctx.actor, action: 'key.create', target: `key:${id}`, before: null, after: keyView(record) });
      ctx.res.status(201).json({ ...keyView(record), key });
    },
  }),
  route({
    method: 'get',
    path: '/v1/keys',
    access: 'admin',
    what: 'manage API keys',
    tag: 'governance',
    summary: "The keys of the caller's project (never their secrets)",
    responses: { '200': { description: 'Keys', schema: z.object({ keys: z.array(keyAnswer) }) } },
    handle: async (ctx, s) => {
      ctx.res.json({ keys: (await s.keys.listKeys(ctx.project)).map(keyView) });
    },
  }),
  route({
    method: 'delete',
    path: '/v1/keys/{id}',
    access: 'admin',
    what: 'manage API keys',
    tag: 'governance',
    summary: 'Revoke a key, at once',
    params: z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a key id is 16 hex characters').describe('The key id.') }),
    responses: { '204': { description: 'Revoked (or already revoked)' }, '404': err("No such key in the caller's project") },
    handle: async (ctx, s) => {
      const id = ctx.params.id;
      const key = await s.keys.getKey(id);
      if (!key || key.project !== ctx.project) throw new NotFoundError(`no key ${id} in project ${ctx.project}`);
      const at = new Date();
      if (await s.keys.revokeKey(id, at, ctx.actor)) {
        s.auth?.forget(id);
        await s.audit.record({ project: key.project, actor: ctx.actor, action: 'key.revoke', target: `key:${id}`, before: keyView(key), after: keyView({ ...key, revokedAt: at }) });
      }
      ctx.res.status(204).end();
    },
  }),
  route({
    method: 'get',
    path: '/v1/audit',
    access: 'admin',
    what: 'read the audit log',
    tag: 'governance',
    summary: "The audit log of the caller's project, newest first",
    query: auditQuery,
    responses: { '200': { description: 'Entries, and the seq to page on from', schema: z.object({ entries: z.array(auditEntryAnswer), next: z.number().int().nullable() }) } },
    handle: async (ctx, s) => {
      const q = ctx.query;
      const entries = await s.audit.list({
        project: ctx.project,
        actor: q.actor,
        action: q.action,
        target: q.target,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
        limit: q.limit,
        beforeSeq: q.before,
      });
      ctx.res.json({ entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })), next: entries.length === q.limit ? entries.at(-1)!.seq : null });
    },
  }),
  route({
    method: 'get',
    path: '/v1/audit/verify',
    access: 'admin',
    what: 'read the audit log',
    tag: 'governance',
    summary: 'Check the hash chain of the audit log against its anchor',
    responses: { '200': { description: 'Whether the chain is intact, and its head', schema: verifyAnswer } },
    handle: async (ctx, s) => {
      ctx.res.json(await s.audit.verify());
    },
  }),
];
