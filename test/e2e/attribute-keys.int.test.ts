import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exportRequest,
  jsonSpan,
  llmCall,
  postJson,
  postProtobuf,
  str,
  toProtobuf,
  type JsonKeyValue,
} from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Attribute keys come over the wire and are data. Keys that name Object.prototype members, and a
// prompt called "__proto__", are stored and answered as they were sent, in either encoding, and
// change no prototype on the way.

const SPECIAL_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'] as const;

let server: ServerUnderTest;
const prototypeNamesBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  if (!server) return;
  const code = await server.stop();
  removeDir(server.dataDir);
  expect(code).toBe(0);
});

type Encoding = 'json' | 'protobuf';

interface TraceAnswer {
  traceId: string;
  spans: Array<{
    spanId: string;
    name: string;
    attributes: Record<string, string>;
    resourceAttributes: Record<string, string>;
    lineage: { responseId: string | null; prompt: { name: string; version: number | string | null } | null };
  }>;
}

/** GET /v1/traces/{id}, parsed with JSON.parse from the text (which keeps "__proto__" as an own key). */
async function getTrace(traceId: string): Promise<TraceAnswer | undefined> {
  const res = await fetch(`${server.url}/v1/traces/${traceId}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET /v1/traces/${traceId} answered ${res.status}: ${await res.text()}`);
  return JSON.parse(await res.text()) as TraceAnswer;
}

async function send(encoding: Encoding, req: ReturnType<typeof exportRequest>): Promise<void> {
  const res = encoding === 'json' ? await postJson(server.url, req) : await postProtobuf(server.url, toProtobuf(req));
  expect(res.status).toBe(200);
}

const specialAttrs = (prefix: string): JsonKeyValue[] => SPECIAL_KEYS.map((k) => str(k, `${prefix}:${k}`));

/** Own properties of a parsed object, checked one by one without reading through the prototype. */
function expectOwnStrings(obj: Record<string, string>, prefix: string): void {
  for (const key of SPECIAL_KEYS) {
    expect(Object.hasOwn(obj, key), `own key ${key}`).toBe(true);
    expect(Object.getOwnPropertyDescriptor(obj, key)?.value, `value of ${key}`).toBe(`${prefix}:${key}`);
  }
}

describe.each<Encoding>(['json', 'protobuf'])('attribute keys that name Object.prototype members, sent as %s', (encoding) => {
  const { call, span } = llmCall({ promptName: '__proto__', promptVersion: '3' });
  span.attributes.push(...specialAttrs(`span-${encoding}`));
  // A nested key-value list with a "__proto__" key, stored as its JSON text.
  span.attributes.push({
    key: 'nested',
    value: { kvlistValue: { values: [{ key: '__proto__', value: { kvlistValue: { values: [str('polluted', 'yes')] } } }, str('constructor', 'c')] } },
  });
  const resource = [str('service.name', `proto-app-${encoding}`), ...specialAttrs(`resource-${encoding}`)];

  beforeAll(async () => {
    await send(encoding, exportRequest([span], resource));
  });

  it('returns span attributes keyed __proto__, constructor, prototype, toString, hasOwnProperty as data', async () => {
    const trace = await eventually(() => getTrace(call.traceId), `trace ${call.traceId}`);
    expect(trace.spans).toHaveLength(1);
    const attrs = trace.spans[0]!.attributes;
    expectOwnStrings(attrs, `span-${encoding}`);
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(attrs['gen_ai.prompt.name']).toBe('__proto__');
    expect(attrs['gen_ai.response.id']).toBe(call.responseId);
  });

  it('returns resource attributes with the same keys as data', async () => {
    const trace = await eventually(() => getTrace(call.traceId), `trace ${call.traceId}`);
    const res = trace.spans[0]!.resourceAttributes;
    expectOwnStrings(res, `resource-${encoding}`);
    expect(res['service.name']).toBe(`proto-app-${encoding}`);
    expect(Object.keys(res).sort()).toEqual(['service.name', ...SPECIAL_KEYS].sort());
  });

  it('keeps a nested "__proto__" key inside a key-value list value as JSON text', async () => {
    const trace = await eventually(() => getTrace(call.traceId), `trace ${call.traceId}`);
    const nested = trace.spans[0]!.attributes['nested'];
    expect(typeof nested).toBe('string');
    const parsed = JSON.parse(nested!) as Record<string, unknown>;
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).toEqual({ polluted: 'yes' });
    expect(Object.getOwnPropertyDescriptor(parsed, 'constructor')?.value).toBe('c');
  });

  it('answers provenance with the prompt name "__proto__"', async () => {
    const answer = await eventually(() => provenance(server.url, { response_id: call.responseId }), `response ${call.responseId}`);
    expect(answer).toMatchObject({
      responseId: call.responseId,
      traceId: call.traceId,
      spanId: call.spanId,
      prompt: { name: '__proto__', version: 3 },
      model: { provider: 'openai', name: call.model },
      app: { name: `proto-app-${encoding}`, version: null },
    });
    expect(await provenance(server.url, { trace_id: call.traceId })).toMatchObject({ prompt: { name: '__proto__' } });
    expect(await provenance(server.url, { span_id: call.spanId })).toMatchObject({ prompt: { name: '__proto__' } });
    const trace = (await getTrace(call.traceId))!;
    expect(trace.spans[0]!.lineage.prompt?.name).toBe('__proto__');
  });
});

describe('after the special keys', () => {
  it('answers a "__proto__" query parameter beside a key as an ordinary request', async () => {
    const { call, span } = llmCall({ promptName: 'query-proto' });
    await send('json', exportRequest([span]));
    await eventually(() => provenance(server.url, { response_id: call.responseId }), `response ${call.responseId}`);
    const res = await fetch(`${server.url}/v1/provenance?__proto__=x&constructor=y&response_id=${encodeURIComponent(call.responseId)}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ responseId: call.responseId, prompt: { name: 'query-proto' } });
  });

  it('keeps serving: an ordinary span afterwards is stored with exactly its own attributes', async () => {
    const { call, span } = llmCall({ promptName: 'ordinary' });
    const plain = jsonSpan({ traceId: call.traceId, parentSpanId: call.spanId, name: 'tool call', attributes: [str('tool.name', 'search')] });
    await send('protobuf', exportRequest([span, plain]));
    const trace = await eventually(async () => {
      const t = await getTrace(call.traceId);
      return t && t.spans.length === 2 ? t : undefined;
    }, `trace ${call.traceId}`);
    const tool = trace.spans.find((s) => s.spanId === plain.spanId)!;
    expect(tool.attributes).toEqual({ 'tool.name': 'search' });
    expect(tool.resourceAttributes).toEqual({ 'service.name': 'e2e-app', 'service.version': '2.3.4' });
    // The tool call inherits the prompt of its parent LLM call.
    expect(tool.lineage.prompt?.name).toBe('ordinary');
    expect(await provenance(server.url, { response_id: call.responseId })).toMatchObject({ prompt: { name: 'ordinary' }, app: { name: 'e2e-app' } });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('leaves Object.prototype of the test process untouched', () => {
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNamesBefore);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(typeof ({}).toString).toBe('function');
    expect(typeof ({}).hasOwnProperty).toBe('function');
  });
});
