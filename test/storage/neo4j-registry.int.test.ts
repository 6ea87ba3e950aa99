import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { Neo4jGovernance } from '../../src/storage/neo4j/neo4j-governance.ts';
import { Neo4jRegistry } from '../../src/storage/neo4j/neo4j-registry.ts';
import { describeRegistryContract } from '../contract/registry.contract.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';

// The registry contract on a real Neo4j server: the one `npm test` starts (test/global-setup.ts),
// or the one NEO4J_URL names (npm run services:up). The contract names its own projects per run.
const neo4j = neo4jFromEnv();

if (neo4j.settings) {
  const settings = neo4j.settings;
  describeRegistryContract(`Neo4j (${settings.url})`, async (clock) => {
    // An audit chain of this run's own, which the registry's changes are recorded in.
    const chain = `test-${randomUUID()}`;
    const registry = await Neo4jRegistry.connect({ ...settings, clock, auditChain: chain });
    const audit = await Neo4jGovernance.connect({ ...settings, clock, chain });
    await audit.migrate();
    return { registry, audit, cleanup: async () => (await registry.close(), await audit.close()) };
  });
} else {
  console.log(`registry contract on Neo4j: skipped: ${neo4j.skipReason}`);
  describe('registry contract: Neo4j', () => {
    it.skip(`skipped: ${neo4j.skipReason}`, () => {});
  });
}
