import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import type { AttrMap, AttrValue, DecodedExport, DecodedSpan, SpanEvent, SpanLink, SpanResource, SpanScope } from '../../domain/span.ts';
import { MalformedRequestError } from './convert.ts';
import { OTLP_LIMITS, truncate } from './limits.ts';

// OTLP/protobuf ExportTraceServiceRequest read straight off the wire into spans, without building
// the intermediate message objects (Longs, byte arrays, nested objects) that a generic decoder
// makes and convert.ts then walks. It is the collector's hot path: the receiver decodes every
// request before it answers, and on a 2-core machine the generic path and its garbage were most
// of the receiver's time.
//
// It gives the same spans as protobufjs + convertExportRequest (test/unit/otlp-wire-decode.test.ts
// compares them), and keeps their rules: ids of the wrong length refuse the span (partial
// success), every limit of limits.ts applies, invalid UTF-8 is read as protobufjs reads it, and
// anything malformed throws MalformedRequestError (a 400). Two deliberate
// differences, both on data no OTLP exporter writes: a known field with the wrong wire type is
// skipped as an unknown field (as protoc does), and a value nested past OTLP_LIMITS.maxValueDepth
// — replaced by a marker anyway — is skipped by its length, its strings not checked.

const MAX_GROUP_DEPTH = 100;
const KEY_MAX = OTLP_LIMITS.maxAttributeKeyChars;
const VALUE_MAX = OTLP_LIMITS.maxAttributeValueChars;
const MAX_ITEMS = OTLP_LIMITS.maxAttributesPerItem;
const MAX_TIME = OTLP_LIMITS.maxTimeUnixNano;
const TWO_32 = 4294967296;

class Wire {
  readonly buf: Buffer;
  readonly view: DataView;
  pos = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(what: string): never {
    throw new MalformedRequestError(`the body is not a valid OTLP protobuf ExportTraceServiceRequest: ${what}`);
  }

