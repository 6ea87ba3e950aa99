import { unknownSourcesError } from '../../domain/origin.ts';
import type { AliasMove, AliasState, PromptVersion } from '../../domain/prompt.ts';
import { ConflictError } from '../../common/errors.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import type { AuditDraft } from '../governance.ts';
import type { NewAliasMove, NewVersion, PromptSummary, Registry, RegistryHistory, VersionPage } from '../registry.ts';
import { nextInSequence } from '../values.ts';
import { appendDrafted, AUDIT_SCHEMA_STATEMENTS, DEFAULT_CHAIN } from './neo4j-audit.ts';
import { Neo4jSessions, type Neo4jConnectionOptions } from './neo4j-sessions.ts';
import { Neo4jStore, type Neo4jSchema, type Neo4jStoreOptions } from './neo4j-store.ts';
import { moveMap, toMove, toVersion, versionMap, type MoveValue, type VersionValue } from './neo4j-registry-values.ts';
import { millisOrNull, toDate, toInt, toNumber } from './neo4j-values.ts';

// The prompt registry on Neo4j. Its nodes have labels of their own, apart from the lineage
// graph's :Entity nodes:
//   (:RegistryPrompt {project, name})                 one per prompt, holds the version counter
//   (:RegistryVersion {project, name, version})       one per version, never changed (its origin: JSON text, absent on older ones)
//   (:RegistryAlias {project, name, alias})           one per alias, holds the move counter
//   (:AliasMoveRecord {project, name, alias, seq})    one per move, never changed
// each unique by the properties shown. A number (version or move) comes from its counter node:
// the SET that bumps the counter reads the property it writes, so Cypher takes the node's write
// lock before reading, and concurrent transactions on one prompt (or alias) queue there. The
// counter and the new node are in one transaction, so a rolled-back or retried attempt leaves no
// gap; the uniqueness constraints back it up. Nothing here sets a property of a version or a move
// after creating it, nor deletes one. A change handed an AuditDraft appends its audit entries
// (neo4j-audit.ts) in its own transaction, after its counter: the audit head is the last lock taken.
//
// Values are always parameters. Integers (numbers, milliseconds, LIMIT/SKIP) go as neo4j.int, as
// the driver sends a plain JS number as a float; templates and alias targets are JSON text.

const SCHEMA: Neo4jSchema = {
  what: 'creating registry constraints',
  statements: [
    'CREATE CONSTRAINT promptline_registry_prompt_identity IF NOT EXISTS FOR (p:RegistryPrompt) REQUIRE (p.project, p.name) IS UNIQUE',
    'CREATE CONSTRAINT promptline_registry_version_identity IF NOT EXISTS FOR (v:RegistryVersion) REQUIRE (v.project, v.name, v.version) IS UNIQUE',
    'CREATE CONSTRAINT promptline_registry_alias_identity IF NOT EXISTS FOR (a:RegistryAlias) REQUIRE (a.project, a.name, a.alias) IS UNIQUE',
    'CREATE CONSTRAINT promptline_registry_alias_move_identity IF NOT EXISTS FOR (m:AliasMoveRecord) REQUIRE (m.project, m.name, m.alias, m.seq) IS UNIQUE',
    'CREATE INDEX promptline_registry_version_by_hash IF NOT EXISTS FOR (v:RegistryVersion) ON (v.project, v.templateHash)',
    ...AUDIT_SCHEMA_STATEMENTS,
  ],
  // Registrations of one prompt queue on its counter; concurrent first registrations may
  // deadlock on the new node's index entry, which is retried for up to this long.
  maxRetryMs: 10_000,
};

export interface Neo4jRegistryOptions extends Neo4jStoreOptions {
  /** Stamps versions and alias moves (and their audit entries). */
  clock?: Clock;
  /** The audit chain changes are recorded in (the key store's and audit log's `chain`). */
  auditChain?: string;
}

export class Neo4jRegistry extends Neo4jStore implements Registry, RegistryHistory {
  private readonly clock: Clock;
  private readonly chain: string;

  constructor(sessions: Neo4jSessions, opts: Neo4jRegistryOptions = {}) {
    super(sessions, SCHEMA, opts);
    this.clock = opts.clock ?? systemClock;
    this.chain = opts.auditChain ?? DEFAULT_CHAIN;
  }

