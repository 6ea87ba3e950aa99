import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { ConfigError } from '../../common/errors.ts';
import { AUDIT_SCHEMA } from './sqlite-audit.ts';
import { componentVersion, openDatabaseReadOnly, SharedDatabase, transaction } from './sqlite-db.ts';

// The data directory's records: the registry, the keys and the audit log in one SQLite file, so
// that a change and its audit entries commit in one transaction (SQLite is atomic within a file;
// across attached files it is not, in WAL mode). Keys and the audit log were once a file of their
// own (governance.sqlite): the first start that finds one copies its tables in, in one
// transaction, and then sets the old file aside as governance.sqlite.merged, so that it is never
// copied twice and nothing reads it again.

export const RECORDS_FILE = 'registry.sqlite';
const LEGACY_FILE = 'governance.sqlite';
const SET_ASIDE = 'governance.sqlite.merged';

/** The records file of a data directory, for the registry and governance adapters to share. */
export function openRecords(dataDir: string): SharedDatabase {
  const shared = new SharedDatabase(join(dataDir, RECORDS_FILE));
  try {
    mergeLegacyGovernance(shared.db, dataDir);
  } catch (err) {
    shared.db.close();
    throw err;
  }
  return shared;
}

/** The records file opened to be read only (the offline verifier), refusing a directory not yet brought up to date. */
export function openRecordsReadOnly(dataDir: string): SharedDatabase {
  const file = join(dataDir, RECORDS_FILE);
  if (existsSync(join(dataDir, LEGACY_FILE))) {
    throw new ConfigError(`${dataDir} holds keys and the audit log in ${LEGACY_FILE}, from an older Promptline: start "promptline serve" on it once (it moves them into ${RECORDS_FILE}), or verify an export`);
  }
  if (!existsSync(file)) throw new ConfigError(`${dataDir} has no ${RECORDS_FILE}: is it a Promptline data directory (PROMPTLINE_DATA_DIR)?`);
  const db = openDatabaseReadOnly(file);
  const hasLog = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").get() !== undefined && componentVersion(db, AUDIT_SCHEMA) >= AUDIT_SCHEMA.migrations.length;
  if (!hasLog) {
    db.close();
    throw new ConfigError(`${file} has no audit log of this version: start "promptline serve" on ${dataDir} once to bring it up to date`);
  }
  return new SharedDatabase(db);
}

function mergeLegacyGovernance(db: DatabaseSync, dataDir: string): void {
  const legacy = join(dataDir, LEGACY_FILE);
  if (!existsSync(legacy)) return;
  db.prepare('ATTACH DATABASE ? AS legacy').run(legacy);
  try {
    transaction(db, () => {
      const tableIn = (schema: string, name: string) => db.prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
      if (tableIn('main', 'api_keys')) {
        // Copied by an earlier start that stopped before setting the old file aside, or two logs.
        if (!alreadyMerged(db, tableIn('legacy', 'audit_log'))) {
          throw new ConfigError(`${dataDir} holds keys and an audit log in both ${RECORDS_FILE} and ${LEGACY_FILE}, and they differ: move ${LEGACY_FILE} away (it was not merged)`);
        }
        return;
      }
      const objects = db
        .prepare("SELECT type, name, sql FROM legacy.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name <> 'schema_versions' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END")
        .all() as Array<{ type: string; name: string; sql: string }>;
      // Unqualified, each statement creates its table, index or trigger in the records file.
      for (const o of objects.filter((x) => x.type === 'table')) {
        db.exec(o.sql);
        db.exec(`INSERT INTO main."${o.name.replaceAll('"', '""')}" SELECT * FROM legacy."${o.name.replaceAll('"', '""')}"`);
      }
      for (const o of objects.filter((x) => x.type !== 'table')) db.exec(o.sql);
      db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID');
      // The old file's version of the keys' schema is its user_version (or what it recorded per component).
      const versions = tableIn('legacy', 'schema_versions')
        ? (db.prepare('SELECT component, version FROM legacy.schema_versions').all() as Array<{ component: string; version: number }>)
        : [{ component: 'governance', version: (db.prepare('PRAGMA legacy.user_version').get() as { user_version: number }).user_version }];
      for (const v of versions) db.prepare('INSERT OR REPLACE INTO schema_versions (component, version) VALUES (?, ?)').run(v.component, v.version);
    });
  } finally {
    db.exec('DETACH DATABASE legacy');
  }
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(`${legacy}${suffix}`)) renameSync(`${legacy}${suffix}`, join(dataDir, `${SET_ASIDE}${suffix}`));
  }
}

/** The old file's newest audit entry is in the records file, unchanged (or, with no entries, its keys are). */
function alreadyMerged(db: DatabaseSync, legacyHasLog: boolean): boolean {
  const last = legacyHasLog ? (db.prepare('SELECT seq, hash FROM legacy.audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined) : undefined;
  if (last) return (db.prepare('SELECT hash FROM main.audit_log WHERE seq = ?').get(last.seq) as { hash: string } | undefined)?.hash === last.hash;
  const missing = db.prepare('SELECT count(*) AS n FROM legacy.api_keys k WHERE NOT EXISTS (SELECT 1 FROM main.api_keys m WHERE m.id = k.id)').get() as { n: number };
  return missing.n === 0;
}
