import type { ResolvedSpan } from '../../domain/stored-span.ts';
import { attrToString, spanKindName, statusCodeName, TextBytes, type AttrMap } from '../../domain/span.ts';

// Encodes resolved spans as TabSeparated rows for otel_traces: the cheapest text format for
// ClickHouse to parse (no key names, no JSON string escaping of the JSON messages that GenAI
// spans carry) and for us to write. Strings are escaped once, for both places they appear: as a
// TSV field and as a quoted string inside a Map or Array literal. Attribute keys stay data: they
// are written as escaped text and never become object keys on the way. Each value is escaped
// straight into the batch's buffer (RowWriter), so no string of a row is made, and a value the
// decoder kept as bytes (TextBytes) is copied from its request without becoming a string.

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

/** A Map(String, String) literal into `w`, as tsvMap writes it; a TextBytes value as its bytes. */
function writeMap(w: RowWriter, m: AttrMap): void {
  if (m.size === 0) return w.ascii('{}');
  let first = true;
  for (const [k, v] of m) {
    w.byte(first ? 0x7b : 0x2c); // { or ,
    first = false;
    w.byte(0x27);
    w.escaped(k);
    w.ascii("':'");
    if (v instanceof TextBytes) w.escapedBytes(v);
    else w.escaped(typeof v === 'string' ? v : attrToString(v));
    w.byte(0x27);
  }
  w.byte(0x7d);
}

/** An Array(String) literal into `w`, as tsvStrings writes it. */
function writeStrings(w: RowWriter, xs: readonly string[]): void {
  if (xs.length === 0) return w.ascii('[]');
  for (let i = 0; i < xs.length; i++) {
    w.ascii(i === 0 ? "['" : ",'");
    w.escaped(xs[i]!);
    w.byte(0x27);
  }
  w.byte(0x5d);
}

const TAB = 0x09;

/** An Array(Map(String, String)) literal into `w`: the attributes of each event or link. */
function writeMaps(w: RowWriter, items: ReadonlyArray<{ attributes: AttrMap }>): void {
  w.byte(0x5b);
  for (let i = 0; i < items.length; i++) {
    if (i > 0) w.byte(0x2c);
    writeMap(w, items[i]!.attributes);
  }
  w.byte(0x5d);
}

/**
 * One row into `w`, columns as SPAN_COLUMNS, each value escaped as it is written: no string of the
 * row is made, and a TextBytes value is copied as its bytes.
 */
function writeSpanRow(w: RowWriter, projectId: string, r: ResolvedSpan): void {
  const s = r.span;
  const l = r.resolved;
  const res = resourceColumns(s.resource.attributes);
  const p = l.prompt;
  const m = l.model;
  w.row();
  w.ascii(nanosToDateTime64(s.startTimeUnixNano));
  w.byte(TAB);
  w.escaped(s.traceId);
  w.byte(TAB);
  w.escaped(s.spanId);
  w.byte(TAB);
  w.escaped(s.parentSpanId);
  w.byte(TAB);
  w.escaped(s.traceState);
  w.byte(TAB);
  w.escaped(s.name);
  w.byte(TAB);
  w.ascii(spanKindName(s.kind));
  w.byte(TAB);
  w.text(res.serviceName);
  w.byte(TAB);
  w.text(res.map);
  w.byte(TAB);
  w.escaped(s.scope.name);
  w.byte(TAB);
  w.escaped(s.scope.version);
  w.byte(TAB);
  writeMap(w, s.attributes);
  w.byte(TAB);
  w.ascii((s.endTimeUnixNano - s.startTimeUnixNano).toString());
  w.byte(TAB);
  w.ascii(statusCodeName(s.statusCode));
  w.byte(TAB);
  w.escaped(s.statusMessage);
  w.byte(TAB);
  if (s.events.length > 0) {
    for (let i = 0; i < s.events.length; i++) {
      w.ascii(i === 0 ? "['" : ",'");
      w.ascii(nanosToDateTime64(s.events[i]!.timeUnixNano));
      w.byte(0x27);
    }
    w.ascii(']\t');
    writeStrings(w, s.events.map((e) => e.name));
    w.byte(TAB);
    writeMaps(w, s.events);
  } else w.ascii('[]\t[]\t[]');
  w.byte(TAB);
  if (s.links.length > 0) {
    writeStrings(w, s.links.map((x) => x.traceId));
    w.byte(TAB);
    writeStrings(w, s.links.map((x) => x.spanId));
    w.byte(TAB);
    writeStrings(w, s.links.map((x) => x.traceState));
    w.byte(TAB);
    writeMaps(w, s.links);
  } else w.ascii('[]\t[]\t[]\t[]');
  w.byte(TAB);
  w.escaped(projectId);
  w.byte(TAB);
  if (p) {
    w.escaped(p.name);
    w.byte(TAB);
    w.escaped(p.version);
    w.byte(TAB);
    w.escaped(p.alias);
    w.byte(TAB);
    w.escaped(p.templateHash);
  } else w.ascii('\t\t\t');
  w.byte(TAB);
  w.escaped(l.promptSpanId);
  w.byte(TAB);
  if (p) w.escaped(r.registration ?? '');
  w.byte(TAB);
  if (m) {
    w.escaped(m.provider);
    w.byte(TAB);
    w.escaped(m.name);
  } else w.byte(TAB);
  w.byte(TAB);
  w.escaped(l.responseId);
  w.byte(TAB);
  writeStrings(w, l.datasetIds);
  w.byte(TAB);
  w.escaped(l.app.name);
  w.byte(TAB);
  w.escaped(l.app.version);
  w.byte(TAB);
  w.escaped(l.conversationId);
  w.byte(TAB);
  w.ascii(String(r.ownMask));
  w.byte(TAB);
  w.ascii(String(r.revision));
  w.byte(0x0a);
}

