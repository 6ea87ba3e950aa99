import { otlpRoot } from '../../src/ingest/otlp/otlp-definitions.ts';
import { OTLP_LIMITS, TRUNCATION_MARK } from '../../src/ingest/otlp/limits.ts';
import { isUtf8 } from 'node:buffer';
import { TextBytes, type AttrMap, type AttrValue, type DecodedExport } from '../../src/domain/span.ts';

// A deterministic fuzzer for OTLP export requests: realistic payloads (GenAI spans with arrays,
// key-value lists, events and links), encoded as OTLP/JSON and OTLP/protobuf, and mutations of
// them driven by a seeded PRNG, so a failing case is reproduced by its seed and index alone.

// ---------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a 32-bit seeded PRNG, good enough to drive a fuzzer and tiny. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** Lower-case hex of `bytes` random bytes, never all zero. */
  hexId(bytes: number): string {
    const b = this.bytes(bytes);
    b[0] = b[0]! | 1;
    return Buffer.from(b).toString('hex');
  }
}

// ---------------------------------------------------------------------------------------------
// Realistic payloads (OTLP/JSON objects: hex ids, int64 as strings, bytes as base64)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const s = (key: string, value: string): Json => ({ key, value: { stringValue: value } });
const i = (key: string, value: number | string): Json => ({ key, value: { intValue: String(value) } });
const d = (key: string, value: number): Json => ({ key, value: { doubleValue: value } });
const b = (key: string, value: boolean): Json => ({ key, value: { boolValue: value } });
const arr = (key: string, values: Json[]): Json => ({ key, value: { arrayValue: { values } } });
const kvl = (key: string, values: Json[]): Json => ({ key, value: { kvlistValue: { values } } });

const T0 = 1_732_530_000_123_456_789n;

/** One export request of a support agent: an agent step, an LLM call under it and a tool call. */
function realisticExport(rng: Rng, variant: number): Json {
  const traceId = rng.hexId(16);
  const root = rng.hexId(8);
  const llm = rng.hexId(8);
  const tool = rng.hexId(8);
  const t = (ms: number) => (T0 + BigInt(ms) * 1_000_000n).toString();
  const question = variant % 2 === 0 ? 'Where is order 4711? It was due on Monday.' : 'Wo ist Bestellung 4711? 注文はどこですか 🧾 — שלום';
  const messages = arr('gen_ai.input.messages', [
    { kvlistValue: { values: [s('role', 'system'), s('content', 'You are the support agent of Books & Co.')] } },
    { kvlistValue: { values: [s('role', 'user'), s('content', question)] } },
  ]);
  const spans: Json[] = [
    {
      traceId,
      spanId: root,
      name: 'invoke_agent support',
      kind: 1,
      startTimeUnixNano: t(0),
      endTimeUnixNano: t(1900),
      attributes: [
        s('gen_ai.operation.name', 'invoke_agent'),
        s('gen_ai.agent.name', 'support-agent'),
        s('gen_ai.prompt.name', 'support-answer'),
        i('gen_ai.prompt.version', 7),
        s('promptline.prompt.alias', 'production'),
        arr('promptline.dataset.ids', [{ stringValue: 'faq-2024-11' }, { stringValue: 'orders-kb' }]),
        s('gen_ai.conversation.id', `conv-${rng.hexId(4)}`),
      ],
      events: [],
      links: [],
      status: { code: 1 },
    },
    {
      traceId,
      spanId: llm,
      parentSpanId: root,
      name: 'chat gpt-4o',
      kind: 3,
      startTimeUnixNano: t(100),
      endTimeUnixNano: t(1350),
      attributes: [
        s('gen_ai.system', 'openai'),
        s('gen_ai.request.model', 'gpt-4o'),
        s('gen_ai.response.model', 'gpt-4o-2024-08-06'),
        s('gen_ai.response.id', `chatcmpl-${rng.hexId(12)}`),
        i('gen_ai.usage.input_tokens', 812),
        i('gen_ai.usage.output_tokens', 164),
        i('big.signed', '-9223372036854775808'),
        d('gen_ai.request.temperature', 0.2),
        d('gen_ai.request.top_p', 1),
        b('gen_ai.request.stream', false),
        arr('gen_ai.request.stop_sequences', [{ stringValue: '\n\nUser:' }, { stringValue: 'END' }]),
        arr('gen_ai.response.finish_reasons', [{ stringValue: 'stop' }]),
        arr('mixed', [{ intValue: '1' }, { doubleValue: 2.5 }, { boolValue: true }, { arrayValue: { values: [{ stringValue: 'nested' }] } }]),
        messages,
        kvl('gen_ai.request.metadata', [s('user', 'u-193'), kvl('ab', [s('arm', 'b'), i('bucket', 42)]), arr('tags', [{ stringValue: 'vip' }])]),
        { key: 'gen_ai.request.seed_bytes', value: { bytesValue: Buffer.from(rng.bytes(12)).toString('base64') } },
        s('promptline.prompt.hash', rng.hexId(32)),
      ],
      events: [
        { timeUnixNano: t(120), name: 'gen_ai.user.message', attributes: [s('content', question), i('index', 0)] },
        { timeUnixNano: t(1340), name: 'gen_ai.choice', attributes: [s('finish_reason', 'stop'), kvl('message', [s('role', 'assistant'), s('content', 'It ships tomorrow.')])] },
      ],
      links: [{ traceId: rng.hexId(16), spanId: rng.hexId(8), traceState: 'vendor=a:1', attributes: [s('link.kind', 'retry-of')] }],
      status: { code: 0, message: '' },
    },
    {
      traceId,
      spanId: tool,
      parentSpanId: root,
      name: 'execute_tool order_lookup',
      kind: 1,
      startTimeUnixNano: t(1400),
      endTimeUnixNano: t(1850),
      attributes: [s('gen_ai.tool.name', 'order_lookup'), s('gen_ai.tool.call.id', `call_${rng.hexId(6)}`), arr('empty', [])],
      events: [{ timeUnixNano: t(1800), name: 'exception', attributes: [s('exception.type', 'TimeoutError'), s('exception.message', 'upstream took 30 s')] }],
      links: [],
      status: { code: 2, message: 'order service timed out' },
    },
  ];
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            s('service.name', 'support-bot'),
            s('service.version', `1.4.${variant}`),
            s('telemetry.sdk.language', 'python'),
            i('process.pid', 4242),
            arr('host.ips', [{ stringValue: '10.0.0.7' }, { stringValue: 'fe80::1' }]),
          ],
        },
        scopeSpans: [{ scope: { name: 'opentelemetry.instrumentation.openai', version: '0.48.0' }, spans: variant % 3 === 2 ? spans.slice(1) : spans }],
      },
      ...(variant % 2 === 1
        ? [{ resource: { attributes: [s('service.name', 'order-service')] }, scopeSpans: [{ scope: { name: 'http' }, spans: [{ traceId, spanId: rng.hexId(8), parentSpanId: tool, name: 'GET /orders', kind: 2, startTimeUnixNano: t(1410), endTimeUnixNano: t(1840), attributes: [i('http.response.status_code', 504)] }] }] }]
        : []),
    ],
  };
}

const ExportTraceServiceRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const HEX_ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

function protobufObject(v: unknown, key = ''): unknown {
  if (typeof v === 'string' && HEX_ID_FIELDS.has(key)) return Buffer.from(v, 'hex');
  if (Array.isArray(v)) return v.map((x) => protobufObject(x));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[k] = protobufObject(val, k);
    return out;
  }
  return v; // int64 strings and base64 bytes are read by fromObject as they are
}

/** An OTLP/JSON export request as OTLP/protobuf bytes (the repo's descriptor, checked by verify). */
export function encodeProtobuf(req: unknown): Uint8Array {
  const message = ExportTraceServiceRequest.fromObject(protobufObject(req) as Record<string, unknown>);
  const problem = ExportTraceServiceRequest.verify(message);
  if (problem) throw new Error(`fuzz seed payload is not a valid ExportTraceServiceRequest: ${problem}`);
  return ExportTraceServiceRequest.encode(message).finish();
}

export interface Seeds {
  json: string[];
  protobuf: Uint8Array[];
}

export function seedPayloads(seed: number, count = 4): Seeds {
  const rng = new Rng(seed);
  const objs = Array.from({ length: count }, (_, v) => realisticExport(rng, v));
  return { json: objs.map((o) => JSON.stringify(o)), protobuf: objs.map(encodeProtobuf) };
}

// ---------------------------------------------------------------------------------------------
// Byte mutations (both encodings)

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x0a, 0x08, 0x12, 0x1a, 0x22, 0x5c, 0x7b, 0x5b, 0x2c, 0x3a, 0xc0, 0xed];

/** Byte sequences that are not UTF-8: stray continuation, overlong, surrogate halves, truncated. */
const INVALID_UTF8: readonly number[][] = [[0xff], [0xfe, 0xff], [0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]];

function splice(b: Uint8Array, at: number, remove: number, insert: ArrayLike<number> = []): Uint8Array {
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at), 0);
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

type ByteMutation = (rng: Rng, b: Uint8Array, seeds: readonly Uint8Array[]) => [Uint8Array, string];

