// Rough figures for one machine: cold start of `promptline serve` on an empty data directory, and
// spans per second for one 10,000-span OTLP protobuf request, from the first byte sent until every
// span is in the stores. The benchmark suite (npm run bench) measures properly; this is a smoke figure.
//
//   npx node bench/quick-e2e.ts [spans=10000]
import { cpus, totalmem } from 'node:os';
import { startServer, removeDir } from '../test/helpers/server.ts';
import { buildSpans, encodeRequest } from './payloads.ts';

const total = Number(process.argv[2] ?? 10_000);
const spansPerTrace = 10;

const t0 = performance.now();
const server = await startServer({ env: { PROMPTLINE_FLUSH_INTERVAL_MS: '200' } });
const coldStartMs = performance.now() - t0;

const { spans, responseIds } = buildSpans(Math.ceil(total / spansPerTrace), { spansPerTrace, promptName: 'support-answer', promptVersion: 3 });
const body = encodeRequest(spans.slice(0, total));

const sendStart = performance.now();
const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
const ackMs = performance.now() - sendStart;
if (res.status !== 200) throw new Error(`export answered ${res.status}`);

let written = 0;
while (written < total) {
  const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { writer: { writtenSpans: number } };
  written = ready.writer.writtenSpans;
  if (written < total) await new Promise((r) => setTimeout(r, 10));
}
const endToEndMs = performance.now() - sendStart;
const check = await fetch(`${server.url}/v1/provenance?response_id=${encodeURIComponent(responseIds.at(-1)!)}`);
const lastProvenance = (await check.json()) as { prompt: { name: string; version: number } };

await server.stop();
removeDir(server.dataDir);

console.log(
  JSON.stringify(
    {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      node: process.version,
      coldStartMs: Math.round(coldStartMs),
      requestBytes: body.length,
      spans: total,
      acknowledgedMs: Math.round(ackMs),
      endToEndMs: Math.round(endToEndMs),
      spansPerSecondEndToEnd: Math.round(total / (endToEndMs / 1000)),
      lastResponseLineage: `${lastProvenance.prompt.name} v${lastProvenance.prompt.version}`,
    },
    null,
    2,
  ),
);
