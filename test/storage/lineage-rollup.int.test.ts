import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedSpan } from '../../src/domain/span.ts';
import { LineageResolver } from '../../src/ingest/lineage-resolver.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { lineageTimeline } from '../../src/storage/clickhouse/clickhouse-lineage-timeline.ts';
import { CHANGE_MARGIN_MS, minuteRuns, rolledUpMinutes, rolledUpRuns } from '../../src/storage/clickhouse/clickhouse-lineage-rollup.ts';
import { ClickHouseImpact } from '../../src/storage/clickhouse/clickhouse-impact.ts';
import { ClickHouseRetention } from '../../src/storage/clickhouse/clickhouse-retention.ts';
import { ClickHouseSpanAnalytics } from '../../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import { migrate, MIGRATIONS } from '../../src/storage/clickhouse/migrations.ts';
import type { ImpactFilter, TimelineRow } from '../../src/storage/span-analytics.ts';
import { createSpan, newTraceId } from '../helpers/factories.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The per-minute lineage rollup that what-changed and impact read over long windows, on the engine:
// what they answer is what the response list alone answers — for a store written before the rollup existed,
// after a late parent revises the lineage of spans in minutes already rolled up, and after a
// deletion request — and the minutes it answers from are the ones rolled up since they last changed.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Math.floor(Date.now() / MINUTE) * MINUTE;
const WINDOW = { from: new Date(NOW - 4 * HOUR + 17_000), to: new Date(NOW + 5 * MINUTE), bucketSeconds: 600 };
const PROJECT = 'default';

/** A seeded generator, so that the traffic is the same on every run. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s / 4_294_967_296;
  };
}

/** A model call at `at` with its lineage, tokens, status and duration. */
function call(at: number, r: () => number, over: { traceId?: string; parentSpanId?: string; prompt?: [string, number] | null } = {}): DecodedSpan {
  const start = BigInt(at) * 1_000_000n;
  const prompt = over.prompt === undefined ? (['answer', r() < 0.5 ? 1 : 2] as [string, number]) : over.prompt;
  return createSpan({
    ...(over.traceId ? { traceId: over.traceId } : {}),
    ...(over.parentSpanId ? { parentSpanId: over.parentSpanId } : {}),
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.round(200 + r() * 600)) * 1_000_000n,
    statusCode: r() < 0.1 ? 2 : 1,
    attrs: {
      'gen_ai.provider.name': 'openai',
      'gen_ai.response.model': r() < 0.7 ? 'gpt-4o-2024-08-06' : 'gpt-4o-2024-11-20',
      'gen_ai.response.id': `resp-${newTraceId()}`,
      'gen_ai.data_source.id': r() < 0.5 ? 'kb-1' : 'kb-2',
      'gen_ai.usage.input_tokens': Math.round(500 + r() * 500),
      'gen_ai.usage.output_tokens': Math.round(100 + r() * 300),
      ...(prompt ? { 'gen_ai.prompt.name': prompt[0], 'gen_ai.prompt.version': prompt[1] } : {}),
    },
    resourceAttrs: { 'service.name': r() < 0.8 ? 'support-bot' : 'triage-bot', 'service.version': '1.0.0' },
  });
}

