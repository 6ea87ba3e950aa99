import { systemClock, type Clock } from '../../common/clock.ts';
import type { DeliveryOutcome, DeliveryStatus, DueDelivery, Webhook, WebhookDelivery } from '../../domain/webhooks.ts';
import type { AuditDraft } from '../governance.ts';
import { dateOrNull } from '../values.ts';
import type { WebhookStore } from '../webhooks.ts';
import { appendDrafted } from './sqlite-audit.ts';
import type { SchemaComponent, SharedDatabase } from './sqlite-db.ts';
import { SqliteStore } from './sqlite-store.ts';

// Webhooks and their deliveries in SQLite, in the file of the keys and the audit log (a
// SharedDatabase), so that a webhook's creation or deletion and its audit entry are one
// transaction. The file's mode (0600) is the data's: the signing secrets are kept in it as they
// are, since the server signs with them (they are shared secrets, not passwords).

const WEBHOOKS_SCHEMA: SchemaComponent = {
  name: 'webhooks',
  migrations: [
    [
      `CREATE TABLE webhooks (
         id TEXT PRIMARY KEY,
         project TEXT NOT NULL,
         url TEXT NOT NULL,
         events TEXT NOT NULL,
         description TEXT,
         secret TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         created_by TEXT NOT NULL
       ) WITHOUT ROWID`,
      `CREATE INDEX webhooks_by_project ON webhooks (project, created_at)`,
      `CREATE TABLE webhook_deliveries (
         id TEXT PRIMARY KEY,
         webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
         project TEXT NOT NULL,
         event_id TEXT NOT NULL,
         event_type TEXT NOT NULL,
         subject TEXT NOT NULL,
         body TEXT NOT NULL,
         attempts INTEGER NOT NULL,
         status TEXT NOT NULL,
         last_status_code INTEGER,
         last_error TEXT,
         next_attempt_at INTEGER,
         created_at INTEGER NOT NULL,
         delivered_at INTEGER
       ) WITHOUT ROWID`,
      `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)`,
      `CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at)`,
    ],
  ],
};

interface WebhookRow {
  id: string;
  project: string;
  url: string;
  events: string;
  description: string | null;
  secret: string;
  created_at: number;
  created_by: string;
}

interface DeliveryRow {
  id: string;
  webhook_id: string;
  project: string;
  event_id: string;
  event_type: string;
  subject: string;
  body: string;
  attempts: number;
  status: string;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  created_at: number;
  delivered_at: number | null;
}

const toWebhook = (r: WebhookRow): Webhook => ({
  id: r.id,
  project: r.project,
  url: r.url,
  events: JSON.parse(r.events) as string[],
  description: r.description,
  secret: r.secret,
  createdAt: new Date(r.created_at),
  createdBy: r.created_by,
});

const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  webhookId: r.webhook_id,
  project: r.project,
  eventId: r.event_id,
  eventType: r.event_type,
  subject: r.subject,
  body: r.body,
  attempts: r.attempts,
  status: r.status as DeliveryStatus,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  nextAttemptAt: dateOrNull(r.next_attempt_at),
  createdAt: new Date(r.created_at),
  deliveredAt: dateOrNull(r.delivered_at),
});

const DELIVERY_COLUMNS = 'd.id, d.webhook_id, d.project, d.event_id, d.event_type, d.subject, d.body, d.attempts, d.status, d.last_status_code, d.last_error, d.next_attempt_at, d.created_at, d.delivered_at';

export interface SqliteWebhooksOptions {
  /** Stamps audit entries. */
  clock?: Clock;
}

export class SqliteWebhooks extends SqliteStore implements WebhookStore {
  private readonly clock: Clock;

  constructor(file: string | SharedDatabase, opts: SqliteWebhooksOptions = {}) {
    super(file, { components: [WEBHOOKS_SCHEMA] });
    this.clock = opts.clock ?? systemClock;
  }

