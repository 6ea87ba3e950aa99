import type { AuditEntry, NewAuditEntry, Role, StoredApiKey } from '../../domain/governance.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import type { SpanRetention, SpanRetentionChange } from '../../domain/retention.ts';
import type { AuditDraft, AuditFilter, AuditHashOf, AuditLog, KeyStore, RetentionSettings } from '../governance.ts';
import { dateOrNull } from '../values.ts';
import { appendAuditEntries, appendDrafted, AUDIT_SCHEMA, listAuditEntries, scanAuditEntries } from './sqlite-audit.ts';
import type { SchemaComponent, SharedDatabase } from './sqlite-db.ts';
import { SqliteStore } from './sqlite-store.ts';
import { fromFlag, toFlag } from './sqlite-values.ts';

// Keys and the audit log in SQLite, in the file that also holds the registry (a SharedDatabase), so
// that a key's creation or revocation and its audit entries are one transaction. The audit log's
// own table and rules are in sqlite-audit.ts.

const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE api_keys (
       id TEXT PRIMARY KEY,
       name TEXT NOT NULL,
       role TEXT NOT NULL,
       promote INTEGER NOT NULL,
       project TEXT NOT NULL,
       secret_hash TEXT NOT NULL,
       created_at INTEGER NOT NULL,
       created_by TEXT NOT NULL,
       expires_at INTEGER,
       revoked_at INTEGER,
       revoked_by TEXT
     ) WITHOUT ROWID`,
    `CREATE INDEX api_keys_by_project ON api_keys (project, created_at)`,
    // The audit log's table was made here too; it is now a component of its own (sqlite-audit.ts).
  ],
  // Instance admins. The bootstrap key has always administered the whole installation (it made
  // the keys of every project), so an installation from before the flag keeps it that way.
  [
    `ALTER TABLE api_keys ADD COLUMN instance_admin INTEGER NOT NULL DEFAULT 0`,
    `UPDATE api_keys SET instance_admin = 1 WHERE created_by = 'bootstrap' AND role = 'admin'`,
    `CREATE INDEX api_keys_by_creator ON api_keys (created_by, created_at)`,
  ],
  // Each project's span retention (days; NULL: unlimited), and who set it last.
  [
    `CREATE TABLE span_retention (
       project TEXT PRIMARY KEY,
       span_days INTEGER,
       changed_at INTEGER NOT NULL,
       changed_by TEXT NOT NULL
     ) WITHOUT ROWID`,
  ],
];

interface RetentionRow {
  project: string;
  span_days: number | null;
  changed_at: number;
  changed_by: string;
}

const toRetention = (r: RetentionRow): SpanRetention => ({ project: r.project, spanDays: r.span_days, changedAt: new Date(r.changed_at), changedBy: r.changed_by });

interface KeyRow {
  id: string;
  name: string;
  role: string;
  promote: number;
  project: string;
  instance_admin: number;
  secret_hash: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

const toKey = (r: KeyRow): StoredApiKey => ({
  id: r.id,
  name: r.name,
  role: r.role as Role,
  promote: fromFlag(r.promote),
  project: r.project,
  instanceAdmin: fromFlag(r.instance_admin),
  secretHash: r.secret_hash,
  createdAt: new Date(r.created_at),
  createdBy: r.created_by,
  expiresAt: dateOrNull(r.expires_at),
  revokedAt: dateOrNull(r.revoked_at),
  revokedBy: r.revoked_by,
});

/** The keys' part of the file's schema; a file of keys alone (governance.sqlite) had it at user_version. */
const KEYS_SCHEMA: SchemaComponent = { name: 'governance', migrations: MIGRATIONS, legacyTable: 'api_keys' };

export interface SqliteGovernanceOptions {
  /** Stamps audit entries. */
  clock?: Clock;
}

export class SqliteGovernance extends SqliteStore implements KeyStore, AuditLog, RetentionSettings {
  private readonly clock: Clock;

  constructor(file: string | SharedDatabase, opts: SqliteGovernanceOptions = {}) {
    super(file, { components: [KEYS_SCHEMA, AUDIT_SCHEMA] });
    this.clock = opts.clock ?? systemClock;
  }

  async countKeys(): Promise<number> {
    return this.run('counting keys', () => (this.db.prepare('SELECT count(*) AS n FROM api_keys').get() as { n: number }).n);
  }

  async createKey(k: StoredApiKey, audit?: AuditDraft<StoredApiKey>): Promise<void> {
    const entries = this.run('creating a key', () =>
      this.transaction(() => {
        this.db
          .prepare('INSERT INTO api_keys (id, name, role, promote, project, instance_admin, secret_hash, created_at, created_by, expires_at, revoked_at, revoked_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)')
          .run(k.id, k.name, k.role, toFlag(k.promote), k.project, toFlag(k.instanceAdmin), k.secretHash, k.createdAt.getTime(), k.createdBy, k.expiresAt?.getTime() ?? null);
        return appendDrafted(this.db, this.clock, audit, k);
      }),
    );
    audit?.committed(entries);
  }

  async getKey(id: string): Promise<StoredApiKey | null> {
    return this.run('reading a key', () => {
      const r = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
      return r ? toKey(r) : null;
    });
  }

  async listKeys(project: string): Promise<StoredApiKey[]> {
    return this.run('listing keys', () => (this.db.prepare('SELECT * FROM api_keys WHERE project = ? ORDER BY created_at, id').all(project) as unknown as KeyRow[]).map(toKey));
  }

  async listProjects(): Promise<string[]> {
    // api_keys_by_project serves it: one step a project.
    return this.run('listing projects', () => (this.db.prepare('SELECT DISTINCT project FROM api_keys ORDER BY project').all() as Array<{ project: string }>).map((r) => r.project));
  }

  async listKeysCreatedBy(createdBy: string): Promise<StoredApiKey[]> {
    return this.run('listing keys', () => (this.db.prepare('SELECT * FROM api_keys WHERE created_by = ? ORDER BY created_at, id').all(createdBy) as unknown as KeyRow[]).map(toKey));
  }

  async revokeKey(id: string, at: Date, by: string, audit?: AuditDraft<StoredApiKey>): Promise<boolean> {
    const entries = this.run('revoking a key', () =>
      this.transaction(() => {
        if (this.db.prepare('UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(at.getTime(), by, id).changes !== 1) return null;
        return appendDrafted(this.db, this.clock, audit, toKey(this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as unknown as KeyRow));
      }),
    );
    if (entries === null) return false;
    audit?.committed(entries);
    return true;
  }

  async getRetention(project: string): Promise<SpanRetention | null> {
    return this.run('reading the retention', () => {
      const r = this.db.prepare('SELECT * FROM span_retention WHERE project = ?').get(project) as RetentionRow | undefined;
      return r ? toRetention(r) : null;
    });
  }

  async listRetention(): Promise<SpanRetention[]> {
    return this.run('reading the retention', () => (this.db.prepare('SELECT * FROM span_retention ORDER BY project').all() as unknown as RetentionRow[]).map(toRetention));
  }

  async setRetention(setting: SpanRetention, audit?: AuditDraft<SpanRetentionChange>): Promise<SpanRetentionChange> {
    const { change, entries } = this.run('setting the retention', () =>
      this.transaction(() => {
        const before = this.db.prepare('SELECT * FROM span_retention WHERE project = ?').get(setting.project) as RetentionRow | undefined;
        this.db
          .prepare('INSERT INTO span_retention (project, span_days, changed_at, changed_by) VALUES (?, ?, ?, ?) ON CONFLICT (project) DO UPDATE SET span_days = excluded.span_days, changed_at = excluded.changed_at, changed_by = excluded.changed_by')
          .run(setting.project, setting.spanDays, setting.changedAt.getTime(), setting.changedBy);
        const change: SpanRetentionChange = { before: before ? toRetention(before) : null, after: setting };
        return { change, entries: appendDrafted(this.db, this.clock, audit, change) };
      }),
    );
    audit?.committed(entries);
    return change;
  }

  async append(entry: NewAuditEntry, hashOf: AuditHashOf): Promise<AuditEntry> {
    return this.run('appending to the audit log', () => this.transaction(() => appendAuditEntries(this.db, this.clock, [entry], hashOf)[0]!));
  }

  async list(f: AuditFilter): Promise<AuditEntry[]> {
    return this.run('reading the audit log', () => listAuditEntries(this.db, f));
  }

  async scan(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    return this.run('reading the audit log', () => scanAuditEntries(this.db, fromSeq, limit));
  }
}
