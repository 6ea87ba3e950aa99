import type { Response } from 'express';
import Long from 'long';
import protobuf from 'protobufjs';
import { otlpRoot } from './otlp-definitions.ts';

// What an OTLP export is answered. POST /v1/traces: in the request's own encoding as OTLP/HTTP asks, an
// ExportTraceServiceResponse (with partial success when spans were refused) for a 200, and a
// google.rpc.Status for a failure. The receiver and the API's error handler (for failures before
// the receiver, such as a missing key) both answer through here, so one failure gets one code.
// OTLP/gRPC (grpc-receiver.ts) takes its status codes from the same map and encodes its answers here.

export type OtlpEncoding = 'protobuf' | 'json';

const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

// A Map, not an object: the key comes from a request header ("constructor" must find nothing).
const ENCODING_BY_MEDIA_TYPE = new Map<string, OtlpEncoding>([
  ['application/x-protobuf', 'protobuf'],
  ['application/protobuf', 'protobuf'],
  ['application/json', 'json'],
]);

/** The encoding a Content-Type header names, or undefined for one OTLP/HTTP does not use. */
export function otlpEncodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  return ENCODING_BY_MEDIA_TYPE.get((contentType ?? '').split(';')[0]!.trim().toLowerCase());
}

// google.rpc.Code, as google/rpc/code.proto maps HTTP statuses to it.
const RPC_INVALID_ARGUMENT = 3;
const RPC_PERMISSION_DENIED = 7;
const RPC_RESOURCE_EXHAUSTED = 8;
const RPC_INTERNAL = 13;
const RPC_UNAVAILABLE = 14;
const RPC_UNAUTHENTICATED = 16;

const RPC_CODE_BY_HTTP_STATUS = new Map<number, number>([
  [400, RPC_INVALID_ARGUMENT],
  [401, RPC_UNAUTHENTICATED],
  [403, RPC_PERMISSION_DENIED],
  [413, RPC_RESOURCE_EXHAUSTED],
  [415, RPC_INVALID_ARGUMENT],
  [429, RPC_RESOURCE_EXHAUSTED],
  [503, RPC_UNAVAILABLE],
]);

/** The google.rpc.Code that a failed export answered with `httpStatus` carries. */
export const rpcCodeOf = (httpStatus: number): number => RPC_CODE_BY_HTTP_STATUS.get(httpStatus) ?? RPC_INTERNAL;

/**
 * A failure's message with the request's id in it. google.rpc.Status has no field for the id (the
 * API's other errors carry it as error.requestId), so an exporter that logs the message logs the id
 * the server's log names the request by (reqId) and the X-Request-Id header (gRPC: the trailer) says.
 */
export const withRequestId = (message: string, requestId: string): string => `${message} (request id ${requestId})`;

/** Answers a failed export: `httpStatus` with a google.rpc.Status naming the request id, in the request's encoding (JSON when unknown). */
export function sendOtlpFailure(res: Response, encoding: OtlpEncoding | undefined, httpStatus: number, failure: string, requestId: string): void {
  const code = rpcCodeOf(httpStatus);
  const message = withRequestId(failure, requestId);
  res.status(httpStatus);
  if (encoding === 'protobuf') res.type(PROTOBUF_CONTENT_TYPE).send(Buffer.from(encodeProtobufStatus(code, message)));
  else res.type('application/json').send(JSON.stringify({ code, message }));
}

/** Answers an accepted export: 200, with the refused spans as a partial success. */
export function sendOtlpSuccess(res: Response, encoding: OtlpEncoding, rejectedSpans: number, errorMessage: string): void {
  res.status(200);
  if (encoding === 'protobuf') res.type(PROTOBUF_CONTENT_TYPE).send(Buffer.from(encodeProtobufExportResponse(rejectedSpans, errorMessage)));
  else res.type('application/json').send(JSON.stringify(rejectedSpans > 0 ? { partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } } : {}));
}

const ExportResponse = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');