  /** A varint's low 32 bits, unsigned (tags, lengths, enums, bools). */
  uint32(end: number): number {
    const b = this.buf;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail('truncated varint');
      const byte = b[pos++]!;
      if (shift < 32) result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) {
        this.pos = pos;
        return result % TWO_32;
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A varint as a signed 64-bit integer: a number when it is a safe integer, else a bigint. */
  int64(end: number): number | bigint {
    const b = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail('truncated varint');
      const byte = b[pos++]!;
      const bits = byte & 0x7f;
      if (i < 4) lo += bits * 2 ** (7 * i);
      else if (i === 4) {
        lo += (bits & 0x0f) * 2 ** 28;
        hi += bits >>> 4;
      } else hi += bits * 2 ** (7 * i - 32);
      if (byte < 0x80) {
        this.pos = pos;
        hi %= TWO_32;
        if (hi < 0x200000) return hi * TWO_32 + lo;
        const n = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
        return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** The end of a length-delimited field that starts here. */
  lengthEnd(end: number): number {
    const len = this.uint32(end);
    const e = this.pos + len;
    if (e > end) this.fail('a length runs past the end of its message');
    return e;
  }

  fixed64(end: number): bigint {
    if (this.pos + 8 > end) this.fail('truncated fixed64');
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  double(end: number): number {
    if (this.pos + 8 > end) this.fail('truncated double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * A length-delimited UTF-8 string. Invalid UTF-8 is not refused (some SDKs send it): it is read
   * as protobufjs reads it, then made well-formed as convert.ts does.
   */
  string(end: number): string {
    const e = this.lengthEnd(end);
    let s = this.buf.toString('utf8', this.pos, e);
    // Node's decoder marks invalid sequences with U+FFFD: only then is the slow path needed.
    if (s.includes('\uFFFD') && !isUtf8(this.buf.subarray(this.pos, e))) {
      s = protobuf.util.utf8.read(this.buf, this.pos, e);
      if (!s.isWellFormed()) s = s.toWellFormed();
    }
    this.pos = e;
    return s;
  }

  /** A field's tag; field number 0 is illegal. */
  tag(end: number): number {
    const t = this.uint32(end);
    if (t >>> 3 === 0) this.fail('illegal tag: field number 0');
    return t;
  }

  /** Skips the value of a field with the given tag (a group up to its matching end tag). */
  skip(tag: number, end: number, depth = 0): void {
    const wireType = tag & 7;
    switch (wireType) {
      case 0:
        this.uint32(end);
        return;
      case 1:
        if (this.pos + 8 > end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2:
        this.pos = this.lengthEnd(end);
        return;
      case 5:
        if (this.pos + 4 > end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      case 3: {
        if (depth >= MAX_GROUP_DEPTH) this.fail('groups nested too deeply');
        for (;;) {
          const t = this.tag(end);
          if ((t & 7) === 4) {
            if (t >>> 3 !== tag >>> 3) this.fail('invalid end group tag');
            return;
          }
          this.skip(t, end, depth + 1);
        }
      }
      default:
        this.fail(`invalid wire type ${wireType}`);
    }
  }
}


const str = (w: Wire, end: number, max: number): string => {
  const s = w.string(end);
  return s.length > max ? truncate(s, max) : s;
};

/** Reads `n` bytes of an id as lower-case hex; the caller checks the length. */
const hexOf = (w: Wire, start: number, endPos: number): string => w.buf.toString('hex', start, endPos);

const allZero = (b: Buffer, start: number, end: number): boolean => {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
};

/** The members of one AnyValue's oneof as read so far (protobufjs keeps each, and merges a repeated message). */
interface AnyState {
  s: string | undefined;
  bool: boolean | undefined;
  int: number | bigint | undefined;
  dbl: number | undefined;
  bytes: Uint8Array | undefined;
  arr: AttrValue[] | undefined;
  arrDeep: boolean;
  kv: AttrMap | undefined;
  kvDeep: boolean;
}

const newState = (): AnyState => ({ s: undefined, bool: undefined, int: undefined, dbl: undefined, bytes: undefined, arr: undefined, arrDeep: false, kv: undefined, kvDeep: false });
/** One state per nesting depth, reused: values nest at most OTLP_LIMITS.maxValueDepth deep before they are cut. */
const STATES: AnyState[] = Array.from({ length: OTLP_LIMITS.maxValueDepth + 2 }, newState);

function resetState(st: AnyState): AnyState {
  st.s = undefined;
  st.bool = undefined;
  st.int = undefined;
  st.dbl = undefined;
  st.bytes = undefined;
  st.arr = undefined;
  st.arrDeep = false;
  st.kv = undefined;
  st.kvDeep = false;
  return st;
}

/** Reads an AnyValue body into `st` (several bodies of one value merge, as protobuf says). */
function readAnyValue(w: Wire, end: number, depth: number, st: AnyState): void {
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) st.s = str(w, end, VALUE_MAX);
    else if (field === 2 && wt === 0) st.bool = w.uint32(end) !== 0;
    else if (field === 3 && wt === 0) st.int = w.int64(end);
    else if (field === 4 && wt === 1) st.dbl = w.double(end);
    else if (field === 7 && wt === 2) {
      const e = w.lengthEnd(end);
      st.bytes = new Uint8Array(w.buf.subarray(w.pos, e));
      w.pos = e;
    } else if (field === 5 && wt === 2) {
      const e = w.lengthEnd(end);
      if (depth >= OTLP_LIMITS.maxValueDepth) {
        st.arrDeep = true;
        w.pos = e;
        continue;
      }
      const values = (st.arr ??= []);
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) {
          const ve = w.lengthEnd(e);
          const inner = resetState(STATES[depth + 1]!);
          readAnyValue(w, ve, depth + 1, inner);
          const v = valueOf(inner);
          if (values.length < MAX_ITEMS) values.push(v);
          w.pos = ve;
        } else w.skip(t, e);
      }
    } else if (field === 6 && wt === 2) {
      const e = w.lengthEnd(end);
      if (depth >= OTLP_LIMITS.maxValueDepth) {
        st.kvDeep = true;
        w.pos = e;
        continue;
      }
      const map = (st.kv ??= new Map());
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) {
          const ke = w.lengthEnd(e);
          readKeyValue(w, ke, depth + 1, map, true);
          w.pos = ke;
        } else w.skip(t, e);
      }
    } else w.skip(tag, end);
  }
}

/** The value convert.ts makes of an AnyValue: the first member present, in its order. */
function valueOf(st: AnyState): AttrValue {
  if (st.s !== undefined) return st.s;
  if (st.bool !== undefined) return st.bool;
  if (st.int !== undefined) return st.int;
  if (st.dbl !== undefined) return Number.isFinite(st.dbl) ? st.dbl : String(st.dbl);
  if (st.bytes !== undefined) return st.bytes;
  if (st.arrDeep || st.arr !== undefined) return st.arrDeep ? truncate('[nested too deep]', 64) : st.arr!;
  if (st.kvDeep || st.kv !== undefined) return st.kvDeep ? truncate('[nested too deep]', 64) : st.kv!;
  return null;
}

/**
 * One KeyValue message into `map` (unless the map is full or the key is missing). Top-level
 * attributes skip an empty key; a kvlist value keeps it (as convert.ts does).
 */
function readKeyValue(w: Wire, end: number, depth: number, map: AttrMap, keepEmptyKey: boolean): void {
  let key: string | undefined;
  let st: AnyState | undefined;
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) key = w.string(end);
    else if (field === 2 && wt === 2) {
      const e = w.lengthEnd(end);
      st ??= resetState(STATES[depth]!);
      readAnyValue(w, e, depth, st);
      w.pos = e;
    } else w.skip(tag, end);
  }
  if (map.size >= MAX_ITEMS) return;
  if (key === undefined || key === '') {
    if (!keepEmptyKey) return;
    key = '';
  }
  map.set(key.length > KEY_MAX ? truncate(key, KEY_MAX) : key, st ? valueOf(st) : null);
}

