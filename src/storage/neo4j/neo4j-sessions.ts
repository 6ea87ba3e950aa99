import { setTimeout as sleep } from 'node:timers/promises';
import neo4j, { type Driver, type Transaction } from 'neo4j-driver';
import { PromptlineError } from '../../common/errors.ts';
import type { PingResult } from '../lifecycle.ts';
import { startupError, translateNeo4jError } from './neo4j-errors.ts';

// What the Neo4j adapters share: one driver for the process (one connection pool for the graph,
// the registry and governance), checked at start, and read and write transactions with driver
// errors translated at the boundary.

export interface Neo4jConnectionOptions {
  url: string;
  user: string;
  password: string;
  /** A Neo4j database name; the server's default when not given. */
  database?: string;
}

/** What a unit of work does inside a transaction: run statements. */
type Neo4jTransaction = Pick<Transaction, 'run'>;

type Work<T> = (tx: Neo4jTransaction) => Promise<T>;

// The driver's own back-off for transient failures: a second, doubling, give or take a fifth.
const FIRST_RETRY_DELAY_MS = 1_000;
const RETRY_DELAY_MULTIPLIER = 2;
const RETRY_DELAY_JITTER = 0.2;

/** The process's one Neo4j driver. Whoever connects it closes it; the adapters handed it do not. */
export class Neo4jSessions {
  readonly url: string;
  private readonly driver: Driver;
  private readonly database: string | undefined;

  private constructor(driver: Driver, opts: Neo4jConnectionOptions) {
    this.driver = driver;
    this.url = opts.url;
    this.database = opts.database;
  }

  /** Connects and checks the server answers and takes the credentials; a clear ConfigError if not. */
  static async connect(opts: Neo4jConnectionOptions): Promise<Neo4jSessions> {
    const driver = neo4j.driver(opts.url, neo4j.auth.basic(opts.user, opts.password), {
      maxConnectionPoolSize: 20,
      connectionTimeout: 5_000,
      connectionAcquisitionTimeout: 10_000,
      disableLosslessIntegers: true,
    });
    try {
      await driver.verifyAuthentication();
      await driver.verifyConnectivity();
    } catch (err) {
      await driver.close();
      throw startupError(err, opts.url, opts.user);
    }
    return new Neo4jSessions(driver, opts);
  }

  /**
   * Transactions on this driver that retry a transient failure (a deadlock, a server away) for up
   * to `maxRetryMs`. The driver's own retry time is one for the whole driver, and the adapters
   * sharing it want different ones, so the retrying is done here.
   */
  transactions(maxRetryMs: number): Neo4jTransactions {
    return new Neo4jTransactions(this.driver, this.database, maxRetryMs);
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

export class Neo4jTransactions {
  private readonly driver: Driver;
  private readonly database: string | undefined;
  private readonly maxRetryMs: number;

  constructor(driver: Driver, database: string | undefined, maxRetryMs: number) {
    this.driver = driver;
    this.database = database;
    this.maxRetryMs = maxRetryMs;
  }

  /** The whole of `work` is the transaction: a retry runs it again from the start. */
  write<T>(what: string, work: Work<T>): Promise<T> {
    return this.run('WRITE', what, work);
  }

  read<T>(what: string, work: Work<T>): Promise<T> {
    return this.run('READ', what, work);
  }

  async ping(): Promise<PingResult> {
    try {
      await this.read('ping', (tx) => tx.run('RETURN 1'));
      return { ok: true };
    } catch (err) {
      return { ok: false, error: err as Error };
    }
  }

  private async run<T>(mode: 'READ' | 'WRITE', what: string, work: Work<T>): Promise<T> {
    let firstFailureAt: number | null = null;
    for (let delayMs = FIRST_RETRY_DELAY_MS; ; delayMs *= RETRY_DELAY_MULTIPLIER) {
      try {
        return await this.attempt(mode, work);
      } catch (err) {
        // Our own errors (a conflict found inside the transaction) pass as they are.
        if (err instanceof PromptlineError) throw err;
        firstFailureAt ??= Date.now();
        if (!neo4j.isRetryableError(err) || Date.now() - firstFailureAt > this.maxRetryMs) throw translateNeo4jError(err, what);
      }
      await sleep(delayMs * (1 - RETRY_DELAY_JITTER + 2 * RETRY_DELAY_JITTER * Math.random()));
    }
  }

  private async attempt<T>(mode: 'READ' | 'WRITE', work: Work<T>): Promise<T> {
    const session = this.driver.session({ defaultAccessMode: mode === 'READ' ? neo4j.session.READ : neo4j.session.WRITE, ...(this.database ? { database: this.database } : {}) });
    try {
      const tx = await session.beginTransaction();
      try {
        const result = await work(tx);
        await tx.commit();
        return result;
      } catch (err) {
        if (tx.isOpen()) await tx.rollback().catch(() => undefined);
        throw err;
      }
    } finally {
      await session.close();
    }
  }
}
