import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportRequest, jsonSpan, str, uniqueId } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, tempDataDir, type ServerUnderTest } from '../helpers/server.ts';

// The data directory holds key hashes, the registry, the audit log and its anchor, and raw spans in
// the spool: none of it is for other users of the machine. Under the usual umask (022), what
// Promptline creates there is its owner's alone: directories 0700, files 0600. The embedded
// ClickHouse engine makes its own files, with its own modes, inside the data directory, which
// closes them to others.

const mode = (path: string) => statSync(path).mode & 0o777;
const octal = (m: number) => `0${m.toString(8)}`;

/** Every directory and file under `dir` but the engine's, with its mode in octal. */
function modes(dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (relative(dir, p) === 'clickhouse') continue;
      out.push([relative(dir, p), octal(mode(p))]);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('files in the data directory', () => {
  const root = tempDataDir('file-modes-');
  const dataDir = join(root, 'promptline', 'data'); // does not exist yet: the server makes it
  let server: ServerUnderTest;
  let umask: number;

  const work = async () => {
    const responseId = uniqueId('modes');
    const span = jsonSpan({ attributes: [str('gen_ai.prompt.name', 'modes'), str('gen_ai.prompt.version', '1'), str('gen_ai.response.id', responseId)] });
    expect((await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(exportRequest([span])) })).status).toBe(200);
    await eventually(() => provenance(server.url, { response_id: responseId }), 'the span stored');
    const res = await fetch(`${server.url}/v1/prompts/modes/versions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ template: 'Answer: {{q}}', commitMessage: 'first' }) });
    expect(res.status).toBe(201);
  };

  beforeAll(async () => {
    umask = process.umask(0o022); // the usual one, whatever this machine's is; the server inherits it
    server = await startServer({ dataDir });
    await work();
  });
  afterAll(async () => {
    await server?.stop();
    process.umask(umask);
    removeDir(root);
  });

  it('makes the data directory, the spool and every file in them readable by their owner only', () => {
    expect(octal(mode(join(root, 'promptline')))).toBe('0700');
    expect(octal(mode(dataDir))).toBe('0700');
    const found = modes(dataDir);
    const names = found.map(([p]) => p);
    // What there is to protect: the SQLite files (with their write-ahead logs, open now), the
    // spool's segments and the audit anchor.
    for (const f of ['spool', 'audit-head.json']) expect(names).toContain(f);
    for (const kind of [/\.sqlite$/, /\.sqlite-wal$/, /^spool\/\d{20}\.seg$/]) expect(names.some((p) => kind.test(p)), String(kind)).toBe(true);
    for (const [p, m] of found) expect([p, m]).toEqual([p, statSync(join(dataDir, p)).isDirectory() ? '0700' : '0600']);
    if (existsSync(join(dataDir, 'dead-letter'))) expect(octal(mode(join(dataDir, 'dead-letter')))).toBe('0700');
  });

  it('closes a data directory left open to others by an earlier version', async () => {
    await server.stop();
    chmodSync(dataDir, 0o755);
    server = await startServer({ dataDir });
    await work();
    expect(octal(mode(dataDir))).toBe('0700');
    for (const [p, m] of modes(dataDir)) expect([p, m]).toEqual([p, statSync(join(dataDir, p)).isDirectory() ? '0700' : '0600']);
  });
});
