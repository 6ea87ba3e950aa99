import { describe, expect, it } from 'vitest';
import { LineageResolver } from '../../src/ingest/lineage-resolver.ts';
import { OWN_PROMPT, type StoredNode } from '../../src/domain/stored-span.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import type { DecodedSpan } from '../../src/domain/span.ts';
import { createSpan, newSpanId, newTraceId } from '../helpers/factories.ts';

const item = (span: DecodedSpan) => ({ span, own: readOwnLineage(span) });

function agentTrace() {
  const traceId = newTraceId();
  const step = createSpan({ traceId, name: 'agent.step', kind: 1, attrs: { 'gen_ai.prompt.name': 'support-answer', 'gen_ai.prompt.version': 3, 'promptline.dataset.ids': ['kb-1'] } });
  const llm = createSpan({ traceId, parentSpanId: step.spanId, attrs: { 'gen_ai.response.model': 'gpt-4o', 'gen_ai.response.id': 'r-1' } });
  const tool = createSpan({ traceId, parentSpanId: llm.spanId, name: 'tool.search', attrs: {} });
  return { traceId, step, llm, tool };
}

describe('lineage set on a parent applies to its descendants', () => {
  it('resolves a child from its parent in the same batch, nearest ancestor first', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const { step, llm, tool } = agentTrace();
    const out = await r.resolve('p', [item(tool), item(llm), item(step)]);
    const bySpan = new Map(out.spans.map((s) => [s.span.spanId, s]));
    expect(bySpan.get(llm.spanId)!.resolved.prompt).toMatchObject({ name: 'support-answer', version: '3' });
    expect(bySpan.get(llm.spanId)!.resolved.promptSpanId).toBe(step.spanId);
    expect(bySpan.get(llm.spanId)!.resolved.datasetIds).toEqual(['kb-1']);
    expect(bySpan.get(tool.spanId)!.resolved.model?.name).toBe('gpt-4o');
    expect(bySpan.get(tool.spanId)!.resolved.responseId).toBe('');
    expect(out.fixups).toEqual([]);
  });

  it('fixes stored descendants when their parent arrives in a later batch', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const { step, llm, tool } = agentTrace();
    const first = await r.resolve('p', [item(tool), item(llm)]);
    expect(first.spans.find((s) => s.span.spanId === llm.spanId)!.resolved.prompt).toBeNull();
    const second = await r.resolve('p', [item(step)]);
    expect(second.spans.map((s) => s.span.spanId)).toEqual([step.spanId]);
    const fixed = new Map(second.fixups.map((f) => [f.spanId, f]));
    expect([...fixed.keys()].sort()).toEqual([llm.spanId, tool.spanId].sort());
    expect(fixed.get(llm.spanId)!.resolved.prompt?.name).toBe('support-answer');
    expect(fixed.get(llm.spanId)!.revision).toBe(1);
    expect(fixed.get(tool.spanId)!.resolved.promptSpanId).toBe(step.spanId);
  });

  it('loads stored nodes for a trace it has not seen, so a restart changes nothing', async () => {
    const { traceId, step, llm } = agentTrace();
    const stored: StoredNode[] = [
      {
        traceId,
        spanId: llm.spanId,
        parentSpanId: step.spanId,
        ownMask: 2,
        revision: 0,
        startMs: 0,
        resolved: { prompt: null, promptSpanId: '', model: { name: 'gpt-4o', provider: '' }, responseId: 'r-1', datasetIds: [], app: { name: 'support-bot', version: '1.4.2' }, conversationId: '' },
      },
    ];
    const asked: string[][] = [];
    const r = new LineageResolver({ load: async (_p, ids) => (asked.push([...ids]), stored) });
    const out = await r.resolve('p', [item(step)]);
    expect(asked).toEqual([[traceId]]);
    expect(out.fixups).toHaveLength(1);
    expect(out.fixups[0]).toMatchObject({ spanId: llm.spanId, revision: 1, resolved: { prompt: { name: 'support-answer' }, model: { name: 'gpt-4o' } } });
    // A second batch of the same trace is answered from the cache.
    await r.resolve('p', [item(createSpan({ traceId, parentSpanId: step.spanId }))]);
    expect(asked).toHaveLength(1);
  });

  it('keeps a span’s own prompt over an inherited one', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const { traceId, step } = agentTrace();
    const sub = createSpan({ traceId, parentSpanId: step.spanId, attrs: { 'gen_ai.prompt.name': 'sub-prompt', 'gen_ai.prompt.version': 1 } });
    const out = await r.resolve('p', [item(step), item(sub)]);
    const s = out.spans.find((x) => x.span.spanId === sub.spanId)!;
    expect(s.resolved.prompt?.name).toBe('sub-prompt');
    expect(s.ownMask & OWN_PROMPT).toBe(OWN_PROMPT);
  });

  it('writes a span sent twice as a newer revision, not a second row', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const { step } = agentTrace();
    const a = await r.resolve('p', [item(step)]);
    const b = await r.resolve('p', [item(step)]);
    expect(a.spans[0]!.revision).toBe(0);
    expect(b.spans[0]!.revision).toBe(1);
  });

  it('keeps projects apart even when trace ids collide', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const { step, llm } = agentTrace();
    await r.resolve('a', [item(step)]);
    const out = await r.resolve('b', [item(llm)]);
    expect(out.spans[0]!.resolved.prompt).toBeNull();
  });

  it('survives parent-id cycles from a hostile sender', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const traceId = newTraceId();
    const a = newSpanId();
    const b = newSpanId();
    const out = await r.resolve('p', [
      item(createSpan({ traceId, spanId: a, parentSpanId: b })),
      item(createSpan({ traceId, spanId: b, parentSpanId: a })),
      item(createSpan({ traceId, parentSpanId: newSpanId(), spanId: newSpanId() })),
    ]);
    expect(out.spans).toHaveLength(3);
  });

  it('evicts the least recently used traces beyond its bound', async () => {
    const r = new LineageResolver({ load: async () => [], maxCachedNodes: 10 });
    for (let i = 0; i < 20; i++) await r.resolve('p', [item(createSpan())]);
    expect(r.cachedNodeCount).toBeLessThanOrEqual(10);
  });
});