const byteMutations: Record<string, ByteMutation> = {
  flipBits(rng, b) {
    const out = new Uint8Array(b);
    const n = rng.between(1, 8);
    for (let k = 0; k < n && out.length > 0; k++) {
      const at = rng.int(out.length);
      out[at] = out[at]! ^ (1 << rng.int(8));
    }
    return [out, `flip ${n} bit(s)`];
  },
  setByte(rng, b) {
    const out = new Uint8Array(b);
    const at = rng.int(Math.max(out.length, 1));
    const v = rng.pick(INTERESTING_BYTES);
    if (out.length > 0) out[at] = v;
    return [out, `set byte ${at} to 0x${v.toString(16)}`];
  },
  insertBytes(rng, b) {
    const at = rng.int(b.length + 1);
    const ins = rng.chance(0.5) ? rng.bytes(rng.between(1, 8)) : Uint8Array.from(Array.from({ length: rng.between(1, 4) }, () => rng.pick(INTERESTING_BYTES)));
    return [splice(b, at, 0, ins), `insert ${ins.length} byte(s) at ${at}`];
  },
  insertInvalidUtf8(rng, b) {
    // Right after a quote or inside a protobuf string: often lands in a string value.
    const quotes: number[] = [];
    for (let k = 0; k < b.length; k++) if (b[k] === 0x22 || (b[k]! >= 0x61 && b[k]! <= 0x7a && rng.chance(0.02))) quotes.push(k + 1);
    const at = quotes.length > 0 && rng.chance(0.8) ? rng.pick(quotes) : rng.int(b.length + 1);
    const seq = rng.pick(INVALID_UTF8);
    return [splice(b, at, 0, seq), `insert invalid UTF-8 ${Buffer.from(seq).toString('hex')} at ${at}`];
  },
  overwriteInvalidUtf8(rng, b) {
    // Same length, so protobuf lengths stay right and only the string content is bad.
    const seq = rng.pick(INVALID_UTF8);
    const at = rng.int(Math.max(b.length - seq.length, 1));
    const out = new Uint8Array(b);
    for (let k = 0; k < seq.length && at + k < out.length; k++) out[at + k] = seq[k]!;
    return [out, `overwrite invalid UTF-8 ${Buffer.from(seq).toString('hex')} at ${at}`];
  },
  deleteBytes(rng, b) {
    const at = rng.int(b.length + 1);
    const n = Math.min(rng.between(1, rng.chance(0.8) ? 8 : 256), b.length - at);
    return [splice(b, at, n), `delete ${n} byte(s) at ${at}`];
  },
  truncate(rng, b) {
    const at = rng.int(b.length + 1);
    return [b.slice(0, at), `truncate to ${at} byte(s)`];
  },
  duplicateSlice(rng, b) {
    const from = rng.int(b.length + 1);
    const len = Math.min(rng.between(1, 512), b.length - from);
    const times = rng.chance(0.2) ? rng.between(2, 200) : 1;
    const slice = b.subarray(from, from + len);
    const ins = new Uint8Array(len * times);
    for (let k = 0; k < times; k++) ins.set(slice, k * len);
    const at = rng.int(b.length + 1);
    return [splice(b, at, 0, ins), `duplicate ${len} byte(s) from ${from} ${times}x at ${at}`];
  },
  crossover(rng, b, seeds) {
    const other = rng.pick(seeds);
    const from = rng.int(other.length + 1);
    const len = Math.min(rng.between(1, 1024), other.length - from);
    const at = rng.int(b.length + 1);
    const remove = Math.min(rng.int(len + 1), b.length - at);
    return [splice(b, at, remove, other.subarray(from, from + len)), `splice ${len} byte(s) of another payload at ${at}`];
  },
};

// ---------------------------------------------------------------------------------------------
// Protobuf: length fields set huge

function readVarint(b: Uint8Array, p: number, end: number): { value: bigint; next: number } | null {
  let value = 0n;
  for (let shift = 0n, k = p; k < end && shift < 70n; k++, shift += 7n) {
    value |= BigInt(b[k]! & 0x7f) << shift;
    if ((b[k]! & 0x80) === 0) return { value, next: k + 1 };
  }
  return null;
}

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

interface LengthField {
  /** Offset of the length varint. */
  at: number;
  /** Bytes the varint takes. */
  size: number;
  length: number;
}

/** The length-delimited fields of a protobuf message, nested ones included (where they parse). */
function lengthFields(buf: Uint8Array): LengthField[] {
  const walk = (start: number, end: number, depth: number): LengthField[] | null => {
    const found: LengthField[] = [];
    let p = start;
    while (p < end) {
      const tag = readVarint(buf, p, end);
      if (!tag || tag.value >> 3n === 0n) return null;
      p = tag.next;
      const wire = Number(tag.value & 7n);
      if (wire === 0) {
        const v = readVarint(buf, p, end);
        if (!v) return null;
        p = v.next;
      } else if (wire === 1) p += 8;
      else if (wire === 5) p += 4;
      else if (wire === 2) {
        const l = readVarint(buf, p, end);
        if (!l || l.next + Number(l.value) > end) return null;
        const len = Number(l.value);
        found.push({ at: p, size: l.next - p, length: len });
        if (depth < 24 && len > 0) for (const f of walk(l.next, l.next + len, depth + 1) ?? []) found.push(f);
        p = l.next + len;
      } else return null;
      if (p > end) return null;
    }
    return found;
  };
  return walk(0, buf.length, 0) ?? [];
}

const HUGE_LENGTHS: readonly bigint[] = [2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 0x0fffffffn, 20n * 1024n * 1024n + 1n];

function setLengthField(rng: Rng, b: Uint8Array): [Uint8Array, string] {
  const fields = lengthFields(b);
  if (fields.length === 0) return byteMutations.flipBits!(rng, b, []);
  const f = rng.pick(fields);
  const choice = rng.int(4);
  const value = choice === 0 ? BigInt(f.length + rng.between(1, 16)) : choice === 1 ? BigInt(Math.max(0, f.length - rng.between(1, 16))) : rng.pick(HUGE_LENGTHS);
  return [splice(b, f.at, f.size, varint(value)), `length field at ${f.at} (${f.length}) set to ${value}`];
}

