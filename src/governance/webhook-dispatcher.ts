import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { retryDelayMs, webhookSignature, type DeliveryOutcome, type DueDelivery } from '../domain/webhooks.ts';
import type { WebhookStore } from '../storage/webhooks.ts';

// The loop that posts what the outbox holds. It takes due deliveries from the store (leased, so an
// attempt cut off by a crash is made again once the lease runs out), posts each with its signature,
// a timeout, and no redirects followed, and stores the outcome: delivered on a 2xx, else due again
// after base, 2 × base, 4 × base … until the attempts run out (failed). Attempts run side by side,
// so one receiver that hangs delays nobody else. Delivery is at least once: a receiver tells a
// repeat by X-Promptline-Delivery.

export interface WebhookDispatcherOptions {
  store: WebhookStore;
  clock: Clock;
  logger: Logger;
  /** The wait after the first failed attempt; each later wait doubles (PROMPTLINE_WEBHOOK_RETRY_BASE_MS). */
  retryBaseMs: number;
  /** How long an attempt waits for the receiver's answer (PROMPTLINE_WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** Attempts in flight at once. */
  concurrency?: number;
  /** The longest the loop sleeps before it looks at the store again (another server may have added deliveries). */
  pollMs?: number;
  fetch?: typeof fetch;
}

/** A lease outlasts an attempt by this much: the outcome is stored before it runs out. */
const LEASE_MARGIN_MS = 5_000;
const MAX_ERROR_LENGTH = 500;

export class WebhookDispatcher {
  private readonly o: Required<WebhookDispatcherOptions>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private running = false;
  private woken = false;
  private wakeUp: (() => void) | null = null;
  /** The outbox could not be read: logged once until it can be again. */
  private outboxDown = false;

  constructor(opts: WebhookDispatcherOptions) {
    this.o = { concurrency: 16, pollMs: 1_000, fetch: globalThis.fetch, ...opts };
  }

  start(): void {
    if (this.running || this.stopping.signal.aborted) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Something may be due now (a delivery added, an attempt done). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops taking deliveries and cuts off the attempts in flight; they stay pending, due at once at the next start. */
  async stop(): Promise<{ interrupted: number }> {
    const interrupted = this.inFlight.size;
    this.running = false;
    this.stopping.abort();
    this.wake();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    return { interrupted };
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let waitMs = this.o.pollMs;
      try {
        const room = this.o.concurrency - this.inFlight.size;
        if (room <= 0) waitMs = Infinity; // an attempt that finishes wakes the loop
        else {
          const now = this.o.clock.now();
          const due = await this.o.store.claimDueDeliveries(now, new Date(now.getTime() + this.o.timeoutMs + LEASE_MARGIN_MS), room);
          for (const d of due) this.track(d);
          if (due.length === room) continue; // more may be due
          const next = await this.o.store.nextDeliveryDue();
          // A pending delivery that is due and was not claimed (its webhook is going) waits for the next poll.
          if (next !== null && next.getTime() > now.getTime()) waitMs = Math.min(this.o.pollMs, next.getTime() - this.o.clock.now().getTime());
        }
        if (this.outboxDown) this.o.logger.info('webhooks: the outbox can be read again');
        this.outboxDown = false;
      } catch (err) {
        if (!this.outboxDown) this.o.logger.warn('webhooks: the outbox could not be read; trying again every poll', { error: err as Error });
        this.outboxDown = true;
      }
      if (this.running && !this.woken) await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : null;
      function done() {
        if (timer) clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }

  private track(d: DueDelivery): void {
    const attempt: Promise<void> = this.attempt(d)
      .catch((err: unknown) => this.o.logger.error('webhooks: a delivery attempt was not recorded; it is made again when its lease runs out', { error: err as Error, delivery: d.id }))
      .finally(() => {
        this.inFlight.delete(attempt);
        this.wake();
      });
    this.inFlight.add(attempt);
  }

  private async attempt(d: DueDelivery): Promise<void> {
    const t = Math.floor(this.o.clock.now().getTime() / 1000);
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await this.o.fetch(d.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Promptline-Webhooks',
          'x-promptline-event': d.eventType,
          'x-promptline-delivery': d.id,
          'x-promptline-signature': webhookSignature(d.secret, t, d.body),
        },
        body: d.body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs), this.stopping.signal]),
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      if (this.stopping.signal.aborted) {
        // Cut off by the shutdown: not the receiver's failure, and not counted.
        await this.o.store.recordAttempt(d.id, { attempts: d.attempts, status: 'pending', lastStatusCode: d.lastStatusCode, lastError: d.lastError, nextAttemptAt: this.o.clock.now(), deliveredAt: null });
        return;
      }
      error = describeFailure(err, this.o.timeoutMs);
    }
    const attempts = d.attempts + 1;
    const now = this.o.clock.now();
    let outcome: DeliveryOutcome;
    if (status !== null && status >= 200 && status < 300) outcome = { attempts, status: 'delivered', lastStatusCode: status, lastError: null, nextAttemptAt: null, deliveredAt: now };
    else {
      const delay = retryDelayMs(attempts, this.o.retryBaseMs);
      const why = error ?? `the receiver answered ${status}`;
      outcome = { attempts, status: delay === null ? 'failed' : 'pending', lastStatusCode: status, lastError: why, nextAttemptAt: delay === null ? null : new Date(now.getTime() + delay), deliveredAt: null };
      if (delay === null) this.o.logger.warn('webhooks: a delivery failed for good', { delivery: d.id, webhook: d.webhookId, project: d.project, attempts, lastError: why });
    }
    await this.o.store.recordAttempt(d.id, outcome);
  }
}

function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = e?.cause;
  const text = cause ? `${cause.code ? `${cause.code}: ` : ''}${cause.message ?? ''}` : (e?.message ?? String(err));
  return text.slice(0, MAX_ERROR_LENGTH);
}
