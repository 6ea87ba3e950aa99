// What the engine spends to store a batch of spans, by part of the schema: the same batches of
// realistic GenAI spans (the load generator's payloads, decoded and resolved by the collector's own
// code) written through the span store into otel_traces, with the schema as migrations leave it
// and with parts of it taken away or put back. Each variant runs in its own process (chdb holds one
// data directory a process); CPU is the process's, from /proc, over the inserts and the 5 s after
// them (merges). The row encoding in JavaScript is timed apart.
//
//   npm run bench:insert -- [--spans 120000] [--batch 10000] [--only current,bare]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { LineageResolver } from '../src/ingest/lineage-resolver.ts';
import { readOwnLineage } from '../src/ingest/normalizer.ts';
import { decodeProtobufExport } from '../src/ingest/otlp/decode-protobuf.ts';
import { ChdbExecutor } from '../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanStore } from '../src/storage/clickhouse/clickhouse-span-store.ts';
import { removeDir, tempDataDir } from '../test/helpers/server.ts';
import { buildTemplate, stamp } from './payloads.ts';

const VIEWS = ['otel_traces_trace_id_ts_mv', 'promptline_response_list_mv', 'promptline_response_traces_mv', 'promptline_response_lineage_mv'];
const ATTRIBUTE_BLOOMS = ['idx_res_attr_key', 'idx_res_attr_value', 'idx_span_attr_key', 'idx_span_attr_value'];
const OWN_INDEXES = ['idx_trace_id', 'idx_span_id', 'idx_duration'];

/** Each variant: the statements run after the migrations. */
const VARIANTS: Record<string, { what: string; sql: string[] }> = {
  current: { what: 'the schema as the migrations leave it (7 skip indexes on otel_traces, 4 views on it, 1 on the response list)', sql: [] },
  'before-migration-9': {
    what: 'with the six lineage and response-id skip indexes migration 9 dropped',
    sql: [
      `ALTER TABLE otel_traces ADD INDEX idx_response_id ResponseId TYPE bloom_filter(0.001) GRANULARITY 1, ADD INDEX idx_prompt (PromptName, PromptVersion) TYPE set(256) GRANULARITY 4,
        ADD INDEX idx_dataset DatasetIds TYPE bloom_filter(0.01) GRANULARITY 1, ADD INDEX idx_model (ModelProvider, ModelName) TYPE set(256) GRANULARITY 4,
        ADD INDEX idx_app (AppName, AppVersion) TYPE set(256) GRANULARITY 4, ADD INDEX idx_alias (PromptName, PromptAlias) TYPE set(256) GRANULARITY 4`,
    ],
  },
  'no-attribute-blooms': { what: "without the exporter's four bloom filters on attribute keys and values", sql: ATTRIBUTE_BLOOMS.map((i) => `ALTER TABLE otel_traces DROP INDEX ${i}`) },
  'no-response-list': { what: 'without the response list view (and so the minutes-changed view behind it)', sql: ['DROP VIEW promptline_response_list_mv'] },
  'no-response-lineage': { what: 'without the response index view (provenance)', sql: ['DROP VIEW promptline_response_lineage_mv'] },
  'no-views': { what: 'without any view', sql: VIEWS.map((v) => `DROP VIEW ${v}`) },
  'compact-parts': { what: 'otel_traces parts written Compact (one file for all columns) rather than Wide', sql: ['ALTER TABLE otel_traces MODIFY SETTING min_bytes_for_wide_part = 1073741824, min_rows_for_wide_part = 1000000000'] },
  'lz4-attributes': { what: 'span and resource attributes compressed with LZ4 rather than ZSTD(1)', sql: ["ALTER TABLE otel_traces MODIFY COLUMN SpanAttributes Map(LowCardinality(String), String) CODEC(LZ4), MODIFY COLUMN ResourceAttributes Map(LowCardinality(String), String) CODEC(LZ4)"] },
  'serial-parsing': { what: 'the rows parsed by one thread (input_format_parallel_parsing = 0)', sql: ['SET input_format_parallel_parsing = 0'] },
  'small-compress-blocks': { what: 'column streams compressed in blocks of 256 KiB rather than 1 MiB (max_compress_block_size)', sql: ['SET max_compress_block_size = 262144'] },
  'one-insert-thread': { what: 'the insert and its views run by one thread (max_insert_threads = 1, max_threads = 1)', sql: ['SET max_insert_threads = 1, max_threads = 1'] },
  bare: { what: 'otel_traces alone: no view, no skip index', sql: [...VIEWS.map((v) => `DROP VIEW ${v}`), ...[...ATTRIBUTE_BLOOMS, ...OWN_INDEXES].map((i) => `ALTER TABLE otel_traces DROP INDEX ${i}`)] },
};

