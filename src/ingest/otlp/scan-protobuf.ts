import { OTLP_LIMITS } from './limits.ts';
import { WireReader } from './protobuf-wire-reader.ts';
import { countRefusal, isFixed64TooLate, spanRefusal, type Refusals } from './span-rules.ts';

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

/** Walks a message whose fields are strings, ids, varints, fixed64s and attributes (`attrField`). */
function scanFlat(w: WireReader, end: number, attrField: number): void {
  while (w.pos < end) {
    const tag = w.tag(end);
    if (tag >>> 3 === attrField && (tag & 7) === 2) scanAttribute(w, end);
    else w.skip(tag, end);
  }
}

/** Whether the span is kept; a refused one is counted in `refusals`. */
function scanSpan(w: WireReader, end: number, refusals: Refusals): boolean {
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
  const refusal = spanRefusal(
    traceEnd - traceStart,
    w.allZero(traceStart, traceEnd),
    spanEnd - spanStart,
    w.allZero(spanStart, spanEnd),
    parentEnd - parentStart,
    true,
    (startAt >= 0 && isFixed64TooLate(w.view, startAt)) || (endAt >= 0 && isFixed64TooLate(w.view, endAt)),
  );
  if (refusal === null) return true;
  countRefusal(refusals, refusal);
  return false;
}

/** Checks an OTLP/protobuf ExportTraceServiceRequest as decodeProtobufExport would read it; throws MalformedRequestError where it would. */
export function scanProtobufExport(body: Uint8Array): ScannedExport {
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
            if (scanSpan(w, e, refusals)) spans++;
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
  return { spans, rejected: refusals.rejected, rejectionReasons: refusals.reasons };
}
