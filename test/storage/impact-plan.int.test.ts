import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanAnalytics } from '../../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { migrate } from '../../src/storage/clickhouse/migrations.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The impact query reads only the partitions and granules it needs: the plan of its candidate read
// (EXPLAIN indexes = 1) shows the partition key and the skip indexes dropping most of the table.

const dir = tempDataDir('impact-plan-');
const exec = new ChdbExecutor(join(dir, 'clickhouse'));
const analytics = new ClickHouseSpanAnalytics(exec);
const DAY = 86_400_000;
const base = Date.UTC(2026, 9, 1);

/** "Granules: selected/total" (or Parts) of a named index step in a plan. */
function granules(plan: string, index: string, what: 'Granules' | 'Parts' = 'Granules'): [number, number] | null {
  const lines = plan.split('\n');
  const at = lines.findIndex((l) => l.includes(index));
  if (at < 0) return null;
  for (const l of lines.slice(at, at + 8)) {
    const m = new RegExp(`${what}: (\\d+)/(\\d+)`).exec(l);
    if (m) return [Number(m[1]), Number(m[2])];
  }
  return null;
}

describe('the plan of an impact query', () => {
  beforeAll(async () => {
    await migrate(exec);
    // 400,000 spans over 10 days; prompt versions, datasets and models clustered by time as in
    // real traffic (a version is live for a while, then the next one).
    await exec.command(
      `INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ProjectId, ServiceName, SpanName, PromptName, PromptVersion, ModelProvider, ModelName, ResponseId, DatasetIds, AppName, AppVersion, LineageOwnMask)
       SELECT fromUnixTimestamp64Milli(toInt64({base:Int64} + number * 2160)) AS Timestamp,
              lower(hex(reinterpretAsFixedString(cityHash64(number, 1)))) || lower(hex(reinterpretAsFixedString(cityHash64(number, 2)))),
              lower(hex(reinterpretAsFixedString(cityHash64(number, 3)))),
              'default', 'bot', 'chat',
              'support-answer', toString(1 + intDiv(number, 40000)),
              'openai', if(intDiv(number, 100000) % 2 = 0, 'gpt-4o', 'gpt-4.1'),
              'resp-' || toString(number),
              [concat('kb-', toString(intDiv(number, 50000)))],
              'support-bot', concat('1.', toString(intDiv(number, 80000))), 2
       FROM numbers(400000)`,
      { base },
    );
    await exec.command('OPTIMIZE TABLE otel_traces FINAL');
  }, 120_000);

  afterAll(async () => {
    await exec.close();
    removeDir(dir);
  });

  const wholeRange = { from: new Date(base - DAY), to: new Date(base + 11 * DAY), bucketSeconds: 3600 };

  it('uses the prompt skip index to read a small part of the table for one prompt version', async () => {
    const plan = await analytics.explainResponses('default', { kind: 'promptVersion', name: 'support-answer', version: '3' }, wholeRange);
    const [selected, total] = granules(plan, 'idx_prompt') ?? [NaN, NaN];
    expect(selected).toBeGreaterThan(0);
    expect(selected / total).toBeLessThan(0.25);
  });

  it('uses the dataset bloom filter for a dataset, and the model index for a model', async () => {
    const ds = granules(await analytics.explainResponses('default', { kind: 'dataset', id: 'kb-3' }, wholeRange), 'idx_dataset');
    expect(ds).not.toBeNull();
    expect(ds![0] / ds![1]).toBeLessThan(0.25);
    const model = granules(await analytics.explainResponses('default', { kind: 'model', name: 'gpt-4.1', provider: 'openai' }, wholeRange), 'idx_model');
    expect(model).not.toBeNull();
    expect(model![0]).toBeLessThan(model![1]);
  });

  it('prunes partitions by the time window', async () => {
    const oneDay = { from: new Date(base + 2 * DAY), to: new Date(base + 3 * DAY), bucketSeconds: 3600 };
    const plan = await analytics.explainResponses('default', { kind: 'promptVersion', name: 'support-answer', version: '3' }, oneDay);
    // Daily partitions: the min-max index on Timestamp keeps the parts of the one day asked about.
    const parts = granules(plan, 'Min-Max', 'Parts');
    expect(parts).not.toBeNull();
    expect(parts![0]).toBeLessThanOrEqual(2);
    expect(parts![1]).toBeGreaterThanOrEqual(10);
  });

  it('answers the same responses the plan was for', async () => {
    const facts = await analytics.impactFacts('default', { kind: 'promptVersion', name: 'support-answer', version: '3' }, wholeRange);
    expect(facts.responses).toBe(40000);
  });
});
