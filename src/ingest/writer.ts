import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/logger.ts';
import type { StoreMetrics } from '../common/metrics.ts';
import type { LineageGraph } from '../storage/lineage-graph.ts';
import type { SpanAnalytics } from '../storage/span-analytics.ts';
import type { SpanSink } from '../storage/span-store.ts';
import type { SpanTimeWindow } from './otlp/span-rules.ts';
import type { Spool, SpoolPosition } from './spool.ts';
import { BatchPipeline } from './writer/batch-pipeline.ts';
import { Checkpoint } from './writer/checkpoint.ts';
import { DeadLetterFolder } from './writer/dead-letters.ts';
import { RecordReader } from './writer/record-reader.ts';
import { RefusedRecords } from './writer/refused-records.ts';
import { PreparationThread } from './writer/prepare-client.ts';
import type { ClassifyPrompt } from './writer/registration.ts';
import { DEFAULT_BACKOFF, StoreRetry, type Backoff } from './writer/store-retry.ts';
import { StoreWriteStep } from './writer/store-write.ts';
import { WriterStopped } from './writer/write-failures.ts';
import { WriteQueue, type WriterAttachment } from './writer/write-queue.ts';
import { newWriterCounters, type WriterStats } from './writer/writer-stats.ts';

// Drains the spool into the stores: batches records, resolves lineage, writes spans, lineage
// fixups and graph edges, then moves the spool's checkpoint. A failed write is retried with
// backoff until it succeeds; the records stay in the spool meanwhile, so an outage delays data
// and never drops it. The parts live in ./writer/; this object starts, feeds and stops them.

export type { WriterAttachment } from './writer/write-queue.ts';
export type { WriterStats } from './writer/writer-stats.ts';

export interface WriterOptions {
  spool: Spool;
  spans: SpanSink;
  graph: LineageGraph;
  logger: Logger;
  batchMaxSpans: number;
  flushIntervalMs: number;
  /** Bytes of checked requests held in memory at most; beyond, records are re-read from disk. */
  maxBytesInMemory?: number;
  retry?: Backoff;
  /** Where records the stores refuse for good are kept, whole. */
  deadLetterDir: string;
  /** Where evaluation results found on spans are written; without it, they stay span attributes only. */
  analytics?: SpanAnalytics;
  /** Says whether a seen prompt is a registered version; without it, spans are not marked. */
  classifyPrompt?: ClassifyPrompt;
  /** Bytes of lineage the resolver's cache holds at most (an estimate; default 64 MiB). */
  resolverCacheBytes?: number;
  /** Stored rows one batch (or one settlement step) rewrites at most when a late span changes their lineage (default 10,000). */
  maxFixupsPerBatch?: number;
  /** The receiver's start-time window, by which spooled requests are judged as at their receipt; without it, none. */
  spanTimeWindow?: SpanTimeWindow;
  /** Where each store call's duration and failures are counted. */
  metrics?: StoreMetrics;
}

