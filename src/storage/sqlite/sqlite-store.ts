import type { DatabaseSync } from 'node:sqlite';
import { PromptlineError } from '../../common/errors.ts';
import type { PingResult, StoreLifecycle } from '../lifecycle.ts';
import { migrateComponents, migrateDatabase, openDatabase, sqliteError, transaction, type SchemaComponent, type SharedDatabase } from './sqlite-db.ts';

// What every SQLite adapter is: a file, of its own or shared with other adapters (a SharedDatabase),
// opened at construction, its versioned migrations (the file's, or its components' in a shared
// file), SQLite errors translated at the boundary, a health check and a close.

/** Migrations of a file of its own (its user_version), or components of a file that holds several. */
export type SqliteSchema = readonly (readonly string[])[] | { components: readonly SchemaComponent[] };

export abstract class SqliteStore implements StoreLifecycle {
  readonly backend = 'sqlite (embedded)';
  protected readonly db: DatabaseSync;
  private readonly schema: SqliteSchema;
  private readonly shared: SharedDatabase | null;
  private released = false;

  protected constructor(file: string | SharedDatabase, schema: SqliteSchema) {
    this.shared = typeof file === 'string' ? null : file;
    this.db = this.shared ? this.shared.acquire() : openDatabase(file as string);
    this.schema = schema;
  }

  async migrate(): Promise<void> {
    if ('components' in this.schema) migrateComponents(this.db, this.schema.components);
    else migrateDatabase(this.db, this.schema);
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
    if (this.shared) {
      // Once per adapter, however many times it is closed.
      if (!this.released) this.shared.release();
      this.released = true;
    } else if (this.db.isOpen) this.db.close();
  }
}
