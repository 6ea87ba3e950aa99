import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import neo4j from 'neo4j-driver';
import { describe, expect, it } from 'vitest';
import { Neo4jGovernance } from '../../src/storage/neo4j/neo4j-governance.ts';
import { SqliteGovernance } from '../../src/storage/sqlite/sqlite-governance.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// Keys stored before instance admins were told apart: the bootstrap key, which always made keys
// for every project, is an instance admin after the upgrade; every other key is not.

const id = () => randomUUID().replaceAll('-', '').slice(0, 16);

describe('key records from before instance admins, on SQLite', () => {
  it('make the bootstrap admin key an instance admin, and no other key', async () => {
    const dir = tempDataDir('sqlite-key-upgrade-');
    const file = join(dir, 'governance.sqlite');
    // The schema as the first version of the governance file had it.
    const db = new DatabaseSync(file);
    db.exec(`CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, promote INTEGER NOT NULL, project TEXT NOT NULL, secret_hash TEXT NOT NULL,
               created_at INTEGER NOT NULL, created_by TEXT NOT NULL, expires_at INTEGER, revoked_at INTEGER, revoked_by TEXT) WITHOUT ROWID`);
    db.exec('CREATE INDEX api_keys_by_project ON api_keys (project, created_at)');
    db.exec(`CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, project TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
               before TEXT, after TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)`);
    db.exec('CREATE INDEX audit_by_project ON audit_log (project, seq)');
    db.exec(`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`);
    db.exec(`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`);
    db.exec('PRAGMA user_version = 1');
    const [bootstrap, admin] = [id(), id()];
    const insert = db.prepare("INSERT INTO api_keys VALUES (?, ?, 'admin', 1, ?, 'scrypt$1$1$1$a$b', 1700000000000, ?, NULL, NULL, NULL)");
    insert.run(bootstrap, 'bootstrap admin', 'default', 'bootstrap');
    insert.run(admin, 'shop admin', 'shop', `bootstrap admin [key ${bootstrap}]`);
    db.close();

    const g = new SqliteGovernance(file);
    try {
      await g.migrate();
      expect(await g.getKey(bootstrap)).toMatchObject({ instanceAdmin: true, createdBy: 'bootstrap' });
      expect(await g.getKey(admin)).toMatchObject({ instanceAdmin: false, project: 'shop' });
      expect((await g.listKeysCreatedBy('bootstrap')).map((k) => k.id)).toEqual([bootstrap]);
    } finally {
      await g.close();
      removeDir(dir);
    }
  });
});

const neo = neo4jFromEnv();
describe.skipIf(!neo.settings)('key records from before instance admins, on Neo4j', () => {
  it('read the bootstrap admin key as an instance admin, and no other key', async () => {
    const settings = neo.settings!;
    const g = await Neo4jGovernance.connect({ ...settings, chain: `test-${randomUUID()}` });
    const driver = neo4j.driver(settings.url, neo4j.auth.basic(settings.user, settings.password));
    const project = `upgrade-${randomUUID()}`;
    const [bootstrap, admin] = [id(), id()];
    try {
      await g.migrate();
      // Nodes as they were written before the flag. Revoked: the run's Neo4j is shared, and no
      // other server under test should find an extra live bootstrap key there.
      for (const [key, createdBy] of [[bootstrap, 'bootstrap'], [admin, 'someone [key 0]']] as const) {
        await driver.executeQuery(
          `CREATE (:ApiKeyRecord {id: $id, name: 'k', role: 'admin', promote: true, project: $project, secretHash: 'x', createdAt: 1700000000000,
                                  createdBy: $createdBy, expiresAt: null, revokedAt: 1700000000001, revokedBy: 'test'})`,
          { id: key, project, createdBy },
        );
      }
      expect(await g.getKey(bootstrap)).toMatchObject({ instanceAdmin: true });
      expect(await g.getKey(admin)).toMatchObject({ instanceAdmin: false });
    } finally {
      await driver.executeQuery('MATCH (k:ApiKeyRecord {project: $project}) DELETE k', { project });
      await driver.close();
      await g.close();
    }
  });
});
