import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import Long from 'long';
import { otlpRoot } from '../../src/ingest/otlp/otlp-definitions.ts';

// An OTLP/HTTP tap on loopback between a client library and `promptline serve`: every request is
// passed through unchanged (body, content type, encoding) and the server's answer goes back to the
// client, so the library sees the real receiver; on the way the request is decoded with the
// official protobuf definitions and kept, with every attribute's wire type, for the record of what
// each library really sends (test-output/clients-wire/<case>.json).

const ExportRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

/** An OTLP AnyValue as it was on the wire: its oneof field, and the value in JSON terms. */
export interface WireValue {
  type: 'string' | 'bool' | 'int' | 'double' | 'bytes' | 'array' | 'kvlist' | 'empty';
  value: unknown;
}
export interface WireAttribute extends WireValue {
  key: string;
}
export interface WireSpan {
  name: string;
  kind: string;
  scope: { name: string; version: string };
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** The parent's name when the parent was received too (in any request of this tap). */
  parentName: string | null;
  status: { code: string; message: string };
  attributes: WireAttribute[];
  events: Array<{ name: string; attributes: WireAttribute[] }>;
  /** Index into `resources`. */
  resource: number;
}
export interface WireCapture {
  requests: Array<{ contentType: string; contentEncoding: string | null; bytes: number; status: number; answer: string }>;
  resources: WireAttribute[][];
  spans: WireSpan[];
}

export interface OtlpWireTap {
  /** The tap's traces endpoint (…/v1/traces), for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  endpoint: string;
  capture(): WireCapture;
  close(): Promise<void>;
}

const hex = (v: unknown) => (v instanceof Uint8Array && v.length > 0 ? Buffer.from(v).toString('hex') : null);

// A decoded message holds the fields that were on the wire as own properties (the rest are
// defaults on its prototype), so the oneof member that was sent is the own one.
const has = (v: object, field: string) => Object.hasOwn(v, field);

/** An int64 as a JSON number where it is one exactly, else as its decimal text. */
function intValue(v: unknown): number | string {
  const text = Long.isLong(v) ? v.toString() : String(v);
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function anyValue(v: any): WireValue {
  if (v === null || v === undefined) return { type: 'empty', value: null };
  if (has(v, 'stringValue')) return { type: 'string', value: v.stringValue };
  if (has(v, 'boolValue')) return { type: 'bool', value: v.boolValue };
  if (has(v, 'intValue')) return { type: 'int', value: intValue(v.intValue) };
  if (has(v, 'doubleValue')) return { type: 'double', value: v.doubleValue };
  if (has(v, 'bytesValue')) return { type: 'bytes', value: Buffer.from(v.bytesValue).toString('base64') };
  if (has(v, 'arrayValue')) return { type: 'array', value: (v.arrayValue.values ?? []).map(anyValue) };
  if (has(v, 'kvlistValue')) return { type: 'kvlist', value: attributes(v.kvlistValue.values) };
  return { type: 'empty', value: null };
}

function attributes(kvs: any[] | undefined): WireAttribute[] {
  return (kvs ?? []).map((kv) => ({ key: String(kv.key), ...anyValue(kv.value) }));
}

const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS = ['UNSET', 'OK', 'ERROR'];

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Starts a tap that forwards to `target` (the receiver's …/v1/traces URL). */
export async function startOtlpWireTap(target: string): Promise<OtlpWireTap> {
  const captured: WireCapture = { requests: [], resources: [], spans: [] };
  const record = (raw: Buffer, contentType: string, encoding: string | null) => {
    const body = encoding === 'gzip' ? gunzipSync(raw) : raw;
    const message: any = contentType.includes('json') ? ExportRequest.fromObject(JSON.parse(body.toString('utf8'))) : ExportRequest.decode(body);
    for (const rs of message.resourceSpans ?? []) {
      captured.resources.push(attributes(rs.resource?.attributes));
      const resource = captured.resources.length - 1;
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          captured.spans.push({
            name: s.name,
            kind: KINDS[s.kind ?? 0] ?? String(s.kind),
            scope: { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' },
            traceId: hex(s.traceId) ?? '',
            spanId: hex(s.spanId) ?? '',
            parentSpanId: hex(s.parentSpanId),
            parentName: null,
            status: { code: STATUS[s.status?.code ?? 0] ?? String(s.status?.code), message: s.status?.message ?? '' },
            attributes: attributes(s.attributes),
            events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: attributes(e.attributes) })),
            resource,
          });
        }
      }
    }
  };
  const server = createServer((req, res) => {
    readBody(req).then(async (raw) => {
      const contentType = req.headers['content-type'] ?? '';
      const contentEncoding = req.headers['content-encoding'] ?? null;
      const headers: Record<string, string> = { 'content-type': contentType };
      if (contentEncoding) headers['content-encoding'] = contentEncoding;
      if (req.headers.authorization) headers.authorization = req.headers.authorization;
      const answer = await fetch(target, { method: 'POST', headers, body: raw });
      const answerBody = Buffer.from(await answer.arrayBuffer());
      captured.requests.push({ contentType, contentEncoding, bytes: raw.length, status: answer.status, answer: answer.headers.get('content-type')?.includes('json') ? answerBody.toString('utf8') : `${answerBody.length} bytes` });
      if (answer.ok) record(raw, contentType, contentEncoding);
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(answerBody);
    }).catch((err: unknown) => {
      captured.requests.push({ contentType: String(req.headers['content-type']), contentEncoding: null, bytes: 0, status: 502, answer: String(err) });
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    capture() {
      const names = new Map(captured.spans.map((s) => [s.spanId, s.name]));
      return { ...captured, spans: captured.spans.map((s) => ({ ...s, parentName: s.parentSpanId ? (names.get(s.parentSpanId) ?? null) : null })) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
