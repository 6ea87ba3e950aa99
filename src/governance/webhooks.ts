import { randomBytes } from 'node:crypto';
import type { Clock } from '../common/clock.ts';
import { NotFoundError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { DomainEvent, EventPublisher } from '../domain/events.ts';
import type { NewAuditEntry } from '../domain/governance.ts';
import { webhookTakes, type Webhook, type WebhookDelivery } from '../domain/webhooks.ts';
import type { WebhookStore } from '../storage/webhooks.ts';
import type { AuditService } from './audit.ts';
import { WebhookDispatcher } from './webhook-dispatcher.ts';

// Project webhooks: the one way Promptline tells others what happened (proposal events, alias
// moves, monitor alerts). Admins register a URL for some event types; publish() writes a delivery
// for each webhook that takes the event into the outbox and returns, and the dispatcher
// (webhook-dispatcher.ts) posts them, signed, retried with backoff, from the outbox, so that what
// is pending survives a restart. A webhook's creation and deletion are audited, never with its
// secret. Promptline posts to whatever URL an admin registers, loopback and private addresses too.

export interface WebhooksDeps {
  store: WebhookStore;
  audit: AuditService;
  clock: Clock;
  logger: Logger;
  /** PROMPTLINE_WEBHOOK_RETRY_BASE_MS */
  retryBaseMs: number;
  /** PROMPTLINE_WEBHOOK_TIMEOUT_MS */
  timeoutMs: number;
  fetch?: typeof fetch;
}

export interface NewWebhook {
  url: string;
  events: string[];
  description?: string | undefined;
}

/** Who makes a change: entries go to the webhook's project's log, and to the caller's own when that is another (an instance admin). */
export interface WebhookCaller {
  actor: string;
  project: string;
}

/** What the API and the audit log show of a webhook: all but its secret. */
export const webhookView = (w: Webhook) => ({ id: w.id, project: w.project, url: w.url, events: w.events, description: w.description, createdAt: w.createdAt.toISOString(), createdBy: w.createdBy });

export class Webhooks implements EventPublisher {
  private readonly deps: WebhooksDeps;
  private readonly dispatcher: WebhookDispatcher;
  /** Events being written to the outbox: stop() lets them finish before the store closes. */
  private readonly queueing = new Set<Promise<void>>();
  private stopped = false;

  constructor(deps: WebhooksDeps) {
    this.deps = deps;
    this.dispatcher = new WebhookDispatcher({ store: deps.store, clock: deps.clock, logger: deps.logger, retryBaseMs: deps.retryBaseMs, timeoutMs: deps.timeoutMs, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  }

  /** Starts delivering, what is pending from before a restart first. */
  start(): void {
    this.dispatcher.start();
  }

  /** Lets events being queued reach the outbox, then stops the deliveries; those cut off stay pending for the next start. */
  async stop(): Promise<{ interrupted: number }> {
    this.stopped = true;
    await Promise.allSettled([...this.queueing]);
    return this.dispatcher.stop();
  }

  publish(event: DomainEvent): void {
    try {
      const queued: Promise<void> = this.queue(event)
        .catch((err: unknown) => this.deps.logger.error('webhooks: an event was not queued for delivery', { error: err as Error, type: event.type, project: event.project, subject: event.subject }))
        .finally(() => this.queueing.delete(queued));
      this.queueing.add(queued);
    } catch (err) {
      this.deps.logger.error('webhooks: an event was not queued for delivery', { error: err as Error, type: event.type });
    }
  }

  async create(caller: WebhookCaller, project: string, input: NewWebhook): Promise<Webhook> {
    const webhook: Webhook = {
      id: randomBytes(8).toString('hex'),
      project,
      url: input.url,
      events: [...new Set(input.events)],
      description: input.description ?? null,
      secret: `whsec_${randomBytes(32).toString('base64url')}`,
      createdAt: this.deps.clock.now(),
      createdBy: caller.actor,
    };
    await this.deps.store.createWebhook(webhook, this.draft(caller, (w) => ({ project, action: 'webhook.create', target: `webhook:${w.id}`, before: null, after: webhookView(w) })));
    return webhook;
  }

  list(project: string): Promise<Webhook[]> {
    return this.deps.store.listWebhooks(project);
  }

  async delete(caller: WebhookCaller, project: string, id: string): Promise<void> {
    await this.find(project, id);
    const deleted = await this.deps.store.deleteWebhook(id, this.draft(caller, (w) => ({ project, action: 'webhook.delete', target: `webhook:${w.id}`, before: webhookView(w), after: null })));
    if (!deleted) throw new NotFoundError(`no webhook ${id} in project ${project}`);
  }

  async deliveries(project: string, id: string, limit: number): Promise<WebhookDelivery[]> {
    await this.find(project, id);
    return this.deps.store.listDeliveries(id, limit);
  }

  private async find(project: string, id: string): Promise<Webhook> {
    const w = await this.deps.store.getWebhook(id);
    // Another project's webhook is, to this caller, one that does not exist.
    if (!w || w.project !== project) throw new NotFoundError(`no webhook ${id} in project ${project}`);
    return w;
  }

  private draft(caller: WebhookCaller, entry: (w: Webhook) => Omit<NewAuditEntry, 'actor'>) {
    return this.deps.audit.draft((w: Webhook) => {
      const e = { ...entry(w), actor: caller.actor };
      return caller.project === e.project ? [e] : [e, { ...e, project: caller.project }];
    });
  }

  private async queue(event: DomainEvent): Promise<void> {
    if (this.stopped) {
      this.deps.logger.warn('webhooks: an event published during shutdown was not queued', { type: event.type, project: event.project, subject: event.subject });
      return;
    }
    const webhooks = (await this.deps.store.listWebhooks(event.project)).filter((w) => webhookTakes(w.events, event.type));
    if (webhooks.length === 0) return;
    const eventId = randomBytes(8).toString('hex');
    const body = JSON.stringify({ id: eventId, type: event.type, project: event.project, at: event.at.toISOString(), subject: event.subject, data: event.data });
    const now = this.deps.clock.now();
    await this.deps.store.addDeliveries(
      webhooks.map((w) => ({
        id: randomBytes(8).toString('hex'),
        webhookId: w.id,
        project: event.project,
        eventId,
        eventType: event.type,
        subject: event.subject,
        body,
        attempts: 0,
        status: 'pending',
        lastStatusCode: null,
        lastError: null,
        nextAttemptAt: now,
        createdAt: now,
        deliveredAt: null,
      })),
    );
    this.dispatcher.wake();
  }
}
