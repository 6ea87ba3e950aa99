// What the server spends at a steady rate it keeps up with: `promptline serve` with its defaults
// (plus any PROMPTLINE_* settings given), an open loop at `--rate` spans a second for `--seconds`
// after a warm-up, then until the writer has stored everything. It reports CPU per 1,000 stored spans
// by thread group (from /proc), the writer's inserts and their mean size (from /metrics), the
// acknowledgement latency and the highest RSS; with `--trace-gc`, the collections of each thread.
// Several `--env` sets run one after the other, `--rounds` times interleaved, so that a shared
// machine's drift falls on each alike.
//
//   npm run bench:steady -- [--rate 5000] [--seconds 15] [--rounds 2] [--trace-gc]
//                           [--env PROMPTLINE_FLUSH_INTERVAL_MS=1000 --env PROMPTLINE_BATCH_MAX_SPANS=5000,…]
//                           [--node-arg --heap-growing-percent=100]  (Node or V8 options for the server)
//                           [--memory]  (the RSS peak's make-up by kind of mapping, bench/procs.ts memoryMapOf)
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cpuDiff, memoryMapOf, rssOf, runLoadgen, startPromptline, threadCpu } from './procs.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '1' },
    env: { type: 'string', multiple: true, default: [''] },
    'trace-gc': { type: 'boolean', default: false },
    memory: { type: 'boolean', default: false },
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const KEY = `steady-${Date.now().toString(36)}-admin-key-for-loopback-only`;

