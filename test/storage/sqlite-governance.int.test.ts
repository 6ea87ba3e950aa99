import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { auditHash, verifyChain } from '../../src/governance/audit.ts';
import { SqliteGovernance } from '../../src/storage/sqlite/sqlite-governance.ts';
import { SharedDatabase } from '../../src/storage/sqlite/sqlite-db.ts';
import { SqliteWebhooks } from '../../src/storage/sqlite/sqlite-webhooks.ts';
import { describeGovernanceContract } from '../contract/governance.contract.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

describeGovernanceContract('SQLite (node:sqlite)', async (clock) => {
  const dir = tempDataDir('sqlite-governance-');
  // One file, as in a data directory: a webhook's change and its audit entry are one transaction.
  const file = new SharedDatabase(join(dir, 'governance.sqlite'));
  const g = new SqliteGovernance(file, { clock });
  const webhooks = new SqliteWebhooks(file, { clock });
  return { keys: g, audit: g, retention: g, webhooks, cleanup: async () => (await webhooks.close(), await g.close(), removeDir(dir)) };
});

describe('the SQLite audit log file itself', () => {
  async function withLog(n: number) {
    const dir = tempDataDir('sqlite-audit-tamper-');
    const file = join(dir, 'governance.sqlite');
    const g = new SqliteGovernance(file);
    await g.migrate();
    for (let i = 1; i <= n; i++) await g.append({ project: 'p', actor: 'alice', action: 'alias.move', target: 'prompt:x@production', before: { version: i - 1 }, after: { version: i } }, auditHash);
    await g.close();
    return { dir, file };
  }
  const verify = async (file: string) => {
    const g = new SqliteGovernance(file);
    try {
      return await verifyChain((from, limit) => g.scan(from, limit), null);
    } finally {
      await g.close();
    }
  };
  /** Edits the file around the append-only triggers, as someone with the file could. */
  const tamper = (file: string, sql: string) => {
    const db = new DatabaseSync(file);
    db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
    db.exec(sql);
    db.close();
  };

  it('refuses UPDATE and DELETE through the triggers', async () => {
    const { dir, file } = await withLog(3);
    const db = new DatabaseSync(file);
    expect(() => db.exec("UPDATE audit_log SET actor = 'mallory'")).toThrow(/append-only/);
    expect(() => db.exec('DELETE FROM audit_log WHERE seq = 2')).toThrow(/append-only/);
    db.close();
    expect((await verify(file)).ok).toBe(true);
    removeDir(dir);
  });

  it('catches an edited, a deleted and a reordered entry', async () => {
    for (const [what, sql, reason] of [
      ['edited', `UPDATE audit_log SET after = '{"version":99}' WHERE seq = 3`, /entry 3 was changed/],
      ['deleted', 'DELETE FROM audit_log WHERE seq = 3', /entry 3 is missing/],
      ['reordered', 'UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1', /entry 2 does not follow|entry 2 was changed/],
    ] as const) {
      const { dir, file } = await withLog(5);
      tamper(file, sql);
      const r = await verify(file);
      expect(r.ok, what).toBe(false);
      expect(r.problem?.reason, what).toMatch(reason);
      removeDir(dir);
    }
  });
});
