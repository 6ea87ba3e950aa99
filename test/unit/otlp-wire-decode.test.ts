import { isDeepStrictEqual } from 'node:util';
import Long from 'long';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { MalformedRequestError } from '../../src/ingest/otlp/convert.ts';
import { decodeProtobufExport } from '../../src/ingest/otlp/decode-protobuf.ts';
import { decodeProtobufExportReference } from '../../src/ingest/otlp/decode-protobuf-reference.ts';
import { otlpRoot } from '../../src/ingest/otlp/otlp-definitions.ts';
import { scanProtobufExport, type ScannedExport } from '../../src/ingest/otlp/scan-protobuf.ts';
import { OTLP_LIMITS } from '../../src/ingest/otlp/limits.ts';
import { TextBytes, type AttrMap, type DecodedExport } from '../../src/domain/span.ts';
import { KEYS_READ_AT_INGEST } from '../../src/ingest/conventions.ts';
import { buildTemplate, stamp } from '../../bench/payloads.ts';

// The collector decodes OTLP/protobuf straight off the wire (src/ingest/otlp/decode-protobuf.ts).
// protobufjs + convert.ts (decode-protobuf-reference.ts) is the reference: on valid requests, odd
// but legal encodings (fields repeated, merged, out of order, unknown), every limit, and thousands
// of mutated requests, both give the same spans — or both refuse the body with
// MalformedRequestError. The receiver's check without decoding (scan-protobuf.ts) counts the same
// spans and refuses the same bodies. The writer's decoding, which keeps long values of keys the
// collector does not read as bytes (TextBytes), gives the same spans once those are read as text.

const ExportRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const encode = (obj: unknown) => ExportRequest.encode(ExportRequest.fromObject(obj as Record<string, unknown>)).finish();

const TRACE = Buffer.from('5b8efff798038103d269b633813fc60c', 'hex');
const SPAN = Buffer.from('eee19b7ec3c1b174', 'hex');
const PARENT = Buffer.from('eee19b7ec3c1b175', 'hex');
const ns = (v: bigint) => Long.fromString(v.toString(), true);

const span = (over: Record<string, unknown> = {}) => ({
  traceId: TRACE,
  spanId: SPAN,
  parentSpanId: PARENT,
  name: 'chat gpt-4o',
  kind: 3,
  startTimeUnixNano: ns(1732530000123456789n),
  endTimeUnixNano: ns(1732530001123456789n),
  attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } }],
  ...over,
});
const request = (spans: unknown[], resourceAttrs: unknown[] = [{ key: 'service.name', value: { stringValue: 'svc' } }]) =>
  encode({ resourceSpans: [{ resource: { attributes: resourceAttrs }, scopeSpans: [{ scope: { name: 's', version: '1' }, spans }] }] });

type Outcome = { ok: true; out: DecodedExport } | { ok: false; error: unknown };
const attempt = (f: (b: Uint8Array) => DecodedExport, body: Uint8Array): Outcome => {
  try {
    return { ok: true, out: f(body) };
  } catch (error) {
    return { ok: false, error };
  }
};

/** The receiver's check agrees with the decoder: the same counts, or both refuse. */
function expectScanAgrees(body: Uint8Array, wire: Outcome, label: unknown = 'scan'): void {
  let scan: ScannedExport | undefined;
  let error: unknown;
  try {
    scan = scanProtobufExport(body);
  } catch (e) {
    error = e;
  }
  if (!wire.ok) {
    expect({ label, scanRefused: error instanceof MalformedRequestError }).toEqual({ label, scanRefused: true });
    return;
  }
  expect({ label, scan, error }).toEqual({ label, scan: { spans: wire.out.spans.length, rejected: wire.out.rejected, rejectionReasons: wire.out.rejectionReasons }, error: undefined });
}

/** How the writer decodes: long values of keys not read at ingest stay bytes of the body. */
const decodeAsWriter = (body: Uint8Array) => decodeProtobufExport(body, undefined, KEYS_READ_AT_INGEST);

/** Counts the TextBytes of span and event attributes, made text in place; the rest is left for the comparison to catch. */
function textBytesAsText(out: DecodedExport): number {
  let n = 0;
  const fix = (m: AttrMap) => {
    for (const [k, v] of m) {
      if (!(v instanceof TextBytes)) continue;
      m.set(k, v.toString());
      n++;
    }
  };
  for (const s of out.spans) {
    fix(s.attributes);
    for (const e of s.events) fix(e.attributes);
  }
  return n;
}

