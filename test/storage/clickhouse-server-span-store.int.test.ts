import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { ClickHouseServerExecutor } from '../../src/storage/clickhouse/server-executor.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import { describeSpanStoreContract } from '../contract/span-store.contract.ts';
import { countStoredSpans } from '../helpers/clickhouse.ts';

// The span store contract on a ClickHouse server. No current ClickHouse server can be installed on
// this project's machines (Debian's is 18.16, without query parameters), so this runs where
// CLICKHOUSE_URL names one, e.g. the docker-compose.yml service: CLICKHOUSE_URL=http://default:…@127.0.0.1:8123
const url = process.env.CLICKHOUSE_URL;

if (url) {
  describeSpanStoreContract(`ClickHouse server (${new URL(url).host})`, async () => {
    // A database of its own per run, so the contract starts from empty tables.
    const database = `promptline_contract_${randomUUID().replaceAll('-', '')}`;
    const admin = await ClickHouseServerExecutor.connect(url);
    await admin.command(`CREATE DATABASE ${database}`);
    const scoped = new URL(url);
    scoped.pathname = `/${database}`;
    const exec = await ClickHouseServerExecutor.connect(scoped.toString());
    const store = new ClickHouseSpanStore(exec);
    return {
      store,
      countSpans: (projectId) => countStoredSpans(exec, projectId),
      async cleanup() {
        await store.close();
        await admin.command(`DROP DATABASE IF EXISTS ${database}`);
        await admin.close();
      },
    };
  });
} else {
  const reason = 'CLICKHOUSE_URL is not set (no current ClickHouse server installs on this machine; the in-process engine runs the same SQL)';
  console.log(`span store contract on a ClickHouse server: skipped: ${reason}`);
  describe('span store contract: ClickHouse server', () => {
    it.skip(`skipped: ${reason}`, () => {});
  });
}
