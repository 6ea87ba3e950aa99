import { randomBytes } from 'node:crypto';
import Long from 'long';
import { otlpRoot } from '../src/ingest/otlp/otlp-definitions.ts';

// Realistic GenAI agent traces as OTLP protobuf.
//
// A trace is an agent run of 5–20 spans: an `invoke_agent` root carrying the prompt version, its
// alias, the datasets and the conversation; model calls (`chat …`) with the OpenTelemetry GenAI
// attributes, a response id and message content (system prompt, retrieved context, history and
// answer: a few KB); tool calls and retrievals under it. Spans of a trace are ordered as an SDK
// exports them: children end, and are exported, before their parent.
//
// A load generator cannot afford to build and encode protobuf for every request on a 2-core
// machine that also runs the server, so requests are made from templates: a template is encoded
// once, the byte offsets of its trace ids, span ids and response ids are found, and `stamp` writes
// fresh ids into a copy for each request (ids are fixed-width: 16 and 8 bytes, and response ids
// of a fixed number of hex digits). Every stamped request is then unique and can be traced back:
// its trace ids carry the run id and the request's sequence number.

const ExportRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
const int = (key: string, v: number) => ({ key, value: { intValue: Long.fromNumber(v) } });
const dbl = (key: string, v: number) => ({ key, value: { doubleValue: v } });
const strs = (key: string, v: string[]) => ({ key, value: { arrayValue: { values: v.map((s) => ({ stringValue: s })) } } });
const nanos = (ns: bigint) => Long.fromString(ns.toString(), true);

/** mulberry32: small, seeded, so that a template is the same from run to run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SENTENCES = [
  'The order was shipped from the central warehouse and handed to the regional carrier two days later.',
  'Refunds are issued to the original payment method within five business days of the return being scanned.',
  'A parcel marked "in transit" for more than seven days is investigated by the carrier on request.',
  'Customers in the loyalty programme may ask for a free replacement once per calendar year.',
  'Digital books are delivered to the account library immediately and cannot be returned once opened.',
  'The tracking page updates when the parcel is scanned at a depot; scans can lag by up to a day.',
  'Pre-orders are charged when the title ships, not when the order is placed.',
  'Gift cards never expire and can be combined with one promotional code per order.',
  'Damaged items are replaced without a return when the customer sends a photo of the damage.',
  'Orders to PO boxes are sent by the national postal service and take three to six business days.',
  'A replacement can be sent before the original parcel is returned when the carrier confirms the loss.',
  'Support agents must cite the order number and never promise a refund the policy does not allow.',
];
const QUESTIONS = [
  'My order 4711 has not arrived yet and the tracking page has said "in transit" for nine days. Can you check what is going on?',
  'I received the wrong edition of the book I ordered. How do I exchange it?',
  'Can I combine my gift card with the autumn discount code on one order?',
  'The parcel arrived with a torn cover. Do I have to send it back to get a new one?',
  'When will I be charged for the pre-order I placed yesterday?',
];
const SYSTEM_PROMPT =
  'You are the support assistant of an online bookshop. Answer briefly and politely, cite the order number, ' +
  'use only the knowledge base passages given to you, never promise refunds or replacements the policy does not allow, ' +
  'and hand over to a human agent when the customer asks for one or is upset. ';

const PROMPTS = [
  { name: 'support-answer', version: 7, alias: 'production' },
  { name: 'support-answer', version: 8, alias: 'canary' },
  { name: 'order-triage', version: 3, alias: 'production' },
  { name: 'refund-policy', version: 12, alias: 'production' },
];
const MODELS = [
  { provider: 'openai', request: 'gpt-4o', response: 'gpt-4o-2024-08-06' },
  { provider: 'openai', request: 'gpt-4o-mini', response: 'gpt-4o-mini-2024-07-18' },
  { provider: 'anthropic', request: 'claude-sonnet-4', response: 'claude-sonnet-4-20250514' },
];
const SERVICES = [
  { name: 'support-bot', version: '1.4.2' },
  { name: 'support-bot', version: '1.5.0' },
  { name: 'order-agent', version: '0.9.1' },
];
const TOOLS = ['lookup_order', 'carrier_status', 'issue_refund', 'search_kb'];

/** Hex digits of a stamped response id after its `chatcmpl-` prefix: run (8), request (8), trace (4), call (2). */
const RESPONSE_HEX = 22;