/**
 * The rows of a batch as one TabSeparated body, columns as SPAN_COLUMNS. Each row is written into
 * the buffer as it is made: one huge string of all rows would cost a copy and a flattening of
 * its own.
 */
export function encodeSpanRows(projectId: string, spans: readonly ResolvedSpan[]): Buffer {
  const w = new RowWriter(spans.length);
  for (const s of spans) writeSpanRow(w, projectId, s);
  return w.done();
}

/** The same, in slices of `slice` rows with the event loop let in between (a batch takes ~100 ms). */
export async function encodeSpanRowsSliced(projectId: string, spans: readonly ResolvedSpan[], slice = 2000): Promise<Buffer> {
  const w = new RowWriter(spans.length);
  for (let i = 0; i < spans.length; i++) {
    writeSpanRow(w, projectId, spans[i]!);
    if (i % slice === slice - 1) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return w.done();
}

/** What an ASCII character is written as after a backslash; 0 when it is written as it is (tsvEscape's table). */
const ESCAPED_ASCII = new Uint8Array(128);
for (const [c, e] of [['\\', '\\'], ['\t', 't'], ['\n', 'n'], ['\r', 'r'], ['\0', '0'], ["'", "'"]] as const) ESCAPED_ASCII[c.charCodeAt(0)] = e.charCodeAt(0);

/** Strings longer than this are escaped and written by the engine's native code, not a character at a time. */
const LONG_STRING = 256;

/** Rows written before the writer projects the batch's size from them (and grows its buffer once, early). */
const PROJECT_AFTER_ROWS = 256;

/**
 * The rows go to the engine in one buffer, which crosses to the thread that inserts it whole: its
 * spare capacity is memory that thread's collector counts as allocated (V8 counts the bytes of
 * buffers allocated since its last full collection towards the heap's limit), so the buffer is
 * sized to what the first rows project for the batch, not doubled; growing it early copies little.
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

  /** A row begins. */
  row(): void {
    this.added++;
    if (this.added === PROJECT_AFTER_ROWS + 1 && this.rows > 2 * PROJECT_AFTER_ROWS) this.grow(this.projected(this.off));
  }

  /** Text already in the row format (escaped where it needs to be). */
  text(s: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (this.off + s.length * 3 > this.buf.length) this.ensure(Buffer.byteLength(s, 'utf8'));
    this.off += this.buf.write(s, this.off, 'utf8');
  }

  /** ASCII text that needs no escaping (digits, dates, names of kinds, the format's own marks). */
  ascii(s: string): void {
    const n = s.length;
    if (this.off + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    let off = this.off;
    for (let i = 0; i < n; i++) buf[off++] = s.charCodeAt(i);
    this.off = off;
  }

  byte(b: number): void {
    if (this.off === this.buf.length) this.ensure(1);
    this.buf[this.off++] = b;
  }

  /**
   * A string escaped as tsvEscape escapes it, written as UTF-8: ASCII a character at a time, the
   * rest of a string from its first other character (and any long string) by tsvEscape and the
   * buffer's own UTF-8 writer.
   */
  escaped(s: string): void {
    const n = s.length;
    if (n > LONG_STRING) return this.text(tsvEscape(s));
    if (this.off + 2 * n > this.buf.length) this.ensure(2 * n);
    const buf = this.buf;
    let off = this.off;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.off = off;
        return this.text(tsvEscape(s.slice(i)));
      }
      const x = ESCAPED_ASCII[c]!;
      if (x === 0) buf[off++] = c;
      else {
        buf[off++] = 0x5c;
        buf[off++] = x;
      }
    }
    this.off = off;
  }

  /**
   * A TextBytes value, escaped as tsvEscape escapes its text: read one byte a character (latin1),
   * the bytes it escapes are the same ASCII bytes, never part of a longer UTF-8 sequence. The
   * string lives only while it is written; the value's text is never made.
   */
  escapedBytes(t: TextBytes): void {
    const escaped = tsvEscape(t.body.toString('latin1', t.start, t.end));
    if (this.off + escaped.length > this.buf.length) this.ensure(escaped.length);
    this.off += this.buf.write(escaped, this.off, 'latin1');
  }

  done(): Buffer {
    return this.buf.subarray(0, this.off);
  }

  /** The batch's size as the rows so far project it, with a tenth to spare. */
  private projected(need: number): number {
    return Math.ceil((need / this.added) * Math.max(this.rows, this.added) * 1.1);
  }

  private ensure(bytes: number): void {
    const need = this.off + bytes;
    if (need > this.buf.length) this.grow(Math.max(need + 64 * 1024, this.projected(need)));
  }

  private grow(size: number): void {
    if (size <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
  }
}
