import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inherit, ownMaskOf } from '../../src/ingest/lineage-resolver.ts';
import type { ResolvedSpan } from '../../src/domain/stored-span.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import { attrToString, TextBytes, type AttrMap, type AttrValue, type DecodedSpan } from '../../src/domain/span.ts';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import { encodeSpanRows, nanosToDateTime64 } from '../../src/storage/clickhouse/span-rows.ts';
import { createSpan, newTraceId } from '../helpers/factories.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// Spans reach otel_traces as TabSeparated rows (src/storage/clickhouse/span-rows.ts). Every
// character a string can hold must come back as it went in: the row format's own separators and
// escapes (tab, newline, backslash, quote, "\N"), control characters, non-ASCII text, keys that are
// data ("__proto__"), and times from the epoch to the last one a DateTime64(9) holds.

const HOSTILE = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'back\\slash',
  "single'quote",
  'double"quote',
  '\\N',
  '\\',
  "'",
  'nul\u0000byte',
  '{"json":"with \\"escapes\\" and \\n"}',
  "{'looks':'like a map'}",
  "['looks','like an array']",
  'ünïcödé 日本語 🙂',
  '',
  ' ',
];

const resolvedOf = (span: DecodedSpan, registration?: string): ResolvedSpan => {
  const own = readOwnLineage(span);
  return { span, own, resolved: inherit(span.spanId, own, null), ownMask: ownMaskOf(own), revision: 0, ...(registration ? { registration } : {}) };
};

let dir: string;
let exec: ChdbExecutor;
let store: ClickHouseSpanStore;
beforeAll(async () => {
  dir = tempDataDir('span-rows-');
  exec = new ChdbExecutor(join(dir, 'clickhouse'));
  store = new ClickHouseSpanStore(exec);
  await store.migrate();
});
afterAll(async () => {
  await store.close();
  removeDir(dir);
});

