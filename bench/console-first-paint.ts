// The console's first paint on loopback: a real `promptline serve` (authentication off, on
// loopback) with a few thousand stored responses, and Debian's Chromium opening the response list
// in a fresh tab. Reports, over several cold tab loads, first contentful paint and the time until
// the first row of the list is on screen (the list's own API call included).
//
//   npx node --conditions=@promptline/source bench/console-first-paint.ts [responses=5000] [loads=15]
import { cpus, totalmem } from 'node:os';
import { launchBrowser, openPage } from '../test/helpers/browser.ts';
import { removeDir, startServer } from '../test/helpers/server.ts';
import { buildSpans, encodeRequest } from './payloads.ts';

const responses = Number(process.argv[2] ?? 5_000);
const loads = Number(process.argv[3] ?? 15);

const server = await startServer({ env: { PROMPTLINE_FLUSH_INTERVAL_MS: '100' } });
const { spans } = buildSpans(responses, { spansPerTrace: 2, promptName: 'support-answer', promptVersion: 3 });
const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeRequest(spans) });
if (res.status !== 200) throw new Error(`export answered ${res.status}`);
for (;;) {
  const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { writer: { writtenSpans: number } };
  if (ready.writer.writtenSpans >= spans.length) break;
  await new Promise((r) => setTimeout(r, 50));
}

const browser = await launchBrowser();
const fcp: number[] = [];
const firstRow: number[] = [];
try {
  for (let i = 0; i < loads + 1; i++) {
    const p = await openPage(browser);
    const t0 = Date.now();
    await p.page.goto(`${server.url}/responses?prompt=support-answer`);
    await p.page.locator('table tbody tr').first().waitFor();
    const rowMs = Date.now() - t0;
    const paint = await p.page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    if (p.problems().length > 0) throw new Error(p.problems().join('\n'));
    await p.close();
    // The first load warms the server's caches and the browser: not counted.
    if (i === 0) continue;
    fcp.push(paint);
    firstRow.push(rowMs);
  }
} finally {
  await browser.close();
  await server.stop();
  removeDir(server.dataDir);
}

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
console.log(
  JSON.stringify(
    {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      node: process.version,
      storedResponses: responses,
      loads,
      firstContentfulPaintMs: { p50: Math.round(pct(fcp, 0.5)), p95: Math.round(pct(fcp, 0.95)) },
      firstRowOnScreenMs: { p50: Math.round(pct(firstRow, 0.5)), p95: Math.round(pct(firstRow, 0.95)) },
    },
    null,
    2,
  ),
);
