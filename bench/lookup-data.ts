// Data for the lookup benchmarks: N spans in a Promptline data directory, generated in the engine
// (INSERT … SELECT from numbers(), as bench/impact-latency.ts does) in a few seconds per million
// rather than ingested, plus the lineage graph's edges for them in SQLite, so that
// `promptline serve` started on the directory answers /v1/provenance and /v1/impact over them.
//
// The rows are what the collector writes for agent traces of 10 spans: an invoke_agent root that
// carries the prompt version, alias, dataset and conversation; model calls (odd positions) with
// a response id, the model and ~1.7 KB of messages; tool calls. Children carry the lineage they
// inherit. Traffic spreads over 30 days; 25 versions of `support-answer` go live one after
// another, so one version covers 4% of the spans; 2 models, 8 datasets, 6 app versions.
//
// It then times the same lookups on the store directly (no HTTP, no key, no registry).
//
//   npx node bench/lookup-data.ts DATA_DIR SPANS  → {"spans":…, "seconds":…, "parts":…, "bytesOnDisk":…, "store":{…}}
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { EdgeCollector } from '../src/ingest/graph-edges.ts';
import type { ResolvedLineage } from '../src/domain/lineage.ts';
import { ChdbExecutor } from '../src/storage/clickhouse/chdb-executor.ts';
import { CHANGE_MARGIN_MS } from '../src/storage/clickhouse/clickhouse-lineage-rollup.ts';
import { ClickHouseSpanAnalytics } from '../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { ClickHouseSpanStore } from '../src/storage/clickhouse/clickhouse-span-store.ts';
import { SqliteLineageGraph } from '../src/storage/sqlite/sqlite-lineage-graph.ts';

export const LOOKUP_SHAPE = {
  spansPerTrace: 10,
  days: 30,
  versions: 25,
  prompt: 'support-answer',
  /** The version the impact benchmark asks about. */
  impactVersion: 13,
  baseMs: Date.UTC(2026, 9, 1),
};

/** The response id of span `n` (model calls sit at odd positions of a trace). */
export const responseIdOf = (n: number) => `resp-${n}`;

