import pRetry from 'p-retry';
import type { Logger } from '../../common/logger.ts';
import { ATTEMPTS_BEFORE_REFUSAL, isOutage, PermanentWriteFailure } from './write-failures.ts';
import type { WriterCounters } from './writer-stats.ts';

// Every call the writer makes to a store goes through here: an outage is retried with capped
// backoff for as long as it lasts, anything else becomes a PermanentWriteFailure after its last
// attempt, and stopping the writer ends the wait at once.

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 10_000 };

export class StoreRetry {
  private readonly logger: Logger;
  private readonly counters: WriterCounters;
  private readonly backoff: Backoff;
  private readonly signal: AbortSignal;

  constructor(o: { logger: Logger; counters: WriterCounters; backoff: Backoff; signal: AbortSignal }) {
    this.logger = o.logger;
    this.counters = o.counters;
    this.backoff = o.backoff;
    this.signal = o.signal;
  }

  /**
   * Calls `fn` until it succeeds. Rejects with the stop signal's reason when the writer stops, and
   * with a PermanentWriteFailure once a failure other than an outage has had `attempts` tries.
   */
  async call<T>(what: string, fn: () => Promise<T>, attempts = ATTEMPTS_BEFORE_REFUSAL): Promise<T> {
    try {
      const result = await pRetry(
        async (attempt) => {
          const r = await fn();
          if (attempt > 1) this.logger.info(`writer: ${what} succeeded after ${attempt} attempts`);
          return r;
        },
        {
          retries: Infinity,
          factor: 2,
          minTimeout: this.backoff.initialMs,
          maxTimeout: this.backoff.maxMs,
          signal: this.signal,
          onFailedAttempt: ({ error, attemptNumber }) => {
            this.counters.failedAttempts++;
            this.counters.lastError = `${what}: ${error.message}`;
            this.logger[attemptNumber === 1 ? 'warn' : 'debug'](`writer: ${what} failed`, { attempt: attemptNumber, retryable: isOutage(error), error });
          },
          shouldRetry: ({ error, attemptNumber }) => isOutage(error) || attemptNumber < attempts,
        },
      );
      this.counters.lastError = null;
      return result;
    } catch (err) {
      if (this.signal.aborted) throw this.signal.reason;
      throw new PermanentWriteFailure(`${what}: ${(err as Error).message}`, err);
    }
  }
}
