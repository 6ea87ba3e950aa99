import { systemClock, type Clock } from '../../common/clock.ts';
import type { DeliveryOutcome, DeliveryStatus, DueDelivery, Webhook, WebhookDelivery } from '../../domain/webhooks.ts';
import type { AuditDraft } from '../governance.ts';
import type { WebhookStore } from '../webhooks.ts';
import { appendDrafted, DEFAULT_CHAIN } from './neo4j-audit.ts';
import { Neo4jSessions, type Neo4jConnectionOptions } from './neo4j-sessions.ts';
import { Neo4jStore, type Neo4jSchema, type Neo4jStoreOptions } from './neo4j-store.ts';
import { millis, millisOrNull, projection, toDate, toDateOrNull, toInt, toNumber } from './neo4j-values.ts';

// Webhooks and their deliveries on Neo4j, beside the keys and the audit log:
//   (:WebhookRecord {id, project, url, events, description, secret, createdAt, createdBy})
//   (:WebhookDeliveryRecord {id, webhookId, project, eventId, eventType, subject, body, attempts,
//                            status, lastStatusCode, lastError, nextAttemptAt, createdAt, deliveredAt})
// A webhook's creation or deletion handed an AuditDraft appends its entries in its own
// transaction. The secret is a property, as the server signs with it (a shared secret, not a
// password). Several servers on one database share the outbox: a claim leases what it takes.
//
// Values are always parameters; integers go as neo4j.int.

const SCHEMA: Neo4jSchema = {
  what: 'creating webhook constraints',
  statements: [
    'CREATE CONSTRAINT promptline_webhook_identity IF NOT EXISTS FOR (w:WebhookRecord) REQUIRE w.id IS UNIQUE',
    'CREATE INDEX promptline_webhook_by_project IF NOT EXISTS FOR (w:WebhookRecord) ON (w.project, w.createdAt)',
    'CREATE CONSTRAINT promptline_webhook_delivery_identity IF NOT EXISTS FOR (d:WebhookDeliveryRecord) REQUIRE d.id IS UNIQUE',
    'CREATE INDEX promptline_webhook_delivery_due IF NOT EXISTS FOR (d:WebhookDeliveryRecord) ON (d.status, d.nextAttemptAt)',
    'CREATE INDEX promptline_webhook_delivery_by_webhook IF NOT EXISTS FOR (d:WebhookDeliveryRecord) ON (d.webhookId, d.createdAt)',
  ],
  maxRetryMs: 10_000,
};

interface WebhookValue {
  id: string;
  project: string;
  url: string;
  events: string[];
  description: string | null;
  secret: string;
  createdAt: unknown;
  createdBy: string;
}

interface DeliveryValue {
  id: string;
  webhookId: string;
  project: string;
  eventId: string;
  eventType: string;
  subject: string;
  body: string;
  attempts: unknown;
  status: string;
  lastStatusCode: unknown;
  lastError: string | null;
  nextAttemptAt: unknown;
  createdAt: unknown;
  deliveredAt: unknown;
}

const webhookMap = projection(['id', 'project', 'url', 'events', 'description', 'secret', 'createdAt', 'createdBy']);
const deliveryMap = projection(['id', 'webhookId', 'project', 'eventId', 'eventType', 'subject', 'body', 'attempts', 'status', 'lastStatusCode', 'lastError', 'nextAttemptAt', 'createdAt', 'deliveredAt']);

const toWebhook = (r: WebhookValue): Webhook => ({
  id: r.id,
  project: r.project,
  url: r.url,
  events: [...r.events],
  description: r.description ?? null,
  secret: r.secret,
  createdAt: toDate(r.createdAt),
  createdBy: r.createdBy,
});

const toDelivery = (r: DeliveryValue): WebhookDelivery => ({
  id: r.id,
  webhookId: r.webhookId,
  project: r.project,
  eventId: r.eventId,
  eventType: r.eventType,
  subject: r.subject,
  body: r.body,
  attempts: toNumber(r.attempts),
  status: r.status as DeliveryStatus,
  lastStatusCode: r.lastStatusCode === null || r.lastStatusCode === undefined ? null : toNumber(r.lastStatusCode),
  lastError: r.lastError ?? null,
  nextAttemptAt: toDateOrNull(r.nextAttemptAt),
  createdAt: toDate(r.createdAt),
  deliveredAt: toDateOrNull(r.deliveredAt),
});

const outcomeParams = (o: DeliveryOutcome) => ({
  attempts: toInt(o.attempts),
  status: o.status,
  lastStatusCode: o.lastStatusCode === null ? null : toInt(o.lastStatusCode),
  lastError: o.lastError,
  nextAttemptAt: millisOrNull(o.nextAttemptAt),
  deliveredAt: millisOrNull(o.deliveredAt),
});

export interface Neo4jWebhooksOptions extends Neo4jStoreOptions {
  /** Which audit chain (default "promptline"): tests keep theirs apart from the installation's. */
  chain?: string;
  /** Stamps audit entries. */
  clock?: Clock;
}

export class Neo4jWebhooks extends Neo4jStore implements WebhookStore {
  private readonly chain: string;
  private readonly clock: Clock;

  constructor(sessions: Neo4jSessions, opts: Neo4jWebhooksOptions = {}) {
    super(sessions, SCHEMA, opts);
    this.chain = opts.chain ?? DEFAULT_CHAIN;
    this.clock = opts.clock ?? systemClock;
  }

  /** On a driver of its own, closed with the store. */
  static async connect(opts: Neo4jConnectionOptions & Omit<Neo4jWebhooksOptions, 'closesSessions'>): Promise<Neo4jWebhooks> {
    return new Neo4jWebhooks(await Neo4jSessions.connect(opts), { ...opts, closesSessions: true });
  }

