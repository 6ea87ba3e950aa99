// Impact query latency for one prompt version, on the in-process ClickHouse engine, at N spans
// (default 1,000,000): the full answer's queries (facts, first page of responses, evaluations),
// repeated, p50 and p95. Spans are generated in the engine (INSERT … SELECT from numbers()), with
// lineage spread as in real traffic: 25 prompt versions live one after another over 30 days,
// 2 models, 8 datasets, 6 app versions, 2 spans per trace of which one is the response.
//
//   npx node bench/impact-latency.ts [spans=1000000] [runs=20]
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { ChdbExecutor } from '../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanAnalytics } from '../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { migrate } from '../src/storage/clickhouse/migrations.ts';
import { removeDir, tempDataDir } from '../test/helpers/server.ts';

const spans = Number(process.argv[2] ?? 1_000_000);
const runs = Number(process.argv[3] ?? 20);
const dir = tempDataDir('bench-impact-');
const exec = new ChdbExecutor(join(dir, 'clickhouse'));
const analytics = new ClickHouseSpanAnalytics(exec);
const base = Date.UTC(2026, 9, 1);
const msPerSpan = (30 * 86_400_000) / spans;

await migrate(exec);
const t0 = performance.now();
await exec.command(
  `INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, ProjectId, ServiceName, SpanName, SpanKind, Duration, StatusCode, SpanAttributes,
     PromptName, PromptVersion, PromptAlias, PromptSpanId, ModelProvider, ModelName, ResponseId, DatasetIds, AppName, AppVersion, ConversationId, LineageOwnMask)
   SELECT fromUnixTimestamp64Milli(toInt64({base:Int64} + number * {step:Float64})) AS Timestamp,
          lower(hex(reinterpretAsFixedString(cityHash64(intDiv(number, 2), 1)))) || lower(hex(reinterpretAsFixedString(cityHash64(intDiv(number, 2), 2)))) AS TraceId,
          lower(hex(reinterpretAsFixedString(cityHash64(number, 3)))) AS SpanId,
          if(number % 2 = 1, lower(hex(reinterpretAsFixedString(cityHash64(number - 1, 3)))), '') AS ParentSpanId,
          'default', 'support-bot', if(number % 2 = 0, 'invoke_agent', 'chat'), if(number % 2 = 0, 'Internal', 'Client'),
          toUInt64(500000000 + (number % 997) * 1000000), if(number % 50 = 0, 'Error', 'Ok'),
          map('gen_ai.usage.input_tokens', toString(800 + number % 200), 'gen_ai.usage.output_tokens', toString(100 + number % 90)),
          'support-answer', toString(1 + intDiv(number * 25, {spans:UInt64})), 'production', '',
          'openai', if(intDiv(number, 100000) % 2 = 0, 'gpt-4o', 'gpt-4.1'),
          if(number % 2 = 1, 'resp-' || toString(number), ''),
          [concat('kb-', toString(intDiv(number * 8, {spans:UInt64})))],
          'support-bot', concat('3.', toString(intDiv(number * 6, {spans:UInt64}))), concat('conv-', toString(number % 5000)),
          if(number % 2 = 1, 2, 1)
   FROM numbers({spans:UInt64})`,
  { base, step: msPerSpan, spans },
);
const loadMs = performance.now() - t0;

const w = { from: new Date(base - 86_400_000), to: new Date(base + 31 * 86_400_000), bucketSeconds: 3600 };
const filter = { kind: 'promptVersion' as const, name: 'support-answer', version: '13' };
const times: number[] = [];
let responses = 0;
for (let i = 0; i < runs + 2; i++) {
  const s = performance.now();
  const [facts] = await Promise.all([analytics.impactFacts('default', filter, w), analytics.impactItems('default', filter, w, { limit: 50, after: null }), analytics.evaluationsFor('default', filter, w)]);
  const ms = performance.now() - s;
  if (i >= 2) times.push(ms); // two warm-up runs
  responses = facts.responses;
}
times.sort((a, b) => a - b);
const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
await exec.close();
removeDir(dir);
console.log(
  JSON.stringify(
    {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      command: `npx node bench/impact-latency.ts ${spans} ${runs}`,
      spans,
      loadSeconds: +(loadMs / 1000).toFixed(1),
      target: 'prompt support-answer version 13',
      affectedResponses: responses,
      runs,
      p50Ms: Math.round(pct(0.5)),
      p95Ms: Math.round(pct(0.95)),
    },
    null,
    2,
  ),
);
