import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { freePort, removeDir, tempDataDir } from '../helpers/server.ts';

// Bad configuration stops `promptline serve` with one clear line and exit code 1, not a stack
// trace; a signal stops it with 0, a second signal while it stops with 130 (README: exit codes).

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Root without the capabilities that let it pass file permissions (util-linux setpriv): the kernel
 * then checks the data directory's mode as for any user, while the checkout, wherever it is, stays
 * readable (root owns it). The tests run as root.
 */
const WITHOUT_PERMISSION_OVERRIDE = ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--'];

function spawnServe(env: Record<string, string>, dataDir: string, port: number, grpcPort: number, prefix: readonly string[] = []): ChildProcessByStdio<null, Readable, Readable> {
  const command = [...prefix, process.execPath, '--conditions=@promptline/source', join(ROOT, 'src/cli.ts'), 'serve'];
  return spawn(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, NEO4J_URL: '', NEO4J_USER: '', NEO4J_PASSWORD: '', CLICKHOUSE_URL: '', PORT: String(port), PROMPTLINE_GRPC_PORT: String(grpcPort), PROMPTLINE_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function serve(env: Record<string, string>, prefix: readonly string[] = []): Promise<{ code: number | null; output: string }> {
  const dataDir = tempDataDir('promptline-config-');
  const child = spawnServe(env, dataDir, await freePort(), await freePort(), prefix);
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

  // As root every directory is writable: the start is made by root without the capabilities that
  // override file permissions, on a directory of another user's (nobody) closed to everyone else.
  const asRoot = process.getuid?.() === 0;
  it.skipIf(!asRoot)(`names PROMPTLINE_DATA_DIR when this user may not write the data directory (EACCES)${asRoot ? '' : ' (skipped: needs root, to drop its capabilities)'}`, async () => {
    const parent = tempDataDir('promptline-eacces-');
    try {
      const dataDir = join(parent, 'nobodys');
      mkdirSync(dataDir, { mode: 0o700 });
      chownSync(dataDir, 65534, 65534);
      expect({ uid: statSync(dataDir).uid, mode: statSync(dataDir).mode & 0o777 }).toEqual({ uid: 65534, mode: 0o700 });
      const r = await serve({ PROMPTLINE_DATA_DIR: dataDir }, WITHOUT_PERMISSION_OVERRIDE);
      expect(r.code, r.output).toBe(1);
      const line = `promptline: PROMPTLINE_DATA_DIR: ${dataDir} is not writable by this user; choose a directory this user can write`;
      expectOneClearLine(r.output, /is not writable by this user/);
      expect(r.output.split('\n')).toContain(line);
      // Refused before anything was made in it.
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      removeDir(parent);
    }
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

describe('promptline serve exits with the documented code when it is stopped', () => {
  /** Starts a server (authentication off, so an upload needs no key) and waits until it is ready. */
  async function started(dataDir: string) {
    const port = await freePort();
    const child = spawnServe({ PROMPTLINE_DEV_NO_AUTH: '1', HOST: '127.0.0.1' }, dataDir, port, await freePort());
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const waitFor = async (text: string) => {
      for (let i = 0; i < 1200 && !output.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
      expect(output, `waiting for ${JSON.stringify(text)}`).toContain(text);
    };
    await waitFor('ready in');
    return { child, port, exited, waitFor, output: () => output };
  }

  it('0 once a signal has stopped it; 130 on a second signal while it is still stopping', async () => {
    const dataDir = tempDataDir('promptline-exit-');
    try {
      const first = await started(dataDir);
      first.child.kill('SIGTERM');
      expect(await first.exited, first.output()).toBe(0);
      expect(first.output()).toMatch(/SIGTERM: stopping\n[\s\S]*the stores have everything[\s\S]*\nstopped\n/);

      // An upload that never finishes keeps the stop waiting (up to 10 s) for the requests in flight.
      const second = await started(dataDir);
      const upload = connect({ host: '127.0.0.1', port: second.port });
      upload.on('error', () => {});
      await new Promise<void>((r) => upload.once('connect', () => r()));
      upload.write('POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"resourceSpans":[');
      try {
        second.child.kill('SIGINT');
        await second.waitFor('finishing those in flight');
        second.child.kill('SIGINT');
        expect(await second.exited, second.output()).toBe(130);
        expect(second.output()).toContain('SIGINT again: exiting now; what was acknowledged stays in the spool');
        expect(second.output()).not.toContain('\nstopped\n');
      } finally {
        upload.destroy();
      }
    } finally {
      removeDir(dataDir);
    }
  }, 120_000);
});
