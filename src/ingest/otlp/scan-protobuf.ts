import { OTLP_LIMITS } from './limits.ts';
import { attributeLineageRefusal } from './protobuf-wire-attributes.ts';
import { WireReader } from './protobuf-wire-reader.ts';
import {
  ANY_START,
  countRefusal,
  fixed64WindowSide,
  isFixed64TooLate,
  NOT_LINEAGE,
  plainValueIsSafe,
  RESOURCE_LINEAGE_KEYS,
  SPAN_LINEAGE_KEYS,
  spanRefusal,
  type LineageKeys,
  type Refusals,
  type StartWindow,
} from './span-rules.ts';

// Checking without decoding. The receiver must answer 400 for anything the writer could not
// decode, and say how many spans it refuses, before it acknowledges a request; it need not build
// the spans. `scanProtobufExport` walks exactly the messages decode-protobuf.ts walks, fails
// exactly where it fails, and asks span-rules.ts the same questions of each span, allocating
// nothing per field: the receiver's work drops to a fraction, and the spans are decoded once, by
// the writer.

export interface ScannedExport {
  /** Spans the decoder will keep. */
  spans: number;
  rejected: number;
  rejectionReasons: string[];
}

function scanAnyValue(w: WireReader, end: number, depth: number): void {
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

function scanKeyValue(w: WireReader, end: number, depth: number): void {
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
function scanAttribute(w: WireReader, end: number): void {
  const e = w.lengthEnd(end);
  scanKeyValue(w, e, 0);
  w.pos = e;
}

/**
 * Lineage keys as UTF-8 bytes, by their length and last byte: an attribute's key is matched
 * without being decoded, and most keys that are not one are told apart by one typed-array read.
 */
interface KeyTable {
  keys: LineageKeys;
  /** (length × 256 + last byte) → 1 + the index in `groups` of the keys with that length and last byte; 0 for none. */
  slots: Uint16Array;
  groups: Array<Array<{ bytes: Buffer; kind: number }>>;
}

const MAX_KEY_BYTES = 63;

function keyTable(keys: LineageKeys): KeyTable {
  const slots = new Uint16Array((MAX_KEY_BYTES + 1) * 256);
  const groups: KeyTable['groups'] = [];
  for (const [key, kind] of keys) {
    const bytes = Buffer.from(key, 'utf8');
    if (bytes.length > MAX_KEY_BYTES) throw new Error(`lineage key ${key} is longer than ${MAX_KEY_BYTES} bytes`);
    const slot = bytes.length * 256 + bytes[bytes.length - 1]!;
    if (slots[slot] === 0) slots[slot] = groups.push([]);
    groups[slots[slot]! - 1]!.push({ bytes, kind });
  }
  return { keys, slots, groups };
}

const SPAN_KEYS = keyTable(SPAN_LINEAGE_KEYS);
const RESOURCE_KEYS = keyTable(RESOURCE_LINEAGE_KEYS);

/** The lineage kind of the key in bytes [start, end) of the body (NOT_LINEAGE for any other key). */
function kindOfKey(buf: Buffer, start: number, end: number, table: KeyTable): number {
  const length = end - start;
  if (length === 0 || length > MAX_KEY_BYTES) return NOT_LINEAGE;
  const group = table.slots[length * 256 + buf[end - 1]!]!;
  if (group === 0) return NOT_LINEAGE;
  next: for (const c of table.groups[group - 1]!) {
    for (let i = 0; i < length; i++) if (buf[start + i] !== c.bytes[i]) continue next;
    return c.kind;
  }
  return NOT_LINEAGE;
}

/**
 * An attributes entry (KeyValue) of a span or resource, walked as scanAttribute walks it; when its
 * key (the last one given, as the decoder reads it) is a lineage key, answers why its value refuses
 * the span. A single plain string too short to break a bound is not read; any other value is read
 * exactly as the decoder reads it (protobuf-wire-attributes.ts) and checked by the same rule.
 */
function scanLineageAttribute(w: WireReader, end: number, table: KeyTable): string | null {
  const entryStart = w.pos;
  const e = w.lengthEnd(end);
  let keyStart = -1;
  let keyEnd = -1;
  let values = 0;
  let valueStart = -1;
  let valueEnd = -1;
  while (w.pos < e) {
    const tag = w.tag(e);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) {
      keyEnd = w.lengthEnd(e);
      keyStart = w.pos;
      w.pos = keyEnd;
    } else if (field === 2 && wt === 2) {
      valueEnd = w.lengthEnd(e);
      valueStart = w.pos;
      values++;
      scanAnyValue(w, valueEnd, 0);
      w.pos = valueEnd;
    } else w.skip(tag, e);
  }
  if (keyStart < 0 || values === 0) return null;
  const kind = kindOfKey(w.buf, keyStart, keyEnd, table);
  if (kind === NOT_LINEAGE) return null;
  if (values === 1 && valueEnd > valueStart) {
    const tag = w.buf[valueStart];
    let plain = false;
    if (tag === 0x0a) {
      // One AnyValue holding only a string_value (field 1, length-delimited).
      w.pos = valueStart + 1;
      const stringEnd = w.lengthEnd(valueEnd);
      plain = stringEnd === valueEnd && plainValueIsSafe(kind, stringEnd - w.pos);
    } else if (tag === 0x10 || tag === 0x18 || tag === 0x21) {
      // Only a bool, an int or a double (fields 2, 3, 4): their text is short, whatever they hold.
      w.pos = valueStart + 1;
      if (tag === 0x21) w.pos += 8;
      else w.uint32(valueEnd);
      plain = w.pos === valueEnd;
    }
    w.pos = e;
    if (plain) return null;
  }
  w.pos = entryStart;
  return attributeLineageRefusal(w, end, table.keys);
}

/** Walks a message whose fields are strings, ids, varints, fixed64s and attributes (`attrField`). */
function scanFlat(w: WireReader, end: number, attrField: number): void {
  while (w.pos < end) {
    const tag = w.tag(end);
    if (tag >>> 3 === attrField && (tag & 7) === 2) scanAttribute(w, end);
    else w.skip(tag, end);
  }
}

/** Whether the span is kept; a refused one is counted in `refusals`. */
function scanSpan(w: WireReader, end: number, window: StartWindow, refusals: Refusals): boolean {
  let traceStart = -1;
  let traceEnd = -1;
  let spanStart = -1;
  let spanEnd = -1;
  let parentStart = -1;
  let parentEnd = -1;
  let startAt = -1;
  let endAt = -1;
  let lineage: string | null = null;
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if ((field === 1 || field === 2 || field === 4) && wt === 2) {
      const e = w.lengthEnd(end);
      if (field === 1) {
        traceStart = w.pos;
        traceEnd = e;
      } else if (field === 2) {
        spanStart = w.pos;
        spanEnd = e;
      } else {
        parentStart = w.pos;
        parentEnd = e;
      }
      w.pos = e;
    } else if ((field === 7 || field === 8) && wt === 1) {
      if (field === 7) startAt = w.pos;
      else endAt = w.pos;
      w.skip(tag, end);
    } else if (field === 9 && wt === 2) {
      const refusal = scanLineageAttribute(w, end, SPAN_KEYS);
      lineage ??= refusal;
    } else if ((field === 11 || field === 13) && wt === 2) {
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
  const refusal = spanRefusal(
    traceEnd - traceStart,
    w.allZero(traceStart, traceEnd),
    spanEnd - spanStart,
    w.allZero(spanStart, spanEnd),
    parentEnd - parentStart,
    true,
    (startAt >= 0 && isFixed64TooLate(w.view, startAt)) || (endAt >= 0 && isFixed64TooLate(w.view, endAt)),
    fixed64WindowSide(w.view, startAt, window),
    window,
    lineage,
  );
  if (refusal === null) return true;
  countRefusal(refusals, refusal);
  return false;
}

/**
 * Checks an OTLP/protobuf ExportTraceServiceRequest as decodeProtobufExport would read it with the
 * same `window`; throws MalformedRequestError where it would.
 */
export function scanProtobufExport(body: Uint8Array, window: StartWindow = ANY_START): ScannedExport {
  const w = new WireReader(body);
  const refusals: Refusals = { rejected: 0, reasons: [] };
  let spans = 0;
  const end = w.buf.length;
  while (w.pos < end) {
    const tag = w.tag(end);
    if (tag >>> 3 !== 1 || (tag & 7) !== 2) {
      w.skip(tag, end);
      continue;
    }
    const rsEnd = w.lengthEnd(end);
    let kept = 0;
    let resourceLineage: string | null = null;
    while (w.pos < rsEnd) {
      const t = w.tag(rsEnd);
      if (t >>> 3 === 1 && (t & 7) === 2) {
        // The resource: attributes (field 1).
        const e = w.lengthEnd(rsEnd);
        while (w.pos < e) {
          const u = w.tag(e);
          if (u >>> 3 === 1 && (u & 7) === 2) {
            const refusal = scanLineageAttribute(w, e, RESOURCE_KEYS);
            resourceLineage ??= refusal;
          } else w.skip(u, e);
        }
        w.pos = e;
      } else if (t >>> 3 === 2 && (t & 7) === 2) {
        const ssEnd = w.lengthEnd(rsEnd);
        while (w.pos < ssEnd) {
          const u = w.tag(ssEnd);
          if (u >>> 3 === 2 && (u & 7) === 2) {
            const e = w.lengthEnd(ssEnd);
            if (scanSpan(w, e, window, refusals)) kept++;
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
    // A resource over a lineage bound refuses the spans under it that were kept (it may come after them).
    if (resourceLineage !== null) for (; kept > 0; kept--) countRefusal(refusals, resourceLineage);
    spans += kept;
  }
  return { spans, rejected: refusals.rejected, rejectionReasons: refusals.reasons };
}
