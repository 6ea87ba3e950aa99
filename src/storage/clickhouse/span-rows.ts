import type { ResolvedSpan } from '../../domain/stored-span.ts';
import { attrToString, spanKindName, statusCodeName, type AttrMap } from '../../domain/span.ts';

// Encodes resolved spans as TabSeparated rows for otel_traces: the cheapest text format for
// ClickHouse to parse (no key names, no JSON string escaping of the JSON messages that GenAI
// spans carry) and for us to write. Strings are escaped once, for both places they appear: as a
// TSV field and as a quoted string inside a Map or Array literal. Attribute keys stay data: they
// are written as escaped text and never become object keys on the way.

/** Columns of otel_traces written at ingest, in the order the rows below use. */
export const SPAN_COLUMNS = [
  'Timestamp', 'TraceId', 'SpanId', 'ParentSpanId', 'TraceState', 'SpanName', 'SpanKind', 'ServiceName',
  'ResourceAttributes', 'ScopeName', 'ScopeVersion', 'SpanAttributes', 'Duration', 'StatusCode', 'StatusMessage',
  'Events.Timestamp', 'Events.Name', 'Events.Attributes',
  'Links.TraceId', 'Links.SpanId', 'Links.TraceState', 'Links.Attributes',
  'ProjectId', 'PromptName', 'PromptVersion', 'PromptAlias', 'PromptTemplateHash', 'PromptSpanId', 'PromptRegistration',
  'ModelProvider', 'ModelName', 'ResponseId', 'DatasetIds', 'AppName', 'AppVersion', 'ConversationId',
  'LineageOwnMask', 'LineageRevision',
] as const;

/** The format the rows of encodeSpanRows are in. */
export const SPAN_ROWS_FORMAT = 'TabSeparated' as const;

const NS_PER_S = 1_000_000_000n;
let cachedSecond = -1n;
let cachedPrefix = '';

/**
 * Nanoseconds since the epoch as "YYYY-MM-DD hh:mm:ss.nnnnnnnnn" (UTC), which DateTime64(9) reads
 * exactly in every input format, from 1970-01-01 00:00:00 on. (A bare "seconds.nanoseconds" is
 * read as a date when the seconds have fewer than 9 digits.)
 */
