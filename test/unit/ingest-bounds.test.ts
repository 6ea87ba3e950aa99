import { randomBytes } from 'node:crypto';
import Long from 'long';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import type { DecodedExport } from '../../src/domain/span.ts';
import { decodeJsonExport } from '../../src/ingest/otlp/decode-json.ts';
import { decodeProtobufExport } from '../../src/ingest/otlp/decode-protobuf.ts';
import { decodeProtobufExportReference } from '../../src/ingest/otlp/decode-protobuf-reference.ts';
import { OTLP_LIMITS } from '../../src/ingest/otlp/limits.ts';
import { otlpRoot } from '../../src/ingest/otlp/otlp-definitions.ts';
import { scanProtobufExport } from '../../src/ingest/otlp/scan-protobuf.ts';
import {
  ANY_START,
  describeDuration,
  fixed64WindowSide,
  lineageRefusal,
  LINEAGE_LIST,
  LINEAGE_VALUE,
  MAX_DATASET_IDS,
  MAX_LINEAGE_VALUE_CHARS,
  startWindowAt,
  startWindowSide,
  type StartWindow,
} from '../../src/ingest/otlp/span-rules.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import { createSpan } from '../helpers/factories.ts';

// The rules that bound what one span may make the collector keep (src/ingest/otlp/span-rules.ts):
// lineage ids and names at most MAX_LINEAGE_VALUE_CHARS characters and MAX_DATASET_IDS dataset ids,
// and start times within a window around the request's receipt. The receipt-time scanner, the wire
// decoder, the protobufjs reference and the JSON decoder must refuse the same spans for the same
// reasons: the receiver answers from one and the writer stores from another.

const ExportRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const NOW_MS = Date.UTC(2026, 10, 30, 12);
const nsAt = (ms: number) => BigInt(ms) * 1_000_000n;
const long = (v: bigint) => Long.fromString(v.toString(), true);

type Attr = { key: string; value?: Record<string, unknown> };
const s = (key: string, value: string): Attr => ({ key, value: { stringValue: value } });

function span(attributes: Attr[], startNs = nsAt(NOW_MS)) {
  return { traceId: randomBytes(16), spanId: randomBytes(8), name: 'chat', kind: 3, startTimeUnixNano: long(startNs), endTimeUnixNano: long(startNs + 1_000n), attributes };
}

const ScopeSpans = otlpRoot.lookupType('opentelemetry.proto.trace.v1.ScopeSpans');
const Resource = otlpRoot.lookupType('opentelemetry.proto.resource.v1.Resource');

/** One request: resource attributes, spans, and whether the resource comes after the spans on the wire. */
function request(spans: unknown[], resource: Attr[] = [s('service.name', 'svc')], resourceLast = false): Uint8Array {
  const scopeSpans = ScopeSpans.encode(ScopeSpans.fromObject({ scope: { name: 's' }, spans })).finish();
  const res = Resource.encode(Resource.fromObject({ attributes: resource })).finish();
  const rs = protobuf.Writer.create();
  if (!resourceLast) rs.uint32((1 << 3) | 2).bytes(res);
  rs.uint32((2 << 3) | 2).bytes(scopeSpans);
  if (resourceLast) rs.uint32((1 << 3) | 2).bytes(res);
  return protobuf.Writer.create().uint32((1 << 3) | 2).bytes(rs.finish()).finish();
}

/** The same request as OTLP/JSON (hex ids, times as strings). */
function asJson(body: Uint8Array): Uint8Array {
  const obj = ExportRequest.toObject(ExportRequest.decode(body), { longs: String, bytes: String }) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Record<string, string>> }> }> };
  for (const rs of obj.resourceSpans) for (const ss of rs.scopeSpans) for (const sp of ss.spans) for (const k of ['traceId', 'spanId']) sp[k] = Buffer.from(sp[k]!, 'base64').toString('hex');
  return Buffer.from(JSON.stringify(obj));
}

/** Every decoder's answer for one request and window; they must all be the same. */
function agreed(body: Uint8Array, window: StartWindow = ANY_START): DecodedExport {
  const wire = decodeProtobufExport(body, window);
  const ref = decodeProtobufExportReference(body, window);
  const scan = scanProtobufExport(body, window);
  const json = decodeJsonExport(asJson(body), window);
  expect(wire).toStrictEqual(ref);
  expect(scan).toEqual({ spans: wire.spans.length, rejected: wire.rejected, rejectionReasons: wire.rejectionReasons });
  expect({ spans: json.spans.map((x) => x.spanId), rejected: json.rejected, reasons: json.rejectionReasons }).toEqual({ spans: wire.spans.map((x) => x.spanId), rejected: wire.rejected, reasons: wire.rejectionReasons });
  return wire;
}

const over = 'p'.repeat(MAX_LINEAGE_VALUE_CHARS + 1);
const atBound = 'p'.repeat(MAX_LINEAGE_VALUE_CHARS);
const ids = (n: number, len = 3) => Array.from({ length: n }, (_, i) => String(i).padStart(len, 'd'));

