import type { Transaction } from 'neo4j-driver';
import type { AuditEntry, NewAuditEntry } from '../../domain/governance.ts';
import type { Clock } from '../../common/clock.ts';
import { GENESIS_HASH, type AuditDraft, type AuditFilter, type AuditHashOf } from '../governance.ts';
import { jsonOrNull, nextInSequence } from '../values.ts';
import type { Neo4jTransactions } from './neo4j-sessions.ts';
import { millis, projection, toDate, toInt, toNumber } from './neo4j-values.ts';

// The audit log on Neo4j, written by whichever adapter makes the change (keys, the registry) inside
// that change's own transaction, so that both commit or neither does:
//   (:AuditRecord {chain, seq, projectSeq, …})  one per entry, unique by (chain, seq), never changed
//   (:AuditHead {id: chain})                    the single counter of a chain (lastSeq)
// An append bumps the head's counter first: the SET reads the property it writes, so Cypher takes
// the head's write lock before reading, and concurrent appends queue there. Under that lock the
// previous entry (its hash and time) and the project's last entry are the latest there are; the
// counter's bump and the new record are in the change's transaction, so a rolled-back or retried
// attempt leaves no gap and no fork, and the uniqueness constraint on (chain, seq) backs it up. The
// head is the last lock a change takes (after its own prompt, alias or key), so changes cannot
// deadlock on it. Nothing changes or deletes a record; the hash chain makes any change by hand
// visible to verification.
//
// Values are always parameters. Integers go as neo4j.int; an entry's before and after are JSON text.

/** Constraints and indexes of the audit log, part of the schema of each adapter that appends to it. */
export const AUDIT_SCHEMA_STATEMENTS: readonly string[] = [
  'DROP CONSTRAINT promptline_audit_record_identity IF EXISTS',
  'CREATE CONSTRAINT promptline_audit_chain_seq IF NOT EXISTS FOR (r:AuditRecord) REQUIRE (r.chain, r.seq) IS UNIQUE',
  'CREATE INDEX promptline_audit_record_by_project IF NOT EXISTS FOR (r:AuditRecord) ON (r.chain, r.project, r.seq)',
  'CREATE CONSTRAINT promptline_audit_head_identity IF NOT EXISTS FOR (h:AuditHead) REQUIRE h.id IS UNIQUE',
];

/** The chain of an installation; tests name their own. */
export const DEFAULT_CHAIN = 'promptline';

type Tx = Pick<Transaction, 'run'>;

interface AuditValue {
  seq: number;
  projectSeq: number | null;
  at: number;
  project: string;
  actor: string;
  action: string;
  target: string;
  before: string | null;
  after: string | null;
  prevHash: string;
  hash: string;
}

const auditMap = projection(['seq', 'projectSeq', 'at', 'project', 'actor', 'action', 'target', 'before', 'after', 'prevHash', 'hash']);

const toEntry = (r: AuditValue): AuditEntry => ({
  seq: toNumber(r.seq),
  projectSeq: r.projectSeq === null || r.projectSeq === undefined ? null : toNumber(r.projectSeq),
  at: toDate(r.at),
  project: r.project,
  actor: r.actor,
  action: r.action,
  target: r.target,
  before: jsonOrNull(r.before),
  after: jsonOrNull(r.after),
  prevHash: r.prevHash,
  hash: r.hash,
});

/** Appends entries chained to the last one of `chain`, inside the caller's write transaction. */
export async function appendAuditEntries(tx: Tx, chain: string, clock: Clock, entries: readonly NewAuditEntry[], hashOf: AuditHashOf): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (const entry of entries) {
    const head = await tx.run(
      `MERGE (h:AuditHead {id: $chain})
       SET h.lastSeq = coalesce(h.lastSeq, 0) + 1
       WITH h
       OPTIONAL MATCH (p:AuditRecord {chain: $chain, seq: h.lastSeq - 1})
       RETURN h.lastSeq AS seq, p.at AS lastAt, p.hash AS lastHash`,
      { chain },
    );
    // An entry an older Promptline appended has no projectSeq: its rank is the project's count.
    const ofProject = await tx.run(
      `OPTIONAL MATCH (q:AuditRecord {chain: $chain, project: $project})
       WITH q ORDER BY q.seq DESC LIMIT 1
       RETURN CASE WHEN q IS NULL THEN 0 WHEN q.projectSeq IS NOT NULL THEN q.projectSeq
                   ELSE COUNT { MATCH (x:AuditRecord {chain: $chain, project: $project}) } END AS last`,
      { chain, project: entry.project },
    );
    const rec = head.records[0]!;
    const lastAt = rec.get('lastAt') as number | null;
    const at = nextInSequence(clock, lastAt === null ? null : toNumber(lastAt));
    const unhashed: Omit<AuditEntry, 'hash'> = {
      ...entry,
      seq: toNumber(rec.get('seq')),
      projectSeq: toNumber(ofProject.records[0]!.get('last')) + 1,
      at: new Date(at),
      prevHash: (rec.get('lastHash') as string | null) ?? GENESIS_HASH,
    };
    const full: AuditEntry = { ...unhashed, hash: hashOf(unhashed) };
    await tx.run(
      `CREATE (:AuditRecord {chain: $chain, seq: $seq, projectSeq: $projectSeq, at: $at, project: $project, actor: $actor, action: $action,
                             target: $target, before: $before, after: $after, prevHash: $prevHash, hash: $hash})`,
      {
        chain,
        seq: toInt(full.seq),
        projectSeq: toInt(full.projectSeq!),
        at: toInt(at),
        project: full.project,
        actor: full.actor,
        action: full.action,
        target: full.target,
        before: JSON.stringify(full.before ?? null),
        after: JSON.stringify(full.after ?? null),
        prevHash: full.prevHash,
        hash: full.hash,
      },
    );
    out.push(full);
  }
  return out;
}

