import { join } from 'node:path';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import { describeSpanStoreContract } from '../contract/span-store.contract.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

describeSpanStoreContract('ClickHouse engine in-process (chdb)', async () => {
  const dir = tempDataDir('chdb-contract-');
  const store = new ClickHouseSpanStore(new ChdbExecutor(join(dir, 'clickhouse')));
  return {
    store,
    async cleanup() {
      await store.close();
      removeDir(dir);
    },
  };
});