  /** On a driver of its own, closed with the registry. */
  static async connect(opts: Neo4jConnectionOptions & Omit<Neo4jRegistryOptions, 'closesSessions'>): Promise<Neo4jRegistry> {
    return new Neo4jRegistry(await Neo4jSessions.connect(opts), { ...opts, closesSessions: true });
  }

  async registerVersion(projectId: string, v: NewVersion, audit?: AuditDraft<PromptVersion>): Promise<PromptVersion> {
    // The whole function is the transaction: should it be retried (a deadlock, a lost
    // leader), the counter's bump is rolled back with the version and a new number is drawn.
    const [stored, entries] = await this.db.write('registering a prompt version', async (tx) => {
      const now = this.clock.now().getTime();
      const origin = v.origin ?? null;
      if (origin && origin.derivedFrom.length > 0) {
        const found = await tx.run(
          `UNWIND $refs AS r
           OPTIONAL MATCH (s:RegistryVersion {project: $project, name: r.name, version: r.version})
           RETURN r.name AS name, r.version AS version, s IS NOT NULL AS found`,
          { project: projectId, refs: origin.derivedFrom.map((r) => ({ name: r.name, version: toInt(r.version) })) },
        );
        const missing = found.records.filter((rec) => rec.get('found') !== true).map((rec) => ({ name: rec.get('name') as string, version: toNumber(rec.get('version')) }));
        if (missing.length > 0) throw unknownSourcesError(missing);
      }
      const bumped = await tx.run(
        `MERGE (p:RegistryPrompt {project: $project, name: $name})
           ON CREATE SET p.lastVersion = 0, p.createdAt = $now
         SET p.lastVersion = p.lastVersion + 1, p.updatedAt = $now
         RETURN p.lastVersion AS version`,
        { project: projectId, name: v.name, now: toInt(now) },
      );
      const version = toNumber(bumped.records[0]!.get('version'));
      const base = v.baseVersion ?? (version > 1 ? version - 1 : null);
      await tx.run(
        `CREATE (:RegistryVersion {project: $project, name: $name, version: $version, template: $template, templateHash: $templateHash,
                                   commitMessage: $commitMessage, author: $author, tags: $tags, baseVersion: $baseVersion, createdAt: $now, origin: $origin})`,
        {
          project: projectId,
          name: v.name,
          version: toInt(version),
          template: JSON.stringify(v.template),
          templateHash: v.templateHash,
          commitMessage: v.commitMessage,
          author: v.author,
          tags: [...v.tags],
          baseVersion: base === null ? null : toInt(base),
          now: toInt(now),
          origin: origin === null ? null : JSON.stringify(origin),
        },
      );
      const stored: PromptVersion = { name: v.name, version, template: v.template, templateHash: v.templateHash, commitMessage: v.commitMessage, author: v.author, tags: v.tags, baseVersion: base, origin, createdAt: new Date(now) };
      return [stored, await appendDrafted(tx, this.chain, this.clock, audit, stored)] as const;
    });
    audit?.committed(entries);
    return stored;
  }

  async getVersion(projectId: string, name: string, version: number): Promise<PromptVersion | null> {
    return this.db.read('reading a prompt version', async (tx) => {
      const r = await tx.run(`MATCH (v:RegistryVersion {project: $project, name: $name, version: $version}) RETURN ${versionMap('v')} AS v`, {
        project: projectId,
        name,
        version: toInt(version),
      });
      const v = r.records[0]?.get('v') as VersionValue | undefined;
      return v ? toVersion(v) : null;
    });
  }

  async latestVersion(projectId: string, name: string): Promise<PromptVersion | null> {
    return this.db.read('reading the latest prompt version', async (tx) => {
      const r = await tx.run(`MATCH (v:RegistryVersion {project: $project, name: $name}) RETURN ${versionMap('v')} AS v ORDER BY v.version DESC LIMIT 1`, {
        project: projectId,
        name,
      });
      const v = r.records[0]?.get('v') as VersionValue | undefined;
      return v ? toVersion(v) : null;
    });
  }

