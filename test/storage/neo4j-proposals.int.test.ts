import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { Neo4jGovernance } from '../../src/storage/neo4j/neo4j-governance.ts';
import { Neo4jProposals } from '../../src/storage/neo4j/neo4j-proposals.ts';
import { Neo4jSessions } from '../../src/storage/neo4j/neo4j-sessions.ts';
import { describeProposalsContract } from '../contract/proposals.contract.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';

// The proposal store contract on a real Neo4j server: the one `npm test` starts (test/global-setup.ts),
// or the one NEO4J_URL names. The contract names its own project per run; the audit chain is this run's own.
const neo4j = neo4jFromEnv();

if (neo4j.settings) {
  const settings = neo4j.settings;
  describeProposalsContract(`Neo4j (${settings.url})`, async (clock) => {
    const chain = `test-${randomUUID()}`;
    const sessions = await Neo4jSessions.connect(settings);
    const store = new Neo4jProposals(sessions, { clock, auditChain: chain });
    const audit = await Neo4jGovernance.connect({ ...settings, clock, chain });
    await audit.migrate();
    return { store, audit, cleanup: async () => (await store.close(), await audit.close(), await sessions.close()) };
  });
} else {
  console.log(`proposal store contract on Neo4j: skipped: ${neo4j.skipReason}`);
  describe('proposal store contract: Neo4j', () => {
    it.skip(`skipped: ${neo4j.skipReason}`, () => {});
  });
}
