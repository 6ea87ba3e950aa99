import { parentPort, workerData } from 'node:worker_threads';
import type { SpanEncoder } from '../../storage/span-store.ts';
import { KEYS_READ_AT_INGEST } from '../conventions.ts';
import { decodeJsonExport } from '../otlp/decode-json.ts';
import { decodeProtobufExport } from '../otlp/decode-protobuf.ts';
import { ANY_START, startWindowAt } from '../otlp/span-rules.ts';
import { BatchPreparer } from './batch-preparer.ts';
import { PreparationFailure, type FromPreparation, type PreparationOptions, type RecordPayload, type ToPreparation } from './preparation-protocol.ts';
import type { DecodedRecord } from './write-queue.ts';

// The writer's preparation thread: decodes spooled requests, resolves lineage, classifies prompts,
// collects evaluations and graph edges, and encodes rows (batch-preparer.ts), off the thread that
// receives and acknowledges requests. Its garbage (the decoded spans, the rows as strings) is
// collected here, not there. It reaches the stores only through the writer, by message (the
// writer retries those calls as it retries its own), and answers requests one at a time, in order.

const port = parentPort!;
const options = workerData as PreparationOptions;
const { encodeSpans } = (await import(options.encoderModule)) as { encodeSpans: SpanEncoder };

/** The attempts the writer gives the store calls of the request being answered. */
let attempts = 1;
let nextCall = 0;
const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

function ask<T>(op: 'load' | 'classify', args: unknown[]): Promise<T> {
  const id = ++nextCall;
  return new Promise<T>((resolve, reject) => {
    calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
    post({ t: 'call', id, op, args, attempts });
  });
}

function post(m: FromPreparation, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

const preparer = new BatchPreparer({
  load: (projectId, traceIds) => ask('load', [projectId, traceIds]),
  classify: options.classify ? (projectId, prompt) => ask('classify', [projectId, prompt]) : null,
  encode: encodeSpans,
  // The writer's failures come back as they are; one of this thread's own is a refusal of the data.
  call: async (storeCall, fn) => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof PreparationFailure) throw err;
      throw new PreparationFailure('refusal', `${storeCall.what}: ${(err as Error).message}`);
    }
  },
  collectEvaluations: options.collectEvaluations,
  resolverCacheBytes: options.resolverCacheBytes,
  maxFixupsPerBatch: options.maxFixupsPerBatch,
});

/**
 * The traces of the latest preparations, by request id, for `forget` (which names the preparation
 * that took a record's spans as stored). At most two batches are in flight (one written, one
 * prepared ahead), and a refused batch is taken apart only after both: the last few are enough.
 */
const tracesOfPrepare = new Map<number, Array<{ projectId: string; traceIds: Set<string> }>>();
const REMEMBERED_PREPARATIONS = 16;
/** The span counts of the records being prepared, once decoded: sent back with a failure too. */
let decodedSpans: number[] | undefined;

function decode(p: RecordPayload): DecodedRecord {
  const window = options.spanTimeWindow === null || p.receivedAtMs === null ? ANY_START : startWindowAt(p.receivedAtMs, options.spanTimeWindow);
  const bytes = Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
  // Values the collector only stores stay bytes of the request on their way into the rows.
  const exp = p.kind === 'protobuf' ? decodeProtobufExport(bytes, window, KEYS_READ_AT_INGEST) : decodeJsonExport(bytes, window);
  if (p.onlySpan !== undefined) exp.spans = exp.spans.slice(p.onlySpan, p.onlySpan + 1);
  return { projectId: p.projectId, export: exp };
}

async function prepare(id: number, payloads: RecordPayload[]) {
  const records: Array<DecodedRecord | null> = [];
  const unreadable: Array<{ index: number; message: string }> = [];
  const spansPerRecord: number[] = [];
  const traces: Array<{ projectId: string; traceIds: Set<string> }> = [];
  for (const [index, p] of payloads.entries()) {
    let rec: DecodedRecord | null = null;
    try {
      rec = decode(p);
    } catch (err) {
      unreadable.push({ index, message: (err as Error).message });
    }
    records.push(rec);
    spansPerRecord.push(rec?.export.spans.length ?? 0);
    if (rec) traces.push({ projectId: rec.projectId, traceIds: new Set(rec.export.spans.map((s) => s.traceId)) });
  }
  decodedSpans = spansPerRecord;
  tracesOfPrepare.set(id, traces);
  if (tracesOfPrepare.size > REMEMBERED_PREPARATIONS) tracesOfPrepare.delete(tracesOfPrepare.keys().next().value!);
  const parts = await preparer.prepare(records);
  return { ...parts, spansPerRecord, unreadable };
}

function forget(prepared: number[]): void {
  for (const id of prepared) {
    const t = tracesOfPrepare.get(id);
    if (!t) continue;
    tracesOfPrepare.delete(id);
    preparer.forgetTraces(t);
  }
}

/** Rows cross as their buffers, moved rather than copied. */
function rowBuffers(projects: Array<{ encoded: { rows: Uint8Array } }>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const p of projects) if (p.encoded.rows.byteLength > 0 && p.encoded.rows.buffer instanceof ArrayBuffer) out.add(p.encoded.rows.buffer);
  return [...out];
}

let queue = Promise.resolve();

port.on('message', (m: ToPreparation) => {
  if (m.t === 'answer') {
    const call = calls.get(m.id);
    calls.delete(m.id);
    if (m.ok) call?.resolve(m.value);
    else call?.reject(new PreparationFailure(m.error.kind, m.error.message));
    return;
  }
  // Requests are answered in order, one at a time: a forget takes effect before the next prepare.
  queue = queue.then(async () => {
    if (m.t === 'forget') return forget(m.prepared);
    if (m.t === 'forgetTraces') return preparer.forgetTraces(m.traces);
    attempts = m.attempts;
    decodedSpans = undefined;
    try {
      if (m.t === 'prepare') {
        const value = await prepare(m.id, m.records);
        post({ t: 'done', id: m.id, ok: true, value, unsettledTraces: preparer.unsettledTraces }, rowBuffers(value.projects));
      } else {
        const value = await preparer.prepareSettlement();
        post({ t: 'done', id: m.id, ok: true, value, unsettledTraces: preparer.unsettledTraces }, value ? rowBuffers(value.batch.projects) : []);
      }
    } catch (err) {
      const error = err instanceof PreparationFailure ? { kind: err.kind, message: err.message } : { kind: 'refusal' as const, message: (err as Error).message };
      post({ t: 'done', id: m.id, ok: false, error, unsettledTraces: preparer.unsettledTraces, ...(decodedSpans ? { spansPerRecord: decodedSpans } : {}) });
    }
  });
});

