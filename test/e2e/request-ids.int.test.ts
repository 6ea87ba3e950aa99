import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtobufStatus } from '../../src/ingest/otlp/otlp-answers.ts';
import { startServerWithAdmin, type ServerWithAdmin } from '../helpers/admin-key.ts';
import { rawGrpcExporter, type RawGrpcExporter } from '../helpers/grpc.ts';
import { exportRequest, llmCall, toProtobuf } from '../helpers/otlp-payloads.ts';
import { removeDir } from '../helpers/server.ts';

// An operator who gets a user's error answer finds the request in the log by the id in it: every
// answer has X-Request-Id (gRPC: the x-request-id trailer), every error answer names it (OTLP's
// google.rpc.Status in its message), and the log's lines for the request carry it.

const EXPORT_RPC = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

let s: ServerWithAdmin;
let grpc: RawGrpcExporter;

beforeAll(async () => {
  s = await startServerWithAdmin({ env: { PROMPTLINE_LOG_LEVEL: 'debug' } });
  grpc = rawGrpcExporter(s.server.grpcAddress);
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await s?.server.stop();
  if (s) removeDir(s.server.dataDir);
});

interface LogLine {
  level: string;
  msg: string;
  reqId?: string;
  route?: string;
  status?: number;
  method?: string;
  rpc?: string;
  grpcStatus?: string;
}

/** The server's log lines that name `reqId`, once the line for the answer is written. */
async function linesOf(reqId: string): Promise<LogLine[]> {
  for (let i = 0; i < 200; i++) {
    const lines = s.server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => l.reqId === reqId);
    if (lines.some((l) => l.msg === 'request refused' || l.msg === 'request served')) return lines;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no log line names request ${reqId}`);
}

describe('request ids', () => {
  it('a refused call answers with its request id, in the header and the error, and the log names it with the declared route', async () => {
    const res = await fetch(`${s.server.url}/v1/audit`);
    expect(res.status).toBe(401);
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as { error: { requestId: string; message: string } };
    expect(body.error.requestId).toBe(id);
    const lines = await linesOf(id);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'request refused', method: 'GET', route: '/v1/audit', status: 401 }));
  });

  it("keeps a client's own request id, and a path with ids in it is logged as its route template", async () => {
    const res = await fetch(`${s.server.url}/v1/prompts/support-bot/versions/999`, { headers: { authorization: `Bearer ${s.admin}`, 'x-request-id': 'lb-1234.5' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('lb-1234.5');
    expect(((await res.json()) as { error: { requestId: string } }).error.requestId).toBe('lb-1234.5');
    const lines = await linesOf('lb-1234.5');
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request refused', route: '/v1/prompts/{name}/versions/{version}', status: 404 }));
    expect(lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain('support-bot');
  });

  it('a malformed body and an unknown path answer with request ids too; a served call is logged at debug; no line holds a key', async () => {
    const bad = await fetch(`${s.server.url}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${s.admin}`, 'content-type': 'application/json' }, body: '{"role":' });
    expect(bad.status).toBe(400);
    const badId = ((await bad.json()) as { error: { requestId: string } }).error.requestId;
    expect(badId).toBe(bad.headers.get('x-request-id'));
    expect(await linesOf(badId)).toContainEqual(expect.objectContaining({ route: '/v1/keys', status: 400 }));

    const none = await fetch(`${s.server.url}/v1/no-such-thing`, { headers: { authorization: `Bearer ${s.admin}` } });
    expect(none.status).toBe(404);
    const noneId = ((await none.json()) as { error: { requestId: string } }).error.requestId;
    expect(await linesOf(noneId)).toContainEqual(expect.objectContaining({ route: 'unmatched', status: 404 }));

    const ok = await fetch(`${s.server.url}/v1/audit`, { headers: { authorization: `Bearer ${s.admin}` } });
    expect(ok.status).toBe(200);
    expect(await linesOf(ok.headers.get('x-request-id')!)).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'request served', route: '/v1/audit', status: 200 }));
    expect(s.server.output()).not.toContain(s.admin);
  });

  it('an OTLP/HTTP failure names its request id in the google.rpc.Status message, in JSON and in protobuf, before the receiver and in it', async () => {
    // In the receiver: a JSON body that does not parse, with the exporter's own id.
    const bad = await fetch(`${s.server.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${s.admin}`, 'content-type': 'application/json', 'x-request-id': 'exporter-42' }, body: '{"resourceSpans":' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-request-id')).toBe('exporter-42');
    expect(((await bad.json()) as { message: string }).message).toMatch(/not valid JSON.* \(request id exporter-42\)$/);
    expect(await linesOf('exporter-42')).toContainEqual(expect.objectContaining({ msg: 'request refused', route: '/v1/traces', status: 400 }));

    // Before the receiver (no key), answered in protobuf: the id the server made.
    const unauth = await fetch(`${s.server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: toProtobuf(exportRequest([llmCall().span])) });
    expect(unauth.status).toBe(401);
    const id = unauth.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(decodeProtobufStatus(new Uint8Array(await unauth.arrayBuffer())).message).toMatch(new RegExp(`\\S \\(request id ${id}\\)$`));
    expect(await linesOf(id)).toContainEqual(expect.objectContaining({ level: 'info', msg: 'request refused', route: '/v1/traces', status: 401 }));
  });

  it("a gRPC call keeps the client's x-request-id and sends it back in its trailer; a served call is logged with it at debug", async () => {
    const ok = await grpc.export(toProtobuf(exportRequest([llmCall().span])), { authorization: `Bearer ${s.admin}`, 'x-request-id': 'collector-9.1' });
    expect(ok).toMatchObject({ ok: true, rejectedSpans: 0, requestId: 'collector-9.1' });
    expect(await linesOf('collector-9.1')).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'request served', rpc: EXPORT_RPC, grpcStatus: 'OK' }));
  });

  it('a refused gRPC call names its request id in the trailer, the status message and the google.rpc.Status, and the log names it', async () => {
    // Refused on its metadata, before its message is read: no key.
    const unauth = await grpc.export(toProtobuf(exportRequest([llmCall().span])));
    if (unauth.ok) throw new Error('a call without a key was served');
    expect(unauth.code).toBe(status.UNAUTHENTICATED);
    const id = unauth.requestId!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(unauth.message).toMatch(new RegExp(`needs an API key.* \\(request id ${id}\\)$`));
    expect(unauth.details?.message).toBe(unauth.message);
    expect(await linesOf(id)).toContainEqual(expect.objectContaining({ level: 'info', msg: 'request refused', rpc: EXPORT_RPC, grpcStatus: 'UNAUTHENTICATED' }));

    // Refused in the handler (a message that is no ExportTraceServiceRequest); an id that is not one
    // plain token is replaced by a new one, as over HTTP.
    const malformed = await grpc.export(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), { authorization: `Bearer ${s.admin}`, 'x-request-id': 'not a token' });
    if (malformed.ok) throw new Error('a malformed message was taken');
    expect(malformed.code).toBe(status.INVALID_ARGUMENT);
    expect(malformed.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(malformed.message.endsWith(` (request id ${malformed.requestId!})`)).toBe(true);
    expect(await linesOf(malformed.requestId!)).toContainEqual(expect.objectContaining({ msg: 'request refused', rpc: EXPORT_RPC, grpcStatus: 'INVALID_ARGUMENT' }));
    expect(s.server.output()).not.toContain(s.admin);
  });
});
