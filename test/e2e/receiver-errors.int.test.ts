import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtobufExportResponse, decodeProtobufStatus } from '../../src/ingest/otlp/otlp-answers.ts';
import { OTLP_LIMITS, TRUNCATION_MARK } from '../../src/ingest/otlp/limits.ts';
import {
  exportRequest,
  jsonSpan,
  llmCall,
  postJson,
  postProtobuf,
  postRaw,
  spanId,
  str,
  toProtobuf,
  toProtobufWithRawIds,
  traceId,
  uniqueId,
  type JsonSpan,
} from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// The OTLP/HTTP receiver's failure answers, against a real `promptline serve` process: each bad
// request gets the status and body the OTLP specification asks for, and the server keeps taking
// good requests afterwards.

const MiB = 1024 * 1024;
const RPC_INVALID_ARGUMENT = 3;
const RPC_RESOURCE_EXHAUSTED = 8;

let server: ServerUnderTest;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  if (!server) return;
  const code = await server.stop();
  removeDir(server.dataDir);
  expect(code).toBe(0);
});

async function bodyBytes(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

/** Sends one good span (JSON or protobuf) and waits until its response id is queryable. */
async function expectStillServing(encoding: 'json' | 'protobuf' = 'json'): Promise<void> {
  const { call, span } = llmCall({ promptName: `after-bad-request-${encoding}` });
  const req = exportRequest([span]);
  const res = encoding === 'json' ? await postJson(server.url, req) : await postProtobuf(server.url, toProtobuf(req));
  expect(res.status).toBe(200);
  if (encoding === 'json') expect(await res.json()).toEqual({});
  else expect(decodeProtobufExportResponse(await bodyBytes(res))).toEqual({ rejectedSpans: 0, errorMessage: '' });
  const answer = await eventually(() => provenance(server.url, { response_id: call.responseId }), `response ${call.responseId}`);
  expect(answer).toMatchObject({
    responseId: call.responseId,
    traceId: call.traceId,
    spanId: call.spanId,
    prompt: { name: call.promptName, version: 7 },
    model: { provider: 'openai', name: call.model },
    app: { name: 'e2e-app', version: '2.3.4' },
  });
}

/** An OTLP/JSON request of exactly `bytes` bytes, padded with one long attribute value. */
function jsonOfSize(bytes: number): { text: string; span: JsonSpan } {
  const span = jsonSpan({ attributes: [str('padding', '')] });
  const base = JSON.stringify(exportRequest([span])).length;
  span.attributes[0] = str('padding', 'p'.repeat(bytes - base));
  const text = JSON.stringify(exportRequest([span]));
  expect(Buffer.byteLength(text)).toBe(bytes);
  return { text, span };
}

async function traceDetail(traceId: string): Promise<{ spans: Array<{ spanId: string; attributes: Record<string, string> }> } | undefined> {
  const res = await fetch(`${server.url}/v1/traces/${traceId}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET /v1/traces/${traceId} answered ${res.status}`);
  return (await res.json()) as { spans: Array<{ spanId: string; attributes: Record<string, string> }> };
}

/** A gzip stream that inflates to `totalBytes` of zeros: concatenated members of one zero buffer. */
function gzipBomb(totalBytes: number, memberBytes = 64 * MiB): Buffer {
  const member = gzipSync(Buffer.alloc(memberBytes), { level: 9 });
  return Buffer.concat(Array.from({ length: Math.ceil(totalBytes / memberBytes) }, () => member));
}

describe('POST /v1/traces with malformed data', () => {
  it('answers 400 with a protobuf google.rpc.Status naming the problem when the protobuf body does not decode', async () => {
    // Field 1 (resourceSpans), length-delimited, claiming far more bytes than follow.
    const garbage = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02, 0x03]);
    const res = await postProtobuf(server.url, garbage);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
    const status = decodeProtobufStatus(await bodyBytes(res));
    expect(status.code).toBe(RPC_INVALID_ARGUMENT);
    expect(status.message).toMatch(/not a valid OTLP protobuf ExportTraceServiceRequest/);
    await expectStillServing('protobuf');
  });

  it('answers 400 with a JSON {code, message} Status when the JSON body does not parse', async () => {
    const res = await postJson(server.url, '{"resourceSpans": [ {"resource": ');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const status = (await res.json()) as { code: number; message: string };
    expect(status).toEqual({ code: RPC_INVALID_ARGUMENT, message: expect.stringMatching(/not valid JSON/) });
    await expectStillServing('json');
  });

  it('answers 400 when the JSON is well formed but not an ExportTraceServiceRequest', async () => {
    const res = await postJson(server.url, { resourceSpans: 'not a list' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: RPC_INVALID_ARGUMENT, message: expect.stringMatching(/resourceSpans must be a list/) });
    await expectStillServing('json');
  });

  it('answers 400 when the body says gzip but is not gzip', async () => {
    const res = await postJson(server.url, JSON.stringify(exportRequest([jsonSpan()])), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    const status = (await res.json()) as { code: number; message: string };
    expect(status.code).toBe(RPC_INVALID_ARGUMENT);
    expect(status.message).toMatch(/gzip body could not be decompressed/);
    await expectStillServing('json');
  });

  it('answers 400 with a protobuf Status when a protobuf body says gzip but is not gzip', async () => {
    const res = await postProtobuf(server.url, toProtobuf(exportRequest([jsonSpan()])), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(400);
    const status = decodeProtobufStatus(await bodyBytes(res));
    expect(status.code).toBe(RPC_INVALID_ARGUMENT);
    expect(status.message).toMatch(/could not be decompressed/);
    await expectStillServing('protobuf');
  });
});

describe('POST /v1/traces with an unsupported content type or encoding', () => {
  it('answers 415 for text/plain, naming the content types it takes', async () => {
    const res = await postRaw(server.url, JSON.stringify(exportRequest([jsonSpan()])), { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    const status = (await res.json()) as { code: number; message: string };
    expect(status.message).toMatch(/text\/plain/);
    expect(status.message).toMatch(/application\/x-protobuf or application\/json/);
    await expectStillServing('json');
  });

  it('answers 415 to content types named like object properties ("constructor", "__proto__")', async () => {
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const res = await postRaw(server.url, JSON.stringify(exportRequest([jsonSpan()])), { 'content-type': type });
      expect(res.status, type).toBe(415);
    }
    await expectStillServing('json');
  });

  it('answers 415 for Content-Encoding br, naming the encoding', async () => {
    const res = await postJson(server.url, exportRequest([jsonSpan()]), { 'content-encoding': 'br' });
    expect(res.status).toBe(415);
    const status = (await res.json()) as { code: number; message: string };
    expect(status.message).toMatch(/unsupported content encoding "br"/);
    await expectStillServing('json');
  });

  it('answers 415 with a protobuf Status for a protobuf body with Content-Encoding br', async () => {
    const res = await postProtobuf(server.url, toProtobuf(exportRequest([jsonSpan()])), { 'content-encoding': 'br' });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
    expect(decodeProtobufStatus(await bodyBytes(res)).message).toMatch(/"br"/);
    await expectStillServing('protobuf');
  });
});

describe('POST /v1/traces with a body over 20 MiB', () => {
  it('answers 413 for a gzip JSON body that inflates to 21 MiB, though the wire is small', async () => {
    const span = jsonSpan({ attributes: [str('padding', 'x'.repeat(21 * MiB))] });
    const wire = gzipSync(JSON.stringify(exportRequest([span])));
    expect(wire.length).toBeLessThan(MiB);
    const res = await postJson(server.url, wire, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    const status = (await res.json()) as { code: number; message: string };
    expect(status.code).toBe(RPC_RESOURCE_EXHAUSTED);
    expect(status.message).toMatch(new RegExp(`limit of ${OTLP_LIMITS.maxBodyBytes} bytes after decompression`));
    // The span was refused as a whole: nothing of it is stored.
    expect(await fetch(`${server.url}/v1/traces/${span.traceId}`).then((r) => r.status)).toBe(404);
    await expectStillServing('json');
  });

  it('answers 413 to a gzip bomb (1 GiB of zeros in about 1 MB) without inflating it', async () => {
    const bomb = gzipBomb(1024 * MiB);
    expect(bomb.length).toBeLessThan(2 * MiB);
    const res = await postProtobuf(server.url, bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    const status = decodeProtobufStatus(await bodyBytes(res));
    expect(status.code).toBe(RPC_RESOURCE_EXHAUSTED);
    expect(status.message).toMatch(/after decompression/);
    await expectStillServing('protobuf');
  });

  it('takes a gzip body of exactly 20 MiB after decompression, truncating its huge attribute value', async () => {
    const { text, span } = jsonOfSize(OTLP_LIMITS.maxBodyBytes);
    const res = await postJson(server.url, gzipSync(text), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    const detail = await eventually(() => traceDetail(span.traceId), 'the 20 MiB span');
    const padding = detail.spans[0]!.attributes['padding']!;
    expect(padding).toHaveLength(OTLP_LIMITS.maxAttributeValueChars + TRUNCATION_MARK.length);
    expect(padding.endsWith(TRUNCATION_MARK)).toBe(true);
  });

  it('answers 413 to a gzip body one byte over 20 MiB after decompression', async () => {
    const { text } = jsonOfSize(OTLP_LIMITS.maxBodyBytes + 1);
    const res = await postJson(server.url, gzipSync(text), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    await expectStillServing('json');
  });

  it('takes an uncompressed body of exactly 20 MiB', async () => {
    const { text, span } = jsonOfSize(OTLP_LIMITS.maxBodyBytes);
    const res = await postJson(server.url, text);
    expect(res.status).toBe(200);
    await eventually(() => traceDetail(span.traceId), 'the 20 MiB span');
  });

  it('answers 413 to a chunked body (no Content-Length) one byte over 20 MiB', async () => {
    const { text } = jsonOfSize(OTLP_LIMITS.maxBodyBytes + 1);
    const bytes = Buffer.from(text);
    const chunk = MiB;
    let off = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (off >= bytes.length) return controller.close();
        controller.enqueue(new Uint8Array(bytes.subarray(off, off + chunk)));
        off += chunk;
      },
    });
    const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toMatch(/over the limit of 20971520 bytes/);
    await expectStillServing('json');
  });

  it('answers 413 to an uncompressed body over 20 MiB', async () => {
    const span = jsonSpan({ attributes: [str('padding', 'y'.repeat(21 * MiB))] });
    const res = await postJson(server.url, JSON.stringify(exportRequest([span])));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toMatch(/the limit is 20971520 bytes|over the limit/);
    await expectStillServing('json');
  });
});

describe('POST /v1/traces answered before its body is read', () => {
  it('answers 413 to a declared 1 GB body at once and closes the connection instead of reading on', async () => {
    const { request } = await import('node:http');
    const answer = await new Promise<{ status: number; connection: string | undefined; closed: boolean }>((resolve, reject) => {
      const req = request(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(1e9) } });
      req.on('error', () => undefined); // the server closes on us mid-upload, as it should
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => {
          const socket = res.socket;
          const closed = socket.destroyed || socket.readableEnded;
          if (closed) return resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, closed });
          socket.once('close', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, closed: true }));
        });
      });
      req.on('close', () => undefined);
      req.write(Buffer.alloc(64 * 1024, 0x20));
      setTimeout(() => reject(new Error('no answer')), 20_000).unref();
    });
    expect(answer).toEqual({ status: 413, connection: 'close', closed: true });
    await expectStillServing('json');
  });
});

