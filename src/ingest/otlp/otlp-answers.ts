import type { Response } from 'express';
import Long from 'long';
import protobuf from 'protobufjs';
import { otlpRoot } from './otlp-definitions.ts';

// What POST /v1/traces answers, in the request's own encoding as OTLP/HTTP asks: an
// ExportTraceServiceResponse (with partial success when spans were refused) for a 200, and a
// google.rpc.Status for a failure. The receiver and the API's error handler (for failures before
// the receiver, such as a missing key) both answer through here, so one failure gets one code.

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

/** Answers a failed export: `httpStatus` with a google.rpc.Status, in the request's encoding (JSON when unknown). */
export function sendOtlpFailure(res: Response, encoding: OtlpEncoding | undefined, httpStatus: number, message: string): void {
  const code = rpcCodeOf(httpStatus);
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

// google.rpc.Status: its code and message, declared here rather than pulling in the googleapis
// definitions for one message.
const statusRoot = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        rpc: { nested: { Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } } } },
      },
    },
  },
});
const RpcStatus = statusRoot.lookupType('google.rpc.Status');

function encodeProtobufExportResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  const payload = rejectedSpans > 0 || errorMessage ? { partialSuccess: { rejectedSpans: Long.fromNumber(rejectedSpans), errorMessage } } : {};
  return ExportResponse.encode(ExportResponse.fromObject(payload)).finish();
}

function encodeProtobufStatus(code: number, message: string): Uint8Array {
  return RpcStatus.encode(RpcStatus.fromObject({ code, message })).finish();
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
  return RpcStatus.toObject(RpcStatus.decode(body), { defaults: true }) as { code: number; message: string };
}
