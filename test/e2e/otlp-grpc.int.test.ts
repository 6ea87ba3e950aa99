import { connect } from 'node:net';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin, type ServerWithAdmin } from '../helpers/admin-key.ts';
import { rawGrpcExporter, type GrpcExportAnswer, type RawGrpcExporter } from '../helpers/grpc.ts';
import { decodeProtobufExportResponse, decodeProtobufStatus, rpcCodeOf } from '../../src/ingest/otlp/otlp-answers.ts';
import { registerOtelGlobals, withTracing } from '../helpers/otel.ts';
import { exportRequest, jsonSpan, llmCall, str, toProtobuf, uniqueId } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// OTLP/gRPC (TraceService/Export on PROMPTLINE_GRPC_PORT) against a real `promptline serve`: spans
// sent by the OpenTelemetry gRPC exporter, with and without gzip, are stored and linked; and every
// refusal answers the code the OTLP specification names for gRPC, with the same limits, the same
// checks and the same keys as OTLP/HTTP.

const MiB = 1024 * 1024;
const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';

const failed = (a: GrpcExportAnswer) => {
  if (a.ok) throw new Error(`expected a failure, got OK (${a.rejectedSpans} rejected)`);
  return a;
};

async function stillServing(client: RawGrpcExporter, metadata: Record<string, string> = {}): Promise<void> {
  expect(await client.export(toProtobuf(exportRequest([llmCall().span])), metadata)).toEqual({ ok: true, rejectedSpans: 0, errorMessage: '', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
}

describe('OTLP/gRPC with authentication off (loopback)', () => {
  let server: ServerUnderTest;
  let plain: RawGrpcExporter;
  let gzip: RawGrpcExporter;
  let unregisterOtel: () => void;
  beforeAll(async () => {
    unregisterOtel = registerOtelGlobals();
    // An in-flight budget of 4 MiB (a request is admitted while less is held, so 19 MiB still fits alone).
    server = await startServer({ env: { PROMPTLINE_RECEIVER_MAX_INFLIGHT_BYTES: String(4 * MiB) } });
    plain = rawGrpcExporter(server.grpcAddress);
    gzip = rawGrpcExporter(server.grpcAddress, { gzip: true });
  }, 90_000);
  afterAll(async () => {
    plain?.close();
    gzip?.close();
    unregisterOtel?.();
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('listens where the server says it does', () => {
    expect(server.output()).toContain(`OTLP/gRPC  127.0.0.1:${server.grpcPort}`);
  });

  for (const encoding of ['grpc', 'grpc+gzip'] as const) {
    it(`stores and links what the OpenTelemetry gRPC exporter sends (${encoding})`, async () => {
      const responseId = uniqueId(`grpc-${encoding}`);
      const { traceId, childSpanId } = await withTracing({ encoding, url: server.grpcUrl, resource: { 'service.name': 'grpc-app', 'service.version': '4.5.6' } }, async (t) => {
        const ids = t.tracer.startActiveSpan('invoke_agent', (root) => {
          root.setAttribute('gen_ai.prompt.name', 'grpc-prompt');
          root.setAttribute('gen_ai.prompt.version', '3');
          const child = t.tracer.startSpan('chat gpt-4o');
          child.setAttribute('gen_ai.response.id', responseId);
          child.setAttribute('gen_ai.response.model', 'gpt-4o-2024-08-06');
          child.setAttribute('gen_ai.provider.name', 'openai');
          child.end();
          root.end();
          return { traceId: root.spanContext().traceId, childSpanId: child.spanContext().spanId };
        });
        // Fails when the export did not answer OK, or answered a partial success.
        await t.flush();
        expect(t.requests()).toBe(1);
        return ids;
      });
      const p = await eventually(() => provenance(server.url, { response_id: responseId }), `provenance of ${responseId}`);
      // The prompt is on the parent span, the response on its child: linked across the trace.
      expect(p).toMatchObject({ responseId, traceId, spanId: childSpanId, prompt: { name: 'grpc-prompt', version: 3 }, model: { name: 'gpt-4o-2024-08-06' }, app: { name: 'grpc-app', version: '4.5.6' } });
    });
  }

  it('answers INVALID_ARGUMENT, with the reason in a google.rpc.Status, for a body that is not an ExportTraceServiceRequest', async () => {
    // Field 1 (resourceSpans), length-delimited, claiming far more bytes than follow.
    const garbage = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02, 0x03]);
    for (const client of [plain, gzip]) {
      const a = failed(await client.export(garbage));
      expect(a.code).toBe(status.INVALID_ARGUMENT);
      expect(a.message).toMatch(/not a valid OTLP protobuf ExportTraceServiceRequest/);
      expect(a.details).toMatchObject({ code: status.INVALID_ARGUMENT, message: a.message, retryDelaySeconds: undefined, detailTypes: [] });
    }
    await stillServing(plain);
  });

  it('answers RESOURCE_EXHAUSTED above 20 MiB, sent as it is or gzip-compressed (inflating past the limit), and keeps serving', async () => {
    const big = toProtobuf(exportRequest([jsonSpan({ attributes: [str('padding', 'x'.repeat(21 * MiB))] })]));
    expect(big.length).toBeGreaterThan(20 * MiB);
    const asSent = failed(await plain.export(big));
    expect(asSent.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(asSent.message).toMatch(/larger than max/);
    // Compressed, the message is a few KiB on the wire: refused for what it inflates to (so gzip was used).
    const compressed = failed(await gzip.export(big));
    expect(compressed.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(compressed.message).toMatch(/decompresses to a size larger than 20971520/);
    // Just under the limit is taken (the same 20 MiB as OTLP/HTTP, and no lower).
    const under = toProtobuf(exportRequest([jsonSpan({ attributes: [str('padding', 'x'.repeat(19 * MiB))] })]));
    expect(await gzip.export(under)).toMatchObject({ ok: true, rejectedSpans: 0 });
    await stillServing(gzip);
  });

  it('answers a partial success naming the refused spans, exactly as OTLP/HTTP does, and stores the others', async () => {
    const good = llmCall();
    const overlong = jsonSpan({ attributes: [str('gen_ai.prompt.name', 'p'.repeat(300)), str('gen_ai.response.id', uniqueId('refused'))] });
    const body = toProtobuf(exportRequest([good.span, overlong]));
    const a = await plain.export(body);
    expect(a).toMatchObject({ ok: true, rejectedSpans: 1 });
    if (!a.ok) return;
    expect(a.errorMessage).toMatch(/^rejected 1 span\(s\): .*gen_ai\.prompt\.name is over 256 characters/);
    // The OTLP/HTTP receiver answers the same body with the same partial success.
    const http = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: toProtobuf(exportRequest([llmCall().span, overlong])) });
    expect(decodeProtobufExportResponse(new Uint8Array(await http.arrayBuffer()))).toEqual({ rejectedSpans: 1, errorMessage: a.errorMessage });
    const p = await eventually(() => provenance(server.url, { response_id: good.call.responseId }), 'the good span of the partial success');
    expect(p).toMatchObject({ responseId: good.call.responseId, prompt: { name: good.call.promptName } });
  });

  it('refuses a call naming a non-loopback :authority while authentication is off, as the HTTP API refuses such a Host', async () => {
    const client = new Client(server.grpcAddress, credentials.createInsecure(), { 'grpc.default_authority': 'promptline.example.com' });
    try {
      const code = await new Promise<number>((resolve) => {
        client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(toProtobuf(exportRequest([llmCall().span]))), new Metadata(), (err) => resolve(err ? err.code : status.OK));
      });
      expect(code).toBe(status.PERMISSION_DENIED);
    } finally {
      client.close();
    }
  });

  it('shares the in-flight byte budget with OTLP/HTTP: an HTTP upload holding it makes gRPC exports come back later', async () => {
    // An HTTP upload that sends 6 MiB of its 8 MiB body and stalls, holding the 4 MiB budget.
    const socket = connect({ host: '127.0.0.1', port: server.port });
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    try {
      socket.write(`POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${8 * MiB}\r\n\r\n`);
      socket.write('{"resourceSpans":[' + ' '.repeat(6 * MiB));
      const small = toProtobuf(exportRequest([llmCall().span]));
      const busy = await eventually(async () => {
        const a = await plain.export(small);
        return !a.ok && /the receiver is busy/.test(a.message) ? a : undefined;
      }, 'a gRPC export to be refused while an HTTP upload holds the budget', 20_000);
      expect(busy.code).toBe(status.UNAVAILABLE);
      expect(busy.details?.detailTypes).toEqual([RETRY_INFO]);
    } finally {
      socket.destroy();
    }
    // Once the upload is gone its bytes are given back.
    await eventually(async () => {
      const a = await plain.export(toProtobuf(exportRequest([llmCall().span])));
      return a.ok ? true : undefined;
    }, 'the budget to be given back', 20_000);
  });
});

describe('OTLP/gRPC with keys', () => {
  let s: ServerWithAdmin;
  let client: RawGrpcExporter;
  let ingestKey: string;
  let readKey: string;
  let unregisterOtel: () => void;
  const makeKey = async (role: string): Promise<string> => {
    const res = await fetch(`${s.server.url}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${s.admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ role, name: `grpc ${role}` }) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  };
  beforeAll(async () => {
    unregisterOtel = registerOtelGlobals();
    s = await startServerWithAdmin();
    client = rawGrpcExporter(s.server.grpcAddress, { gzip: true });
    ingestKey = await makeKey('ingest');
    readKey = await makeKey('read');
  }, 90_000);
  afterAll(async () => {
    client?.close();
    unregisterOtel?.();
    await s?.server.stop();
    if (s) removeDir(s.server.dataDir);
  });

  it('answers UNAUTHENTICATED without a key, with a malformed header and with a wrong key', async () => {
    const body = toProtobuf(exportRequest([llmCall().span]));
    for (const metadata of [{}, { authorization: 'Basic abc' }, { authorization: `Bearer ${ingestKey}x` }] as Array<Record<string, string>>) {
      const a = failed(await client.export(body, metadata));
      expect(a.code, JSON.stringify(metadata)).toBe(status.UNAUTHENTICATED);
      expect(a.details?.code).toBe(status.UNAUTHENTICATED);
    }
  });

  it('checks the key before reading the message, as the HTTP API checks it before the body', async () => {
    // Over 20 MiB: were it read first, the answer would be RESOURCE_EXHAUSTED.
    const big = toProtobuf(exportRequest([jsonSpan({ attributes: [str('padding', 'x'.repeat(21 * MiB))] })]));
    const plain = rawGrpcExporter(s.server.grpcAddress);
    try {
      expect(failed(await plain.export(big)).code).toBe(status.UNAUTHENTICATED);
      expect(failed(await plain.export(big, { authorization: `Bearer ${ingestKey}` })).code).toBe(status.RESOURCE_EXHAUSTED);
    } finally {
      plain.close();
    }
  });

  it('answers PERMISSION_DENIED for a key without the ingest permission', async () => {
    const a = failed(await client.export(toProtobuf(exportRequest([llmCall().span])), { authorization: `Bearer ${readKey}` }));
    expect(a.code).toBe(status.PERMISSION_DENIED);
    expect(a.message).toMatch(/may not send spans/);
  });

  it('stores spans in the key\'s own project: x-promptline-project naming another is refused with the code of the HTTP answer', async () => {
    const body = toProtobuf(exportRequest([llmCall().span]));
    // The same request id both ways: the message, which names it, is then the same too.
    const a = failed(await client.export(body, { authorization: `Bearer ${ingestKey}`, 'x-promptline-project': 'someone-else', 'x-request-id': 'other-project-1' }));
    const http = await fetch(`${s.server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${ingestKey}`, 'x-promptline-project': 'someone-else', 'x-request-id': 'other-project-1' }, body });
    expect(http.status).toBe(403);
    expect(a.code).toBe(rpcCodeOf(http.status));
    expect(a.code).toBe(status.PERMISSION_DENIED);
    expect(a.message).toMatch(/ \(request id other-project-1\)$/);
    expect(a.requestId).toBe('other-project-1');
    expect(a.message).toBe(decodeProtobufStatus(new Uint8Array(await http.arrayBuffer())).message);
    // Two values are no project name (HTTP joins a repeated header the same way): INVALID_ARGUMENT.
    expect(failed(await client.export(body, { authorization: `Bearer ${ingestKey}`, 'x-promptline-project': ['default', 'default'] })).code).toBe(status.INVALID_ARGUMENT);
    expect(await client.export(body, { authorization: `Bearer ${ingestKey}`, 'x-promptline-project': 'default' })).toMatchObject({ ok: true });
  });

  it('takes spans from the OpenTelemetry gRPC exporter with an ingest key in its metadata', async () => {
    const responseId = uniqueId('grpc-keyed');
    await withTracing({ encoding: 'grpc+gzip', url: s.server.grpcUrl, headers: { authorization: `Bearer ${ingestKey}` } }, async (t) => {
      const span = t.tracer.startSpan('chat');
      span.setAttribute('gen_ai.prompt.name', 'keyed-prompt');
      span.setAttribute('gen_ai.prompt.version', '2');
      span.setAttribute('gen_ai.response.id', responseId);
      span.end();
      await t.flush();
    });
    const p = await eventually(async () => {
      const res = await fetch(`${s.server.url}/v1/provenance?response_id=${responseId}`, { headers: { authorization: `Bearer ${s.admin}` } });
      return res.status === 404 ? undefined : ((await res.json()) as { prompt: { name: string; version: number } });
    }, `provenance of ${responseId}`);
    expect(p.prompt).toMatchObject({ name: 'keyed-prompt', version: 2 });
  });
});

describe('OTLP/gRPC when it must be retried later', () => {
  let server: ServerUnderTest;
  let client: RawGrpcExporter;
  beforeAll(async () => {
    // A spool smaller than one request (so every request finds it full), and one export a second a key.
    server = await startServer({ env: { PROMPTLINE_SPOOL_MAX_BYTES: '65536', PROMPTLINE_SPOOL_SEGMENT_BYTES: '65536', PROMPTLINE_INGEST_RATE_PER_SECOND: '1', PROMPTLINE_INGEST_RATE_BURST: '1' } });
    client = rawGrpcExporter(server.grpcAddress);
  }, 90_000);
  afterAll(async () => {
    client?.close();
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('answers UNAVAILABLE with a google.rpc.RetryInfo when the spool is full, then when the key is over its export rate', async () => {
    const big = toProtobuf(exportRequest([jsonSpan({ attributes: [str('padding', 'x'.repeat(100 * 1024))] })]));
    // The first request takes the one token of the key's bucket and finds the spool full.
    const full = failed(await client.export(big));
    expect(full.code).toBe(status.UNAVAILABLE);
    expect(full.message).toMatch(/the spool is full.* \(request id [0-9a-f-]{36}\)$/);
    expect(full.message).toContain(`(request id ${full.requestId!})`);
    expect(full.details).toEqual({ code: status.UNAVAILABLE, message: full.message, retryDelaySeconds: 5, detailTypes: [RETRY_INFO] });
    // Ten more at once: the bucket refills one token a second, so most of them are over the rate.
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.export(big)));
    const limited = answers.filter((a): a is Extract<GrpcExportAnswer, { ok: false }> => !a.ok && /OTLP requests a second/.test(a.message));
    expect(limited.length).toBeGreaterThan(0);
    for (const a of limited) {
      expect(a.code).toBe(status.UNAVAILABLE);
      expect(a.details?.detailTypes).toEqual([RETRY_INFO]);
      expect(a.details?.retryDelaySeconds).toBeGreaterThanOrEqual(1);
    }
    // Every other answer is the full spool's: nothing was acknowledged that the spool did not hold.
    for (const a of answers) expect(a.ok).toBe(false);
  });
});
