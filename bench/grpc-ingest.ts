// OTLP/gRPC against OTLP/HTTP with the same payloads: closed loop, `concurrency` requests of
// `spansPerRequest` realistic GenAI spans (bench/payloads.ts) in flight back to back for `seconds`,
// against a fresh `promptline serve` per transport. It reports acknowledged spans per second, the
// acknowledgement latency, and the sustained rate: acknowledged spans over the time until every one
// of them was in the stores (the writer's count in /readyz).
//
//   node --conditions=@promptline/source bench/grpc-ingest.ts [seconds=20] [concurrency=4] [spansPerRequest=500]
import { cpus, totalmem } from 'node:os';
import { Agent, request } from 'node:http';
import { rawGrpcExporter } from '../test/helpers/grpc.ts';
import { removeDir, startServer } from '../test/helpers/server.ts';
import { buildTemplate, stamp } from './payloads.ts';

const seconds = Number(process.argv[2] ?? 20);
const concurrency = Number(process.argv[3] ?? 4);
const spansPerRequest = Number(process.argv[4] ?? 500);

type Transport = 'http/protobuf' | 'grpc' | 'grpc+gzip';

function httpSender(url: string): (body: Buffer) => Promise<boolean> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL('/v1/traces', url);
  return (body) =>
    new Promise((resolve) => {
      const req = request(target, { method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      });
      req.on('error', () => resolve(false));
      req.end(body);
    });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

async function measure(transport: Transport) {
  const server = await startServer({ env: { PROMPTLINE_FLUSH_INTERVAL_MS: '200' } });
  try {
    const template = buildTemplate(7, spansPerRequest);
    const run = Buffer.from(transport.padEnd(8, '-').slice(0, 8));
    const send =
      transport === 'http/protobuf'
        ? httpSender(server.url)
        : (() => {
            const client = rawGrpcExporter(server.grpcAddress, { gzip: transport === 'grpc+gzip' });
            return async (body: Buffer) => {
              const a = await client.export(body);
              return a.ok && a.rejectedSpans === 0;
            };
          })();
    const latencies: number[] = [];
    let acked = 0;
    let seq = 0;
    const start = performance.now();
    const deadline = start + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const body = stamp(template, run, seq++);
          const t = performance.now();
          if (await send(body)) {
            acked += spansPerRequest;
            latencies.push(performance.now() - t);
          }
        }
      }),
    );
    const sendMs = performance.now() - start;
    let written = 0;
    while (written < acked) {
      written = ((await (await fetch(`${server.url}/readyz`)).json()) as { writer: { writtenSpans: number } }).writer.writtenSpans;
      if (written < acked) await new Promise((r) => setTimeout(r, 50));
    }
    const allWrittenMs = performance.now() - start;
    latencies.sort((a, b) => a - b);
    return {
      transport,
      ackedSpans: acked,
      ackedSpansPerSecond: Math.round(acked / (sendMs / 1000)),
      sustainedSpansPerSecond: Math.round(acked / (allWrittenMs / 1000)),
      ackP50Ms: Math.round(percentile(latencies, 0.5)),
      ackP99Ms: Math.round(percentile(latencies, 0.99)),
      bytesPerRequest: template.body.length,
    };
  } finally {
    await server.stop();
    removeDir(server.dataDir);
  }
}

const results = [];
for (const t of ['http/protobuf', 'grpc', 'grpc+gzip'] as const) results.push(await measure(t));
console.log(JSON.stringify({ machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) }, seconds, concurrency, spansPerRequest, results }, null, 2));
