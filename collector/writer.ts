import type { DecodedExport } from '../src/domain/span.ts';
import { StoreError } from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';
import type { LineageGraph } from '../src/storage/lineage-graph.ts';
import type { SpanStore } from '../src/storage/span-store.ts';
import { EdgeCollector } from './graph-edges.ts';
import { LineageResolver, type ResolvedBatch } from './lineage-resolver.ts';
import { readOwnLineage } from './normalizer.ts';
import { decodeJsonExport } from './otlp/decode-json.ts';
import { decodeProtobufExport } from './otlp/decode-protobuf.ts';
import { RECORD_PROTOBUF, type Spool, type SpoolPosition } from './spool.ts';

// Drains the spool into the stores: batches records, resolves lineage, writes spans, lineage
// fixups and graph edges, then moves the spool's checkpoint. A failed write is retried with
// backoff until it succeeds; the records stay in the spool meanwhile, so an outage delays data
// and never drops it. Decoded requests are kept in memory while the queue is short; past that,
// a record is read back from the spool when its turn comes.

export interface WriterOptions {
  spool: Spool;
  spans: SpanStore;
  graph: LineageGraph;
  logger: Logger;
  batchMaxSpans: number;
  flushIntervalMs: number;
  /** Decoded spans held in memory at most; beyond, records are re-read from disk. */
  maxSpansInMemory?: number;
  retry?: { initialMs: number; maxMs: number };
}

interface QueueEntry {
  position: SpoolPosition;
  decoded: { projectId: string; export: DecodedExport } | null;
  spanCount: number;
}

export interface WriterStats {
  queuedRecords: number;
  queuedSpans: number;
  writtenSpans: number;
  fixups: number;
  failedAttempts: number;
  lastError: string | null;
}

export class SpanWriter {
  private readonly o: WriterOptions;
  private readonly resolver: LineageResolver;
  private readonly queue: QueueEntry[] = [];
  private queuedSpans = 0;
  private inMemorySpans = 0;
  private wake: (() => void) | null = null;
  private stopping = false;
  private abandon = false;
  private loop: Promise<void> | null = null;
  private batchSeq = 0;
  private readonly s: WriterStats = { queuedRecords: 0, queuedSpans: 0, writtenSpans: 0, fixups: 0, failedAttempts: 0, lastError: null };
  private idleWaiters: Array<() => void> = [];

  constructor(opts: WriterOptions) {
    this.o = opts;
    this.resolver = new LineageResolver({ load: (p, ids) => opts.spans.loadStoredNodes(p, ids) });
  }

  /** Queues records found in the spool at start, then starts draining. */
  start(): void {
    for (const position of this.o.spool.takeRecovered()) this.push({ position, decoded: null, spanCount: 0 });
    this.loop = this.run();
  }

  /** The spool's onDurable hook: a request is on disk and may be written to the stores. */
  enqueue(position: SpoolPosition, decoded: { projectId: string; export: DecodedExport } | null): void {
    const spans = decoded?.export.spans.length ?? 0;
    const keep = decoded && this.inMemorySpans + spans <= (this.o.maxSpansInMemory ?? 200_000);
    if (keep) this.inMemorySpans += spans;
    this.push({ position, decoded: keep ? decoded : null, spanCount: spans });
  }

  private push(e: QueueEntry): void {
    this.queue.push(e);
    this.queuedSpans += e.spanCount;
    this.wake?.();
  }

  stats(): WriterStats {
    return { ...this.s, queuedRecords: this.queue.length, queuedSpans: this.queuedSpans };
  }

