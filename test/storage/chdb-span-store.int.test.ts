import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreBackPressureError, StoreError } from '../../src/common/errors.ts';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import { describeSpanStoreContract } from '../contract/span-store.contract.ts';
import { countStoredSpans } from '../helpers/clickhouse.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

describeSpanStoreContract('ClickHouse engine in-process (chdb)', async () => {
  const dir = tempDataDir('chdb-contract-');
  const exec = new ChdbExecutor(join(dir, 'clickhouse'));
  const store = new ClickHouseSpanStore(exec);
  return {
    store,
    countSpans: (projectId) => countStoredSpans(exec, projectId),
    async cleanup() {
      await store.close();
      removeDir(dir);
    },
  };
});

describe('ClickHouse errors are classified in one place', () => {
  it('calls wrong data or SQL permanent, and keeps everything else retryable', async () => {
    const dir = tempDataDir('chdb-errors-');
    const exec = new ChdbExecutor(join(dir, 'clickhouse'));
    try {
      const syntax = await exec.query('SELEKT 1').catch((e: unknown) => e);
      expect(syntax).toBeInstanceOf(StoreError);
      expect((syntax as StoreError).retryable).toBe(false);
      const badParam = await exec.query('SELECT {n:UInt8}', { n: 'not a number' }).catch((e: unknown) => e);
      expect((badParam as StoreError).retryable).toBe(false);
      await exec.command('CREATE TABLE t (d DateTime64(9)) ENGINE = MergeTree ORDER BY d');
      const overflow = await exec.insertJsonEachRow('t', Buffer.from('{"d":"99999999999.0"}\n')).catch((e: unknown) => e);
      expect((overflow as StoreError).retryable).toBe(false);
      // Memory limits are waited out, not treated as bad data.
      const memory = await exec.query("SELECT groupArray(repeat('x', 1000)) FROM numbers(1000000) SETTINGS max_memory_usage = 10000000").catch((e: unknown) => e);
      expect(memory).toBeInstanceOf(StoreError);
      expect((memory as StoreError).retryable).toBe(true);
    } finally {
      await exec.close();
      removeDir(dir);
    }
  });

  it('calls TOO_MANY_PARTS back-pressure: retryable, with a longer wait of its own', async () => {
    const dir = tempDataDir('chdb-parts-');
    const exec = new ChdbExecutor(join(dir, 'clickhouse'));
    try {
      await exec.command('CREATE TABLE parts (d UInt64) ENGINE = MergeTree ORDER BY d SETTINGS parts_to_throw_insert = 2, parts_to_delay_insert = 1000');
      await exec.command('SYSTEM STOP MERGES parts');
      for (let i = 0; i < 2; i++) await exec.insertJsonEachRow('parts', Buffer.from(`{"d":${i}}\n`));
      const tooMany = await exec.insertJsonEachRow('parts', Buffer.from('{"d":2}\n')).catch((e: unknown) => e);
      expect(tooMany).toBeInstanceOf(StoreBackPressureError);
      expect((tooMany as StoreError).retryable).toBe(true);
      expect((tooMany as Error).message).toMatch(/Code: 252/);
    } finally {
      await exec.close();
      removeDir(dir);
    }
  });
});
