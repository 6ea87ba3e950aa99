import { mkdirSync } from 'node:fs';
import { Session } from 'chdb';
import { StoreBackPressureError, StoreError } from '../../common/errors.ts';
import type { PingResult } from '../lifecycle.ts';
import { isBackPressureClickHouseCode, isPermanentClickHouseCode } from './errors.ts';
import type { ClickHouseExecutor, InsertOptions, QueryParams } from './executor.ts';

// The ClickHouse engine in-process. It holds one data directory per process, so one executor
// per process; queries and inserts run off the event loop.

function translate(err: unknown, what: string): StoreError {
  const e = err as { clickhouseCode?: number; message?: string };
  const message = `${what} failed: ${e?.message ?? String(err)}`;
  if (isBackPressureClickHouseCode(e?.clickhouseCode)) return new StoreBackPressureError('clickhouse', message, err);
  return new StoreError('clickhouse', message, !isPermanentClickHouseCode(e?.clickhouseCode), err);
}

/** Process memory above which the engine's freed pages are returned to the system after an insert. */
const RSS_BUDGET_BYTES = 896 * 1024 * 1024;

export class ChdbExecutor implements ClickHouseExecutor {
  readonly name = 'clickhouse (embedded, chdb)';
  private readonly session: Session;

  /** `queryTimeoutMs`: the engine stops a query that runs longer (TIMEOUT_EXCEEDED). */
  constructor(dataPath: string, opts: { queryTimeoutMs?: number } = {}) {
    mkdirSync(dataPath, { recursive: true });
    const timeout = opts.queryTimeoutMs ? [`--max_execution_time=${Math.ceil(opts.queryTimeoutMs / 1000)}`] : [];
    this.session = new Session(dataPath, {
      connectionArgs: ['--output_format_json_quote_64bit_integers=1', '--session_timezone=UTC', ...timeout],
    });
  }

  async command(sql: string, params?: QueryParams): Promise<void> {
    try {
      if (params) await this.session.queryBindAsync(sql, params);
      else await this.session.queryAsync(sql);
    } catch (err) {
      throw translate(err, 'command');
    }
  }

  async query<T>(sql: string, params: QueryParams = {}): Promise<T[]> {
    let text: string;
    try {
      text = (await this.session.queryBindAsync(sql, params, { format: 'JSONEachRow' })).text();
    } catch (err) {
      throw translate(err, 'query');
    }
    const rows: T[] = [];
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      if (end > start) rows.push(JSON.parse(text.slice(start, end)) as T);
      start = end + 1;
    }
    return rows;
  }

  async insertJsonEachRow(table: string, rows: Buffer, opts: InsertOptions = {}): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.session.insert({
        table,
        values: rows,
        format: opts.format ?? 'JSONEachRow',
        ...(opts.columns ? { columns: opts.columns } : {}),
        settings: { ...opts.settings, ...(opts.dedupToken ? { insert_deduplication_token: opts.dedupToken } : {}) },
      });
    } catch (err) {
      throw translate(err, `insert into ${table}`);
    }
    await this.releaseMemory();
  }

  private lastPurge = 0;

  /**
   * An insert of a batch of GenAI spans makes the engine allocate some hundreds of MB for a moment
   * (a buffer per column and index being written), which its allocator (jemalloc, without a
   * background thread in chdb) keeps: the process would stay at its highest mark. Past a budget,
   * the freed pages are given back (a few tens of ms, at most every 5 s).
   */
  private async releaseMemory(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPurge < 5000 || process.memoryUsage.rss() < RSS_BUDGET_BYTES) return;
    this.lastPurge = now;
    try {
      await this.session.queryAsync('SYSTEM JEMALLOC PURGE');
    } catch {
      // an engine built without jemalloc: nothing to give back
    }
  }

  async ping(): Promise<PingResult> {
    try {
      await this.session.queryAsync('SELECT 1');
      return { ok: true };
    } catch (err) {
      return { ok: false, error: err as Error };
    }
  }

  async close(): Promise<void> {
    this.session.close();
  }
}
