import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalNeo4j, whyNoLocalNeo4j } from '../../scripts/services/neo4j.ts';
import { entity } from '../../src/domain/graph.ts';
import { Neo4jLineageGraph } from '../../src/storage/neo4j/neo4j-lineage-graph.ts';
import { exportRequest, jsonSpan, str } from '../helpers/otlp-payloads.ts';
import { eventually, freePort, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Neo4j goes away in the middle of ingest and comes back: the receiver keeps acknowledging (the
// spool holds the requests) until its spool is full, then answers 503 with Retry-After (never 500);
// once Neo4j is back the graph catches up with every edge of the outage and the receiver takes
// requests again by itself. This test runs a Neo4j server of its own, since it stops it.

const why = whyNoLocalNeo4j();

describe.skipIf(why !== null)(`the lineage graph on Neo4j survives a Neo4j outage${why ? ` (skipped: ${why})` : ''}`, () => {
  let neo: LocalNeo4j | undefined;
  let server: ServerUnderTest | undefined;
  const home = mkdtempSync(join(tmpdir(), 'promptline-outage-neo4j-'));

  afterAll(async () => {
    await server?.kill();
    if (server) removeDir(server.dataDir);
    await neo?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  /** One request: an agent step with its own prompt version and dataset, and an LLM call under it. */
  function request(i: number) {
    const step = jsonSpan({ name: 'invoke_agent', attributes: [str('gen_ai.prompt.name', 'outage-prompt'), str('gen_ai.prompt.version', String(i)), str('gen_ai.data_source.id', `ds-${i}`)] });
    const call = jsonSpan({ traceId: step.traceId, parentSpanId: step.spanId, attributes: [str('gen_ai.response.model', `model-${i % 3}`), str('gen_ai.response.id', `outage-resp-${i}`)] });
    return exportRequest([step, call]);
  }

  it('acknowledges during the outage and records every edge of it once Neo4j is back', { timeout: 300_000 }, async () => {
    const phase = (what: string) => console.log(`[outage] ${new Date().toISOString()} ${what}`);
    neo = new LocalNeo4j({ home, boltPort: await freePort(), heapMb: 512 });
    await neo.start();
    server = await startServer({
      env: {
        NEO4J_URL: neo.url,
        NEO4J_USER: neo.user,
        NEO4J_PASSWORD: neo.password,
        PROMPTLINE_FLUSH_INTERVAL_MS: '20',
        // Room for about 60 requests: the outage fills it.
        PROMPTLINE_SPOOL_MAX_BYTES: '64000',
        PROMPTLINE_SPOOL_SEGMENT_BYTES: '16000',
      },
    });
    const counts = { sent: 0, acknowledged: 0, duringOutage: 0, refused503: 0 };
    const acked = new Set<number>();
    const send = async (i: number, outage: boolean): Promise<number> => {
      counts.sent++;
      const res = await fetch(`${server!.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request(i)) });
      await res.arrayBuffer();
      expect([200, 503]).toContain(res.status);
      if (res.status === 503) {
        counts.refused503++;
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      } else {
        counts.acknowledged++;
        acked.add(i);
        if (outage) counts.duringOutage++;
      }
      return res.status;
    };

    let i = 0;
    for (; i < 20; i++) expect(await send(i, false)).toBe(200);
    phase('killing Neo4j');
    await neo.kill(); // no goodbye: connections drop mid-stream
    // Until the spool is full (bounded: at most 300 requests).
    for (let n = 0; n < 300 && counts.refused503 < 5; n++, i++) await send(i, true);
    expect(counts.refused503).toBeGreaterThan(0);
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { status: string; writer: { lastError: string | null } };
    expect(ready.status).toBe('degraded');
    await eventually(async () => ((await (await fetch(`${server!.url}/readyz`)).json() as { writer: { lastError: string | null } }).writer.lastError ? true : undefined), 'the writer to report the outage');
    phase('starting Neo4j again');
    await neo.start();
    phase('Neo4j is back');
    // The receiver takes requests again once the writer has drained the spool into Neo4j.
    await eventually(async () => ((await send(i++, false)) === 200 ? true : undefined), 'the receiver to take requests again', 120_000);
    for (let n = 0; n < 10; n++, i++) await send(i, false);

    const graph = await Neo4jLineageGraph.connect({ url: neo.url, user: neo.user, password: neo.password });
    try {
      const missing = await eventually(async () => {
        const ready = (await (await fetch(`${server!.url}/readyz`)).json()) as { writer: { queuedRecords: number } };
        if (ready.writer.queuedRecords > 0) return undefined;
        const gaps: number[] = [];
        for (const v of acked) {
          const feeds = await graph.edgesOf('default', entity('Dataset', `ds-${v}`), 'out');
          const ok = feeds.some((e) => e.rel === 'FEEDS' && e.to.parts[0] === 'outage-prompt' && e.to.parts[1] === String(v));
          if (!ok) gaps.push(v);
        }
        return gaps.length === 0 ? gaps : undefined;
      }, 'the graph to catch up', 120_000);
      const ranOn = await graph.edgesOf('default', entity('PromptVersion', 'outage-prompt', '45'), 'out');
      console.log(
        `neo4j outage: sent ${counts.sent}, acknowledged ${counts.acknowledged} (${counts.duringOutage} during the outage), refused with 503 ${counts.refused503}, ` +
          `acknowledged prompt versions found in the graph ${acked.size - missing.length} of ${acked.size}`,
      );
      expect(missing).toEqual([]);
      expect(ranOn.map((e) => `${e.rel}:${e.to.parts.join('/')}`)).toContain('RAN_ON:/model-0');
      expect(acked.has(45)).toBe(true);
    } finally {
      await graph.close();
    }
  });
});
