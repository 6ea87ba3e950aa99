import { describe, expect, it } from 'vitest';
import { LineageResolver } from '../../src/ingest/lineage-resolver.ts';
import { OWN_PROMPT, type StoredNode } from '../../src/domain/stored-span.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import { templateHash } from '../../src/ingest/conventions.ts';
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

describe('the cache is bounded in bytes, not only in nodes', () => {
  const datasets = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${String(i).padStart(250, '0')}`);

  it('evicts the least recently used traces once the lineage it holds passes its byte budget', async () => {
    const loads: string[][] = [];
    const r = new LineageResolver({ load: async (_p, ids) => (loads.push([...ids]), []), maxCachedBytes: 1024 * 1024 });
    // Each trace: one span with 64 dataset ids of 256 characters, ~64 KiB of lineage (own and resolved).
    const traces = Array.from({ length: 40 }, (_, i) => createSpan({ attrs: { 'promptline.dataset.ids': datasets(64, `t${i}`) } }));
    for (const span of traces) await r.resolve('p', [item(span)]);
    expect(r.cachedByteCount).toBeLessThanOrEqual(1024 * 1024);
    expect(r.cachedByteCount).toBeGreaterThan(512 * 1024);
    // Far fewer nodes than the node bound (200,000): the bytes decided.
    expect(r.cachedNodeCount).toBeLessThan(20);
    expect(r.cachedNodeCount).toBeGreaterThan(5);
    // The newest trace is still held (no load); the oldest was dropped (loaded again).
    loads.length = 0;
    await r.resolve('p', [item(createSpan({ traceId: traces.at(-1)!.traceId }))]);
    await r.resolve('p', [item(createSpan({ traceId: traces[0]!.traceId }))]);
    expect(loads).toEqual([[traces[0]!.traceId]]);
  });

  it('counts what a node inherits, and gives the bytes back when a trace is forgotten', async () => {
    const r = new LineageResolver({ load: async () => [], maxCachedBytes: 64 * 1024 * 1024 });
    const traceId = newTraceId();
    const parent = createSpan({ traceId, attrs: { 'promptline.dataset.ids': datasets(10, 'kb'), 'gen_ai.prompt.name': 'p' } });
    const children = Array.from({ length: 50 }, () => createSpan({ traceId, parentSpanId: parent.spanId, attrs: {} }));
    await r.resolve('p', [item(parent), ...children.map(item)]);
    // Every child holds the ten inherited ids (~5 KiB), counted once per node.
    expect(r.cachedByteCount).toBeGreaterThan(51 * 10 * 2 * 250);
    r.forget('p', [traceId]);
    expect([r.cachedByteCount, r.cachedNodeCount]).toEqual([0, 0]);
  });
});

describe('a late parent rewrites at most a budget of stored rows a batch', () => {
  it('rewrites the rest in later bounded steps, taking traces in turn, until every row has its ancestors’ lineage', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const big = newTraceId();
    const small = newTraceId();
    const bigRoot = newSpanId();
    const smallRoot = newSpanId();
    const bigChildren = Array.from({ length: 250 }, () => createSpan({ traceId: big, parentSpanId: bigRoot, attrs: {} }));
    const smallChildren = Array.from({ length: 5 }, () => createSpan({ traceId: small, parentSpanId: smallRoot, attrs: {} }));
    await r.resolve('p', [...bigChildren, ...smallChildren].map(item));

    const prompt = (name: string) => ({ 'gen_ai.prompt.name': name, 'gen_ai.prompt.version': 1 });
    const late = await r.resolve('p', [item(createSpan({ traceId: big, spanId: bigRoot, attrs: prompt('big') })), item(createSpan({ traceId: small, spanId: smallRoot, attrs: prompt('small') }))], 100);
    expect(late.spans).toHaveLength(2);
    expect(late.fixups).toHaveLength(100);
    expect(r.unsettledTraces).toBe(2);

    const fixed = new Map(late.fixups.map((f) => [f.spanId, f]));
    const steps: number[] = [];
    while (r.unsettledTraces > 0) {
      const step = r.settle(100);
      steps.push(step.reduce((n, p) => n + p.fixups.length, 0));
      for (const p of step) for (const f of p.fixups) {
        expect(p.projectId).toBe('p');
        expect(fixed.has(f.spanId)).toBe(false);
        fixed.set(f.spanId, f);
      }
      expect(steps.length).toBeLessThan(10);
    }
    // Every step within the budget; the small trace was not left waiting behind the big one.
    expect(Math.max(...steps)).toBeLessThanOrEqual(100);
    expect(steps[0]).toBe(100);
    expect(fixed.size).toBe(255);
    for (const c of bigChildren) expect(fixed.get(c.spanId)!.resolved.prompt?.name).toBe('big');
    for (const c of smallChildren) expect(fixed.get(c.spanId)!.resolved.prompt?.name).toBe('small');
    for (const f of fixed.values()) expect(f.revision).toBe(1);
    // Settled: nothing more to rewrite, and a later span of the trace rewrites nothing again.
    expect(r.settle(100)).toEqual([]);
    const after = await r.resolve('p', [item(createSpan({ traceId: big, parentSpanId: bigRoot, attrs: {} }))], 100);
    expect(after.fixups).toEqual([]);
  });

  it('gives new spans their ancestors’ lineage at once, whatever the budget', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const traceId = newTraceId();
    const root = newSpanId();
    await r.resolve('p', Array.from({ length: 20 }, () => item(createSpan({ traceId, parentSpanId: root, attrs: {} }))));
    const fresh = createSpan({ traceId, parentSpanId: root, attrs: {} });
    const out = await r.resolve('p', [item(createSpan({ traceId, spanId: root, attrs: { 'gen_ai.prompt.name': 'x' } })), item(fresh)], 0);
    expect(out.fixups).toEqual([]);
    expect(out.spans.find((s) => s.span.spanId === fresh.spanId)!.resolved.prompt?.name).toBe('x');
    expect(r.unsettledTraces).toBe(1);
  });

  it('merges a prompt field by field: the name from a parent span, the version and template from the LLM span', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const traceId = newTraceId();
    const template = 'Answer: {{q}}';
    const chain = createSpan({ traceId, name: 'chain', attrs: { 'prompt.id': 'qa-prompt' } });
    const llm = createSpan({ traceId, parentSpanId: chain.spanId, attrs: { 'llm.prompt_template.version': '3', 'llm.prompt_template.template': template, 'llm.model_name': 'gpt-4o', 'gen_ai.response.id': 'r-m1' } });
    // The LLM span ends (and arrives) first; its parent's name reaches it as a fixup.
    const first = await r.resolve('p', [item(llm)]);
    expect(first.spans[0]!.resolved.prompt).toMatchObject({ name: '', version: '3' });
    const second = await r.resolve('p', [item(chain)]);
    expect(second.fixups).toHaveLength(1);
    expect(second.fixups[0]!.resolved.prompt).toEqual({ name: 'qa-prompt', version: '3', alias: '', templateHash: templateHash(template) });
    expect(second.fixups[0]!.resolved.promptSpanId).toBe(llm.spanId);
  });

  it('does not mix two prompts: a child naming another prompt keeps its own, without the parent’s version', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const traceId = newTraceId();
    const parent = createSpan({ traceId, attrs: { 'gen_ai.prompt.name': 'planner', 'gen_ai.prompt.version': 7, 'promptline.prompt.alias': 'production' } });
    const child = createSpan({ traceId, parentSpanId: parent.spanId, attrs: { 'gen_ai.prompt.name': 'summarizer' } });
    const versionOnly = createSpan({ traceId, parentSpanId: parent.spanId, attrs: { 'gen_ai.prompt.version': 2 } });
    const out = await r.resolve('p', [item(parent), item(child), item(versionOnly)]);
    const by = new Map(out.spans.map((s) => [s.span.spanId, s.resolved.prompt]));
    expect(by.get(child.spanId)).toEqual({ name: 'summarizer', version: '', alias: '', templateHash: '' });
    // A version that disagrees with the parent's names another version: not the parent's prompt.
    expect(by.get(versionOnly.spanId)).toEqual({ name: '', version: '2', alias: '', templateHash: '' });
  });

  it('gives a version-only LLM span the template of its sibling prompt span, and the name of an ancestor', async () => {
    const r = new LineageResolver({ load: async () => [] });
    const traceId = newTraceId();
    const template = 'Summarise: {{text}}';
    const chain = createSpan({ traceId, name: 'RunnableSequence', attrs: {} });
    const promptSpan = createSpan({ traceId, parentSpanId: chain.spanId, name: 'ChatPromptTemplate', attrs: { 'openinference.span.kind': 'PROMPT', 'llm.prompt_template.template': template } });
    const llm = createSpan({ traceId, parentSpanId: chain.spanId, name: 'ChatOpenAI', attrs: { 'llm.prompt_template.version': '5', 'gen_ai.response.id': 'r-s1' } });
    const out = await r.resolve('p', [item(llm), item(promptSpan), item(chain)]);
    const got = out.spans.find((s) => s.span.spanId === llm.spanId)!.resolved.prompt;
    expect(got).toEqual({ name: '', version: '5', alias: '', templateHash: templateHash(template) });
    // With the name on the root, the same LLM span names the whole prompt version.
    const r2 = new LineageResolver({ load: async () => [] });
    const named = { ...chain, attributes: new Map([['prompt.id', 'summary']]) } as DecodedSpan;
    const out2 = await r2.resolve('p', [item(named), item(promptSpan), item(llm)]);
    expect(out2.spans.find((s) => s.span.spanId === llm.spanId)!.resolved.prompt).toEqual({ name: 'summary', version: '5', alias: '', templateHash: templateHash(template) });
    // Two siblings naming different templates: neither is taken.
    const r3 = new LineageResolver({ load: async () => [] });
    const other = createSpan({ traceId, parentSpanId: chain.spanId, attrs: { 'llm.prompt_template.template': 'Other {{x}}' } });
    const out3 = await r3.resolve('p', [item(chain), item(promptSpan), item(other), item(llm)]);
    expect(out3.spans.find((s) => s.span.spanId === llm.spanId)!.resolved.prompt?.templateHash).toBe('');
  });
});