export function nanosToDateTime64(ns: bigint): string {
  const s = ns / NS_PER_S;
  if (s !== cachedSecond) {
    const iso = new Date(Number(s) * 1000).toISOString();
    cachedPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}.`;
    cachedSecond = s;
  }
  return cachedPrefix + (ns - s * NS_PER_S).toString().padStart(9, '0');
}

const SPECIAL = /[\\\t\n\r\0']/;
const SPECIAL_ALL = /[\\\t\n\r\0']/g;
const ESCAPED = new Map([
  ['\\', '\\\\'],
  ['\t', '\\t'],
  ['\n', '\\n'],
  ['\r', '\\r'],
  ['\0', '\\0'],
  ["'", "\\'"],
]);
const replace = (c: string) => ESCAPED.get(c)!;

/** A string escaped for a TabSeparated field and for a quoted string in a Map or Array literal alike. */
export function tsvEscape(s: string): string {
  return SPECIAL.test(s) ? s.replace(SPECIAL_ALL, replace) : s;
}

/** A Map(String, String) literal: {'key':'value',…}. */
export function tsvMap(m: AttrMap): string {
  if (m.size === 0) return '{}';
  let out = '{';
  for (const [k, v] of m) {
    out += (out.length === 1 ? "'" : ",'") + tsvEscape(k) + "':'" + tsvEscape(typeof v === 'string' ? v : attrToString(v)) + "'";
  }
  return out + '}';
}

/** An Array(String) literal: ['a',…]. */
export function tsvStrings(xs: readonly string[]): string {
  if (xs.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < xs.length; i++) out += (i === 0 ? "'" : ",'") + tsvEscape(xs[i]!) + "'";
  return out + ']';
}

const resourceCache = new WeakMap<AttrMap, { map: string; serviceName: string }>();

/** Spans of one request share their resource: its columns are encoded once. */
function resourceColumns(attrs: AttrMap): { map: string; serviceName: string } {
  let hit = resourceCache.get(attrs);
  if (!hit) {
    const sn = attrs.get('service.name');
    hit = { map: tsvMap(attrs), serviceName: tsvEscape(sn === undefined || sn === null ? '' : attrToString(sn)) };
    resourceCache.set(attrs, hit);
  }
  return hit;
}

export function encodeSpanRow(projectId: string, r: ResolvedSpan): string {
  const s = r.span;
  const l = r.resolved;
  const res = resourceColumns(s.resource.attributes);
  const p = l.prompt;
  const m = l.model;
  let events = '[]\t[]\t[]';
  if (s.events.length > 0) {
    events =
      '[' + s.events.map((e) => "'" + nanosToDateTime64(e.timeUnixNano) + "'").join(',') + ']\t' +
      tsvStrings(s.events.map((e) => e.name)) + '\t' +
      '[' + s.events.map((e) => tsvMap(e.attributes)).join(',') + ']';
  }
  let links = '[]\t[]\t[]\t[]';
  if (s.links.length > 0) {
    links =
      tsvStrings(s.links.map((x) => x.traceId)) + '\t' +
      tsvStrings(s.links.map((x) => x.spanId)) + '\t' +
      tsvStrings(s.links.map((x) => x.traceState)) + '\t' +
      '[' + s.links.map((x) => tsvMap(x.attributes)).join(',') + ']';
  }
  return (
    nanosToDateTime64(s.startTimeUnixNano) + '\t' +
    tsvEscape(s.traceId) + '\t' +
    tsvEscape(s.spanId) + '\t' +
    tsvEscape(s.parentSpanId) + '\t' +
    tsvEscape(s.traceState) + '\t' +
    tsvEscape(s.name) + '\t' +
    spanKindName(s.kind) + '\t' +
    res.serviceName + '\t' +
    res.map + '\t' +
    tsvEscape(s.scope.name) + '\t' +
    tsvEscape(s.scope.version) + '\t' +
    tsvMap(s.attributes) + '\t' +
    (s.endTimeUnixNano - s.startTimeUnixNano).toString() + '\t' +
    statusCodeName(s.statusCode) + '\t' +
    tsvEscape(s.statusMessage) + '\t' +
    events + '\t' +
    links + '\t' +
    tsvEscape(projectId) + '\t' +
    (p ? tsvEscape(p.name) + '\t' + tsvEscape(p.version) + '\t' + tsvEscape(p.alias) + '\t' + tsvEscape(p.templateHash) : '\t\t\t') + '\t' +
    tsvEscape(l.promptSpanId) + '\t' +
    (p ? tsvEscape(r.registration ?? '') : '') + '\t' +
    (m ? tsvEscape(m.provider) + '\t' + tsvEscape(m.name) : '\t') + '\t' +
    tsvEscape(l.responseId) + '\t' +
    tsvStrings(l.datasetIds) + '\t' +
    tsvEscape(l.app.name) + '\t' +
    tsvEscape(l.app.version) + '\t' +
    tsvEscape(l.conversationId) + '\t' +
    String(r.ownMask) + '\t' +
    String(r.revision) +
    '\n'
  );
}

/**
 * The rows of a batch as one TabSeparated body, columns as SPAN_COLUMNS. Each row is written into
 * the buffer as it is made: one huge string of all rows would cost a copy and a flattening of
 * its own.
 */
export function encodeSpanRows(projectId: string, spans: readonly ResolvedSpan[]): Buffer {
  const w = new RowWriter(spans.length);
  for (const s of spans) w.add(encodeSpanRow(projectId, s));
  return w.done();
}

/** The same, in slices of `slice` rows with the event loop let in between (a batch takes ~100 ms). */
export async function encodeSpanRowsSliced(projectId: string, spans: readonly ResolvedSpan[], slice = 2000): Promise<Buffer> {
  const w = new RowWriter(spans.length);
  for (let i = 0; i < spans.length; i++) {
    w.add(encodeSpanRow(projectId, spans[i]!));
    if (i % slice === slice - 1) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return w.done();
}

/**
 * The rows go to the engine in one buffer, which crosses to the thread that inserts it whole: its
 * spare capacity is memory that thread's collector counts as allocated (V8 counts the bytes of
 * buffers allocated since its last full collection towards the heap's limit), so a buffer that
 * outgrows its first guess is grown to what the rows so far project for the batch, not doubled.
 */
class RowWriter {
  private buf: Buffer;
  private off = 0;
  private added = 0;
  private readonly rows: number;

  constructor(rows: number) {
    this.rows = rows;
    this.buf = Buffer.allocUnsafe(Math.max(64 * 1024, rows * 2048));
  }

  add(row: string): void {
    let buf = this.buf;
    const off = this.off;
    this.added++;
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (off + row.length * 3 > buf.length) {
      const need = off + Buffer.byteLength(row, 'utf8');
      if (need > buf.length) {
        const projected = Math.ceil((need / this.added) * Math.max(this.rows, this.added) * 1.1);
        const bigger = Buffer.allocUnsafe(Math.max(need + 64 * 1024, projected));
        buf.copy(bigger, 0, 0, off);
        this.buf = buf = bigger;
      }
    }
    this.off += buf.write(row, off, 'utf8');
  }

  done(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}
