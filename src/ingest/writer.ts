import { closeSync, fsyncSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OwnLineage } from '../domain/lineage.ts';
import type { DecodedExport, DecodedSpan } from '../domain/span.ts';
import { StoreError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { LineageGraph } from '../storage/lineage-graph.ts';
import type { PreparedSpans, SpanStore } from '../storage/span-store.ts';
import { evaluationEdges, evaluationsOf } from './evaluations.ts';
import { EdgeCollector } from './graph-edges.ts';
import type { EvaluationRow, SpanAnalytics } from '../storage/span-analytics.ts';
import type { EdgeObservation } from '../domain/graph.ts';
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
  /** Decoded spans (of JSON requests) held in memory at most; beyond, records are re-read from disk. */
  maxSpansInMemory?: number;
  /** Bytes of checked protobuf requests held in memory at most; beyond, records are re-read from disk. */
  maxBytesInMemory?: number;
  retry?: { initialMs: number; maxMs: number };
  /** Where records the stores refuse for good are kept, whole. */
  deadLetterDir: string;
  /** Where evaluation results found on spans are written; without it, they stay span attributes only. */
  analytics?: SpanAnalytics;
  /** Says whether a seen prompt is a registered version; without it, spans are not marked. */
  classifyPrompt?: (projectId: string, prompt: { name: string; version: string; templateHash: string }) => Promise<string>;
}

/** The stores refused data for a reason that waiting will not change. */
export class PermanentWriteFailure extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'PermanentWriteFailure';
  }
}

interface Rec {
  entry: QueueEntry;
  decoded: { projectId: string; export: DecodedExport } | null;
}

/**
 * What the receiver hands over with a record once it is durable: a JSON request decoded, or a
 * protobuf request's bytes, checked (the writer decodes them when their turn comes).
 */
export type WriterAttachment = { projectId: string; export: DecodedExport } | { projectId: string; raw: Buffer; spans: number };

/** A write's deduplication token: the spool's id and the records' span of positions, unique for good. */
const tokenOf = (spoolId: string, records: Rec[]) => {
  const a = records[0]!.entry.position;
  const b = records.at(-1)!.entry.position;
  return `${spoolId}/${a.segment}:${a.offset}-${b.segment}:${b.offset}`;
};

/** Bytes of spooled requests in one batch at most, whatever their span count (recovered records have none yet). */
const BATCH_MAX_BYTES = 32 * 1024 * 1024;

/** A batch taken from the queue, decoded, its preparation under way. */
interface Ahead {
  batch: QueueEntry[];
  records: Rec[];
  token: string;
  prepared: Promise<Prepared>;
}

interface Prepared {
  records: number;
  projects: Array<{ projectId: string; resolved: ResolvedBatch; evaluations: EvaluationRow[]; edges: EdgeObservation[]; rows: PreparedSpans | undefined }>;
  prepareMs: number;
}

interface QueueEntry {
  position: SpoolPosition;
  /** The request as the receiver handed it over, while the memory budget allows; else null (re-read from the spool). */
  held: WriterAttachment | null;
  spanCount: number;
}

export interface WriterStats {
  queuedRecords: number;
  queuedSpans: number;
  writtenSpans: number;
  fixups: number;
  failedAttempts: number;
  deadLettered: number;
  lastError: string | null;
}

export class SpanWriter {
  private readonly o: WriterOptions;
  private readonly resolver: LineageResolver;
  private readonly queue: QueueEntry[] = [];
  private queuedSpans = 0;
  private inMemorySpans = 0;
  private inMemoryBytes = 0;
  private wake: (() => void) | null = null;
  private stopping = false;
  private abandon = false;
  private loop: Promise<void> | null = null;
  private readonly s: WriterStats = { queuedRecords: 0, queuedSpans: 0, writtenSpans: 0, fixups: 0, failedAttempts: 0, deadLettered: 0, lastError: null };
  private idleWaiters: Array<() => void> = [];

  constructor(opts: WriterOptions) {
    this.o = opts;
    this.resolver = new LineageResolver({ load: (p, ids) => opts.spans.loadStoredNodes(p, ids) });
  }

  /** Queues records found in the spool at start, then starts draining. */
  start(): void {
    for (const position of this.o.spool.takeRecovered()) this.push({ position, held: null, spanCount: 0 });
    this.loop = this.run();
  }

