import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanAnalytics } from '../../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { migrate } from '../../src/storage/clickhouse/migrations.ts';
import { ClickHouseImpact } from '../../src/storage/clickhouse/clickhouse-impact.ts';
import { CHANGE_MARGIN_MS, rolledUpRuns } from '../../src/storage/clickhouse/clickhouse-lineage-rollup.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// An impact query reads what ingest keeps per response, not otel_traces: its counts come from the
// per-minute lineage rollup once the minutes are rolled up, and its first page of responses reads
// only the partitions of the newest buckets that hold the page (EXPLAIN indexes = 1 shows it).

const dir = tempDataDir('impact-plan-');
const exec = new ChdbExecutor(join(dir, 'clickhouse'));
const analytics = new ClickHouseSpanAnalytics(exec);
const impact = new ClickHouseImpact(exec);
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

describe('what an impact query reads', () => {
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

  it('reads the first page of responses from the partitions of its newest buckets only', async () => {
    const target = { kind: 'promptVersion' as const, name: 'support-answer', version: '3' };
    const facts = await analytics.impactFacts('default', target, wholeRange);
    const plan = await impact.explainItems('default', target, wholeRange, facts.histogram, 51);
    // Daily partitions: the min-max index on Timestamp keeps the part or two of the version's newest hour.
    const parts = granules(plan, 'Min-Max', 'Parts');
    expect(parts).not.toBeNull();
    expect(parts![0]).toBeLessThanOrEqual(2);
    expect(parts![1]).toBeGreaterThanOrEqual(10);
    const page = await analytics.impactItems('default', target, wholeRange, { limit: 51, after: null }, facts.histogram);
    expect(page).toHaveLength(51);
    expect(page[0]!.timestamp).toBe(facts.lastSeen);
    expect(page).toEqual(await analytics.impactItems('default', target, wholeRange, { limit: 51, after: null }));
  });

  it('counts a version from the rollup once its minutes are rolled up', async () => {
    const target = { kind: 'promptVersion' as const, name: 'support-answer', version: '3' };
    const before = await analytics.impactFacts('default', target, wholeRange);
    // A minute is rolled up once its last change is CHANGE_MARGIN_MS old.
    await setTimeout(CHANGE_MARGIN_MS + 200);
    for (;;) {
      const round = await analytics.rollUpLineage(new Date());
      if (round.pending === 0 || round.minutes === 0) break;
    }
    expect((await rolledUpRuns(exec, 'default', wholeRange.from, wholeRange.to)).length).toBeGreaterThan(0);
    expect(await analytics.impactFacts('default', target, wholeRange)).toEqual(before);
    expect(await impact.impactFacts('default', target, wholeRange, { rollup: false })).toEqual(before);
  });

  it('answers the same responses the plan was for', async () => {
    const facts = await analytics.impactFacts('default', { kind: 'promptVersion', name: 'support-answer', version: '3' }, wholeRange);
    expect(facts.responses).toBe(40000);
  });
});
