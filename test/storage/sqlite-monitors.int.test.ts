import { join } from 'node:path';
import { SqliteGovernance } from '../../src/storage/sqlite/sqlite-governance.ts';
import { SharedDatabase } from '../../src/storage/sqlite/sqlite-db.ts';
import { SqliteMonitors } from '../../src/storage/sqlite/sqlite-monitors.ts';
import { describeMonitorContract } from '../contract/monitors.contract.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

describeMonitorContract('SQLite (node:sqlite)', async (clock) => {
  const dir = tempDataDir('sqlite-monitors-');
  // One file, as in a data directory: a monitor's change and its audit entry are one transaction.
  const file = new SharedDatabase(join(dir, 'registry.sqlite'));
  const audit = new SqliteGovernance(file, { clock });
  const monitors = new SqliteMonitors(file, { clock });
  return { monitors, audit, cleanup: async () => (await monitors.close(), await audit.close(), removeDir(dir)) };
});
