import type { PingResult } from '../lifecycle.ts';

// The narrow interface the span store needs from ClickHouse. One SQL text serves every executor:
// values always travel as typed query parameters ({name:Type}), never inside the SQL.

export type QueryParams = Record<string, unknown>;

export interface InsertOptions {
  /** Same token, same data: ClickHouse writes the block once however often it is retried. */
  dedupToken?: string;
  /** ClickHouse settings for this insert. */
  settings?: Record<string, string | number>;
  /** The rows' format (default JSONEachRow). */
  format?: InsertFormat;
  /** The columns the rows hold, in order (needed for TabSeparated; default: the table's). */
  columns?: readonly string[];
}

export type InsertFormat = 'JSONEachRow' | 'TabSeparated';

export interface ClickHouseExecutor {
  readonly name: string;
  command(sql: string, params?: QueryParams): Promise<void>;
  /** Runs a SELECT and returns its rows (JSONEachRow; 64-bit integers as strings). */
  query<T>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Inserts rows: JSONEachRow bytes, or another format named in `opts.format`. */
  insertJsonEachRow(table: string, rows: Buffer, opts?: InsertOptions): Promise<void>;
  ping(): Promise<PingResult>;
  close(): Promise<void>;
}