export class SpanWriter {
  private readonly o: WriterOptions;
  private readonly queue: WriteQueue;
  private readonly pipeline: BatchPipeline;
  private readonly preparer: PreparationThread;
  /** The last step was a settlement: a batch goes next, if one is queued. */
  private settledLast = false;
  private readonly counters = newWriterCounters();
  /** Aborted when stop gives up waiting: calls in progress end, and what is not stored stays in the spool. */
  private readonly abandon = new AbortController();
  private wake: (() => void) | null = null;
  private stopping = false;
  private busy = false;
  private loop: Promise<void> | null = null;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: WriterOptions) {
    this.o = opts;
    const { spool, logger, spans: sink } = opts;
    const signal = this.abandon.signal;
    const counters = this.counters;
    this.queue = new WriteQueue({ maxBytesInMemory: opts.maxBytesInMemory ?? 128 * 1024 * 1024 }, () => {
      this.wake?.();
      this.pipeline.queued();
    });
    const retry = new StoreRetry({ logger, counters, backoff: opts.retry ?? DEFAULT_BACKOFF, signal, metrics: opts.metrics });
    const preparer = new PreparationThread({
      sink,
      retry,
      classify: opts.classifyPrompt ?? null,
      logger,
      options: {
        collectEvaluations: opts.analytics !== undefined,
        resolverCacheBytes: opts.resolverCacheBytes ?? 64 * 1024 * 1024,
        maxFixupsPerBatch: opts.maxFixupsPerBatch ?? 10_000,
        spanTimeWindow: opts.spanTimeWindow ?? null,
      },
    });
    this.preparer = preparer;
    const storeWrite = new StoreWriteStep({ sink, graph: opts.graph, analytics: opts.analytics, retry, counters, logger });
    const checkpoint = new Checkpoint({ spool, queue: this.queue });
    const deadLetters = new DeadLetterFolder({ dir: opts.deadLetterDir, spool });
    const refused = new RefusedRecords({ spoolId: spool.id, preparer, storeWrite, checkpoint, deadLetters, counters, logger, signal });
    const reader = new RecordReader({ spool, queue: this.queue, logger });
    this.pipeline = new BatchPipeline({ spoolId: spool.id, queue: this.queue, batchMaxSpans: opts.batchMaxSpans, reader, preparer, storeWrite, refused, checkpoint, signal });
  }

  /** Queues records found in the spool at start, then starts draining. */
  start(): void {
    for (const position of this.o.spool.takeRecovered()) this.queue.pushUnread(position);
    this.loop = this.run();
  }

  /** The spool's onDurable hook: a request is on disk and may be written to the stores. */
  enqueue(position: SpoolPosition, attachment: WriterAttachment | null): void {
    if (attachment) this.queue.push(position, attachment);
    else this.queue.pushUnread(position);
  }

  stats(): WriterStats {
    return { ...this.counters, queuedRecords: this.queue.length, queuedSpans: this.queue.spans, unsettledTraces: this.pipeline.unsettledTraces };
  }

  /** Seconds the oldest spooled record not yet in the stores has waited (0 when the writer has caught up): its lag. */
  lagSeconds(): number {
    return this.queue.oldestWaitMs() / 1000;
  }

  /** Resolves when everything queued so far is in the stores, and every stored row's lineage is rewritten. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0 && !this.busy && this.pipeline.unsettledTraces === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Writes what is queued, then stops. After `timeoutMs` it stops anyway: what is left stays in
   * the spool and is written at the next start.
   */
  async stop(timeoutMs = 30_000): Promise<{ drained: boolean }> {
    this.stopping = true;
    this.wake?.();
    if (!this.loop) {
      await this.preparer.close();
      return { drained: this.queue.length === 0 };
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const result = await Promise.race([this.loop.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.abandon.abort(new WriterStopped());
      this.wake?.();
      // A batch being prepared ends with its thread.
      await this.preparer.close();
      await this.loop;
      return { drained: false };
    }
    await this.preparer.close();
    return { drained: true };
  }

  private async run(): Promise<void> {
    const signal = this.abandon.signal;
    let failedLoops = 0;
    while (!signal.aborted) {
      if (!this.pipeline.hasBatchAhead) {
        // Rows a batch had no budget to rewrite: a bounded step at a time, taking turns with batches.
        const settle = this.pipeline.unsettledTraces > 0 && !(this.stopping && this.queue.length === 0) && (this.queue.length === 0 || !this.settledLast);
        if (settle) {
          this.busy = true;
          this.settledLast = true;
          try {
            await this.pipeline.settleNext();
            failedLoops = 0;
          } catch (err) {
            if (signal.aborted) return;
            failedLoops++;
            this.counters.lastError = `writer: ${(err as Error).message}`;
            this.o.logger.error('writer: rewriting stored lineage failed; the traces are compared with the store again when they next receive spans', { error: err as Error });
            await sleep(Math.min(10_000, 100 * 2 ** Math.min(failedLoops, 7)), undefined, { signal }).catch(() => undefined);
          }
          continue;
        }
        this.settledLast = false;
        if (this.queue.length === 0) {
          if (this.stopping && this.pipeline.unsettledTraces > 0) {
            this.o.logger.warn('shutdown: stored rows of some traces still inherit an earlier lineage; they are rewritten when those traces next receive spans', { traces: this.pipeline.unsettledTraces });
          }
          this.busy = false;
          for (const w of this.idleWaiters.splice(0)) w();
          if (this.stopping) return;
          await new Promise<void>((r) => (this.wake = r));
          this.wake = null;
          continue;
        }
        this.busy = true;
        await this.letBatchFill();
      }
      try {
        await this.pipeline.writeNext();
        failedLoops = 0;
      } catch (err) {
        if (signal.aborted) return; // stopped mid-batch: the batch stays in the spool for the next start
        // Something outside the stores failed (the checkpoint or dead-letter file on a full disk,
        // say): the batch is back at the head of the queue and is tried again after a pause.
        // Not p-retry: the retried unit is the loop's next turn, which may take a different batch.
        failedLoops++;
        this.counters.lastError = `writer: ${(err as Error).message}`;
        this.o.logger.error('writer: a batch failed outside the stores; it will be tried again', { error: err as Error, attempt: failedLoops });
        await sleep(Math.min(10_000, 100 * 2 ** Math.min(failedLoops, 7)), undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** Fewer, larger writes are what ClickHouse wants: a batch short of full waits up to flushIntervalMs for more. */
  private async letBatchFill(): Promise<void> {
    if (this.stopping || this.queue.spans >= this.o.batchMaxSpans) return;
    await new Promise<void>((r) => {
      const t = setTimeout(r, this.o.flushIntervalMs);
      this.wake = () => {
        if (this.stopping || this.queue.spans >= this.o.batchMaxSpans) {
          clearTimeout(t);
          r();
        }
      };
    });
    this.wake = null;
  }
}
