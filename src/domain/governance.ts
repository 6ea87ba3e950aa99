// Who may do what, and the record of who did.

export const ROLES = ['ingest', 'read', 'edit', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a call needs; a key's role grants some of these (see api/access.ts). */
export type Permission = 'ingest' | 'read' | 'edit' | 'promote' | 'admin';

export interface ApiKey {
  /** Public: names the key in lists, logs and the audit log; part of the key string. */
  id: string;
  name: string;
  role: Role;
  /** May move protected aliases (production) without being admin. */
  promote: boolean;
  project: string;
  createdAt: Date;
  createdBy: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

/** A stored key: the secret only as a slow hash. */
export interface StoredApiKey extends ApiKey {
  /** scrypt$N$r$p$salt$hash, base64url parts. */
  secretHash: string;
}

export interface AuditEntry {
  /** 1, 2, 3 … across the whole log. */
  seq: number;
  at: Date;
  project: string;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  /** The hash of the entry before (64 zeros for the first). */
  prevHash: string;
  /** sha256 of this entry's canonical form, which includes prevHash: each entry commits to all before it. */
  hash: string;
}

export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'at' | 'prevHash' | 'hash'>;
