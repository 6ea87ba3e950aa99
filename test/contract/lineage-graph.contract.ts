import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeCollector } from '../../src/ingest/graph-edges.ts';
import { entity } from '../../src/domain/graph.ts';
import { DERIVATION_RELS, originEdges } from '../../src/registry/origin.ts';
import type { ResolvedLineage } from '../../src/domain/lineage.ts';
import { MAX_WALK_DEPTH, type LineageGraph } from '../../src/storage/lineage-graph.ts';

// Scenarios that must hold for every lineage graph backend.

export interface LineageGraphFixture {
  graph: LineageGraph;
  /** Prefixes the suite's project ids, so that runs against a shared server do not meet. */
  projectPrefix?: string;
  cleanup(): Promise<void>;
}

const lineage = (over: Partial<ResolvedLineage> = {}): ResolvedLineage => ({
  prompt: { name: 'support-answer', version: '3', alias: 'production', templateHash: '' },
  promptSpanId: 'a1',
  model: { provider: 'openai', name: 'gpt-4o' },
  responseId: 'r1',
  datasetIds: ['kb-1'],
  app: { name: 'support-bot', version: '1.4.2' },
  conversationId: '',
  ...over,
});

export function describeLineageGraphContract(backend: string, open: () => Promise<LineageGraphFixture>): void {
  describe(`lineage graph contract: ${backend}`, () => {
    let fx: LineageGraphFixture;
    let graph: LineageGraph;
    let P1 = 'p1';
    let P2 = 'p2';
    beforeAll(async () => {
      fx = await open();
      graph = fx.graph;
      P1 = `${fx.projectPrefix ?? ''}p1`;
      P2 = `${fx.projectPrefix ?? ''}p2`;
      await graph.migrate();
      await graph.migrate();
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    async function record(project: string, items: Array<[ResolvedLineage, number]>) {
      const c = new EdgeCollector();
      for (const [l, t] of items) c.add(l, t);
      await graph.recordEdges(project, c.toList());
    }

    it('records the entities and edges a response reveals, with first and last seen', async () => {
      await record(P1, [
        [lineage(), 2_000],
        [lineage(), 1_000],
        [lineage(), 3_000],
      ]);
      const pv = await graph.getEntity(P1, entity('PromptVersion', 'support-answer', '3'));
      expect(pv).toMatchObject({ kind: 'PromptVersion', parts: ['support-answer', '3'] });
      expect(pv!.firstSeen.getTime()).toBe(1_000);
      expect(pv!.lastSeen.getTime()).toBe(3_000);
      const out = await graph.edgesOf(P1, entity('PromptVersion', 'support-answer', '3'), 'out');
      expect(out.map((e) => `${e.rel}->${e.to.kind}:${e.to.parts.join('/')}`).sort()).toEqual([
        'RAN_ON->Model:openai/gpt-4o',
        'USED_BY->AppVersion:support-bot/1.4.2',
      ]);
      const inbound = await graph.edgesOf(P1, entity('PromptVersion', 'support-answer', '3'), 'in');
      expect(inbound.map((e) => `${e.from.kind}-${e.rel}`).sort()).toEqual(['Alias-RESOLVED_TO', 'Dataset-FEEDS', 'Prompt-HAS_VERSION']);
    });

    it('changes nothing when the same observations are written again', async () => {
      const before = await graph.edgesOf(P1, entity('Dataset', 'kb-1'), 'out');
      await record(P1, [[lineage(), 2_000]]);
      const after = await graph.edgesOf(P1, entity('Dataset', 'kb-1'), 'out');
      expect(after).toEqual(before);
    });

    it('walks from a dataset to everything it touched, naming the path, within the depth bound', async () => {
      const hits = await graph.walk(P1, entity('Dataset', 'kb-1'), { direction: 'out', maxDepth: 2 });
      const names = hits.map((h) => `${h.depth}:${h.entity.kind}:${h.entity.parts.join('/')}`).sort();
      expect(names).toEqual(['1:AppVersion:support-bot/1.4.2', '1:PromptVersion:support-answer/3', '2:Model:openai/gpt-4o']);
      const model = hits.find((h) => h.entity.kind === 'Model')!;
      expect(model.path.map((e) => e.rel)).toHaveLength(2);
      expect(model.path[0]!.from).toEqual(entity('Dataset', 'kb-1'));
      const one = await graph.walk(P1, entity('Dataset', 'kb-1'), { direction: 'out', maxDepth: 1 });
      expect(one.every((h) => h.depth === 1)).toBe(true);
      await expect(graph.walk(P1, entity('Dataset', 'kb-1'), { direction: 'out', maxDepth: MAX_WALK_DEPTH + 1 })).rejects.toThrow(/depth/);
    });

    it('walks backwards from a model to the prompt versions and datasets behind it', async () => {
      const hits = await graph.walk(P1, entity('Model', 'openai', 'gpt-4o'), { direction: 'in', maxDepth: 3, rels: ['RAN_ON', 'FEEDS', 'HAS_VERSION'] });
      expect(hits.map((h) => h.entity.kind).sort()).toEqual(['Dataset', 'Prompt', 'PromptVersion']);
    });

    it('walks in from a dataset through the optimizer run trained on it to the versions it produced, and theirs', async () => {
      const project = `${P1}-optimizer`;
      const v2 = entity('PromptVersion', 'support-answer', '2');
      await graph.recordEdges(project, [
        ...originEdges(v2, { derivedFrom: [{ name: 'support-answer', version: 1 }], optimizer: { name: 'gepa', runId: 'run-7', dataset: 'golden', scorer: 'exact', score: 0.9 } }, 10),
        ...originEdges(entity('PromptVersion', 'support-answer', '3'), { derivedFrom: [{ name: 'support-answer', version: 2 }], optimizer: null }, 20),
      ]);
      const hits = await graph.walk(project, entity('Dataset', 'golden'), { direction: 'in', maxDepth: 4, rels: DERIVATION_RELS });
      expect(hits.map((h) => `${h.depth}:${h.entity.kind}:${h.entity.parts.join('/')}`)).toEqual(['1:OptimizerRun:gepa/run-7', '2:PromptVersion:support-answer/2', '3:PromptVersion:support-answer/3']);
      expect(hits[1]!.path.map((e) => `${e.from.kind}-${e.rel}->${e.to.kind}`)).toEqual(['OptimizerRun-TRAINED_ON->Dataset', 'PromptVersion-PRODUCED_BY->OptimizerRun']);
      // From the seed version: the version derived from it, and (through the run) the same one, at its nearest.
      const fromSeed = await graph.walk(project, entity('PromptVersion', 'support-answer', '1'), { direction: 'in', maxDepth: 4, rels: DERIVATION_RELS });
      expect(fromSeed.map((h) => `${h.depth}:${h.entity.kind}:${h.entity.parts.join('/')}`).sort()).toEqual(['1:OptimizerRun:gepa/run-7', '1:PromptVersion:support-answer/2', '2:PromptVersion:support-answer/3']);
    });

    it('names prompt versions without a number by their template hash', async () => {
      await record(P1, [[lineage({ prompt: { name: 'adhoc', version: '', alias: '', templateHash: 'ab12' } }), 5]]);
      expect(await graph.getEntity(P1, entity('PromptVersion', 'adhoc', 'sha256:ab12'))).not.toBeNull();
    });

    it('keeps any characters in entity names', async () => {
      const odd = `it's "quoted" \\ {x} ✓ \u0000 ' OR 1=1 --`;
      await record(P1, [[lineage({ prompt: { name: odd, version: '1', alias: '', templateHash: '' } }), 7]]);
      expect(await graph.getEntity(P1, entity('Prompt', odd))).toMatchObject({ parts: [odd] });
    });

    it('keeps projects apart', async () => {
      expect(await graph.getEntity(P2, entity('PromptVersion', 'support-answer', '3'))).toBeNull();
      expect(await graph.walk(P2, entity('Dataset', 'kb-1'), { direction: 'out', maxDepth: 2 })).toEqual([]);
    });

    it('answers ping', async () => {
      expect(await graph.ping()).toEqual({ ok: true });
    });
  });
}
