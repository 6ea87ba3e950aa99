import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEAP_EXHAUSTED_EXIT_CODE, HEAP_WATCHDOG_DEFAULTS, type HeapWatchdogSample } from '../../src/common/heap-watchdog.ts';

// A process whose heap is nearly all live data may neither serve nor die: each full collection
// frees a little, so V8 does not abort, and the process collects garbage most of the time for as
// long as it runs. The heap watchdog (src/common/heap-watchdog.ts, started by `promptline serve`)
// ends such a process. Here a child with a 64 MiB heap (and 1 MiB semi-spaces: young generations
// sized for a 4 GiB heap would make even a healthy 64 MiB process collect in full all the time) is made to hold most of it and keep
// allocating: it must exit non-zero, by the watchdog's hand, within a bound; a child that holds a
// quarter of its heap and allocates objects that die young (what a healthy server does) is left alone.
// The watchdog's measurements go to stderr, so that a failure shows what it saw.

const WATCHDOG = pathToFileURL(resolve(import.meta.dirname, '../../src/common/heap-watchdog.ts')).href;
const LOGGER = pathToFileURL(resolve(import.meta.dirname, '../../src/common/logger.ts')).href;

/** A generous bound: the watchdog measures over 10 s, and this machine's two cores are shared. */
const EXIT_WITHIN_MS = 60_000;

/**
 * A child that starts the watchdog, holds `holdMiB` of live strings, then allocates: objects that
 * live a while (they reach the old generation) when `lasting`, objects that die at once otherwise.
 */
function child(holdMiB: number, watchdog: boolean, lasting: boolean): string {
  return `
    import { getHeapStatistics } from 'node:v8';
    import { startHeapWatchdog } from ${JSON.stringify(WATCHDOG)};
    import { createJsonLogger } from ${JSON.stringify(LOGGER)};
    // Each interval's measurement goes to stderr, so that a failure shows what the watchdog saw.
    if (${watchdog}) startHeapWatchdog(createJsonLogger('info'), { onSample: (s) => process.stderr.write('sample ' + JSON.stringify(s) + '\\n') });
    const held = [];
    const ring = new Array(${lasting ? 20000 : 1});
    let n = 0;
    const churn = () => {
      for (let k = 0; k < 2000; k++) ring[n++ % ring.length] = { a: 'x' + Math.random(), b: [n, k] };
      setImmediate(churn);
    };
    const fill = () => {
      for (let k = 0; k < 5000; k++) held.push('k' + k + Math.random());
      if (getHeapStatistics().used_heap_size < ${holdMiB} * 1024 * 1024) setImmediate(fill);
      else {
        process.stdout.write('holding\\n');
        churn();
      }
    };
    fill();
    setTimeout(() => {}, 3_600_000);
  `;
}

function run(holdMiB: number, aliveForMs: number, { watchdog = true, lasting = true } = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string; ms: number; killed: boolean }> {
  const t0 = Date.now();
  const proc = spawn(process.execPath, ['--max-old-space-size=64', '--max-semi-space-size=1', '--input-type=module', '-e', child(holdMiB, watchdog, lasting)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    proc.kill('SIGKILL');
  }, aliveForMs);
  return new Promise((res) =>
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, output, ms: Date.now() - t0, killed });
    }),
  );
}

describe('a heap that stays full', () => {
  it('makes the process exit non-zero within the bound instead of collecting garbage forever', { timeout: EXIT_WITHIN_MS + 30_000 }, async () => {
    const r = await run(48, EXIT_WITHIN_MS);
    expect(r.output).toContain('holding');
    expect({ killed: r.killed, code: r.code }, r.output.split('\n').slice(-15).join('\n')).toEqual({ killed: false, code: HEAP_EXHAUSTED_EXIT_CODE });
    expect(r.output).toMatch(/"msg":"heap exhausted: the process spends most of its time collecting garbage/);
  });

  it('is what the watchdog is for: without it, the same process collects garbage until it is killed or V8 aborts it, with no word of why', { timeout: 60_000 }, async () => {
    const r = await run(48, 25_000, { watchdog: false });
    expect(r.output).toContain('holding');
    // Still thrashing after 25 s (killed here), or ended by V8's own fatal out-of-memory abort (a
    // signal) somewhere in them: either way no clean exit, no exit code a supervisor can read, no log line.
    expect(r.code).toBeNull();
    expect(r.killed || r.signal !== null).toBe(true);
    expect(r.output).not.toMatch(/heap exhausted/);
  });

  it('leaves a process that allocates and lets go alone', { timeout: 60_000 }, async () => {
    const r = await run(16, 15_000, { lasting: false });
    expect(r.output).toContain('holding');
    expect({ killed: r.killed, output: r.output }).toEqual({ killed: true, output: expect.not.stringContaining('heap exhausted') });
    // It was watched all along (a sample a second), and stayed below the threshold.
    const shares = [...r.output.matchAll(/^sample (.*)$/gm)].map((m) => (JSON.parse(m[1]!) as HeapWatchdogSample).windowShare);
    expect(shares.length).toBeGreaterThan(5);
    expect(Math.max(...shares)).toBeLessThan(HEAP_WATCHDOG_DEFAULTS.gcShare);
  });
});