describe('POST /v1/traces with individually bad spans', () => {
  it('keeps the good span and rejects one with a 3-byte trace id as a partial success (JSON)', async () => {
    const { call, span: good } = llmCall({ promptName: 'partial-json' });
    const bad = jsonSpan({ traceId: 'abcdef', attributes: [str('gen_ai.response.id', uniqueId('bad'))] });
    const res = await postJson(server.url, exportRequest([good, bad]));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { partialSuccess?: { rejectedSpans: string | number; errorMessage: string } };
    expect(Number(body.partialSuccess?.rejectedSpans)).toBe(1);
    expect(body.partialSuccess?.errorMessage).toMatch(/traceId must be 16 bytes/);
    const answer = await eventually(() => provenance(server.url, { response_id: call.responseId }), 'the good span');
    expect(answer).toMatchObject({ responseId: call.responseId, traceId: call.traceId, spanId: call.spanId, prompt: { name: 'partial-json' } });
  });

  it('keeps the good span and rejects one with a 3-byte trace id as a partial success (protobuf)', async () => {
    const { call, span: good } = llmCall({ promptName: 'partial-protobuf' });
    const raw = {
      resourceSpans: [
        {
          resource: { attributes: [str('service.name', 'e2e-app')] },
          scopeSpans: [
            {
              scope: { name: 'promptline-e2e' },
              spans: [
                { ...good, traceId: Buffer.from(good.traceId, 'hex'), spanId: Buffer.from(good.spanId, 'hex') },
                { ...jsonSpan(), traceId: Buffer.from('abcdef', 'hex'), spanId: Buffer.from(spanId(), 'hex') },
              ],
            },
          ],
        },
      ],
    };
    const res = await postProtobuf(server.url, toProtobufWithRawIds(raw));
    expect(res.status).toBe(200);
    const answer = decodeProtobufExportResponse(await bodyBytes(res));
    expect(answer.rejectedSpans).toBe(1);
    expect(answer.errorMessage).toMatch(/traceId must be 16 bytes/);
    expect(await eventually(() => provenance(server.url, { response_id: call.responseId }), 'the good span')).toMatchObject({
      responseId: call.responseId,
      spanId: call.spanId,
      prompt: { name: 'partial-protobuf' },
    });
  });

  it('answers 200 with every span rejected when none is valid, and stores nothing', async () => {
    const tid = traceId();
    const res = await postJson(server.url, exportRequest([jsonSpan({ traceId: tid, spanId: '00000000' })]));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { partialSuccess?: { rejectedSpans: string } };
    expect(Number(body.partialSuccess?.rejectedSpans)).toBe(1);
    await expectStillServing('json');
    expect((await fetch(`${server.url}/v1/traces/${tid}`)).status).toBe(404);
  });
});