/** Rows in a canonical order with sums rounded (floating-point sums are added in another order). */
function canonical(rows: readonly TimelineRow[]) {
  const m = (x: { n: number; sum: number; sumSquares: number }) => [x.n, Math.round(x.sum * 1e3) / 1e3, Math.round(x.sumSquares)];
  return rows
    .map((r) => [r.bucket.toISOString(), r.dimension, JSON.stringify(r.value), r.responses, r.errors, m(r.latencyMs), m(r.inputTokens), m(r.outputTokens)])
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('the per-minute lineage rollup', () => {
  const dir = tempDataDir('lineage-rollup-');
  let exec: ChdbExecutor;
  let store: ClickHouseSpanStore;
  let analytics: ClickHouseSpanAnalytics;
  let resolver: LineageResolver;
  let token = 0;
  const r = random(7);

  const ingest = async (spans: DecodedSpan[]) => {
    const out = await resolver.resolve(PROJECT, spans.map((span) => ({ span, own: readOwnLineage(span) })));
    await (await store.stageSpans(PROJECT, out.spans)).write(`rollup-${++token}`);
    await store.applyFixups(PROJECT, out.fixups);
  };
  /** What the response list alone answers, and what the service answers (the rollup where it may). */
  const fromList = async (scope = {}) => canonical(await lineageTimeline(exec, PROJECT, scope, WINDOW, { rollup: false }));
  const answered = async (scope = {}) => canonical(await analytics.lineageTimeline(PROJECT, scope, WINDOW));
  /** Rolls up every changed minute, once the last change is old enough to be rolled up. */
  const rollAll = async () => {
    await setTimeout(CHANGE_MARGIN_MS + 200);
    let rounds = 0;
    for (;;) {
      const round = await analytics.rollUpLineage(new Date());
      rounds++;
      if (round.pending === 0 || round.minutes === 0) return rounds;
    }
  };
  const rolled = async () => {
    const minutes = await rolledUpMinutes(exec, PROJECT, WINDOW.from, WINDOW.to);
    // The engine finds the same runs of minutes as the minutes themselves make.
    expect(await rolledUpRuns(exec, PROJECT, WINDOW.from, WINDOW.to)).toEqual(minuteRuns(minutes));
    return minutes;
  };
  /** Impact of each target, through the rollup where it may, equal to the list's alone (counts, histogram, apps, versions, models, datasets, first and last seen). */
  const TARGETS: ImpactFilter[] = [
    { kind: 'promptVersion', name: 'answer', version: '2' },
    { kind: 'promptVersion', name: 'late-prompt', version: '9' },
    { kind: 'dataset', id: 'kb-1' },
    { kind: 'model', name: 'gpt-4o-2024-11-20', provider: 'openai' },
    { kind: 'appVersion', name: 'triage-bot', version: '1.0.0' },
    { kind: 'aliasMove', name: 'answer', alias: 'production', versions: ['1'], from: new Date(NOW - 3 * HOUR + 7_000), to: new Date(NOW - HOUR - 13_000) },
  ];
  const impactAgrees = async () => {
    const listAlone = new ClickHouseImpact(exec);
    for (const t of TARGETS) {
      for (const bucketSeconds of [600, 3600]) {
        const w = { ...WINDOW, bucketSeconds };
        const reference = await listAlone.impactFacts(PROJECT, t, w, { rollup: false });
        expect(await analytics.impactFacts(PROJECT, t, w), `${t.kind} by ${bucketSeconds} s`).toEqual(reference);
        // The first page read from the newest buckets only is the page read from the whole window.
        const page = { limit: 7, after: null };
        expect(await analytics.impactItems(PROJECT, t, w, page, reference.histogram)).toEqual(await analytics.impactItems(PROJECT, t, w, page));
      }
    }
  };

  beforeAll(async () => {
    exec = new ChdbExecutor(join(dir, 'clickhouse'));
    store = new ClickHouseSpanStore(exec);
    analytics = new ClickHouseSpanAnalytics(exec);
    resolver = new LineageResolver({ load: (p, ids) => store.loadStoredNodes(p, ids) });
    // Four hours of responses, one every 20 s, stored before the rollup existed.
    await migrate(exec, MIGRATIONS.filter((m) => m.version < 7));
    const spans: DecodedSpan[] = [];
    for (let at = NOW - 4 * HOUR + 3_000; at < NOW + 2 * MINUTE; at += 20_000) spans.push(call(at, r));
    await ingest(spans);
    expect(await migrate(exec)).toEqual(MIGRATIONS.filter((m) => m.version >= 7).map((m) => m.version));
  }, 120_000);

  afterAll(async () => {
    await exec?.close();
    removeDir(dir);
  });

  it('rolls up the minutes stored before it existed, and answers from them what the response list answers', async () => {
    const reference = await fromList();
    expect(reference.length).toBeGreaterThan(100);
    // Nothing rolled up yet: every minute is read from the list.
    expect(await rolled()).toEqual([]);
    expect(await answered()).toEqual(reference);
    await rollAll();
    // Every whole minute of the window that is over is now rolled up; the open tail is not.
    const minutes = await rolled();
    expect(minutes.length).toBeGreaterThan(200);
    expect(Math.max(...minutes) * 1000).toBeLessThan(NOW);
    expect(await answered()).toEqual(reference);
    expect(await answered({ app: 'triage-bot' })).toEqual(await fromList({ app: 'triage-bot' }));
    expect(await answered({ prompt: 'answer' })).toEqual(await fromList({ prompt: 'answer' }));
    await impactAgrees();
    // A round with nothing changed rolls nothing up.
    expect(await analytics.rollUpLineage(new Date())).toEqual({ minutes: 0, pending: 0 });
  });

  it("reads a minute from the list from the moment a late parent revises its spans' lineage, and rolls it up again", async () => {
    // Children two hours old arrive without a prompt; their parent, with one, comes after the roll.
    const at = NOW - 2 * HOUR + 5_000;
    const trace = newTraceId();
    const parent = createSpan({ traceId: trace, name: 'invoke_agent', kind: 1, startTimeUnixNano: BigInt(at) * 1_000_000n, endTimeUnixNano: BigInt(at + 5_000) * 1_000_000n, attrs: { 'gen_ai.prompt.name': 'late-prompt', 'gen_ai.prompt.version': 9 } });
    await ingest([call(at + 1_000, r, { traceId: trace, parentSpanId: parent.spanId, prompt: null }), call(at + 2_000, r, { traceId: trace, parentSpanId: parent.spanId, prompt: null })]);
    const minute = Math.floor((at + 1_000) / MINUTE) * 60;
    expect(await rolled()).not.toContain(minute);
    await rollAll();
    expect(await rolled()).toContain(minute);
    expect(await answered()).toEqual(await fromList());
    await ingest([parent]);
    // The revision is read from the list at once, not the roll from before it.
    expect(await rolled()).not.toContain(minute);
    const revised = await fromList();
    expect(revised.some(([, dim, value]) => dim === 'promptVersion' && value === JSON.stringify(['late-prompt', '9']))).toBe(true);
    expect(await answered()).toEqual(revised);
    await rollAll();
    expect(await rolled()).toContain(minute);
    expect(await answered()).toEqual(revised);
    await impactAgrees();
    // The key the roll from before had alone (the children without a prompt) is gone from the rollup.
    const stale = await exec.query<{ n: string }>(
      `SELECT count() AS n FROM promptline_lineage_minute WHERE ProjectId = {p:String} AND Minute = toDateTime({m:UInt32})
         AND Generation < (SELECT max(Generation) FROM promptline_lineage_minute_state WHERE ProjectId = {p:String} AND Minute = toDateTime({m:UInt32}))
       SETTINGS mutations_sync = 2`,
      { p: PROJECT, m: minute },
    );
    expect(Number(stale[0]!.n)).toBe(0);
  });

  it('answers without the traces a deletion request removed, before and after their minutes are rolled up again', async () => {
    await rollAll();
    const at = NOW - 3 * HOUR + 30_000;
    const doomed = call(at, r, { prompt: ['deleted-prompt', 1] });
    await ingest([doomed]);
    await rollAll();
    const has = (rows: Awaited<ReturnType<typeof fromList>>) => rows.some(([, dim, value]) => dim === 'promptVersion' && value === JSON.stringify(['deleted-prompt', '1']));
    expect(has(await answered())).toBe(true);
    await new ClickHouseRetention(exec).deleteTraces(PROJECT, [doomed.traceId]);
    const after = await fromList();
    expect(has(after)).toBe(false);
    expect(await answered()).toEqual(after);
    await rollAll();
    expect(await rolled()).toContain(Math.floor(at / MINUTE) * 60);
    expect(await answered()).toEqual(after);
    await impactAgrees();
  });
});
