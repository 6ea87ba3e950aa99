import type { AuditEntry, NewAuditEntry, Role, StoredApiKey } from '../../domain/governance.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import { GENESIS_HASH, type AuditFilter, type AuditLog, type KeyStore } from '../governance.ts';
import { jsonOrNull, nextInSequence } from '../values.ts';
import { Neo4jSessions, type Neo4jConnectionOptions } from './neo4j-sessions.ts';
import { Neo4jStore, type Neo4jSchema, type Neo4jStoreOptions } from './neo4j-store.ts';
import { millis, millisOrNull, projection, toDate, toDateOrNull, toInt, toNumber } from './neo4j-values.ts';

// Keys and the audit log on Neo4j, beside the registry. Their nodes have labels of their own,
// apart from the lineage graph's :Entity nodes and the registry's nodes:
//   (:ApiKeyRecord {id, …})      one per key, unique by id; the secret only as its slow hash
//   (:AuditRecord {seq, …})      one per audit entry, unique by seq, never changed
//   (:AuditHead {id: 'audit'})   the single counter of the whole log (lastSeq)
// An append bumps the head's counter first: the SET reads the property it writes, so Cypher takes
// the head's write lock before reading, and concurrent appends queue there. Under that lock the
// previous entry (its hash and time) is the latest there is; the counter's bump and the new record
// are one transaction, so a rolled-back or retried attempt leaves no gap and no fork, and the
// uniqueness constraint on seq backs it up. Nothing here changes or deletes an audit record; the
// hash chain makes any change made by hand visible to `promptline audit verify`.
//
// Values are always parameters. Integers (seq, milliseconds, LIMIT) go as neo4j.int, as the driver
// sends a plain JS number as a float; an entry's before and after are JSON text.

const SCHEMA: Neo4jSchema = {
  what: 'creating governance constraints',
  statements: [
    'CREATE CONSTRAINT promptline_api_key_identity IF NOT EXISTS FOR (k:ApiKeyRecord) REQUIRE k.id IS UNIQUE',
    'CREATE INDEX promptline_api_key_by_project IF NOT EXISTS FOR (k:ApiKeyRecord) ON (k.project, k.createdAt)',
    'DROP CONSTRAINT promptline_audit_record_identity IF EXISTS',
    'CREATE CONSTRAINT promptline_audit_chain_seq IF NOT EXISTS FOR (r:AuditRecord) REQUIRE (r.chain, r.seq) IS UNIQUE',
    'CREATE INDEX promptline_audit_record_by_project IF NOT EXISTS FOR (r:AuditRecord) ON (r.chain, r.project, r.seq)',
    'CREATE CONSTRAINT promptline_audit_head_identity IF NOT EXISTS FOR (h:AuditHead) REQUIRE h.id IS UNIQUE',
  ],
  // Appends queue on the audit head; the first appends on a fresh database may deadlock on the
  // head's index entry, which is retried for up to this long.
  maxRetryMs: 10_000,
};

/** The id of the single :AuditHead node. */
const HEAD_ID = 'promptline';

