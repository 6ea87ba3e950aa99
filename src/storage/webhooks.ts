import type { DeliveryOutcome, DueDelivery, Webhook, WebhookDelivery } from '../domain/webhooks.ts';
import type { AuditDraft } from './governance.ts';
import type { StoreLifecycle } from './lifecycle.ts';

// Webhooks and their deliveries, beside the keys and the audit log (SQLite: registry.sqlite; Neo4j:
// the same database): a webhook's creation or deletion and its audit entry commit together. The
// deliveries are the outbox: a delivery is stored before any attempt, each attempt's outcome is
// stored after it, so what is pending survives a restart.

export interface WebhookStore extends StoreLifecycle {
  /** With `audit`, its entries (made from the webhook as stored) commit with it. */
  createWebhook(webhook: Webhook, audit?: AuditDraft<Webhook>): Promise<void>;
  getWebhook(id: string): Promise<Webhook | null>;
  /** The project's webhooks, oldest first. */
  listWebhooks(project: string): Promise<Webhook[]>;
  /** Removes the webhook and its deliveries; false when there was none. With `audit`, its entries commit with it. */
  deleteWebhook(id: string, audit?: AuditDraft<Webhook>): Promise<boolean>;
  /** Stores new deliveries (pending, due at their nextAttemptAt), all or none. */
  addDeliveries(deliveries: readonly WebhookDelivery[]): Promise<void>;
  /**
   * Pending deliveries due at `now`, oldest due first, at most `limit`; each is leased until
   * `leaseUntil` (not due again before then), so that an attempt cut off by a crash is made again.
   */
  claimDueDeliveries(now: Date, leaseUntil: Date, limit: number): Promise<DueDelivery[]>;
  /** Stores what an attempt left; nothing when the delivery is gone (its webhook was deleted). */
  recordAttempt(id: string, outcome: DeliveryOutcome): Promise<void>;
  /** When the next pending delivery is due, or null when none is pending. */
  nextDeliveryDue(): Promise<Date | null>;
  /** The webhook's deliveries, newest first. */
  listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]>;
}