/**
 * The writer's decoding agrees with the wire decoder's strings: the same export once its TextBytes
 * are read as text, or the same refusal. Answers how many values were TextBytes.
 */
function expectWriterSame(body: Uint8Array, wire: Outcome, label: unknown = 'writer'): number {
  const writer = attempt(decodeAsWriter, body);
  if (!wire.ok || !writer.ok) {
    expect({ label, wireRefused: !wire.ok, writerRefused: !writer.ok }).toEqual({ label, wireRefused: true, writerRefused: true });
    return 0;
  }
  const n = textBytesAsText(writer.out);
  if (!isDeepStrictEqual(writer.out, wire.out)) expect({ label, writer: writer.out }).toEqual({ label, writer: wire.out });
  return n;
}

/** Both decoders agree: the same export, or both refuse with MalformedRequestError. */
function expectSame(body: Uint8Array): DecodedExport | null {
  const ref = attempt(decodeProtobufExportReference, body);
  const wire = attempt(decodeProtobufExport, body);
  expectScanAgrees(body, wire);
  expectWriterSame(body, wire);
  if (!ref.ok || !wire.ok) {
    expect({ ref: ref.ok || ref.error instanceof MalformedRequestError, wire: wire.ok || wire.error instanceof MalformedRequestError }).toEqual({ ref: true, wire: true });
    expect({ refRefused: !ref.ok, wireRefused: !wire.ok }).toEqual({ refRefused: true, wireRefused: true });
    return null;
  }
  expect(wire.out).toStrictEqual(ref.out);
  return wire.out;
}

// Raw protobuf writing, for encodings protobufjs's encoder never makes.
const w = () => protobuf.Writer.create();
const msg = (fields: (x: protobuf.Writer) => protobuf.Writer) => fields(w()).finish();
const bytesField = (x: protobuf.Writer, id: number, b: Uint8Array) => x.uint32((id << 3) | 2).bytes(b);
const strField = (x: protobuf.Writer, id: number, s: string) => x.uint32((id << 3) | 2).string(s);
const wrap = (spanBytes: Uint8Array[], resource?: Uint8Array, scope?: Uint8Array, scopeFirst = true) => {
  const ss = msg((x) => {
    if (scope && scopeFirst) bytesField(x, 1, scope);
    for (const s of spanBytes) bytesField(x, 2, s);
    if (scope && !scopeFirst) bytesField(x, 1, scope);
    return x;
  });
  const rs = msg((x) => {
    bytesField(x, 2, ss);
    if (resource) bytesField(x, 1, resource);
    return x;
  });
  return msg((x) => bytesField(x, 1, rs));
};
const kv = (key: string, anyValue: Uint8Array) => msg((x) => bytesField(strField(x, 1, key), 2, anyValue));
const anyString = (s: string) => msg((x) => strField(x, 1, s));
const rawSpan = (extra: (x: protobuf.Writer) => protobuf.Writer) =>
  msg((x) => extra(bytesField(bytesField(x, 1, TRACE), 2, SPAN).uint32((7 << 3) | 1).fixed64(ns(1732530000000000000n)).uint32((8 << 3) | 1).fixed64(ns(1732530000000000001n))));

