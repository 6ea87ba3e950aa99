import { randomBytes } from 'node:crypto';
import Long from 'long';
import { otlpRoot } from '../collector/otlp/decode-protobuf.ts';

// Realistic GenAI agent traces as OTLP protobuf: an agent step carrying the prompt version and
// datasets, model calls with message content (~2 KB a span), tool calls under them.

const ExportRequest = otlpRoot.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
const int = (key: string, v: number) => ({ key, value: { intValue: Long.fromNumber(v) } });

const MESSAGES = JSON.stringify([
  { role: 'system', content: 'You are the support assistant of an online bookshop. Answer briefly, cite the order, never promise refunds you cannot give. '.repeat(4) },
  { role: 'user', content: 'My order 4711 has not arrived yet and the tracking page has said "in transit" for nine days. Can you check what is going on and whether I can get a replacement?' },
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
      startTimeUnixNano: Long.fromString(start.toString(), true),
      endTimeUnixNano: Long.fromString((start + 4_000_000_000n).toString(), true),
      attributes: [
        str('gen_ai.operation.name', 'invoke_agent'),
        str('gen_ai.prompt.name', shape.promptName),
        int('gen_ai.prompt.version', shape.promptVersion),
        str('promptline.prompt.alias', 'production'),
        { key: 'promptline.dataset.ids', value: { arrayValue: { values: [{ stringValue: 'kb-2026-11' }] } } },
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
        startTimeUnixNano: Long.fromString((start + BigInt(i) * 1_000_000n).toString(), true),
        endTimeUnixNano: Long.fromString((start + BigInt(i) * 1_000_000n + 800_000_000n).toString(), true),
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
