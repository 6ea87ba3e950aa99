import { z } from 'zod';
import { MAX_SPAN_DAYS } from '../../domain/retention.ts';
import { errorAnswer, retentionKept, traceParams } from '../schemas.ts';
import { route } from '../route.ts';

// What is kept how long, and deletion requests. Both act on the caller's project (for an instance
// admin, the one X-Promptline-Project names); the registry, aliases, proposals, keys, the audit log
// and the lineage graph never expire.

const err = (description: string) => ({ description, schema: errorAnswer });

const retentionAnswer = z.object({
  project: z.string(),
  spanDays: z.number().int().nullable().describe("Days a span (and every row made from it) is kept after its start time; null: unlimited."),
  changedAt: z.string().nullable().describe('When it was last set; null: never (unlimited).'),
  changedBy: z.string().nullable(),
  kept: retentionKept.describe('What is kept how long, in words.'),
});

const retentionBody = z
  .object({
    spanDays: z
      .number()
      .int('spanDays is a whole number of days')
      .min(1, 'spanDays is at least 1')
      .max(MAX_SPAN_DAYS, `spanDays is at most ${MAX_SPAN_DAYS}; send null for unlimited`)
      .nullable()
      .describe("Days to keep the project's spans; null: unlimited (the default)."),
  })
  .strict();

const deletionAnswer = z.object({
  traceIds: z.array(z.string()).describe('The traces removed.'),
  rowsDeleted: z.number().int().describe('Rows removed, over every table of span rows.'),
  tables: z.record(z.string(), z.number().int()).describe('Rows removed by table.'),
});

const conversationParams = z.object({ conversationId: z.string().min(1).max(1024).describe('The conversation id the spans carried (gen_ai.conversation.id, session.id).') });

const DELETION_NOTE =
  'Waits (a bounded time) for the writer to store spans still in the spool, then removes the rows from every span table and records one audit entry with the ids and row counts, never span content. Spans of the trace that arrive later are stored again.';

export const retentionRoutes = [
  route({
    method: 'get',
    path: '/v1/retention',
    access: 'read',
    what: 'read the retention',
    tag: 'retention',
    summary: "How long the project's spans are kept",
    responses: { '200': { description: 'The retention', schema: retentionAnswer } },
    handle: async (ctx, s) => {
      ctx.res.json(await s.retention.get(ctx.project));
    },
  }),
  route({
    method: 'put',
    path: '/v1/retention',
    access: 'admin',
    what: 'set the retention',
    tag: 'retention',
    summary: "Set how long the project's spans are kept (audited)",
    description: 'Applied to the span tables at once (older rows are deleted in the background, at merges) and again at every start.',
    body: { schema: retentionBody, limit: '1kb' },
    responses: { '200': { description: 'The retention now', schema: retentionAnswer }, '400': err('Invalid body') },
    handle: async (ctx, s) => {
      ctx.res.json(await s.retention.set(ctx.project, ctx.body.spanDays, ctx.actor));
    },
  }),
  route({
    method: 'delete',
    path: '/v1/traces/{traceId}',
    access: 'admin',
    what: 'delete traces',
    tag: 'retention',
    summary: 'Delete a trace (a privacy request)',
    description: DELETION_NOTE,
    params: traceParams,
    responses: { '200': { description: 'Deleted', schema: deletionAnswer }, '400': err('Malformed trace id'), '404': err('No row of the trace in the project') },
    handle: async (ctx, s) => {
      ctx.res.json(await s.deletion.deleteTrace(ctx.project, ctx.params.traceId, ctx.actor));
    },
  }),
  route({
    method: 'delete',
    path: '/v1/conversations/{conversationId}',
    access: 'admin',
    what: 'delete conversations',
    tag: 'retention',
    summary: 'Delete every trace of a conversation (a privacy request)',
    description: DELETION_NOTE,
    params: conversationParams,
    responses: { '200': { description: 'Deleted', schema: deletionAnswer }, '404': err('No trace of the conversation in the project') },
    handle: async (ctx, s) => {
      ctx.res.json(await s.deletion.deleteConversation(ctx.project, ctx.params.conversationId, ctx.actor));
    },
  }),
];