  /** The spool's onDurable hook: a request is on disk and may be written to the stores. */
  enqueue(position: SpoolPosition, attachment: WriterAttachment | null): void {
    if (!attachment) return this.push({ position, held: null, spanCount: 0 });
    // Within the budgets the request stays in memory; past them it is read back from the spool.
    if ('raw' in attachment) {
      const keep = this.inMemoryBytes + attachment.raw.length <= (this.o.maxBytesInMemory ?? 128 * 1024 * 1024);
      if (keep) this.inMemoryBytes += attachment.raw.length;
      return this.push({ position, held: keep ? attachment : null, spanCount: attachment.spans });
    }
    const spans = attachment.export.spans.length;
    const keep = this.inMemorySpans + spans <= (this.o.maxSpansInMemory ?? 50_000);
    if (keep) this.inMemorySpans += spans;
    this.push({ position, held: keep ? attachment : null, spanCount: spans });
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
  private failedLoops = 0;

  /**
   * The loop. Batches are written one at a time and in order; while the stores take one batch,
   * the next is prepared (decoded, its lineage resolved, its edges and evaluations collected), so
   * that the JavaScript work and ClickHouse's work overlap instead of taking turns.
   */
  private async run(): Promise<void> {
    let ahead: Ahead | null = null;
    while (!this.abandon) {
      let current: Ahead;
      if (ahead) {
        current = ahead;
        ahead = null;
      } else {
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
        current = this.prepareAhead(this.takeBatch());
      }
      const next = {
        // The stores are busy with `current`: prepare the next batch meanwhile, if one is waiting.
        start: () => {
          if (!this.abandon && this.queue.length > 0) ahead = this.prepareAhead(this.takeBatch());
        },
        // `ahead` was prepared as if `current` were stored: when it is not, it is prepared again later.
        undo: async () => {
          if (!ahead) return;
          const undone: Ahead = ahead;
          ahead = null;
          await undone.prepared.catch(() => undefined);
          this.forgetTraces(undone.records);
          for (const e of undone.batch) e.held = null;
          this.queue.unshift(...undone.batch);
        },
      };
      try {
        await this.writePrepared(current, next);
        this.failedLoops = 0;
      } catch (err) {
        await next.undo();
        if (this.abandon) return; // stopped mid-batch: the batch stays in the spool for the next start
        // Something outside the stores failed (the checkpoint or dead-letter file on a full disk,
        // say). The batch goes back to the head of the queue and is tried again after a pause.
        this.failedLoops++;
        this.s.lastError = `writer: ${(err as Error).message}`;
        this.o.logger.error('writer: a batch failed outside the stores; it will be tried again', { error: err as Error, attempt: this.failedLoops });
        this.queue.unshift(...current.batch);
        await new Promise((r) => setTimeout(r, Math.min(10_000, 100 * 2 ** Math.min(this.failedLoops, 7))));
      }
    }
  }

  private takeBatch(): QueueEntry[] {
    const batch: QueueEntry[] = [];
    let spans = 0;
    let bytes = 0;
    while (
      this.queue.length > 0 &&
      (batch.length === 0 || (spans + this.queue[0]!.spanCount <= this.o.batchMaxSpans && bytes + this.queue[0]!.position.size <= BATCH_MAX_BYTES))
    ) {
      const e = this.queue.shift()!;
      spans += e.spanCount;
      bytes += e.position.size;
      batch.push(e);
    }
    return batch;
  }

  /** Starts decoding and preparing a batch. */
  private prepareAhead(batch: QueueEntry[]): Ahead {
    const records: Rec[] = batch.map((entry) => ({ entry, decoded: null }));
    const token = tokenOf(this.o.spool.id, records);
    const prepared = (async () => {
      // Record by record, letting the receiver in between: a batch decodes in a few hundred ms.
      for (const r of records) {
        r.decoded = this.decodedOf(r.entry);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return this.prepare(records, 2);
    })();
    // Failures are handled where it is awaited; this keeps an unawaited rejection quiet meanwhile.
    prepared.catch(() => undefined);
    return { batch, records, token, prepared };
  }

  /**
   * Writes a prepared batch and moves the checkpoint past it; `next.start` runs once the stores
   * have the batch in hand. A store that refuses the batch for good goes the careful way
   * (writeRecords: record by record, then span by span), after the next batch is put back.
   */
  private async writePrepared(current: Ahead, next: { start: () => void; undo: () => Promise<void> }): Promise<void> {
    const { records, token } = current;
    try {
      await this.apply(await current.prepared, token, 2, next.start);
    } catch (err) {
      this.forgetTraces(records);
      if (!(err instanceof PermanentWriteFailure) || this.abandon) throw err;
      await next.undo();
      await this.writeRecords(records, err);
      return;
    }
    if (this.abandon) return;
    await this.o.spool.commit(records.at(-1)!.entry.position, records.length);
    this.queuedSpans -= records.reduce((n, r) => n + r.entry.spanCount, 0);
  }

  /** A queued record's spans: from memory (decoding held protobuf bytes) or read back from the spool. */
  private decodedOf(entry: QueueEntry): { projectId: string; export: DecodedExport } | null {
    const held = entry.held;
    entry.held = null;
    if (!held) return this.readBack(entry.position);
    if (!('raw' in held)) {
      this.inMemorySpans -= entry.spanCount;
      return held;
    }
    this.inMemoryBytes -= held.raw.length;
    try {
      return { projectId: held.projectId, export: decodeProtobufExport(held.raw) };
    } catch (err) {
      // The receiver checked it; a failure now is a bug, not bad data: the spool has it, read it back.
      this.o.logger.error('writer: a checked request did not decode; reading it back from the spool', { position: entry.position, error: err as Error });
      return this.readBack(entry.position);
    }
  }

  /**
   * Writes records and moves the checkpoint past them. A store that refuses them for good (not an
   * outage: data it cannot take) must not hold up everything behind them: the records are then
   * written one by one, and a record refused alone is salvaged span by span and kept whole in the
   * dead-letter folder. `refused`: the stores already refused these records together.
   */
  private async writeRecords(records: Rec[], refused?: PermanentWriteFailure): Promise<void> {
    try {
      if (refused) throw refused;
      await this.store(records, tokenOf(this.o.spool.id, records));
    } catch (err) {
      if (!(err instanceof PermanentWriteFailure) || this.abandon) throw err;
      if (records.length > 1) {
        for (const r of records) await this.writeRecords([r]);
        return;
      }
      await this.salvage(records[0]!, err);
    }
    if (this.abandon) return;
    await this.o.spool.commit(records.at(-1)!.entry.position, records.length);
    this.queuedSpans -= records.reduce((n, r) => n + r.entry.spanCount, 0);
  }

  /** The resolver has taken these spans as stored; forget their traces, so that the next attempt reads back what really is there. */
  private forgetTraces(records: Rec[]): void {
    for (const { decoded } of records) if (decoded) this.resolver.forget(decoded.projectId, decoded.export.spans.map((s) => s.traceId));
  }

  /** Resolves lineage and writes spans, lineage fixups and graph edges; retries what may pass later. */
  private async store(records: Rec[], token: string, permanentAttempts = 2): Promise<void> {
    try {
      await this.apply(await this.prepare(records, permanentAttempts), token, permanentAttempts);
    } catch (err) {
      this.forgetTraces(records);
      throw err;
    }
  }

  /** What a batch needs before the stores: its spans' lineage resolved, prompts classified, evaluations and edges collected. */
  private async prepare(records: Rec[], permanentAttempts: number): Promise<Prepared> {
    const t0 = performance.now();
    const byProject = new Map<string, Array<{ span: DecodedSpan; own: OwnLineage }>>();
    for (const { decoded } of records) {
      if (!decoded) continue;
      let list = byProject.get(decoded.projectId);
      if (!list) byProject.set(decoded.projectId, (list = []));
      for (const span of decoded.export.spans) list.push({ span, own: readOwnLineage(span) });
      if (records.length > 1) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const projects: Prepared['projects'] = [];
    for (const [projectId, items] of byProject) {
      const resolved = await this.retrying('resolve lineage', () => this.resolver.resolve(projectId, items), permanentAttempts);
      await this.retrying('classify prompts', () => this.markRegistration(projectId, resolved), permanentAttempts);
      const evaluations = this.o.analytics ? evaluationsOf(resolved.spans) : [];
      const edges = [...collectEdges(resolved), ...evaluationEdges(evaluations)];
      const rows = resolved.spans.length > 0 ? await this.o.spans.prepareSpans?.(projectId, resolved.spans) : undefined;
      projects.push({ projectId, resolved, evaluations, edges, rows });
    }
    return { records: records.length, projects, prepareMs: performance.now() - t0 };
  }

  /** Writes a prepared batch to the stores; `started` is called once the span write is under way. */
  private async apply(p: Prepared, token: string, permanentAttempts: number, started?: () => void): Promise<void> {
    let written = 0;
    const t0 = performance.now();
    const ms: Record<string, number> = { spans: 0, fixups: 0, edges: 0 };
    const timed = async <T>(phase: string, what: string, fn: () => Promise<T>): Promise<T> => {
      const start = performance.now();
      try {
        return await this.retrying(what, fn, permanentAttempts);
      } finally {
        ms[phase]! += performance.now() - start;
      }
    };
    let first = true;
    for (const { projectId, resolved, evaluations, edges, rows } of p.projects) {
      const writing = timed('spans', 'write spans', () => this.o.spans.writeSpans(projectId, resolved.spans, `${projectId}/${token}`, rows));
      if (first) {
        first = false;
        started?.();
      }
      await writing;
      await timed('fixups', 'apply lineage fixups', () => this.o.spans.applyFixups(projectId, resolved.fixups, `${projectId}/${token}/fix`));
      if (evaluations.length > 0) await timed('spans', 'write evaluations', () => this.o.analytics!.writeEvaluations(projectId, evaluations, `${projectId}/${token}/eval`));
      await timed('edges', 'record lineage edges', () => this.o.graph.recordEdges(projectId, edges));
      written += resolved.spans.length;
      this.s.fixups += resolved.fixups.length;
    }
    if (first) started?.();
    this.s.writtenSpans += written;
    this.o.logger.debug('writer: batch written', {
      records: p.records,
      spans: written,
      prepareMs: Math.round(p.prepareMs),
      totalMs: Math.round(performance.now() - t0),
      ...Object.fromEntries(Object.entries(ms).map(([k, v]) => [`${k}Ms`, Math.round(v)])),
    });
  }

  private readonly registrationCache = new Map<string, { status: string; until: number }>();

  /** Marks each span's prompt as registered or not; answers are cached briefly (registrations are rare). */
  private async markRegistration(projectId: string, resolved: ResolvedBatch): Promise<void> {
    const classify = this.o.classifyPrompt;
    if (!classify) return;
    const now = Date.now();
    const statusOf = async (p: { name: string; version: string; templateHash: string }) => {
      const key = JSON.stringify([projectId, p.name, p.version, p.templateHash]);
      const hit = this.registrationCache.get(key);
      if (hit && hit.until > now) return hit.status;
      const status = await classify(projectId, p);
      if (this.registrationCache.size > 10_000) this.registrationCache.clear();
      this.registrationCache.set(key, { status, until: now + 30_000 });
      return status;
    };
    for (const s of resolved.spans) if (s.resolved.prompt) s.registration = await statusOf(s.resolved.prompt);
    for (const f of resolved.fixups) if (f.resolved.prompt) f.registration = await statusOf(f.resolved.prompt);
  }

  /** One record the stores refuse: keep it whole on disk, and store each span that they take. */
  private async salvage(rec: Rec, failure: PermanentWriteFailure): Promise<void> {
    const { position } = rec.entry;
    const file = this.deadLetter(position, failure);
    let refused = 0;
    const spans = rec.decoded?.export.spans ?? [];
    for (let i = 0; i < spans.length; i++) {
      const one: Rec = { entry: rec.entry, decoded: { projectId: rec.decoded!.projectId, export: { spans: [spans[i]!], rejected: 0, rejectionReasons: [] } } };
      try {
        await this.store([one], `${tokenOf(this.o.spool.id, [rec])}#${i}`, 1);
      } catch (err) {
        if (!(err instanceof PermanentWriteFailure)) throw err;
        refused++;
      }
    }
    this.s.deadLettered++;
    this.o.logger.error('writer: the stores refused a record; its other spans are stored and the record is kept whole in the dead-letter folder', {
      position,
      spans: spans.length,
      refusedSpans: refused,
      file,
      reason: failure.message,
    });
  }

  /** Writes the record's bytes and the reason to the dead-letter folder, durably. */
  private deadLetter(position: SpoolPosition, failure: Error): string {
    const dir = this.o.deadLetterDir;
    mkdirSync(dir, { recursive: true });
    const rec = this.o.spool.read(position);
    const base = join(dir, `${String(position.segment).padStart(20, '0')}-${String(position.offset).padStart(12, '0')}`);
    const durable = (path: string, data: string | Uint8Array) => {
      const fd = openSync(path, 'w');
      try {
        writeFileSync(fd, data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    };
    durable(`${base}${rec.kind === RECORD_PROTOBUF ? '.otlp.pb' : '.otlp.json'}`, rec.payload);
    durable(`${base}.reason.json`, JSON.stringify({ projectId: rec.projectId, at: new Date().toISOString(), reason: failure.message }, null, 2));
    return base;
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

  private async retrying<T>(what: string, fn: () => Promise<T>, permanentAttempts = 2): Promise<T> {
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
        // An outage is waited out for as long as it lasts: the data stays in the spool meanwhile.
        // Anything else is tried again once, then reported as data the stores will not take.
        const retryable = err instanceof StoreError && err.retryable;
        this.o.logger[attempt === 1 ? 'warn' : 'debug'](`writer: ${what} failed`, { attempt, retryable, error: err as Error });
        if (this.abandon) throw new Error('writer stopped before the batch was written');
        if (!retryable && attempt >= permanentAttempts) throw new PermanentWriteFailure(`${what}: ${(err as Error).message}`, err);
        await new Promise((r) => setTimeout(r, delay));
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