interface KeyValue {
  id: string;
  name: string;
  role: string;
  promote: boolean | null;
  project: string;
  secretHash: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

interface AuditValue {
  seq: number;
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

const KEY_FIELDS = ['id', 'name', 'role', 'promote', 'project', 'secretHash', 'createdAt', 'createdBy', 'expiresAt', 'revokedAt', 'revokedBy'];
const AUDIT_FIELDS = ['seq', 'at', 'project', 'actor', 'action', 'target', 'before', 'after', 'prevHash', 'hash'];
const keyMap = projection(KEY_FIELDS);
const auditMap = projection(AUDIT_FIELDS);

const toKey = (r: KeyValue): StoredApiKey => ({
  id: r.id,
  name: r.name,
  role: r.role as Role,
  promote: r.promote === true,
  project: r.project,
  secretHash: r.secretHash,
  createdAt: toDate(r.createdAt),
  createdBy: r.createdBy,
  expiresAt: toDateOrNull(r.expiresAt),
  revokedAt: toDateOrNull(r.revokedAt),
  revokedBy: r.revokedBy ?? null,
});

const toEntry = (r: AuditValue): AuditEntry => ({
  seq: toNumber(r.seq),
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

export interface Neo4jGovernanceOptions extends Neo4jStoreOptions {
  /** Which audit chain (default "promptline"): tests keep theirs apart from the installation's. */
  chain?: string;
  /** Stamps audit entries. */
  clock?: Clock;
}

export class Neo4jGovernance extends Neo4jStore implements KeyStore, AuditLog {
  private readonly chain: string;
  private readonly clock: Clock;

  constructor(sessions: Neo4jSessions, opts: Neo4jGovernanceOptions = {}) {
    super(sessions, SCHEMA, opts);
    this.chain = opts.chain ?? HEAD_ID;
    this.clock = opts.clock ?? systemClock;
  }

  /** On a driver of its own, closed with the key store and audit log. */
  static async connect(opts: Neo4jConnectionOptions & Omit<Neo4jGovernanceOptions, 'closesSessions'>): Promise<Neo4jGovernance> {
    return new Neo4jGovernance(await Neo4jSessions.connect(opts), { ...opts, closesSessions: true });
  }

  async countKeys(): Promise<number> {
    return this.db.read('counting keys', async (tx) => {
      const r = await tx.run('MATCH (k:ApiKeyRecord) RETURN count(k) AS n');
      return toNumber(r.records[0]!.get('n'));
    });
  }

  async createKey(k: StoredApiKey): Promise<void> {
    await this.db.write('creating a key', async (tx) => {
      await tx.run(
        `CREATE (:ApiKeyRecord {id: $id, name: $name, role: $role, promote: $promote, project: $project, secretHash: $secretHash,
                                createdAt: $createdAt, createdBy: $createdBy, expiresAt: $expiresAt, revokedAt: null, revokedBy: null})`,
        {
          id: k.id,
          name: k.name,
          role: k.role,
          promote: k.promote,
          project: k.project,
          secretHash: k.secretHash,
          createdAt: millis(k.createdAt),
          createdBy: k.createdBy,
          expiresAt: millisOrNull(k.expiresAt),
        },
      );
    });
  }

  async getKey(id: string): Promise<StoredApiKey | null> {
    return this.db.read('reading a key', async (tx) => {
      const r = await tx.run(`MATCH (k:ApiKeyRecord {id: $id}) RETURN ${keyMap('k')} AS k`, { id });
      const k = r.records[0]?.get('k') as KeyValue | undefined;
      return k ? toKey(k) : null;
    });
  }

  async listKeys(project: string): Promise<StoredApiKey[]> {
    return this.db.read('listing keys', async (tx) => {
      const r = await tx.run(`MATCH (k:ApiKeyRecord {project: $project}) RETURN ${keyMap('k')} AS k ORDER BY k.createdAt, k.id`, { project });
      return r.records.map((rec) => toKey(rec.get('k') as KeyValue));
    });
  }

  async revokeKey(id: string, at: Date, by: string): Promise<boolean> {
    return this.db.write('revoking a key', async (tx) => {
      const r = await tx.run(
        `MATCH (k:ApiKeyRecord {id: $id})
         WHERE k.revokedAt IS NULL
         SET k.revokedAt = $at, k.revokedBy = $by
         RETURN count(k) AS n`,
        { id, at: millis(at), by },
      );
      return toNumber(r.records[0]!.get('n')) === 1;
    });
  }

  async append(entry: NewAuditEntry, hashOf: (e: Omit<AuditEntry, 'hash'>) => string): Promise<AuditEntry> {
    // The whole function is the transaction: should it be retried (a deadlock, a lost
    // leader), the head's bump is rolled back with the record, and the seq, the previous entry and
    // the time are all taken again.
    return this.db.write('appending to the audit log', async (tx) => {
      const head = await tx.run(
        `MERGE (h:AuditHead {id: $head})
         SET h.lastSeq = coalesce(h.lastSeq, 0) + 1
         WITH h
         OPTIONAL MATCH (p:AuditRecord {chain: $head, seq: h.lastSeq - 1})
         RETURN h.lastSeq AS seq, p.at AS lastAt, p.hash AS lastHash`,
        { head: this.chain },
      );
      const rec = head.records[0]!;
      const seq = toNumber(rec.get('seq'));
      const lastAt = rec.get('lastAt') as number | null;
      const lastHash = rec.get('lastHash') as string | null;
      const at = nextInSequence(this.clock, lastAt === null ? null : toNumber(lastAt));
      const unhashed: Omit<AuditEntry, 'hash'> = { ...entry, seq, at: new Date(at), prevHash: lastHash ?? GENESIS_HASH };
      const full: AuditEntry = { ...unhashed, hash: hashOf(unhashed) };
      await tx.run(
        `CREATE (:AuditRecord {chain: $chain, seq: $seq, at: $at, project: $project, actor: $actor, action: $action, target: $target,
                               before: $before, after: $after, prevHash: $prevHash, hash: $hash})`,
        {
          chain: this.chain,
          seq: toInt(full.seq),
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
      return full;
    });
  }

  async list(f: AuditFilter): Promise<AuditEntry[]> {
    // Only fixed clauses are joined here; every value is a parameter.
    const where: string[] = ['r.chain = $chain'];
    const params: Record<string, unknown> = { limit: toInt(f.limit), chain: this.chain };
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
    return this.db.read('reading the audit log', async (tx) => {
      const r = await tx.run(`MATCH (r:AuditRecord) WHERE ${where.join(' AND ')} RETURN ${auditMap('r')} AS r ORDER BY r.seq DESC LIMIT $limit`, params);
      return r.records.map((rec) => toEntry(rec.get('r') as AuditValue));
    });
  }

  async scan(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    return this.db.read('reading the audit log', async (tx) => {
      const r = await tx.run(`MATCH (r:AuditRecord) WHERE r.chain = $chain AND r.seq >= $fromSeq RETURN ${auditMap('r')} AS r ORDER BY r.seq LIMIT $limit`, {
        chain: this.chain,
        fromSeq: toInt(fromSeq),
        limit: toInt(limit),
      });
      return r.records.map((rec) => toEntry(rec.get('r') as AuditValue));
    });
  }
}
