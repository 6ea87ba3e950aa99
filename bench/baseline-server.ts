// The baseline of bench/run.ts: what a user could run instead of Promptline to keep the same
// spans — the OpenTelemetry Collector's way into ClickHouse. OTLP/protobuf over HTTP, decoded
// with the same decoder, batched in memory and written to a bare `otel_traces` table with the
// Collector ClickHouse exporter's schema (plain MergeTree, its ORDER BY, its skip indexes and its
// trace-id lookup table and materialized view), through the same in-process ClickHouse engine
// and the same row format. No lineage: no normalizer, no resolver, no lineage columns, no graph.
// No durability: like the Collector with its default in-memory queue, a request is acknowledged
// once it is in memory, so a crash loses what was not yet written.
//
//   PORT=… BASELINE_DATA_DIR=… npx node bench/baseline-server.ts
//   GET /stats → { writtenSpans, queuedSpans, refused }
import { createServer } from 'node:http';
import { join } from 'node:path';
import { decodeProtobufExport } from '../src/ingest/otlp/decode-protobuf.ts';
import { attrToString, spanKindName, statusCodeName, type DecodedSpan } from '../src/domain/span.ts';
import { ChdbExecutor } from '../src/storage/clickhouse/chdb-executor.ts';
import { nanosToDateTime64, tsvEscape, tsvMap, tsvStrings } from '../src/storage/clickhouse/span-rows.ts';

const PORT = Number(process.env.PORT ?? 4319);
const DATA_DIR = process.env.BASELINE_DATA_DIR ?? './.baseline';
const BATCH_MAX_SPANS = 20_000;
const FLUSH_MS = 200;
/** Spans held in memory at most before requests get 503 (the Collector's memory limiter). */
const MAX_QUEUED_SPANS = 200_000;

/** The OpenTelemetry Collector ClickHouse exporter's traces schema. */
export const BASELINE_DDL = [
  `CREATE TABLE IF NOT EXISTS otel_traces (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (Timestamp DateTime64(9), Name LowCardinality(String), Attributes Map(LowCardinality(String), String)) CODEC(ZSTD(1)),
    Links Nested (TraceId String, SpanId String, TraceState String, Attributes Map(LowCardinality(String), String)) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
  ) ENGINE = MergeTree
  PARTITION BY toDate(Timestamp)
  ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
  SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`,
  `CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts (
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
  ) ENGINE = MergeTree
  PARTITION BY toDate(Start)
  ORDER BY (TraceId, Start)
  SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv TO otel_traces_trace_id_ts AS
  SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
  FROM otel_traces
  WHERE TraceId != ''
  GROUP BY TraceId`,
];

export const BASELINE_COLUMNS = [
  'Timestamp', 'TraceId', 'SpanId', 'ParentSpanId', 'TraceState', 'SpanName', 'SpanKind', 'ServiceName',
  'ResourceAttributes', 'ScopeName', 'ScopeVersion', 'SpanAttributes', 'Duration', 'StatusCode', 'StatusMessage',
  'Events.Timestamp', 'Events.Name', 'Events.Attributes', 'Links.TraceId', 'Links.SpanId', 'Links.TraceState', 'Links.Attributes',
];

function exporterRow(s: DecodedSpan): string {
  const sn = s.resource.attributes.get('service.name');
  return (
    [
      nanosToDateTime64(s.startTimeUnixNano),
      tsvEscape(s.traceId),
      tsvEscape(s.spanId),
      tsvEscape(s.parentSpanId),
      tsvEscape(s.traceState),
      tsvEscape(s.name),
      spanKindName(s.kind),
      tsvEscape(sn === undefined || sn === null ? '' : attrToString(sn)),
      tsvMap(s.resource.attributes),
      tsvEscape(s.scope.name),
      tsvEscape(s.scope.version),
      tsvMap(s.attributes),
      (s.endTimeUnixNano - s.startTimeUnixNano).toString(),
      statusCodeName(s.statusCode),
      tsvEscape(s.statusMessage),
      '[' + s.events.map((e) => "'" + nanosToDateTime64(e.timeUnixNano) + "'").join(',') + ']',
      tsvStrings(s.events.map((e) => e.name)),
      '[' + s.events.map((e) => tsvMap(e.attributes)).join(',') + ']',
      tsvStrings(s.links.map((l) => l.traceId)),
      tsvStrings(s.links.map((l) => l.spanId)),
      tsvStrings(s.links.map((l) => l.traceState)),
      '[' + s.links.map((l) => tsvMap(l.attributes)).join(',') + ']',
    ].join('\t') + '\n'
  );
}

const exec = new ChdbExecutor(join(DATA_DIR, 'clickhouse'));
for (const sql of BASELINE_DDL) await exec.command(sql);

const queue: DecodedSpan[][] = [];
let queuedSpans = 0;
let writtenSpans = 0;
let refused = 0;
let stopping = false;

/** The next batch's rows, written straight into a buffer. */
function takeBatch(): { body: Buffer; spans: number } | null {
  const batch: DecodedSpan[] = [];
  while (queue.length > 0 && (batch.length === 0 || batch.length + queue[0]!.length <= BATCH_MAX_SPANS)) batch.push(...queue.shift()!);
  if (batch.length === 0) return null;
  let buf = Buffer.allocUnsafe(batch.length * 2560);
  let off = 0;
  for (const s of batch) {
    const row = exporterRow(s);
    if (off + row.length * 3 > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, off + row.length * 3));
      buf.copy(bigger, 0, 0, off);
      buf = bigger;
    }
    off += buf.write(row, off, 'utf8');
  }
  return { body: buf.subarray(0, off), spans: batch.length };
}

async function insert(b: { body: Buffer; spans: number }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await exec.insertJsonEachRow('otel_traces', b.body, { format: 'TabSeparated', columns: BASELINE_COLUMNS, settings: { throw_on_max_partitions_per_insert_block: 0 } });
      break;
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
  queuedSpans -= b.spans;
  writtenSpans += b.spans;
}

/** Batches of up to 20,000 spans or 200 ms; the next batch is encoded while one is inserted. */
async function writeLoop(): Promise<void> {
  let next: { body: Buffer; spans: number } | null = null;
  for (;;) {
    if (!next) {
      if (queuedSpans === 0) {
        if (stopping) return;
        await new Promise((r) => setTimeout(r, FLUSH_MS));
        continue;
      }
      if (queuedSpans < BATCH_MAX_SPANS && !stopping) await new Promise((r) => setTimeout(r, FLUSH_MS));
      next = takeBatch();
      if (!next) continue;
    }
    const inserting = insert(next);
    next = queue.length > 0 ? takeBatch() : null;
    await inserting;
  }
}
const writing = writeLoop();

const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ writtenSpans, queuedSpans, refused }));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v1/traces') {
    res.statusCode = 404;
    res.end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (queuedSpans >= MAX_QUEUED_SPANS) {
      refused++;
      res.statusCode = 503;
      res.setHeader('retry-after', '1');
      res.end();
      return;
    }
    try {
      const decoded = decodeProtobufExport(Buffer.concat(chunks));
      queue.push(decoded.spans);
      queuedSpans += decoded.spans.length;
      res.setHeader('content-type', 'application/x-protobuf');
      res.end();
    } catch {
      res.statusCode = 400;
      res.end();
    }
  });
});
server.listen(PORT, '127.0.0.1', () => console.log(`baseline ready on ${PORT}`));

process.on('SIGTERM', () => {
  stopping = true;
  server.close();
  server.closeIdleConnections();
  void writing.then(async () => {
    await exec.close();
    process.exit(0);
  });
});
