import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineageResolver } from '../../src/ingest/lineage-resolver.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import type { DecodedSpan } from '../../src/domain/span.ts';
import type { SpanQueries, SpanSink } from '../../src/storage/span-store.ts';
import { createSpan, newTraceId } from '../helpers/factories.ts';

// Scenarios that must hold for every span store backend. Each backend's test file calls this
// with a factory for a fresh, empty store.

export interface SpanStoreFixture {
  store: SpanSink & SpanQueries;
  /** The spans stored for a project, each once: asked of the backend directly, as the ports need no count. */
  countSpans(projectId: string): Promise<number>;
  cleanup(): Promise<void>;
}

export function describeSpanStoreContract(backend: string, open: () => Promise<SpanStoreFixture>): void {
  describe(`span store contract: ${backend}`, () => {
    let fx: SpanStoreFixture;
    let store: SpanSink & SpanQueries;
    let resolver: LineageResolver;
    let token = 0;

    beforeAll(async () => {
      fx = await open();
      store = fx.store;
      await store.migrate();
      resolver = new LineageResolver({ load: (p, ids) => store.loadStoredNodes(p, ids) });
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    /** Resolves and writes spans as the writer does. */
    async function ingest(project: string, spans: DecodedSpan[]) {
      const out = await resolver.resolve(project, spans.map((span) => ({ span, own: readOwnLineage(span) })));
      await (await store.stageSpans(project, out.spans)).write(`t${++token}`);
      await store.applyFixups(project, out.fixups, `t${token}/fix`);
      return out;
    }

    function agent(responseId: string) {
      const traceId = newTraceId();
      const step = createSpan({ traceId, name: 'agent.step', kind: 1, attrs: { 'gen_ai.prompt.name': 'support-answer', 'gen_ai.prompt.version': 3, 'promptline.prompt.alias': 'production', 'promptline.dataset.ids': ['kb-1', 'faq'] } });
      const llm = createSpan({ traceId, parentSpanId: step.spanId, attrs: { 'gen_ai.response.model': 'gpt-4o', 'gen_ai.provider.name': 'openai', 'gen_ai.response.id': responseId } });
      return { traceId, step, llm };
    }

    it('applies migrations again without error or change', async () => {
      await expect(store.migrate()).resolves.toBeUndefined();
    });

    it('finds a response by id with the lineage inherited from its agent step', async () => {
      const { traceId, step, llm } = agent('resp-contract-1');
      await ingest('default', [step, llm]);
      const found = await store.findByResponseId('default', 'resp-contract-1');
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        traceId,
        spanId: llm.spanId,
        parentSpanId: step.spanId,
        serviceName: 'support-bot',
        lineage: {
          prompt: { name: 'support-answer', version: '3', alias: 'production' },
          promptSpanId: step.spanId,
          model: { name: 'gpt-4o', provider: 'openai' },
          responseId: 'resp-contract-1',
          datasetIds: ['kb-1', 'faq'],
          app: { name: 'support-bot', version: '1.4.2' },
        },
      });
      expect(found[0]!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      expect(await store.findBySpanId('default', llm.spanId)).toHaveLength(1);
      expect((await store.findByTraceId('default', traceId)).map((s) => s.spanId).sort()).toEqual([step.spanId, llm.spanId].sort());
    });

    it('replaces a stored span’s lineage when its parent arrives later, and still finds it once', async () => {
      const { step, llm } = agent('resp-contract-late');
      await ingest('default', [llm]);
      expect((await store.findByResponseId('default', 'resp-contract-late'))[0]!.lineage.prompt).toBeNull();
      const out = await ingest('default', [step]);
      expect(out.fixups).toHaveLength(1);
      const found = await store.findByResponseId('default', 'resp-contract-late');
      expect(found).toHaveLength(1);
      expect(found[0]!.lineage.prompt).toMatchObject({ name: 'support-answer', version: '3' });
      expect(found[0]!.lineage.model?.name).toBe('gpt-4o');
    });

    it('fixes every inherited field of a stored span, the app from gen_ai.agent.* included', async () => {
      const traceId = newTraceId();
      const noService = { 'service.name': 'unknown_service:node' };
      const step = createSpan({
        traceId,
        name: 'invoke_agent planner',
        attrs: { 'gen_ai.agent.name': 'planner', 'gen_ai.agent.version': '2.0.0', 'gen_ai.prompt.name': 'plan', 'gen_ai.prompt.version': 5, 'gen_ai.data_source.id': 'kb-7', 'gen_ai.conversation.id': 'conv-3', 'gen_ai.request.model': 'gpt-4o' },
        resourceAttrs: noService,
      });
      const call = createSpan({ traceId, parentSpanId: step.spanId, attrs: { 'gen_ai.response.id': 'resp-contract-fix-all' }, resourceAttrs: noService });
      await ingest('default', [call]);
      await ingest('default', [step]);
      const [found] = await store.findByResponseId('default', 'resp-contract-fix-all');
      expect(found!.lineage).toEqual({
        prompt: { name: 'plan', version: '5', alias: '', templateHash: '' },
        promptSpanId: step.spanId,
        model: { name: 'gpt-4o', provider: '' },
        responseId: 'resp-contract-fix-all',
        datasetIds: ['kb-7'],
        app: { name: 'planner', version: '2.0.0' },
        conversationId: 'conv-3',
      });
    });

    it('writes a retried batch once, and a replayed span once', async () => {
      const { step, llm } = agent('resp-contract-retry');
      const project = 'retry-project';
      const out = await resolver.resolve(project, [step, llm].map((span) => ({ span, own: readOwnLineage(span) })));
      const staged = await store.stageSpans(project, out.spans);
      await staged.write('same-token');
      await staged.write('same-token');
      await (await store.stageSpans(project, out.spans)).write('same-token');
      expect(await fx.countSpans(project)).toBe(2);
      await ingest(project, [llm]); // the client sent it again
      expect(await fx.countSpans(project)).toBe(2);
      expect(await store.findByResponseId(project, 'resp-contract-retry')).toHaveLength(1);
    });

    it('loads stored nodes with what was own and what inherited', async () => {
      const { traceId, step, llm } = agent('resp-contract-nodes');
      await ingest('default', [step, llm]);
      const nodes = await store.loadStoredNodes('default', [traceId]);
      const byId = new Map(nodes.map((n) => [n.spanId, n]));
      expect(byId.get(step.spanId)!.ownMask & 1).toBe(1);
      expect(byId.get(llm.spanId)!.ownMask & 1).toBe(0);
      expect(byId.get(llm.spanId)!.parentSpanId).toBe(step.spanId);
      expect(byId.get(llm.spanId)!.startMs).toBe(Number(llm.startTimeUnixNano / 1_000_000n));
    });

    it('loads the stored nodes of many traces in one call, every one of them', async () => {
      const project = 'many-traces';
      const spans = Array.from({ length: 12_000 }, () => createSpan());
      await ingest(project, spans);
      const unknown = Array.from({ length: 500 }, () => newTraceId());
      const nodes = await store.loadStoredNodes(project, [...spans.map((s) => s.traceId), ...unknown]);
      expect(nodes).toHaveLength(spans.length);
      expect(new Set(nodes.map((n) => n.spanId))).toEqual(new Set(spans.map((s) => s.spanId)));
    });

    it('applies the fixups of many traces in one call, every one of them', async () => {
      const project = 'many-fixups';
      const parents = Array.from({ length: 12_000 }, () => createSpan({ attrs: { 'gen_ai.prompt.name': 'late', 'gen_ai.prompt.version': 2 } }));
      const children = parents.map((p) => createSpan({ traceId: p.traceId, parentSpanId: p.spanId, attrs: { 'gen_ai.response.model': 'gpt-4o' } }));
      await ingest(project, children);
      const late = await ingest(project, parents);
      expect(late.fixups).toHaveLength(children.length);
      const sample = [0, 4_999, 5_000, 9_999, 10_000, 11_999].map((i) => children[i]!);
      for (const c of sample) {
        const rows = await store.findBySpanId(project, c.spanId);
        expect(rows.map((r) => r.lineage.prompt?.name ?? null)).toEqual(['late']);
      }
      expect(await fx.countSpans(project)).toBe(24_000);
    });

    it('stores attribute keys and values as data, quotes and SQL included', async () => {
      const hostile = `x'); DROP TABLE otel_traces; -- "\\ {{p:String}} ✓`;
      const span = createSpan();
      span.attributes = new Map<string, string>([
        ['__proto__', 'p'],
        ['constructor', 'c'],
        [hostile, hostile],
        ['gen_ai.prompt.name', hostile],
        ['gen_ai.response.id', hostile],
      ]);
      span.events = [{ timeUnixNano: span.startTimeUnixNano, name: 'gen_ai.choice', attributes: new Map([['__proto__', 'e']]) }];
      await ingest('default', [span]);
      const [detail] = await store.getTraceDetail('default', span.traceId);
      expect(detail!.attributes.get('__proto__')).toBe('p');
      expect(detail!.attributes.get('constructor')).toBe('c');
      expect(detail!.attributes.get(hostile)).toBe(hostile);
      expect(detail!.events[0]!.attributes.get('__proto__')).toBe('e');
      const found = await store.findByResponseId('default', hostile);
      expect(found[0]!.lineage.prompt?.name).toBe(hostile);
      expect(await fx.countSpans('default')).toBeGreaterThan(0);
    });

    it('keeps projects apart', async () => {
      const { step, llm } = agent('resp-contract-project');
      await ingest('project-a', [step, llm]);
      expect(await store.findByResponseId('project-a', 'resp-contract-project')).toHaveLength(1);
      expect(await store.findByResponseId('project-b', 'resp-contract-project')).toHaveLength(0);
      expect(await store.findByTraceId('project-b', step.traceId)).toHaveLength(0);
      expect(await store.findBySpanId('project-b', llm.spanId)).toHaveLength(0);
    });

    it('answers an unknown id with nothing rather than an error', async () => {
      expect(await store.findByResponseId('default', 'never-sent')).toEqual([]);
      expect(await store.getTraceDetail('default', newTraceId())).toEqual([]);
      expect(await store.loadStoredNodes('default', [])).toEqual([]);
    });

    it('answers ping', async () => {
      expect(await store.ping()).toEqual({ ok: true });
    });
  });
}
