import { randomBytes, randomUUID } from 'node:crypto';
import { otlpRoot } from '../../src/ingest/otlp/otlp-definitions.ts';

// OTLP export requests built by hand, as an SDK would send them: OTLP/JSON objects (hex ids,
// int64 as strings), and the same objects encoded as OTLP/protobuf with the repo's descriptor.

type JsonAnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { boolValue: boolean }
  | { doubleValue: number }
  | { kvlistValue: { values: JsonKeyValue[] } }
  | { arrayValue: { values: JsonAnyValue[] } };

export interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}

export interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: JsonKeyValue[];
}

export interface JsonExportRequest {
  resourceSpans: Array<{
    resource: { attributes: JsonKeyValue[] };
    scopeSpans: Array<{ scope: { name: string; version: string }; spans: JsonSpan[] }>;
  }>;
}

export const traceId = (): string => randomBytes(16).toString('hex');
export const spanId = (): string => randomBytes(8).toString('hex');
export const uniqueId = (prefix: string): string => `${prefix}-${randomUUID()}`;

export const str = (key: string, value: string): JsonKeyValue => ({ key, value: { stringValue: value } });

/** Attributes from a plain record of strings (keys given as data, never as object keys). */
const strAttrs = (pairs: ReadonlyArray<readonly [string, string]>): JsonKeyValue[] => pairs.map(([k, v]) => str(k, v));

export function jsonSpan(opts: { traceId?: string; spanId?: string; parentSpanId?: string; name?: string; attributes?: JsonKeyValue[] } = {}): JsonSpan {
  const start = BigInt(Date.now()) * 1_000_000n;
  return {
    traceId: opts.traceId ?? traceId(),
    spanId: opts.spanId ?? spanId(),
    ...(opts.parentSpanId ? { parentSpanId: opts.parentSpanId } : {}),
    name: opts.name ?? 'chat gpt-4o',
    kind: 3,
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: (start + 250_000_000n).toString(),
    attributes: opts.attributes ?? [],
  };
}

export function exportRequest(spans: JsonSpan[], resourceAttributes: JsonKeyValue[] = defaultResource()): JsonExportRequest {
  return {
    resourceSpans: [{ resource: { attributes: resourceAttributes }, scopeSpans: [{ scope: { name: 'promptline-e2e', version: '1.0.0' }, spans }] }],
  };
}

const defaultResource = (): JsonKeyValue[] => strAttrs([
  ['service.name', 'e2e-app'],
  ['service.version', '2.3.4'],
]);

export interface LlmCall {
  traceId: string;
  spanId: string;
  responseId: string;
  promptName: string;
  promptVersion: string;
  model: string;
}

/** An LLM call span carrying a response id, a prompt name and version, and a model. */
export function llmCall(overrides: Partial<LlmCall> = {}): { call: LlmCall; span: JsonSpan } {
  const call: LlmCall = {
    traceId: overrides.traceId ?? traceId(),
    spanId: overrides.spanId ?? spanId(),
    responseId: overrides.responseId ?? uniqueId('chatcmpl'),
    promptName: overrides.promptName ?? 'support-answer',
    promptVersion: overrides.promptVersion ?? '7',
    model: overrides.model ?? 'gpt-4o-2024-08-06',
  };
  const span = jsonSpan({
    traceId: call.traceId,
    spanId: call.spanId,
    attributes: strAttrs([
      ['gen_ai.system', 'openai'],
      ['gen_ai.response.model', call.model],
      ['gen_ai.response.id', call.responseId],
      ['gen_ai.prompt.name', call.promptName],
      ['gen_ai.prompt.version', call.promptVersion],
    ]),
  });
  return { call, span };
}

const ExportTraceServiceRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/** The OTLP/JSON object with hex ids turned into bytes, as protobufjs' fromObject wants them. */
function toProtobufObject(v: unknown, key = ''): unknown {
  if (typeof v === 'string' && ID_FIELDS.has(key)) return Buffer.from(v, 'hex');
  if (Array.isArray(v)) return v.map((x) => toProtobufObject(x));
  if (v instanceof Uint8Array) return v;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[k] = toProtobufObject(val, k);
    return out;
  }
  return v;
}

/** Encodes an OTLP/JSON export request as OTLP/protobuf. */
export function toProtobuf(req: JsonExportRequest): Uint8Array {
  const message = ExportTraceServiceRequest.fromObject(toProtobufObject(req) as Record<string, unknown>);
  const problem = ExportTraceServiceRequest.verify(message);
  if (problem) throw new Error(`test payload is not a valid ExportTraceServiceRequest: ${problem}`);
  return ExportTraceServiceRequest.encode(message).finish();
}

/** Encodes an export request whose ids are given as raw bytes (for ids of the wrong length). */
export function toProtobufWithRawIds(req: unknown): Uint8Array {
  return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(req as Record<string, unknown>)).finish();
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
}

export async function postProtobuf(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', ...headers }, body });
}

export async function postRaw(url: string, body: Uint8Array | string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${url}/v1/traces`, { method: 'POST', headers, body });
}
