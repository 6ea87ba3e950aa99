// Who may do what, and the record of who did.

// `app` is the one key an agent app needs: it sends spans and loads its prompts, and reads nothing
// else (no lineage, impact or reports of other apps' responses). `metrics` is a Prometheus
// scraper's: it reads GET /metrics, nothing else. `proposer` is for people who are not engineers:
// they read prompts and open and comment on proposals, and register or move nothing themselves.
export const ROLES = ['ingest', 'read', 'edit', 'admin', 'app', 'metrics', 'proposer'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a call needs; a key's role grants some of these (see governance/access.ts). `prompts` reads
 * prompts and aliases (what an app loads); `read` reads lineage, impact and reports; `metrics`
 * reads the installation's operational figures (GET /metrics); `propose` opens and comments on
 * proposals (reviewing and merging them needs `edit`).
 */
export const PERMISSIONS = ['ingest', 'prompts', 'read', 'edit', 'promote', 'admin', 'metrics', 'propose'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** How a project is named: in keys, in ?project= and in the X-Promptline-Project header. */
export const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PROJECT_NAME_RULE = 'a project is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit';

export interface ApiKey {
  /** Public: names the key in lists, logs and the audit log; part of the key string. */
  id: string;
  name: string;
  role: Role;
  /** May move protected aliases (production) without being admin. */
  promote: boolean;
  project: string;
  /**
   * An admin key that administers every project (keys anywhere, the whole audit chain), not only its
   * own: the bootstrap key, and admin keys an instance admin creates as such.
   */
  instanceAdmin: boolean;
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

/** Who creates and rotates the bootstrap key: its createdBy, and the actor of its audit entries. */
export const BOOTSTRAP_ACTOR = 'bootstrap';

export interface AuditEntry {
  /** 1, 2, 3 … across the whole log: the chain. */
  seq: number;
  /**
   * 1, 2, 3 … within the entry's project, so that a project's own log has no gaps. Not hashed: it
   * follows from the chain (the rank of the entry among its project's), and verification checks it.
   * null only on an entry an older Promptline appended and no start has numbered yet.
   */
  projectSeq: number | null;
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

export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'projectSeq' | 'at' | 'prevHash' | 'hash'>;