  /** Resolves when everything queued so far is in the stores. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0 && !this.busy) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Writes what is queued, then stops. After `timeoutMs` it stops anyway: what is left stays in
   * the spool and is written at the next start.
   */
  async stop(timeoutMs = 30_000): Promise<{ drained: boolean }> {
    this.stopping = true;
    this.wake?.();
    if (!this.loop) return { drained: this.queue.length === 0 };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const result = await Promise.race([this.loop.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.abandon = true;
      this.wake?.();
      await this.loop;
      return { drained: false };
    }
    return { drained: true };
  }

  private busy = false;

  private async run(): Promise<void> {
    while (!this.abandon) {
      if (this.queue.length === 0) {
        this.busy = false;
        for (const w of this.idleWaiters.splice(0)) w();
        if (this.stopping) return;
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        continue;
      }
      this.busy = true;
      if (!this.stopping && this.queuedSpans < this.o.batchMaxSpans) {
        // Let a batch fill: fewer, larger writes are what ClickHouse wants.
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.o.flushIntervalMs);
          this.wake = () => {
            if (this.stopping || this.queuedSpans >= this.o.batchMaxSpans) {
              clearTimeout(t);
              r();
            }
          };
        });
        this.wake = null;
      }
      const batch = this.takeBatch();
      try {
        await this.writeBatch(batch);
      } catch (err) {
        if (this.abandon) return; // stopped mid-batch: the batch stays in the spool for the next start
        throw err;
      }
    }
  }

  private takeBatch(): QueueEntry[] {
    const batch: QueueEntry[] = [];
    let spans = 0;
    while (this.queue.length > 0 && (batch.length === 0 || spans + this.queue[0]!.spanCount <= this.o.batchMaxSpans)) {
      const e = this.queue.shift()!;
      spans += e.spanCount;
      batch.push(e);
    }
    return batch;
  }

  private async writeBatch(batch: QueueEntry[]): Promise<void> {
    const byProject = new Map<string, Array<{ span: DecodedExport['spans'][number]; own: ReturnType<typeof readOwnLineage> }>>();
    for (const e of batch) {
      const decoded = e.decoded ?? this.readBack(e.position);
      if (e.decoded) this.inMemorySpans -= e.spanCount;
      if (!decoded) continue;
      let list = byProject.get(decoded.projectId);
      if (!list) byProject.set(decoded.projectId, (list = []));
      for (const span of decoded.export.spans) list.push({ span, own: readOwnLineage(span) });
    }
    const token = `${batch[0]!.position.segment}:${batch[0]!.position.offset}-${batch.at(-1)!.position.segment}:${batch.at(-1)!.position.offset}`;
    let written = 0;
    const t0 = performance.now();
    const ms: Record<string, number> = { resolve: 0, spans: 0, fixups: 0, edges: 0 };
    const timed = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
      const start = performance.now();
      try {
        return await fn();
      } finally {
        ms[phase]! += performance.now() - start;
      }
    };
    for (const [projectId, items] of byProject) {
      const resolved = await timed('resolve', () => this.retrying('resolve lineage', () => this.resolver.resolve(projectId, items)));
      await timed('spans', () => this.retrying('write spans', () => this.o.spans.writeSpans(projectId, resolved.spans, `${projectId}/${token}`)));
      await timed('fixups', () => this.retrying('apply lineage fixups', () => this.o.spans.applyFixups(projectId, resolved.fixups, `${projectId}/${token}/fix`)));
      const edges = collectEdges(resolved);
      await timed('edges', () => this.retrying('record lineage edges', () => this.o.graph.recordEdges(projectId, edges)));
      written += resolved.spans.length;
      this.s.fixups += resolved.fixups.length;
    }
    this.o.logger.debug('writer: batch written', {
      records: batch.length,
      spans: written,
      totalMs: Math.round(performance.now() - t0),
      ...Object.fromEntries(Object.entries(ms).map(([k, v]) => [`${k}Ms`, Math.round(v)])),
    });
    if (this.abandon) return;
    await this.o.spool.commit(batch.at(-1)!.position, batch.length);
    this.queuedSpans -= batch.reduce((n, e) => n + e.spanCount, 0);
    this.s.writtenSpans += written;
    this.batchSeq++;
  }

  /** A record that was not kept in memory (or was recovered at start), decoded from the spool. */
  private readBack(position: SpoolPosition): { projectId: string; export: DecodedExport } | null {
    try {
      const rec = this.o.spool.read(position);
      const exp = rec.kind === RECORD_PROTOBUF ? decodeProtobufExport(rec.payload) : decodeJsonExport(rec.payload);
      return { projectId: rec.projectId, export: exp };
    } catch (err) {
      // It was valid when it was accepted; an unreadable record now is damage on disk.
      this.o.logger.error('writer: a spooled record could not be read back and is skipped', { position, error: err as Error });
      return null;
    }
  }

  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { initialMs, maxMs } = this.o.retry ?? { initialMs: 100, maxMs: 10_000 };
    let delay = initialMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn();
        if (attempt > 1) this.o.logger.info(`writer: ${what} succeeded after ${attempt} attempts`);
        this.s.lastError = null;
        return result;
      } catch (err) {
        this.s.failedAttempts++;
        this.s.lastError = `${what}: ${(err as Error).message}`;
        const retryable = !(err instanceof StoreError) || err.retryable;
        this.o.logger[attempt === 1 ? 'warn' : 'debug'](`writer: ${what} failed; retrying`, { attempt, retryable, error: err as Error });
        if (this.abandon) throw new Error('writer stopped before the batch was written');
        // Permanent errors are retried too, more slowly: the data stays in the spool and nothing
        // acknowledged is dropped; /readyz shows the error meanwhile.
        await new Promise((r) => setTimeout(r, retryable ? delay : maxMs));
        delay = Math.min(maxMs, delay * 2);
      }
    }
  }
}

function collectEdges(resolved: ResolvedBatch) {
  const edges = new EdgeCollector();
  for (const s of resolved.spans) edges.add(s.resolved, Number(s.span.startTimeUnixNano / 1_000_000n));
  for (const f of resolved.fixups) edges.add(f.resolved, f.startMs);
  return edges.toList();
}
