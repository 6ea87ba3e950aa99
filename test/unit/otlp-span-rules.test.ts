import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OTLP_LIMITS } from '../../src/ingest/otlp/limits.ts';
import { isFixed64TooLate, isTooLate, spanRefusal } from '../../src/ingest/otlp/span-rules.ts';

// The per-span rules every OTLP decoder asks (src/ingest/otlp/span-rules.ts). The decoders' own
// agreement is test/unit/otlp-wire-decode.test.ts's; here, the two forms of the time limit and the
// order in which the rules refuse a span.

const MAX = OTLP_LIMITS.maxTimeUnixNano;

function fixed64(v: bigint): DataView {
  const b = Buffer.alloc(11);
  b.writeBigUInt64LE(v, 3);
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

describe('the span time limit', () => {
  it('is the same read off the wire as a fixed64 as on a bigint, around the limit and across the range', () => {
    const values = [0n, 1n, MAX - 1n, MAX, MAX + 1n, 2n ** 64n - 1n, MAX & ~0xffff_ffffn, (MAX & ~0xffff_ffffn) - 1n, MAX + 0x1_0000_0000n, 1_732_530_000_123_456_789n];
    const random = randomBytes(8 * 200);
    for (let at = 0; at < random.length; at += 8) values.push(random.readBigUInt64LE(at));
    for (const v of values) expect({ v, wire: isFixed64TooLate(fixed64(v), 3) }).toEqual({ v, wire: isTooLate(v) });
    expect([isTooLate(MAX), isTooLate(MAX + 1n)]).toEqual([false, true]);
  });
});

describe('refusing a span', () => {
  it('gives the first rule it breaks, in the order ids, parent, times', () => {
    const ok = [16, false, 8, false, 0, true, false] as const;
    const refusal = (i: number, v: number | boolean) => spanRefusal(...(ok.map((x, k) => (k === i ? v : x)) as unknown as typeof ok));
    expect(spanRefusal(...ok)).toBeNull();
    expect(spanRefusal(16, false, 8, false, 8, true, false)).toBeNull();
    expect(refusal(0, 15)).toBe('traceId must be 16 bytes and not all zero');
    expect(refusal(1, true)).toBe('traceId must be 16 bytes and not all zero');
    expect(refusal(2, -1)).toBe('spanId must be 8 bytes and not all zero');
    expect(refusal(3, true)).toBe('spanId must be 8 bytes and not all zero');
    expect(refusal(4, 7)).toBe('parentSpanId must be 8 bytes or empty');
    expect(refusal(5, false)).toBe('span times must be unsigned 64-bit nanoseconds');
    expect(refusal(6, true)).toBe('span times must be before 2262-04-11');
    expect(spanRefusal(0, true, 0, true, 3, false, true)).toBe('traceId must be 16 bytes and not all zero');
    expect(spanRefusal(16, false, 0, true, 3, false, true)).toBe('spanId must be 8 bytes and not all zero');
  });
});
