import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from '../../src/api/app.ts';
import { UnavailableError } from '../../src/common/errors.ts';
import { UnauthorizedError, type Principal } from '../../src/governance/access.ts';
import { decodeGrpcStatusDetails, decodeProtobufStatus, encodeGrpcStatusDetails, grpcCodeOf, rpcCodeOf } from '../../src/ingest/otlp/otlp-answers.ts';
import { exportRequest, jsonSpan, postRaw, toProtobuf } from '../helpers/otlp-payloads.ts';

// A failed export answers a google.rpc.Status whose code follows the HTTP status, in the request's
// own encoding, whether it fails before the receiver (the API's error handler: no key, a key that
// may not ingest) or in it (the spool full, a content type it does not take). The two once mapped
// 503 differently; a 503 before the receiver is made here by an authenticator that is not ready.

const principal = (role: Principal['role']): Principal => ({ keyId: role, name: role, role, promote: false, project: 'p', instanceAdmin: false, actor: role });

const deps = {
  version: 'test',
  protectedAliases: ['production'],
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  receiverMaxInFlightBytes: 64 * 1024 * 1024,
  spanTimeWindow: { maxAgeMs: 30 * 86_400_000, maxFutureMs: 86_400_000 },
  limiter: { take() {} },
  ingestLimiter: { take() {} },
  auth: {
    async authenticate(header: string | undefined): Promise<Principal> {
      if (header === 'Bearer ingest') return principal('ingest');
      if (header === 'Bearer read') return principal('read');
      if (header === 'Bearer not-ready') throw new UnavailableError('keys cannot be checked yet', 2);
      throw new UnauthorizedError('this call needs an API key');
    },
  },
  spool: {
    async append(): Promise<never> {
      throw new UnavailableError('the spool is full', 3);
    },
  },
} as unknown as AppDeps;

let server: Server;
let url: string;

beforeAll(async () => {
  server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const request = exportRequest([jsonSpan()]);
const bodies = {
  protobuf: { contentType: 'application/x-protobuf', body: toProtobuf(request) },
  json: { contentType: 'application/json', body: JSON.stringify(request) },
};

async function failure(encoding: keyof typeof bodies, key: string | null, contentType = bodies[encoding].contentType, requestId?: string) {
  const res = await postRaw(url, bodies[encoding].body, { 'content-type': contentType, ...(key ? { authorization: `Bearer ${key}` } : {}), ...(requestId ? { 'x-request-id': requestId } : {}) });
  const raw = new Uint8Array(await res.arrayBuffer());
  const status = encoding === 'protobuf' && res.headers.get('content-type') === 'application/x-protobuf' ? decodeProtobufStatus(raw) : (JSON.parse(Buffer.from(raw).toString('utf8')) as { code: number; message: string });
  return { http: res.status, contentType: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), requestId: res.headers.get('x-request-id'), code: status.code, message: status.message };
}

describe('the google.rpc.Code of a failed export', () => {
  it('follows the HTTP status as google/rpc/code.proto maps them, INTERNAL for the rest', () => {
    const codes = Object.fromEntries([400, 401, 403, 404, 413, 415, 429, 500, 503].map((s) => [s, rpcCodeOf(s)]));
    expect(codes).toEqual({ 400: 3, 401: 16, 403: 7, 404: 13, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14 });
  });

  for (const encoding of ['protobuf', 'json'] as const) {
    const contentType = encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json; charset=utf-8';

    it(`is the same before the receiver and in it, answered in ${encoding}`, async () => {
      expect(await failure(encoding, null)).toMatchObject({ http: 401, contentType, code: 16 });
      expect(await failure(encoding, 'read')).toMatchObject({ http: 403, contentType, code: 7 });
      // 503 before the receiver and in it (the spool): one code, both retryable.
      expect(await failure(encoding, 'not-ready', bodies[encoding].contentType, 'lb-77.1')).toEqual({ http: 503, contentType, retryAfter: '2', requestId: 'lb-77.1', code: 14, message: 'keys cannot be checked yet (request id lb-77.1)' });
      expect(await failure(encoding, 'ingest', bodies[encoding].contentType, 'lb-77.2')).toEqual({ http: 503, contentType, retryAfter: '3', requestId: 'lb-77.2', code: 14, message: 'the spool is full (request id lb-77.2)' });
    });

    it(`names the request id of the X-Request-Id header in the Status message, before the receiver and in it (${encoding})`, async () => {
      // google.rpc.Status has no field for it: the message carries the id the header and the log give.
      for (const key of [null, 'read', 'ingest']) {
        const answer = await failure(encoding, key);
        expect(answer.requestId).toMatch(/^[0-9a-f-]{36}$/);
        expect(answer.message).toMatch(new RegExp(`\\S \\(request id ${answer.requestId}\\)$`));
      }
    });
  }

  it('is INVALID_ARGUMENT for a content type the receiver does not take, answered in JSON', async () => {
    expect(await failure('json', 'ingest', 'text/plain')).toMatchObject({ http: 415, contentType: 'application/json; charset=utf-8', code: 3 });
  });
});

describe('the gRPC status of a failed export', () => {
  it('takes its code from the same map, but for a refusal to retry later, which is UNAVAILABLE', () => {
    for (const status of [400, 401, 403, 413, 415, 500]) expect(grpcCodeOf(status, undefined)).toBe(rpcCodeOf(status));
    // A key over its rate (429) and a full spool (503): gRPC exporters retry UNAVAILABLE, not RESOURCE_EXHAUSTED.
    expect(grpcCodeOf(429, 1)).toBe(14);
    expect(grpcCodeOf(503, 5)).toBe(14);
  });

  it('carries a google.rpc.Status with a RetryInfo of the retry delay, and none without one', () => {
    expect(decodeGrpcStatusDetails(encodeGrpcStatusDetails(14, 'the spool is full', 5))).toEqual({ code: 14, message: 'the spool is full', retryDelaySeconds: 5, detailTypes: ['type.googleapis.com/google.rpc.RetryInfo'] });
    expect(decodeGrpcStatusDetails(encodeGrpcStatusDetails(3, 'malformed', undefined))).toEqual({ code: 3, message: 'malformed', retryDelaySeconds: undefined, detailTypes: [] });
    // Without details it is the google.rpc.Status OTLP/HTTP answers, byte for byte readable as one.
    expect(decodeProtobufStatus(encodeGrpcStatusDetails(3, 'malformed', undefined))).toEqual({ code: 3, message: 'malformed' });
  });
});
