import { Readable } from 'node:stream';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { ConfigError, StoreBackPressureError, StoreError } from '../../common/errors.ts';
import type { PingResult } from '../lifecycle.ts';
import { isBackPressureClickHouseCode, isPermanentClickHouseCode } from './errors.ts';
import type { ClickHouseExecutor, InsertOptions, QueryParams } from './executor.ts';

// ClickHouse on a server, over HTTP with @clickhouse/client. The same SQL text as the in-process
// engine. Inserts are asynchronous inserts that wait until the data is written, so a batch is
// acknowledged only when it is in the table, and they carry the batch's deduplication token.

/** Server errors are classified by their code; anything else (the network, a timeout) is an outage. */
export function classifyClickHouseError(err: unknown): boolean {
  if (err instanceof ClickHouseError) return !isPermanentClickHouseCode(err.code);
  return true;
}

function translate(err: unknown, what: string): StoreError {
  const message = `${what} failed: ${(err as Error)?.message ?? String(err)}`;
  if (err instanceof ClickHouseError && isBackPressureClickHouseCode(err.code)) return new StoreBackPressureError('clickhouse', message, err);
  return new StoreError('clickhouse', message, classifyClickHouseError(err), err);
}

export class ClickHouseServerExecutor implements ClickHouseExecutor {
  readonly name: string;
  private readonly client: ClickHouseClient;

  private constructor(client: ClickHouseClient, displayUrl: string) {
    this.client = client;
    this.name = `clickhouse (${displayUrl})`;
  }

  /** Connects and checks that the server answers and takes the credentials. */
  static async connect(url: string, opts: { queryTimeoutMs?: number } = {}): Promise<ClickHouseServerExecutor> {
    const parsed = new URL(url);
    const display = `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
    const client = createClient({
      url,
      request_timeout: 120_000,
      max_open_connections: 10,
      // Failures reach Promptline's own log, translated; the client's console logging stays off.
      log: { level: ClickHouseLogLevel.OFF },
      clickhouse_settings: {
        output_format_json_quote_64bit_integers: 1,
        session_timezone: 'UTC',
        // Keeps long queries alive through proxies that close idle connections.
        send_progress_in_http_headers: 1,
        http_headers_progress_interval_ms: '60000',
        // The server stops a query that runs longer (TIMEOUT_EXCEEDED), instead of one caller holding it.
        ...(opts.queryTimeoutMs ? { max_execution_time: Math.ceil(opts.queryTimeoutMs / 1000) } : {}),
      },
    });
    try {
      const r = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
      await r.json();
    } catch (err) {
      await client.close();
      const e = err as ClickHouseError;
      if (e instanceof ClickHouseError && (e.code === '516' || e.code === '192')) {
        throw new ConfigError(`ClickHouse at ${display} refused the credentials in CLICKHOUSE_URL (${e.message})`);
      }
      if (e instanceof ClickHouseError && e.code === '81') {
        throw new ConfigError(`ClickHouse at ${display}: the database in CLICKHOUSE_URL does not exist (${e.message})`);
      }
      throw new ConfigError(`cannot reach ClickHouse at ${display}: is it running, and is CLICKHOUSE_URL right? (${(err as Error).message})`);
    }
    return new ClickHouseServerExecutor(client, display);
  }

  async command(sql: string, params: QueryParams = {}): Promise<void> {
    try {
      await this.client.command({ query: sql, query_params: params });
    } catch (err) {
      throw translate(err, 'command');
    }
  }

  async query<T>(sql: string, params: QueryParams = {}): Promise<T[]> {
    try {
      const r = await this.client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return await r.json<T>();
    } catch (err) {
      throw translate(err, 'query');
    }
  }

  async insertJsonEachRow(table: string, rows: Buffer, opts: InsertOptions = {}): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.client.insert({
        table,
        values: Readable.from([rows]),
        format: opts.format ?? 'JSONEachRow',
        ...(opts.columns ? { columns: [...opts.columns] as [string, ...string[]] } : {}),
        clickhouse_settings: {
          async_insert: 1,
          wait_for_async_insert: 1,
          async_insert_deduplicate: 1,
          ...(opts.dedupToken ? { insert_deduplication_token: opts.dedupToken } : {}),
          ...(opts.settings as Record<string, number>),
        },
      });
    } catch (err) {
      throw translate(err, `insert into ${table}`);
    }
  }

  async ping(): Promise<PingResult> {
    const r = await this.client.ping();
    return r.success ? { ok: true } : { ok: false, error: r.error };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