  async createWebhook(w: Webhook, audit?: AuditDraft<Webhook>): Promise<void> {
    const entries = this.run('creating a webhook', () =>
      this.transaction(() => {
        this.db
          .prepare('INSERT INTO webhooks (id, project, url, events, description, secret, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(w.id, w.project, w.url, JSON.stringify(w.events), w.description, w.secret, w.createdAt.getTime(), w.createdBy);
        return appendDrafted(this.db, this.clock, audit, w);
      }),
    );
    audit?.committed(entries);
  }

  async getWebhook(id: string): Promise<Webhook | null> {
    return this.run('reading a webhook', () => {
      const r = this.db.prepare('SELECT * FROM webhooks WHERE id = ?').get(id) as WebhookRow | undefined;
      return r ? toWebhook(r) : null;
    });
  }

  async listWebhooks(project: string): Promise<Webhook[]> {
    return this.run('listing webhooks', () => (this.db.prepare('SELECT * FROM webhooks WHERE project = ? ORDER BY created_at, id').all(project) as unknown as WebhookRow[]).map(toWebhook));
  }

  async deleteWebhook(id: string, audit?: AuditDraft<Webhook>): Promise<boolean> {
    const entries = this.run('deleting a webhook', () =>
      this.transaction(() => {
        const r = this.db.prepare('SELECT * FROM webhooks WHERE id = ?').get(id) as WebhookRow | undefined;
        if (!r) return null;
        // Explicitly, not by the foreign key alone: a connection may have foreign keys off.
        this.db.prepare('DELETE FROM webhook_deliveries WHERE webhook_id = ?').run(id);
        this.db.prepare('DELETE FROM webhooks WHERE id = ?').run(id);
        return appendDrafted(this.db, this.clock, audit, toWebhook(r));
      }),
    );
    if (entries === null) return false;
    audit?.committed(entries);
    return true;
  }

  async addDeliveries(deliveries: readonly WebhookDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    this.run('storing webhook deliveries', () =>
      this.transaction(() => {
        const insert = this.db.prepare(
          'INSERT INTO webhook_deliveries (id, webhook_id, project, event_id, event_type, subject, body, attempts, status, last_status_code, last_error, next_attempt_at, created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        );
        for (const d of deliveries) {
          insert.run(d.id, d.webhookId, d.project, d.eventId, d.eventType, d.subject, d.body, d.attempts, d.status, d.lastStatusCode, d.lastError, d.nextAttemptAt?.getTime() ?? null, d.createdAt.getTime(), d.deliveredAt?.getTime() ?? null);
        }
      }),
    );
  }

  async claimDueDeliveries(now: Date, leaseUntil: Date, limit: number): Promise<DueDelivery[]> {
    return this.run('claiming webhook deliveries', () =>
      this.transaction(() => {
        const rows = this.db
          .prepare(`SELECT ${DELIVERY_COLUMNS}, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?`)
          .all(now.getTime(), limit) as unknown as Array<DeliveryRow & { url: string; secret: string }>;
        const lease = this.db.prepare('UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?');
        for (const r of rows) lease.run(leaseUntil.getTime(), r.id);
        return rows.map((r) => ({ ...toDelivery({ ...r, next_attempt_at: leaseUntil.getTime() }), url: r.url, secret: r.secret }));
      }),
    );
  }

  async recordAttempt(id: string, o: DeliveryOutcome): Promise<void> {
    this.run('recording a webhook delivery attempt', () =>
      this.db
        .prepare('UPDATE webhook_deliveries SET attempts = ?, status = ?, last_status_code = ?, last_error = ?, next_attempt_at = ?, delivered_at = ? WHERE id = ?')
        .run(o.attempts, o.status, o.lastStatusCode, o.lastError, o.nextAttemptAt?.getTime() ?? null, o.deliveredAt?.getTime() ?? null, id),
    );
  }

  async nextDeliveryDue(): Promise<Date | null> {
    return this.run('reading webhook deliveries', () => {
      // webhook_deliveries_due serves it: the first pending entry of the index.
      const r = this.db.prepare("SELECT next_attempt_at AS at FROM webhook_deliveries WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 1").get() as { at: number | null } | undefined;
      return dateOrNull(r?.at);
    });
  }

  async listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    return this.run('listing webhook deliveries', () =>
      (this.db.prepare(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.webhook_id = ? ORDER BY d.created_at DESC, d.id DESC LIMIT ?`).all(webhookId, limit) as unknown as DeliveryRow[]).map(toDelivery),
    );
  }
}