function changeWireType(rng: Rng, b: Uint8Array): [Uint8Array, string] {
  const fields = lengthFields(b);
  if (fields.length === 0) return byteMutations.setByte!(rng, b, []);
  const f = rng.pick(fields);
  // The tag is the byte(s) before the length; its low three bits are the wire type.
  const tagAt = f.at - 1;
  const out = new Uint8Array(b);
  const wire = rng.pick([0, 1, 3, 4, 5, 6, 7]);
  if (tagAt >= 0) out[tagAt] = (out[tagAt]! & ~7) | wire;
  return [out, `wire type of the field before ${f.at} set to ${wire}`];
}

// Protobuf: structural mutations on the wire tree (fields kept well-formed, lengths recomputed)

interface WireField {
  field: number;
  wire: number;
  /** Varint and fixed values. */
  int?: bigint;
  /** Length-delimited content, as bytes... */
  bytes?: Uint8Array;
  /** ...and as fields, where the content parses as a message. */
  children?: WireField[];
}

function parseWire(buf: Uint8Array, start: number, end: number, depth: number): WireField[] | null {
  const fields: WireField[] = [];
  let p = start;
  while (p < end) {
    const tag = readVarint(buf, p, end);
    if (!tag || tag.value >> 3n === 0n || tag.value >> 3n > 536_870_911n) return null;
    p = tag.next;
    const field = Number(tag.value >> 3n);
    const wire = Number(tag.value & 7n);
    if (wire === 0) {
      const v = readVarint(buf, p, end);
      if (!v) return null;
      fields.push({ field, wire, int: v.value });
      p = v.next;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (p + n > end) return null;
      let int = 0n;
      for (let k = n - 1; k >= 0; k--) int = (int << 8n) | BigInt(buf[p + k]!);
      fields.push({ field, wire, int });
      p += n;
    } else if (wire === 2) {
      const l = readVarint(buf, p, end);
      if (!l || l.next + Number(l.value) > end) return null;
      const bytes = buf.slice(l.next, l.next + Number(l.value));
      const children = depth < 24 && bytes.length > 0 ? parseWire(bytes, 0, bytes.length, depth + 1) : null;
      fields.push({ field, wire, bytes, ...(children ? { children } : {}) });
      p = l.next + Number(l.value);
    } else return null;
  }
  return fields;
}

function encodeWire(fields: readonly WireField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    parts.push(Uint8Array.from(varint((BigInt(f.field) << 3n) | BigInt(f.wire))));
    if (f.wire === 0) parts.push(Uint8Array.from(varint(f.int!)));
    else if (f.wire === 1 || f.wire === 5) {
      const n = f.wire === 1 ? 8 : 4;
      const out = new Uint8Array(n);
      let v = BigInt.asUintN(n * 8, f.int!);
      for (let k = 0; k < n; k++, v >>= 8n) out[k] = Number(v & 0xffn);
      parts.push(out);
    } else {
      const content = f.children ? encodeWire(f.children) : f.bytes!;
      parts.push(Uint8Array.from(varint(BigInt(content.length))), content);
    }
  }
  return Buffer.concat(parts);
}

function allFields(fields: WireField[], into: Array<{ list: WireField[]; index: number }> = []): Array<{ list: WireField[]; index: number }> {
  fields.forEach((f, index) => {
    into.push({ list: fields, index });
    if (f.children) allFields(f.children, into);
  });
  return into;
}

const EXTREME_INTS: readonly bigint[] = [0n, 1n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 9_223_372_036_854_775_807n, 9_223_372_036_854_775_808n];

