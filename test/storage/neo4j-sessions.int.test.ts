import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Neo4jGovernance } from '../../src/storage/neo4j/neo4j-governance.ts';
import { Neo4jLineageGraph } from '../../src/storage/neo4j/neo4j-lineage-graph.ts';
import { Neo4jRegistry } from '../../src/storage/neo4j/neo4j-registry.ts';
import { Neo4jSessions } from '../../src/storage/neo4j/neo4j-sessions.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';

// One driver for the graph, the registry and governance, as a server opens them: whoever
// connects the driver closes it, and an adapter closes only a driver it connected itself.
const neo4j = neo4jFromEnv();

if (neo4j.settings) {
  const settings = neo4j.settings;

  describe('one Neo4j driver shared by the graph, the registry and governance', () => {
    it('serves all three, stays open when they close, and closes once with its owner', async () => {
      const sessions = await Neo4jSessions.connect(settings);
      const graph = new Neo4jLineageGraph(sessions);
      const registry = new Neo4jRegistry(sessions);
      const governance = new Neo4jGovernance(sessions, { chain: `test-${randomUUID()}` });
      try {
        for (const store of [graph, registry, governance]) await store.migrate();
        expect(await Promise.all([graph.ping(), registry.ping(), governance.ping()])).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
        expect([graph.backend, registry.backend, governance.backend]).toEqual(Array(3).fill(`neo4j (${settings.url})`));
        for (const store of [graph, registry, governance]) await store.close();
        expect(await registry.ping()).toEqual({ ok: true });
      } finally {
        await sessions.close();
      }
      expect((await registry.ping()).ok).toBe(false);
    });

    it('is closed with an adapter that connected it itself', async () => {
      const graph = await Neo4jLineageGraph.connect(settings);
      expect(await graph.ping()).toEqual({ ok: true });
      await graph.close();
      expect((await graph.ping()).ok).toBe(false);
    });
  });
} else {
  console.log(`one Neo4j driver: skipped: ${neo4j.skipReason}`);
  describe('one Neo4j driver shared by the graph, the registry and governance', () => {
    it.skip(`skipped: ${neo4j.skipReason}`, () => {});
  });
}
