import { randomBytes } from 'node:crypto';
import type { AttrMap, AttrValue, DecodedSpan } from '../../src/domain/span.ts';

// Test factories over realistic defaults: a GenAI chat span of a support agent.

export const newTraceId = () => randomBytes(16).toString('hex');
export const newSpanId = () => randomBytes(8).toString('hex');

function attrs(o: Record<string, AttrValue>): AttrMap {
  return new Map(Object.entries(o));
}

export function createSpan(overrides: Partial<DecodedSpan> & { attrs?: Record<string, AttrValue>; resourceAttrs?: Record<string, AttrValue> } = {}): DecodedSpan {
  const { attrs: a, resourceAttrs: r, ...rest } = overrides;
  const start = BigInt(Date.now()) * 1_000_000n;
  return {
    traceId: newTraceId(),
    spanId: newSpanId(),
    parentSpanId: '',
    traceState: '',
    name: 'chat gpt-4o',
    kind: 3,
    startTimeUnixNano: start,
    endTimeUnixNano: start + 850_000_000n,
    attributes: attrs(
      a ?? {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': 812,
        'gen_ai.usage.output_tokens': 164,
      },
    ),
    events: [],
    links: [],
    statusCode: 0,
    statusMessage: '',
    resource: { attributes: attrs(r ?? { 'service.name': 'support-bot', 'service.version': '1.4.2' }) },
    scope: { name: 'test', version: '1' },
    ...rest,
  };
}
