import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome, DueDelivery, Webhook, WebhookDelivery } from '../../src/domain/webhooks.ts';
import { WebhookDispatcher } from '../../src/governance/webhook-dispatcher.ts';
import type { WebhookStore } from '../../src/storage/webhooks.ts';
import { eventually } from '../helpers/server.ts';

// The dispatcher over an outbox in memory and a fetch the test answers: what it stores after each
// kind of answer, and what a shutdown leaves behind.

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function memoryOutbox(deliveries: WebhookDelivery[], webhook: Pick<Webhook, 'url' | 'secret'>) {
  const rows = new Map(deliveries.map((d) => [d.id, { ...d }]));
  const store: Partial<WebhookStore> = {
    async claimDueDeliveries(now, leaseUntil, limit) {
      const due = [...rows.values()].filter((d) => d.status === 'pending' && d.nextAttemptAt !== null && d.nextAttemptAt <= now).slice(0, limit);
      for (const d of due) d.nextAttemptAt = leaseUntil;
      return due.map((d): DueDelivery => ({ ...d, ...webhook }));
    },
    async recordAttempt(id: string, o: DeliveryOutcome) {
      const d = rows.get(id);
      if (d) Object.assign(d, o);
    },
    async nextDeliveryDue() {
      const due = [...rows.values()].filter((d) => d.status === 'pending' && d.nextAttemptAt !== null).map((d) => d.nextAttemptAt!.getTime());
      return due.length ? new Date(Math.min(...due)) : null;
    },
  };
  return { store: store as WebhookStore, rows };
}

const delivery = (id: string): WebhookDelivery => ({
  id,
  webhookId: 'w',
  project: 'p',
  eventId: 'e',
  eventType: 'alias.moved',
  subject: 'prompt:x@production',
  body: '{}',
  attempts: 0,
  status: 'pending',
  lastStatusCode: null,
  lastError: null,
  nextAttemptAt: new Date(0),
  createdAt: new Date(0),
  deliveredAt: null,
});

describe('the webhook dispatcher', () => {
  it('retries a failure after the base wait, delivers on a 2xx, and a shutdown leaves a cut-off attempt pending, uncounted', async () => {
    const { store, rows } = memoryOutbox([delivery('a'), delivery('b')], { url: 'http://receiver.invalid/hook', secret: 'whsec_x' });
    const calls: string[] = [];
    const fetchStub = ((_url: string, init: RequestInit) => {
      const id = (init.headers as Record<string, string>)['x-promptline-delivery']!;
      calls.push(id);
      // a: 500 then 200; b: never answers until the request is aborted.
      if (id === 'b') return new Promise((_, reject) => init.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
      return Promise.resolve(new Response('', { status: calls.filter((c) => c === 'a').length === 1 ? 500 : 200 }));
    }) as typeof fetch;
    const dispatcher = new WebhookDispatcher({ store, clock: { now: () => new Date() }, logger: silent, retryBaseMs: 10, timeoutMs: 60_000, fetch: fetchStub });
    dispatcher.start();
    await eventually(async () => (rows.get('a')!.status === 'delivered' ? true : undefined), 'a delivered', 5_000);
    expect(rows.get('a')).toMatchObject({ attempts: 2, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect(calls.filter((c) => c === 'b')).toHaveLength(1);

    const before = Date.now();
    expect(await dispatcher.stop()).toEqual({ interrupted: 1 });
    expect(rows.get('b')).toMatchObject({ status: 'pending', attempts: 0, lastError: null });
    expect(rows.get('b')!.nextAttemptAt!.getTime()).toBeGreaterThanOrEqual(before - 1);
  });
});
