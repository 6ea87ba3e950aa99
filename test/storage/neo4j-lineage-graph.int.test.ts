import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { Neo4jLineageGraph } from '../../src/storage/neo4j/neo4j-lineage-graph.ts';
import { describeLineageGraphContract } from '../contract/lineage-graph.contract.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';

// The lineage graph contract on a real Neo4j server: the one `npm test` starts (test/global-setup.ts),
// or the one NEO4J_URL names (npm run services:up).
const neo4j = neo4jFromEnv();

if (neo4j.settings) {
  const settings = neo4j.settings;
  describeLineageGraphContract(`Neo4j (${settings.url})`, async () => {
    const graph = await Neo4jLineageGraph.connect(settings);
    return { graph, projectPrefix: `contract-${randomUUID()}-`, cleanup: () => graph.close() };
  });
} else {
  console.log(`lineage graph contract on Neo4j: skipped: ${neo4j.skipReason}`);
  describe('lineage graph contract: Neo4j', () => {
    it.skip(`skipped: ${neo4j.skipReason}`, () => {});
  });
}
