import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { freePort, removeDir, tempDataDir } from '../helpers/server.ts';

// Bad configuration stops `promptline serve` with one clear line and a non-zero exit, not a stack trace.

const ROOT = resolve(import.meta.dirname, '../..');

async function serve(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const dataDir = tempDataDir('promptline-config-');
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=@promptline/source', join(ROOT, 'src/cli.ts'), 'serve'], {
    cwd: ROOT,
    env: { ...process.env, NEO4J_URL: '', NEO4J_USER: '', NEO4J_PASSWORD: '', CLICKHOUSE_URL: '', PORT: String(port), PROMPTLINE_GRPC_PORT: String(await freePort()), PROMPTLINE_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  removeDir(dataDir);
  return { code, output };
}

const expectOneClearLine = (output: string, pattern: RegExp) => {
  expect(output).toMatch(pattern);
  expect(output).not.toMatch(/\n\s+at /); // no stack trace
};

describe('promptline serve refuses bad configuration clearly', () => {
  it('names a bad variable', async () => {
    const r = await serve({ PORT: 'eighty' });
    expect(r.code).toBe(1);
    expectOneClearLine(r.output, /invalid configuration:\n\s+PORT: /);
  });

  it('names a bad PROMPTLINE_GRPC_PORT, and says when the OTLP/gRPC port is taken', async () => {
    const bad = await serve({ PROMPTLINE_GRPC_PORT: 'grpc' });
    expect(bad.code).toBe(1);
    expectOneClearLine(bad.output, /invalid configuration:\n\s+PROMPTLINE_GRPC_PORT: .*or off/);
    const taken = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as AddressInfo).port)));
    try {
      const r = await serve({ PROMPTLINE_GRPC_PORT: String(port) });
      expect(r.code).toBe(1);
      // Found before anything is started or made in the data directory.
      expectOneClearLine(r.output, new RegExp(`PROMPTLINE_GRPC_PORT: 127\\.0\\.0\\.1:${port} is in use by another process; stop that process or choose another PROMPTLINE_GRPC_PORT`));
    } finally {
      taken.close();
    }
  });

  it('names PROMPTLINE_DATA_DIR when the data directory cannot be made or written', async () => {
    const r = await serve({ PROMPTLINE_DATA_DIR: join(ROOT, 'package.json', 'data') });
    expect(r.code).toBe(1);
    expectOneClearLine(r.output, /PROMPTLINE_DATA_DIR: .*package\.json\/data is under a file, not a directory; choose a directory this user can write/);
  });

  it('finds a busy port before it makes anything in the data directory', async () => {
    const taken = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as AddressInfo).port)));
    const parent = tempDataDir('promptline-busy-');
    try {
      const dataDir = join(parent, 'never-made');
      const r = await serve({ PORT: String(port), PROMPTLINE_DATA_DIR: dataDir });
      expect(r.code).toBe(1);
      expectOneClearLine(r.output, new RegExp(`PORT: 127\\.0\\.0\\.1:${port} is in use by another process; stop that process or choose another PORT`));
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      taken.close();
      removeDir(parent);
    }
  });

  it('asks for the user and password that go with NEO4J_URL', async () => {
    const r = await serve({ NEO4J_URL: 'bolt://127.0.0.1:7687' });
    expect(r.code).toBe(1);
    expectOneClearLine(r.output, /NEO4J_URL needs NEO4J_USER and NEO4J_PASSWORD/);
  });

  it('says when Neo4j cannot be reached', async () => {
    const r = await serve({ NEO4J_URL: `bolt://127.0.0.1:${await freePort()}`, NEO4J_USER: 'neo4j', NEO4J_PASSWORD: 'whatever' });
    expect(r.code).toBe(1);
    expectOneClearLine(r.output, /^promptline: cannot reach Neo4j at bolt:\/\/127\.0\.0\.1:\d+/m);
  });

  it('says when ClickHouse cannot be reached', async () => {
    const r = await serve({ CLICKHOUSE_URL: `http://127.0.0.1:${await freePort()}` });
    expect(r.code).toBe(1);
    expectOneClearLine(r.output, /^promptline: cannot reach ClickHouse at http:\/\/127\.0\.0\.1:\d+/m);
  });

  const neo4j = neo4jFromEnv();
  it.skipIf(!neo4j.settings)(`says when Neo4j refuses the password${neo4j.skipReason ? ` (skipped: ${neo4j.skipReason})` : ''}`, async () => {
    const r = await serve({ NEO4J_URL: neo4j.settings!.url, NEO4J_USER: neo4j.settings!.user, NEO4J_PASSWORD: 'not-the-password' });
    expect(r.code).toBe(1);
    expectOneClearLine(r.output, /^promptline: Neo4j at bolt:\/\/\S+ refused the credentials of user "neo4j": check NEO4J_USER and NEO4J_PASSWORD$/m);
  });
});
