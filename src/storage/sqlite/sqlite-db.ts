import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { StoreError } from '../../common/errors.ts';

// What the SQLite adapters share: opening a file durably, versioned migrations, transactions,
// and one classification of SQLite errors.

export function openDatabase(file: string): DatabaseSync {
  mkdirSync(dirname(file), { recursive: true });
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