export interface Template {
  body: Buffer;
  spans: number;
  traces: number;
  /** Response ids per trace (the model calls), in stamp order. */
  responsesPerTrace: number[];
  service: { name: string; version: string };
  /** Offsets of each trace's id (16 bytes), by trace. */
  traceIdAt: number[][];
  /** Offsets of each span's id (8 bytes, as its own id and as its children's parent id), by trace then span. */
  spanIdAt: number[][][];
  /** Offsets of each response id's hex digits, by trace then call. */
  responseIdAt: number[][][];
}

interface SpanPlan {
  spanId: Buffer;
  parent: Buffer | null;
  obj: Record<string, unknown>;
}

/**
 * Builds one template request of about `spansPerRequest` spans in traces of 5–20 spans, ~2 KB a
 * span on average (model calls carry their messages; tool calls are small).
 */
export function buildTemplate(seed: number, spansPerRequest: number, nowNs = BigInt(Date.now()) * 1_000_000n): Template {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const service = SERVICES[seed % SERVICES.length]!;
  const spans: unknown[] = [];
  const traceIds: Buffer[] = [];
  const spanIds: Buffer[][] = [];
  const responsePlaceholders: string[][] = [];
  let total = 0;
  let t = 0;
  while (total < spansPerRequest) {
    const size = Math.min(5 + Math.floor(rnd() * 16), Math.max(5, spansPerRequest - total));
    const traceId = randomBytes(16);
    const prompt = pick(PROMPTS);
    const model = pick(MODELS);
    const start = nowNs - BigInt(Math.floor(rnd() * 60_000)) * 1_000_000n;
    const conversation = `conv-${Math.floor(rnd() * 100_000)}`;
    const question = pick(QUESTIONS);
    const plans: SpanPlan[] = [];
    const rootId = randomBytes(8);
    const placeholders: string[] = [];
    let clock = start + 2_000_000n;
    let history = '';
    for (let i = 1; i < size; i++) {
      const spanId = randomBytes(8);
      const s0 = clock;
      const kindRoll = i % 3;
      let obj: Record<string, unknown>;
      if (kindRoll !== 0) {
        // A model call: the messages it was sent (system prompt, retrieved passages, history) and its answer.
        const passages = Array.from({ length: 8 + Math.floor(rnd() * 12) }, () => pick(SENTENCES));
        const answer = `Order 4711: ${pick(SENTENCES)} ${pick(SENTENCES)}`;
        const input = JSON.stringify([
          { role: 'system', content: SYSTEM_PROMPT + passages.join(' ') },
          ...(history ? [{ role: 'assistant', content: history }] : []),
          { role: 'user', content: question },
        ]);
        const output = JSON.stringify([{ role: 'assistant', content: answer, finish_reason: 'stop' }]);
        history = answer;
        const placeholder = randomBytes(RESPONSE_HEX).toString('hex').slice(0, RESPONSE_HEX);
        placeholders.push(placeholder);
        const dur = BigInt(400 + Math.floor(rnd() * 2400)) * 1_000_000n;
        clock += dur + 1_000_000n;
        obj = {
          name: `chat ${model.request}`,
          kind: 3,
          startTimeUnixNano: nanos(s0),
          endTimeUnixNano: nanos(s0 + dur),
          attributes: [
            str('gen_ai.operation.name', 'chat'),
            str('gen_ai.provider.name', model.provider),
            str('gen_ai.request.model', model.request),
            str('gen_ai.response.model', model.response),
            str('gen_ai.response.id', `chatcmpl-${placeholder}`),
            dbl('gen_ai.request.temperature', 0.2),
            int('gen_ai.request.max_tokens', 1024),
            int('gen_ai.usage.input_tokens', 600 + Math.floor(rnd() * 1500)),
            int('gen_ai.usage.output_tokens', 40 + Math.floor(rnd() * 300)),
            strs('gen_ai.response.finish_reasons', ['stop']),
            str('gen_ai.input.messages', input),
            str('gen_ai.output.messages', output),
          ],
          status: { code: 0 },
        };
      } else {
        const tool = pick(TOOLS);
        const dur = BigInt(20 + Math.floor(rnd() * 300)) * 1_000_000n;
        clock += dur + 1_000_000n;
        obj = {
          name: `execute_tool ${tool}`,
          kind: 1,
          startTimeUnixNano: nanos(s0),
          endTimeUnixNano: nanos(s0 + dur),
          attributes: [
            str('gen_ai.operation.name', 'execute_tool'),
            str('gen_ai.tool.name', tool),
            str('gen_ai.tool.call.id', `call_${randomBytes(6).toString('hex')}`),
            str('gen_ai.tool.call.arguments', '{"order":"4711","include_history":true}'),
            str('gen_ai.tool.call.result', '{"status":"in_transit","depot":"regional","last_scan":"2026-11-16T08:12:00Z"}'),
          ],
          status: rnd() < 0.03 ? { code: 2, message: 'carrier API timed out' } : { code: 0 },
        };
      }
      plans.push({ spanId, parent: rootId, obj });
    }
    // The root ends last and is exported last.
    plans.push({
      spanId: rootId,
      parent: null,
      obj: {
        name: 'invoke_agent support',
        kind: 1,
        startTimeUnixNano: nanos(start),
        endTimeUnixNano: nanos(clock + 1_000_000n),
        attributes: [
          str('gen_ai.operation.name', 'invoke_agent'),
          str('gen_ai.agent.name', 'support'),
          str('gen_ai.prompt.name', prompt.name),
          int('gen_ai.prompt.version', prompt.version),
          str('promptline.prompt.alias', prompt.alias),
          strs('promptline.dataset.ids', ['kb-2026-11', 'policies-v4']),
          str('gen_ai.conversation.id', conversation),
          str('user.id', `user-${Math.floor(rnd() * 50_000)}`),
        ],
        status: { code: 0 },
      },
    });
    for (const p of plans) {
      spans.push({ traceId, spanId: p.spanId, ...(p.parent ? { parentSpanId: p.parent } : {}), ...p.obj });
    }
    traceIds.push(traceId);
    spanIds.push(plans.map((p) => p.spanId));
    responsePlaceholders.push(placeholders);
    total += size;
    t++;
  }
  const body = Buffer.from(
    ExportRequest.encode(
      ExportRequest.fromObject({
        resourceSpans: [
          {
            resource: {
              attributes: [
                str('service.name', service.name),
                str('service.version', service.version),
                str('deployment.environment.name', 'production'),
                str('telemetry.sdk.language', 'nodejs'),
                str('telemetry.sdk.name', 'opentelemetry'),
                str('telemetry.sdk.version', '2.2.0'),
              ],
            },
            scopeSpans: [{ scope: { name: '@promptline/instrumentation', version: '0.1.0' }, spans }],
          },
        ],
      }),
    ).finish(),
  );
  const all = (needle: Buffer) => {
    const at: number[] = [];
    for (let i = body.indexOf(needle); i >= 0; i = body.indexOf(needle, i + 1)) at.push(i);
    return at;
  };
  return {
    body,
    spans: total,
    traces: t,
    responsesPerTrace: responsePlaceholders.map((p) => p.length),
    service,
    traceIdAt: traceIds.map((id) => all(id)),
    spanIdAt: spanIds.map((ids) => ids.map((id) => all(id))),
    responseIdAt: responsePlaceholders.map((ps) => ps.map((p) => all(Buffer.from(p, 'latin1')))),
  };
}

