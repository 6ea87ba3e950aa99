import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditEntry, NewAuditEntry } from '../../src/domain/governance.ts';
import type { Webhook, WebhookDelivery } from '../../src/domain/webhooks.ts';
import { auditHash, verifyChain } from '../../src/governance/audit.ts';
import type { AuditDraft, AuditLog } from '../../src/storage/governance.ts';
import type { WebhookStore } from '../../src/storage/webhooks.ts';

// Scenarios that must hold for every webhook store, run inside the governance contract (the same
// store holds the keys, the audit log and the webhooks). Deliveries here are due in 2001: a
// database shared with other runs (Neo4j) holds no delivery of theirs due that early, so what this
// suite claims is its own.

const hex = () => randomBytes(8).toString('hex');
const at = (s: number) => new Date(Date.UTC(2001, 0, 1) + s * 1000);

export function describeWebhookContract(fixture: () => { webhooks: WebhookStore; audit: AuditLog }, project: string): void {
  describe('webhooks and their outbox', () => {
    const webhook = (over: Partial<Webhook> = {}): Webhook => ({
      id: hex(),
      project: `${project}-webhooks`,
      url: 'https://hooks.example.com/promptline?team=ml',
      events: ['alias.moved', 'proposal.*'],
      description: 'the ML team',
      secret: `whsec_${randomBytes(32).toString('base64url')}`,
      createdAt: new Date(1_700_000_000_000),
      createdBy: 'admin [key 1]',
      ...over,
    });
    const delivery = (w: Webhook, over: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
      id: hex(),
      webhookId: w.id,
      project: w.project,
      eventId: hex(),
      eventType: 'alias.moved',
      subject: 'prompt:support@production',
      body: JSON.stringify({ type: 'alias.moved', data: { quote: `it's "odd" \\ ü` } }),
      attempts: 0,
      status: 'pending',
      lastStatusCode: null,
      lastError: null,
      nextAttemptAt: at(0),
      createdAt: at(0),
      deliveredAt: null,
      ...over,
    });
    const draft = (action: string, fail = false) => {
      const told: AuditEntry[][] = [];
      const d: AuditDraft<Webhook> = {
        entries: (w): NewAuditEntry[] => {
          if (fail) throw new Error('the audit entry cannot be made');
          return [{ project: w.project, actor: 'admin', action, target: `webhook:${w.id}`, before: null, after: { id: w.id, url: w.url } }];
        },
        hashOf: auditHash,
        committed: (entries) => void told.push(entries),
      };
      return { d, told };
    };

    it('creates a webhook and its audit entry together, or neither, and finds it by id and by project', async () => {
      const { webhooks, audit } = fixture();
      const w = webhook();
      const ok = draft('webhook.create');
      await webhooks.createWebhook(w, ok.d);
      expect(await webhooks.getWebhook(w.id)).toEqual(w);
      expect(ok.told[0]!.map((e) => [e.action, e.target])).toEqual([['webhook.create', `webhook:${w.id}`]]);
      const other = webhook({ project: `${project}-webhooks-other`, events: ['*'], description: null, createdAt: new Date(1_700_000_000_001) });
      await webhooks.createWebhook(other);
      expect((await webhooks.listWebhooks(w.project)).map((x) => x.id)).toContain(w.id);
      expect(await webhooks.listWebhooks(other.project)).toEqual([other]);

      const refused = webhook();
      await expect(webhooks.createWebhook(refused, draft('webhook.create', true).d)).rejects.toThrow(/cannot be made/);
      expect(await webhooks.getWebhook(refused.id)).toBeNull();
      expect(await audit.list({ project: w.project, target: `webhook:${refused.id}`, limit: 10 })).toEqual([]);
      expect(await webhooks.getWebhook(hex())).toBeNull();
    });

    it('deletes a webhook with its deliveries and its audit entry, once', async () => {
      const { webhooks, audit } = fixture();
      const w = webhook();
      await webhooks.createWebhook(w);
      await webhooks.addDeliveries([delivery(w, { status: 'delivered', nextAttemptAt: null, attempts: 1, deliveredAt: at(1) })]);
      await expect(webhooks.deleteWebhook(w.id, draft('webhook.delete', true).d)).rejects.toThrow(/cannot be made/);
      expect(await webhooks.getWebhook(w.id)).not.toBeNull();
      const ok = draft('webhook.delete');
      expect(await webhooks.deleteWebhook(w.id, ok.d)).toBe(true);
      expect(await webhooks.getWebhook(w.id)).toBeNull();
      expect(await webhooks.listDeliveries(w.id, 10)).toEqual([]);
      expect(ok.told).toHaveLength(1);
      const again = draft('webhook.delete');
      expect(await webhooks.deleteWebhook(w.id, again.d)).toBe(false);
      expect(again.told).toEqual([]);
      expect((await audit.list({ project: w.project, target: `webhook:${w.id}`, limit: 10 })).map((e) => e.action)).toEqual(['webhook.delete']);
      expect(await verifyChain((from, limit) => audit.scan(from, limit), null)).toMatchObject({ ok: true, problem: null });
    });

    it('keeps deliveries in an outbox: due ones are claimed and leased, outcomes recorded, the log newest first', async () => {
      const { webhooks } = fixture();
      const w = webhook();
      await webhooks.createWebhook(w);
      const first = delivery(w, { nextAttemptAt: at(0), createdAt: at(0) });
      const second = delivery(w, { nextAttemptAt: at(5), createdAt: at(1) });
      const done = delivery(w, { status: 'delivered', attempts: 1, lastStatusCode: 204, nextAttemptAt: null, createdAt: at(2), deliveredAt: at(3) });
      await webhooks.addDeliveries([first, second, done]);
      expect((await webhooks.nextDeliveryDue())!.getTime()).toBeLessThanOrEqual(at(0).getTime());

      // At 00:00:02 only the first is due; it is leased until 00:00:30.
      const claimed = await webhooks.claimDueDeliveries(at(2), at(30), 10);
      expect(claimed).toEqual([{ ...first, nextAttemptAt: at(30), url: w.url, secret: w.secret }]);
      expect(await webhooks.claimDueDeliveries(at(3), at(30), 10)).toEqual([]);
      // At 00:00:10 the second is due, the first still leased.
      expect((await webhooks.claimDueDeliveries(at(10), at(40), 10)).map((d) => d.id)).toEqual([second.id]);

      await webhooks.recordAttempt(first.id, { attempts: 1, status: 'pending', lastStatusCode: 500, lastError: 'the receiver answered 500', nextAttemptAt: at(12), deliveredAt: null });
      await webhooks.recordAttempt(second.id, { attempts: 1, status: 'delivered', lastStatusCode: 200, lastError: null, nextAttemptAt: null, deliveredAt: at(11) });
      const retried = await webhooks.claimDueDeliveries(at(12), at(50), 1);
      expect(retried.map((d) => [d.id, d.attempts, d.lastStatusCode, d.lastError])).toEqual([[first.id, 1, 500, 'the receiver answered 500']]);
      await webhooks.recordAttempt(first.id, { attempts: 2, status: 'failed', lastStatusCode: null, lastError: 'ECONNREFUSED', nextAttemptAt: null, deliveredAt: null });
      expect(await webhooks.claimDueDeliveries(at(100), at(200), 10)).toEqual([]);
      await webhooks.recordAttempt(hex(), { attempts: 1, status: 'delivered', lastStatusCode: 200, lastError: null, nextAttemptAt: null, deliveredAt: at(1) });

      const log = await webhooks.listDeliveries(w.id, 10);
      expect(log.map((d) => [d.id, d.status, d.attempts])).toEqual([
        [done.id, 'delivered', 1],
        [second.id, 'delivered', 1],
        [first.id, 'failed', 2],
      ]);
      expect(log[1]).toEqual({ ...second, attempts: 1, status: 'delivered', lastStatusCode: 200, lastError: null, nextAttemptAt: null, deliveredAt: at(11) });
      expect(await webhooks.listDeliveries(w.id, 1)).toHaveLength(1);
    });
  });
}