/** Mutates the message tree: fields duplicated, dropped, moved, set to extreme or odd values. */
function wireMutation(rng: Rng, b: Uint8Array): [Uint8Array, string] {
  const tree = parseWire(b, 0, b.length, 0);
  if (!tree || tree.length === 0) return byteMutations.flipBits!(rng, b, []);
  const all = allFields(tree);
  const { list, index } = rng.pick(all);
  const f = list[index]!;
  const r = rng.int(100);
  let op: string;
  if (r < 20) {
    const times = rng.pick([2, 3, 1025, 10_000]);
    const copies = Array.from({ length: times - 1 }, () => f);
    if (encodeWire([f]).length * times > 8 * 1024 * 1024) return [b, 'no-op (too big to repeat)'];
    list.splice(index + 1, 0, ...copies);
    op = `repeat field ${f.field} ${times}x`;
  } else if (r < 35) {
    list.splice(index, 1);
    op = `drop field ${f.field}`;
  } else if (r < 55 && f.wire !== 2) {
    f.int = rng.pick(EXTREME_INTS);
    op = `field ${f.field} set to ${f.int}`;
  } else if (r < 75 && f.wire === 2) {
    const choice = rng.int(6);
    delete f.children;
    if (choice === 0) f.bytes = rng.bytes(rng.pick([0, 1, 7, 8, 9, 15, 16, 17, 32]));
    else if (choice === 1) f.bytes = Buffer.from('x'.repeat(OTLP_LIMITS.maxAttributeValueChars + rng.between(1, 5)));
    else if (choice === 2) f.bytes = Uint8Array.from([0x61, ...rng.pick(INVALID_UTF8), 0x62]);
    else if (choice === 3) f.bytes = Buffer.from(rng.pick(ODD_STRINGS).toWellFormed());
    else if (choice === 4) f.bytes = new Uint8Array(0);
    else f.bytes = Buffer.from('\u202e🧪 \u0007 ' + rng.pick(['__proto__', 'constructor', "'); DROP TABLE otel_traces; --"]));
    op = `field ${f.field} content set to ${f.bytes.length} byte(s)`;
  } else if (r < 85) {
    const other = rng.pick(all);
    const moved = structuredClone(other.list[other.index]!); // a copy: it may be an ancestor of the place
    list.splice(index, 0, moved);
    op = `copy field ${moved.field} next to field ${f.field}`;
  } else {
    f.field = rng.pick([f.field + 1, 15, 99, 536_870_911, 1, 2]);
    op = `renumber a field to ${f.field}`;
  }
  return [encodeWire(tree), op];
}

export interface FuzzCase {
  body: Uint8Array;
  /** What was done to the seed payload, to reproduce and to read in a failure message. */
  ops: string[];
}

/** A mutated OTLP/protobuf export request: one to three stacked mutations of a seed payload. */
export function protobufCase(rng: Rng, seeds: Seeds): FuzzCase {
  const seedIndex = rng.int(seeds.protobuf.length);
  let body: Uint8Array = seeds.protobuf[seedIndex]!;
  const ops = [`protobuf seed ${seedIndex}`];
  const n = rng.chance(0.6) ? 1 : rng.between(2, 3);
  for (let k = 0; k < n; k++) {
    let op: string;
    const r = rng.int(100);
    if (r < 20) [body, op] = setLengthField(rng, body);
    else if (r < 26) [body, op] = changeWireType(rng, body);
    else if (r < 60) [body, op] = wireMutation(rng, body);
    else [body, op] = byteMutations[rng.pick(Object.keys(byteMutations))]!(rng, body, seeds.protobuf);
    ops.push(op);
  }
  return withinBodyLimit({ body, ops });
}

/** The receiver reads at most 20 MiB (413 beyond), so no decoder ever sees a longer body. */
function withinBodyLimit(c: FuzzCase): FuzzCase {
  if (c.body.length <= OTLP_LIMITS.maxBodyBytes) return c;
  return { body: c.body.subarray(0, OTLP_LIMITS.maxBodyBytes), ops: [...c.ops, `cut from ${c.body.length} to ${OTLP_LIMITS.maxBodyBytes} bytes`] };
}

// ---------------------------------------------------------------------------------------------
// JSON: structural mutations

/** JSON text that JSON.stringify cannot produce: out-of-range numbers, exponents, long integers. */
const RAW_NUMBERS = ['1e400', '-1e400', '1E+308', '-0', '0.0000000000000000000001', '123456789012345678901234567890', '18446744073709551616', '-9223372036854775809', '9223372036854775807', '1.5e-400', '4.9e-324'];

export function deepArrays(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

export function deepObjects(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** An OTLP AnyValue nested `depth` levels as arrays (or key-value lists). */
export function deepAnyValue(depth: number, kind: 'array' | 'kvlist'): string {
  const open = kind === 'array' ? '{"arrayValue":{"values":[' : '{"kvlistValue":{"values":[{"key":"k","value":';
  const close = kind === 'array' ? ']}}' : '}]}}';
  return open.repeat(depth) + '{"stringValue":"leaf"}' + close.repeat(depth);
}

/** An object with an own property of any name, "__proto__" included (never a prototype). */
function objWith(entries: Array<[string, Json]>): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

const ODD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'toJSON', '', '\ud800', 'a\udfffb', '🧪', 'resourceSpans', 'stringValue', 'arrayValue', 'kvlistValue', 'values', 'key', 'value'];
const ODD_STRINGS = ['', ' ', 'x', '\ud800', '\udfff', 'a\ud800b', '\udc00\ud800', '\ud83e', '🧪👩‍👩‍👧', '\u0000', '\u202e', 'NaN', 'Infinity', '-Infinity', '1e400', '0x10', '-1', '18446744073709551616', 'AAAA', '====', '5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174', '00000000000000000000000000000000', 'SPAN_KIND_SERVER', 'STATUS_CODE_ERROR'];

interface RawSlots {
  raws: string[];
}

function rawToken(slots: RawSlots, text: string): string {
  slots.raws.push(text);
  return `@@raw${slots.raws.length - 1}@@`;
}

/** A random JSON value, of any type, at most `depth` levels deep (raw text through `slots`). */
function randomJson(rng: Rng, slots: RawSlots, depth: number): Json {
  switch (rng.int(depth > 0 ? 12 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1, 1.5, -2.5, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, Number.MIN_VALUE, 3, 6, 42]);
    case 3:
      return rawToken(slots, rng.pick(RAW_NUMBERS));
    case 4:
      return rng.pick(ODD_STRINGS);
    case 5:
      // Past the attribute value limit, sometimes with a lone surrogate right at the cut.
      return rng.chance(0.5) ? 'x'.repeat(OTLP_LIMITS.maxAttributeValueChars + rng.between(1, 3)) : 'y'.repeat(OTLP_LIMITS.maxAttributeValueChars - 1) + '\ud83e\udd16\ud800';
    case 6:
      return [];
    case 7:
      return {};
    case 8:
      return Array.from({ length: rng.between(1, 3) }, () => randomJson(rng, slots, depth - 1));
    case 9:
      return objWith(Array.from({ length: rng.between(1, 3) }, () => [rng.pick(ODD_KEYS), randomJson(rng, slots, depth - 1)] as [string, Json]));
    case 10:
    {
      // An AnyValue whose field holds the wrong type.
      const field = rng.pick(['stringValue', 'intValue', 'doubleValue', 'boolValue', 'bytesValue', 'arrayValue', 'kvlistValue']);
      const inner = randomJson(rng, slots, depth - 1);
      if (field === 'arrayValue') return { arrayValue: { values: [inner] } };
      if (field === 'kvlistValue') return { kvlistValue: { values: [{ key: rng.pick(ODD_KEYS), value: inner }] } };
      return objWith([[field, inner]]);
    }
    default:
      return rawToken(slots, rng.pick([deepArrays(rng.pick([17, 1000, 100_000])), deepObjects(rng.pick([17, 1000, 100_000]))]));
  }
}

