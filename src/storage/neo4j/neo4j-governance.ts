import neo4j, { type ManagedTransaction } from 'neo4j-driver';
import type { AuditEntry, NewAuditEntry, Role, StoredApiKey } from '../../domain/governance.ts';
import type { AuditFilter, AuditLog, KeyStore } from '../governance.ts';
import type { PingResult } from '../lifecycle.ts';
import { Neo4jSessions } from './neo4j-sessions.ts';

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

const CONSTRAINTS = [
  'CREATE CONSTRAINT promptline_api_key_identity IF NOT EXISTS FOR (k:ApiKeyRecord) REQUIRE k.id IS UNIQUE',
  'CREATE INDEX promptline_api_key_by_project IF NOT EXISTS FOR (k:ApiKeyRecord) ON (k.project, k.createdAt)',
  'DROP CONSTRAINT promptline_audit_record_identity IF EXISTS',
  'CREATE CONSTRAINT promptline_audit_chain_seq IF NOT EXISTS FOR (r:AuditRecord) REQUIRE (r.chain, r.seq) IS UNIQUE',
  'CREATE INDEX promptline_audit_record_by_project IF NOT EXISTS FOR (r:AuditRecord) ON (r.chain, r.project, r.seq)',
  'CREATE CONSTRAINT promptline_audit_head_identity IF NOT EXISTS FOR (h:AuditHead) REQUIRE h.id IS UNIQUE',
];

/** The id of the single :AuditHead node. */
const HEAD_ID = 'promptline';
const GENESIS_HASH = '0'.repeat(64);

interface KeyValue {
  id: string;
  name: string;
  role: string;
  promote: boolean;
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
const projection = (fields: string[]) => (variable: string) => `${variable} {${fields.map((f) => `.${f}`).join(', ')}}`;
const keyMap = projection(KEY_FIELDS);
const auditMap = projection(AUDIT_FIELDS);

const num = (v: unknown): number => (neo4j.isInt(v) ? (v as { toNumber(): number }).toNumber() : Number(v));
const int = (n: number) => neo4j.int(n);
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(num(v)));
const jsonOrNull = (v: string | null | undefined): unknown => (v === null || v === undefined ? null : JSON.parse(v));

const toKey = (r: KeyValue): StoredApiKey => ({
  id: r.id,
  name: r.name,
  role: r.role as Role,
  promote: r.promote === true,
  project: r.project,
  secretHash: r.secretHash,
  createdAt: new Date(num(r.createdAt)),
  createdBy: r.createdBy,
  expiresAt: dateOrNull(r.expiresAt),
  revokedAt: dateOrNull(r.revokedAt),
  revokedBy: r.revokedBy ?? null,
});

const toEntry = (r: AuditValue): AuditEntry => ({
  seq: num(r.seq),
  at: new Date(num(r.at)),
  project: r.project,
  actor: r.actor,
  action: r.action,
  target: r.target,
  before: jsonOrNull(r.before),
  after: jsonOrNull(r.after),
  prevHash: r.prevHash,
  hash: r.hash,
});

export interface Neo4jGovernanceOptions {
  url: string;
  user: string;
  password: string;
  /** A Neo4j database name; the server's default when not given. */
  database?: string;
  /** Which audit chain (default "promptline"): tests keep theirs apart from the installation's. */
  chain?: string;
}

export class Neo4jGovernance implements KeyStore, AuditLog {
  readonly backend: string;
  private readonly db: Neo4jSessions;
  private readonly chain: string;

  private constructor(db: Neo4jSessions, opts: Neo4jGovernanceOptions) {
    this.db = db;
    this.chain = opts.chain ?? HEAD_ID;
    this.backend = `neo4j (${opts.url})`;
  }

  /** Connects and checks the server answers and takes the credentials; a clear ConfigError if not. */
  static async connect(opts: Neo4jGovernanceOptions): Promise<Neo4jGovernance> {
    // Appends queue on the audit head; the first appends on a fresh database may deadlock on the
    // head's index entry, which the driver retries for up to this long.
    return new Neo4jGovernance(await Neo4jSessions.connect(opts, 10_000), opts);
  }

  private write<T>(what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.db.write(what, work);
  }

  private read<T>(what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.db.read(what, work);
  }

  async migrate(): Promise<void> {
    await this.write('creating governance constraints', async (tx) => {
      for (const statement of CONSTRAINTS) await tx.run(statement);
    });
  }

  async countKeys(): Promise<number> {
    return this.read('counting keys', async (tx) => {
      const r = await tx.run('MATCH (k:ApiKeyRecord) RETURN count(k) AS n');
      return num(r.records[0]!.get('n'));
    });
  }

