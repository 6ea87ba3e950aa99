import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditHash } from '../../src/governance/audit.ts';
import { removeDir, startServer, tempDataDir, type ServerUnderTest } from '../helpers/server.ts';

// The audit trail as an auditor uses it, through the CLI, on SQLite: an export and the data
// directory verified with no server, against a head kept from an earlier verify. Whoever holds
// the data directory can rewrite the log and its anchor consistently; the head the auditor kept
// is what they cannot move.

const ROOT = resolve(import.meta.dirname, '../..');
const ADMIN = `admin-${randomBytes(12).toString('hex')}`;
const SECRET = `secret-${randomBytes(16).toString('hex')}`;

/** Runs the CLI with this environment only (no Neo4j from the test run's): the data directory is SQLite. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const inherited = { ...process.env };
  for (const k of ['NEO4J_URL', 'NEO4J_USER', 'NEO4J_PASSWORD', 'PROMPTLINE_AUDIT_SECRET', 'PROMPTLINE_AUDIT_HEAD_FILE']) delete inherited[k];
  return new Promise((res) => {
    const child = spawn(process.execPath, ['--conditions=@promptline/source', join(ROOT, 'src/cli.ts'), ...args], { env: { ...inherited, PROMPTLINE_API_KEY: ADMIN, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => res({ code, out }));
  });
}

const headOf = (out: string) => {
  const m = /^head (\d+:[0-9a-f]{64})$/m.exec(out);
  if (!m) throw new Error(`no head printed:\n${out}`);
  return m[1]!;
};

async function api(server: ServerUnderTest, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text}`).toBeLessThan(300);
  return { text, json: (): any => JSON.parse(text) };
}

/** The records file of a copy of a data directory: what an attack edits, and the verifier reads. */
function copyDataDir(from: string): string {
  const to = tempDataDir('audit-attack-');
  for (const f of ['registry.sqlite', 'audit-head.json']) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
  return to;
}

interface Row {
  seq: number;
  project_seq: number;
  at: number;
  project: string;
  actor: string;
  action: string;
  target: string;
  before: string;
  after: string;
  prev_hash: string;
  hash: string;
}

