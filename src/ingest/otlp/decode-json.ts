import type { DecodedExport } from '../../domain/span.ts';
import { convertExportRequest, MalformedRequestError, type WireCodec } from './convert.ts';
import { ANY_START, type StartWindow } from './span-rules.ts';

// OTLP/JSON: ids are hex strings (not base64), 64-bit integers may be strings or numbers,
// bytes are base64, enums are numbers (names accepted too). JSON.parse keeps "__proto__" as an
// own property and never touches a prototype; convert.ts reads fields with Object.hasOwn only.

const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function parseU64(v: unknown): bigint | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? BigInt(v) : null;
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) {
    const n = BigInt(v);
    return n <= 0xffff_ffff_ffff_ffffn ? n : null;
  }
  return null;
}

const jsonCodec: WireCodec = {
  id(v, bytes) {
    if (v === undefined || v === null || v === '') return '';
    if (typeof v !== 'string' || v.length !== bytes * 2 || !HEX.test(v)) return null;
    return v.toLowerCase();
  },
  u64: parseU64,
  i64(v) {
    if (typeof v === 'number') return Number.isSafeInteger(v) || (Number.isInteger(v) && Math.abs(v) < 2 ** 63) ? BigInt(v) : null;
    if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) {
      const n = BigInt(v);
      return n >= -(2n ** 63n) && n < 2n ** 63n ? n : null;
    }
    return null;
  },
  bytes(v) {
    if (typeof v !== 'string' || !BASE64.test(v)) return null;
    return new Uint8Array(Buffer.from(v, 'base64'));
  },
  enumNumber(v, names) {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'string') {
      const i = names.indexOf(v);
      if (i >= 0) return i;
    }
    return 0;
  },
};

/** Decodes an OTLP/JSON ExportTraceServiceRequest body; spans starting outside `window` are refused. */
export function decodeJsonExport(body: Uint8Array, window: StartWindow = ANY_START): DecodedExport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    throw new MalformedRequestError(`the body is not valid JSON: ${(err as Error).message}`);
  }
  return convertExportRequest(parsed, jsonCodec, window);
}
