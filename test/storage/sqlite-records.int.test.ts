import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain/governance.ts';
import { hashTemplate, type AliasMove } from '../../src/domain/prompt.ts';
import { ConfigError } from '../../src/common/errors.ts';
import { AuditService, auditHash } from '../../src/governance/audit.ts';
import { moveEntry } from '../../src/governance/audit-content.ts';
import { verifyAudit } from '../../src/governance/audit-verify.ts';
import { GENESIS_HASH } from '../../src/storage/governance.ts';
import { SqliteGovernance } from '../../src/storage/sqlite/sqlite-governance.ts';
import { SqliteLineageGraph } from '../../src/storage/sqlite/sqlite-lineage-graph.ts';
import { openRecords, RECORDS_FILE } from '../../src/storage/sqlite/sqlite-records.ts';
import { SqliteRegistry } from '../../src/storage/sqlite/sqlite-registry.ts';
import { RegistryService } from '../../src/registry/registry-service.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The data directory's records file: the registry, keys and the audit log in one SQLite file, so
// that a change and its entry commit together; what an older Promptline left (governance.sqlite
// beside registry.sqlite) is moved in once; and the registry's rows are held to the chain, so an
// edit of the file itself is caught.

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function openDataDir(dir: string) {
  const records = openRecords(dir);
  const registry = new SqliteRegistry(records);
  const governance = new SqliteGovernance(records);
  await registry.migrate();
  await governance.migrate();
  const audit = new AuditService({ log: governance, history: registry, logger: silent });
  return { registry, governance, audit, close: async () => (await registry.close(), await governance.close()) };
}

