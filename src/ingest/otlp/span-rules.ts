import { attrToString, type AttrValue } from '../../domain/span.ts';
import * as c from '../conventions.ts';
import { OTLP_LIMITS } from './limits.ts';

// The rules for one span, the same whatever the encoding: when a span is refused (partial
// success) and for which reason, and which of its values are changed into what can be stored.
// The decoders read the facts their own way — byte ranges on the wire, hex strings in JSON,
// protobufjs objects — and ask here. The wire decoder and the receipt-time scanner are the hot
// path, so every rule takes numbers, booleans and bigints and allocates nothing, but the bound on
// lineage values, which reads a value only when it is long enough to break it.

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
 * Why a span is refused, or null when it is kept; the first rule broken gives the reason, in the
 * order ids, parent, times, start-time window, lineage values. An id's length is in bytes: 0 when it
 * is absent, -1 when it cannot be read as bytes at all. `startSide` is where the start time falls
 * against `window` (startWindowSide), and `lineage` the first lineage value over its bound found on
 * the span or its resource (lineageRefusal), or null.
 */
export function spanRefusal(
  traceIdBytes: number,
  traceIdAllZero: boolean,
  spanIdBytes: number,
  spanIdAllZero: boolean,
  parentSpanIdBytes: number,
  timesAreNanoseconds: boolean,
  timesTooLate: boolean,
  startSide: number = 0,
  window: StartWindow = ANY_START,
  lineage: string | null = null,
): string | null {
  if (traceIdBytes !== TRACE_ID_BYTES || traceIdAllZero) return SPAN_REFUSALS.traceId;
  if (spanIdBytes !== SPAN_ID_BYTES || spanIdAllZero) return SPAN_REFUSALS.spanId;
  if (parentSpanIdBytes !== 0 && parentSpanIdBytes !== SPAN_ID_BYTES) return SPAN_REFUSALS.parentSpanId;
  if (!timesAreNanoseconds) return SPAN_REFUSALS.timeNotNanoseconds;
  if (timesTooLate) return SPAN_REFUSALS.timeTooLate;
  if (startSide < 0) return window.tooOld;
  if (startSide > 0) return window.tooNew;
  return lineage;
}

// The start-time window. Spans are stored in one partition per day of their start time, which the
// client chooses: without a window, one request of spans a day apart makes a partition (and parts,
// and merges) per span. A span must start within maxAge before and maxFuture after the time its
// request was received; the writer judges a spooled request by the same time, so a request waiting
// in the spool (an outage, a restart) is judged as it was when it was acknowledged.

/** How far a span's start may lie before and after the time its request is received. */
export interface SpanTimeWindow {
  maxAgeMs: number;
  maxFutureMs: number;
}

/** The window as the rules use it for one request: both ends in nanoseconds (included), and as 32-bit halves for the wire. */
export interface StartWindow {
  earliest: bigint;
  latest: bigint;
  earliestHigh: number;
  earliestLow: number;
  latestHigh: number;
  latestLow: number;
  tooOld: string;
  tooNew: string;
}

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const NS_PER_MS = 1_000_000n;

function startWindow(earliest: bigint, latest: bigint, tooOld: string, tooNew: string): StartWindow {
  return {
    earliest,
    latest,
    earliestHigh: Number(earliest >> 32n),
    earliestLow: Number(earliest & 0xffff_ffffn),
    latestHigh: Number(latest >> 32n),
    latestLow: Number(latest & 0xffff_ffffn),
    tooOld,
    tooNew,
  };
}

/** No window: every start time a span may carry is in it (records spooled before there was a window, and the tests of the decoders). */
export const ANY_START: StartWindow = startWindow(0n, U64_MAX, '', '');

