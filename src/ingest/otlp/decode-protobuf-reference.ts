import Long from 'long';
import type protobuf from 'protobufjs';
import type { DecodedExport } from '../../domain/span.ts';
import { convertExportRequest, MalformedRequestError, type WireCodec } from './convert.ts';
import { otlpRoot } from './otlp-definitions.ts';
import { ANY_START, type StartWindow } from './span-rules.ts';

// OTLP/protobuf through protobufjs and the official definitions, then convert.ts: the reference
// that the wire decoder (decode-protobuf.ts) is held to by test/unit/otlp-wire-decode.test.ts.
// Slower, and not on any request's path.

const ExportRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

function toUnsigned(v: unknown): bigint | null {
  if (v instanceof Long) return BigInt.asUintN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  return null;
}

const protobufCodec: WireCodec = {
  id(v, bytes) {
    if (v === undefined || v === null) return '';
    if (!(v instanceof Uint8Array)) return null;
    if (v.length === 0) return '';
    if (v.length !== bytes) return null;
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  },
  u64: toUnsigned,
  i64(v) {
    if (v instanceof Long) return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    return null;
  },
  bytes: (v) => (v instanceof Uint8Array ? new Uint8Array(v) : null),
  enumNumber: (v) => (typeof v === 'number' ? v : 0),
};

export function decodeProtobufExportReference(body: Uint8Array, window: StartWindow = ANY_START): DecodedExport {
  let message: protobuf.Message;
  try {
    message = ExportRequest.decode(body);
  } catch (err) {
    throw new MalformedRequestError(`the body is not a valid OTLP protobuf ExportTraceServiceRequest: ${(err as Error).message}`);
  }
  return convertExportRequest(message, protobufCodec, window);
}
