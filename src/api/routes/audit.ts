import type { Response } from 'express';
import { z } from 'zod';
import type { AuditEntry } from '../../domain/governance.ts';
import { administeredProject, ForbiddenError, isInstanceAdmin } from '../../governance/access.ts';
import { parseHead } from '../../governance/audit-anchor.ts';
import { EXPORT_MEDIA_TYPE, exportLine } from '../../governance/audit-export.ts';
import type { VerifyResult } from '../../governance/audit.ts';
import { projectName } from '../schemas.ts';
import { route } from '../route.ts';

// The hash-chained audit log. The chain runs through every project (seq, prevHash, hash), so only
// an instance admin is answered with it; a project's admin sees the project's own log, numbered
// 1, 2, 3 … within the project (projectSeq) with no gaps, and whether the whole chain verifies.

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 time, e.g. 2026-12-31T00:00:00Z' });

const auditEntryAnswer = z.object({
  seq: z.number().int().optional().describe('The place in the chain of the whole installation: to an instance admin only.'),
  projectSeq: z.number().int().nullable().describe('1, 2, 3 … within the project.'),
  at: z.string(),
  project: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  prevHash: z.string().optional().describe('To an instance admin only.'),
  hash: z.string().optional().describe('To an instance admin only.'),
});

const problem = z.object({ seq: z.number().int().nullable(), reason: z.string() });
const verifyAnswer = z.object({
  scope: z.enum(['instance', 'project']).describe("instance: the whole chain, to an instance admin; project: the caller's project's share of it, and whether the whole verifies"),
  ok: z.boolean(),
  entries: z.number().int(),
  problem: problem.nullable(),
  problems: z.array(problem),
  head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
  anchor: z.enum(['signed', 'unsigned', 'missing', 'none']),
  notes: z.array(z.string()),
  registry: z.object({ versions: z.number().int(), moves: z.number().int() }).nullable(),
});

const auditQuery = z
  .object({
    project: projectName.optional().describe("Whose log; another project than the caller's only for an instance admin."),
    actor: z.string().max(300).optional(),
    action: z.string().max(100).optional(),
    target: z.string().max(600).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    before: z.coerce.number().int().min(1).optional().describe('next of the previous page: entries before this projectSeq.'),
  })
  .strict();

const verifyQuery = z
  .object({ head: z.string().max(100).optional().describe('SEQ:HASH, a head kept from an earlier verify: the chain must still hold it (instance admin).') })
  .strict();

const entryView = (e: AuditEntry, chain: boolean) => {
  const { seq, prevHash, hash, ...rest } = e;
  return { ...rest, at: e.at.toISOString(), ...(chain ? { seq, prevHash, hash } : {}) };
};

/** A project admin learns whether the chain is whole, and how many entries are the project's; where it broke is for an instance admin. */
function projectView(r: VerifyResult, project: string) {
  return {
    scope: 'project' as const,
    ok: r.ok,
    entries: r.byProject.get(project) ?? 0,
    problem: r.ok ? null : { seq: null, reason: 'the audit log does not verify: an instance admin can see where (promptline audit verify)' },
    problems: [],
    head: null,
    anchor: r.anchor,
    notes: [],
    registry: null,
  };
}

/** Writes a line, waiting while the client is slow to read; false once the client is gone. */
async function writeLine(res: Response, line: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(`${line}\n`)) return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

export const auditRoutes = [
  route({
    method: 'get',
    path: '/v1/audit',
    access: 'admin',
    what: 'read the audit log',
    tag: 'governance',
    summary: "The audit log of the caller's project (of `project`, for an instance admin), newest first",
    query: auditQuery,
    responses: { '200': { description: 'Entries, and the projectSeq to page on from', schema: z.object({ entries: z.array(auditEntryAnswer), next: z.number().int().nullable() }) } },
    handle: async (ctx, s) => {
      const q = ctx.query;
      const project = administeredProject(ctx.principal, q.project ?? ctx.project, 'read the audit log');
      const entries = await s.audit.list({
        project,
        actor: q.actor,
        action: q.action,
        target: q.target,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
        limit: q.limit,
        beforeProjectSeq: q.before,
      });
      const chain = isInstanceAdmin(ctx.principal);
      ctx.res.json({ entries: entries.map((e) => entryView(e, chain)), next: entries.length === q.limit ? (entries.at(-1)!.projectSeq ?? null) : null });
    },
  }),
  route({
    method: 'get',
    path: '/v1/audit/verify',
    access: 'admin',
    what: 'read the audit log',
    tag: 'governance',
    summary: 'Check the hash chain of the audit log, its anchor, a head kept by the caller, and the registry against it',
    description: "An instance admin is answered with the whole chain; a project's admin with whether it verifies.",
    query: verifyQuery,
    responses: { '200': { description: 'Whether the chain is intact, and its head', schema: verifyAnswer }, '400': { description: 'A head that is not SEQ:HASH' } },
    handle: async (ctx, s) => {
      const instance = isInstanceAdmin(ctx.principal);
      if (ctx.query.head !== undefined && !instance) throw new ForbiddenError('this key may not check a head of the audit chain: the chain runs through every project, so that is for an instance admin key');
      const kept = ctx.query.head === undefined ? undefined : parseHead(ctx.query.head);
      const r = await s.audit.verify({ kept });
      const { byProject: _byProject, ...whole } = r;
      ctx.res.json(instance ? { scope: 'instance', ...whole } : projectView(r, ctx.project));
    },
  }),
  route({
    method: 'get',
    path: '/v1/audit/export',
    access: 'admin',
    what: 'read the audit log',
    tag: 'governance',
    summary: 'The audit log as JSON lines, oldest first: the whole chain for an instance admin, to verify offline',
    description:
      'Each line is one entry with every field its hash covers (seq, at, project, actor, action, target, before, after, prevHash, hash) and projectSeq. ' +
      "`promptline audit verify --file` checks it against a head you kept. A project's admin gets the project's entries, without the chain's fields.",
    responses: {
      '200': { description: 'One entry a line', content: { [EXPORT_MEDIA_TYPE]: { schema: { type: 'string' } } } },
    },
    handle: async (ctx, s) => {
      const instance = isInstanceAdmin(ctx.principal);
      const entries = s.audit.entries();
      // The first page is read before the answer starts, so that a store that is down answers as an error.
      let next = await entries.next();
      ctx.res.status(200).type(EXPORT_MEDIA_TYPE).setHeader('promptline-audit-scope', instance ? 'instance' : 'project');
      try {
        for (; !next.done; next = await entries.next()) {
          const e = next.value;
          if (!instance && e.project !== ctx.project) continue;
          if (!(await writeLine(ctx.res, instance ? exportLine(e) : JSON.stringify(entryView(e, false))))) return;
        }
        ctx.res.end();
      } catch (err) {
        // Part of the log is sent: cut the answer off, so that it cannot be taken for the whole.
        s.logger.error('audit export failed midway', { error: err as Error });
        ctx.res.destroy(err as Error);
      }
    },
  }),
];
