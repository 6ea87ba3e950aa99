import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDataDir, PID_FILE } from '../../src/storage/sqlite/data-dir-lock.ts';
import { exportRequest, jsonSpan, str } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, tempDataDir, type ServerUnderTest } from '../helpers/server.ts';

// The data directory's lock is SQLite's (the kernel's): it goes with its process however that
// ends, and a pid left in promptline.pid, even one a live process now has, blocks nothing.

const LOCK = pathToFileURL(resolve(import.meta.dirname, '../../src/storage/sqlite/data-dir-lock.ts')).href;

/** A process that takes the lock, says so, and holds it until it is killed. */
function holder(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { lockDataDir } from ${JSON.stringify(LOCK)}; lockDataDir(${JSON.stringify(dir)}); process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && res(child));
    child.once('exit', (code) => rej(new Error(`the holder exited with ${code}`)));
  });
}

const exited = (child: ChildProcess) => new Promise<void>((res) => (child.exitCode !== null || child.signalCode !== null ? res() : child.once('exit', () => res())));

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) removeDir(d);
});

describe('the data directory lock', () => {
  it('refuses a second process while the first lives, naming its pid', async () => {
    const dir = tempDataDir();
    dirs.push(dir);
    const first = await holder(dir);
    children.push(first);
    expect(() => lockDataDir(dir, 200)).toThrow(new RegExp(`in use by another Promptline process \\(pid ${first.pid}\\).*PROMPTLINE_DATA_DIR`));
  });

  it('is free at once after kill -9, ten times in a row', async () => {
    const dir = tempDataDir();
    dirs.push(dir);
    for (let i = 0; i < 10; i++) {
      const child = await holder(dir);
      children.push(child);
      child.kill('SIGKILL');
      await exited(child);
      // No wait: the kernel let the lock go with the process.
      const release = lockDataDir(dir, 0);
      release();
    }
  });

  it('is not blocked by a pid file naming a live, unrelated process', () => {
    const dir = tempDataDir();
    dirs.push(dir);
    writeFileSync(join(dir, PID_FILE), '1\n');
    const release = lockDataDir(dir, 0);
    release();
  });

  it('waits for a holder that lets go while it waits', async () => {
    const dir = tempDataDir();
    dirs.push(dir);
    const first = await holder(dir);
    children.push(first);
    setTimeout(() => first.kill('SIGKILL'), 300);
    // lockDataDir waits synchronously: the kill above is sent from this process's timer, so the
    // wait is given to a child that tries while the holder is killed.
    const second = spawn(process.execPath, ['--input-type=module', '-e', `import { lockDataDir } from ${JSON.stringify(LOCK)}; lockDataDir(${JSON.stringify(dir)}, 20000); process.stdout.write('locked\\n');`], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(second);
    let out = '';
    second.stdout.on('data', (d: Buffer) => (out += d.toString()));
    second.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((res) => second.once('exit', res));
    expect({ code, out }).toEqual({ code: 0, out: 'locked\n' });
  });
});

describe('promptline serve on one data directory', () => {
  it('refuses a second live server on the same directory, naming the first one and the setting', { timeout: 120_000 }, async () => {
    const dir = tempDataDir();
    dirs.push(dir);
    const first = await startServer({ dataDir: dir });
    try {
      const second = await startServer({ dataDir: dir }).then(
        async (s) => (await s.stop(), null),
        (err: unknown) => String(err),
      );
      expect(second).toMatch(new RegExp(`exited with 1 before it was ready[\\s\\S]*in use by another Promptline process \\(pid ${first.process.pid}\\)[\\s\\S]*PROMPTLINE_DATA_DIR`));
      // The first is untouched.
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    } finally {
      await first.stop();
    }
  });

  it('starts at once right after kill -9, ten times in a row under ingest, losing nothing acknowledged', { timeout: 600_000 }, async () => {
    const dir = tempDataDir();
    dirs.push(dir);
    const acknowledged: string[] = [];
    let server: ServerUnderTest = await startServer({ dataDir: dir });
    for (let round = 0; round < 10; round++) {
      // Ingest while the kill lands: a stream of requests, the kill after the third acknowledgement.
      let stop = false;
      const sender = (async () => {
        for (let i = 0; !stop; i++) {
          const id = `lock-${round}-${i}`;
          const body = exportRequest([jsonSpan({ name: 'chat', attributes: [str('gen_ai.response.id', id), str('gen_ai.prompt.name', 'lock-prompt'), str('gen_ai.prompt.version', String(round + 1))] })]);
          try {
            const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
            await res.arrayBuffer();
            if (res.status === 200) acknowledged.push(id);
          } catch {
            // the kill cut the request: never acknowledged
          }
        }
      })();
      await eventually(async () => (acknowledged.filter((a) => a.startsWith(`lock-${round}-`)).length >= 3 ? true : undefined), `acknowledgements in round ${round}`);
      await server.kill();
      stop = true;
      await sender;
      // No pause: the supervisor's restart.
      server = await startServer({ dataDir: dir });
    }
    try {
      for (const id of acknowledged) {
        const answer = await eventually(() => provenance(server.url, { response_id: id }), `response ${id}`);
        expect(JSON.stringify(answer)).toContain('lock-prompt');
      }
    } finally {
      await server.stop();
    }
  });
});
