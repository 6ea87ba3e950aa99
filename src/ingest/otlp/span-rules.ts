import { OTLP_LIMITS } from './limits.ts';

// The rules for one span, the same whatever the encoding: when a span is refused (partial
// success) and for which reason, and which of its values are changed into what can be stored.
// The decoders read the facts their own way — byte ranges on the wire, hex strings in JSON,
// protobufjs objects — and ask here. The wire decoder and the receipt-time scanner are the hot
// path, so every rule takes numbers, booleans and bigints and allocates nothing.

export const TRACE_ID_BYTES = 16;
export const SPAN_ID_BYTES = 8;

const SPAN_REFUSALS = Object.freeze({
  traceId: `traceId must be ${TRACE_ID_BYTES} bytes and not all zero`,
  spanId: `spanId must be ${SPAN_ID_BYTES} bytes and not all zero`,
  parentSpanId: `parentSpanId must be ${SPAN_ID_BYTES} bytes or empty`,
  timeNotNanoseconds: 'span times must be unsigned 64-bit nanoseconds',
  timeTooLate: 'span times must be before 2262-04-11',
});

/**
 * Why a span is refused, or null when it is kept; the first rule broken gives the reason. An id's
 * length is in bytes: 0 when it is absent, -1 when it cannot be read as bytes at all.
 */
export function spanRefusal(
  traceIdBytes: number,
  traceIdAllZero: boolean,
  spanIdBytes: number,
  spanIdAllZero: boolean,
  parentSpanIdBytes: number,
  timesAreNanoseconds: boolean,
  timesTooLate: boolean,
): string | null {
  if (traceIdBytes !== TRACE_ID_BYTES || traceIdAllZero) return SPAN_REFUSALS.traceId;
  if (spanIdBytes !== SPAN_ID_BYTES || spanIdAllZero) return SPAN_REFUSALS.spanId;
  if (parentSpanIdBytes !== 0 && parentSpanIdBytes !== SPAN_ID_BYTES) return SPAN_REFUSALS.parentSpanId;
  if (!timesAreNanoseconds) return SPAN_REFUSALS.timeNotNanoseconds;
  if (timesTooLate) return SPAN_REFUSALS.timeTooLate;
  return null;
}

/** Refused spans of one request, with the first few distinct reasons for the answer's message. */
export interface Refusals {
  rejected: number;
  reasons: string[];
}

const MAX_REASONS = 5;

export function countRefusal(refusals: Refusals, reason: string): void {
  refusals.rejected++;
  if (refusals.reasons.length < MAX_REASONS && !refusals.reasons.includes(reason)) refusals.reasons.push(reason);
}

/** OTLP writes "no parent" as an empty id; some SDKs write it as eight zero bytes. */
export const hasParent = (parentSpanIdBytes: number, parentSpanIdAllZero: boolean): boolean => parentSpanIdBytes === SPAN_ID_BYTES && !parentSpanIdAllZero;

const MAX_TIME = OTLP_LIMITS.maxTimeUnixNano;
const MAX_TIME_HIGH = Number(MAX_TIME >> 32n);
const MAX_TIME_LOW = Number(MAX_TIME & 0xffff_ffffn);

export const isTooLate = (timeUnixNano: bigint): boolean => timeUnixNano > MAX_TIME;

/** isTooLate of a little-endian fixed64 at `at`, read as two 32-bit halves so that no bigint is made. */
export function isFixed64TooLate(view: DataView, at: number): boolean {
  const high = view.getUint32(at + 4, true);
  return high > MAX_TIME_HIGH || (high === MAX_TIME_HIGH && view.getUint32(at, true) > MAX_TIME_LOW);
}

/** A span that ends before it starts is kept as ending when it starts. */
export const storedEndTime = (start: bigint, end: bigint): bigint => (end < start ? start : end);

/** An event time that cannot be stored (unreadable, or too late) takes the span's start. */
export const storedEventTime = (time: bigint | null, spanStart: bigint): bigint => (time === null || time > MAX_TIME ? spanStart : time);

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A 64-bit integer value is a number when a number holds it exactly, else a bigint. */
export const storedInteger = (n: bigint): number | bigint => (n >= MIN_SAFE && n <= MAX_SAFE ? Number(n) : n);

/** NaN and the infinities have no JSON number and no place in a number column: they are kept as their text. */
export const storedDouble = (x: number): number | string => (Number.isFinite(x) ? x : String(x));
