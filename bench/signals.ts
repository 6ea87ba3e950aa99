// Drift and what changed at N spans (issue 19's cost line): GET /v1/what-changed and GET /v1/drift
// as their routes call them — whatChanged() and drift() (src/impact/) on the real
// ClickHouseSpanAnalytics over the in-process engine, whatChanged with a RegistryService on SQLite
// holding the alias moves — each case 20 runs after 2 warm-ups, p50 / p95 and the process's CPU
// time per call, plus the store's own query alone and the rows the engine reads for it (EXPLAIN
// ESTIMATE: chdb has no system.query_log).
//
// The data: spans generated in the engine (INSERT … SELECT from numbers(), as bench/lookup-data.ts
// does) into otel_traces with the columns the span store writes, so that the materialized views
// fill promptline_response_list (token counts and finish reasons read from the span attributes by
// migration 6's view) without encoding rows in JavaScript (13 min for 10 M on this 2-core machine
// while it was shared with other work).
// Agent traces of 4 spans over 7 days ending at a fixed END: an invoke_agent root with the prompt
// version, alias, datasets and conversation, two model calls (response ids, model, token counts,
// finish reasons), a tool call. Three apps (support-bot 50 %, ops-agent 30 %, notes-app 20 %, the
// last sending no response ids: its model calls are its responses), 5 prompts, versions moving
// over the week (production and canary aliases), 3 models, 4 dataset sets, 2 % errors, a second
// project with a tenth of the traces, 1 % of the traces with a second lineage revision of their
// model calls (a late parent), the last 24 h inserted in small batches as the writer leaves them.
// Known changes in support-bot: support-answer v3 (canary at day 4, production at day 5) writes
// ~2.6× longer outputs; dataset kb-2026-11 from day 3 adds ~250 input tokens; app 1.5.0 rolls out
// at day 4 with no effect; the model snapshot moves from gpt-4o-2024-08-06 to gpt-4o-2024-11-20
// 18 h before END with 3× the error rate.
//
// The data directory is kept (default /tmp/promptline-bench-signals-N) and reused when its shape
// matches (remove it, or give another --data, to build it again). --experiments then times rewrites of the queries on the same
// data (without FINAL, GROUPING SETS instead of ARRAY JOIN, a per-minute rollup table) in tables of
// the bench's own directory.
//
//   node --conditions=@promptline/source bench/signals.ts [--spans 10000000] [--runs 20] [--data DIR] [--experiments [--experiment-set all|timeline|drift] [--experiment-runs 5] [--skip-cases]]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { drift, type DriftQuery } from '../src/impact/drift.ts';
import { whatChanged, type WhatChangedQuery, bucketSecondsFor } from '../src/impact/what-changed.ts';
import { silentLogger } from '../src/common/logger.ts';
import { RegistryService } from '../src/registry/registry-service.ts';
import { ChdbExecutor } from '../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanAnalytics } from '../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { ClickHouseSpanStore } from '../src/storage/clickhouse/clickhouse-span-store.ts';
import { lineageTimeline } from '../src/storage/clickhouse/clickhouse-lineage-timeline.ts';
import { CHANGE_MARGIN_MS } from '../src/storage/clickhouse/clickhouse-lineage-rollup.ts';
import { migrate } from '../src/storage/clickhouse/migrations.ts';
import { SqliteLineageGraph } from '../src/storage/sqlite/sqlite-lineage-graph.ts';
import { SqliteRegistry } from '../src/storage/sqlite/sqlite-registry.ts';

const { values: args } = parseArgs({
  options: {
    spans: { type: 'string', default: '10000000' },
    runs: { type: 'string', default: '20' },
    data: { type: 'string' },
    experiments: { type: 'boolean', default: false },
    'build-only': { type: 'boolean', default: false },
    'experiment-runs': { type: 'string', default: '5' },
    /** all | timeline | drift */
    'experiment-set': { type: 'string', default: 'all' },
    /** Only the experiments. */
    'skip-cases': { type: 'boolean', default: false },
  },
});
const SPANS = Number(args.spans);
const RUNS = Number(args.runs);
const EXPERIMENT_RUNS = Number(args['experiment-runs']);
const SHAPE_VERSION = 1;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 30);
const START = END - 7 * DAY;
const SPANS_PER_TRACE = 4;
const PROJECT = 'default';
const dir = args.data ?? join(tmpdir(), `promptline-bench-signals-${SPANS}`);

const loadBefore = loadavg().map((l) => +l.toFixed(2));
const exec = new ChdbExecutor(join(dir, 'clickhouse'));