  async createKey(k: StoredApiKey): Promise<void> {
    await this.write('creating a key', async (tx) => {
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
          createdAt: int(k.createdAt.getTime()),
          createdBy: k.createdBy,
          expiresAt: k.expiresAt === null ? null : int(k.expiresAt.getTime()),
        },
      );
    });
  }

  async getKey(id: string): Promise<StoredApiKey | null> {
    return this.read('reading a key', async (tx) => {
      const r = await tx.run(`MATCH (k:ApiKeyRecord {id: $id}) RETURN ${keyMap('k')} AS k`, { id });
      const k = r.records[0]?.get('k') as KeyValue | undefined;
      return k ? toKey(k) : null;
    });
  }

  async listKeys(project: string): Promise<StoredApiKey[]> {
    return this.read('listing keys', async (tx) => {
      const r = await tx.run(`MATCH (k:ApiKeyRecord {project: $project}) RETURN ${keyMap('k')} AS k ORDER BY k.createdAt, k.id`, { project });
      return r.records.map((rec) => toKey(rec.get('k') as KeyValue));
    });
  }

  async revokeKey(id: string, at: Date, by: string): Promise<boolean> {
    return this.write('revoking a key', async (tx) => {
      const r = await tx.run(
        `MATCH (k:ApiKeyRecord {id: $id})
         WHERE k.revokedAt IS NULL
         SET k.revokedAt = $at, k.revokedBy = $by
         RETURN count(k) AS n`,
        { id, at: int(at.getTime()), by },
      );
      return num(r.records[0]!.get('n')) === 1;
    });
  }

  async append(entry: NewAuditEntry, hashOf: (e: Omit<AuditEntry, 'hash'>) => string): Promise<AuditEntry> {
    // The whole function is the transaction: should the driver retry it (a deadlock, a lost
    // leader), the head's bump is rolled back with the record, and the seq, the previous entry and
    // the time are all taken again.
    return this.write('appending to the audit log', async (tx) => {
      const head = await tx.run(
        `MERGE (h:AuditHead {id: $head})
         SET h.lastSeq = coalesce(h.lastSeq, 0) + 1
         WITH h
         OPTIONAL MATCH (p:AuditRecord {chain: $head, seq: h.lastSeq - 1})
         RETURN h.lastSeq AS seq, p.at AS lastAt, p.hash AS lastHash`,
        { head: this.chain },
      );
      const rec = head.records[0]!;
      const seq = num(rec.get('seq'));
      const lastAt = rec.get('lastAt') as number | null;
      const lastHash = rec.get('lastHash') as string | null;
      // Entries are ordered in time as in sequence, even if the clock steps back.
      const at = Math.max(Date.now(), lastAt === null ? 0 : num(lastAt));
      const unhashed: Omit<AuditEntry, 'hash'> = { ...entry, seq, at: new Date(at), prevHash: lastHash ?? GENESIS_HASH };
      const full: AuditEntry = { ...unhashed, hash: hashOf(unhashed) };
      await tx.run(
        `CREATE (:AuditRecord {chain: $chain, seq: $seq, at: $at, project: $project, actor: $actor, action: $action, target: $target,
                               before: $before, after: $after, prevHash: $prevHash, hash: $hash})`,
        {
          chain: this.chain,
          seq: int(full.seq),
          at: int(at),
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
    const params: Record<string, unknown> = { limit: int(f.limit), chain: this.chain };
    const add = (clause: string, name: string, v: unknown) => {
      if (v === undefined) return;
      where.push(clause);
      params[name] = v;
    };
    add('r.project = $project', 'project', f.project);
    add('r.actor = $actor', 'actor', f.actor);
    add('r.action = $action', 'action', f.action);
    add('r.target = $target', 'target', f.target);
    add('r.at >= $since', 'since', f.since === undefined ? undefined : int(f.since.getTime()));
    add('r.at < $until', 'until', f.until === undefined ? undefined : int(f.until.getTime()));
    add('r.seq < $beforeSeq', 'beforeSeq', f.beforeSeq === undefined ? undefined : int(f.beforeSeq));
    return this.read('reading the audit log', async (tx) => {
      const r = await tx.run(`MATCH (r:AuditRecord) WHERE ${where.join(' AND ')} RETURN ${auditMap('r')} AS r ORDER BY r.seq DESC LIMIT $limit`, params);
      return r.records.map((rec) => toEntry(rec.get('r') as AuditValue));
    });
  }

  async scan(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    return this.read('reading the audit log', async (tx) => {
      const r = await tx.run(`MATCH (r:AuditRecord) WHERE r.chain = $chain AND r.seq >= $fromSeq RETURN ${auditMap('r')} AS r ORDER BY r.seq LIMIT $limit`, {
        chain: this.chain,
        fromSeq: int(fromSeq),
        limit: int(limit),
      });
      return r.records.map((rec) => toEntry(rec.get('r') as AuditValue));
    });
  }

  ping(): Promise<PingResult> {
    return this.db.ping();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