describe('GET /v1/provenance', () => {
  it('answers 400 when no key is given', async () => {
    const res = await fetch(`${server.url}/v1/provenance`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'bad_request', message: expect.stringMatching(/exactly one of response_id, trace_id or span_id/), requestId: res.headers.get('x-request-id') } });
  });

  it('answers 400 when two keys are given', async () => {
    const q = new URLSearchParams({ response_id: 'chatcmpl-1', trace_id: traceId() });
    const res = await fetch(`${server.url}/v1/provenance?${q}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/exactly one/);
  });

  it('answers 400 for a malformed trace id', async () => {
    const res = await fetch(`${server.url}/v1/provenance?trace_id=xyz`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/trace_id: must be 32 hex characters/);
  });

  it('answers 404 with a message naming an unknown response id', async () => {
    const id = uniqueId('never-sent');
    const res = await fetch(`${server.url}/v1/provenance?response_id=${encodeURIComponent(id)}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: expect.stringContaining(id), requestId: res.headers.get('x-request-id') } });
  });

  it('answers by trace id and by span id for a received span', async () => {
    const { call, span } = llmCall({ promptName: 'lookup-keys' });
    expect((await postJson(server.url, exportRequest([span]))).status).toBe(200);
    const byResponse = await eventually(() => provenance(server.url, { response_id: call.responseId }), 'by response id');
    expect(await provenance(server.url, { span_id: call.spanId })).toEqual(byResponse);
    expect(await provenance(server.url, { trace_id: call.traceId.toUpperCase() })).toMatchObject({ ...byResponse, spans: [byResponse] });
  });
});

