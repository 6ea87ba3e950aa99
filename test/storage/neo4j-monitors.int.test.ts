import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { Neo4jGovernance } from '../../src/storage/neo4j/neo4j-governance.ts';
import { Neo4jMonitors } from '../../src/storage/neo4j/neo4j-monitors.ts';
import { describeMonitorContract } from '../contract/monitors.contract.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';

// Monitors and alerts on the real Neo4j server `npm test` starts (or the one NEO4J_URL names).
const neo = neo4jFromEnv();

if (neo.settings) {
  const settings = neo.settings;
  describeMonitorContract(`Neo4j (${settings.url})`, async (clock) => {
    const chain = `test-${randomUUID()}`;
    const audit = await Neo4jGovernance.connect({ ...settings, chain, clock });
    const monitors = await Neo4jMonitors.connect({ ...settings, chain, clock });
    return { monitors, audit, cleanup: async () => (await monitors.close(), await audit.close()) };
  });
} else {
  describe.skip(`monitor store contract: Neo4j (${neo.skipReason})`, () => {
    it('needs Neo4j', () => {});
  });
}
