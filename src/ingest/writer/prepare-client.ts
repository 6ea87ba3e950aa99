import { Worker } from 'node:worker_threads';
import type { Logger } from '../../common/logger.ts';
import type { SpanSink } from '../../storage/span-store.ts';
import type { BatchRecord, PreparedBatch } from './batch.ts';
import type { PreparedParts } from './batch-preparer.ts';
import type { FailureKind, FromPreparation, PreparationOptions, PreparedRecords, PreparedSettlement, ToPreparation } from './preparation-protocol.ts';
import type { ClassifyPrompt } from './registration.ts';
import { STORE_CALLS, type StoreRetry } from './store-retry.ts';
import { isRefusal, PermanentWriteFailure, WriterStopped } from './write-failures.ts';

// The writer's side of its preparation thread (prepare-worker.ts): sends it batches of spooled
// requests as bytes and gets back, per project, the rows encoded, the lineage fixups, evaluations
// and graph edges, which the span store stages here. The thread's calls to the stores (stored
// nodes of traces, prompt registrations) are made here, through the writer's retry. The receiver's
// event loop so only reads, checks, spools and answers, and the writer's decoding, lineage and
// encoding, with their garbage, run beside it. A thread that dies is started again at the next
// request; what it held (the resolver's cache) is a cache, read again from the store.

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void; onSpans?: (spansPerRecord: number[]) => void };

export class PreparationThread {
  private readonly sink: SpanSink;
  private readonly retry: StoreRetry;
  private readonly classify: ClassifyPrompt | null;
  private readonly logger: Logger;
  private readonly options: PreparationOptions;
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private unsettled = 0;
  private closed = false;

  constructor(o: { sink: SpanSink; retry: StoreRetry; classify: ClassifyPrompt | null; logger: Logger; options: Omit<PreparationOptions, 'encoderModule' | 'classify'> }) {
    this.sink = o.sink;
    this.retry = o.retry;
    this.classify = o.classify;
    this.logger = o.logger;
    this.options = { ...o.options, encoderModule: o.sink.encoderModule, classify: o.classify !== null };
  }

  /** Traces with stored rows still to rewrite, as of the thread's last answer. */
  get unsettledTraces(): number {
    return this.unsettled;
  }

  /** Prepares a batch; from here on the thread takes its spans as stored (until `forget`). */
  async prepare(records: BatchRecord[], attempts: number): Promise<PreparedBatch> {
    const readable = records.filter((r) => r.payload !== null);
    const id = ++this.nextId;
    for (const r of records) r.preparedIn = id;
    const value = (await this.request(
      { t: 'prepare', id, attempts, records: readable.map((r) => r.payload!) },
      // Refused or not, the records' span counts are known once decoded: a refused record is then stored span by span.
      (spansPerRecord) => spansPerRecord.forEach((n, i) => (readable[i]!.spans = n)),
    )) as PreparedRecords;
    for (const [i, n] of value.spansPerRecord.entries()) readable[i]!.spans = n;
    for (const { index, message } of value.unreadable) {
      readable[index]!.payload = null;
      this.logger.error('writer: a spooled record could not be decoded and is skipped', { position: readable[index]!.entry.position, error: message });
    }
    return this.staged(records.length, value);
  }

  /** The next settlement step (BatchPreparer.prepareSettlement); null when every trace is settled. */
  async prepareSettlement(attempts: number): Promise<{ batch: PreparedBatch; traces: PreparedSettlement['traces'] } | null> {
    const value = (await this.request({ t: 'settle', id: ++this.nextId, attempts })) as PreparedSettlement | null;
    return value ? { batch: this.staged(0, value.batch), traces: value.traces } : null;
  }

  /** These records' spans did not reach the stores after all: the thread reads their traces back from the store when next seen. */
  forget(records: readonly BatchRecord[]): void {
    const prepared = [...new Set(records.map((r) => r.preparedIn).filter((p) => p !== undefined))];
    if (prepared.length > 0) this.send({ t: 'forget', prepared });
  }

