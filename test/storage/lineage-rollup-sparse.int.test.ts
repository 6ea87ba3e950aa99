import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedSpan } from '../../src/domain/span.ts';
import { LineageResolver } from '../../src/ingest/lineage-resolver.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { lineageTimeline } from '../../src/storage/clickhouse/clickhouse-lineage-timeline.ts';
import { CHANGE_MARGIN_MS, joinRuns, rolledUpRuns } from '../../src/storage/clickhouse/clickhouse-lineage-rollup.ts';
import { ClickHouseSpanAnalytics } from '../../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import type { ClickHouseExecutor } from '../../src/storage/clickhouse/executor.ts';
import type { TimelineRow } from '../../src/storage/span-analytics.ts';
import { createSpan } from '../helpers/factories.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The rollup on sparse traffic: a response every few minutes, stored before the rollup rolled any
// of it (an upgrade, a server that was down). Each changed minute is a run of its own; rolled one
// statement pair a run, three days took thousands of statements (and parts). Runs with few
// responses between them are rolled together.

const MINUTE = 60_000;
const NOW = Math.floor(Date.now() / MINUTE) * MINUTE;
const DAYS = 3;
const WINDOW = { from: new Date(NOW - DAYS * 1_440 * MINUTE - MINUTE), to: new Date(NOW), bucketSeconds: 3_600 };
const PROJECT = 'default';

function call(at: number, n: number, version: number): DecodedSpan {
  const start = BigInt(at) * 1_000_000n;
  return createSpan({
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(300 + (n % 7) * 50) * 1_000_000n,
    attrs: {
      'gen_ai.provider.name': 'openai',
      'gen_ai.response.model': n % 3 === 0 ? 'gpt-4o-2024-08-06' : 'gpt-4o-2024-11-20',
      'gen_ai.response.id': `resp-sparse-${n}-${version}`,
      'gen_ai.usage.input_tokens': 500 + n,
      'gen_ai.prompt.name': 'answer',
      'gen_ai.prompt.version': version,
    },
  });
}

function canonical(rows: readonly TimelineRow[]) {
  return rows.map((r) => [r.bucket.toISOString(), r.dimension, JSON.stringify(r.value), r.responses, r.errors, Math.round(r.latencyMs.sum)]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('joining runs of changed minutes', () => {
  const counts = new Map([[120, 5], [180, 5], [600, 30_000]]);
  const responsesIn = (a: number, b: number) => {
    let n = 0;
    for (let m = a; m < b; m += 60) n += counts.get(m) ?? 0;
    return n;
  };
  it('joins across minutes with few responses, within the longest run, and not across a busy minute', () => {
    const runs: Array<[number, number]> = [[0, 60], [60 * 4, 60 * 5], [60 * 8, 60 * 9], [60 * 11, 60 * 12], [60 * 30, 60 * 31]];
    expect(joinRuns(runs, responsesIn, 1_440)).toEqual([[0, 60 * 9], [60 * 11, 60 * 31]]);
    // Too long to join: the next run takes the quiet minutes before it, so that what is rolled up stays one stretch.
    expect(joinRuns(runs, responsesIn, 19)).toEqual([[0, 60 * 9], [60 * 11, 60 * 12], [60 * 12, 60 * 31]]);
    expect(joinRuns(runs, responsesIn, 18)).toEqual([[0, 60 * 9], [60 * 11, 60 * 12], [60 * 30, 60 * 31]]);
    expect(joinRuns(runs, responsesIn, 1_440, 9)).toEqual([[0, 60], [60 * 4, 60 * 9], [60 * 11, 60 * 31]]);
  });
});

describe('the per-minute lineage rollup on sparse traffic', () => {
  const dir = tempDataDir('lineage-rollup-sparse-');
  let exec: ChdbExecutor;
  let store: ClickHouseSpanStore;
  let analytics: ClickHouseSpanAnalytics;
  let statements = 0;

  const ingest = async (spans: DecodedSpan[], token: string) => {
    const resolver = new LineageResolver({ load: (p, ids) => store.loadStoredNodes(p, ids) });
    const out = await resolver.resolve(PROJECT, spans.map((span) => ({ span, own: readOwnLineage(span) })));
    await (await store.stageSpans(PROJECT, out.spans)).write(token);
  };
  const rollAll = async () => {
    await setTimeout(CHANGE_MARGIN_MS + 200);
    let minutes = 0;
    for (;;) {
      const round = await analytics.rollUpLineage(new Date());
      minutes += round.minutes;
      if (round.pending === 0 || round.minutes === 0) return minutes;
    }
  };
  const fromList = async () => canonical(await lineageTimeline(exec, PROJECT, {}, WINDOW, { rollup: false }));

  beforeAll(async () => {
    exec = new ChdbExecutor(join(dir, 'clickhouse'));
    store = new ClickHouseSpanStore(exec);
    await store.migrate();
    // The rollup's statements are counted on the way to the engine.
    const counting: ClickHouseExecutor = Object.create(exec) as ClickHouseExecutor;
    counting.command = (sql, params) => {
      statements++;
      return exec.command(sql, params);
    };
    analytics = new ClickHouseSpanAnalytics(counting);
    const spans: DecodedSpan[] = [];
    // A response every 7 minutes for three days; version 2 from the second day on.
    for (let at = WINDOW.from.getTime() + 2 * MINUTE + 11_000, n = 0; at < NOW - 2 * MINUTE; at += 7 * MINUTE, n++) spans.push(call(at, n, at < NOW - 2 * 1_440 * MINUTE ? 1 : 2));
    await ingest(spans, 'sparse-1');
  }, 120_000);

  afterAll(async () => {
    await exec?.close();
    removeDir(dir);
  });

  it('rolls up three days of a response every seven minutes in a few statements, and answers as the list does', async () => {
    const reference = await fromList();
    expect(reference.length).toBeGreaterThan(50);
    const responseMinutes = Math.floor((DAYS * 1_440 - 4) / 7);
    expect(await rollAll()).toBeGreaterThanOrEqual(responseMinutes);
    // Two inserts a statement range (a day) and a query or two, not two inserts per minute with a response.
    expect(statements).toBeLessThanOrEqual(4 * (DAYS + 1));
    expect(canonical(await analytics.lineageTimeline(PROJECT, {}, WINDOW))).toEqual(reference);
    // Rolled up as one stretch, from the first response's minute to the last one's.
    const runs = await rolledUpRuns(exec, PROJECT, WINDOW.from, WINDOW.to);
    expect(runs).toHaveLength(1);
    expect((runs[0]![1] - runs[0]![0]) / 60).toBeGreaterThan(DAYS * 1_430);
  });

  it('rolls a late change to an old minute again beside new ones, and still answers as the list does', async () => {
    statements = 0;
    // A response in a minute two days ago, and new ones in the last minutes.
    await ingest([call(NOW - 2 * 1_440 * MINUTE + 30_000, 9_001, 3), call(NOW - 3 * MINUTE + 5_000, 9_002, 3)], 'sparse-2');
    expect(await rollAll()).toBe(2);
    expect(statements).toBeLessThanOrEqual(6);
    expect(canonical(await analytics.lineageTimeline(PROJECT, {}, WINDOW))).toEqual(await fromList());
  });
});
