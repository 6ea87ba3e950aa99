import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { RollupMetrics } from '../common/metrics.ts';
import type { LineageRollupRound, SpanAnalytics } from '../storage/span-analytics.ts';

// Keeps the per-minute lineage rollup that what-changed reads over long windows: every interval,
// the minutes that changed since their last roll are rolled up (a bounded number a round; a
// backlog — after an upgrade, or a store that was away — is worked off round after round, without
// waiting for the interval). A round that fails is logged and tried again: until a minute is rolled
// up, what-changed reads it from the response list, so an answer is never wrong, only slower.

export interface LineageRollupDeps {
  analytics: Pick<SpanAnalytics, 'rollUpLineage'>;
  logger: Logger;
  clock: Clock;
  metrics?: RollupMetrics | undefined;
}

export class LineageRollup {
  private readonly deps: LineageRollupDeps;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = true;

  constructor(deps: LineageRollupDeps) {
    this.deps = deps;
  }

  /** One round: rolls up what changed, up to the round's bound. */
  async round(): Promise<LineageRollupRound> {
    const t0 = performance.now();
    try {
      const r = await this.deps.analytics.rollUpLineage(this.deps.clock.now());
      this.deps.metrics?.rollupRound(r.minutes, r.pending, (performance.now() - t0) / 1000, false);
      if (r.minutes > 0) this.deps.logger.debug('rollup: minutes rolled up by lineage value', { minutes: r.minutes, pending: r.pending, ms: Math.round(performance.now() - t0) });
      return r;
    } catch (err) {
      this.deps.metrics?.rollupRound(0, 0, (performance.now() - t0) / 1000, true);
      throw err;
    }
  }

  /** Rounds every `intervalMs` (at once again while a backlog is left), never two at a time. */
  start(intervalMs: number): void {
    this.stopped = false;
    const tick = () => {
      this.running = this.round()
        // Again at once while a round made progress and left a backlog (minutes changed only just now wait for the interval).
        .then((r) => r.minutes > 0 && r.pending > 0)
        .catch((err: unknown) => {
          this.deps.logger.warn('rollup: round failed; tried again next interval (what-changed reads those minutes from the spans meanwhile)', { error: err as Error });
          return false;
        })
        .then((backlog) => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, backlog ? 0 : intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  /** Stops the rounds; waits for one under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
