import { BOOTSTRAP_ACTOR, type AuditEntry, type NewAuditEntry, type Role, type StoredApiKey } from '../../domain/governance.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import type { SpanRetention, SpanRetentionChange } from '../../domain/retention.ts';
import type { AuditDraft, AuditFilter, AuditHashOf, AuditLog, KeyStore, RetentionSettings } from '../governance.ts';
import { appendAuditEntries, appendDrafted, AUDIT_SCHEMA_STATEMENTS, DEFAULT_CHAIN, listAuditEntries, numberProjectEntries, scanAuditEntries } from './neo4j-audit.ts';
import { Neo4jSessions, type Neo4jConnectionOptions } from './neo4j-sessions.ts';
import { Neo4jStore, type Neo4jSchema, type Neo4jStoreOptions } from './neo4j-store.ts';
import { millis, millisOrNull, projection, toDate, toDateOrNull, toInt, toNumber } from './neo4j-values.ts';

// Keys and the audit log on Neo4j, beside the registry. Their nodes have labels of their own,
// apart from the lineage graph's :Entity nodes and the registry's nodes:
//   (:ApiKeyRecord {id, …})      one per key, unique by id; the secret only as its slow hash
//   (:AuditRecord …), (:AuditHead …)   the audit log (neo4j-audit.ts)
//   (:SpanRetentionRecord {project, spanDays, changedAt, changedBy})   one per project that set it
// A key's creation or revocation handed an AuditDraft appends its entries in its own transaction.
//
// Values are always parameters. Integers (milliseconds) go as neo4j.int, as the driver sends a
// plain JS number as a float.

const SCHEMA: Neo4jSchema = {
  what: 'creating governance constraints',
  statements: [
    'CREATE CONSTRAINT promptline_api_key_identity IF NOT EXISTS FOR (k:ApiKeyRecord) REQUIRE k.id IS UNIQUE',
    'CREATE INDEX promptline_api_key_by_project IF NOT EXISTS FOR (k:ApiKeyRecord) ON (k.project, k.createdAt)',
    'CREATE INDEX promptline_api_key_by_creator IF NOT EXISTS FOR (k:ApiKeyRecord) ON (k.createdBy)',
    'CREATE CONSTRAINT promptline_span_retention_identity IF NOT EXISTS FOR (r:SpanRetentionRecord) REQUIRE r.project IS UNIQUE',
    ...AUDIT_SCHEMA_STATEMENTS,
  ],
  // Appends queue on the audit head; the first appends on a fresh database may deadlock on the
  // head's index entry, which is retried for up to this long.
  maxRetryMs: 10_000,
};

interface KeyValue {
  id: string;
  name: string;
  role: string;
  promote: boolean | null;
  project: string;
  /** null on a key stored before instance admins were told apart. */
  instanceAdmin: boolean | null;
  secretHash: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
}


const KEY_FIELDS = ['id', 'name', 'role', 'promote', 'project', 'instanceAdmin', 'secretHash', 'createdAt', 'createdBy', 'expiresAt', 'revokedAt', 'revokedBy'];
const keyMap = projection(KEY_FIELDS);

const toKey = (r: KeyValue): StoredApiKey => ({
  id: r.id,
  name: r.name,
  role: r.role as Role,
  promote: r.promote === true,
  project: r.project,
  // The bootstrap key has always administered every project: a key from before the flag keeps that.
  instanceAdmin: r.instanceAdmin ?? (r.createdBy === BOOTSTRAP_ACTOR && r.role === 'admin'),
  secretHash: r.secretHash,
  createdAt: toDate(r.createdAt),
  createdBy: r.createdBy,
  expiresAt: toDateOrNull(r.expiresAt),
  revokedAt: toDateOrNull(r.revokedAt),
  revokedBy: r.revokedBy ?? null,
});


interface RetentionValue {
  project: string;
  spanDays: unknown;
  changedAt: unknown;
  changedBy: string;
}

const retentionMap = projection(['project', 'spanDays', 'changedAt', 'changedBy']);

const toRetention = (r: RetentionValue): SpanRetention => ({
  project: r.project,
  spanDays: r.spanDays === null || r.spanDays === undefined ? null : toNumber(r.spanDays),
  changedAt: toDate(r.changedAt),
  changedBy: r.changedBy,
});

export interface Neo4jGovernanceOptions extends Neo4jStoreOptions {
  /** Which audit chain (default "promptline"): tests keep theirs apart from the installation's. */
  chain?: string;
  /** Stamps audit entries. */
  clock?: Clock;
}

export class Neo4jGovernance extends Neo4jStore implements KeyStore, AuditLog, RetentionSettings {
  private readonly chain: string;
  private readonly clock: Clock;

  constructor(sessions: Neo4jSessions, opts: Neo4jGovernanceOptions = {}) {
    super(sessions, SCHEMA, opts);
    this.chain = opts.chain ?? DEFAULT_CHAIN;
    this.clock = opts.clock ?? systemClock;
  }

  /** On a driver of its own, closed with the key store and audit log. */
  static async connect(opts: Neo4jConnectionOptions & Omit<Neo4jGovernanceOptions, 'closesSessions'>): Promise<Neo4jGovernance> {
    return new Neo4jGovernance(await Neo4jSessions.connect(opts), { ...opts, closesSessions: true });
  }

  override async migrate(): Promise<void> {
    await super.migrate();
    await numberProjectEntries(this.db);
  }