  async listVersions(projectId: string, name: string, page: { limit: number; offset: number }): Promise<VersionPage> {
    return this.db.read('listing prompt versions', async (tx) => {
      const rows = await tx.run(
        `MATCH (v:RegistryVersion {project: $project, name: $name}) RETURN ${versionMap('v')} AS v ORDER BY v.version DESC SKIP $offset LIMIT $limit`,
        { project: projectId, name, offset: toInt(page.offset), limit: toInt(page.limit) },
      );
      const total = await tx.run('MATCH (v:RegistryVersion {project: $project, name: $name}) RETURN count(v) AS n', { project: projectId, name });
      return { versions: rows.records.map((rec) => toVersion(rec.get('v') as VersionValue)), total: toNumber(total.records[0]!.get('n')) };
    });
  }

  async listPrompts(projectId: string, page: { limit: number; offset: number }): Promise<PromptSummary[]> {
    return this.db.read('listing prompts', async (tx) => {
      const r = await tx.run(
        `MATCH (p:RegistryPrompt {project: $project})
         WITH p ORDER BY p.name SKIP $offset LIMIT $limit
         RETURN p.name AS name, p.lastVersion AS lastVersion, p.updatedAt AS updatedAt,
                COLLECT { MATCH (a:RegistryAlias {project: p.project, name: p.name}) RETURN a.alias ORDER BY a.alias } AS aliases
         ORDER BY name`,
        { project: projectId, offset: toInt(page.offset), limit: toInt(page.limit) },
      );
      return r.records.map((rec) => ({
        name: rec.get('name') as string,
        latestVersion: toNumber(rec.get('lastVersion')),
        versions: toNumber(rec.get('lastVersion')),
        aliases: rec.get('aliases') as string[],
        updatedAt: toDate(rec.get('updatedAt')),
      }));
    });
  }

  async listProjects(): Promise<string[]> {
    return this.db.read('listing projects', async (tx) => {
      const r = await tx.run('MATCH (p:RegistryPrompt) RETURN DISTINCT p.project AS project ORDER BY project');
      return r.records.map((rec) => rec.get('project') as string);
    });
  }

  async findByTemplateHash(projectId: string, templateHash: string): Promise<PromptVersion[]> {
    return this.db.read('finding versions by template hash', async (tx) => {
      const r = await tx.run(
        `MATCH (v:RegistryVersion {project: $project, templateHash: $templateHash}) RETURN ${versionMap('v')} AS v ORDER BY v.name, v.version`,
        { project: projectId, templateHash },
      );
      return r.records.map((rec) => toVersion(rec.get('v') as VersionValue));
    });
  }

  async moveAlias(projectId: string, move: NewAliasMove, audit?: AuditDraft<AliasMove>): Promise<AliasMove> {
    const [stored, entries] = await this.db.write('moving an alias', async (tx) => {
      // Bumping the alias's counter takes its write lock: moves of one alias queue here, and the
      // previous move read below is the latest there is until this transaction ends.
      const head = await tx.run(
        `MERGE (a:RegistryAlias {project: $project, name: $name, alias: $alias})
           ON CREATE SET a.lastSeq = 0
         SET a.lastSeq = a.lastSeq + 1
         WITH a
         OPTIONAL MATCH (m:AliasMoveRecord {project: $project, name: $name, alias: $alias, seq: a.lastSeq - 1})
         RETURN a.lastSeq AS seq, m.at AS lastAt, m.toTarget AS lastTo`,
        { project: projectId, name: move.name, alias: move.alias },
      );
      const rec = head.records[0]!;
      const seq = toNumber(rec.get('seq'));
      const lastSeq = seq - 1;
      if (move.expectSeq !== undefined && move.expectSeq !== lastSeq) {
        // Thrown inside the transaction, so the counter's bump is rolled back with it.
        throw new ConflictError(`alias ${move.alias} of ${move.name} moved meanwhile (now at move ${lastSeq}, expected ${move.expectSeq})`);
      }
      const lastAt = rec.get('lastAt') as number | null;
      const at = nextInSequence(this.clock, lastAt === null ? null : toNumber(lastAt));
      const row: MoveValue = {
        name: move.name,
        alias: move.alias,
        seq,
        at,
        actor: move.actor,
        reason: move.reason,
        fromTarget: (rec.get('lastTo') as string | null) ?? null,
        toTarget: JSON.stringify(move.to),
        rollback: move.rollback,
        governance: move.governance ? JSON.stringify(move.governance) : null,
      };
      await tx.run(
        `CREATE (:AliasMoveRecord {project: $project, name: $name, alias: $alias, seq: $seq, at: $at, actor: $actor, reason: $reason,
                                   fromTarget: $fromTarget, toTarget: $toTarget, rollback: $rollback, governance: $governance})`,
        { ...row, project: projectId, seq: toInt(row.seq), at: toInt(row.at) },
      );
      const stored = toMove(row);
      return [stored, await appendDrafted(tx, this.chain, this.clock, audit, stored)] as const;
    });
    audit?.committed(entries);
    return stored;
  }