  /** These traces' rewrites did not reach the store. */
  forgetTraces(traces: PreparedSettlement['traces']): void {
    this.send({ t: 'forgetTraces', traces });
  }

  /** Ends the thread; what it was preparing fails with WriterStopped (it stays in the spool). */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(new WriterStopped());
    if (w) await w.terminate();
  }

  private staged(records: number, parts: PreparedParts): PreparedBatch {
    return {
      records,
      prepareMs: parts.prepareMs,
      projects: parts.projects.map((p) => ({
        projectId: p.projectId,
        spanCount: p.spans,
        fixups: p.fixups,
        evaluations: p.evaluations,
        edges: p.edges,
        spans: this.sink.stageEncoded(p.projectId, p.encoded),
      })),
    };
  }

  private request(m: Extract<ToPreparation, { t: 'prepare' | 'settle' }>, onSpans?: (spansPerRecord: number[]) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending.set(m.id, { resolve, reject, onSpans });
      this.send(m);
    });
  }

  private send(m: ToPreparation): void {
    if (this.closed) {
      // After stop, what the thread would forget goes with it; a request fails as the stop does.
      if (m.t === 'prepare' || m.t === 'settle') throw new WriterStopped();
      return;
    }
    const w = this.thread();
    // Held while it has work, so that a process waiting on the writer does not end under it.
    if (this.pending.size > 0) w.ref();
    w.postMessage(m);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./prepare-worker.ts', import.meta.url), { workerData: this.options, name: 'promptline-prepare' });
    w.unref();
    w.on('message', (m: FromPreparation) => this.onMessage(w, m));
    w.on('error', (err: Error) => this.lost(w, err));
    w.on('exit', (code) => this.lost(w, new Error(`the writer's preparation thread exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  /** Every request in flight fails (the writer tries its batch again) and the next one starts a new thread. */
  private lost(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = null;
    if (!this.closed) this.logger.error("writer: the preparation thread stopped; it is started again with the next batch", { error: err });
    // A new thread holds no unsettled traces: their stored rows are compared again when the traces next receive spans.
    this.unsettled = 0;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(this.closed ? new WriterStopped() : err);
  }

  private onMessage(w: Worker, m: FromPreparation): void {
    if (m.t === 'call') {
      void this.answer(w, m);
      return;
    }
    const p = this.pending.get(m.id);
    this.pending.delete(m.id);
    this.unsettled = m.unsettledTraces;
    if (this.pending.size === 0) w.unref();
    if (!p) return;
    if (m.ok) return p.resolve(m.value);
    if (m.spansPerRecord) p.onSpans?.(m.spansPerRecord);
    p.reject(failureOf(m.error.kind, m.error.message));
  }

  /** A store call of the thread's, made through the writer's retry. */
  private async answer(w: Worker, m: Extract<FromPreparation, { t: 'call' }>): Promise<void> {
    let reply: ToPreparation;
    try {
      const value =
        m.op === 'load'
          ? await this.retry.call(STORE_CALLS.resolveLineage, () => this.sink.loadStoredNodes(m.args[0] as string, m.args[1] as string[]), m.attempts)
          : await this.retry.call(STORE_CALLS.classifyPrompts, () => this.classify!(m.args[0] as string, m.args[1] as Parameters<ClassifyPrompt>[1]), m.attempts);
      reply = { t: 'answer', id: m.id, ok: true, value };
    } catch (err) {
      reply = { t: 'answer', id: m.id, ok: false, error: { kind: kindOf(err), message: (err as Error).message } };
    }
    if (this.worker === w) w.postMessage(reply);
  }
}

function kindOf(err: unknown): FailureKind {
  if (isRefusal(err)) return 'refusal';
  if (err instanceof WriterStopped) return 'stopped';
  return 'error';
}

function failureOf(kind: FailureKind, message: string): Error {
  if (kind === 'refusal') return new PermanentWriteFailure(message, undefined);
  if (kind === 'stopped') return new WriterStopped();
  return new Error(message);
}