  async countKeys(): Promise<number> {
    return this.db.read('counting keys', async (tx) => {
      const r = await tx.run('MATCH (k:ApiKeyRecord) RETURN count(k) AS n');
      return toNumber(r.records[0]!.get('n'));
    });
  }

  async createKey(k: StoredApiKey, audit?: AuditDraft<StoredApiKey>): Promise<void> {
    const entries = await this.db.write('creating a key', async (tx) => {
      await tx.run(
        `CREATE (:ApiKeyRecord {id: $id, name: $name, role: $role, promote: $promote, project: $project, instanceAdmin: $instanceAdmin, secretHash: $secretHash,
                                createdAt: $createdAt, createdBy: $createdBy, expiresAt: $expiresAt, revokedAt: null, revokedBy: null})`,
        {
          id: k.id,
          name: k.name,
          role: k.role,
          promote: k.promote,
          project: k.project,
          instanceAdmin: k.instanceAdmin,
          secretHash: k.secretHash,
          createdAt: millis(k.createdAt),
          createdBy: k.createdBy,
          expiresAt: millisOrNull(k.expiresAt),
        },
      );
      return appendDrafted(tx, this.chain, this.clock, audit, k);
    });
    audit?.committed(entries);
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

  async listProjects(): Promise<string[]> {
    return this.db.read('listing projects', async (tx) => {
      const r = await tx.run('MATCH (k:ApiKeyRecord) RETURN DISTINCT k.project AS project ORDER BY project');
      return r.records.map((rec) => rec.get('project') as string);
    });
  }

  async listKeysCreatedBy(createdBy: string): Promise<StoredApiKey[]> {
    return this.db.read('listing keys', async (tx) => {
      const r = await tx.run(`MATCH (k:ApiKeyRecord {createdBy: $createdBy}) RETURN ${keyMap('k')} AS k ORDER BY k.createdAt, k.id`, { createdBy });
      return r.records.map((rec) => toKey(rec.get('k') as KeyValue));
    });
  }

  async revokeKey(id: string, at: Date, by: string, audit?: AuditDraft<StoredApiKey>): Promise<boolean> {
    const entries = await this.db.write('revoking a key', async (tx) => {
      const r = await tx.run(
        `MATCH (k:ApiKeyRecord {id: $id})
         WHERE k.revokedAt IS NULL
         SET k.revokedAt = $at, k.revokedBy = $by
         RETURN ${keyMap('k')} AS k`,
        { id, at: millis(at), by },
      );
      const revoked = r.records[0]?.get('k') as KeyValue | undefined;
      return revoked ? appendDrafted(tx, this.chain, this.clock, audit, toKey(revoked)) : null;
    });
    if (entries === null) return false;
    audit?.committed(entries);
    return true;
  }

  async getRetention(project: string): Promise<SpanRetention | null> {
    return this.db.read('reading the retention', async (tx) => {
      const r = await tx.run(`MATCH (r:SpanRetentionRecord {project: $project}) RETURN ${retentionMap('r')} AS r`, { project });
      const v = r.records[0]?.get('r') as RetentionValue | undefined;
      return v ? toRetention(v) : null;
    });
  }

  async listRetention(): Promise<SpanRetention[]> {
    return this.db.read('reading the retention', async (tx) => {
      const r = await tx.run(`MATCH (r:SpanRetentionRecord) RETURN ${retentionMap('r')} AS r ORDER BY r.project`);
      return r.records.map((rec) => toRetention(rec.get('r') as RetentionValue));
    });
  }

  async setRetention(setting: SpanRetention, audit?: AuditDraft<SpanRetentionChange>): Promise<SpanRetentionChange> {
    // The whole function is the transaction: a retry reads what held before again.
    const { change, entries } = await this.db.write('setting the retention', async (tx) => {
      const r = await tx.run(
        `MERGE (r:SpanRetentionRecord {project: $project})
         WITH r, CASE WHEN r.changedAt IS NULL THEN null ELSE ${retentionMap('r')} END AS before
         SET r.spanDays = $spanDays, r.changedAt = $changedAt, r.changedBy = $changedBy
         RETURN before`,
        { project: setting.project, spanDays: setting.spanDays === null ? null : toInt(setting.spanDays), changedAt: millis(setting.changedAt), changedBy: setting.changedBy },
      );
      const before = r.records[0]?.get('before') as RetentionValue | null | undefined;
      const change: SpanRetentionChange = { before: before ? toRetention(before) : null, after: setting };
      return { change, entries: await appendDrafted(tx, this.chain, this.clock, audit, change) };
    });
    audit?.committed(entries);
    return change;
  }

  async append(entry: NewAuditEntry, hashOf: AuditHashOf): Promise<AuditEntry> {
    // The whole function is the transaction: should it be retried (a deadlock, a lost leader), the
    // head's bump is rolled back with the record, and the seq, the previous entry and the time are
    // all taken again.
    return this.db.write('appending to the audit log', async (tx) => (await appendAuditEntries(tx, this.chain, this.clock, [entry], hashOf))[0]!);
  }

  list(f: AuditFilter): Promise<AuditEntry[]> {
    return listAuditEntries(this.db, this.chain, f);
  }

  scan(fromSeq: number, limit: number): Promise<AuditEntry[]> {
    return scanAuditEntries(this.db, this.chain, fromSeq, limit);
  }
}