describe('spans written as TabSeparated rows', () => {
  it('come back with every string exactly as it went in: names, attributes, keys, resource, events, status, lineage', async () => {
    const traceId = newTraceId();
    const attributes: Record<string, AttrValue> = {};
    HOSTILE.forEach((s, i) => {
      attributes[`v${i}`] = s;
      if (s !== '') attributes[`k${i}:${s}`] = `key ${i}`;
    });
    attributes['gen_ai.prompt.name'] = "it's\tthe\nprompt\\";
    attributes['gen_ai.prompt.version'] = 7;
    attributes['gen_ai.response.id'] = "resp\t'1'\n";
    attributes['promptline.dataset.ids'] = ["kb'1", 'kb\t2', 'kb\\3'];
    const span = createSpan({
      traceId,
      name: "chat\t'gpt'\n\\",
      traceState: 'a=b\tc',
      statusCode: 2,
      statusMessage: "failed: 'x'\tat\nline\\2",
      attrs: attributes,
      resourceAttrs: { 'service.name': "svc\t'1'", 'service.version': 'v\\1\n' },
    });
    span.attributes.set('__proto__', 'data');
    span.events = [
      { timeUnixNano: 0n, name: "ev\t'0'", attributes: new Map<string, AttrValue>([['e\tk', 'e\nv'], ['q', "'"]]) },
      { timeUnixNano: 1n, name: 'ev1', attributes: new Map() },
    ];
    span.links = [{ traceId: newTraceId(), spanId: 'eee19b7ec3c1b174', traceState: "l\t'", attributes: new Map([['lk', 'l\nv']]) }];
    await (await store.stageSpans('default', [resolvedOf(span, "regis'tered")])).write('hostile-1');

    const [detail] = await store.getTraceDetail('default', traceId);
    expect(detail).toBeDefined();
    expect(detail!.spanName).toBe(span.name);
    expect(detail!.statusMessage).toBe(span.statusMessage);
    // Lookups answer only the statuses ingest writes; the column itself holds any string as sent.
    expect(detail!.registration).toBe('');
    const [stored] = await exec.query<{ r: string }>('SELECT PromptRegistration AS r FROM otel_traces WHERE TraceId = {traceId:String}', { traceId });
    expect(stored!.r).toBe("regis'tered");
    for (const [key, value] of span.attributes) expect(detail!.attributes.get(key), key).toBe(attrToString(value));
    expect(detail!.attributes.get('v0')).toBe('tab\there');
    expect(detail!.attributes.get('__proto__')).toBe('data');
    expect(detail!.attributes.size).toBe(span.attributes.size);
    expect(Object.fromEntries(detail!.resourceAttributes)).toEqual({ 'service.name': "svc\t'1'", 'service.version': 'v\\1\n' });
    expect(detail!.events.map((e) => [e.timestamp, e.name, Object.fromEntries(e.attributes)])).toEqual([
      ['1970-01-01T00:00:00.000000000Z', "ev\t'0'", { 'e\tk': 'e\nv', q: "'" }],
      ['1970-01-01T00:00:00.000000001Z', 'ev1', {}],
    ]);
    // Lineage as the normalizer read it (it trims values), stored and read back unchanged.
    const lineage = resolvedOf(span).resolved;
    expect(lineage.prompt?.name).toBe("it's\tthe\nprompt\\");
    expect(detail!.lineage.prompt).toEqual(lineage.prompt);
    expect(detail!.lineage.responseId).toBe(lineage.responseId);
    expect(detail!.lineage.datasetIds).toEqual(["kb'1", 'kb\t2', 'kb\\3']);
    expect(detail!.lineage.app).toEqual(lineage.app);
    expect(await store.findByResponseId('default', lineage.responseId)).toHaveLength(1);
  });

  it('keep times exact from the epoch to 2262, and durations', async () => {
    const traceId = newTraceId();
    const times = [0n, 1n, 999_999_999n, 1_000_000_000n, 1_732_530_000_123_456_789n, 9_223_372_036_854_775_807n];
    const spans = times.map((t, i) => createSpan({ traceId, spanId: `00000000000000${(i + 1).toString(16).padStart(2, '0')}`, startTimeUnixNano: t, endTimeUnixNano: t + (t < 9_000_000_000_000_000_000n ? 5n : 0n) }));
    await (await store.stageSpans('default', spans.map((s) => resolvedOf(s)))).write('times-1');
    const got = new Map((await store.getTraceDetail('default', traceId)).map((d) => [d.spanId, d]));
    for (const s of spans) {
      const d = got.get(s.spanId)!;
      expect(d.timestamp).toBe(nanosToDateTime64(s.startTimeUnixNano).replace(' ', 'T') + 'Z');
      expect(d.durationNs).toBe((s.endTimeUnixNano - s.startTimeUnixNano).toString());
    }
    expect(got.get('0000000000000001')!.timestamp).toBe('1970-01-01T00:00:00.000000000Z');
    expect(got.get('0000000000000006')!.timestamp).toBe('2262-04-11T23:47:16.854775807Z');
  });

  it('copy values kept as bytes (TextBytes) exactly as their text would be written, into rows of any size', async () => {
    // Each hostile string padded past the decoder's threshold, as the UTF-8 bytes of one body.
    const texts = HOSTILE.map((h, i) => `${i}:${h}|`.repeat(Math.ceil(900 / (h.length + 4))) + 'é日🙂');
    const body = Buffer.concat([Buffer.from('prefix'), ...texts.map((t) => Buffer.from(t, 'utf8'))]);
    let at = 6;
    const bytes = texts.map((t) => {
      const n = Buffer.byteLength(t, 'utf8');
      const b = new TextBytes(body, at, at + n);
      at += n;
      return b;
    });
    const traceId = newTraceId();
    const make = (asBytes: boolean, i: number) => {
      const value = (k: number): AttrValue => (asBytes ? bytes[k % bytes.length]! : texts[k % texts.length]!);
      const span = createSpan({ traceId, spanId: (i + 1).toString(16).padStart(16, '0'), startTimeUnixNano: 1_732_530_000_000_000_000n + BigInt(i), endTimeUnixNano: 1_732_530_001_000_000_000n, attrs: { 'gen_ai.request.model': 'gpt-4o', before: 'b' } });
      span.attributes.set('gen_ai.input.messages', value(i));
      span.attributes.set('after', "a'");
      span.attributes.set('gen_ai.output.messages', value(i + 1));
      span.events = [{ timeUnixNano: 5n, name: 'gen_ai.choice', attributes: new Map<string, AttrValue>([['message', value(i + 2)], ['index', 0]]) }];
      return resolvedOf(span);
    };
    // More rows than the writer's first guess holds (2 KB a row), so its buffer grows on the way.
    const count = 700;
    const asText = Array.from({ length: count }, (_, i) => make(false, i));
    const asBytes = Array.from({ length: count }, (_, i) => make(true, i));
    const rows = encodeSpanRows('default', asBytes);
    expect(rows.length).toBeGreaterThan(count * 2048);
    expect(rows.equals(encodeSpanRows('default', asText))).toBe(true);
    expect(rows.toString('utf8').split('\n')).toHaveLength(count + 1);

    await (await store.stageSpans('default', asBytes.slice(0, HOSTILE.length))).write('text-bytes-1');
    const got = new Map((await store.getTraceDetail('default', traceId)).map((d) => [d.spanId, d]));
    expect(got.size).toBe(HOSTILE.length);
    for (const r of asText.slice(0, HOSTILE.length)) {
      const d = got.get(r.span.spanId)!;
      const attrs = (m: AttrMap) => Object.fromEntries([...m].map(([k, v]) => [k, attrToString(v)]));
      expect(Object.fromEntries(d.attributes)).toEqual(attrs(r.span.attributes));
      expect(Object.fromEntries(d.events[0]!.attributes)).toEqual(attrs(r.span.events[0]!.attributes));
    }
  });

  it('are one line each, whatever the strings hold', () => {
    const spans = HOSTILE.map((s) => resolvedOf(createSpan({ name: s, attrs: { a: s } })));
    const text = encodeSpanRows('default', spans).toString('utf8');
    expect(text.split('\n')).toHaveLength(spans.length + 1);
    for (const line of text.split('\n').slice(0, -1)) expect(line.split('\t')).toHaveLength(38);
  });
});
