import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportRequest, jsonSpan, str } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// A crash in the middle of writing a spool record leaves it torn (a request that was never
// acknowledged). Here the last record is cut in the middle by hand after kill -9: at the next
// start it is detected by its length and checksum, skipped, and logged; the records before it are
// written to the stores, and the server takes new requests.

describe('a torn last record in the spool', () => {
  let server: ServerUnderTest | undefined;
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('is detected, skipped and logged at the next start, and the records before it are kept', { timeout: 60_000 }, async () => {
    // The writer lingers a minute, so the requests are only in the spool when the process dies.
    const first = await startServer({ env: { PROMPTLINE_FLUSH_INTERVAL_MS: '60000', PROMPTLINE_BATCH_MAX_SPANS: '100000' } });
    const ids = [0, 1, 2, 3, 4].map((i) => `torn-${i}`);
    for (const id of ids) {
      const res = await fetch(`${first.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(exportRequest([jsonSpan({ attributes: [str('gen_ai.response.id', id), str('gen_ai.prompt.name', 'torn-prompt')] })])) });
      expect(res.status).toBe(200);
    }
    await first.kill();
    const spool = join(first.dataDir, 'spool');
    const segment = join(spool, readdirSync(spool).filter((f) => f.endsWith('.seg')).sort().at(-1)!);
    const size = statSync(segment).size;
    truncateSync(segment, size - 200); // into the middle of the last record

    server = await startServer({ dataDir: first.dataDir });
    for (const id of ids.slice(0, 4)) expect(await eventually(() => provenance(server!.url, { response_id: id }), id)).toMatchObject({ prompt: { name: 'torn-prompt' } });
    expect(await provenance(server.url, { response_id: 'torn-4' })).toBeUndefined();
    const log = server.output();
    expect(log).toMatch(/spool: torn or corrupt record skipped/);
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { spool: { tornRecords: number } };
    expect(ready.spool.tornRecords).toBe(1);
    const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(exportRequest([jsonSpan({ attributes: [str('gen_ai.response.id', 'torn-after')] })])) });
    expect(res.status).toBe(200);
    expect(await eventually(() => provenance(server!.url, { response_id: 'torn-after' }), 'a new request')).toBeDefined();
    console.log(`torn record: acknowledged 5, cut 1 by hand, kept 4 of 4 before it, torn records counted ${ready.spool.tornRecords}`);
  });
});
