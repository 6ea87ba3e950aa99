import { z } from 'zod';
import { EVENT_PATTERN, type Webhook, type WebhookDelivery } from '../../domain/webhooks.ts';
import { webhookView } from '../../governance/webhooks.ts';
import { text } from '../../registry/names.ts';
import { errorAnswer } from '../schemas.ts';
import { route } from '../route.ts';

// Project webhooks (src/governance/webhooks.ts): registered by the project's admins, for event
// types or prefixes; the signing secret is in the creation's answer only. The project is the
// caller's (an instance admin names another with X-Promptline-Project).

const err = (description: string) => ({ description, schema: errorAnswer });
const MAX_URL_LENGTH = 2048;

/** http or https, a host, no credentials (they would be stored and shown in every list). */
export const webhookUrl = z
  .string()
  .max(MAX_URL_LENGTH, `a webhook URL is at most ${MAX_URL_LENGTH} characters`)
  .superRefine((value, ctx) => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute http or https URL' });
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `must be an http or https URL, not ${u.protocol}` });
    else if (u.username !== '' || u.password !== '') ctx.addIssue({ code: 'custom', message: 'must not carry credentials (user:password@): authenticate the delivery by its X-Promptline-Signature' });
    else if (u.hostname === '') ctx.addIssue({ code: 'custom', message: 'must name a host' });
  });

const createWebhookBody = z
  .object({
    url: webhookUrl.describe('Where deliveries are posted. Promptline posts to whatever URL is registered here, loopback and private addresses included.'),
    events: z
      .array(z.string().max(100).regex(EVENT_PATTERN, 'an event is a type such as alias.moved, a prefix such as proposal.*, or *'))
      .min(1)
      .max(32)
      .describe('Event types (alias.moved, proposal.merged, alert.opened) or prefixes (proposal.*, alert.*); * for every event.'),
    description: text().trim().max(500).optional(),
  })
  .strict();

const webhookAnswer = z.object({
  id: z.string(),
  project: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
});

const deliveryAnswer = z.object({
  id: z.string().describe('The X-Promptline-Delivery header of its attempts.'),
  eventId: z.string().describe("The body's id: the same in every webhook's delivery of one event."),
  eventType: z.string(),
  subject: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  lastStatusCode: z.number().int().nullable().describe("The receiver's status code at the last attempt; null when it gave none."),
  lastError: z.string().nullable().describe('Why the last attempt failed (a status other than 2xx, a timeout, a refused connection).'),
  nextAttemptAt: z.string().nullable().describe('When it is tried next; null once delivered or failed.'),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
});

const webhookId = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'a webhook id is 16 hex characters').describe('The webhook id.') });

const deliveryView = (d: WebhookDelivery) => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType,
  subject: d.subject,
  status: d.status,
  attempts: d.attempts,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
  createdAt: d.createdAt.toISOString(),
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
});

const caller = (ctx: { actor: string; principal: { project: string } }) => ({ actor: ctx.actor, project: ctx.principal.project });

export const webhookRoutes = [
  route({
    method: 'post',
    path: '/v1/webhooks',
    access: 'admin',
    what: 'manage webhooks',
    tag: 'webhooks',
    summary: 'Register a webhook (its signing secret is in this answer only)',
    description:
      'Deliveries are POSTs of `{ id, type, project, at, subject, data }` with `X-Promptline-Event`, `X-Promptline-Delivery` and ' +
      '`X-Promptline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`; a 2xx delivers, anything else is retried with backoff.',
    body: { schema: createWebhookBody, limit: '16kb' },
    responses: {
      '201': { description: 'The webhook and, once, its signing secret', schema: webhookAnswer.extend({ secret: z.string().describe('whsec_…: keep it; it is not shown again.') }) },
      '400': err('Invalid body: a URL that is not http or https, carries credentials or is too long; an event that is no type or prefix'),
    },
    handle: async (ctx, s) => {
      const w: Webhook = await s.webhooks.create(caller(ctx), ctx.project, ctx.body);
      ctx.res.status(201).json({ ...webhookView(w), secret: w.secret });
    },
  }),
  route({
    method: 'get',
    path: '/v1/webhooks',
    access: 'admin',
    what: 'manage webhooks',
    tag: 'webhooks',
    summary: "The project's webhooks (never their secrets)",
    responses: { '200': { description: 'Webhooks, oldest first', schema: z.object({ webhooks: z.array(webhookAnswer) }) } },
    handle: async (ctx, s) => {
      ctx.res.json({ webhooks: (await s.webhooks.list(ctx.project)).map(webhookView) });
    },
  }),
  route({
    method: 'delete',
    path: '/v1/webhooks/{id}',
    access: 'admin',
    what: 'manage webhooks',
    tag: 'webhooks',
    summary: 'Delete a webhook, with its pending deliveries and its delivery log',
    params: webhookId,
    responses: { '204': { description: 'Deleted' }, '404': err("No such webhook in the caller's project") },
    handle: async (ctx, s) => {
      await s.webhooks.delete(caller(ctx), ctx.project, ctx.params.id);
      ctx.res.status(204).end();
    },
  }),
  route({
    method: 'get',
    path: '/v1/webhooks/{id}/deliveries',
    access: 'admin',
    what: 'manage webhooks',
    tag: 'webhooks',
    summary: "A webhook's delivery log, newest first",
    params: webhookId,
    query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict(),
    responses: { '200': { description: 'Deliveries', schema: z.object({ deliveries: z.array(deliveryAnswer) }) }, '404': err("No such webhook in the caller's project") },
    handle: async (ctx, s) => {
      ctx.res.json({ deliveries: (await s.webhooks.deliveries(ctx.project, ctx.params.id, ctx.query.limit)).map(deliveryView) });
    },
  }),
];