const [dataDir, spansArg] = process.argv.slice(2);
if (import.meta.main) {
  if (!dataDir || !spansArg) throw new Error('usage: lookup-data.ts DATA_DIR SPANS');
  const spans = Number(spansArg);
  const traces = Math.floor(spans / LOOKUP_SHAPE.spansPerTrace);
  const t0 = performance.now();
  const exec = new ChdbExecutor(join(dataDir, 'clickhouse'));
  const store = new ClickHouseSpanStore(exec);
  await store.migrate();

  const msPerTrace = (LOOKUP_SHAPE.days * 86_400_000) / traces;
  const messages = JSON.stringify([
    { role: 'system', content: 'You are the support assistant of an online bookshop. Answer briefly, cite the order, never promise refunds you cannot give. '.repeat(8) },
    { role: 'user', content: 'My order has not arrived yet and the tracking page has said "in transit" for nine days. Can you check what is going on and whether I can get a replacement?' },
  ]);
  const sql = `
    INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, ProjectId, ServiceName, SpanName, SpanKind, Duration, StatusCode,
      ResourceAttributes, SpanAttributes, ScopeName, ScopeVersion,
      PromptName, PromptVersion, PromptAlias, PromptSpanId, PromptRegistration, ModelProvider, ModelName, ResponseId, DatasetIds,
      AppName, AppVersion, ConversationId, LineageOwnMask, LineageRevision)
    SELECT
      fromUnixTimestamp64Milli(toInt64({base:Int64} + t * {step:Float64} + pos * 300)) AS Timestamp,
      lower(hex(reinterpretAsFixedString(cityHash64(t, 1)))) || lower(hex(reinterpretAsFixedString(cityHash64(t, 2)))) AS TraceId,
      lower(hex(reinterpretAsFixedString(cityHash64(number, 3)))) AS SpanId,
      if(pos = 0, '', lower(hex(reinterpretAsFixedString(cityHash64(t * 10, 3))))) AS ParentSpanId,
      'default', 'support-bot',
      multiIf(pos = 0, 'invoke_agent support', pos % 2 = 1, 'chat gpt-4o', 'execute_tool lookup_order'),
      if(pos % 2 = 1, 'Client', 'Internal'),
      toUInt64(if(pos = 0, 4000000000, 200000000 + (number % 997) * 1000000)),
      if(number % 50 = 0, 'Error', 'Unset'),
      map('service.name', 'support-bot', 'service.version', app_version, 'telemetry.sdk.language', 'nodejs'),
      if(pos % 2 = 1,
        map('gen_ai.operation.name', 'chat', 'gen_ai.provider.name', 'openai', 'gen_ai.request.model', model, 'gen_ai.response.model', model,
            'gen_ai.response.id', concat('resp-', toString(number)), 'gen_ai.usage.input_tokens', toString(800 + number % 200),
            'gen_ai.usage.output_tokens', toString(100 + number % 90), 'gen_ai.input.messages', concat({messages:String}, toString(number)),
            'gen_ai.output.messages', concat('[{"role":"assistant","content":"Order ', toString(number), ' is held at the regional depot."}]')),
        if(pos = 0,
          map('gen_ai.operation.name', 'invoke_agent', 'gen_ai.prompt.name', {prompt:String}, 'gen_ai.prompt.version', version,
              'promptline.prompt.alias', 'production', 'gen_ai.conversation.id', conversation),
          map('gen_ai.operation.name', 'execute_tool', 'gen_ai.tool.name', 'lookup_order', 'gen_ai.tool.call.arguments', '{"order":4711}'))),
      '@promptline/instrumentation', '0.1.0',
      {prompt:String}, version, 'production',
      lower(hex(reinterpretAsFixedString(cityHash64(t * 10, 3)))),
      'unregistered',
      if(pos % 2 = 1, 'openai', ''), if(pos % 2 = 1, model, ''),
      if(pos % 2 = 1, concat('resp-', toString(number)), ''),
      [concat('kb-', toString(intDiv(t * 8, {traces:UInt64})))],
      'support-bot', app_version, conversation,
      multiIf(pos = 0, 29, pos % 2 = 1, 18, 16),
      0
    FROM (
      SELECT number, intDiv(number, 10) AS t, number % 10 AS pos,
        toString(1 + intDiv(intDiv(number, 10) * {versions:UInt64}, {traces:UInt64})) AS version,
        concat('3.', toString(intDiv(intDiv(number, 10) * 6, {traces:UInt64}))) AS app_version,
        if(intDiv(intDiv(number, 10), 10000) % 2 = 0, 'gpt-4o', 'gpt-4.1') AS model,
        concat('conv-', toString(intDiv(number, 10) % 5000)) AS conversation
      FROM numbers({from:UInt64}, {count:UInt64})
    )
    SETTINGS throw_on_max_partitions_per_insert_block = 0`;
  const CHUNK = 1_000_000;
  for (let from = 0; from < traces * LOOKUP_SHAPE.spansPerTrace; from += CHUNK) {
    const count = Math.min(CHUNK, traces * LOOKUP_SHAPE.spansPerTrace - from);
    await exec.command(sql, { base: LOOKUP_SHAPE.baseMs, step: msPerTrace, prompt: LOOKUP_SHAPE.prompt, versions: LOOKUP_SHAPE.versions, traces, messages, from, count });
  }

  // The graph: the edges these spans reveal, folded as the writer folds them (a sample of traces
  // covers every combination: versions, datasets and app versions change along time, models by block).
  const graph = new SqliteLineageGraph(join(dataDir, 'lineage.sqlite'));
  await graph.migrate();
  const edges = new EdgeCollector();
  const stepTraces = Math.max(1, Math.floor(traces / 20_000));
  for (let t = 0; t < traces; t += stepTraces) {
    const at = LOOKUP_SHAPE.baseMs + t * msPerTrace;
    const version = String(1 + Math.floor((t * LOOKUP_SHAPE.versions) / traces));
    const lineage = (model: boolean): ResolvedLineage => ({
      prompt: { name: LOOKUP_SHAPE.prompt, version, alias: 'production', templateHash: '' },
      promptSpanId: '',
      model: model ? { provider: 'openai', name: Math.floor(t / 10_000) % 2 === 0 ? 'gpt-4o' : 'gpt-4.1' } : null,
      responseId: '',
      datasetIds: [`kb-${Math.floor((t * 8) / traces)}`],
      app: { name: 'support-bot', version: `3.${Math.floor((t * 6) / traces)}` },
      conversationId: '',
    });
    edges.add(lineage(false), at);
    edges.add(lineage(true), at);
  }
  await graph.recordEdges('default', edges.toList());
  await graph.close();

  const [stats] = await exec.query<{ rows: string; parts: string; bytes: string }>(
    `SELECT sum(rows) AS rows, count() AS parts, sum(bytes_on_disk) AS bytes FROM system.parts WHERE active AND table = 'otel_traces'`,
  );
  const seconds = +((performance.now() - t0) / 1000).toFixed(1);

  // The same lookups straight on the store, without HTTP, authentication or the registry: what the
  // engine itself takes (the impact queries as bench/impact-latency.ts runs them).
  let seed = 777;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const provenance: number[] = [];
  for (let i = 0; i < 220; i++) {
    const n = Math.floor(rnd() * traces) * LOOKUP_SHAPE.spansPerTrace + 1 + 2 * Math.floor(rnd() * 5);
    const s0 = performance.now();
    await store.findByResponseId('default', responseIdOf(n));
    if (i >= 20) provenance.push(performance.now() - s0);
  }
  const analytics = new ClickHouseSpanAnalytics(exec);
  // The month's minutes rolled up, as a running server's rollup rounds would have done as it went
  // (PROMPTLINE_ROLLUP_INTERVAL): impact and what-changed read closed minutes from the rollup.
  // A minute is rolled up once its last change is CHANGE_MARGIN_MS old (the inserts above have just marked them all).
  await setTimeout(CHANGE_MARGIN_MS + 500);
  const r0 = performance.now();
  let rolledMinutes = 0;
  for (;;) {
    const round = await analytics.rollUpLineage(new Date());
    rolledMinutes += round.minutes;
    if (round.pending === 0 || round.minutes === 0) break;
  }
  const rollSeconds = +((performance.now() - r0) / 1000).toFixed(1);
  const window = { from: new Date(LOOKUP_SHAPE.baseMs - 86_400_000), to: new Date(LOOKUP_SHAPE.baseMs + (LOOKUP_SHAPE.days + 1) * 86_400_000), bucketSeconds: 3600 };
  const filter = { kind: 'promptVersion' as const, name: LOOKUP_SHAPE.prompt, version: String(LOOKUP_SHAPE.impactVersion) };
  const impact: number[] = [];
  for (let i = 0; i < 12; i++) {
    const s0 = performance.now();
    // As the impact service asks: the facts, then the first page from the histogram's newest buckets, beside the evaluations.
    await Promise.all([
      analytics.impactFacts('default', filter, window).then((f) => analytics.impactItems('default', filter, window, { limit: 51, after: null }, f.histogram)),
      analytics.evaluationsFor('default', filter, window),
    ]);
    if (i >= 2) impact.push(performance.now() - s0);
  }
  // The console's list of responses filtered by the same prompt version, first page (GET /v1/responses).
  const list: number[] = [];
  const listFilter = { from: window.from, to: window.to, prompt: LOOKUP_SHAPE.prompt, version: String(LOOKUP_SHAPE.impactVersion) };
  for (let i = 0; i < 12; i++) {
    const s0 = performance.now();
    await analytics.listResponses('default', listFilter, { limit: 51, after: null });
    if (i >= 2) list.push(performance.now() - s0);
  }
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  await exec.close();
  console.log(
    JSON.stringify({
      spans: Number(stats?.rows ?? 0),
      seconds,
      parts: Number(stats?.parts ?? 0),
      bytesOnDisk: Number(stats?.bytes ?? 0),
      rollSeconds,
      rolledMinutes,
      store: { provenanceP50: pct(provenance, 0.5), provenanceP99: pct(provenance, 0.99), impactP50: pct(impact, 0.5), impactMax: Math.max(...impact), listP50: pct(list, 0.5) },
    }),
  );
}
