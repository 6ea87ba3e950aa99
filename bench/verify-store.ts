// Counts what a stopped server left in its embedded ClickHouse data directory, per load-generator
// run and request: the trace ids the load generator stamps carry both (bench/payloads.ts). Run by
// bench/run.ts in a process of its own once the server has exited (the engine opens one data
// directory per process).
//
//   npx node bench/verify-store.ts DATA_DIR promptline|baseline
//   → {"requests":[[run, seq, spans], …], "rows": n, "distinctSpans": n, "responses": n, "parts": n}
import { join } from 'node:path';
import { ChdbExecutor } from '../src/storage/clickhouse/chdb-executor.ts';

const [dataDir, kind] = process.argv.slice(2);
if (!dataDir || (kind !== 'promptline' && kind !== 'baseline')) throw new Error('usage: verify-store.ts DATA_DIR promptline|baseline');
const exec = new ChdbExecutor(join(dataDir, 'clickhouse'));
// Promptline's table is a ReplacingMergeTree read with FINAL, as its API reads it: a span written
// twice (a replay) counts once, as it shows once in every answer.
const from = kind === 'promptline' ? 'otel_traces FINAL' : 'otel_traces';
const requests = await exec.query<{ run: string; seq: string; n: string }>(
  `SELECT substring(TraceId, 1, 16) AS run, substring(TraceId, 17, 8) AS seq, count() AS n FROM ${from} GROUP BY run, seq ORDER BY run, seq`,
);
const [totals] = await exec.query<{ rows: string; spans: string }>(`SELECT count() AS rows, uniqExact(TraceId, SpanId) AS spans FROM ${from}`);
const responses =
  kind === 'promptline' ? Number((await exec.query<{ n: string }>(`SELECT uniqExact(ResponseId) AS n FROM promptline_response_lineage`))[0]?.n ?? 0) : 0;
const [parts] = await exec.query<{ n: string }>(`SELECT count() AS n FROM system.parts WHERE active AND table = 'otel_traces'`);
await exec.close();
console.log(
  JSON.stringify({
    requests: requests.map((r) => [r.run, parseInt(r.seq, 16), Number(r.n)]),
    rows: Number(totals?.rows ?? 0),
    distinctSpans: Number(totals?.spans ?? 0),
    responses,
    parts: Number(parts?.n ?? 0),
  }),
);
