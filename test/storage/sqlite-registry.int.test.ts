import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { hashTemplate } from '../../src/domain/prompt.ts';
import { SharedDatabase } from '../../src/storage/sqlite/sqlite-db.ts';
import { SqliteGovernance } from '../../src/storage/sqlite/sqlite-governance.ts';
import { SqliteRegistry } from '../../src/storage/sqlite/sqlite-registry.ts';
import { describeRegistryContract } from '../contract/registry.contract.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

describeRegistryContract('SQLite (node:sqlite)', async (clock) => {
  const dir = tempDataDir('sqlite-registry-');
  // The registry shares its file with keys and the audit log, as in a data directory.
  const records = new SharedDatabase(join(dir, 'registry.sqlite'));
  const registry = new SqliteRegistry(records, { clock });
  const audit = new SqliteGovernance(records, { clock });
  await audit.migrate();
  return {
    registry,
    audit,
    async cleanup() {
      await registry.close();
      await audit.close();
      removeDir(dir);
    },
  };
});

describe('the SQLite registry file itself', () => {
  it('refuses to change or delete a version or an alias move, even by hand', async () => {
    const dir = tempDataDir('sqlite-registry-immutable-');
    const file = join(dir, 'registry.sqlite');
    const reg = new SqliteRegistry(file);
    await reg.migrate();
    const t = { type: 'text' as const, text: 'v1' };
    await reg.registerVersion('p', { name: 'x', template: t, templateHash: hashTemplate(t), commitMessage: 'm', author: 'a', tags: [], baseVersion: null });
    await reg.moveAlias('p', { name: 'x', alias: 'production', to: { version: 1, split: null }, actor: 'a', reason: 'r', rollback: false });
    await reg.close();
    const db = new DatabaseSync(file);
    try {
      expect(() => db.exec("UPDATE prompt_versions SET template = '{}'")).toThrow(/immutable/);
      expect(() => db.exec(`UPDATE prompt_versions SET origin = '{"derivedFrom":[],"optimizer":null}'`)).toThrow(/immutable/);
      expect(() => db.exec('DELETE FROM prompt_versions')).toThrow(/immutable/);
      expect(() => db.exec("UPDATE alias_moves SET reason = 'rewritten'")).toThrow(/append-only/);
      expect(() => db.exec('DELETE FROM alias_moves')).toThrow(/append-only/);
    } finally {
      db.close();
      removeDir(dir);
    }
  });

  it('gives a file from before origins were kept the origin column, its versions unchanged and without one', async () => {
    const dir = tempDataDir('sqlite-registry-origin-');
    const file = join(dir, 'registry.sqlite');
    const t = { type: 'text' as const, text: 'v1' };
    const first = new SqliteRegistry(file);
    await first.migrate();
    await first.registerVersion('p', { name: 'x', template: t, templateHash: hashTemplate(t), commitMessage: 'm', author: 'a', tags: [], baseVersion: null });
    await first.close();
    // As the file was at the registry's first schema version: the columns later versions added are dropped.
    const db = new DatabaseSync(file);
    const firstSchema: Record<string, string[]> = {
      prompt_versions: ['project', 'name', 'version', 'template', 'template_hash', 'commit_message', 'author', 'tags', 'base_version', 'created_at'],
      alias_moves: ['project', 'name', 'alias', 'seq', 'at', 'actor', 'reason', 'from_target', 'to_target', 'rollback'],
    };
    for (const [table, columns] of Object.entries(firstSchema)) {
      for (const c of db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>) if (!columns.includes(c.name)) db.exec(`ALTER TABLE ${table} DROP COLUMN ${c.name}`);
    }
    db.exec("UPDATE schema_versions SET version = 1 WHERE component = 'registry'");
    db.close();
    const reg = new SqliteRegistry(file);
    try {
      await reg.migrate();
      expect(await reg.getVersion('p', 'x', 1)).toMatchObject({ version: 1, commitMessage: 'm', origin: null });
      const origin = { derivedFrom: [{ name: 'x', version: 1 }], optimizer: { name: 'gepa', runId: 'r1', dataset: null, scorer: null, score: null } };
      const v2 = await reg.registerVersion('p', { name: 'x', template: t, templateHash: hashTemplate(t), commitMessage: 'tuned', author: 'a', tags: [], baseVersion: null, origin });
      expect((await reg.getVersion('p', 'x', 2))?.origin).toEqual(v2.origin);
    } finally {
      await reg.close();
      removeDir(dir);
    }
  });
});
