import type { AttrMap, AttrValue, DecodedExport, DecodedSpan, SpanEvent, SpanLink, SpanResource } from '../../domain/span.ts';
import { NESTED_TOO_DEEP_MARK, OTLP_LIMITS, truncate } from './limits.ts';
import {
  ANY_START,
  countRefusal,
  hasParent,
  isTooLate,
  lineageRefusal,
  NOT_LINEAGE,
  RESOURCE_LINEAGE_KEYS,
  SPAN_LINEAGE_KEYS,
  spanRefusal,
  SPAN_ID_BYTES,
  startWindowSide,
  storedDouble,
  storedEndTime,
  storedEventTime,
  storedInteger,
  TRACE_ID_BYTES,
  type LineageKeys,
  type Refusals,
  type StartWindow,
} from './span-rules.ts';

// Turns a decoded ExportTraceServiceRequest — from protobufjs or from JSON.parse — into spans.
// The two encodings differ only in how ids, 64-bit integers and bytes are written; a codec says how.
// Objects from the wire are read with Object.hasOwn and never used as prototypes or key targets.

export interface WireCodec {
  /** Lower-case hex of an id of `bytes` bytes, '' when absent, null when malformed. */
  id(v: unknown, bytes: number): string | null;
  /** An unsigned 64-bit integer, null when malformed. */
  u64(v: unknown): bigint | null;
  /** A signed 64-bit integer for an attribute value, null when malformed. */
  i64(v: unknown): bigint | null;
  bytes(v: unknown): Uint8Array | null;
  /** An enum number (JSON may also name it). */
  enumNumber(v: unknown, names: readonly string[]): number;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const own = (o: Obj, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v !== 'string' ? '' : v.isWellFormed() ? v : v.toWellFormed());
/** A codec's id as span-rules.ts counts it: its length in bytes, -1 when it was malformed. */
const idBytes = (hex: string | null): number => (hex === null ? -1 : hex.length / 2);
const isZeroHex = (hex: string | null): boolean => hex !== null && /^0+$/.test(hex);

const KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

export class MalformedRequestError extends Error {}

/** The lineage keys whose values are checked while attributes are read, and the first refusal found. */
interface LineageCheck {
  keys: LineageKeys;
  reason: string | null;
}

export function convertExportRequest(req: unknown, codec: WireCodec, window: StartWindow = ANY_START): DecodedExport {
  if (!isObj(req)) throw new MalformedRequestError('the request body is not an ExportTraceServiceRequest object');
  const spans: DecodedSpan[] = [];
  const refusals: Refusals = { rejected: 0, reasons: [] };
  const resourceSpans = own(req, 'resourceSpans');
  if (resourceSpans !== undefined && !Array.isArray(resourceSpans)) throw new MalformedRequestError('resourceSpans must be a list');
  for (const rs of list(resourceSpans)) {
    if (!isObj(rs)) throw new MalformedRequestError('a resourceSpans entry is not an object');
    const resourceObj = own(rs, 'resource');
    const resourceLineage: LineageCheck = { keys: RESOURCE_LINEAGE_KEYS, reason: null };
    const resource: SpanResource = { attributes: isObj(resourceObj) ? attributes(own(resourceObj, 'attributes'), codec, resourceLineage) : new Map<string, AttrValue>() };
    const first = spans.length;
    for (const ss of list(own(rs, 'scopeSpans'))) {
      if (!isObj(ss)) throw new MalformedRequestError('a scopeSpans entry is not an object');
      const scopeObj = own(ss, 'scope');
      const scope = isObj(scopeObj)
        ? { name: truncate(str(own(scopeObj, 'name')), OTLP_LIMITS.maxAttributeKeyChars), version: truncate(str(own(scopeObj, 'version')), OTLP_LIMITS.maxAttributeKeyChars) }
        : { name: '', version: '' };
      for (const s of list(own(ss, 'spans'))) {
        if (!isObj(s)) throw new MalformedRequestError('a span is not an object');
        const span = convertSpan(s, codec, resource, scope, window, refusals);
        if (span) spans.push(span);
      }
    }
    // A resource over a lineage bound refuses the spans under it that were kept (after their own
    // rules, as the wire decoder, which may meet the resource after them, refuses them).
    if (resourceLineage.reason !== null) {
      for (let i = first; i < spans.length; i++) countRefusal(refusals, resourceLineage.reason);
      spans.length = first;
    }
  }
  return { spans, rejected: refusals.rejected, rejectionReasons: refusals.reasons };
}

function convertSpan(
  s: Obj,
  codec: WireCodec,
  resource: SpanResource,
  scope: { name: string; version: string },
  window: StartWindow,
  refusals: Refusals,
): DecodedSpan | null {
  const traceId = codec.id(own(s, 'traceId'), TRACE_ID_BYTES);
  const spanId = codec.id(own(s, 'spanId'), SPAN_ID_BYTES);
  const parentSpanId = codec.id(own(s, 'parentSpanId'), SPAN_ID_BYTES);
  const start = codec.u64(own(s, 'startTimeUnixNano') ?? 0);
  const end = codec.u64(own(s, 'endTimeUnixNano') ?? 0);
  const timesAreNanoseconds = start !== null && end !== null;
  const refusal = spanRefusal(
    idBytes(traceId),
    isZeroHex(traceId),
    idBytes(spanId),
    isZeroHex(spanId),
    idBytes(parentSpanId),
    timesAreNanoseconds,
    timesAreNanoseconds && (isTooLate(start) || isTooLate(end)),
    timesAreNanoseconds ? startWindowSide(start, window) : 0,
    window,
  );
  if (refusal !== null) return countRefusal(refusals, refusal), null;
  // Unreachable once spanRefusal has kept the span; it tells the compiler the values were read.
  if (traceId === null || spanId === null || parentSpanId === null || start === null || end === null) return null;
  // The last rule, lineage values, needs the attributes read (spanRefusal's order: it comes last).
  const lineage: LineageCheck = { keys: SPAN_LINEAGE_KEYS, reason: null };
  const attrs = attributes(own(s, 'attributes'), codec, lineage);
  if (lineage.reason !== null) return countRefusal(refusals, lineage.reason), null;

  const events: SpanEvent[] = [];
  for (const e of list(own(s, 'events')).slice(0, OTLP_LIMITS.maxEventsPerSpan)) {
    if (!isObj(e)) continue;
    events.push({
      timeUnixNano: storedEventTime(codec.u64(own(e, 'timeUnixNano') ?? 0), start),
      name: truncate(str(own(e, 'name')), OTLP_LIMITS.maxAttributeKeyChars),
      attributes: attributes(own(e, 'attributes'), codec),
    });
  }
  const links: SpanLink[] = [];
  for (const l of list(own(s, 'links')).slice(0, OTLP_LIMITS.maxLinksPerSpan)) {
    if (!isObj(l)) continue;
    // A link's malformed id is dropped from the link; the span is kept.
    links.push({
      traceId: codec.id(own(l, 'traceId'), TRACE_ID_BYTES) ?? '',
      spanId: codec.id(own(l, 'spanId'), SPAN_ID_BYTES) ?? '',
      traceState: truncate(str(own(l, 'traceState')), OTLP_LIMITS.maxAttributeKeyChars),
      attributes: attributes(own(l, 'attributes'), codec),
    });
  }
  const status = own(s, 'status');
  return {
    traceId,
    spanId,
    parentSpanId: hasParent(idBytes(parentSpanId), isZeroHex(parentSpanId)) ? parentSpanId : '',
    traceState: truncate(str(own(s, 'traceState')), OTLP_LIMITS.maxAttributeKeyChars),
    name: truncate(str(own(s, 'name')), OTLP_LIMITS.maxAttributeKeyChars),
    kind: codec.enumNumber(own(s, 'kind'), KIND_NAMES),
    startTimeUnixNano: start,
    endTimeUnixNano: storedEndTime(start, end),
    attributes: attrs,
    events,
    links,
    statusCode: isObj(status) ? codec.enumNumber(own(status, 'code'), STATUS_NAMES) : 0,
    statusMessage: isObj(status) ? truncate(str(own(status, 'message')), OTLP_LIMITS.maxAttributeValueChars) : '',
    resource,
    scope,
  };
}

/**
 * A span's, event's, link's or resource's attributes. With `lineage`, every entry whose key is one
 * of its keys is checked against the lineage bounds, also past the attributes kept (as the wire
 * decoder and the scanner check every entry).
 */
function attributes(v: unknown, codec: WireCodec, lineage: LineageCheck | null = null): AttrMap {
  const map: AttrMap = new Map();
  for (const kv of list(v)) {
    const full = map.size >= OTLP_LIMITS.maxAttributesPerItem;
    if (full && lineage === null) break;
    if (!isObj(kv)) continue;
    const key = own(kv, 'key');
    if (typeof key !== 'string' || key === '') continue;
    const kind = lineage === null ? NOT_LINEAGE : (lineage.keys.get(key) ?? NOT_LINEAGE);
    if (full && kind === NOT_LINEAGE) continue;
    const value = anyValue(own(kv, 'value'), codec, 0);
    if (kind !== NOT_LINEAGE) lineage!.reason ??= lineageRefusal(key, kind, value);
    if (!full) map.set(truncate(key, OTLP_LIMITS.maxAttributeKeyChars), value);
  }
  return map;
}

function anyValue(v: unknown, codec: WireCodec, depth: number): AttrValue {
  if (!isObj(v)) return null;
  if (Object.hasOwn(v, 'stringValue')) return truncate(str(v.stringValue), OTLP_LIMITS.maxAttributeValueChars);
  if (Object.hasOwn(v, 'boolValue')) return v.boolValue === true;
  if (Object.hasOwn(v, 'intValue')) {
    const n = codec.i64(v.intValue);
    return n === null ? null : storedInteger(n);
  }
  if (Object.hasOwn(v, 'doubleValue')) {
    const x = v.doubleValue;
    if (typeof x === 'number') return storedDouble(x);
    // OTLP/JSON may write a double as a string ("1.5", "NaN", "Infinity"); anything else is not a double.
    if (typeof x === 'string') {
      const d = Number(x);
      return Number.isFinite(d) && x.trim() !== '' ? d : truncate(str(x), 64);
    }
    throw new MalformedRequestError('a doubleValue must be a number (or a string holding one)');
  }
  if (Object.hasOwn(v, 'bytesValue')) return codec.bytes(v.bytesValue);
  if (Object.hasOwn(v, 'arrayValue')) {
    const arr = v.arrayValue;
    const values = isObj(arr) ? list(own(arr, 'values')) : [];
    if (depth >= OTLP_LIMITS.maxValueDepth) return NESTED_TOO_DEEP_MARK;
    return values.slice(0, OTLP_LIMITS.maxAttributesPerItem).map((x) => anyValue(x, codec, depth + 1));
  }
  if (Object.hasOwn(v, 'kvlistValue')) {
    const kvl = v.kvlistValue;
    if (depth >= OTLP_LIMITS.maxValueDepth) return NESTED_TOO_DEEP_MARK;
    const m: AttrMap = new Map();
    for (const kv of isObj(kvl) ? list(own(kvl, 'values')) : []) {
      if (m.size >= OTLP_LIMITS.maxAttributesPerItem) break;
      if (!isObj(kv) || typeof kv.key !== 'string') continue;
      m.set(truncate(kv.key, OTLP_LIMITS.maxAttributeKeyChars), anyValue(own(kv, 'value'), codec, depth + 1));
    }
    return m;
  }
  return null;
}