interface Slot {
  parent: Json[] | { [k: string]: Json };
  key: string | number;
}

/** Every place in a JSON tree a value sits (iteratively: trees may be deep). */
function slotsOf(root: Json): Slot[] {
  const out: Slot[] = [];
  const stack: Json[] = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (Array.isArray(v)) {
      v.forEach((x, k) => {
        out.push({ parent: v, key: k });
        stack.push(x);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        out.push({ parent: v, key: k });
        stack.push(v[k]!);
      }
    }
  }
  return out;
}

function setSlot(slot: Slot, value: Json): void {
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  else Object.defineProperty(slot.parent, slot.key, { value, enumerable: true, writable: true, configurable: true });
}

function getSlot(slot: Slot): Json {
  return Array.isArray(slot.parent) ? slot.parent[slot.key as number]! : slot.parent[slot.key as string]!;
}

function renameKey(obj: { [k: string]: Json }, from: string, to: string): void {
  const entries = Object.keys(obj).map((k) => [k === from ? to : k, obj[k]!] as [string, Json]);
  for (const k of Object.keys(obj)) delete obj[k];
  for (const [k, v] of entries) Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function structuralMutation(rng: Rng, tree: Json, slots: RawSlots): string {
  const places = slotsOf(tree);
  if (places.length === 0) return 'nothing to mutate';
  const slot = rng.pick(places);
  const r = rng.int(100);
  if (r < 55) {
    const v = randomJson(rng, slots, 2);
    setSlot(slot, v);
    const shown = (JSON.stringify(v) ?? '').replace(/"@@raw(\d+)@@"/g, (_m, k: string) => `${slots.raws[Number(k)]!.slice(0, 12)}…(${slots.raws[Number(k)]!.length} chars)`);
    return `replace ${String(slot.key)} with ${shown.slice(0, 80)}`;
  }
  if (r < 65) {
    if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
    else delete slot.parent[slot.key as string];
    return `delete ${String(slot.key)}`;
  }
  if (r < 77 && !Array.isArray(slot.parent)) {
    const to = rng.pick(ODD_KEYS);
    renameKey(slot.parent, slot.key as string, to);
    return `rename key ${String(slot.key)} to ${JSON.stringify(to)}`;
  }
  if (r < 85) {
    const v = getSlot(slot);
    // Past the 1024-item limits, but within a body the receiver would take (20 MiB).
    const text = JSON.stringify(v) ?? '';
    const times = text.length * 1100 < 4 * 1024 * 1024 && !text.includes('@@raw') ? rng.pick([2, 10, 1100]) : 2;
    // Copies, not one object many times: a later mutation changes one of them only.
    const copy = () => JSON.parse(text) as Json;
    if (Array.isArray(slot.parent)) {
      slot.parent.splice(slot.key as number, 0, ...Array.from({ length: times - 1 }, copy));
      return `repeat element ${String(slot.key)} ${times}x`;
    }
    setSlot(slot, Array.from({ length: times }, copy));
    return `wrap ${String(slot.key)} in a list of ${times}`;
  }
  if (r < 92) {
    const v = getSlot(slot);
    setSlot(slot, rng.chance(0.5) ? [v] : objWith([[rng.pick(ODD_KEYS), v]]));
    return `wrap ${String(slot.key)}`;
  }
  const deep = rng.pick(['arrays', 'objects', 'anyArray', 'anyKvlist'] as const);
  const depth = rng.pick([17, 1000, 100_000]);
  const text = deep === 'arrays' ? deepArrays(depth) : deep === 'objects' ? deepObjects(depth) : deepAnyValue(Math.min(depth, 20_000), deep === 'anyArray' ? 'array' : 'kvlist');
  setSlot(slot, rawToken(slots, text));
  return `replace ${String(slot.key)} with ${deep} nested ${depth} deep`;
}

function render(tree: Json, slots: RawSlots): string {
  let text = JSON.stringify(tree);
  slots.raws.forEach((raw, k) => {
    text = text.split(`"@@raw${k}@@"`).join(raw);
  });
  return text;
}

/** A mutated OTLP/JSON export request: structural mutations, byte mutations, or a deep body. */
export function jsonCase(rng: Rng, seeds: Seeds): FuzzCase {
  const seedIndex = rng.int(seeds.json.length);
  const seedText = seeds.json[seedIndex]!;
  const ops = [`json seed ${seedIndex}`];
  const r = rng.int(100);
  if (r < 4) {
    const depth = 100_000;
    const kind = rng.int(4);
    const text = kind === 0 ? deepArrays(depth) : kind === 1 ? deepObjects(depth) : kind === 2 ? `{"resourceSpans":${deepArrays(depth)}}` : `{"resourceSpans":[{"scopeSpans":[{"spans":[${deepObjects(depth)}]}]}]}`;
    ops.push(`a body nested ${depth} deep (${kind})`);
    return { body: Buffer.from(text), ops };
  }
  let body: Uint8Array;
  if (r < 60) {
    const tree = JSON.parse(seedText) as Json;
    const slots: RawSlots = { raws: [] };
    const n = rng.chance(0.6) ? 1 : rng.between(2, 4);
    for (let k = 0; k < n; k++) ops.push(structuralMutation(rng, tree, slots));
    body = Buffer.from(render(tree, slots));
    if (rng.chance(0.2)) {
      let op: string;
      [body, op] = byteMutations[rng.pick(Object.keys(byteMutations))]!(rng, body, seeds.json.map((t) => Buffer.from(t)));
      ops.push(op);
    }
    return withinBodyLimit({ body, ops });
  }
  body = Buffer.from(seedText);
  const n = rng.chance(0.6) ? 1 : rng.between(2, 3);
  for (let k = 0; k < n; k++) {
    let op: string;
    [body, op] = byteMutations[rng.pick(Object.keys(byteMutations))]!(rng, body, seeds.json.map((t) => Buffer.from(t)));
    ops.push(op);
  }
  return withinBodyLimit({ body, ops });
}

// ---------------------------------------------------------------------------------------------
// What every decoded export must be

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const MAX_VALUE_CHARS = OTLP_LIMITS.maxAttributeValueChars + TRUNCATION_MARK.length;
const MAX_KEY_CHARS = OTLP_LIMITS.maxAttributeKeyChars + TRUNCATION_MARK.length;

export interface Violation {
  path: string;
  problem: string;
  /** The offending string, where a string is the problem. */
  value?: string;
}

/**
 * Checks a DecodedExport: ids are lower-case hex of the right length, times are storable, every
 * string is well-formed, attribute values and keys are within the limits, and so are counts.
 */
export function violationsOf(out: DecodedExport): Violation[] {
  const v: Violation[] = [];
  const str = (path: string, x: unknown, max = Infinity) => {
    if (typeof x !== 'string') return v.push({ path, problem: `not a string: ${typeof x}` });
    if (!x.isWellFormed()) v.push({ path, problem: 'a string that is not well-formed (lone surrogate)', value: x });
    if (x.length > max) v.push({ path, problem: `${x.length} characters, over ${max}`, value: x });
  };
  const value = (path: string, x: AttrValue, depth: number): void => {
    if (depth > OTLP_LIMITS.maxValueDepth + 1) v.push({ path, problem: `nested ${depth} deep` });
    if (typeof x === 'string') str(path, x, MAX_VALUE_CHARS);
    else if (x instanceof TextBytes) {
      // Only a top-level value stays bytes, and only well-formed UTF-8 within the body.
      if (depth > 0) v.push({ path, problem: `bytes kept ${depth} deep` });
      if (x.start < 0 || x.end > x.body.length || x.start > x.end || !isUtf8(x.body.subarray(x.start, x.end))) v.push({ path, problem: 'bytes that are not well-formed UTF-8 of the body' });
      else str(path, x.toString(), MAX_VALUE_CHARS);
    } else if (Array.isArray(x)) {
      if (x.length > OTLP_LIMITS.maxAttributesPerItem) v.push({ path, problem: `a list of ${x.length}` });
      x.forEach((y, k) => value(`${path}[${k}]`, y, depth + 1));
    } else if (x instanceof Map) attrs(path, x, depth + 1);
    else if (x !== null && !['number', 'boolean', 'bigint'].includes(typeof x) && !(x instanceof Uint8Array)) v.push({ path, problem: `an attribute value of type ${typeof x}` });
  };
  const attrs = (path: string, m: AttrMap, depth = 0) => {
    if (!(m instanceof Map)) return v.push({ path, problem: 'attributes are not a Map' });
    if (m.size > OTLP_LIMITS.maxAttributesPerItem) v.push({ path, problem: `${m.size} attributes` });
    for (const [k, x] of m) {
      str(`${path} key`, k, MAX_KEY_CHARS);
      value(`${path}[${JSON.stringify(k)?.slice(0, 40)}]`, x, depth);
    }
  };
  if (!Array.isArray(out.spans)) return [{ path: 'spans', problem: 'not a list' }];
  if (!Number.isInteger(out.rejected) || out.rejected < 0) v.push({ path: 'rejected', problem: String(out.rejected) });
  out.spans.forEach((sp, n) => {
    const p = `spans[${n}]`;
    if (!HEX32.test(sp.traceId) || /^0+$/.test(sp.traceId)) v.push({ path: `${p}.traceId`, problem: JSON.stringify(sp.traceId) });
    if (!HEX16.test(sp.spanId) || /^0+$/.test(sp.spanId)) v.push({ path: `${p}.spanId`, problem: JSON.stringify(sp.spanId) });
    if (sp.parentSpanId !== '' && !HEX16.test(sp.parentSpanId)) v.push({ path: `${p}.parentSpanId`, problem: JSON.stringify(sp.parentSpanId) });
    for (const [what, t] of [['start', sp.startTimeUnixNano], ['end', sp.endTimeUnixNano]] as const) {
      if (typeof t !== 'bigint' || t < 0n || t > OTLP_LIMITS.maxTimeUnixNano) v.push({ path: `${p}.${what}`, problem: String(t) });
    }
    if (sp.endTimeUnixNano < sp.startTimeUnixNano) v.push({ path: `${p}.end`, problem: 'before the start' });
    if (!Number.isInteger(sp.kind) || !Number.isInteger(sp.statusCode)) v.push({ path: `${p}.kind/status`, problem: `${sp.kind}/${sp.statusCode}` });
    str(`${p}.name`, sp.name, MAX_KEY_CHARS);
    str(`${p}.traceState`, sp.traceState, MAX_KEY_CHARS);
    str(`${p}.statusMessage`, sp.statusMessage, MAX_VALUE_CHARS);
    str(`${p}.scope.name`, sp.scope.name, MAX_KEY_CHARS);
    str(`${p}.scope.version`, sp.scope.version, MAX_KEY_CHARS);
    attrs(`${p}.attributes`, sp.attributes);
    attrs(`${p}.resource`, sp.resource.attributes);
    if (sp.events.length > OTLP_LIMITS.maxEventsPerSpan) v.push({ path: `${p}.events`, problem: `${sp.events.length} events` });
    if (sp.links.length > OTLP_LIMITS.maxLinksPerSpan) v.push({ path: `${p}.links`, problem: `${sp.links.length} links` });
    sp.events.forEach((e, k) => {
      str(`${p}.events[${k}].name`, e.name, MAX_KEY_CHARS);
      if (typeof e.timeUnixNano !== 'bigint' || e.timeUnixNano < 0n || e.timeUnixNano > OTLP_LIMITS.maxTimeUnixNano) v.push({ path: `${p}.events[${k}].time`, problem: String(e.timeUnixNano) });
      attrs(`${p}.events[${k}].attributes`, e.attributes);
    });
    sp.links.forEach((l, k) => {
      if (l.traceId !== '' && !HEX32.test(l.traceId)) v.push({ path: `${p}.links[${k}].traceId`, problem: JSON.stringify(l.traceId) });
      if (l.spanId !== '' && !HEX16.test(l.spanId)) v.push({ path: `${p}.links[${k}].spanId`, problem: JSON.stringify(l.spanId) });
      str(`${p}.links[${k}].traceState`, l.traceState);
      attrs(`${p}.links[${k}].attributes`, l.attributes);
    });
  });
  return v;
}

// ---------------------------------------------------------------------------------------------
// Known decoder bug (see test/unit/otlp-fuzz.test.ts): a JSON doubleValue that is not a number

/**
 * What the JSON decoder makes of each `doubleValue` in a body that is not a JSON number: it calls
 * Number() and then String() on it, so an object with an own "toString" field throws a TypeError,
 * and a string comes back as it is (any length, lone surrogates kept). Walks iteratively.
 */
export function nonNumericDoubleValues(body: Uint8Array): { throws: boolean; strings: Set<string> } {
  const found = { throws: false, strings: new Set<string>() };
  let tree: unknown;
  try {
    tree = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return found;
  }
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const x = stack.pop();
    if (x === null || typeof x !== 'object') continue;
    if (Array.isArray(x)) {
      for (const y of x) stack.push(y);
      continue;
    }
    const o = x as Record<string, unknown>;
    if (Object.hasOwn(o, 'doubleValue') && typeof o.doubleValue !== 'number') {
      try {
        Number(o.doubleValue);
        found.strings.add(String(o.doubleValue));
      } catch {
        found.throws = true;
      }
    }
    for (const k of Object.keys(o)) stack.push(o[k]);
  }
  return found;
}
