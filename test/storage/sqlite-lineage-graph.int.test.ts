import { join } from 'node:path';
import { SqliteLineageGraph } from '../../src/storage/sqlite/sqlite-lineage-graph.ts';
import { describeLineageGraphContract } from '../contract/lineage-graph.contract.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

describeLineageGraphContract('SQLite (node:sqlite)', async () => {
  const dir = tempDataDir('sqlite-contract-');
  const graph = new SqliteLineageGraph(join(dir, 'lineage.sqlite'));
  return {
    graph,
    async cleanup() {
      await graph.close();
      removeDir(dir);
    },
  };
});
