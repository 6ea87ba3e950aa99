import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { StoreError } from '../../common/errors.ts';

// What the SQLite adapters share: opening a file durably, versioned migrations, transactions,
// and one classification of SQLite errors.

export function openDatabase(file: string): DatabaseSync {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Key hashes, the registry and the audit log: the file is made readable by its owner only before
  // SQLite opens it, and SQLite gives its -wal and -shm files the mode of the database file.
  closeSync(openSync(file, 'a', 0o600));
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  return db;
}

/** Applies migrations past the file's user_version, each in a transaction of its own. */
export function migrateDatabase(db: DatabaseSync, migrations: readonly (readonly string[])[]): void {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number };
  for (let v = row.user_version; v < migrations.length; v++) {
    transaction(db, () => {
      for (const sql of migrations[v]!) db.exec(sql);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    });
  }
}

/**
 * A part of a file's schema with versions of its own, for a file that holds several: the registry,
 * keys and the audit log share one file, so that a change and its audit entry are one transaction
 * (SQLite commits atomically within one file only, WAL or not). Versions are kept per component in
 * schema_versions. `legacyTable` is a table the component's first migration made: a file that has
 * it and no version recorded is from when the file was the component's alone, at user_version.
 */
export interface SchemaComponent {
  name: string;
  migrations: readonly (readonly string[])[];
  legacyTable?: string;
}

/** Applies each component's migrations past its version, each in a transaction of its own. */
export function migrateComponents(db: DatabaseSync, components: readonly SchemaComponent[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID');
  for (const c of components) {
    // The version is read inside the transaction, so that two processes starting at once apply a
    // migration once.
    while (
      transaction(db, () => {
        const v = componentVersion(db, c);
        if (v >= c.migrations.length) return false;
        for (const sql of c.migrations[v]!) db.exec(sql);
        db.prepare('INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version').run(c.name, v + 1);
        return true;
      })
    );
  }
}

export function componentVersion(db: DatabaseSync, c: SchemaComponent): number {
  const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(c.name) as { version: number } | undefined;
  if (row) return row.version;
  const legacy = c.legacyTable !== undefined && db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(c.legacyTable) !== undefined;
  return legacy ? (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version : 0;
}

/** For reading a file someone else writes (the offline verifier): nothing is created or changed. */
export function openDatabaseReadOnly(file: string): DatabaseSync {
  const db = new DatabaseSync(file, { readOnly: true });
  db.exec('PRAGMA busy_timeout = 5000;');
  return db;
}

/**
 * One connection to one file, used by several adapters (the registry, keys and the audit log) and
 * closed when the last of them closes. node:sqlite is synchronous, so one adapter's transaction
 * never interleaves with another's on the shared connection.
 */
export class SharedDatabase {
  readonly db: DatabaseSync;
  private users = 0;

  constructor(file: string | DatabaseSync) {
    this.db = typeof file === 'string' ? openDatabase(file) : file;
  }

  acquire(): DatabaseSync {
    this.users++;
    return this.db;
  }

  release(): void {
    if (--this.users <= 0 && this.db.isOpen) this.db.close();
  }
}

export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

// SQLite result codes (the low byte of an extended code) that a later attempt may get past:
// busy or locked, out of memory, read-only or I/O trouble, a full disk, a file that cannot open.
const RETRYABLE_SQLITE_CODES = new Set([5, 6, 7, 8, 10, 13, 14, 15]);

export function isRetryableSqliteError(err: unknown): boolean {
  const code = (err as { errcode?: unknown })?.errcode;
  if (typeof code === 'number') return RETRYABLE_SQLITE_CODES.has(code & 0xff);
  return true; // not an SQLite error: no reason to think retrying is useless
}

export function sqliteError(what: string, err: unknown): StoreError {
  return new StoreError('sqlite', `${what} failed: ${(err as Error).message}`, isRetryableSqliteError(err), err);
}
