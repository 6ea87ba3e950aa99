import { Router } from 'express';
import { z } from 'zod';
import { ROLES } from '../../domain/governance.ts';
import { NotFoundError } from '../../common/errors.ts';
import type { Authenticator } from '../../governance/access.ts';
import type { AuditService } from '../../governance/audit.ts';
import { generateKey, hashKey } from '../../governance/keys.ts';
import type { KeyStore } from '../../storage/governance.ts';
import { principalOf } from '../auth.ts';
import { parseInput } from '../validate.ts';

const isoTime = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 time, e.g. 2026-12-31T00:00:00Z' });

export const createKeyBody = z
  .object({
    role: z.enum(ROLES),
    project: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a project is 1 to 64 letters, digits, ".", "_" or "-"').optional(),
    name: z.string().trim().min(1).max(100).optional(),
    promote: z.boolean().default(false).describe('May move protected aliases (with role edit).'),
    expiresAt: isoTime.optional(),
  })
  .strict();

const keyView = (k: { id: string; name: string; role: string; promote: boolean; project: string; createdAt: Date; createdBy: string; expiresAt: Date | null; revokedAt: Date | null }) => ({
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

export function createGovernanceRouter(deps: { keys: KeyStore; audit: AuditService; auth: Authenticator | null }): Router {
  const router = Router();

  router.post('/v1/keys', async (req, res) => {
    const caller = principalOf(res);
    const body = parseInput(createKeyBody, req.body);
    if (body.expiresAt && Date.parse(body.expiresAt) <= Date.now()) throw new (await import('../../common/errors.ts')).BadRequestError('expiresAt is in the past');
    const { id, key } = generateKey();
    const record = {
      id,
      name: body.name ?? `${body.role} key`,
      role: body.role,
      promote: body.promote,
      project: body.project ?? caller.project,
      secretHash: await hashKey(key),
      createdAt: new Date(),
      createdBy: caller.actor,
      expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
      revokedAt: null,
      revokedBy: null,
    };
    await deps.keys.createKey(record);
    await deps.audit.record({ project: record.project, actor: caller.actor, action: 'key.create', target: `key:${id}`, before: null, after: keyView(record) });
    // The only time the key is shown.
    res.status(201).json({ ...keyView(record), key });
  });

  router.get('/v1/keys', async (_req, res) => {
    const caller = principalOf(res);
    res.json({ keys: (await deps.keys.listKeys(caller.project)).map(keyView) });
  });

  router.delete('/v1/keys/:id', async (req, res) => {
    const caller = principalOf(res);
    const id = parseInput(z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a key id is 16 hex characters') }).loose(), req.params).id;
    const key = await deps.keys.getKey(id);
    if (!key || key.project !== caller.project) throw new NotFoundError(`no key ${id} in project ${caller.project}`);
    const at = new Date();
    if (await deps.keys.revokeKey(id, at, caller.actor)) {
      deps.auth?.forget(id);
      await deps.audit.record({ project: key.project, actor: caller.actor, action: 'key.revoke', target: `key:${id}`, before: keyView(key), after: keyView({ ...key, revokedAt: at }) });
    }
    res.status(204).end();
  });

  router.get('/v1/audit', async (req, res) => {
    const caller = principalOf(res);
    const q = parseInput(
      z
        .object({
          actor: z.string().max(300).optional(),
          action: z.string().max(100).optional(),
          target: z.string().max(600).optional(),
          since: isoTime.optional(),
          until: isoTime.optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before: z.coerce.number().int().min(1).optional(),
        })
        .strict(),
      req.query,
    );
    const entries = await deps.audit.list({
      project: caller.project,
      actor: q.actor,
      action: q.action,
      target: q.target,
      since: q.since ? new Date(q.since) : undefined,
      until: q.until ? new Date(q.until) : undefined,
      limit: q.limit,
      beforeSeq: q.before,
    });
    res.json({ entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })), next: entries.length === q.limit ? entries.at(-1)!.seq : null });
  });

  router.get('/v1/audit/verify', async (_req, res) => {
    res.json(await deps.audit.verify());
  });

  return router;
}