describe('lineage values are bounded where they arrive', () => {
  it('the rule reads a value as the normalizer reads it', () => {
    expect(lineageRefusal('gen_ai.prompt.name', LINEAGE_VALUE, atBound)).toBeNull();
    expect(lineageRefusal('gen_ai.prompt.name', LINEAGE_VALUE, `  ${atBound}\n `)).toBeNull();
    expect(lineageRefusal('gen_ai.prompt.name', LINEAGE_VALUE, over)).toBe(`gen_ai.prompt.name is over ${MAX_LINEAGE_VALUE_CHARS} characters; lineage names and ids are at most ${MAX_LINEAGE_VALUE_CHARS}`);
    expect(lineageRefusal('gen_ai.request.model', LINEAGE_VALUE, [over])).toMatch(/gen_ai.request.model is over 256 characters/);
    expect(lineageRefusal('gen_ai.request.model', LINEAGE_VALUE, 12345)).toBeNull();
    expect(lineageRefusal('promptline.dataset.ids', LINEAGE_LIST, ids(MAX_DATASET_IDS))).toBeNull();
    expect(lineageRefusal('promptline.dataset.ids', LINEAGE_LIST, ids(MAX_DATASET_IDS + 1))).toBe(`promptline.dataset.ids names more than ${MAX_DATASET_IDS} dataset ids; a span names at most ${MAX_DATASET_IDS}`);
    expect(lineageRefusal('promptline.dataset.ids', LINEAGE_LIST, ids(MAX_DATASET_IDS + 1).join(','))).toMatch(/more than 64 dataset ids/);
    expect(lineageRefusal('promptline.dataset.ids', LINEAGE_LIST, JSON.stringify(['kb', over]))).toMatch(/a dataset id in promptline.dataset.ids is over 256 characters/);
  });

  it('refuses a span whose prompt name is over the bound, and keeps the others of its request', () => {
    const good = span([s('gen_ai.prompt.name', atBound), s('gen_ai.response.id', 'r-1')]);
    const bad = span([s('gen_ai.prompt.name', over)]);
    const out = agreed(request([good, bad, span([s('gen_ai.request.model', 'gpt-4o')])]));
    expect(out.spans.map((x) => x.attributes.get('gen_ai.prompt.name') ?? '')).toEqual([atBound, '']);
    expect(out.rejected).toBe(1);
    expect(out.rejectionReasons).toEqual(['gen_ai.prompt.name is over 256 characters; lineage names and ids are at most 256']);
  });

  it('bounds every field the lineage record keeps, whichever convention sends it', () => {
    const keys = ['promptline.prompt.version', 'promptline.prompt.alias', 'promptline.prompt.hash', 'llm.model_name', 'gen_ai.provider.name', 'ai.response.id', 'gen_ai.agent.name', 'langfuse.release', 'session.id', 'gen_ai.data_source.id'];
    for (const key of keys) {
      const out = agreed(request([span([s(key, over)]), span([s(key, atBound)])]));
      expect({ key, kept: out.spans.length, reason: out.rejectionReasons[0] }).toEqual({ key, kept: 1, reason: expect.stringContaining(key) });
    }
  });

  it('counts dataset ids in arrays, JSON text and comma-separated text alike', () => {
    const arr = (n: number) => ({ key: 'promptline.dataset.ids', value: { arrayValue: { values: ids(n).map((x) => ({ stringValue: x })) } } });
    const out = agreed(
      request([
        span([arr(MAX_DATASET_IDS)]),
        span([arr(MAX_DATASET_IDS + 1)]),
        span([s('promptline.dataset.ids', ids(MAX_DATASET_IDS + 1, 1).join(','))]),
        span([s('langfuse.experiment.dataset.id', JSON.stringify(ids(MAX_DATASET_IDS)))]),
        span([{ key: 'promptline.dataset.ids', value: { arrayValue: { values: [{ stringValue: 'kb' }, { stringValue: over }] } } }]),
      ]),
    );
    expect(out.spans).toHaveLength(2);
    expect(out.rejected).toBe(3);
    expect(readOwnLineage(out.spans[0]!).datasetIds).toHaveLength(MAX_DATASET_IDS);
  });

  it('checks every entry of a lineage key: one sent twice, one past the attributes kept, one not a string', () => {
    const many = Array.from({ length: OTLP_LIMITS.maxAttributesPerItem }, (_, i) => s(`k${i}`, 'v'));
    const out = agreed(
      request([
        span([s('gen_ai.prompt.name', over), s('gen_ai.prompt.name', 'short')]),
        span([...many, s('gen_ai.conversation.id', over)]),
        span([{ key: 'gen_ai.response.model', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: over } }] } } }]),
        span([{ key: 'gen_ai.response.model', value: { bytesValue: Buffer.alloc(200, 1) } }]),
        span([
          { key: 'gen_ai.response.model', value: { intValue: Long.fromNumber(-7) } },
          { key: 'gen_ai.prompt.version', value: { doubleValue: 1e300 } },
          { key: 'gen_ai.conversation.id', value: { boolValue: false } },
          { key: 'promptline.dataset.ids', value: { arrayValue: { values: [{ intValue: Long.fromNumber(1) }, { boolValue: true }] } } },
          { key: 'gen_ai.response.id' },
        ]),
      ]),
    );
    expect(out.rejected).toBe(4);
    expect(out.spans).toHaveLength(1);
  });

  it('refuses every span under a resource whose service.name is over the bound, wherever the resource comes', () => {
    for (const resourceLast of [false, true]) {
      const out = agreed(request([span([]), span([s('gen_ai.prompt.name', over)]), span([])], [s('service.name', over)], resourceLast));
      expect({ resourceLast, kept: out.spans.length, rejected: out.rejected }).toEqual({ resourceLast, kept: 0, rejected: 3 });
      expect(out.rejectionReasons).toEqual(['gen_ai.prompt.name is over 256 characters; lineage names and ids are at most 256', 'service.name is over 256 characters; lineage names and ids are at most 256']);
    }
  });

  it('keeps a long value under another key, and a prompt template (it is kept as its hash)', () => {
    const out = agreed(request([span([s('gen_ai.input.messages', over.repeat(100)), s('llm.prompt_template.template', over.repeat(10))])]));
    expect(out.spans).toHaveLength(1);
    expect(readOwnLineage(out.spans[0]!).prompt?.templateHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not keep a value over the bound found inside another value (mlflow.linkedPrompts, output.value)', () => {
    const own = readOwnLineage(
      createSpan({ attrs: { 'mlflow.linkedPrompts': JSON.stringify([{ name: over, version: '1' }]), 'output.value': JSON.stringify({ id: over, choices: [] }) } }),
    );
    expect(own.prompt).toBeNull();
    expect(own.responseId).toBe('');
    const fine = readOwnLineage(createSpan({ attrs: { 'mlflow.linkedPrompts': JSON.stringify([{ name: 'p', version: '2' }]), 'output.value': JSON.stringify({ id: 'chatcmpl-1' }) } }));
    expect(fine.prompt).toMatchObject({ name: 'p', version: '2' });
    expect(fine.responseId).toBe('chatcmpl-1');
  });
});

