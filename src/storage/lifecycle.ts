// What every store has in common: it migrates its schema at start, answers a health check, and closes.
// Each port extends this and adds only what it means.

/** A health check fails as a matter of course (a server is down), so it answers rather than throws. */
export type PingResult = { ok: true } | { ok: false; error: Error };

export interface StoreLifecycle {
  /** A name for logs and health answers, e.g. "clickhouse (embedded)" or "neo4j". */
  readonly backend: string;
  /** Applies schema migrations not yet applied. Safe to call at every start. */
  migrate(): Promise<void>;
  ping(): Promise<PingResult>;
  close(): Promise<void>;
}
