import neo4j, { type Driver, type ManagedTransaction } from 'neo4j-driver';
import { PromptlineError } from '../../common/errors.ts';
import type { PingResult } from '../lifecycle.ts';
import { startupError, translateNeo4jError } from './neo4j-errors.ts';

// What the Neo4j adapters share: a driver checked at start, read and write transactions with
// driver errors translated at the boundary, ping and close.

export interface Neo4jConnectionOptions {
  url: string;
  user: string;
  password: string;
  /** A Neo4j database name; the server's default when not given. */
  database?: string;
}

export class Neo4jSessions {
  private readonly driver: Driver;
  private readonly database: string | undefined;

  private constructor(driver: Driver, database: string | undefined) {
    this.driver = driver;
    this.database = database;
  }

  /**
   * Connects and checks the server answers and takes the credentials; a clear ConfigError if not.
   * `maxTransactionRetryTime` is how long the driver retries a transient failure (a deadlock) itself.
   */
  static async connect(opts: Neo4jConnectionOptions, maxTransactionRetryTime: number): Promise<Neo4jSessions> {
    const driver = neo4j.driver(opts.url, neo4j.auth.basic(opts.user, opts.password), {
      maxConnectionPoolSize: 20,
      connectionTimeout: 5_000,
      connectionAcquisitionTimeout: 10_000,
      maxTransactionRetryTime,
      disableLosslessIntegers: true,
    });
    try {
      await driver.verifyAuthentication();
      await driver.verifyConnectivity();
    } catch (err) {
      await driver.close();
      throw startupError(err, opts.url, opts.user);
    }
    return new Neo4jSessions(driver, opts.database);
  }

  private async run<T>(mode: 'READ' | 'WRITE', what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    const session = this.driver.session({ defaultAccessMode: mode === 'READ' ? neo4j.session.READ : neo4j.session.WRITE, ...(this.database ? { database: this.database } : {}) });
    try {
      return mode === 'READ' ? await session.executeRead(work) : await session.executeWrite(work);
    } catch (err) {
      // Our own errors (a conflict found inside the transaction) pass as they are.
      if (err instanceof PromptlineError) throw err;
      throw translateNeo4jError(err, what);
    } finally {
      await session.close();
    }
  }

  write<T>(what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.run('WRITE', what, work);
  }

  read<T>(what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.run('READ', what, work);
  }

  async ping(): Promise<PingResult> {
    try {
      await this.driver.executeQuery('RETURN 1', {}, this.database ? { database: this.database } : {});
      return { ok: true };
    } catch (err) {
      return { ok: false, error: translateNeo4jError(err, 'ping') };
    }
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