/** The draft's entries for a change just made, appended in the same transaction; none without a draft. */
export function appendDrafted<T>(tx: Tx, chain: string, clock: Clock, audit: AuditDraft<T> | undefined, stored: T): Promise<AuditEntry[]> {
  return audit ? appendAuditEntries(tx, chain, clock, audit.entries(stored), audit.hashOf) : Promise.resolve([]);
}

export function listAuditEntries(db: Neo4jTransactions, chain: string, f: AuditFilter): Promise<AuditEntry[]> {
  // Only fixed clauses are joined here; every value is a parameter.
  const where: string[] = ['r.chain = $chain'];
  const params: Record<string, unknown> = { limit: toInt(f.limit), chain };
  const add = (clause: string, name: string, v: unknown) => {
    if (v === undefined) return;
    where.push(clause);
    params[name] = v;
  };
  add('r.project = $project', 'project', f.project);
  add('r.actor = $actor', 'actor', f.actor);
  add('r.action = $action', 'action', f.action);
  add('r.target = $target', 'target', f.target);
  add('r.at >= $since', 'since', f.since === undefined ? undefined : millis(f.since));
  add('r.at < $until', 'until', f.until === undefined ? undefined : millis(f.until));
  add('r.seq < $beforeSeq', 'beforeSeq', f.beforeSeq === undefined ? undefined : toInt(f.beforeSeq));
  add('r.projectSeq < $beforeProjectSeq', 'beforeProjectSeq', f.beforeProjectSeq === undefined ? undefined : toInt(f.beforeProjectSeq));
  return db.read('reading the audit log', async (tx) => {
    const r = await tx.run(`MATCH (r:AuditRecord) WHERE ${where.join(' AND ')} RETURN ${auditMap('r')} AS r ORDER BY r.seq DESC LIMIT $limit`, params);
    return r.records.map((rec) => toEntry(rec.get('r') as AuditValue));
  });
}

export function scanAuditEntries(db: Neo4jTransactions, chain: string, fromSeq: number, limit: number): Promise<AuditEntry[]> {
  return db.read('reading the audit log', async (tx) => {
    const r = await tx.run(`MATCH (r:AuditRecord) WHERE r.chain = $chain AND r.seq >= $fromSeq RETURN ${auditMap('r')} AS r ORDER BY r.seq LIMIT $limit`, {
      chain,
      fromSeq: toInt(fromSeq),
      limit: toInt(limit),
    });
    return r.records.map((rec) => toEntry(rec.get('r') as AuditValue));
  });
}

/**
 * Numbers, within their projects, the entries appended before projectSeq existed (or by an older
 * Promptline since): each gets its rank among its project's entries. Data, so a transaction apart
 * from the schema's; safe to run again and beside appends, which number only their own.
 */
export async function numberProjectEntries(db: Neo4jTransactions): Promise<void> {
  await db.write('numbering audit entries within their projects', async (tx) => {
    await tx.run(
      `MATCH (r:AuditRecord) WHERE r.projectSeq IS NULL
       WITH DISTINCT r.chain AS chain, r.project AS project
       CALL (chain, project) {
         MATCH (x:AuditRecord {chain: chain, project: project})
         WITH x ORDER BY x.seq
         WITH collect(x) AS xs
         UNWIND range(0, size(xs) - 1) AS i
         WITH xs[i] AS x, i
         WHERE x.projectSeq IS NULL
         SET x.projectSeq = i + 1
       }`,
    );
  });
}
