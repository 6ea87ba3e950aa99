import Long from 'long';
import { describe, expect, it } from 'vitest';
import { MalformedRequestError } from '../../src/ingest/otlp/convert.ts';
import { decodeJsonExport } from '../../src/ingest/otlp/decode-json.ts';
import { decodeProtobufExport } from '../../src/ingest/otlp/decode-protobuf.ts';
import { otlpRoot } from '../../src/ingest/otlp/otlp-definitions.ts';
import { OTLP_LIMITS, TRUNCATION_MARK } from '../../src/ingest/otlp/limits.ts';

const ExportRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';

const jsonRequest = (spans: unknown[], resourceAttrs: unknown[] = []) =>
  Buffer.from(JSON.stringify({ resourceSpans: [{ resource: { attributes: resourceAttrs }, scopeSpans: [{ scope: { name: 's', version: '1' }, spans }] }] }));

const jsonSpan = (over: Record<string, unknown> = {}) => ({
  traceId: TRACE,
  spanId: SPAN,
  name: 'chat',
  kind: 3,
  startTimeUnixNano: '1732530000123456789',
  endTimeUnixNano: '1732530001123456789',
  attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } }],
  ...over,
});

describe('OTLP/JSON decoding', () => {
  it('reads hex ids, 64-bit nanoseconds exactly, and every attribute value type', () => {
    const out = decodeJsonExport(
      jsonRequest([
        jsonSpan({
          attributes: [
            { key: 's', value: { stringValue: 'x' } },
            { key: 'i', value: { intValue: '9007199254740993' } },
            { key: 'small', value: { intValue: 42 } },
            { key: 'd', value: { doubleValue: 0.5 } },
            { key: 'b', value: { boolValue: true } },
            { key: 'bytes', value: { bytesValue: Buffer.from('hi').toString('base64') } },
            { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }] } } },
            { key: 'kv', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
          ],
          status: { code: 2, message: 'boom' },
        }),
      ]),
    );
    const s = out.spans[0]!;
    expect(s.traceId).toBe(TRACE);
    expect(s.startTimeUnixNano).toBe(1732530000123456789n);
    expect(s.attributes.get('i')).toBe(9007199254740993n);
    expect(s.attributes.get('small')).toBe(42);
    expect(s.attributes.get('arr')).toEqual(['a', 1]);
    expect((s.attributes.get('kv') as Map<string, unknown>).get('k')).toBe('v');
    expect(s.statusCode).toBe(2);
  });

  it('rejects individually bad spans as partial success and keeps the rest', () => {
    const out = decodeJsonExport(jsonRequest([jsonSpan(), jsonSpan({ traceId: 'abc' }), jsonSpan({ spanId: '0000000000000000' })]));
    expect(out.spans).toHaveLength(1);
    expect(out.rejected).toBe(2);
    expect(out.rejectionReasons.join(' ')).toMatch(/traceId/);
  });

  it('refuses a body that is not JSON or not an export request', () => {
    expect(() => decodeJsonExport(Buffer.from('{"resourceSpans": ['))).toThrow(MalformedRequestError);
    expect(() => decodeJsonExport(Buffer.from('[1,2]'))).toThrow(MalformedRequestError);
    expect(() => decodeJsonExport(Buffer.from('{"resourceSpans": 5}'))).toThrow(MalformedRequestError);
  });

  it('truncates huge values and bounds deep nesting instead of failing', () => {
    let deep: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < 200; i++) deep = { arrayValue: { values: [deep] } };
    const out = decodeJsonExport(
      jsonRequest([jsonSpan({ attributes: [{ key: 'big', value: { stringValue: 'x'.repeat(OTLP_LIMITS.maxAttributeValueChars + 10) } }, { key: 'deep', value: deep }] })]),
    );
    const big = out.spans[0]!.attributes.get('big') as string;
    expect(big.endsWith(TRUNCATION_MARK)).toBe(true);
    expect(big.length).toBe(OTLP_LIMITS.maxAttributeValueChars + TRUNCATION_MARK.length);
    let depth = 0;
    let v: unknown = out.spans[0]!.attributes.get('deep');
    while (Array.isArray(v)) {
      v = v[0];
      depth++;
    }
    expect(depth).toBeLessThanOrEqual(OTLP_LIMITS.maxValueDepth);
  });

  it('keeps attribute keys like __proto__ as map entries', () => {
    const out = decodeJsonExport(jsonRequest([jsonSpan({ attributes: [{ key: '__proto__', value: { stringValue: 'p' } }, { key: 'constructor', value: { stringValue: 'c' } }] })]));
    expect([...out.spans[0]!.attributes.keys()]).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });
});

describe('OTLP/protobuf decoding (official OTLP definitions)', () => {
  const encode = (obj: Record<string, unknown>) => ExportRequest.encode(ExportRequest.fromObject(obj)).finish();

  it('reads spans with ids as hex and nanoseconds as exact 64-bit values', () => {
    const body = encode({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bot' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: Buffer.from(TRACE, 'hex'),
                  spanId: Buffer.from(SPAN, 'hex'),
                  name: 'chat',
                  kind: 3,
                  startTimeUnixNano: Long.fromString('1732530000123456789', true),
                  endTimeUnixNano: Long.fromString('1732530001123456789', true),
                  attributes: [
                    { key: 'gen_ai.prompt.version', value: { intValue: Long.fromNumber(3) } },
                    { key: 'big', value: { intValue: Long.fromString('-9223372036854775808') } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const out = decodeProtobufExport(body);
    const s = out.spans[0]!;
    expect([s.traceId, s.spanId, s.parentSpanId]).toEqual([TRACE, SPAN, '']);
    expect(s.startTimeUnixNano).toBe(1732530000123456789n);
    expect(s.attributes.get('gen_ai.prompt.version')).toBe(3);
    expect(s.attributes.get('big')).toBe(-9223372036854775808n);
    expect(s.resource.attributes.get('service.name')).toBe('bot');
  });

  it('refuses bytes that are not an export request', () => {
    expect(() => decodeProtobufExport(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]))).toThrow(MalformedRequestError);
    expect(() => decodeProtobufExport(Buffer.from('this is plain text, not protobuf'))).toThrow(MalformedRequestError);
  });
});