describe('span start times are bounded to a window around the receipt', () => {
  const window = startWindowAt(NOW_MS, { maxAgeMs: 30 * 86_400_000, maxFutureMs: 86_400_000 });

  it('says its bounds in its messages', () => {
    expect(window.tooOld).toBe('span start times must be at most 30 days before the request arrives (PROMPTLINE_MAX_SPAN_AGE)');
    expect(window.tooNew).toBe('span start times must be at most 1 day after the request arrives (PROMPTLINE_MAX_SPAN_FUTURE)');
    expect([describeDuration(3_600_000), describeDuration(90_000), describeDuration(1), describeDuration(2 * 86_400_000)]).toEqual(['1 hour', '90 seconds', '1 ms', '2 days']);
  });

  it('is the same read off the wire as on a bigint, at both ends and across the range', () => {
    const at = (v: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(v);
      return new DataView(b.buffer, b.byteOffset, 8);
    };
    const values = [0n, 1n, window.earliest - 1n, window.earliest, window.earliest + 1n, window.latest - 1n, window.latest, window.latest + 1n, 2n ** 64n - 1n, window.earliest & ~0xffff_ffffn];
    for (let i = 0; i < 200; i++) values.push(randomBytes(8).readBigUInt64LE());
    for (const v of values) expect({ v, wire: fixed64WindowSide(at(v), 0, window) }).toEqual({ v, wire: startWindowSide(v, window) });
    expect([startWindowSide(window.earliest - 1n, window), startWindowSide(window.earliest, window), startWindowSide(window.latest, window), startWindowSide(window.latest + 1n, window)]).toEqual([-1, 0, 0, 1]);
    expect(fixed64WindowSide(at(0n), -1, window)).toBe(-1); // no start time: 0
  });

  it('refuses spans a day apart across years (a partition each) and keeps the ones in the window', () => {
    const day = 86_400_000;
    const spans = Array.from({ length: 400 }, (_, i) => span([], nsAt(NOW_MS - 360 * day + i * day)));
    const out = agreed(request(spans), window);
    // 30 days back to 1 day ahead: days -30 … +1 of the 400 sent from -360.
    expect(out.spans).toHaveLength(32);
    expect(out.rejected).toBe(368);
    expect(out.rejectionReasons).toEqual([window.tooOld, window.tooNew]);
  });

  it('applies after the rules on ids and times, and before the lineage bounds', () => {
    const old = nsAt(NOW_MS - 40 * 86_400_000);
    const out = agreed(request([{ ...span([], old), traceId: Buffer.alloc(3) }, span([s('gen_ai.prompt.name', over)], old)]), window);
    expect(out.rejectionReasons).toEqual(['traceId must be 16 bytes and not all zero', window.tooOld]);
  });
});
