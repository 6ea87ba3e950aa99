import type { PingResult, StoreLifecycle } from '../lifecycle.ts';
import type { Neo4jSessions, Neo4jTransactions } from './neo4j-sessions.ts';

// What every Neo4j adapter is: a name, its schema (constraints and indexes, each statement safe
// to run again), transactions on the process's driver, and a close that closes the driver only
// when the adapter opened it itself.

export interface Neo4jStoreOptions {
  /** The adapter was handed a driver of its own (by `connect`) and closes it when it closes. */
  closesSessions?: boolean;
}

export interface Neo4jSchema {
  /** How a failure to apply it is named, e.g. "creating registry constraints". */
  what: string;
  statements: readonly string[];
  /** How long a transaction of this adapter retries a transient failure. */
  maxRetryMs: number;
}

export abstract class Neo4jStore implements StoreLifecycle {
  readonly backend: string;
  protected readonly db: Neo4jTransactions;
  private readonly schema: Neo4jSchema;
  private readonly ownSessions: Neo4jSessions | null;

  protected constructor(sessions: Neo4jSessions, schema: Neo4jSchema, opts: Neo4jStoreOptions) {
    this.backend = `neo4j (${sessions.url})`;
    this.db = sessions.transactions(schema.maxRetryMs);
    this.schema = schema;
    this.ownSessions = opts.closesSessions ? sessions : null;
  }

  async migrate(): Promise<void> {
    await this.db.write(this.schema.what, async (tx) => {
      for (const statement of this.schema.statements) await tx.run(statement);
    });
  }

  ping(): Promise<PingResult> {
    return this.db.ping();
  }

  async close(): Promise<void> {
    await this.ownSessions?.close();
  }
}