/** An attacker who knows the chain's rule: edits entry `seq`, hashes it and every entry after it again, and writes a matching (unsigned) anchor. */
function rewriteFrom(dir: string, seq: number, edit: (r: Row) => void): void {
  const db = new DatabaseSync(join(dir, 'registry.sqlite'));
  db.exec('DROP TRIGGER audit_no_update');
  const rows = db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as unknown as Row[];
  let prev = rows.find((r) => r.seq === seq - 1)?.hash ?? '0'.repeat(64);
  for (const r of rows.filter((x) => x.seq >= seq)) {
    if (r.seq === seq) edit(r);
    const hash = auditHash({ seq: r.seq, projectSeq: r.project_seq, at: new Date(r.at), project: r.project, actor: r.actor, action: r.action, target: r.target, before: JSON.parse(r.before), after: JSON.parse(r.after), prevHash: prev });
    db.prepare('UPDATE audit_log SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(r.actor, prev, hash, r.seq);
    prev = hash;
  }
  db.close();
  writeFileSync(join(dir, 'audit-head.json'), JSON.stringify({ seq: rows.at(-1)!.seq, hash: prev }));
}

/** Cuts the last `n` entries off, and moves the anchor back to the new end (or deletes it). */
function cutTail(dir: string, n: number, anchor: 'moved back' | 'deleted'): void {
  const db = new DatabaseSync(join(dir, 'registry.sqlite'));
  db.exec('DROP TRIGGER audit_no_delete');
  const max = (db.prepare('SELECT max(seq) AS m FROM audit_log').get() as { m: number }).m;
  db.prepare('DELETE FROM audit_log WHERE seq > ?').run(max - n);
  const last = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
  db.close();
  if (anchor === 'deleted') rmSync(join(dir, 'audit-head.json'));
  else writeFileSync(join(dir, 'audit-head.json'), JSON.stringify(last));
}

describe('the audit log verified offline against a kept head, through the CLI (SQLite)', () => {
  let server: ServerUnderTest;
  let kept: string;
  let exportFile: string;
  let shop: { key: string };
  const dirs: string[] = [];

  beforeAll(async () => {
    server = await startServer({ auth: true, env: { PROMPTLINE_API_KEY: ADMIN } });
    for (let i = 1; i <= 3; i++) await api(server, ADMIN, 'POST', '/v1/prompts/p/versions', { template: `v${i} {{q}}`, commitMessage: `change ${i}` });
    await api(server, ADMIN, 'PUT', '/v1/prompts/p/aliases/production', { version: 2, reason: 'first release' });
    shop = (await api(server, ADMIN, 'POST', '/v1/keys', { role: 'admin', project: 'shop', name: 'shop admin' })).json();
    await api(server, shop.key, 'POST', '/v1/prompts/q/versions', { template: 'shop {{q}}', commitMessage: 'shop one' });
    await api(server, ADMIN, 'POST', '/v1/evaluations', { runId: 'run-7', scorer: 'helpfulness', prompt: 'prompts:/p/2', results: [{ score: 1 }, { score: 0.5 }, { label: 'ok' }] });
    await api(server, shop.key, 'PUT', '/v1/prompts/q/aliases/production', { version: 1, reason: 'shop release' });
    const online = await cli(['audit', 'verify', '--url', server.url]);
    expect(online, online.out).toMatchObject({ code: 0, out: expect.stringMatching(/intact: 10 entries/) });
    kept = headOf(online.out);
    exportFile = join(tempDataDir('audit-export-'), 'audit.jsonl');
    dirs.push(join(exportFile, '..'));
    const exported = await cli(['audit', 'export', '--out', exportFile, '--url', server.url]);
    expect(exported, exported.out).toMatchObject({ code: 0 });
    expect(headOf(exported.out)).toBe(kept);
    await server.stop();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
    for (const d of dirs) removeDir(d);
  });

  const attacked = () => {
    const d = copyDataDir(server.dataDir);
    dirs.push(d);
    return d;
  };

  it('verifies the export and the data directory with no server, printing the head', async () => {
    const file = await cli(['audit', 'verify', '--file', exportFile, '--head', kept]);
    expect(file, file.out).toMatchObject({ code: 0, out: expect.stringMatching(/intact: 10 entries/) });
    expect(headOf(file.out)).toBe(kept);
    expect(file.out).toMatch(/the head you kept \(10:/);
    const dir = await cli(['audit', 'verify', '--data-dir', server.dataDir, '--head', kept]);
    expect(dir, dir.out).toMatchObject({ code: 0, out: expect.stringMatching(/intact: 10 entries/) });
    expect(headOf(dir.out)).toBe(kept);
    expect(dir.out).toMatch(/registry: 4 prompt versions and 2 alias moves checked/);
    // Without a secret the anchor vouches for nothing by itself, and verify says so.
    expect(dir.out).toMatch(/anchor: unsigned: trust it only together with a head kept elsewhere/);
  });

  it('records each evaluation posted: who, which run, scorer and prompt version, how many, and a hash of the results', async () => {
    const line = readFileSync(exportFile, 'utf8').split('\n').map((l) => (l ? JSON.parse(l) : null)).find((e) => e?.action === 'evaluation.record');
    expect(line).toMatchObject({
      project: 'default',
      actor: expect.stringMatching(/^bootstrap admin \[key /),
      target: 'prompts:/p/2',
      after: { runId: 'run-7', scorer: 'helpfulness', prompt: { name: 'p', version: 2 }, results: 3, resultsHash: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
  });

  it('(a) catches an entry edited and every entry after it hashed again, with the anchor rewritten to match', async () => {
    const d = attacked();
    rewriteFrom(d, 6, (r) => (r.actor = 'someone else'));
    // The rewritten chain is consistent in itself, and its unsigned anchor agrees with it ...
    expect((await cli(['audit', 'verify', '--data-dir', d])).code).toBe(0);
    // ... but not with the head the auditor kept.
    const r = await cli(['audit', 'verify', '--data-dir', d, '--head', kept]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/entry 10 is not the entry whose hash you kept: the log was rewritten/);
    expect(headOf(r.out)).not.toBe(kept);
  });

  it('(a) catches the same in an export', async () => {
    const lines = readFileSync(exportFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    let prev = lines[3].hash;
    for (const e of lines.slice(4)) {
      if (e.seq === 5) e.actor = 'someone else';
      e.prevHash = prev;
      e.hash = auditHash({ ...e, at: new Date(e.at) });
      prev = e.hash;
    }
    const forged = join(attacked(), 'forged.jsonl');
    writeFileSync(forged, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    expect((await cli(['audit', 'verify', '--file', forged])).code).toBe(0);
    const r = await cli(['audit', 'verify', '--file', forged, '--head', kept]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/entry 10 is not the entry whose hash you kept/);
  });

  it('(b) catches entries cut off the end with the anchor moved back', async () => {
    const d = attacked();
    cutTail(d, 2, 'moved back');
    const r = await cli(['audit', 'verify', '--data-dir', d, '--head', kept]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/the log ends at entry 8, but the head you kept is entry 10: entries were cut off the end/);
    expect(r.out).toMatch(/^head 8:/m);
  });

  it('(c) catches entries cut off the end with the anchor deleted, with or without a kept head', async () => {
    const d = attacked();
    cutTail(d, 2, 'deleted');
    for (const args of [[], ['--head', kept]]) {
      const r = await cli(['audit', 'verify', '--data-dir', d, ...args]);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(/the anchor \(.*audit-head\.json\) is missing, but the log has 8 entries/);
    }
  });

  it('catches an alias move whose reason was edited in the SQLite file, naming it', async () => {
    const d = attacked();
    const db = new DatabaseSync(join(d, 'registry.sqlite'));
    db.exec("DROP TRIGGER alias_moves_no_update; UPDATE alias_moves SET reason = 'routine' WHERE project = 'default' AND name = 'p'");
    db.close();
    const r = await cli(['audit', 'verify', '--data-dir', d, '--head', kept]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/alias move 1 of prompts:\/p@production in project default does not match its audit entry 5: its reason is not the one recorded/);
  });
});

describe('a signed anchor, a head file elsewhere, and what a project admin sees', () => {
  let server: ServerUnderTest;
  let shop: { key: string };
  const headFile = join(tempDataDir('audit-head-file-'), 'kept-head.json');

  beforeAll(async () => {
    server = await startServer({ auth: true, env: { PROMPTLINE_API_KEY: ADMIN, PROMPTLINE_AUDIT_SECRET: SECRET, PROMPTLINE_AUDIT_HEAD_FILE: headFile } });
    shop = (await api(server, ADMIN, 'POST', '/v1/keys', { role: 'admin', project: 'shop', name: 'shop admin' })).json();
    for (const [key, name] of [[ADMIN, 'a'], [shop.key, 'b'], [ADMIN, 'c'], [shop.key, 'd']] as const) await api(server, key, 'POST', `/v1/prompts/${name}/versions`, { template: name, commitMessage: name });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
    removeDir(join(headFile, '..'));
  });

  it("numbers a project's entries without gaps and shows it no other project's place in the chain", async () => {
    const mine = (await api(server, shop.key, 'GET', '/v1/audit')).json();
    expect(mine.entries.map((e: { projectSeq: number }) => e.projectSeq)).toEqual([3, 2, 1]);
    expect(mine.entries.every((e: object) => !('seq' in e) && !('hash' in e) && !('prevHash' in e))).toBe(true);
    const verified = (await api(server, shop.key, 'GET', '/v1/audit/verify')).json();
    expect(verified).toMatchObject({ scope: 'project', ok: true, entries: 3, head: null });
    const exported = (await api(server, shop.key, 'GET', '/v1/audit/export')).text.trim().split('\n').map((l) => JSON.parse(l));
    expect(exported.map((e) => [e.project, e.projectSeq, 'seq' in e])).toEqual([['shop', 1, false], ['shop', 2, false], ['shop', 3, false]]);
    const all = (await api(server, ADMIN, 'GET', '/v1/audit/verify')).json();
    expect(all).toMatchObject({ scope: 'instance', ok: true, entries: 7, anchor: 'signed' });
    expect((await api(server, ADMIN, 'GET', '/v1/audit?project=shop')).json().entries[0]).toMatchObject({ seq: 7, projectSeq: 3, project: 'shop' });
  });

  it('signs the anchor and the head file, and catches an anchor rewritten without the secret', async () => {
    await server.stop();
    const anchor = JSON.parse(readFileSync(join(server.dataDir, 'audit-head.json'), 'utf8'));
    expect(anchor).toMatchObject({ seq: 7, signature: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.parse(readFileSync(headFile, 'utf8'))).toEqual(anchor);
    const env = { PROMPTLINE_AUDIT_SECRET: SECRET };
    const ok = await cli(['audit', 'verify', '--data-dir', server.dataDir, '--head-file', headFile], env);
    expect(ok, ok.out).toMatchObject({ code: 0, out: expect.stringMatching(/anchor: signed/) });

    const d = copyDataDir(server.dataDir);
    try {
      cutTail(d, 1, 'moved back');
      // No kept head this time: the anchor moved back is unsigned, and the secret shows it.
      const r = await cli(['audit', 'verify', '--data-dir', d], env);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toMatch(/the anchor \(.*\) is not signed, but a signing secret/);
      const wrong = await cli(['audit', 'verify', '--data-dir', server.dataDir], { PROMPTLINE_AUDIT_SECRET: `${SECRET}-not` });
      expect(wrong.code, wrong.out).toBe(1);
      expect(wrong.out).toMatch(/signature .* is not made with this secret/);
    } finally {
      removeDir(d);
    }
  });
});