/** The files of a data directory from before keys and the audit log moved into registry.sqlite, as that version made them. */
function legacyDataDir(): { dir: string; entries: AuditEntry[] } {
  const dir = tempDataDir('sqlite-legacy-');
  const reg = new DatabaseSync(join(dir, 'registry.sqlite'));
  reg.exec(`
    CREATE TABLE prompts (project TEXT NOT NULL, name TEXT NOT NULL, last_version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (project, name)) WITHOUT ROWID;
    CREATE TABLE prompt_versions (project TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, template TEXT NOT NULL, template_hash TEXT NOT NULL, commit_message TEXT NOT NULL,
      author TEXT NOT NULL, tags TEXT NOT NULL, base_version INTEGER, created_at INTEGER NOT NULL, PRIMARY KEY (project, name, version)) WITHOUT ROWID;
    CREATE INDEX prompt_versions_by_hash ON prompt_versions (project, template_hash);
    CREATE TABLE alias_moves (project TEXT NOT NULL, name TEXT NOT NULL, alias TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
      from_target TEXT, to_target TEXT NOT NULL, rollback INTEGER NOT NULL, PRIMARY KEY (project, name, alias, seq)) WITHOUT ROWID;
    CREATE INDEX alias_moves_by_time ON alias_moves (project, name, alias, at);
    PRAGMA user_version = 1;`);
  const template = { type: 'text' as const, text: 'Answer: {{q}}' };
  reg.prepare('INSERT INTO prompts VALUES (?, ?, 1, 1000, 1000)').run('default', 'support');
  reg.prepare('INSERT INTO prompt_versions VALUES (?, ?, 1, ?, ?, ?, ?, ?, NULL, 1000)').run('default', 'support', JSON.stringify(template), hashTemplate(template), 'first', 'alice', '[]');
  reg.prepare('INSERT INTO alias_moves VALUES (?, ?, ?, 1, 2000, ?, ?, NULL, ?, 0)').run('default', 'support', 'production', 'alice', 'release', JSON.stringify({ version: 1, split: null }));
  reg.close();

  const gov = new DatabaseSync(join(dir, 'governance.sqlite'));
  gov.exec(`
    CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, promote INTEGER NOT NULL, project TEXT NOT NULL, secret_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL, created_by TEXT NOT NULL, expires_at INTEGER, revoked_at INTEGER, revoked_by TEXT) WITHOUT ROWID;
    CREATE INDEX api_keys_by_project ON api_keys (project, created_at);
    CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, project TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
      before TEXT, after TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE INDEX audit_by_project ON audit_log (project, seq);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    PRAGMA user_version = 1;`);
  gov.prepare("INSERT INTO api_keys VALUES ('00000000000000b0', 'bootstrap admin', 'admin', 1, 'default', 'scrypt$1$1$1$c2FsdA$aGFzaA', 500, 'bootstrap', NULL, NULL, NULL)").run();
  const made = [
    { at: 500, project: 'default', actor: 'bootstrap', action: 'key.create', target: 'key:00000000000000b0', before: null, after: { id: '00000000000000b0' } },
    { at: 1000, project: 'default', actor: 'alice', action: 'prompt.register', target: 'prompts:/support/1', before: null, after: { name: 'support', version: 1, templateHash: hashTemplate(template), commitMessage: 'first', tags: [], baseVersion: null } },
    { at: 1500, project: 'shop', actor: 'bootstrap', action: 'key.create', target: 'key:00000000000000c0', before: null, after: null },
    { at: 2000, project: 'default', actor: 'alice', action: 'alias.move', target: 'prompts:/support@production', before: null, after: { version: 1, split: null, seq: 1, reason: 'release' } },
  ];
  const entries: AuditEntry[] = [];
  for (const [i, m] of made.entries()) {
    const unhashed = { ...m, seq: i + 1, projectSeq: null, at: new Date(m.at), prevHash: entries.at(-1)?.hash ?? GENESIS_HASH };
    const e = { ...unhashed, hash: auditHash(unhashed) };
    entries.push(e);
    gov.prepare('INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(e.seq, m.at, e.project, e.actor, e.action, e.target, JSON.stringify(e.before), JSON.stringify(e.after), e.prevHash, e.hash);
  }
  gov.close();
  return { dir, entries };
}

describe('a data directory from before keys and the audit log shared the registry file', () => {
  it('has them moved into registry.sqlite once, numbered within their projects, the chain and the registry verifying', async () => {
    const { dir, entries } = legacyDataDir();
    const d = await openDataDir(dir);
    try {
      expect(existsSync(join(dir, 'governance.sqlite'))).toBe(false);
      expect(existsSync(join(dir, 'governance.sqlite.merged'))).toBe(true);
      // The keys' own migrations ran on the rows moved in: the bootstrap key is an instance admin.
      expect(await d.governance.getKey('00000000000000b0')).toMatchObject({ name: 'bootstrap admin', instanceAdmin: true });
      const scanned = await d.governance.scan(1, 100);
      expect(scanned.map((e) => [e.seq, e.hash])).toEqual(entries.map((e) => [e.seq, e.hash]));
      expect(scanned.map((e) => [e.project, e.projectSeq])).toEqual([['default', 1], ['default', 2], ['shop', 1], ['default', 3]]);
      expect(await d.audit.verify()).toMatchObject({ ok: true, problems: [], registry: { versions: 1, moves: 1 } });
      // Appending goes on from the chain as it was.
      await d.registry.moveAlias('default', { name: 'support', alias: 'production', to: { version: 1, split: null }, actor: 'bob', reason: 'again', rollback: false }, d.audit.draft((m: AliasMove) => moveEntry('default', m)));
      expect((await d.governance.list({ project: 'default', limit: 1 }))[0]).toMatchObject({ seq: 5, projectSeq: 4, prevHash: entries.at(-1)!.hash });
    } finally {
      await d.close();
    }
    // A second start finds nothing to move.
    const again = await openDataDir(dir);
    expect((await again.governance.scan(1, 100)).length).toBe(5);
    await again.close();
    removeDir(dir);
  });

  it('finishes a move an earlier start made but stopped before setting the old file aside, and refuses two different logs', async () => {
    const { dir } = legacyDataDir();
    const copy = tempDataDir('sqlite-legacy-copy-');
    const { copyFileSync } = await import('node:fs');
    copyFileSync(join(dir, 'governance.sqlite'), join(copy, 'governance.sqlite'));
    await (await openDataDir(dir)).close();
    // As if the start had stopped right after its commit: the old file is still there.
    copyFileSync(join(copy, 'governance.sqlite'), join(dir, 'governance.sqlite'));
    const d = await openDataDir(dir);
    expect((await d.governance.scan(1, 100)).length).toBe(4);
    expect(existsSync(join(dir, 'governance.sqlite'))).toBe(false);
    await d.close();

    // A governance.sqlite whose log is not the one moved in is not merged over it.
    const other = new DatabaseSync(join(copy, 'governance.sqlite'));
    other.exec("DROP TRIGGER audit_no_update; UPDATE audit_log SET hash = 'f' || substr(hash, 2) WHERE seq = 4");
    other.close();
    copyFileSync(join(copy, 'governance.sqlite'), join(dir, 'governance.sqlite'));
    expect(() => openRecords(dir)).toThrow(ConfigError);
    removeDir(dir);
    removeDir(copy);
  });
});

describe('the registry rows in the records file, held to the audit chain', () => {
  async function withHistory() {
    const dir = tempDataDir('sqlite-records-');
    const d = await openDataDir(dir);
    const graph = new SqliteLineageGraph(join(dir, 'lineage.sqlite'));
    await graph.migrate();
    const service = new RegistryService({ registry: d.registry, graph, logger: silent, audit: d.audit });
    await service.register('p', 'alice', { name: 'x', template: 'v1 {{q}}', commitMessage: 'one', tags: [] });
    await service.register('p', 'alice', { name: 'x', template: 'v2 {{q}}', commitMessage: 'two', tags: ['t'] });
    await service.moveAlias('p', 'alice', { name: 'x', alias: 'production', version: 1, reason: 'first release' });
    await service.moveAlias('p', 'bob', { name: 'x', alias: 'production', version: 2, reason: 'better answers' });
    await d.close();
    await graph.close();
    return join(dir, RECORDS_FILE);
  }
  const verify = async (file: string) => {
    const d = await openDataDir(join(file, '..'));
    try {
      return await verifyAudit({ scan: (from, limit) => d.governance.scan(from, limit), history: d.registry });
    } finally {
      await d.close();
    }
  };
  /** Edits the file around the append-only triggers, as someone with the file could. */
  const tamper = (file: string, sql: string) => {
    const db = new DatabaseSync(file);
    db.exec('DROP TRIGGER IF EXISTS alias_moves_no_update; DROP TRIGGER IF EXISTS alias_moves_no_delete; DROP TRIGGER IF EXISTS prompt_versions_no_update; DROP TRIGGER IF EXISTS prompt_versions_no_delete;');
    db.exec(sql);
    db.close();
  };

  it('catches an edited, an added and a removed version or alias move, naming it', async () => {
    for (const [what, sql, reason] of [
      ['a move\u2019s reason', "UPDATE alias_moves SET reason = 'routine change' WHERE seq = 2", /alias move 2 of prompts:\/x@production in project p does not match its audit entry \d+: its reason is not the one recorded/],
      ['a move\u2019s actor', "UPDATE alias_moves SET actor = 'mallory' WHERE seq = 1", /alias move 1 of prompts:\/x@production in project p does not match .*actor/],
      ['a move\u2019s time', 'UPDATE alias_moves SET at = at + 1 WHERE seq = 1', /alias move 1 of .* its content is not the content recorded/],
      ['a version\u2019s template', `UPDATE prompt_versions SET template = '{"type":"text","text":"evil"}' WHERE version = 1`, /prompt version prompts:\/x\/1 of project p does not match .*template/],
      ['a version\u2019s commit message', "UPDATE prompt_versions SET commit_message = 'nothing to see' WHERE version = 2", /prompt version prompts:\/x\/2 .* its commitMessage is not the one recorded/],
      ['a version\u2019s origin', `UPDATE prompt_versions SET origin = '{"derivedFrom":[],"optimizer":{"name":"gepa","runId":"r","dataset":"clean","scorer":null,"score":null}}' WHERE version = 1`, /prompt version prompts:\/x\/1 .* its content is not the content recorded/],
      ['an added move', "INSERT INTO alias_moves (project, name, alias, seq, at, actor, reason, from_target, to_target, rollback) VALUES ('p', 'x', 'production', 3, 9e12, 'mallory', 'quiet', NULL, '{\"version\":1,\"split\":null}', 0)", /alias move 3 of prompts:\/x@production in project p has no audit entry/],
      ['a removed version', 'DELETE FROM prompt_versions WHERE version = 2', /audit entry \d+ records prompts:\/x\/2 in project p, which is not in the registry/],
    ] as const) {
      const file = await withHistory();
      expect((await verify(file)).ok, what).toBe(true);
      tamper(file, sql);
      const r = await verify(file);
      expect(r.ok, what).toBe(false);
      expect(r.problem?.reason, what).toMatch(reason);
      removeDir(join(file, '..'));
    }
  });
});