/** Attributes (repeated KeyValue, field `fieldNo`) are read by the caller field by field; this adds one. */
function addAttribute(w: Wire, end: number, map: AttrMap): void {
  const e = w.lengthEnd(end);
  readKeyValue(w, e, 0, map, false);
  w.pos = e;
}

interface Rejects {
  rejected: number;
  reasons: string[];
}

const reject = (r: Rejects, reason: string): null => {
  r.rejected++;
  if (r.reasons.length < 5 && !r.reasons.includes(reason)) r.reasons.push(reason);
  return null;
};

function decodeEvent(w: Wire, end: number): { time: bigint | null; name: string; attributes: AttrMap } {
  let time: bigint | null = null;
  let name = '';
  const attributes: AttrMap = new Map();
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 1) time = w.fixed64(end);
    else if (field === 2 && wt === 2) name = str(w, end, KEY_MAX);
    else if (field === 3 && wt === 2) addAttribute(w, end, attributes);
    else w.skip(tag, end);
  }
  return { time, name, attributes };
}

function decodeLink(w: Wire, end: number): SpanLink {
  let traceId = '';
  let spanId = '';
  let traceState = '';
  const attributes: AttrMap = new Map();
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if ((field === 1 || field === 2) && wt === 2) {
      const e = w.lengthEnd(end);
      const len = e - w.pos;
      const want = field === 1 ? 16 : 8;
      // Like convert.ts: an id of the wrong length is dropped from the link, not the span.
      const id = len === want ? hexOf(w, w.pos, e) : '';
      if (field === 1) traceId = id;
      else spanId = id;
      w.pos = e;
    } else if (field === 3 && wt === 2) traceState = str(w, end, KEY_MAX);
    else if (field === 4 && wt === 2) addAttribute(w, end, attributes);
    else w.skip(tag, end);
  }
  return { traceId, spanId, traceState, attributes };
}