  async getAlias(projectId: string, name: string, alias: string, at?: Date): Promise<AliasState | null> {
    return this.db.read('reading an alias', async (tx) => {
      const r = await tx.run(
        `MATCH (m:AliasMoveRecord {project: $project, name: $name, alias: $alias})
         WHERE $at IS NULL OR m.at <= $at
         RETURN ${moveMap('m')} AS m ORDER BY m.seq DESC LIMIT 1`,
        { project: projectId, name, alias, at: millisOrNull(at) },
      );
      const m = r.records[0]?.get('m') as MoveValue | undefined;
      if (!m) return null;
      const since = toMove(m);
      return { name, alias, target: since.to, since };
    });
  }

  async aliasHistory(projectId: string, name: string, alias: string): Promise<AliasMove[]> {
    return this.db.read('reading alias history', async (tx) => {
      const r = await tx.run(`MATCH (m:AliasMoveRecord {project: $project, name: $name, alias: $alias}) RETURN ${moveMap('m')} AS m ORDER BY m.seq`, {
        project: projectId,
        name,
        alias,
      });
      return r.records.map((rec) => toMove(rec.get('m') as MoveValue));
    });
  }

  async listAliases(projectId: string, name: string): Promise<AliasState[]> {
    return this.db.read('listing aliases', async (tx) => {
      const r = await tx.run(
        `MATCH (m:AliasMoveRecord {project: $project, name: $name})
         WITH m.alias AS alias, max(m.seq) AS last
         MATCH (m:AliasMoveRecord {project: $project, name: $name, alias: alias, seq: last})
         RETURN ${moveMap('m')} AS m ORDER BY alias`,
        { project: projectId, name },
      );
      return r.records.map((rec) => {
        const since = toMove(rec.get('m') as MoveValue);
        return { name, alias: since.alias, target: since.to, since };
      });
    });
  }

  async versionsAfter(projectId: string, after: { name: string; version: number } | null, limit: number): Promise<PromptVersion[]> {
    return this.db.read('reading the registry history', async (tx) => {
      const r = await tx.run(
        `MATCH (v:RegistryVersion {project: $project})
         WHERE v.name > $name OR (v.name = $name AND v.version > $version)
         RETURN ${versionMap('v')} AS v ORDER BY v.name, v.version LIMIT $limit`,
        { project: projectId, name: after?.name ?? '', version: toInt(after?.version ?? 0), limit: toInt(limit) },
      );
      return r.records.map((rec) => toVersion(rec.get('v') as VersionValue));
    });
  }

  async movesAfter(projectId: string, after: { name: string; alias: string; seq: number } | null, limit: number): Promise<AliasMove[]> {
    return this.db.read('reading the registry history', async (tx) => {
      const r = await tx.run(
        `MATCH (m:AliasMoveRecord {project: $project})
         WHERE m.name > $name OR (m.name = $name AND (m.alias > $alias OR (m.alias = $alias AND m.seq > $seq)))
         RETURN ${moveMap('m')} AS m ORDER BY m.name, m.alias, m.seq LIMIT $limit`,
        { project: projectId, name: after?.name ?? '', alias: after?.alias ?? '', seq: toInt(after?.seq ?? 0), limit: toInt(limit) },
      );
      return r.records.map((rec) => toMove(rec.get('m') as MoveValue));
    });
  }
}