// google.rpc.Status (its code, message and details) and google.rpc.RetryInfo, declared here rather
// than pulling in the googleapis definitions for three messages.
const statusRoot = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
            Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
          },
        },
        rpc: {
          nested: {
            Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 }, details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 } } },
            RetryInfo: { fields: { retry_delay: { type: 'google.protobuf.Duration', id: 1 } } },
          },
        },
      },
    },
  },
});
const RpcStatus = statusRoot.lookupType('google.rpc.Status');
const RetryInfo = statusRoot.lookupType('google.rpc.RetryInfo');
const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/** An ExportTraceServiceResponse, with a partial success when spans were refused (the body of a 200, and of a gRPC OK). */
export function encodeProtobufExportResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  const payload = rejectedSpans > 0 || errorMessage ? { partialSuccess: { rejectedSpans: Long.fromNumber(rejectedSpans), errorMessage } } : {};
  return ExportResponse.encode(ExportResponse.fromObject(payload)).finish();
}

function encodeProtobufStatus(code: number, message: string): Uint8Array {
  return RpcStatus.encode(RpcStatus.fromObject({ code, message })).finish();
}

/**
 * The gRPC status of a failed export, by the same map: a refusal to retry later (`retryAfterSeconds`
 * set: a full spool, a busy receiver, a key over its export rate; 503 or 429 over HTTP) is
 * UNAVAILABLE, which OTLP/gRPC exporters retry (they do not retry RESOURCE_EXHAUSTED).
 */
export function grpcCodeOf(httpStatus: number, retryAfterSeconds: number | undefined): number {
  return retryAfterSeconds === undefined ? rpcCodeOf(httpStatus) : RPC_UNAVAILABLE;
}

/**
 * The google.rpc.Status a gRPC failure carries in its grpc-status-details-bin trailer: its code and
 * message, and for a retryable refusal a google.rpc.RetryInfo saying when to come back.
 */
export function encodeGrpcStatusDetails(code: number, message: string, retryAfterSeconds: number | undefined): Uint8Array {
  const details =
    retryAfterSeconds === undefined
      ? []
      : [{ type_url: RETRY_INFO_TYPE_URL, value: RetryInfo.encode(RetryInfo.fromObject({ retry_delay: { seconds: Long.fromNumber(retryAfterSeconds), nanos: 0 } })).finish() }];
  return RpcStatus.encode(RpcStatus.fromObject({ code, message, details })).finish();
}

/** Reads a grpc-status-details-bin trailer, as an exporter does (the tests): the RetryInfo's delay, when it carries one. */
export function decodeGrpcStatusDetails(body: Uint8Array): { code: number; message: string; retryDelaySeconds: number | undefined; detailTypes: string[] } {
  const status = RpcStatus.toObject(RpcStatus.decode(body), { defaults: true, longs: Number }) as { code: number; message: string; details: Array<{ type_url: string; value: Uint8Array }> };
  const retry = status.details.find((d) => d.type_url === RETRY_INFO_TYPE_URL);
  const info = retry ? (RetryInfo.toObject(RetryInfo.decode(retry.value), { longs: Number }) as { retry_delay?: { seconds?: number; nanos?: number } }) : undefined;
  const retryDelaySeconds = info ? (info.retry_delay?.seconds ?? 0) + (info.retry_delay?.nanos ?? 0) / 1e9 : undefined;
  return { code: status.code, message: status.message, retryDelaySeconds, detailTypes: status.details.map((d) => d.type_url) };
}

/** Reads an ExportTraceServiceResponse, as an exporter does (the tests and the load generator). */
export function decodeProtobufExportResponse(body: Uint8Array): { rejectedSpans: number; errorMessage: string } {
  const msg = ExportResponse.toObject(ExportResponse.decode(body), { longs: Number, defaults: true }) as {
    partialSuccess?: { rejectedSpans?: number; errorMessage?: string };
  };
  return { rejectedSpans: msg.partialSuccess?.rejectedSpans ?? 0, errorMessage: msg.partialSuccess?.errorMessage ?? '' };
}

/** Reads a google.rpc.Status, as an exporter does (the tests). */
export function decodeProtobufStatus(body: Uint8Array): { code: number; message: string } {
  const { code, message } = RpcStatus.toObject(RpcStatus.decode(body), { defaults: true }) as { code: number; message: string };
  return { code, message };
}
