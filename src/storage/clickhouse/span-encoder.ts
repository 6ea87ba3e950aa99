import { OWN_MODEL, type ResolvedSpan } from '../../domain/stored-span.ts';
import type { EncodedSpans } from '../span-store.ts';
import { encodeSpanRowsSliced, nanosToDateTime64 } from './span-rows.ts';

// The CPU part of writing a batch of spans, with nothing of the engine: the rows in the insert's
// format and what the store needs to know of the batch's model calls. The writer runs it in its
// preparation thread (src/ingest/writer/prepare-worker.ts imports it by the store's encoderModule)
// and hands the result, as bytes and arrays, to the store's stageEncoded on the main thread.

/** What a batch holds of responses and model calls, for the exclusions it may need. */
export interface ModelCalls {
  /** Traces with a span that has a response id. */
  responseTraces: Set<string>;
  /** Traces with a span that named its model and has no response id. */
  modelCallTraces: Set<string>;
  /** Model calls whose trace has a response id in this same batch: their traces and span ids. */
  inBatch: { traces: string[]; spans: string[] };
  /** Their start times (DateTime64 text), for the primary key. */
  from: string;
  to: string;
}

/** ModelCalls as it crosses threads: arrays for sets. */
export interface EncodedModelCalls {
  responseTraces: string[];
  modelCallTraces: string[];
  inBatch: { traces: string[]; spans: string[] };
  from: string;
  to: string;
}

function modelCallsOf(spans: readonly ResolvedSpan[]): EncodedModelCalls {
  const responseTraces = new Set<string>();
  const calls: ResolvedSpan[] = [];
  for (const r of spans) {
    if (r.resolved.responseId) responseTraces.add(r.span.traceId);
    else if (r.ownMask & OWN_MODEL) calls.push(r);
  }
  const inBatch = calls.filter((r) => responseTraces.has(r.span.traceId));
  let lo = 0n;
  let hi = 0n;
  for (const [i, r] of inBatch.entries()) {
    const t = r.span.startTimeUnixNano;
    if (i === 0 || t < lo) lo = t;
    if (i === 0 || t > hi) hi = t;
  }
  return {
    responseTraces: [...responseTraces],
    modelCallTraces: [...new Set(calls.map((r) => r.span.traceId))],
    inBatch: { traces: [...new Set(inBatch.map((r) => r.span.traceId))], spans: inBatch.map((r) => r.span.spanId) },
    from: nanosToDateTime64(lo),
    to: nanosToDateTime64(hi),
  };
}

export function modelCallsFrom(e: EncodedModelCalls): ModelCalls {
  return { responseTraces: new Set(e.responseTraces), modelCallTraces: new Set(e.modelCallTraces), inBatch: e.inBatch, from: e.from, to: e.to };
}

/** The rows of a batch's spans and the facts the store's write needs of them (SpanEncoder, span-store.ts). */
export async function encodeSpans(projectId: string, spans: readonly ResolvedSpan[]): Promise<EncodedSpans> {
  if (spans.length === 0) return { spans: 0, rows: new Uint8Array(0), facts: null };
  return { spans: spans.length, rows: await encodeSpanRowsSliced(projectId, spans), facts: modelCallsOf(spans) };
}
