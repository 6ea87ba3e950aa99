import type { DatabaseSync } from 'node:sqlite';
import { PromptlineError } from '../../common/errors.ts';
import type { PingResult, StoreLifecycle } from '../lifecycle.ts';
import { migrateDatabase, openDatabase, sqliteError, transaction } from './sqlite-db.ts';

// What every SQLite adapter is: one file of its own, opened at construction, its versioned
// migrations, SQLite errors translated at the boundary, a health check and a close.

export abstract class SqliteStore implements StoreLifecycle {
  readonly backend = 'sqlite (embedded)';
  protected readonly db: DatabaseSync;
  private readonly migrations: readonly (readonly string[])[];

  protected constructor(file: string, migrations: readonly (readonly string[])[]) {
    this.db = openDatabase(file);
    this.migrations = migrations;
  }

  async migrate(): Promise<void> {
    migrateDatabase(this.db, this.migrations);
  }

  /** Runs `fn`, its SQLite errors made StoreErrors; our own errors (a conflict found) pass as they are. */
  protected run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof PromptlineError) throw err;
      throw sqliteError(what, err);
    }
  }

  protected transaction<T>(fn: () => T): T {
    return transaction(this.db, fn);
  }

  async ping(): Promise<PingResult> {
    try {
      this.db.prepare('SELECT 1').get();
      return { ok: true };
    } catch (err) {
      return { ok: false, error: err as Error };
    }
  }

  async close(): Promise<void> {
    if (this.db.isOpen) this.db.close();
  }
}
