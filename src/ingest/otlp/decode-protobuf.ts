import type { AttrMap, DecodedExport, DecodedSpan, SpanEvent, SpanLink, SpanResource, SpanScope } from '../../domain/span.ts';
import { OTLP_LIMITS } from './limits.ts';
import { addAttribute } from './protobuf-wire-attributes.ts';
import { WireReader } from './protobuf-wire-reader.ts';
import {
  ANY_START,
  countRefusal,
  hasParent,
  isTooLate,
  RESOURCE_LINEAGE_KEYS,
  SPAN_LINEAGE_KEYS,
  spanRefusal,
  SPAN_ID_BYTES,
  startWindowSide,
  storedEndTime,
  storedEventTime,
  TRACE_ID_BYTES,
  type Refusals,
  type StartWindow,
} from './span-rules.ts';

// OTLP/protobuf ExportTraceServiceRequest read straight off the wire into spans, without building
// the intermediate message objects (Longs, byte arrays, nested objects) that a generic decoder
// makes and convert.ts then walks. The writer decodes every spooled protobuf request with it, and
// on a 2-core machine the generic path and its garbage were most of the collector's time.
//
// It gives the same spans as protobufjs + convertExportRequest (decode-protobuf-reference.ts;
// test/unit/otlp-wire-decode.test.ts compares them): the rules of span-rules.ts refuse or fix
// spans, every limit of limits.ts applies, invalid UTF-8 is read as protobufjs reads it, and
// anything malformed throws MalformedRequestError (a 400). Two deliberate differences, both on
// data no OTLP exporter writes: a known field with the wrong wire type is skipped as an unknown
// field (as protoc does), and a value nested past OTLP_LIMITS.maxValueDepth — replaced by a marker
// anyway — is skipped by its length, its strings not checked.

const KEY_MAX = OTLP_LIMITS.maxAttributeKeyChars;
const VALUE_MAX = OTLP_LIMITS.maxAttributeValueChars;

/** An event with its time as sent (0 when absent); the span's rules settle it once the span's start is known. */
function decodeEvent(w: WireReader, end: number): SpanEvent {
  let timeUnixNano = 0n;
  let name = '';
  const attributes: AttrMap = new Map();
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 1) timeUnixNano = w.fixed64(end);
    else if (field === 2 && wt === 2) name = w.limitedString(end, KEY_MAX);
    else if (field === 3 && wt === 2) addAttribute(w, end, attributes, null, true);
    else w.skip(tag, end);
  }
  return { timeUnixNano, name, attributes };
}

function decodeLink(w: WireReader, end: number): SpanLink {
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
      // A link's id of the wrong length is dropped from the link; the span is kept.
      const id = e - w.pos === (field === 1 ? TRACE_ID_BYTES : SPAN_ID_BYTES) ? w.hex(w.pos, e) : '';
      if (field === 1) traceId = id;
      else spanId = id;
      w.pos = e;
    } else if (field === 3 && wt === 2) traceState = w.limitedString(end, KEY_MAX);
    else if (field === 4 && wt === 2) addAttribute(w, end, attributes);
    else w.skip(tag, end);
  }
  return { traceId, spanId, traceState, attributes };
}