function decodeSpan(w: Wire, end: number, resource: SpanResource, scope: SpanScope, rejects: Rejects): DecodedSpan | null {
  const b = w.buf;
  // Ids as byte ranges (last one wins), checked once the whole span is read.
  let traceStart = -1;
  let traceEnd = -1;
  let spanStart = -1;
  let spanEnd = -1;
  let parentStart = -1;
  let parentEnd = -1;
  let traceState = '';
  let name = '';
  let kind = 0;
  let start = 0n;
  let endNs = 0n;
  const attributes: AttrMap = new Map();
  const rawEvents: Array<{ time: bigint | null; name: string; attributes: AttrMap }> = [];
  const links: SpanLink[] = [];
  let statusCode = 0;
  let statusMessage = '';
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    switch (field) {
      case 1:
      case 2:
      case 4:
        if (wt !== 2) break;
        {
          const e = w.lengthEnd(end);
          if (field === 1) (traceStart = w.pos), (traceEnd = e);
          else if (field === 2) (spanStart = w.pos), (spanEnd = e);
          else (parentStart = w.pos), (parentEnd = e);
          w.pos = e;
        }
        continue;
      case 3:
        if (wt !== 2) break;
        traceState = str(w, end, KEY_MAX);
        continue;
      case 5:
        if (wt !== 2) break;
        name = str(w, end, KEY_MAX);
        continue;
      case 6:
        if (wt !== 0) break;
        kind = w.uint32(end) | 0;
        continue;
      case 7:
        if (wt !== 1) break;
        start = w.fixed64(end);
        continue;
      case 8:
        if (wt !== 1) break;
        endNs = w.fixed64(end);
        continue;
      case 9:
        if (wt !== 2) break;
        addAttribute(w, end, attributes);
        continue;
      case 11:
        if (wt !== 2) break;
        {
          const e = w.lengthEnd(end);
          const ev = decodeEvent(w, e);
          if (rawEvents.length < OTLP_LIMITS.maxEventsPerSpan) rawEvents.push(ev);
          w.pos = e;
        }
        continue;
      case 13:
        if (wt !== 2) break;
        {
          const e = w.lengthEnd(end);
          const link = decodeLink(w, e);
          if (links.length < OTLP_LIMITS.maxLinksPerSpan) links.push(link);
          w.pos = e;
        }
        continue;
      case 15:
        if (wt !== 2) break;
        {
          const e = w.lengthEnd(end);
          while (w.pos < e) {
            const t = w.tag(e);
            if (t >>> 3 === 2 && (t & 7) === 2) statusMessage = str(w, e, VALUE_MAX);
            else if (t >>> 3 === 3 && (t & 7) === 0) statusCode = w.uint32(e) | 0;
            else w.skip(t, e);
          }
        }
        continue;
    }
    w.skip(tag, end);
  }

  if (traceEnd - traceStart !== 16 || allZero(b, traceStart, traceEnd)) return reject(rejects, 'traceId must be 16 bytes and not all zero');
  if (spanEnd - spanStart !== 8 || allZero(b, spanStart, spanEnd)) return reject(rejects, 'spanId must be 8 bytes and not all zero');
  const parentLen = parentEnd - parentStart;
  if (parentLen !== 0 && parentLen !== 8) return reject(rejects, 'parentSpanId must be 8 bytes or empty');
  if (start > MAX_TIME || endNs > MAX_TIME) return reject(rejects, 'span times must be before 2262-04-11');
  const events: SpanEvent[] = rawEvents.map((e) => ({
    // An event time that cannot be stored takes the span's start.
    timeUnixNano: e.time === null ? 0n : e.time > MAX_TIME ? start : e.time,
    name: e.name,
    attributes: e.attributes,
  }));
  return {
    traceId: hexOf(w, traceStart, traceEnd),
    spanId: hexOf(w, spanStart, spanEnd),
    parentSpanId: parentLen === 8 && !allZero(b, parentStart, parentEnd) ? hexOf(w, parentStart, parentEnd) : '',
    traceState,
    name,
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: endNs < start ? start : endNs,
    attributes,
    events,
    links,
    statusCode,
    statusMessage,
    resource,
    scope,
  };
}

