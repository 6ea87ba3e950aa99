import { join } from 'node:path';
import { SharedDatabase } from '../../src/storage/sqlite/sqlite-db.ts';
import { SqliteGovernance } from '../../src/storage/sqlite/sqlite-governance.ts';
import { SqliteProposals } from '../../src/storage/sqlite/sqlite-proposals.ts';
import { describeProposalsContract } from '../contract/proposals.contract.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// Proposals share the registry's file with keys and the audit log, as in a data directory.
describeProposalsContract('SQLite (node:sqlite)', async (clock) => {
  const dir = tempDataDir('sqlite-proposals-');
  const records = new SharedDatabase(join(dir, 'registry.sqlite'));
  const store = new SqliteProposals(records, { clock });
  const audit = new SqliteGovernance(records, { clock });
  await audit.migrate();
  return {
    store,
    audit,
    async cleanup() {
      await store.close();
      await audit.close();
      removeDir(dir);
    },
  };
});
