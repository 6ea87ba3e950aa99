import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportRequest, jsonSpan, str } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, tempDataDir, type ServerUnderTest } from '../helpers/server.ts';

// The spool on a disk that fills up: a small tmpfs mounted for the test (it needs root, as CI and
// this project's machines have). While the disk is full the receiver answers 503 with Retry-After,
// never 500, and acknowledges nothing it could not write; nothing on disk is corrupted; once space
// returns it takes requests again, and everything it acknowledged is in the stores.

function tryMount(dir: string, size: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `cannot mount a small tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`;
  }
}

const base = tempDataDir('promptline-full-disk-');
const spoolDir = join(base, 'spool');
mkdirSync(spoolDir);
const why = tryMount(spoolDir, '4m');
if (why) console.log(`full-disk fault test: skipped: ${why}`);

describe.skipIf(why !== null)(`a full spool disk${why ? ` (skipped: ${why})` : ''}`, () => {
  let server: ServerUnderTest | undefined;
  afterAll(async () => {
    await server?.stop();
    try {
      execFileSync('umount', [spoolDir]);
    } catch {
      // already gone
    }
    removeDir(base);
  });

  const request = (i: number) =>
    exportRequest([jsonSpan({ attributes: [str('gen_ai.prompt.name', 'disk-prompt'), str('gen_ai.response.id', `disk-${i}`), str('padding', 'p'.repeat(30_000))] })]);

  it('answers 503 with Retry-After while the disk is full, loses nothing it acknowledged, and recovers when space returns', { timeout: 120_000 }, async () => {
    server = await startServer({
      dataDir: join(base, 'data'),
      // Segments are kept while the writer lingers, so the disk fills with acknowledged requests.
      env: { PROMPTLINE_SPOOL_DIR: spoolDir, PROMPTLINE_SPOOL_SEGMENT_BYTES: String(256 * 1024), PROMPTLINE_FLUSH_INTERVAL_MS: '20' },
    });
    // Leave about 400 KB free.
    const filler = join(spoolDir, 'filler');
    writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024 - 400 * 1024 - 64 * 1024));

    const counts = { sent: 0, acknowledged: 0, refused503: 0, other: 0 };
    const acked: number[] = [];
    let firstRefusal: Response | undefined;
    for (let i = 0; i < 60; i++) {
      counts.sent++;
      const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request(i)) });
      await res.arrayBuffer();
      if (res.status === 200) {
        counts.acknowledged++;
        acked.push(i);
      } else if (res.status === 503) {
        counts.refused503++;
        firstRefusal ??= res;
      } else counts.other++;
    }
    expect(counts.refused503).toBeGreaterThan(0);
    expect(counts.other).toBe(0);
    expect(Number(firstRefusal!.headers.get('retry-after'))).toBeGreaterThan(0);

    // Space returns.
    rmSync(filler);
    const after = await eventually(async () => {
      const res = await fetch(`${server!.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request(1000)) });
      await res.arrayBuffer();
      return res.status === 200 ? res.status : undefined;
    }, 'the receiver to take requests again');
    expect(after).toBe(200);
    acked.push(1000);

    const missing: number[] = [];
    for (const i of acked) {
      const p = await eventually(() => provenance(server!.url, { response_id: `disk-${i}` }), `response disk-${i}`).catch(() => undefined);
      if (!p) missing.push(i);
    }
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { spool: { tornRecords: number } };
    console.log(
      `full disk: sent ${counts.sent + 1}, acknowledged ${counts.acknowledged + 1}, refused with 503 ${counts.refused503}, other answers ${counts.other}, ` +
        `acknowledged and found ${acked.length - missing.length} of ${acked.length}, segments now ${readdirSync(spoolDir).filter((f) => f.endsWith('.seg')).length}`,
    );
    expect(missing).toEqual([]);
    expect(ready.spool.tornRecords).toBe(0);

    // After a restart, the spool reads back cleanly: no torn record from the failed writes.
    await server.stop();
    server = await startServer({ dataDir: join(base, 'data'), env: { PROMPTLINE_SPOOL_DIR: spoolDir } });
    const again = (await (await fetch(`${server.url}/readyz`)).json()) as { spool: { tornRecords: number } };
    expect(again.spool.tornRecords).toBe(0);
    expect(await provenance(server.url, { response_id: `disk-${acked[0]}` })).toBeDefined();
  });
});
