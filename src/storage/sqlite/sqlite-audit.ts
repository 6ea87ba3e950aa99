import type { DatabaseSync } from 'node:sqlite';
import type { AuditEntry, NewAuditEntry } from '../../domain/governance.ts';
import type { Clock } from '../../common/clock.ts';
import { GENESIS_HASH, type AuditDraft, type AuditFilter, type AuditHashOf } from '../governance.ts';
import { jsonOrNull, nextInSequence } from '../values.ts';
import type { SchemaComponent } from './sqlite-db.ts';

// The audit log in SQLite, in the one file that also holds the registry and the keys, so that a
// change and its audit entries are one transaction: the adapter that makes the change appends
// them with the functions here, inside its own transaction. The table refuses UPDATE and DELETE by
// trigger; the hash chain makes any change made around the triggers (editing the file) visible to
// verification.

export const AUDIT_SCHEMA: SchemaComponent = {
  name: 'audit',
  migrations: [
    [
      // The table as the first governance migration made it: files from then have it already.
      `CREATE TABLE IF NOT EXISTS audit_log (
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
      `CREATE INDEX IF NOT EXISTS audit_by_project ON audit_log (project, seq)`,
      // Each entry's rank among its project's; entries from before are numbered here, which needs
      // the append-only trigger out of the way for this one statement.
      `ALTER TABLE audit_log ADD COLUMN project_seq INTEGER`,
      `DROP TRIGGER IF EXISTS audit_no_update`,
      `UPDATE audit_log SET project_seq = r.n FROM (SELECT seq, row_number() OVER (PARTITION BY project ORDER BY seq) AS n FROM audit_log) AS r WHERE r.seq = audit_log.seq`,
      `CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
      `CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
    ],
  ],
};

interface AuditRow {
  seq: number;
  project_seq: number | null;
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

const COLUMNS = 'seq, project_seq, at, project, actor, action, target, before, after, prev_hash, hash';

const toEntry = (r: AuditRow): AuditEntry => ({
  seq: r.seq,
  projectSeq: r.project_seq,
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

/** Appends entries chained to the last one. Runs inside the caller's (IMMEDIATE) transaction, which holds the file's write lock. */
export function appendAuditEntries(db: DatabaseSync, clock: Clock, entries: readonly NewAuditEntry[], hashOf: AuditHashOf): AuditEntry[] {
  const lastStmt = db.prepare('SELECT seq, at, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
  const lastOfProject = db.prepare('SELECT project_seq FROM audit_log WHERE project = ? ORDER BY seq DESC LIMIT 1');
  const insert = db.prepare(`INSERT INTO audit_log (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  return entries.map((entry) => {
    const last = lastStmt.get() as { seq: number; at: number; hash: string } | undefined;
    const ofProject = lastOfProject.get(entry.project) as { project_seq: number | null } | undefined;
    const unhashed: Omit<AuditEntry, 'hash'> = {
      ...entry,
      seq: (last?.seq ?? 0) + 1,
      projectSeq: (ofProject?.project_seq ?? 0) + 1,
      at: new Date(nextInSequence(clock, last?.at)),
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const full: AuditEntry = { ...unhashed, hash: hashOf(unhashed) };
    insert.run(full.seq, full.projectSeq, full.at.getTime(), full.project, full.actor, full.action, full.target, JSON.stringify(full.before ?? null), JSON.stringify(full.after ?? null), full.prevHash, full.hash);
    return full;
  });
}

/** The draft's entries for a change just made, appended in the same transaction; none without a draft. */
export function appendDrafted<T>(db: DatabaseSync, clock: Clock, audit: AuditDraft<T> | undefined, stored: T): AuditEntry[] {
  return audit ? appendAuditEntries(db, clock, audit.entries(stored), audit.hashOf) : [];
}

export function listAuditEntries(db: DatabaseSync, f: AuditFilter): AuditEntry[] {
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
  add('project_seq < ?', f.beforeProjectSeq);
  const sql = `SELECT ${COLUMNS} FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
  return (db.prepare(sql).all(...args, f.limit) as unknown as AuditRow[]).map(toEntry);
}

export function scanAuditEntries(db: DatabaseSync, fromSeq: number, limit: number): AuditEntry[] {
  return (db.prepare(`SELECT ${COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?`).all(fromSeq, limit) as unknown as AuditRow[]).map(toEntry);
}