const { values } = parseArgs({ options: { variant: { type: 'string' }, only: { type: 'string' }, spans: { type: 'string', default: '120000' }, batch: { type: 'string', default: '10000' } } });
const SPANS = Number(values.spans);
const BATCH = Number(values.batch);

/** CPU time of this process (every thread), ms. */
const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function runVariant(name: string) {
  const variant = VARIANTS[name];
  if (!variant) throw new Error(`unknown variant ${name}`);
  const dir = tempDataDir('bench-insert-');
  const exec = new ChdbExecutor(join(dir, 'clickhouse'));
  const store = new ClickHouseSpanStore(exec);
  try {
    await store.migrate();
    for (const sql of variant.sql) await exec.command(sql);
    const resolver = new LineageResolver({ load: (p, ids) => store.loadStoredNodes(p, ids) });
    const template = buildTemplate(7, 500);
    const run = randomBytes(8);
    let seq = 0;
    /** One batch as the writer makes it: requests decoded, lineage read and resolved. */
    const nextBatch = async () => {
      const items = [];
      while (items.length < BATCH) for (const span of decodeProtobufExport(stamp(template, run, seq++)).spans) items.push({ span, own: readOwnLineage(span) });
      return (await resolver.resolve('default', items)).spans;
    };
    // Two warm-up batches.
    for (let i = 0; i < 2; i++) await (await store.stageSpans('default', await nextBatch())).write(`warm-${i}`);
    await setTimeout(3000);
    let encodeMs = 0;
    let written = 0;
    let rssMax = 0;
    const cpu0 = processCpuMs();
    let otherMs = 0;
    const wall0 = performance.now();
    while (written < SPANS) {
      const o0 = processCpuMs();
      const spans = await nextBatch();
      otherMs += processCpuMs() - o0;
      const e0 = processCpuMs();
      const staged = await store.stageSpans('default', spans);
      encodeMs += processCpuMs() - e0;
      await staged.write(`batch-${seq}`);
      written += spans.length;
      rssMax = Math.max(rssMax, process.memoryUsage.rss());
    }
    const insertWallMs = performance.now() - wall0;
    const cpuInserts = processCpuMs() - cpu0 - otherMs;
    await setTimeout(5000);
    const cpuAll = processCpuMs() - cpu0 - otherMs;
    const perK = (ms: number) => +((ms * 1000) / written).toFixed(1);
    return {
      variant: name,
      what: variant.what,
      spans: written,
      encodeMsPerK: perK(encodeMs),
      engineMsPerK: perK(cpuInserts - encodeMs),
      mergesMsPerK: perK(cpuAll - cpuInserts),
      totalMsPerK: perK(cpuAll),
      insertWallMsPerK: perK(insertWallMs - 0),
      rssMaxMiB: Math.round(rssMax / 2 ** 20),
    };
  } finally {
    await exec.close();
    removeDir(dir);
  }
}

if (values.variant) {
  console.log(JSON.stringify(await runVariant(values.variant)));
} else {
  console.error(`insert cost: ${SPANS} spans in batches of ${BATCH}, ${cpus().length} cores (${cpus()[0]?.model ?? ''})`);
  const rows = [];
  for (const name of values.only ? values.only.split(',') : Object.keys(VARIANTS)) {
    const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--variant', name, '--spans', String(SPANS), '--batch', String(BATCH)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (child.status !== 0) throw new Error(`variant ${name} failed (${child.status})`);
    const r = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Awaited<ReturnType<typeof runVariant>>;
    console.error(`${name}: ${JSON.stringify(r)}`);
    rows.push(r);
  }
  const base = rows.find((r) => r.variant === 'current')!;
  console.log('| variant | row encoding (JS) | engine at insert | merges (5 s after) | all | against current | RSS max |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const d = r.totalMsPerK - base.totalMsPerK;
    console.log(`| ${r.variant}: ${r.what} | ${r.encodeMsPerK} | ${r.engineMsPerK} | ${r.mergesMsPerK} | ${r.totalMsPerK} | ${r === base ? '' : `${d >= 0 ? '+' : ''}${d.toFixed(1)}`} | ${r.rssMaxMiB} MiB |`);
  }
}