describe('the wire decoder gives the spans protobufjs + convert.ts give', () => {
  it('on realistic GenAI agent traces', () => {
    const t = buildTemplate(7, 300);
    const body = stamp(t, Buffer.from('0011223344556677', 'hex'), 42);
    const out = expectSame(body)!;
    expect(out.spans).toHaveLength(t.spans);
    expect(out.rejected).toBe(0);
    // The writer keeps the messages of the model calls as bytes: two values each.
    const calls = out.spans.filter((s) => s.attributes.has('gen_ai.input.messages')).length;
    expect(calls).toBeGreaterThan(100);
    expect(expectWriterSame(body, { ok: true, out })).toBeGreaterThanOrEqual(2 * calls);
  });

  it('as the writer decodes: long values of keys it does not read stay bytes; those of keys it reads, short and malformed ones are strings', () => {
    const long = (c: string) => `${c}"é\\\t'日本🙂`.repeat(40);
    const json = JSON.stringify({ id: 'chatcmpl-in-output', choices: [{ message: { content: 'x'.repeat(400) } }] });
    const bad = Buffer.concat([Buffer.from('x'.repeat(300)), Buffer.from([0xc3, 0x28])]);
    const body = wrap([
      rawSpan((x) => {
        bytesField(x, 9, kv('app.payload', anyString(long('a'))));
        bytesField(x, 9, kv('short', anyString('y'.repeat(127))));
        bytesField(x, 9, kv('at.threshold', anyString('z'.repeat(128))));
        bytesField(x, 9, kv('output.value', anyString(json)));
        bytesField(x, 9, kv('gen_ai.conversation.id', anyString('c'.repeat(200))));
        bytesField(x, 9, kv('malformed', msg((v) => bytesField(v, 1, bad))));
        // The key after its value, as protobuf allows: a read key's value is still made a string.
        bytesField(x, 9, msg((k) => strField(bytesField(k, 2, anyString('m'.repeat(200))), 1, 'gen_ai.request.model')));
        bytesField(x, 9, kv('nested', msg((v) => bytesField(v, 5, msg((a) => bytesField(a, 1, anyString(long('n'))))))));
        return bytesField(x, 11, msg((e) => bytesField(strField(e, 2, 'gen_ai.choice'), 3, kv('message', anyString(long('e'))))));
      }),
    ]);
    const wire = attempt(decodeProtobufExport, body);
    const writer = decodeAsWriter(body);
    const attrs = writer.spans[0]!.attributes;
    const kinds = Object.fromEntries([...attrs].map(([k, v]) => [k, v instanceof TextBytes ? 'bytes' : typeof v === 'string' ? 'string' : 'other']));
    expect(kinds).toEqual({
      'app.payload': 'bytes',
      short: 'string',
      'at.threshold': 'bytes',
      'output.value': 'string',
      'gen_ai.conversation.id': 'string',
      malformed: 'string',
      'gen_ai.request.model': 'string',
      nested: 'other',
    });
    expect(writer.spans[0]!.events[0]!.attributes.get('message')).toBeInstanceOf(TextBytes);
    expect((attrs.get('app.payload') as TextBytes).toString()).toBe(long('a'));
    expect(expectWriterSame(body, wire)).toBe(3);
    // A read key's value is checked against the lineage bound as before: over it, the span is refused.
    const over = wrap([rawSpan((x) => bytesField(x, 9, msg((k) => strField(bytesField(k, 2, anyString('m'.repeat(300))), 1, 'gen_ai.request.model'))))]);
    expect(decodeAsWriter(over)).toMatchObject({ spans: [], rejected: 1 });
    expect(expectSame(over)!.rejected).toBe(1);
  });

  it('on every attribute value type, big and negative integers, and non-finite doubles', () => {
    const out = expectSame(
      request([
        span({
          attributes: [
            { key: 's', value: { stringValue: 'x é 日本 🙂' } },
            { key: 'empty', value: { stringValue: '' } },
            { key: 'b', value: { boolValue: true } },
            { key: 'f', value: { boolValue: false } },
            { key: 'i', value: { intValue: Long.fromString('9007199254740993') } },
            { key: 'safe', value: { intValue: Long.fromNumber(9007199254740991) } },
            { key: 'neg', value: { intValue: Long.fromNumber(-42) } },
            { key: 'min', value: { intValue: Long.MIN_VALUE } },
            { key: 'zero', value: { intValue: Long.ZERO } },
            { key: 'd', value: { doubleValue: 0.5 } },
            { key: 'nan', value: { doubleValue: NaN } },
            { key: 'inf', value: { doubleValue: -Infinity } },
            { key: 'bytes', value: { bytesValue: Buffer.from([0, 1, 255]) } },
            { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1 }, {}, { arrayValue: { values: [] } }] } } },
            { key: 'kv', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }, { key: '', value: { boolValue: true } }, { key: 'none' }] } } },
            { key: 'novalue' },
            { key: '', value: { stringValue: 'dropped: empty key' } },
            { key: '__proto__', value: { stringValue: 'data' } },
          ],
          events: [{ timeUnixNano: ns(5n), name: 'gen_ai.evaluation.result', attributes: [{ key: 'gen_ai.evaluation.score.value', value: { doubleValue: 0.9 } }] }, { name: 'no time' }],
          links: [{ traceId: TRACE, spanId: SPAN, traceState: 'a=b', attributes: [{ key: 'l', value: { stringValue: 'x' } }] }, { traceId: Buffer.alloc(3), spanId: Buffer.alloc(9) }],
          status: { code: 2, message: 'boom' },
          traceState: 'vendor=1',
        }),
      ]),
    )!;
    expect(out.spans[0]!.attributes.get('i')).toBe(9007199254740993n);
    expect(out.spans[0]!.attributes.get('min')).toBe(-(2n ** 63n));
    expect(out.spans[0]!.attributes.get('neg')).toBe(-42);
  });

  it('on values nested past the depth limit, and on more attributes, events and links than kept', () => {
    let deep: Record<string, unknown> = { stringValue: 'bottom' };
    for (let i = 0; i < OTLP_LIMITS.maxValueDepth + 5; i++) deep = i % 2 ? { arrayValue: { values: [deep, { intValue: i }] } } : { kvlistValue: { values: [{ key: `k${i}`, value: deep }] } };
    const many = Array.from({ length: OTLP_LIMITS.maxAttributesPerItem + 10 }, (_, i) => ({ key: `a${i}`, value: { intValue: i } }));
    const out = expectSame(
      request([
        span({
          attributes: [{ key: 'deep', value: deep }, ...many],
          events: Array.from({ length: OTLP_LIMITS.maxEventsPerSpan + 3 }, (_, i) => ({ timeUnixNano: ns(BigInt(i)), name: `e${i}` })),
          links: Array.from({ length: OTLP_LIMITS.maxLinksPerSpan + 3 }, (_, i) => ({ traceId: TRACE, spanId: SPAN, traceState: i === 0 ? 's'.repeat(OTLP_LIMITS.maxAttributeKeyChars + 3) : '' })),
        }),
        span({ spanId: PARENT, attributes: [{ key: 'long', value: { stringValue: 'x'.repeat(OTLP_LIMITS.maxAttributeValueChars + 5) } }, { key: 'k'.repeat(OTLP_LIMITS.maxAttributeKeyChars + 1), value: { stringValue: 'v' } }] }),
      ]),
    )!;
    expect(out.spans[0]!.attributes.size).toBe(OTLP_LIMITS.maxAttributesPerItem);
    expect(out.spans[0]!.events).toHaveLength(OTLP_LIMITS.maxEventsPerSpan);
  });

  it('on spans refused one by one: ids of the wrong length or all zero, times past 2262', () => {
    const out = expectSame(
      request([
        span(),
        span({ traceId: Buffer.alloc(16) }),
        span({ traceId: TRACE.subarray(0, 15) }),
        span({ spanId: Buffer.alloc(8) }),
        span({ spanId: undefined }),
        span({ parentSpanId: Buffer.alloc(7) }),
        span({ parentSpanId: Buffer.alloc(8), spanId: PARENT }),
        span({ startTimeUnixNano: ns(2n ** 63n) }),
        span({ endTimeUnixNano: ns(2n ** 64n - 1n) }),
        span({ endTimeUnixNano: ns(1n), events: [{ timeUnixNano: ns(2n ** 63n), name: 'late' }] }),
      ]),
    )!;
    expect(out.spans).toHaveLength(3);
    expect(out.rejected).toBe(7);
  });

  it('on legal but odd encodings: the scope after the spans, a resource or status given twice, unknown fields, wrong wire types', () => {
    const resource = msg((x) => bytesField(bytesField(x, 1, kv('service.name', anyString('svc'))), 1, kv('service.version', anyString('1.0'))));
    const scope = msg((x) => strField(strField(x, 1, 'scope'), 2, '2'));
    const s1 = rawSpan((x) =>
      bytesField(x, 9, kv('a', anyString('1')))
        .uint32((15 << 3) | 2)
        .bytes(msg((y) => strField(y.uint32((3 << 3) | 0).uint32(2), 2, 'first')))
        .uint32((15 << 3) | 2)
        .bytes(msg((y) => strField(y, 2, 'second')))
        .uint32((99 << 3) | 0)
        .uint32(7) // unknown varint field
        .uint32((98 << 3) | 5)
        .fixed32(1) // unknown fixed32
        .uint32((5 << 3) | 0)
        .uint32(3) // name with the wrong wire type: skipped
        .uint32((9 << 3) | 2)
        .bytes(msg((y) => bytesField(bytesField(strField(y, 1, 'merged'), 2, msg((z) => z.uint32((2 << 3) | 0).uint32(1))), 2, anyString('s')))),
    );
    const twiceArray = rawSpan((x) => {
      const arr = (v: string) => msg((y) => bytesField(y, 5, msg((z) => bytesField(z, 1, anyString(v)))));
      return bytesField(x, 9, msg((y) => bytesField(bytesField(strField(y, 1, 'arr'), 2, arr('a')), 2, arr('b'))));
    });
    const twiceResource = wrap([s1, twiceArray], resource, scope, false);
    const out = expectSame(twiceResource)!;
    expect(out.spans[0]!.scope).toEqual({ name: 'scope', version: '2' });
    expect(out.spans[0]!.statusCode).toBe(2);
    expect(out.spans[0]!.statusMessage).toBe('second');
    // And the resource given twice, merged.
    const rs = msg((x) => bytesField(bytesField(bytesField(x, 1, msg((y) => bytesField(y, 1, kv('a', anyString('1'))))), 2, msg((y) => bytesField(y, 2, rawSpan((z) => z)))), 1, msg((y) => bytesField(y, 1, kv('b', anyString('2'))))));
    const merged = expectSame(msg((x) => bytesField(x, 1, rs)))!;
    expect([...merged.spans[0]!.resource.attributes.keys()]).toEqual(['a', 'b']);
  });

  it('on strings that are not valid UTF-8: read, not refused, and made well-formed', () => {
    for (const bad of [[0x61, 0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xff], [0xc0, 0xaf]]) {
      const body = wrap([rawSpan((x) => bytesField(x.uint32((5 << 3) | 2).bytes(Buffer.from(bad)), 9, kv('k', anyString(Buffer.from(bad).toString('latin1')))))]);
      const out = expectSame(body)!;
      expect(out.spans[0]!.name.isWellFormed()).toBe(true);
    }
  });

  it('on tags longer than 32 bits: both refuse them, as protobufjs reads tags', () => {
    const good = Buffer.from(request([span()]));
    // Field 1 (resource_spans), wire type 2, spelled in five bytes: legal while the fifth byte holds only the top four bits.
    const body = (fifth: number) => Buffer.concat([Buffer.from([0x8a, 0x80, 0x80, 0x80, fifth]), good.subarray(1)]);
    expect(expectSame(body(0x00))!.spans).toHaveLength(1);
    for (const fifth of [0x10, 0x70, 0x80]) expect(expectSame(body(fifth))).toBeNull();
  });

  it('on bodies that are not OTLP: both refuse them with MalformedRequestError', () => {
    const good = request([span()]);
    for (const body of [good.subarray(0, good.length - 3), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x0f]), Buffer.from('not protobuf at all')]) {
      expect(expectSame(body)).toBeNull();
    }
    expect(expectSame(new Uint8Array(0))).toEqual({ spans: [], rejected: 0, rejectionReasons: [] });
  });

  it('on thousands of mutated requests (bit flips, cut, inserted and repeated bytes)', () => {
    let seed = 0x5eed;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    // A fixed clock: the same requests, and the same mutations of them, on every run.
    const bases = [stamp(buildTemplate(11, 30, 1764600000000000000n), Buffer.alloc(8, 1), 1), request([span({ events: [{ name: 'e', timeUnixNano: ns(1n) }], links: [{ traceId: TRACE, spanId: SPAN }] })])];
    let decoded = 0;
    for (let i = 0; i < 6000; i++) {
      const body = Buffer.from(bases[i % bases.length]!);
      let b: Buffer = body;
      const ops = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < ops; k++) {
        const at = Math.floor(rnd() * b.length);
        const op = Math.floor(rnd() * 4);
        if (op === 0) b[at] = b[at]! ^ (1 << Math.floor(rnd() * 8));
        else if (op === 1) b = b.subarray(0, at);
        else if (op === 2) b = Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(rnd() * 256)]), b.subarray(at)]);
        else b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + Math.floor(rnd() * 20)), b.subarray(at)]);
      }
      const ref = attempt(decodeProtobufExportReference, b);
      const wire = attempt(decodeProtobufExport, b);
      expectScanAgrees(b, wire, i);
      expectWriterSame(b, wire, i);
      if (!wire.ok) expect(wire.error).toBeInstanceOf(MalformedRequestError);
      if (ref.ok && wire.ok) {
        decoded++;
        if (!isDeepStrictEqual(ref.out, wire.out)) expect({ case: i, wire: wire.out }).toEqual({ case: i, wire: ref.out });
      } else expect({ case: i, refRefused: !ref.ok, wireRefused: !wire.ok }).toEqual({ case: i, refRefused: true, wireRefused: true });
    }
    expect(decoded).toBeGreaterThan(100);
  });
});