/** The trace id a stamped request gives trace `trace`: run id (8 bytes), request number, trace number. */
function stampedTraceId(run: Buffer, seq: number, trace: number): Buffer {
  const id = Buffer.allocUnsafe(16);
  run.copy(id, 0, 0, 8);
  id.writeUInt32BE(seq >>> 0, 8);
  id.writeUInt32BE(trace >>> 0, 12);
  return id;
}

/** The response id of model call `call` in trace `trace` of request `seq`. */
export function stampedResponseId(run: Buffer, seq: number, trace: number, call: number): string {
  return `chatcmpl-${run.toString('hex', 0, 4)}${(seq >>> 0).toString(16).padStart(8, '0')}${(trace & 0xffff).toString(16).padStart(4, '0')}${(call & 0xff).toString(16).padStart(2, '0')}`;
}

/** A copy of the template with fresh ids for request `seq` of run `run` (8 bytes). */
export function stamp(t: Template, run: Buffer, seq: number): Buffer {
  const out = Buffer.allocUnsafe(t.body.length);
  t.body.copy(out);
  for (let tr = 0; tr < t.traces; tr++) {
    const traceId = stampedTraceId(run, seq, tr);
    for (const at of t.traceIdAt[tr]!) traceId.copy(out, at);
    const ids = t.spanIdAt[tr]!;
    for (let s = 0; s < ids.length; s++) {
      // Span ids: request number, trace number, span number — unique in the trace and the run.
      const word = ((tr & 0xffff) << 16) | (s & 0xffff);
      for (const at of ids[s]!) {
        out.writeUInt32BE(seq >>> 0, at);
        out.writeUInt32BE(word >>> 0, at + 4);
      }
    }
    const calls = t.responseIdAt[tr]!;
    for (let c = 0; c < calls.length; c++) {
      const hex = stampedResponseId(run, seq, tr, c).slice('chatcmpl-'.length);
      for (const at of calls[c]!) out.write(hex, at, 'latin1');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Simple builders, kept for bench/quick-e2e.ts.

const MESSAGES = JSON.stringify([
  { role: 'system', content: SYSTEM_PROMPT.repeat(2) },
  { role: 'user', content: QUESTIONS[0] },
]);
const OUTPUT = JSON.stringify([{ role: 'assistant', content: 'I checked order 4711: the parcel is held at the regional depot after a scanning error. I have asked the carrier to release it today.' }]);

export interface TraceShape {
  spansPerTrace: number;
  promptName: string;
  promptVersion: number;
}

export function buildSpans(traceCount: number, shape: TraceShape, nowNs = BigInt(Date.now()) * 1_000_000n) {
  const spans: unknown[] = [];
  const responseIds: string[] = [];
  for (let t = 0; t < traceCount; t++) {
    const traceId = randomBytes(16);
    const rootId = randomBytes(8);
    const start = nowNs + BigInt(t) * 1000n;
    spans.push({
      traceId,
      spanId: rootId,
      name: 'invoke_agent support',
      kind: 1,
      startTimeUnixNano: nanos(start),
      endTimeUnixNano: nanos(start + 4_000_000_000n),
      attributes: [
        str('gen_ai.operation.name', 'invoke_agent'),
        str('gen_ai.prompt.name', shape.promptName),
        int('gen_ai.prompt.version', shape.promptVersion),
        str('promptline.prompt.alias', 'production'),
        strs('promptline.dataset.ids', ['kb-2026-11']),
        str('gen_ai.conversation.id', `conv-${t % 997}`),
      ],
    });
    for (let i = 1; i < shape.spansPerTrace; i++) {
      const isLlm = i % 2 === 1;
      const responseId = `chatcmpl-${traceId.toString('hex').slice(0, 12)}-${i}`;
      if (isLlm) responseIds.push(responseId);
      spans.push({
        traceId,
        spanId: randomBytes(8),
        parentSpanId: rootId,
        name: isLlm ? 'chat gpt-4o' : 'execute_tool lookup_order',
        kind: isLlm ? 3 : 1,
        startTimeUnixNano: nanos(start + BigInt(i) * 1_000_000n),
        endTimeUnixNano: nanos(start + BigInt(i) * 1_000_000n + 800_000_000n),
        attributes: isLlm
          ? [
              str('gen_ai.operation.name', 'chat'),
              str('gen_ai.provider.name', 'openai'),
              str('gen_ai.request.model', 'gpt-4o'),
              str('gen_ai.response.model', 'gpt-4o-2024-08-06'),
              str('gen_ai.response.id', responseId),
              int('gen_ai.usage.input_tokens', 812),
              int('gen_ai.usage.output_tokens', 164),
              str('gen_ai.input.messages', MESSAGES),
              str('gen_ai.output.messages', OUTPUT),
            ]
          : [str('gen_ai.operation.name', 'execute_tool'), str('gen_ai.tool.name', 'lookup_order'), str('gen_ai.tool.call.arguments', '{"order":4711}')],
      });
    }
  }
  return { spans, responseIds };
}

export function encodeRequest(spans: unknown[], service = { name: 'support-bot', version: '1.4.2' }): Uint8Array {
  return ExportRequest.encode(
    ExportRequest.fromObject({
      resourceSpans: [
        {
          resource: { attributes: [str('service.name', service.name), str('service.version', service.version), str('telemetry.sdk.language', 'nodejs')] },
          scopeSpans: [{ scope: { name: 'promptline-bench', version: '1' }, spans }],
        },
      ],
    }),
  ).finish();
}
