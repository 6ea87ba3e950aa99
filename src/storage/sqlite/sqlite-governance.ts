import type { AuditEntry, NewAuditEntry, Role, StoredApiKey } from '../../domain/governance.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import { GENESIS_HASH, type AuditFilter, type AuditLog, type KeyStore } from '../governance.ts';
import { dateOrNull, jsonOrNull, nextInSequence } from '../values.ts';
import { SqliteStore } from './sqlite-store.ts';
import { fromFlag, toFlag } from './sqlite-values.ts';

// Keys and the audit log in SQLite (governance.sqlite, beside the registry). The audit table
// refuses UPDATE and DELETE by trigger; the hash chain makes any change made around the triggers
// (editing the file) visible to `promptline audit verify`.

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
    `CREATE TABLE audit_log (
       seq INTEGER PRIMARY KEY,
       at INTEGER NOT NULL,
       project TEXT NOT NULL,
       actor TEXT NOT NULL,
       action TEXT NOT NULL,
       target TEXT NOT NULL,
       before TEXT,
       after TEXT,
       prev_hash TEXT NOT NULL,
       hash TEXT NOT NULL
     )`,
    `CREATE INDEX audit_by_project ON audit_log (project, seq)`,
    `CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
    `CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
  ],
];

interface KeyRow {
  id: string;
  name: string;
  role: string;
  promote: number;
  project: string;
  secret_hash: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

interface AuditRow {
  seq: number;
  at: number;
  project: string;
  actor: string;
  action: string;
  target: string;
  before: string | null;
  after: string | null;
  prev_hash: string;
  hash: string;
}

const toKey = (r: KeyRow): StoredApiKey => ({
  id: r.id,
  name: r.name,
  role: r.role as Role,
  promote: fromFlag(r.promote),
  project: r.project,
  secretHash: r.secret_hash,
  createdAt: new Date(r.created_at),
  createdBy: r.created_by,
  expiresAt: dateOrNull(r.expires_at),
  revokedAt: dateOrNull(r.revoked_at),
  revokedBy: r.revoked_by,
});

const toEntry = (r: AuditRow): AuditEntry => ({
  seq: r.seq,
  at: new Date(r.at),
  project: r.project,
  actor: r.actor,
  action: r.action,
  target: r.target,
  before: jsonOrNull(r.before),
  after: jsonOrNull(r.after),
  prevHash: r.prev_hash,
  hash: r.hash,
});

const AUDIT_COLUMNS = 'seq, at, project, actor, action, target, before, after, prev_hash, hash';

export interface SqliteGovernanceOptions {
  /** Stamps audit entries. */
  clock?: Clock;
}

export class SqliteGovernance extends SqliteStore implements KeyStore, AuditLog {
  private readonly clock: Clock;

  constructor(file: string, opts: SqliteGovernanceOptions = {}) {
    super(file, MIGRATIONS);
    this.clock = opts.clock ?? systemClock;
  }

  async countKeys(): Promise<number> {
    return this.run('counting keys', () => (this.db.prepare('SELECT count(*) AS n FROM api_keys').get() as { n: number }).n);
  }

  async createKey(k: StoredApiKey): Promise<void> {
    this.run('creating a key', () =>
      this.db
        .prepare('INSERT INTO api_keys (id, name, role, promote, project, secret_hash, created_at, created_by, expires_at, revoked_at, revoked_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)')
        .run(k.id, k.name, k.role, toFlag(k.promote), k.project, k.secretHash, k.createdAt.getTime(), k.createdBy, k.expiresAt?.getTime() ?? null),
    );
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

  async revokeKey(id: string, at: Date, by: string): Promise<boolean> {
    return this.run('revoking a key', () => this.db.prepare('UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(at.getTime(), by, id).changes === 1);
  }

  async append(entry: NewAuditEntry, hashOf: (e: Omit<AuditEntry, 'hash'>) => string): Promise<AuditEntry> {
    return this.run('appending to the audit log', () =>
      this.transaction(() => {
        const last = this.db.prepare('SELECT seq, at, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; at: number; hash: string } | undefined;
        const unhashed = { ...entry, seq: (last?.seq ?? 0) + 1, at: new Date(nextInSequence(this.clock, last?.at)), prevHash: last?.hash ?? GENESIS_HASH };
        const full: AuditEntry = { ...unhashed, hash: hashOf(unhashed) };
        this.db
          .prepare(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(full.seq, full.at.getTime(), full.project, full.actor, full.action, full.target, JSON.stringify(full.before ?? null), JSON.stringify(full.after ?? null), full.prevHash, full.hash);
        return full;
      }),
    );
  }

  async list(f: AuditFilter): Promise<AuditEntry[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    const add = (sql: string, v: string | number | undefined) => {
      if (v === undefined) return;
      where.push(sql);
      args.push(v);
    };
    add('project = ?', f.project);
    add('actor = ?', f.actor);
    add('action = ?', f.action);
    add('target = ?', f.target);
    add('at >= ?', f.since?.getTime());
    add('at < ?', f.until?.getTime());
    add('seq < ?', f.beforeSeq);
    return this.run('reading the audit log', () =>
      (this.db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`).all(...args, f.limit) as unknown as AuditRow[]).map(toEntry),
    );
  }

  async scan(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    return this.run('reading the audit log', () => (this.db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?`).all(fromSeq, limit) as unknown as AuditRow[]).map(toEntry));
  }
}