/** "A=1,B=2" → { A: '1', B: '2' } */
function envOf(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  // Pairs are split at a comma that starts the next NAME=, so a value may hold commas (JE_MALLOC_CONF).
  for (const pair of spec.split(/,(?=[A-Z][A-Z0-9_]*=)/).filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i < 1 || !/^(PROMPTLINE_|MALLOC_ARENA_MAX=|GLIBC_TUNABLES=|JE_MALLOC_CONF=)/.test(pair)) throw new Error(`--env takes PROMPTLINE_NAME=value pairs (or MALLOC_ARENA_MAX, GLIBC_TUNABLES, JE_MALLOC_CONF), not ${JSON.stringify(pair)}`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/** Collections per isolate from --trace-gc lines: the main thread's isolate is the one whose clock runs longest. */
function gcSummary(log: string) {
  const byIsolate = new Map<string, { lastMs: number; scavenges: number; scavengeMs: number; markCompacts: number; markCompactMs: number; committedMaxMB: number; liveMaxMB: number }>();
  // "[pid:isolate]  1234 ms: Scavenge 45.2 (60.1) -> 30.0 (62.3) MB, pooled: 0 MB, 1.2 / 0.0 ms …": the figures in brackets are the heap's committed size.
  for (const m of log.matchAll(/\[\d+:(0x[0-9a-f]+)\] +(\d+) ms: (Scavenge|Mark-Compact)\D*[0-9.]+ \(([0-9.]+)\) -> ([0-9.]+) \(([0-9.]+)\) MB, [^,]*, ([0-9.]+)/g)) {
    const s = byIsolate.get(m[1]!) ?? { lastMs: 0, scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, committedMaxMB: 0, liveMaxMB: 0 };
    s.lastMs = Math.max(s.lastMs, Number(m[2]));
    s.committedMaxMB = Math.max(s.committedMaxMB, Number(m[4]), Number(m[6]));
    if (m[3] === 'Scavenge') {
      s.scavenges++;
      s.scavengeMs += Number(m[7]);
    } else {
      s.markCompacts++;
      s.markCompactMs += Number(m[7]);
      s.liveMaxMB = Math.max(s.liveMaxMB, Number(m[5]));
    }
    byIsolate.set(m[1]!, s);
  }
  const [main, ...others] = [...byIsolate.values()].sort((a, b) => b.lastMs - a.lastMs);
  const round = (s: typeof main) => s && { scavenges: s.scavenges, scavengeMs: Math.round(s.scavengeMs), markCompacts: s.markCompacts, markCompactMs: Math.round(s.markCompactMs), heapCommittedMaxMB: Math.round(s.committedMaxMB), liveAfterMarkCompactMaxMB: Math.round(s.liveMaxMB) };
  return { main: round(main), preparation: round(others[0]) };
}

async function measure(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'promptline-steady-'));
  const server = await startPromptline({ dataDir: dir, apiKey: KEY, env, nodeArgs: [...values['node-arg'], ...(values['trace-gc'] ? ['--trace-gc'] : [])] });
  const traceFile = join(dir, 'trace-gc.log');
  const trace = createWriteStream(traceFile);
  let capture = false;
  server.child.stdout!.on('data', (d: Buffer) => capture && trace.write(d));
  const auth = { headers: { authorization: `Bearer ${KEY}` } };
  const ready = async () => ((await (await fetch(`${server.url}/readyz`, auth)).json()) as { writer: { queuedSpans: number; writtenSpans: number } }).writer;
  const inserts = async () => {
    const text = await (await fetch(`${server.url}/metrics`, auth)).text();
    return Number(/promptline_store_call_duration_seconds_count\{store="spans",operation="insert"\} (\d+)/.exec(text)?.[1] ?? NaN);
  };
  const drain = async () => {
    const t0 = Date.now();
    while ((await ready()).queuedSpans > 0 && Date.now() - t0 < 120_000) await sleep(200);
    return Date.now() - t0;
  };
  const load = { url: server.url, mode: 'open' as const, spansPerSecond: RATE, spansPerRequest: 500, templates: 7, maxInFlight: 64, apiKey: KEY };
  try {
    await runLoadgen({ ...load, durationMs: 4000 });
    await drain();
    await sleep(1000);
    capture = true;
    const [cpu0, written0, inserts0] = [threadCpu(server.pid), (await ready()).writtenSpans, await inserts()];
    let rssMax = 0;
    let atPeak: Record<string, number> = {};
    const sampler = setInterval(() => {
      const rss = rssOf(server.pid);
      if (rss <= rssMax) return;
      rssMax = rss;
      // Read at each new high, so what it shows is the peak's make-up (the read costs a few ms).
      if (values.memory) atPeak = memoryMapOf(server.pid);
    }, 250);
    const result = await runLoadgen({ ...load, durationMs: SECONDS * 1000 });
    const drainMs = await drain();
    const [cpu1, written1, inserts1] = [threadCpu(server.pid), (await ready()).writtenSpans, await inserts()];
    clearInterval(sampler);
    capture = false;
    await new Promise((r) => trace.end(r));
    const spans = written1 - written0;
    const cpu = cpuDiff(cpu0, cpu1);
    const perK = (ms: number) => +((ms * 1000) / spans).toFixed(1);
    return {
      env,
      offered: RATE,
      acknowledgedSpans: result.ackedSpans,
      storedSpans: spans,
      drainMs,
      cpuPerThousand: perK(Object.values(cpu).reduce((a, b) => a + b, 0)),
      byThreadGroup: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, perK(v)])),
      inserts: inserts1 - inserts0,
      spansPerInsert: Math.round(spans / (inserts1 - inserts0)),
      ackMs: { p50: Math.round(result.latencyMs.p50), p99: Math.round(result.latencyMs.p99) },
      rssMaxMiB: Math.round(rssMax / 2 ** 20),
      ...(values.memory ? { memoryAtPeakMiB: atPeak } : {}),
      ...(values['trace-gc'] ? { gc: gcSummary(readFileSync(traceFile, 'utf8')) } : {}),
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.error(`steady rate: ${RATE} spans/s for ${SECONDS} s, ${cpus().length} cores (${cpus()[0]?.model ?? ''})`);
const sets = values.env.map(envOf);
for (let round = 0; round < Number(values.rounds); round++) {
  for (const env of sets) console.log(JSON.stringify(await measure(env)));
}