  async createWebhook(w: Webhook, audit?: AuditDraft<Webhook>): Promise<void> {
    const entries = await this.db.write('creating a webhook', async (tx) => {
      await tx.run(
        `CREATE (:WebhookRecord {id: $id, project: $project, url: $url, events: $events, description: $description, secret: $secret, createdAt: $createdAt, createdBy: $createdBy})`,
        { id: w.id, project: w.project, url: w.url, events: w.events, description: w.description, secret: w.secret, createdAt: millis(w.createdAt), createdBy: w.createdBy },
      );
      return appendDrafted(tx, this.chain, this.clock, audit, w);
    });
    audit?.committed(entries);
  }

  async getWebhook(id: string): Promise<Webhook | null> {
    return this.db.read('reading a webhook', async (tx) => {
      const r = await tx.run(`MATCH (w:WebhookRecord {id: $id}) RETURN ${webhookMap('w')} AS w`, { id });
      const w = r.records[0]?.get('w') as WebhookValue | undefined;
      return w ? toWebhook(w) : null;
    });
  }

  async listWebhooks(project: string): Promise<Webhook[]> {
    return this.db.read('listing webhooks', async (tx) => {
      const r = await tx.run(`MATCH (w:WebhookRecord {project: $project}) RETURN ${webhookMap('w')} AS w ORDER BY w.createdAt, w.id`, { project });
      return r.records.map((rec) => toWebhook(rec.get('w') as WebhookValue));
    });
  }

  async deleteWebhook(id: string, audit?: AuditDraft<Webhook>): Promise<boolean> {
    const entries = await this.db.write('deleting a webhook', async (tx) => {
      const r = await tx.run(`MATCH (w:WebhookRecord {id: $id}) WITH w, ${webhookMap('w')} AS before DETACH DELETE w RETURN before`, { id });
      const before = r.records[0]?.get('before') as WebhookValue | undefined;
      if (!before) return null;
      await tx.run('MATCH (d:WebhookDeliveryRecord {webhookId: $id}) DETACH DELETE d', { id });
      return appendDrafted(tx, this.chain, this.clock, audit, toWebhook(before));
    });
    if (entries === null) return false;
    audit?.committed(entries);
    return true;
  }

  async addDeliveries(deliveries: readonly WebhookDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const rows = deliveries.map((d) => ({
      id: d.id,
      webhookId: d.webhookId,
      project: d.project,
      eventId: d.eventId,
      eventType: d.eventType,
      subject: d.subject,
      body: d.body,
      createdAt: millis(d.createdAt),
      ...outcomeParams(d),
    }));
    await this.db.write('storing webhook deliveries', async (tx) => {
      // MERGE: a retried transaction stores each delivery once.
      await tx.run(
        `UNWIND $rows AS row
         MERGE (d:WebhookDeliveryRecord {id: row.id})
         ON CREATE SET d.webhookId = row.webhookId, d.project = row.project, d.eventId = row.eventId, d.eventType = row.eventType, d.subject = row.subject,
                       d.body = row.body, d.attempts = row.attempts, d.status = row.status, d.lastStatusCode = row.lastStatusCode, d.lastError = row.lastError,
                       d.nextAttemptAt = row.nextAttemptAt, d.createdAt = row.createdAt, d.deliveredAt = row.deliveredAt`,
        { rows },
      );
    });
  }

  async claimDueDeliveries(now: Date, leaseUntil: Date, limit: number): Promise<DueDelivery[]> {
    return this.db.write('claiming webhook deliveries', async (tx) => {
      const r = await tx.run(
        `MATCH (d:WebhookDeliveryRecord)
         WHERE d.status = 'pending' AND d.nextAttemptAt <= $now
         WITH d ORDER BY d.nextAttemptAt, d.id LIMIT $limit
         MATCH (w:WebhookRecord {id: d.webhookId})
         SET d.nextAttemptAt = $lease
         RETURN ${deliveryMap('d')} AS d, w.url AS url, w.secret AS secret`,
        { now: millis(now), lease: millis(leaseUntil), limit: toInt(limit) },
      );
      return r.records.map((rec) => ({ ...toDelivery(rec.get('d') as DeliveryValue), url: rec.get('url') as string, secret: rec.get('secret') as string }));
    });
  }

  async recordAttempt(id: string, o: DeliveryOutcome): Promise<void> {
    await this.db.write('recording a webhook delivery attempt', async (tx) => {
      await tx.run(
        `MATCH (d:WebhookDeliveryRecord {id: $id})
         SET d.attempts = $attempts, d.status = $status, d.lastStatusCode = $lastStatusCode, d.lastError = $lastError, d.nextAttemptAt = $nextAttemptAt, d.deliveredAt = $deliveredAt`,
        { id, ...outcomeParams(o) },
      );
    });
  }

  async nextDeliveryDue(): Promise<Date | null> {
    return this.db.read('reading webhook deliveries', async (tx) => {
      const r = await tx.run(`MATCH (d:WebhookDeliveryRecord) WHERE d.status = 'pending' AND d.nextAttemptAt IS NOT NULL RETURN min(d.nextAttemptAt) AS at`);
      return toDateOrNull(r.records[0]?.get('at'));
    });
  }

  async listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    return this.db.read('listing webhook deliveries', async (tx) => {
      const r = await tx.run(`MATCH (d:WebhookDeliveryRecord {webhookId: $webhookId}) RETURN ${deliveryMap('d')} AS d ORDER BY d.createdAt DESC, d.id DESC LIMIT $limit`, { webhookId, limit: toInt(limit) });
      return r.records.map((rec) => toDelivery(rec.get('d') as DeliveryValue));
    });
  }
}