function decodeScopeSpans(w: Wire, end: number, resource: SpanResource, out: DecodedSpan[], rejects: Rejects): void {
  // The scope may come after the spans on the wire; they share one object, filled in when it is read.
  const scope: SpanScope = { name: '', version: '' };
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 2 && wt === 2) {
      const e = w.lengthEnd(end);
      const span = decodeSpan(w, e, resource, scope, rejects);
      if (span) out.push(span);
      w.pos = e;
    } else if (field === 1 && wt === 2) {
      const e = w.lengthEnd(end);
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) scope.name = str(w, e, KEY_MAX);
        else if (t >>> 3 === 2 && (t & 7) === 2) scope.version = str(w, e, KEY_MAX);
        else w.skip(t, e);
      }
    } else w.skip(tag, end);
  }
}

function decodeResourceSpans(w: Wire, end: number, out: DecodedSpan[], rejects: Rejects): void {
  // Likewise the resource: one object for all the spans under it, its attributes set when read.
  const resource: SpanResource = { attributes: new Map() };
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 2 && wt === 2) {
      const e = w.lengthEnd(end);
      decodeScopeSpans(w, e, resource, out, rejects);
      w.pos = e;
    } else if (field === 1 && wt === 2) {
      // A resource given twice is merged (its attributes appended), as protobuf says.
      const e = w.lengthEnd(end);
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) addAttribute(w, e, resource.attributes);
        else w.skip(t, e);
      }
    } else w.skip(tag, end);
  }
}

/** Decodes an OTLP/protobuf ExportTraceServiceRequest body; throws MalformedRequestError when it is not one. */
export function decodeProtobufExportWire(body: Uint8Array): DecodedExport {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const w = new Wire(buf);
  const spans: DecodedSpan[] = [];
  const rejects: Rejects = { rejected: 0, reasons: [] };
  const end = buf.length;
  while (w.pos < end) {
    const tag = w.tag(end);
    if (tag >>> 3 === 1 && (tag & 7) === 2) {
      const e = w.lengthEnd(end);
      decodeResourceSpans(w, e, spans, rejects);
      w.pos = e;
    } else w.skip(tag, end);
  }
  return { spans, rejected: rejects.rejected, rejectionReasons: rejects.reasons };
}

// ---------------------------------------------------------------------------------------------
// Checking without decoding. The receiver must answer 400 for anything the writer could not
// decode, and say how many spans it refuses, before it acknowledges a request; it need not build
// the spans. `scanProtobufExport` walks exactly the messages the decoder walks, fails exactly
// where it fails, and applies the same per-span checks, allocating nothing per field: the
// receiver's work drops to a fraction, and the spans are decoded once, by the writer.

export interface ScannedExport {
  /** Spans the decoder will keep. */
  spans: number;
  rejected: number;
  rejectionReasons: string[];
}

function scanAnyValue(w: Wire, end: number, depth: number): void {
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if ((field === 1 || field === 7) && wt === 2) w.pos = w.lengthEnd(end);
    else if ((field === 2 || field === 3) && wt === 0) w.uint32(end);
    else if (field === 4 && wt === 1) w.skip(tag, end);
    else if ((field === 5 || field === 6) && wt === 2) {
      const e = w.lengthEnd(end);
      if (depth >= OTLP_LIMITS.maxValueDepth) {
        w.pos = e;
        continue;
      }
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) {
          const ve = w.lengthEnd(e);
          if (field === 5) scanAnyValue(w, ve, depth + 1);
          else scanKeyValue(w, ve, depth + 1);
          w.pos = ve;
        } else w.skip(t, e);
      }
    } else w.skip(tag, end);
  }
}

function scanKeyValue(w: Wire, end: number, depth: number): void {
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) w.pos = w.lengthEnd(end);
    else if (field === 2 && wt === 2) {
      const e = w.lengthEnd(end);
      scanAnyValue(w, e, depth);
      w.pos = e;
    } else w.skip(tag, end);
  }
}

/** A repeated KeyValue field's entry (attributes), at depth 0. */
function scanAttribute(w: Wire, end: number): void {
  const e = w.lengthEnd(end);
  scanKeyValue(w, e, 0);
  w.pos = e;
}

/** Walks a message whose fields are strings, ids, varints, fixed64s and attributes (`attrField`). */
function scanFlat(w: Wire, end: number, attrField: number): void {
  while (w.pos < end) {
    const tag = w.tag(end);
    if (tag >>> 3 === attrField && (tag & 7) === 2) scanAttribute(w, end);
    else w.skip(tag, end);
  }
}

