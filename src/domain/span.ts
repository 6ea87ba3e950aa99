// The span as the collector sees it after decoding either OTLP encoding. Attribute keys come
// over the wire, so attributes are Maps, never plain objects.

export type AttrValue = string | TextBytes | number | boolean | bigint | Uint8Array | AttrValue[] | AttrMap | null;
export type AttrMap = Map<string, AttrValue>;

/**
 * A string value kept as its UTF-8 bytes in the request body it arrived in, never made a
 * JavaScript string: message content and other large values the collector stores but does not
 * read. The protobuf decoder makes one only of well-formed UTF-8 within the value limit, so its
 * text is exactly the string it stands for; the row encoder copies the bytes, escaped.
 */
export class TextBytes {
  readonly body: Buffer;
  readonly start: number;
  readonly end: number;

  constructor(body: Buffer, start: number, end: number) {
    this.body = body;
    this.start = start;
    this.end = end;
  }

  toString(): string {
    return this.body.toString('utf8', this.start, this.end);
  }
}

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: AttrMap;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: AttrMap;
}

export interface SpanResource {
  attributes: AttrMap;
}

export interface SpanScope {
  name: string;
  version: string;
}

export interface DecodedSpan {
  /** 32 lower-case hex characters. */
  traceId: string;
  /** 16 lower-case hex characters. */
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP SpanKind number (0 unspecified … 5 consumer). */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: AttrMap;
  events: SpanEvent[];
  links: SpanLink[];
  /** OTLP StatusCode number (0 unset, 1 ok, 2 error). */
  statusCode: number;
  statusMessage: string;
  resource: SpanResource;
  scope: SpanScope;
}

/** The result of decoding one export request: the spans kept and why others were refused. */
export interface DecodedExport {
  spans: DecodedSpan[];
  rejected: number;
  rejectionReasons: string[];
}

const SPAN_KIND_NAMES = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
const STATUS_CODE_NAMES = ['Unset', 'Ok', 'Error'];

/** Names as the OpenTelemetry Collector's ClickHouse exporter writes them. */
export function spanKindName(kind: number): string {
  return SPAN_KIND_NAMES[kind] ?? 'Unspecified';
}

export function statusCodeName(code: number): string {
  return STATUS_CODE_NAMES[code] ?? 'Unset';
}

/** The string form an attribute value takes in a Map(String, String) column. */
export function attrToString(v: AttrValue): string {
  if (typeof v === 'string') return v;
  if (v === null) return '';
  if (v instanceof TextBytes) return v.toString();
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(attrToJson(v));
}

/** A JSON-safe form of an attribute value (bytes as base64, maps as null-prototype objects). */
export function attrToJson(v: AttrValue): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (v instanceof TextBytes) return v.toString();
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(attrToJson);
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, val] of v) out[k] = attrToJson(val);
  return out;
}
