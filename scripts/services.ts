// npm run services:up | services:down | services:status
//
// Starts Neo4j 5.26 LTS Community on 127.0.0.1 for tests and contributors (see services/neo4j.ts),
// waits until Bolt answers, and writes the settings to use to .services.env:
//
//   set -a; . ./.services.env; set +a
//
// The server keeps its data in .cache/services/neo4j between up and down.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { LocalNeo4j, NEO4J_VERSION, runningIn, whyNoLocalNeo4j } from './services/neo4j.ts';

const ROOT = resolve(import.meta.dirname, '..');
const HOME = join(ROOT, '.cache', 'services', 'neo4j');
const ENV_FILE = join(ROOT, '.services.env');

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

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

async function up(): Promise<void> {
  const why = whyNoLocalNeo4j();
  if (why) throw new Error(`cannot start Neo4j: ${why}`);
  const running = runningIn(HOME);
  if (running && existsSync(ENV_FILE)) {
    console.log(`Neo4j is already running (pid ${running}); settings in .services.env`);
    return;
  }
  const wanted = Number(process.env.NEO4J_BOLT_PORT ?? 7687);
  const port = (await portFree(wanted)) ? wanted : await freePort();
  const server = new LocalNeo4j({ home: HOME, boltPort: port, detached: true, heapMb: 768, log: (l) => console.log(l) });
  const started = Date.now();
  console.log(`starting Neo4j ${NEO4J_VERSION} on ${server.url}…`);
  await server.start();
  writeFileSync(ENV_FILE, `NEO4J_URL=${server.url}\nNEO4J_USER=${server.user}\nNEO4J_PASSWORD=${server.password}\n`, { mode: 0o600 });
  console.log(`Neo4j is up on ${server.url} (pid ${server.pid}, ${Date.now() - started} ms); settings written to .services.env`);
}

async function down(): Promise<void> {
  const pid = runningIn(HOME);
  if (pid) {
    await new LocalNeo4j({ home: HOME, boltPort: 0 }).stop();
    console.log(`Neo4j (pid ${pid}) stopped`);
  } else console.log('Neo4j is not running');
  rmSync(ENV_FILE, { force: true });
}

function status(): void {
  const pid = runningIn(HOME);
  console.log(pid ? `Neo4j is running (pid ${pid})` : 'Neo4j is not running');
}

const command = process.argv[2];
const run = command === 'up' ? up : command === 'down' ? down : command === 'status' ? async () => status() : null;
if (!run) {
  console.error('usage: node scripts/services.ts up|down|status');
  process.exit(2);
}
run().catch((err: unknown) => {
  console.error(`services ${command}: ${(err as Error).message}`);
  process.exit(1);
});
