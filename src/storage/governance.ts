import type { AuditEntry, NewAuditEntry, StoredApiKey } from '../domain/governance.ts';
import type { SpanRetention, SpanRetentionChange } from '../domain/retention.ts';
import type { StoreLifecycle } from './lifecycle.ts';

// Keys and the audit log. Adapters: SQLite (embedded) and Neo4j, beside the registry.
//
// Every change and its audit entries commit together: a store that makes a change (a key created
// or revoked here, a version registered or an alias moved in the registry) is handed an AuditDraft
// and appends the entries it makes in the change's own transaction. Either both are stored or
// neither is.

/** The prevHash of the first entry of an audit log. */
export const GENESIS_HASH = '0'.repeat(64);

/** The chain's rule for an entry's hash (src/governance/audit-hash.ts). */
export type AuditHashOf = (e: Omit<AuditEntry, 'hash'>) => string;

/** The audit entries a change writes in its own transaction. */
export interface AuditDraft<T> {
  /** The entries, made from the change as it was stored (its number, its time). */
  entries(stored: T): NewAuditEntry[];
  hashOf: AuditHashOf;
  /** Told once the change and its entries are committed (the anchor follows the head). */
  committed(entries: AuditEntry[]): void;
}

export interface KeyStore extends StoreLifecycle {
  countKeys(): Promise<number>;
  /** With `audit`, its entries (made from the key as stored) commit with the key. */
  createKey(key: StoredApiKey, audit?: AuditDraft<StoredApiKey>): Promise<void>;
  getKey(id: string): Promise<StoredApiKey | null>;
  listKeys(project: string): Promise<StoredApiKey[]>;
  /** Every project some key (revoked or not) belongs to, sorted. */
  listProjects(): Promise<string[]>;
  /** Every key, of any project, revoked or not, that `createdBy` created (the bootstrap's keys). */
  listKeysCreatedBy(createdBy: string): Promise<StoredApiKey[]>;
  /**
   * Marks the key revoked; false when it does not exist or was revoked already. With `audit`, its
   * entries (made from the key as revoked) commit with the revocation, and only when it revoked.
   */
  revokeKey(id: string, at: Date, by: string, audit?: AuditDraft<StoredApiKey>): Promise<boolean>;
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
  /** Entries with projectSeq below this (newest first paging within one project). */
  beforeProjectSeq?: number | undefined;
}

export interface AuditLog extends StoreLifecycle {
  /**
   * Appends an entry chained to the last one, atomically (seq, projectSeq and prevHash taken under
   * a lock): for what has no change of its own in this store (evaluations, kept in the span store).
   */
  append(entry: NewAuditEntry, hashOf: AuditHashOf): Promise<AuditEntry>;
  /** Newest first. */
  list(filter: AuditFilter): Promise<AuditEntry[]>;
  /** Every entry in the order stored (by seq), for verification, in pages. */
  scan(fromSeq: number, limit: number): Promise<AuditEntry[]>;
}

/**
 * Each project's span retention, kept with the keys and the audit log: a change and its audit entry
 * commit together. The span store is told the rules after each change and at every start.
 */
export interface RetentionSettings extends StoreLifecycle {
  /** The project's setting; null when it was never set (unlimited). */
  getRetention(project: string): Promise<SpanRetention | null>;
  /** Every project's setting, sorted by project (unlimited ones too, when they were set). */
  listRetention(): Promise<SpanRetention[]>;
  /** Stores the setting; with `audit`, its entries (made from the change: before and after) commit with it. */
  setRetention(setting: SpanRetention, audit?: AuditDraft<SpanRetentionChange>): Promise<SpanRetentionChange>;
}