function decodeSpan(w: WireReader, end: number, resource: SpanResource, scope: SpanScope, window: StartWindow, refusals: Refusals): DecodedSpan | null {
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
  const events: SpanEvent[] = [];
  const links: SpanLink[] = [];
  let statusCode = 0;
  let statusMessage = '';
  let lineage: string | null = null;
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
        }
        continue;
      case 3:
        if (wt !== 2) break;
        traceState = w.limitedString(end, KEY_MAX);
        continue;
      case 5:
        if (wt !== 2) break;
        name = w.limitedString(end, KEY_MAX);
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
        {
          const refusal = addAttribute(w, end, attributes, SPAN_LINEAGE_KEYS, true);
          lineage ??= refusal;
        }
        continue;
      case 11:
        if (wt !== 2) break;
        {
          const e = w.lengthEnd(end);
          const event = decodeEvent(w, e);
          if (events.length < OTLP_LIMITS.maxEventsPerSpan) events.push(event);
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
            if (t >>> 3 === 2 && (t & 7) === 2) statusMessage = w.limitedString(e, VALUE_MAX);
            else if (t >>> 3 === 3 && (t & 7) === 0) statusCode = w.uint32(e) | 0;
            else w.skip(t, e);
          }
        }
        continue;
    }
    w.skip(tag, end);
  }

  const parentBytes = parentEnd - parentStart;
  const parentAllZero = w.allZero(parentStart, parentEnd);
  const refusal = spanRefusal(
    traceEnd - traceStart,
    w.allZero(traceStart, traceEnd),
    spanEnd - spanStart,
    w.allZero(spanStart, spanEnd),
    parentBytes,
    true,
    isTooLate(start) || isTooLate(endNs),
    startWindowSide(start, window),
    window,
    lineage,
  );
  if (refusal !== null) return countRefusal(refusals, refusal), null;
  for (const event of events) event.timeUnixNano = storedEventTime(event.timeUnixNano, start);
  return {
    traceId: w.hex(traceStart, traceEnd),
    spanId: w.hex(spanStart, spanEnd),
    parentSpanId: hasParent(parentBytes, parentAllZero) ? w.hex(parentStart, parentEnd) : '',
    traceState,
    name,
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: storedEndTime(start, endNs),
    attributes,
    events,
    links,
    statusCode,
    statusMessage,
    resource,
    scope,
  };
}

function decodeScopeSpans(w: WireReader, end: number, resource: SpanResource, window: StartWindow, out: DecodedSpan[], refusals: Refusals): void {
  // The scope may come after the spans on the wire; they share one object, filled in when it is read.
  const scope: SpanScope = { name: '', version: '' };
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 2 && wt === 2) {
      const e = w.lengthEnd(end);
      const span = decodeSpan(w, e, resource, scope, window, refusals);
      if (span) out.push(span);
      w.pos = e;
    } else if (field === 1 && wt === 2) {
      const e = w.lengthEnd(end);
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) scope.name = w.limitedString(e, KEY_MAX);
        else if (t >>> 3 === 2 && (t & 7) === 2) scope.version = w.limitedString(e, KEY_MAX);
        else w.skip(t, e);
      }
    } else w.skip(tag, end);
  }
}

function decodeResourceSpans(w: WireReader, end: number, window: StartWindow, out: DecodedSpan[], refusals: Refusals): void {
  // Likewise the resource: one object for all the spans under it, its attributes set when read.
  const resource: SpanResource = { attributes: new Map() };
  const first = out.length;
  let lineage: string | null = null;
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 2 && wt === 2) {
      const e = w.lengthEnd(end);
      decodeScopeSpans(w, e, resource, window, out, refusals);
      w.pos = e;
    } else if (field === 1 && wt === 2) {
      // A resource given twice is merged (its attributes appended), as protobuf says.
      const e = w.lengthEnd(end);
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) {
          const refusal = addAttribute(w, e, resource.attributes, RESOURCE_LINEAGE_KEYS);
          lineage ??= refusal;
        } else w.skip(t, e);
      }
    } else w.skip(tag, end);
  }
  // A resource over a lineage bound refuses the spans under it that were kept (it may come after them).
  if (lineage !== null) {
    for (let i = first; i < out.length; i++) countRefusal(refusals, lineage);
    out.length = first;
  }
}

/**
 * Decodes an OTLP/protobuf ExportTraceServiceRequest body; throws MalformedRequestError when it is
 * not one. Spans starting outside `window` (span-rules.ts: startWindowAt) are refused. With
 * `textBytesExcept` (the writer passes conventions.KEYS_READ_AT_INGEST), long string values of span
 * and event attributes with other keys stay bytes of `body` (TextBytes): the spans then hold on to
 * the body, and their values read as text only through attrToString.
 */
export function decodeProtobufExport(body: Uint8Array, window: StartWindow = ANY_START, textBytesExcept: ReadonlySet<string> | null = null): DecodedExport {
  const w = new WireReader(body, textBytesExcept);
  const spans: DecodedSpan[] = [];
  const refusals: Refusals = { rejected: 0, reasons: [] };
  const end = w.buf.length;
  while (w.pos < end) {
    const tag = w.tag(end);
    if (tag >>> 3 === 1 && (tag & 7) === 2) {
      const e = w.lengthEnd(end);
      decodeResourceSpans(w, e, window, spans, refusals);
      w.pos = e;
    } else w.skip(tag, end);
  }
  return { spans, rejected: refusals.rejected, rejectionReasons: refusals.reasons };
}