const overMaxTime = (b: Buffer, at: number) => b[at + 7]! >= 0x80;

function scanSpan(w: Wire, end: number, rejects: Rejects): boolean {
  const b = w.buf;
  let traceStart = -1;
  let traceEnd = -1;
  let spanStart = -1;
  let spanEnd = -1;
  let parentStart = -1;
  let parentEnd = -1;
  let startAt = -1;
  let endAt = -1;
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if ((field === 1 || field === 2 || field === 4) && wt === 2) {
      const e = w.lengthEnd(end);
      if (field === 1) (traceStart = w.pos), (traceEnd = e);
      else if (field === 2) (spanStart = w.pos), (spanEnd = e);
      else (parentStart = w.pos), (parentEnd = e);
      w.pos = e;
    } else if ((field === 7 || field === 8) && wt === 1) {
      if (field === 7) startAt = w.pos;
      else endAt = w.pos;
      w.skip(tag, end);
    } else if (field === 9 && wt === 2) scanAttribute(w, end);
    else if ((field === 11 || field === 13) && wt === 2) {
      // Events (attributes: field 3) and links (attributes: field 4).
      const e = w.lengthEnd(end);
      scanFlat(w, e, field === 11 ? 3 : 4);
      w.pos = e;
    } else if (field === 15 && wt === 2) {
      const e = w.lengthEnd(end);
      scanFlat(w, e, 0);
      w.pos = e;
    } else w.skip(tag, end);
  }
  if (traceEnd - traceStart !== 16 || allZero(b, traceStart, traceEnd)) return reject(rejects, 'traceId must be 16 bytes and not all zero') ?? false;
  if (spanEnd - spanStart !== 8 || allZero(b, spanStart, spanEnd)) return reject(rejects, 'spanId must be 8 bytes and not all zero') ?? false;
  const parentLen = parentEnd - parentStart;
  if (parentLen !== 0 && parentLen !== 8) return reject(rejects, 'parentSpanId must be 8 bytes or empty') ?? false;
  if ((startAt >= 0 && overMaxTime(b, startAt)) || (endAt >= 0 && overMaxTime(b, endAt))) return reject(rejects, 'span times must be before 2262-04-11') ?? false;
  return true;
}

/** Checks an OTLP/protobuf ExportTraceServiceRequest as decodeProtobufExportWire would read it; throws MalformedRequestError where it would. */
export function scanProtobufExport(body: Uint8Array): ScannedExport {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const w = new Wire(buf);
  const rejects: Rejects = { rejected: 0, reasons: [] };
  let spans = 0;
  const end = buf.length;
  while (w.pos < end) {
    const tag = w.tag(end);
    if (tag >>> 3 !== 1 || (tag & 7) !== 2) {
      w.skip(tag, end);
      continue;
    }
    const rsEnd = w.lengthEnd(end);
    while (w.pos < rsEnd) {
      const t = w.tag(rsEnd);
      if (t >>> 3 === 1 && (t & 7) === 2) {
        // The resource: attributes (field 1).
        const e = w.lengthEnd(rsEnd);
        scanFlat(w, e, 1);
        w.pos = e;
      } else if (t >>> 3 === 2 && (t & 7) === 2) {
        const ssEnd = w.lengthEnd(rsEnd);
        while (w.pos < ssEnd) {
          const u = w.tag(ssEnd);
          if (u >>> 3 === 2 && (u & 7) === 2) {
            const e = w.lengthEnd(ssEnd);
            if (scanSpan(w, e, rejects)) spans++;
            w.pos = e;
          } else if (u >>> 3 === 1 && (u & 7) === 2) {
            // The scope: name and version only (its attributes are not read).
            const e = w.lengthEnd(ssEnd);
            scanFlat(w, e, 0);
            w.pos = e;
          } else w.skip(u, ssEnd);
        }
      } else w.skip(t, rsEnd);
    }
    w.pos = rsEnd;
  }
  return { spans, rejected: rejects.rejected, rejectionReasons: rejects.reasons };
}
