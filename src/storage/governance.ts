import type { AuditEntry, NewAuditEntry, StoredApiKey } from '../domain/governance.ts';
import type { StoreLifecycle } from './lifecycle.ts';

// Keys and the audit log. Adapters: SQLite (embedded) and Neo4j, beside the registry.

/** The prevHash of the first entry of an audit log. */
export const GENESIS_HASH = '0'.repeat(64);

export interface KeyStore extends StoreLifecycle {
  countKeys(): Promise<number>;
  createKey(key: StoredApiKey): Promise<void>;
  getKey(id: string): Promise<StoredApiKey | null>;
  listKeys(project: string): Promise<StoredApiKey[]>;
  /** Marks the key revoked; false when it does not exist or was revoked already. */
  revokeKey(id: string, at: Date, by: string): Promise<boolean>;
}

export interface AuditFilter {
  project?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  target?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  limit: number;
  /** Entries with seq below this (newest first paging). */
  beforeSeq?: number | undefined;
}

export interface AuditLog extends StoreLifecycle {
  /** Appends an entry chained to the last one, atomically (seq and prevHash taken under a lock). */
  append(entry: NewAuditEntry, hashOf: (e: Omit<AuditEntry, 'hash'>) => string): Promise<AuditEntry>;
  /** Newest first. */
  list(filter: AuditFilter): Promise<AuditEntry[]>;
  /** Every entry in the order stored (by seq), for verification, in pages. */
  scan(fromSeq: number, limit: number): Promise<AuditEntry[]>;
}