// What the engine reads for each query: chdb has no system.query_log and its result metrics count
// the rows it returns, so each SELECT a call made is asked again as EXPLAIN ESTIMATE (the parts,
// granules and rows of every table it will read, after the primary key and partition pruning).
interface QueryStat {
  sql: string;
  parts: number;
  marks: number;
  rows: number;
}
type RawQuery = (sql: string, params?: unknown, opts?: unknown) => Promise<{ text(): string }>;
const session = (exec as unknown as { session: { queryBindAsync: RawQuery } }).session;
const rawQuery = session.queryBindAsync.bind(session);
let recording: Array<{ sql: string; params: unknown }> | null = null;
session.queryBindAsync = async (sql: string, params?: unknown, opts?: unknown) => {
  recording?.push({ sql, params });
  return rawQuery(sql, params, opts);
};
async function engineStats<T>(fn: () => Promise<T>): Promise<QueryStat[]> {
  recording = [];
  await fn();
  const calls = recording;
  recording = null;
  const out: QueryStat[] = [];
  for (const c of calls) {
    if (!/^\s*SELECT/i.test(c.sql)) continue;
    const text = (await rawQuery(`EXPLAIN ESTIMATE ${c.sql}`, c.params ?? {}, { format: 'JSONEachRow' })).text();
    const rows = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { parts: string; rows: string; marks: string });
    out.push({ sql: c.sql.replace(/\s+/g, ' ').slice(0, 60), parts: rows.reduce((a, r) => a + Number(r.parts), 0), marks: rows.reduce((a, r) => a + Number(r.marks), 0), rows: rows.reduce((a, r) => a + Number(r.rows), 0) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The data

/** The trace-level lineage of trace `t` (at `tms`, `day` days after START) and its spans' rows. */
const SPAN_SQL = `
  INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, ProjectId, ServiceName, SpanName, SpanKind, Duration, StatusCode, StatusMessage,
    ResourceAttributes, SpanAttributes, ScopeName, ScopeVersion,
    PromptName, PromptVersion, PromptAlias, PromptSpanId, PromptRegistration, ModelProvider, ModelName, ResponseId, DatasetIds,
    AppName, AppVersion, ConversationId, LineageOwnMask, LineageRevision)
  SELECT
    fromUnixTimestamp64Milli(toInt64(tms + multiIf(pos = 0, 0, pos = 1, 100, pos = 2, 1100, 1000))) AS Timestamp,
    lower(hex(reinterpretAsFixedString(cityHash64(t, 1)))) || lower(hex(reinterpretAsFixedString(cityHash64(t, 2)))) AS TraceId,
    lower(hex(reinterpretAsFixedString(cityHash64(n, 3)))) AS SpanId,
    if(pos = 0, '', root_id) AS ParentSpanId,
    project, app,
    multiIf(pos = 0, concat('invoke_agent ', app), pos = 3, 'execute_tool lookup_order', concat('chat ', model)),
    multiIf(pos = 0, 'Internal', pos = 3, 'Internal', 'Client'),
    toUInt64(multiIf(pos = 0, 2 * call_ms + 300, pos = 3, 40, call_ms) * 1000000),
    if(pos IN (1, 2) AND error, 'Error', 'Unset'),
    if(pos IN (1, 2) AND error, 'upstream timeout', ''),
    map('service.name', app, 'service.version', app_version, 'telemetry.sdk.language', 'nodejs'),
    multiIf(
      pos = 0, map('gen_ai.operation.name', 'invoke_agent', 'gen_ai.prompt.name', prompt, 'gen_ai.prompt.version', version,
                   'promptline.prompt.alias', alias, 'gen_ai.conversation.id', conversation),
      pos = 3, map('gen_ai.operation.name', 'execute_tool', 'gen_ai.tool.name', 'lookup_order', 'gen_ai.tool.call.arguments', '{"order":4711}'),
      mapUpdate(mapUpdate(
        map('gen_ai.operation.name', 'chat', 'gen_ai.provider.name', provider, 'gen_ai.request.model', model, 'gen_ai.response.model', model,
            'gen_ai.usage.input_tokens', toString(in_tokens), 'gen_ai.usage.output_tokens', toString(out_tokens)),
        if(error, map('error.type', 'timeout'), map('gen_ai.response.finish_reasons', concat('["', finish, '"]')))),
        if(response_id != '', map('gen_ai.response.id', response_id), map('gen_ai.response.finish_reasons', if(error, '', concat('["', finish, '"]')))))),
    '@promptline/instrumentation', '0.1.0',
    prompt, version, alias, root_id, registration,
    if(pos IN (1, 2), provider, ''), if(pos IN (1, 2), model, ''),
    response_id,
    datasets,
    app, app_version, if({revision:UInt32} = 0, conversation, concat(conversation, '-late')),
    multiIf(pos = 0, 29, pos = 3, 16, 18),
    {revision:UInt32}
  FROM (
    SELECT *,
      -- errors on model calls: 2 %, 6 % on the new snapshot
      cityHash64(n, 5) % 10000 < if(model = 'gpt-4o-2024-11-20', 600, 200) AS error,
      700 + cityHash64(n, 6) % 500 + if(has(datasets, 'kb-2026-11'), 250, 0) AS in_tokens,
      if(prompt = 'support-answer' AND version = '3', 250 + cityHash64(n, 7) % 500, 80 + cityHash64(n, 7) % 220) AS out_tokens,
      multiIf(out_tokens >= 700, 'length', pos = 1 AND cityHash64(n, 8) % 100 < 15, 'tool_calls', 'stop') AS finish,
      toInt64(250 + out_tokens * 12 + cityHash64(n, 9) % 400) AS call_ms,
      if(pos IN (1, 2) AND app != 'notes-app', concat('chatcmpl-', lower(hex(reinterpretAsFixedString(cityHash64(n, 10))))), '') AS response_id
    FROM (
      SELECT *,
        multiIf(app = 'support-bot', if(h_prompt < 70, 'support-answer', 'triage'), app = 'ops-agent', if(h_prompt < 60, 'summarize', 'escalate'), 'classify') AS prompt,
        if(app = 'notes-app', '', if(h_alias < 90, 'production', 'canary')) AS alias,
        toString(multiIf(
          prompt = 'support-answer', if(alias = 'canary', multiIf(day < 1, 1, day < 4, 2, 3), multiIf(day < 2, 1, day < 5, 2, 3)),
          prompt = 'triage', if(alias = 'canary' OR day >= 3, 2, 1),
          prompt = 'summarize', if(alias = 'canary' OR day >= 3.5, 6, 5),
          prompt = 'escalate', 1,
          2)) AS version,
        multiIf(app = 'notes-app', 'unregistered', cityHash64(t, 12) % 100 = 0, 'template_mismatch', 'registered') AS registration,
        multiIf(app = 'support-bot', if(tms >= {switchAt:Int64}, 'gpt-4o-2024-11-20', 'gpt-4o-2024-08-06'), app = 'ops-agent', 'claude-sonnet-4-20250514', 'gpt-4.1-mini-2025-04-14') AS model,
        if(app = 'ops-agent', 'anthropic', 'openai') AS provider,
        CAST(multiIf(prompt = 'support-answer', [if(day < 3, 'kb-2026-10', 'kb-2026-11')], prompt = 'triage', ['returns'], app = 'ops-agent', ['runbooks-v2'], []), 'Array(String)') AS datasets,
        multiIf(app = 'support-bot', if(day >= 4 + (cityHash64(t, 13) % 100) / 400, '1.5.0', '1.4.0'), app = 'ops-agent', '0.9.0', '2.1.0') AS app_version
      FROM (
        SELECT number AS n, intDiv(number, ${SPANS_PER_TRACE}) AS t, number % ${SPANS_PER_TRACE} AS pos,
          {start:Int64} + toInt64(t * {step:Float64}) AS tms,
          (tms - {start:Int64}) / ${DAY} AS day,
          if(t % 10 = 9, 'other', 'default') AS project,
          multiIf(cityHash64(t, 11) % 100 < 50, 'support-bot', cityHash64(t, 11) % 100 < 80, 'ops-agent', 'notes-app') AS app,
          cityHash64(t, 14) % 100 AS h_prompt,
          cityHash64(t, 15) % 100 AS h_alias,
          concat('conv-', toString(cityHash64(t, 16) % 50000)) AS conversation,
          lower(hex(reinterpretAsFixedString(cityHash64(t * ${SPANS_PER_TRACE}, 3)))) AS root_id
        FROM numbers({from:UInt64}, {count:UInt64})
      )
    )
  )
  WHERE {revision:UInt32} = 0 OR (t % 100 = 42 AND pos IN (1, 2))
  SETTINGS throw_on_max_partitions_per_insert_block = 0`;

/** The registry as the alias moves of the week left it (each move stamped at its time). */
async function buildRegistry(): Promise<void> {
  let now = new Date(START - 2 * DAY);
  const registry = new SqliteRegistry(join(dir, 'records.sqlite'), { clock: { now: () => now } });
  await registry.migrate();
  const graph = new SqliteLineageGraph(join(dir, 'lineage.sqlite'));
  await graph.migrate();
  const service = new RegistryService({ registry, graph, logger: silentLogger });
  const versions: Record<string, number> = { 'support-answer': 3, triage: 2, summarize: 6, escalate: 1, classify: 2 };
  for (const [name, count] of Object.entries(versions)) {
    for (let v = 1; v <= count; v++) await service.register(PROJECT, 'alice', { name, template: `${name} v${v}: {{question}}`, commitMessage: `v${v}`, tags: [] });
  }
  const moves: Array<[number, string, string, number, string]> = [
    [START - DAY, 'support-answer', 'production', 1, 'first release'],
    [START - DAY, 'support-answer', 'canary', 1, 'first release'],
    [START - DAY, 'triage', 'production', 1, 'first release'],
    [START - DAY, 'triage', 'canary', 2, 'try v2'],
    [START - DAY, 'summarize', 'production', 5, 'release'],
    [START - DAY, 'summarize', 'canary', 6, 'try v6'],
    [START - DAY, 'escalate', 'production', 1, 'first release'],
    [START - DAY, 'escalate', 'canary', 1, 'first release'],
    [START + 1 * DAY, 'support-answer', 'canary', 2, 'try v2'],
    [START + 2 * DAY, 'support-answer', 'production', 2, 'v2 passed the canary'],
    [START + 3 * DAY, 'triage', 'production', 2, 'v2 passed the canary'],
    [START + 3.5 * DAY, 'summarize', 'production', 6, 'v6 passed the canary'],
    [START + 4 * DAY, 'support-answer', 'canary', 3, 'try v3: more thorough answers'],
    [START + 5 * DAY, 'support-answer', 'production', 3, 'v3 passed the canary'],
  ];
  for (const [at, name, alias, version, reason] of moves) {
    now = new Date(at);
    await service.moveAlias(PROJECT, 'bob', { name, alias, version, reason });
  }
  await registry.close();
  await graph.close();
}

async function buildData(): Promise<{ seconds: number; inserts: number }> {
  const t0 = performance.now();
  await new ClickHouseSpanStore(exec).migrate();
  const traces = Math.floor(SPANS / SPANS_PER_TRACE);
  const total = traces * SPANS_PER_TRACE;
  const step = (END - START) / traces;
  const lastDayFrom = Math.floor((traces * 6) / 7) * SPANS_PER_TRACE;
  const params = { start: START, step, switchAt: END - 18 * HOUR };
  let inserts = 0;
  const insert = async (from: number, count: number, revision: number) => {
    await exec.command(SPAN_SQL, { ...params, from, count, revision });
    inserts++;
  };
  // Six days in batches of 500,000 spans (parts as merges would have left them), the last day as the writer writes (20,000 a batch, ~100 s apart).
  for (let from = 0; from < lastDayFrom; from += 500_000) await insert(from, Math.min(500_000, lastDayFrom - from), 0);
  for (let from = lastDayFrom; from < total; from += 20_000) {
    await insert(from, Math.min(20_000, total - from), 0);
    if (inserts % 50 === 0) console.error(`${from.toLocaleString('en-US')} spans, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  // The late parents: a second revision of 1 % of the traces' model calls.
  for (let from = 0; from < total; from += 2_000_000) await insert(from, Math.min(2_000_000, total - from), 1);
  await buildRegistry();
  return { seconds: +((performance.now() - t0) / 1000).toFixed(1), inserts };
}

const metaFile = join(dir, 'bench-signals.json');
interface Meta {
  shapeVersion: number;
  spans: number;
  end: number;
  build: { seconds: number; inserts: number; at: string };
}
let meta: Meta | null = existsSync(metaFile) ? (JSON.parse(readFileSync(metaFile, 'utf8')) as Meta) : null;
let reused = true;
if (!meta || meta.shapeVersion !== SHAPE_VERSION || meta.spans !== SPANS || meta.end !== END) {
  const [tables] = await exec.query<{ n: string }>(`SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'otel_traces'`);
  if (Number(tables?.n) > 0) throw new Error(`${dir} holds other data: remove it or give another --data`);
  reused = false;
  const build = await buildData();
  meta = { shapeVersion: SHAPE_VERSION, spans: SPANS, end: END, build: { ...build, at: new Date().toISOString() } };
  writeFileSync(metaFile, JSON.stringify(meta, null, 2));
  console.error(`built in ${build.seconds} s`);
}

if (args['build-only']) {
  await exec.close();
  process.exit(0);
}

const analytics = new ClickHouseSpanAnalytics(exec);
// A store built before a later migration gets it here (migration 7 marks every minute stored before as changed).
const migrated = await migrate(exec);
if (migrated.length > 0) console.error(`migrated the reused store: ${migrated.join(', ')}`);
const registry = new SqliteRegistry(join(dir, 'records.sqlite'));
const graph = new SqliteLineageGraph(join(dir, 'lineage.sqlite'));
const registryService = new RegistryService({ registry, graph, logger: silentLogger });

const [shape] = await exec.query<Record<string, string>>(
  `SELECT (SELECT sum(rows) FROM system.parts WHERE active AND table = 'otel_traces') AS spanRows,
          (SELECT count() FROM system.parts WHERE active AND table = 'otel_traces') AS spanParts,
          (SELECT sum(rows) FROM system.parts WHERE active AND table = 'promptline_response_list') AS listRows,
          (SELECT count() FROM system.parts WHERE active AND table = 'promptline_response_list') AS listParts,
          (SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = 'promptline_response_list') AS listBytes,
          (SELECT count() FROM promptline_response_list FINAL WHERE ProjectId = 'default' AND Excluded = 0) AS responses,
          (SELECT count() FROM promptline_response_list FINAL WHERE ProjectId = 'default' AND AppName = 'support-bot' AND Excluded = 0) AS supportBot,
          (SELECT count() FROM promptline_response_list FINAL WHERE ProjectId = 'default' AND AppName = 'support-bot' AND Excluded = 0 AND Timestamp >= {day:DateTime64(3)}) AS supportBotDay`,
  { day: new Date(END - DAY).toISOString().replace('T', ' ').replace('Z', '') },
);
console.error(JSON.stringify(shape));

// ---------------------------------------------------------------------------------------------
// Timing

function percentiles(times: number[]) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(sorted.at(-1)!) };
}
/** Wall time p50 / p95 / max over `runs` after 2 warm-ups, and the process's CPU time per call (p50: engine threads and JavaScript, all cores). */
async function time<T>(fn: () => Promise<T>, runs = RUNS): Promise<{ p50: number; p95: number; max: number; cpuP50: number; last: T }> {
  const times: number[] = [];
  const cpu: number[] = [];
  let last!: T;
  for (let i = 0; i < runs + 2; i++) {
    const c = process.cpuUsage();
    const s = performance.now();
    last = await fn();
    if (i >= 2) {
      times.push(performance.now() - s);
      const d = process.cpuUsage(c);
      cpu.push((d.user + d.system) / 1000);
    }
  }
  return { ...percentiles(times), cpuP50: percentiles(cpu).p50, last };
}
const summed = (stats: QueryStat[]) => ({ queries: stats.length, granules: stats.reduce((a, s) => a + s.marks, 0), rowsInGranules: stats.reduce((a, s) => a + s.rows, 0), perQuery: stats.map((s) => `${s.rows} rows / ${s.marks} granules / ${s.parts} parts: ${s.sql}`) });

// The lineage rollup caught up as the server's scheduled rounds would (each round bounded), timed whole.
const rollup = await (async () => {
  // A minute is rolled up once its last change is CHANGE_MARGIN_MS old (the migration marked them all just now).
  await new Promise((r) => setTimeout(r, CHANGE_MARGIN_MS + 100));
  const t0 = performance.now();
  let rounds = 0;
  let minutes = 0;
  for (;;) {
    const r = await analytics.rollUpLineage(new Date());
    rounds++;
    minutes += r.minutes;
    if (r.pending === 0 || r.minutes === 0) break;
  }
  const catchUpMs = Math.round(performance.now() - t0);
  const [parts] = await exec.query<{ rows: string; bytes: string }>(`SELECT sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts WHERE active AND table = 'promptline_lineage_minute'`);
  // What a round costs when the last hour changed (a late span in each of its minutes): every project's hour rolled up again.
  const hour = new Date(END - HOUR).toISOString().slice(0, 19).replace('T', ' ');
  // Each change is marked as settled (older than the margin) but after the roll before it, which is a second old.
  const again: number[] = [];
  let againMinutes = 0;
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    await exec.command(
      `INSERT INTO promptline_minutes_changed SELECT ProjectId, Minute, toUInt64(toUnixTimestamp64Milli(now64(3))) - {age:UInt64} FROM promptline_lineage_minute_state WHERE Minute >= {hour:DateTime} GROUP BY ProjectId, Minute`,
      { hour, age: CHANGE_MARGIN_MS + 200 },
    );
    const s = performance.now();
    againMinutes = (await analytics.rollUpLineage(new Date())).minutes;
    again.push(performance.now() - s);
  }
  return { rounds, minutes, catchUpMs, rows: Number(parts?.rows ?? 0), bytes: Number(parts?.bytes ?? 0), lastHourAgain: { ...percentiles(again), minutes: againMinutes } };
})();
console.error(JSON.stringify({ rollup }));

const window24h = { from: new Date(END - DAY), to: new Date(END) };
const window7d = { from: new Date(START), to: new Date(END) };
const wcCases: Array<{ name: string; q: WhatChangedQuery }> = [
  { name: 'app=support-bot, error_rate, 24 h', q: { app: 'support-bot', metric: 'error_rate', ...window24h } },
  { name: 'app=support-bot, output_tokens, 24 h', q: { app: 'support-bot', metric: 'output_tokens', ...window24h } },
  { name: 'app=support-bot, error_rate, 7 d', q: { app: 'support-bot', metric: 'error_rate', ...window7d } },
  { name: 'app=support-bot, output_tokens, 7 d', q: { app: 'support-bot', metric: 'output_tokens', ...window7d } },
];
const v3 = { prompt: 'support-answer', version: '3' } as const;
const prod = { prompt: 'support-answer', alias: 'production' } as const;
const driftCases: Array<{ name: string; q: DriftQuery }> = [
  { name: 'support-answer v3, baseline the 24 h before', q: { target: v3, baseline: { kind: 'window', from: new Date(END - 2 * DAY), to: new Date(END - DAY) }, ...window24h } },
  { name: 'support-answer v3, baseline first_days 1', q: { target: v3, baseline: { kind: 'first_days', days: 1 }, ...window24h } },
  { name: 'support-answer@production, baseline the first 24 h of the week', q: { target: prod, baseline: { kind: 'window', from: new Date(START), to: new Date(START + DAY) }, ...window24h } },
  { name: 'support-answer@production, baseline first_days 1', q: { target: prod, baseline: { kind: 'first_days', days: 1 }, ...window24h } },
];

const results: Array<Record<string, unknown>> = [];
for (const c of args['skip-cases'] ? [] : wcCases) {
  const service = await time(() => whatChanged({ analytics, registry: registryService }, PROJECT, c.q));
  const w = { from: c.q.from, to: c.q.to, bucketSeconds: bucketSecondsFor(c.q.from, c.q.to) };
  const store = await time(() => analytics.lineageTimeline(PROJECT, { app: c.q.app! }, w), Math.ceil(RUNS / 2));
  const listOnly = await time(() => lineageTimeline(exec, PROJECT, { app: c.q.app! }, w, { rollup: false }), Math.ceil(RUNS / 2));
  const engine = summed(await engineStats(() => analytics.lineageTimeline(PROJECT, { app: c.q.app! }, w)));
  const a = service.last;
  const top = a.changes[0];
  const row = {
    endpoint: 'what-changed',
    case: c.name,
    service: { p50: service.p50, p95: service.p95, max: service.max, cpuP50: service.cpuP50 },
    timelineQuery: { p50: store.p50, p95: store.p95, cpuP50: store.cpuP50 },
    timelineFromTheListAlone: { p50: listOnly.p50, p95: listOnly.p95, cpuP50: listOnly.cpuP50 },
    engine,
    responses: a.responses,
    timelineRows: store.last.length,
    verdict: a.verdict.summary,
    top: top && { description: top.description, at: top.at, explainedShare: top.explainedShare },
  };
  results.push(row);
  console.error(JSON.stringify(row));
}
for (const c of args['skip-cases'] ? [] : driftCases) {
  const service = await time(() => drift(analytics, PROJECT, c.q));
  const engine = summed(await engineStats(() => drift(analytics, PROJECT, c.q)));
  const a = service.last;
  const row = {
    endpoint: 'drift',
    case: c.name,
    service: { p50: service.p50, p95: service.p95, max: service.max, cpuP50: service.cpuP50 },
    engine,
    baseline: a.baseline,
    current: a.current,
    drifted: a.drifted,
  };
  results.push(row);
  console.error(JSON.stringify(row));
}

// ---------------------------------------------------------------------------------------------
// Experiments: the same answers, read differently

const experiments: Array<Record<string, unknown>> = [];
if (args.experiments) {
  const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');
  const AGG = `count() AS n, countIf(StatusCode = 'Error') AS errors,
       count() AS latN, sum(Duration / 1e6) AS latSum, sum(pow(Duration / 1e6, 2)) AS latSq,
       countIf(InputTokens >= 0) AS inN, sumIf(toFloat64(InputTokens), InputTokens >= 0) AS inSum, sumIf(pow(toFloat64(InputTokens), 2), InputTokens >= 0) AS inSq,
       countIf(OutputTokens >= 0) AS outN, sumIf(toFloat64(OutputTokens), OutputTokens >= 0) AS outSum, sumIf(pow(toFloat64(OutputTokens), 2), OutputTokens >= 0) AS outSq`;
  const DIMS = `[('promptVersion', [toString(PromptName), toString(PromptVersion)]), ('registration', [toString(PromptRegistration)]), ('model', [toString(ModelProvider), toString(ModelName)]), ('datasets', CAST(arraySort(DatasetIds), 'Array(String)')), ('appVersion', [toString(AppName), toString(AppVersion)])]`;
  const COLS = 'Timestamp, StatusCode, Duration, InputTokens, OutputTokens, PromptName, PromptVersion, PromptRegistration, ModelProvider, ModelName, DatasetIds, AppName, AppVersion';
  const WHERE = 'ProjectId = {project:String} AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)} AND AppName = {app:String} AND Excluded = 0';
  const arrayJoin = (final: string) => `SELECT toUInt32(toStartOfInterval(Timestamp, toIntervalSecond({bucket:UInt32}))) AS b, d.1 AS dim, d.2 AS val, ${AGG}
     FROM (SELECT ${COLS} FROM promptline_response_list ${final} WHERE ${WHERE} SETTINGS do_not_merge_across_partitions_select_final = 1)
     ARRAY JOIN ${DIMS} AS d GROUP BY b, dim, val ORDER BY b, dim, val`;
  const groupingSets = (final: string) => `SELECT toUInt32(toStartOfInterval(Timestamp, toIntervalSecond({bucket:UInt32}))) AS b,
       PromptName, PromptVersion, PromptRegistration, ModelProvider, ModelName, Datasets, AppName, AppVersion,
       grouping(PromptName, PromptRegistration, ModelName, Datasets, AppVersion) AS g, ${AGG}
     FROM (SELECT ${COLS}, arraySort(DatasetIds) AS Datasets FROM promptline_response_list ${final} WHERE ${WHERE} SETTINGS do_not_merge_across_partitions_select_final = 1)
     GROUP BY GROUPING SETS ((b, PromptName, PromptVersion), (b, PromptRegistration), (b, ModelProvider, ModelName), (b, Datasets), (b, AppName, AppVersion))`;
  // A per-minute rollup of the responses by every lineage value (what a scheduled query or a view would keep).
  const ROLLUP_DDL = `CREATE TABLE IF NOT EXISTS bench_timeline_minute (
      ProjectId LowCardinality(String), Minute DateTime, AppName LowCardinality(String), AppVersion LowCardinality(String),
      PromptName LowCardinality(String), PromptVersion LowCardinality(String), PromptAlias LowCardinality(String), PromptRegistration LowCardinality(String),
      ModelProvider LowCardinality(String), ModelName LowCardinality(String), Datasets Array(LowCardinality(String)),
      n UInt64, errors UInt64, latN UInt64, latSum Float64, latSq Float64, inN UInt64, inSum Float64, inSq Float64, outN UInt64, outSum Float64, outSq Float64
    ) ENGINE = SummingMergeTree PARTITION BY toDate(Minute)
    ORDER BY (ProjectId, Minute, AppName, AppVersion, PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, Datasets)`;
  const ROLLUP_FILL = `INSERT INTO bench_timeline_minute
    SELECT ProjectId, toStartOfMinute(Timestamp) AS Minute, AppName, AppVersion, PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, arraySort(DatasetIds) AS Datasets, ${AGG}
    FROM promptline_response_list FINAL WHERE Excluded = 0
    GROUP BY ProjectId, Minute, AppName, AppVersion, PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, Datasets
    SETTINGS do_not_merge_across_partitions_select_final = 1, throw_on_max_partitions_per_insert_block = 0`;
  const SUMS = 'sum(n) AS n, sum(errors) AS errors, sum(latN) AS latN, sum(latSum) AS latSum, sum(latSq) AS latSq, sum(inN) AS inN, sum(inSum) AS inSum, sum(inSq) AS inSq, sum(outN) AS outN, sum(outSum) AS outSum, sum(outSq) AS outSq';
  const rollupQuery = `SELECT toUInt32(toStartOfInterval(Minute, toIntervalSecond({bucket:UInt32}))) AS b,
       PromptName, PromptVersion, PromptRegistration, ModelProvider, ModelName, Datasets, AppName, AppVersion,
       grouping(PromptName, PromptRegistration, ModelName, Datasets, AppVersion) AS g, ${SUMS}
     FROM bench_timeline_minute WHERE ProjectId = {project:String} AND Minute >= {from:DateTime} AND Minute < {to:DateTime} AND AppName = {app:String}
     GROUP BY GROUPING SETS ((b, PromptName, PromptVersion), (b, PromptRegistration), (b, ModelProvider, ModelName), (b, Datasets), (b, AppName, AppVersion))`;

  const SET = args['experiment-set'];
  if (SET === 'all' || SET === 'drift') {
    // Drift's histograms: integer bins grouped by GROUPING SETS instead of an ARRAY JOIN of 7 (signal, text bin) tuples a row.
    const logBinInt = (x: string) => `toInt64(floor(log2(${x} + 1) * 8))`;
    const driftGs = `SELECT ${logBinInt('Duration / 1e6')} AS lat, if(InputTokens >= 0, ${logBinInt('InputTokens')}, -1) AS inb, if(OutputTokens >= 0, ${logBinInt('OutputTokens')}, -1) AS outb,
        StatusCode = 'Error' AS err, FinishReason, PromptRegistration, count() AS n, grouping(lat, inb, outb, err, FinishReason, PromptRegistration) AS g
      FROM (SELECT Duration, StatusCode, InputTokens, OutputTokens, FinishReason, PromptRegistration FROM promptline_response_list FINAL
            WHERE ProjectId = {project:String} AND PromptName = {prompt:String} AND PromptVersion = {version:String} AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)} AND Excluded = 0
            SETTINGS do_not_merge_across_partitions_select_final = 1)
      GROUP BY GROUPING SETS ((lat), (inb), (outb), (err), (FinishReason), (PromptRegistration))`;
    type GsRow = { lat: string; inb: string; outb: string; err: number; FinishReason: string; PromptRegistration: string; n: string; g: number };
    const TOOL = new Set(['tool_calls', 'tool_use', 'function_call']);
    const asBins = (rows: GsRow[]) => {
      const out = new Map<string, number>();
      const put = (signal: string, bin: string, n: number) => {
        if (bin !== '') out.set(`${signal}|${bin}`, (out.get(`${signal}|${bin}`) ?? 0) + n);
      };
      for (const r of rows) {
        const bits = [5, 4, 3, 2, 1, 0].map((b) => (r.g >> b) & 1);
        const i = bits.filter((x) => x === 1).length === 1 ? bits.indexOf(1) : bits.indexOf(0);
        const n = Number(r.n);
        if (i === 0) put('latency_ms', r.lat, n);
        else if (i === 1) put('input_tokens', Number(r.inb) < 0 ? '' : r.inb, n);
        else if (i === 2) put('output_tokens', Number(r.outb) < 0 ? '' : r.outb, n);
        else if (i === 3) put('error_rate', r.err ? 'error' : 'ok', n);
        else if (i === 4) {
          put('finish_reason', r.FinishReason, n);
          put('tool_call_rate', r.FinishReason === '' ? '' : TOOL.has(r.FinishReason) ? 'tool_call' : 'no_tool_call', n);
        } else put('registration', r.PromptRegistration === '' ? 'unknown' : r.PromptRegistration, n);
      }
      return JSON.stringify([...out].sort());
    };
    const baselineW = { from: new Date(END - 2 * DAY), to: new Date(END - DAY) };
    const p = { project: PROJECT, prompt: v3.prompt, version: v3.version, from: chTime(window24h.from), to: chTime(window24h.to) };
    const reference = JSON.stringify((await analytics.signalHistograms(PROJECT, v3, window24h)).map((b) => [`${b.signal}|${b.bin}`, b.count] as [string, number]).sort());
    const variants: Array<[string, () => Promise<unknown>]> = [
      ['one window, as in src/ (signalHistograms)', () => analytics.signalHistograms(PROJECT, v3, window24h)],
      ['one window, GROUPING SETS on integer bins', () => exec.query<GsRow>(driftGs, p)],
      ['two windows one after the other, as drift() reads them', async () => [await analytics.signalHistograms(PROJECT, v3, baselineW), await analytics.signalHistograms(PROJECT, v3, window24h)]],
      ['two windows in parallel (Promise.all)', () => Promise.all([analytics.signalHistograms(PROJECT, v3, baselineW), analytics.signalHistograms(PROJECT, v3, window24h)])],
    ];
    for (const [name, fn] of variants) {
      const t = await time(fn, EXPERIMENT_RUNS);
      const row: Record<string, unknown> = { experiment: `drift histograms of support-answer v3, 24 h: ${name}`, p50: t.p50, p95: t.p95, cpuP50: t.cpuP50 };
      if (name.includes('GROUPING')) row.sameBins = asBins(t.last as GsRow[]) === reference;
      experiments.push(row);
      console.error(JSON.stringify(row));
    }
  }
  if (SET === 'all' || SET === 'timeline') {
  const s0 = performance.now();
  await exec.command('DROP TABLE IF EXISTS bench_timeline_minute');
  await exec.command(ROLLUP_DDL);
  await exec.command(ROLLUP_FILL);
  const rollupBuildMs = Math.round(performance.now() - s0);
  const [rollupShape] = await exec.query<{ rows: string; parts: string }>(`SELECT sum(rows) AS rows, count() AS parts FROM system.parts WHERE active AND table = 'bench_timeline_minute'`);
  experiments.push({ experiment: 'per-minute rollup built from promptline_response_list FINAL (all projects, 7 days)', ms: rollupBuildMs, rows: Number(rollupShape?.rows ?? 0) });

  // Checks: the same totals per dimension as the query in src/ (n, errors, output-token sum).
  type AggRow = Record<string, string | number>;
  const totals = (rows: AggRow[], dimOf: (r: AggRow) => string) => {
    const m = new Map<string, [number, number, number]>();
    for (const r of rows) {
      const k = dimOf(r);
      const t = m.get(k) ?? [0, 0, 0];
      m.set(k, [t[0] + Number(r.n), t[1] + Number(r.errors), t[2] + Math.round(Number(r.outSum))]);
    }
    return JSON.stringify([...m].sort());
  };
  const ORDER = ['promptVersion', 'registration', 'model', 'datasets', 'appVersion'];
  const gDim = (r: AggRow) => {
    const g = Number(r.g);
    const bits = [4, 3, 2, 1, 0].map((b) => (g >> b) & 1);
    const ones = bits.filter((x) => x === 1).length;
    const i = ones === 1 ? bits.indexOf(1) : bits.indexOf(0);
    return ORDER[i]!;
  };

  // The rollup as a service would read it: closed minutes from the rollup, the last hour (still open to late spans) from the list itself.
  const hybridQuery = `SELECT toUInt32(toStartOfInterval(Minute, toIntervalSecond({bucket:UInt32}))) AS b,
       PromptName, PromptVersion, PromptRegistration, ModelProvider, ModelName, Datasets, AppName, AppVersion,
       grouping(PromptName, PromptRegistration, ModelName, Datasets, AppVersion) AS g, ${SUMS}
     FROM (
       SELECT Minute, AppName, AppVersion, PromptName, PromptVersion, PromptRegistration, ModelProvider, ModelName, Datasets, n, errors, latN, latSum, latSq, inN, inSum, inSq, outN, outSum, outSq
       FROM bench_timeline_minute WHERE ProjectId = {project:String} AND Minute >= {from:DateTime} AND Minute < {tail:DateTime} AND AppName = {app:String}
       UNION ALL
       SELECT toStartOfMinute(Timestamp) AS Minute, AppName, AppVersion, PromptName, PromptVersion, PromptRegistration, ModelProvider, ModelName, arraySort(DatasetIds) AS Datasets, ${AGG}
       FROM promptline_response_list FINAL
       WHERE ProjectId = {project:String} AND Timestamp >= {tail:DateTime} AND Timestamp < {to:DateTime} AND AppName = {app:String} AND Excluded = 0
       GROUP BY Minute, AppName, AppVersion, PromptName, PromptVersion, PromptRegistration, ModelProvider, ModelName, Datasets
       SETTINGS do_not_merge_across_partitions_select_final = 1
     )
     GROUP BY GROUPING SETS ((b, PromptName, PromptVersion), (b, PromptRegistration), (b, ModelProvider, ModelName), (b, Datasets), (b, AppName, AppVersion))`;
  // What keeping the rollup costs: one hour rolled up again (a scheduled query, or after late spans), every project and app.
  const hourFill = `INSERT INTO bench_timeline_minute
    SELECT ProjectId, toStartOfMinute(Timestamp) AS Minute, AppName, AppVersion, PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, arraySort(DatasetIds) AS Datasets, ${AGG}
    FROM promptline_response_list FINAL WHERE Timestamp >= {from:DateTime} AND Timestamp < {to:DateTime} AND Excluded = 0
    GROUP BY ProjectId, Minute, AppName, AppVersion, PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, Datasets
    SETTINGS do_not_merge_across_partitions_select_final = 1`;
  {
    await exec.command(`CREATE TABLE bench_hour_fill AS bench_timeline_minute`);
    const t = await time(() => exec.command(hourFill.replace('INSERT INTO bench_timeline_minute', 'INSERT INTO bench_hour_fill'), { from: chTime(new Date(END - 2 * HOUR)).slice(0, 19), to: chTime(new Date(END - HOUR)).slice(0, 19) }), 5);
    await exec.command('DROP TABLE bench_hour_fill');
    experiments.push({ experiment: 'rolling up one hour of every project and app (INSERT … SELECT … FINAL … GROUP BY minute and lineage)', p50: t.p50, p95: t.p95, cpuP50: t.cpuP50 });
  }
  // Drift's first response of a version: min() over every row of the prompt, or the first row in key order.
  for (const target of [v3, prod]) {
    const p: Record<string, string> = { project: PROJECT, prompt: target.prompt, ...('version' in target ? { version: target.version } : { alias: target.alias }) };
    const pred = 'version' in target ? 'PromptName = {prompt:String} AND PromptVersion = {version:String}' : 'PromptName = {prompt:String} AND PromptAlias = {alias:String}';
    const variants: Array<[string, string]> = [
      ['min(Timestamp) as in src/', `SELECT toString(min(Timestamp)) AS t, count() AS n FROM promptline_response_list WHERE ProjectId = {project:String} AND ${pred} AND Excluded = 0 HAVING n > 0`],
      ['ORDER BY Timestamp LIMIT 1 (read in key order, stops at the first)', `SELECT toString(Timestamp) AS t FROM promptline_response_list WHERE ProjectId = {project:String} AND ${pred} AND Excluded = 0 ORDER BY Timestamp LIMIT 1`],
    ];
    for (const [name, sql] of variants) {
      const t = await time(() => exec.query<{ t: string }>(sql, p), EXPERIMENT_RUNS);
      const engine = summed(await engineStats(() => exec.query(sql, p)));
      const row = { experiment: `drift first response of ${JSON.stringify(target)}: ${name}`, p50: t.p50, p95: t.p95, cpuP50: t.cpuP50, answer: t.last[0]?.t, engine };
      experiments.push(row);
      console.error(JSON.stringify(row));
    }
  }

  for (const c of wcCases.filter((x) => x.q.metric === 'error_rate')) {
    const bucket = bucketSecondsFor(c.q.from, c.q.to);
    const params = { project: PROJECT, from: chTime(c.q.from), to: chTime(c.q.to), app: c.q.app!, bucket };
    const paramsMin = { ...params, from: chTime(c.q.from).slice(0, 19), to: chTime(c.q.to).slice(0, 19) };
    const reference = totals(await exec.query<AggRow>(arrayJoin('FINAL'), params), (r) => String(r.dim));
    const variants: Array<[string, string, Record<string, string | number>]> = [
      ['as in src/ (ARRAY JOIN over 5 dimensions, FINAL)', arrayJoin('FINAL'), params],
      ['ARRAY JOIN, without FINAL', arrayJoin(''), params],
      ['GROUPING SETS instead of ARRAY JOIN, FINAL', groupingSets('FINAL'), params],
      ['GROUPING SETS, without FINAL', groupingSets(''), params],
      ['per-minute rollup table, GROUPING SETS', rollupQuery, paramsMin],
      ['rollup for closed minutes + the last hour from the list under FINAL', hybridQuery, { ...paramsMin, tail: chTime(new Date(c.q.to.getTime() - HOUR)).slice(0, 19) }],
    ];
    for (const [name, sql, p] of variants) {
      const t = await time(() => exec.query<AggRow>(sql, p), EXPERIMENT_RUNS);
      const engine = summed(await engineStats(() => exec.query(sql, p)));
      const same = totals(t.last, (r) => (r.dim !== undefined ? String(r.dim) : gDim(r))) === reference;
      const row = { experiment: `what-changed timeline, ${c.name}: ${name}`, p50: t.p50, p95: t.p95, cpuP50: t.cpuP50, engine, rows: t.last.length, sameTotals: same };
      experiments.push(row);
      console.error(JSON.stringify(row));
    }
  }
  }
}

await exec.close();
await registry.close();
await graph.close();
console.log(
  JSON.stringify(
    {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), loadBefore, loadAfter: loadavg().map((l) => +l.toFixed(2)) },
      command: `node --conditions=@promptline/source bench/signals.ts --spans ${SPANS} --runs ${RUNS}${args.experiments ? ` --experiments --experiment-runs ${EXPERIMENT_RUNS}` : ''}`,
      dataDir: dir,
      reused,
      rollup,
      build: meta.build,
      shape,
      runs: RUNS,
      results,
      experiments,
    },
    null,
    2,
  ),
);
