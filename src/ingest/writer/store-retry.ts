import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { StoreBackPressureError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { StoreMetrics, StoreName } from '../../common/metrics.ts';
import { ATTEMPTS_BEFORE_REFUSAL, isOutage, PermanentWriteFailure } from './write-failures.ts';
import type { WriterCounters } from './writer-stats.ts';

// Every call the writer makes to a store goes through here: an outage is retried with capped
// backoff for as long as it lasts, anything else becomes a PermanentWriteFailure after its last
// attempt, and stopping the writer ends the wait at once. A store pushing back (ClickHouse's
// TOO_MANY_PARTS: parts arrive faster than they merge) is an outage that retrying makes worse:
// each such failure adds a wait of its own, doubling from backPressureMs up to backPressureMaxMs,
// and /readyz says so (writer.backPressure) until a call succeeds.

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** The first extra wait after a store pushes back, and the longest. */
  backPressureMs?: number;
  backPressureMaxMs?: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 10_000, backPressureMs: 2_000, backPressureMaxMs: 60_000 };

/** A call to a store: how the log names it, and the store and operation /metrics labels it with. */
export interface StoreCall {
  what: string;
  store: StoreName;
  operation: string;
}

/** Every store call the writer makes. */
export const STORE_CALLS = {
  resolveLineage: { what: 'resolve lineage', store: 'spans', operation: 'load_stored_nodes' },
  classifyPrompts: { what: 'classify prompts', store: 'registry', operation: 'classify_prompts' },
  stageSpans: { what: 'stage spans', store: 'spans', operation: 'stage' },
  writeSpans: { what: 'write spans', store: 'spans', operation: 'insert' },
  applyFixups: { what: 'apply lineage fixups', store: 'spans', operation: 'apply_fixups' },
  writeEvaluations: { what: 'write evaluations', store: 'analytics', operation: 'write_evaluations' },
  recordEdges: { what: 'record lineage edges', store: 'graph', operation: 'record_edges' },
} as const satisfies Record<string, StoreCall>;

export class StoreRetry {
  private readonly logger: Logger;
  private readonly counters: WriterCounters;
  private readonly backoff: Backoff;
  private readonly signal: AbortSignal;
  private readonly backPressureMs: number;
  private readonly backPressureMaxMs: number;
  private readonly metrics: StoreMetrics | undefined;

  /** `metrics`: where each attempt's duration and failure is counted. */
  constructor(o: { logger: Logger; counters: WriterCounters; backoff: Backoff; signal: AbortSignal; metrics?: StoreMetrics }) {
    this.logger = o.logger;
    this.counters = o.counters;
    this.backoff = o.backoff;
    this.signal = o.signal;
    this.backPressureMs = o.backoff.backPressureMs ?? DEFAULT_BACKOFF.backPressureMs!;
    this.backPressureMaxMs = o.backoff.backPressureMaxMs ?? DEFAULT_BACKOFF.backPressureMaxMs!;
    this.metrics = o.metrics;
  }

  /**
   * Calls `fn` until it succeeds. Rejects with the stop signal's reason when the writer stops, and
   * with a PermanentWriteFailure once a failure other than an outage has had `attempts` tries.
   */
  async call<T>(storeCall: StoreCall, fn: () => Promise<T>, attempts = ATTEMPTS_BEFORE_REFUSAL): Promise<T> {
    const { what } = storeCall;
    let pushedBack = 0;
    try {
      const result = await pRetry(
        async (attempt) => {
          const r = await this.timed(storeCall, fn);
          if (attempt > 1) this.logger.info(`writer: ${what} succeeded after ${attempt} attempts`);
          return r;
        },
        {
          retries: Infinity,
          factor: 2,
          minTimeout: this.backoff.initialMs,
          maxTimeout: this.backoff.maxMs,
          signal: this.signal,
          onFailedAttempt: async ({ error, attemptNumber }) => {
            this.counters.failedAttempts++;
            this.counters.lastError = `${what}: ${error.message}`;
            if (error instanceof StoreBackPressureError) {
              pushedBack++;
              const waitMs = Math.min(this.backPressureMaxMs, this.backPressureMs * 2 ** Math.min(pushedBack - 1, 20));
              this.counters.backPressureWaits++;
              this.counters.backPressure = `${what}: ${error.message} (waiting ${waitMs} ms before the next attempt)`;
              this.logger[pushedBack === 1 ? 'warn' : 'debug'](`writer: the span store pushes back; ${what} waits`, { attempt: attemptNumber, waitMs, error });
              await sleep(waitMs, undefined, { signal: this.signal });
              return;
            }
            this.logger[attemptNumber === 1 ? 'warn' : 'debug'](`writer: ${what} failed`, { attempt: attemptNumber, retryable: isOutage(error), error });
          },
          shouldRetry: ({ error, attemptNumber }) => isOutage(error) || attemptNumber < attempts,
        },
      );
      this.counters.lastError = null;
      if (pushedBack > 0) this.counters.backPressure = null;
      return result;
    } catch (err) {
      if (this.signal.aborted) throw this.signal.reason;
      throw new PermanentWriteFailure(`${what}: ${(err as Error).message}`, err);
    }
  }

  private async timed<T>({ store, operation }: StoreCall, fn: () => Promise<T>): Promise<T> {
    if (!this.metrics) return fn();
    const start = performance.now();
    let failed = true;
    try {
      const r = await fn();
      failed = false;
      return r;
    } finally {
      this.metrics.storeCall(store, operation, (performance.now() - start) / 1000, failed);
    }
  }
}