describe('the app an ancestor names applies where a span names none', () => {
  it('takes gen_ai.agent.name from the invoke_agent span when the resource names no service', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const traceId = newTraceId();
    const noService = { 'service.name': 'unknown_service:node' };
    const agentSpan = createSpan({ traceId, name: 'invoke_agent planner', attrs: { 'gen_ai.agent.name': 'planner', 'gen_ai.agent.version': '2.1.0', 'gen_ai.prompt.name': 'plan' }, resourceAttrs: noService });
    const chat = createSpan({ traceId, parentSpanId: agentSpan.spanId, attrs: { 'gen_ai.response.id': 'resp-agent-1' }, resourceAttrs: noService });
    const first = await r.resolve('p', [item(chat)]);
    expect(first.spans[0]!.resolved.app).toEqual({ name: '', version: '' });
    const second = await r.resolve('p', [item(agentSpan)]);
    expect(second.fixups[0]!.resolved.app).toEqual({ name: 'planner', version: '2.1.0' });
  });

  it('keeps a span’s own service over an ancestor’s in another service', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const traceId = newTraceId();
    const gateway = createSpan({ traceId, resourceAttrs: { 'service.name': 'gateway', 'service.version': '9' } });
    const bot = createSpan({ traceId, parentSpanId: gateway.spanId, resourceAttrs: { 'service.name': 'support-bot', 'service.version': '1.4.2' } });
    const out = await r.resolve('p', [item(gateway), item(bot)]);
    expect(out.spans.find((s) => s.span.spanId === bot.spanId)!.resolved.app).toEqual({ name: 'support-bot', version: '1.4.2' });
  });
});
