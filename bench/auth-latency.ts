// What the key check adds to an API call's tail: `promptline serve` on an empty embedded store
// with a bootstrap key, and one authenticated call at a time to a cheap route (GET /v1/session,
// which reads only the key) for a while, `--gap-ms` apart (a client that makes a few dozen calls a
// second, as one at a time of ~20–30 ms lookups does); p50 / p99 / max of the answer time, and how
// many calls took over 40 ms (scrypt on this machine takes ~60–100 ms). Run it before and after a
// change to src/governance/access.ts.
//
//   node --conditions=@promptline/source bench/auth-latency.ts [--seconds 30] [--gap-ms 20]

import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startPromptline } from './procs.ts';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, 'gap-ms': { type: 'string', default: '20' } } });
const SECONDS = Number(args.seconds);
const GAP_MS = Number(args['gap-ms']);
const API_KEY = 'pl_bench_auth_latency_key_0123456789abcdef';

const dataDir = mkdtempSync(join(tmpdir(), 'promptline-bench-auth-'));
const server = await startPromptline({ dataDir, apiKey: API_KEY });
const loadBefore = loadavg().map((l) => +l.toFixed(2));
try {
  const headers = { authorization: `Bearer ${API_KEY}` };
  const times: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  for (let i = 0; performance.now() < end; i++) {
    const s = performance.now();
    const res = await fetch(`${server.url}/v1/session`, { headers });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`GET /v1/session answered ${res.status}`);
    if (i >= 20) times.push(performance.now() - s);
    await setTimeout(GAP_MS);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p: number) => +sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1);
  console.log(
    JSON.stringify(
      {
        machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadBefore, loadAfter: loadavg().map((l) => +l.toFixed(2)) },
        command: `node --conditions=@promptline/source bench/auth-latency.ts --seconds ${SECONDS} --gap-ms ${GAP_MS}`,
        calls: times.length,
        p50: at(0.5),
        p99: at(0.99),
        max: +sorted.at(-1)!.toFixed(1),
        over40ms: times.filter((t) => t > 40).length,
      },
      null,
      2,
    ),
  );
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