/** A duration as the window's messages give it: "30 days", "1 day", "12 hours", "90 s". */
export function describeDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1_000, 'second'],
  ];
  for (const [size, name] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${name}${ms === size ? '' : 's'}`;
  return `${ms} ms`;
}

/** The window for a request received at `receivedAtMs`. */
export function startWindowAt(receivedAtMs: number, window: SpanTimeWindow): StartWindow {
  const received = BigInt(Math.floor(receivedAtMs)) * NS_PER_MS;
  const earliest = received - BigInt(window.maxAgeMs) * NS_PER_MS;
  const latest = received + BigInt(window.maxFutureMs) * NS_PER_MS;
  return startWindow(
    earliest < 0n ? 0n : earliest,
    latest > U64_MAX ? U64_MAX : latest,
    `span start times must be at most ${describeDuration(window.maxAgeMs)} before the request arrives (PROMPTLINE_MAX_SPAN_AGE)`,
    `span start times must be at most ${describeDuration(window.maxFutureMs)} after the request arrives (PROMPTLINE_MAX_SPAN_FUTURE)`,
  );
}

/** Where a start time falls against the window: -1 before it, 0 in it, 1 after it. */
export const startWindowSide = (startUnixNano: bigint, w: StartWindow): number => (startUnixNano < w.earliest ? -1 : startUnixNano > w.latest ? 1 : 0);

/** startWindowSide of a little-endian fixed64 at `at` (-1: absent, read as 0), as two 32-bit halves so that no bigint is made. */
export function fixed64WindowSide(view: DataView, at: number, w: StartWindow): number {
  const high = at < 0 ? 0 : view.getUint32(at + 4, true);
  const low = at < 0 ? 0 : view.getUint32(at, true);
  if (high < w.earliestHigh || (high === w.earliestHigh && low < w.earliestLow)) return -1;
  if (high > w.latestHigh || (high === w.latestHigh && low > w.latestLow)) return 1;
  return 0;
}

// Lineage values. The lineage record keeps ids and names a span sends (prompt, model, app, response,
// conversation, datasets) in every row, in the resolver's cache and in every descendant that
// inherits them: each is bounded where it arrives. A span carrying an attribute the record is read
// from (conventions.ts) with a value over a bound is refused, whichever convention's attribute it
// is and whether or not another one wins; a resource's service.name or service.version over the
// bound refuses every span under it. Values the normalizer finds inside other values (a prompt in
// mlflow.linkedPrompts, a response id in output.value) are not kept when they are over the bound.

/** Characters (after trimming) of one lineage id or name: a prompt's name, version, alias or hash, a model, provider, app, response, conversation or dataset id. */
export const MAX_LINEAGE_VALUE_CHARS = 256;
/** Dataset ids one span names. */
export const MAX_DATASET_IDS = 64;
/** Bytes of a plain string value that cannot hold a value over a bound: a value of each kind at most this long is not read. */
const PLAIN_VALUE_SAFE_BYTES = MAX_LINEAGE_VALUE_CHARS;
const PLAIN_LIST_SAFE_BYTES = 2 * MAX_DATASET_IDS;

/** What kind of lineage value an attribute holds: not one, one id or name, or a list of dataset ids. */
export const NOT_LINEAGE = 0;
export const LINEAGE_VALUE = 1;
export const LINEAGE_LIST = 2;

/** Attribute keys the lineage record is read from, and the kind of value each holds. */
export type LineageKeys = ReadonlyMap<string, number>;

const valueKeys = (keys: readonly string[]): Array<[string, number]> => keys.map((k) => [k, LINEAGE_VALUE]);

export const SPAN_LINEAGE_KEYS: LineageKeys = new Map<string, number>([
  ...valueKeys(c.PROMPT_NAME_KEYS),
  ...valueKeys(c.PROMPT_VERSION_KEYS),
  ...valueKeys(c.PROMPT_ALIAS_KEYS),
  ...valueKeys(c.PROMPT_HASH_KEYS),
  ...valueKeys(c.MODEL_KEYS),
  ...valueKeys(c.PROVIDER_KEYS),
  ...valueKeys(c.RESPONSE_ID_KEYS),
  ...valueKeys(c.APP_NAME_KEYS),
  ...valueKeys(c.APP_VERSION_KEYS),
  ...valueKeys(c.CONVERSATION_KEYS),
  ...c.DATASET_KEYS.map((k): [string, number] => [k, LINEAGE_LIST]),
]);

export const RESOURCE_LINEAGE_KEYS: LineageKeys = new Map<string, number>(valueKeys([c.APP_NAME_RESOURCE_KEY, c.APP_VERSION_RESOURCE_KEY]));

/**
 * Whether a plain string value of `bytes` UTF-8 bytes is short enough that no bound can be broken
 * (a character is one byte at least, and a list item one character and a comma): the receipt-time
 * scanner reads only longer values.
 */
export const plainValueIsSafe = (kind: number, bytes: number): boolean => bytes <= (kind === LINEAGE_LIST ? PLAIN_LIST_SAFE_BYTES : PLAIN_VALUE_SAFE_BYTES);

/** Why a lineage attribute's value refuses its span, or null: read as the normalizer reads it (trimmed text; a list as conventions.stringList splits it). */
export function lineageRefusal(key: string, kind: number, value: AttrValue): string | null {
  if (kind === LINEAGE_LIST) {
    const ids = c.stringList(value);
    if (ids.length > MAX_DATASET_IDS) return `${key} names more than ${MAX_DATASET_IDS} dataset ids; a span names at most ${MAX_DATASET_IDS}`;
    if (ids.some((id) => id.length > MAX_LINEAGE_VALUE_CHARS)) return `a dataset id in ${key} is over ${MAX_LINEAGE_VALUE_CHARS} characters; lineage ids are at most ${MAX_LINEAGE_VALUE_CHARS}`;
    return null;
  }
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return null;
  const chars = typeof value === 'string' ? (value.length > MAX_LINEAGE_VALUE_CHARS ? value.trim().length : 0) : attrToString(value).trim().length;
  return chars > MAX_LINEAGE_VALUE_CHARS ? `${key} is over ${MAX_LINEAGE_VALUE_CHARS} characters; lineage names and ids are at most ${MAX_LINEAGE_VALUE_CHARS}` : null;
}

/** A lineage value found inside another value (a JSON attribute) is kept only within the bound. */
export const withinLineageBound = (value: string): boolean => value.length <= MAX_LINEAGE_VALUE_CHARS;

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