describe('health and discovery', () => {
  it('answers /healthz with 200', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200, the stores, and the spool and writer numbers', async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.status).toBe('ready');
    expect(body.stores.spans.ok).toBe(true);
    expect(body.stores.graph.ok).toBe(true);
    for (const k of ['pendingBytes', 'pendingRecords', 'maxBytes', 'segments', 'tornRecords']) expect(typeof body.spool[k], `spool.${k}`).toBe('number');
    for (const k of ['queuedRecords', 'queuedSpans', 'writtenSpans', 'fixups', 'failedAttempts']) expect(typeof body.writer[k], `writer.${k}`).toBe('number');
    expect(body.writer.writtenSpans).toBeGreaterThan(0);
  });

  it('serves an OpenAPI 3.1 document listing /v1/provenance and /v1/traces', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/provenance', '/v1/traces', '/v1/traces/{traceId}']));
    expect(doc.paths['/v1/provenance']).toHaveProperty('get');
    expect(doc.paths['/v1/traces']).toHaveProperty('post');
  });
});

// Data the stores could not hold as sent must never stop the spans behind it: such values are made
// storable at decode (lone surrogates), refused span by span (times past 2262), or written anyway
// (a batch over many days). Each case runs on a server of its own, concurrently.
describe.concurrent('a span the store could not hold as sent does not hold up the spans behind it', () => {
  const servers: ServerUnderTest[] = [];
  afterAll(async () => {
    for (const s of servers) {
      await s.kill();
      removeDir(s.dataDir);
    }
  });

  /** Sends `bad`, then a good span; returns both answers and the good span's provenance. */
  async function goodSpanAfter(bad: string | object, env: Record<string, string> = {}) {
    const s = await startServer({ env });
    servers.push(s);
    const badRes = await postJson(s.url, bad);
    const badBody = (await badRes.json()) as { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } };
    const { call, span } = llmCall({ promptName: 'after-the-odd-span' });
    const goodStatus = (await postJson(s.url, exportRequest([span]))).status;
    const answer = await eventually(() => provenance(s.url, { response_id: call.responseId }), 'the good span');
    return { server: s, badStatus: badRes.status, badBody, goodStatus, answer };
  }

  it('stores an attribute value holding a lone UTF-16 surrogate with U+FFFD in its place, and the spans behind it', async ({ expect }) => {
    const bad = jsonSpan({ attributes: [str('k', 'v')] });
    const text = JSON.stringify(exportRequest([bad])).replace('"stringValue":"v"', '"stringValue":"v\\ud800"');
    const r = await goodSpanAfter(text);
    expect([r.badStatus, r.goodStatus]).toEqual([200, 200]);
    expect(r.answer).toBeDefined();
    const trace = await eventually(async () => {
      const res = await fetch(`${r.server.url}/v1/traces/${bad.traceId}`);
      return res.status === 200 ? ((await res.json()) as { spans: Array<{ attributes: Record<string, string> }> }) : undefined;
    }, 'the span with the surrogate');
    expect(trace.spans[0]!.attributes.k).toBe('v\uFFFD');
  });

  it('refuses a span whose start time is past what DateTime64(9) holds as partial success, and stores the spans behind it', async ({ expect }) => {
    const span = jsonSpan();
    span.startTimeUnixNano = '18446744073709551615';
    span.endTimeUnixNano = '18446744073709551615';
    const r = await goodSpanAfter(exportRequest([span, jsonSpan()]));
    expect(r.badStatus).toBe(200);
    expect(r.badBody.partialSuccess?.rejectedSpans).toBe('1');
    expect(r.badBody.partialSuccess?.errorMessage).toMatch(/2262/);
    expect(r.goodStatus).toBe(200);
    expect(r.answer).toBeDefined();
  });

  it('stores one request whose spans fall on more than 100 different days, and the spans behind it', async ({ expect }) => {
    const day = 86_400_000n * 1_000_000n;
    const spans = Array.from({ length: 101 }, (_, i) => {
      const span = jsonSpan();
      const start = BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n + BigInt(i) * day;
      span.startTimeUnixNano = start.toString();
      span.endTimeUnixNano = (start + 1_000n).toString();
      return span;
    });
    // A backfill: spans from 2024 are outside the default start-time window (30 days), so it is opened for it.
    const r = await goodSpanAfter(exportRequest(spans), { PROMPTLINE_MAX_SPAN_AGE: '36500d' });
    expect([r.badStatus, r.goodStatus]).toEqual([200, 200]);
    expect(r.badBody).toEqual({});
    expect(r.answer).toBeDefined();
    const last = spans.at(-1)!;
    const res = await fetch(`${r.server.url}/v1/traces/${last.traceId}`);
    expect(res.status).toBe(200);
  });
});
