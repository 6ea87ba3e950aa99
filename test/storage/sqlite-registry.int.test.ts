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
      expect(() => db.exec('DELETE FROM prompt_versions')).toThrow(/immutable/);
      expect(() => db.exec("UPDATE alias_moves SET reason = 'rewritten'")).toThrow(/append-only/);
      expect(() => db.exec('DELETE FROM alias_moves')).toThrow(/append-only/);
    } finally {
      db.close();
      removeDir(dir);
    }
  });
});
