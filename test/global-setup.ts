import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalNeo4j, whyNoLocalNeo4j } from '../scripts/services/neo4j.ts';

// The test run's own Neo4j. With NEO4J_URL set (npm run services:up), the tests use that server.
// Otherwise one is started here, on a free loopback port with a throw-away home, for the whole run,
// and stopped at the end. PROMPTLINE_TEST_NEO4J=off skips the Neo4j tests (each says so).

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.NEO4J_URL) {
    console.log(`[neo4j] using ${process.env.NEO4J_URL} from NEO4J_URL`);
    return;
  }
  if (process.env.PROMPTLINE_TEST_NEO4J === 'off') {
    process.env.PROMPTLINE_TEST_NEO4J_SKIP_REASON = 'PROMPTLINE_TEST_NEO4J=off';
    return;
  }
  const why = whyNoLocalNeo4j();
  if (why) {
    process.env.PROMPTLINE_TEST_NEO4J_SKIP_REASON = why;
    console.log(`[neo4j] Neo4j tests skip: ${why}`);
    return;
  }
  const home = mkdtempSync(join(tmpdir(), 'promptline-test-neo4j-'));
  const server = new LocalNeo4j({ home, boltPort: await freePort(), heapMb: 768, log: (l) => console.log(`[neo4j] ${l}`) });
  const started = Date.now();
  await server.start();
  console.log(`[neo4j] started Neo4j on ${server.url} for this run in ${Date.now() - started} ms`);
  process.env.NEO4J_URL = server.url;
  process.env.NEO4J_USER = server.user;
  process.env.NEO4J_PASSWORD = server.password;
  return async () => {
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  };
}
