import neo4j, { type ManagedTransaction } from 'neo4j-driver';
import type { AliasMove, AliasState, AliasTarget, PromptTemplate, PromptVersion } from '../../domain/prompt.ts';
import { ConflictError } from '../../common/errors.ts';
import type { NewAliasMove, NewVersion, PromptSummary, Registry, VersionPage } from '../registry.ts';
import type { PingResult } from '../lifecycle.ts';
import { Neo4jSessions } from './neo4j-sessions.ts';

// The prompt registry on Neo4j. Its nodes have labels of their own, apart from the lineage
// graph's :Entity nodes:
//   (:RegistryPrompt {project, name})                 one per prompt, holds the version counter
//   (:RegistryVersion {project, name, version})       one per version, never changed
//   (:RegistryAlias {project, name, alias})           one per alias, holds the move counter
//   (:AliasMoveRecord {project, name, alias, seq})    one per move, never changed
// each unique by the properties shown. A number (version or move) comes from its counter node:
// the SET that bumps the counter reads the property it writes, so Cypher takes the node's write
// lock before reading, and concurrent transactions on one prompt (or alias) queue there. The
// counter and the new node are in one transaction, so a rolled-back or retried attempt leaves no
// gap; the uniqueness constraints back it up. Nothing here sets a property of a version or a move
// after creating it, nor deletes one.
//
// Values are always parameters. Integers (numbers, milliseconds, LIMIT/SKIP) go as neo4j.int, as
// the driver sends a plain JS number as a float; templates and alias targets are JSON text.

const CONSTRAINTS = [
  'CREATE CONSTRAINT promptline_registry_prompt_identity IF NOT EXISTS FOR (p:RegistryPrompt) REQUIRE (p.project, p.name) IS UNIQUE',
  'CREATE CONSTRAINT promptline_registry_version_identity IF NOT EXISTS FOR (v:RegistryVersion) REQUIRE (v.project, v.name, v.version) IS UNIQUE',
  'CREATE CONSTRAINT promptline_registry_alias_identity IF NOT EXISTS FOR (a:RegistryAlias) REQUIRE (a.project, a.name, a.alias) IS UNIQUE',
  'CREATE CONSTRAINT promptline_registry_alias_move_identity IF NOT EXISTS FOR (m:AliasMoveRecord) REQUIRE (m.project, m.name, m.alias, m.seq) IS UNIQUE',
  'CREATE INDEX promptline_registry_version_by_hash IF NOT EXISTS FOR (v:RegistryVersion) ON (v.project, v.templateHash)',
];

interface VersionValue {
  name: string;
  version: number;
  template: string;
  templateHash: string;
  commitMessage: string;
  author: string;
  tags: string[];
  baseVersion: number | null;
  createdAt: number;
}

interface MoveValue {
  name: string;
  alias: string;
  seq: number;
  at: number;
  actor: string;
  reason: string;
  fromTarget: string | null;
  toTarget: string;
  rollback: boolean;
}

const VERSION_FIELDS = ['name', 'version', 'template', 'templateHash', 'commitMessage', 'author', 'tags', 'baseVersion', 'createdAt'];
const MOVE_FIELDS = ['name', 'alias', 'seq', 'at', 'actor', 'reason', 'fromTarget', 'toTarget', 'rollback'];
const projection = (fields: string[]) => (variable: string) => `${variable} {${fields.map((f) => `.${f}`).join(', ')}}`;
const versionMap = projection(VERSION_FIELDS);
const moveMap = projection(MOVE_FIELDS);

const num = (v: unknown): number => (neo4j.isInt(v) ? (v as { toNumber(): number }).toNumber() : Number(v));
const int = (n: number) => neo4j.int(n);

const toVersion = (r: VersionValue): PromptVersion => ({
  name: r.name,
  version: num(r.version),
  template: JSON.parse(r.template) as PromptTemplate,
  templateHash: r.templateHash,
  commitMessage: r.commitMessage,
  author: r.author,
  tags: r.tags ?? [],
  baseVersion: r.baseVersion === null || r.baseVersion === undefined ? null : num(r.baseVersion),
  createdAt: new Date(num(r.createdAt)),
});

const toMove = (r: MoveValue): AliasMove => ({
  name: r.name,
  alias: r.alias,
  seq: num(r.seq),
  at: new Date(num(r.at)),
  actor: r.actor,
  reason: r.reason,
  from: r.fromTarget === null || r.fromTarget === undefined ? null : (JSON.parse(r.fromTarget) as AliasTarget),
  to: JSON.parse(r.toTarget) as AliasTarget,
  rollback: r.rollback === true,
});

export interface Neo4jRegistryOptions {
  url: string;
  user: string;
  password: string;
  /** A Neo4j database name; the server's default when not given. */
  database?: string;
}

export class Neo4jRegistry implements Registry {
  readonly backend: string;
  private readonly db: Neo4jSessions;

  private constructor(db: Neo4jSessions, opts: Neo4jRegistryOptions) {
    this.db = db;
    this.backend = `neo4j (${opts.url})`;
  }

  /** Connects and checks the server answers and takes the credentials; a clear ConfigError if not. */
  static async connect(opts: Neo4jRegistryOptions): Promise<Neo4jRegistry> {
    // Registrations of one prompt queue on its counter; concurrent first registrations may
    // deadlock on the new node's index entry, which the driver retries for up to this long.
    return new Neo4jRegistry(await Neo4jSessions.connect(opts, 10_000), opts);
  }

  private write<T>(what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.db.write(what, work);
  }

  private read<T>(what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.db.read(what, work);
  }

  async migrate(): Promise<void> {
    await this.write('creating registry constraints', async (tx) => {
      for (const statement of CONSTRAINTS) await tx.run(statement);
    });
  }

  async registerVersion(projectId: string, v: NewVersion): Promise<PromptVersion> {
    // The whole function is the transaction: should the driver retry it (a deadlock, a lost
    // leader), the counter's bump is rolled back with the version and a new number is drawn.
    return this.write('registering a prompt version', async (tx) => {
      const now = Date.now();
      const bumped = await tx.run(
        `MERGE (p:RegistryPrompt {project: $project, name: $name})
           ON CREATE SET p.lastVersion = 0, p.createdAt = $now
         SET p.lastVersion = p.lastVersion + 1, p.updatedAt = $now
         RETURN p.lastVersion AS version`,
        { project: projectId, name: v.name, now: int(now) },
      );
      const version = num(bumped.records[0]!.get('version'));
      const base = v.baseVersion ?? (version > 1 ? version - 1 : null);
      await tx.run(
        `CREATE (:RegistryVersion {project: $project, name: $name, version: $version, template: $template, templateHash: $templateHash,
                                   commitMessage: $commitMessage, author: $author, tags: $tags, baseVersion: $baseVersion, createdAt: $now})`,
        {
          project: projectId,
          name: v.name,
          version: int(version),
          template: JSON.stringify(v.template),
          templateHash: v.templateHash,
          commitMessage: v.commitMessage,
          author: v.author,
          tags: [...v.tags],
          baseVersion: base === null ? null : int(base),
          now: int(now),
        },
      );
      return { name: v.name, version, template: v.template, templateHash: v.templateHash, commitMessage: v.commitMessage, author: v.author, tags: v.tags, baseVersion: base, createdAt: new Date(now) };
    });
  }

  async getVersion(projectId: string, name: string, version: number): Promise<PromptVersion | null> {
    return this.read('reading a prompt version', async (tx) => {
      const r = await tx.run(`MATCH (v:RegistryVersion {project: $project, name: $name, version: $version}) RETURN ${versionMap('v')} AS v`, {
        project: projectId,
        name,
        version: int(version),
      });
      const v = r.records[0]?.get('v') as VersionValue | undefined;
      return v ? toVersion(v) : null;
    });
  }

  async latestVersion(projectId: string, name: string): Promise<PromptVersion | null> {
    return this.read('reading the latest prompt version', async (tx) => {
      const r = await tx.run(`MATCH (v:RegistryVersion {project: $project, name: $name}) RETURN ${versionMap('v')} AS v ORDER BY v.version DESC LIMIT 1`, {
        project: projectId,
        name,
      });
      const v = r.records[0]?.get('v') as VersionValue | undefined;
      return v ? toVersion(v) : null;
    });
  }

  async listVersions(projectId: string, name: string, page: { limit: number; offset: number }): Promise<VersionPage> {
    return this.read('listing prompt versions', async (tx) => {
      const rows = await tx.run(
        `MATCH (v:RegistryVersion {project: $project, name: $name}) RETURN ${versionMap('v')} AS v ORDER BY v.version DESC SKIP $offset LIMIT $limit`,
        { project: projectId, name, offset: int(page.offset), limit: int(page.limit) },
      );
      const total = await tx.run('MATCH (v:RegistryVersion {project: $project, name: $name}) RETURN count(v) AS n', { project: projectId, name });
      return { versions: rows.records.map((rec) => toVersion(rec.get('v') as VersionValue)), total: num(total.records[0]!.get('n')) };
    });
  }

  async listPrompts(projectId: string, page: { limit: number; offset: number }): Promise<PromptSummary[]> {
    return this.read('listing prompts', async (tx) => {
      const r = await tx.run(
        `MATCH (p:RegistryPrompt {project: $project})
         WITH p ORDER BY p.name SKIP $offset LIMIT $limit
         RETURN p.name AS name, p.lastVersion AS lastVersion, p.updatedAt AS updatedAt,
                COLLECT { MATCH (a:RegistryAlias {project: p.project, name: p.name}) RETURN a.alias ORDER BY a.alias } AS aliases
         ORDER BY name`,
        { project: projectId, offset: int(page.offset), limit: int(page.limit) },
      );
      return r.records.map((rec) => ({
        name: rec.get('name') as string,
        latestVersion: num(rec.get('lastVersion')),
        versions: num(rec.get('lastVersion')),
        aliases: rec.get('aliases') as string[],
        updatedAt: new Date(num(rec.get('updatedAt'))),
      }));
    });
  }

  async findByTemplateHash(projectId: string, templateHash: string): Promise<PromptVersion[]> {
    return this.read('finding versions by template hash', async (tx) => {
      const r = await tx.run(
        `MATCH (v:RegistryVersion {project: $project, templateHash: $templateHash}) RETURN ${versionMap('v')} AS v ORDER BY v.name, v.version`,
        { project: projectId, templateHash },
      );
      return r.records.map((rec) => toVersion(rec.get('v') as VersionValue));
    });
  }

  async moveAlias(projectId: string, move: NewAliasMove): Promise<AliasMove> {
    return this.write('moving an alias', async (tx) => {
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
      const seq = num(rec.get('seq'));
      const lastSeq = seq - 1;
      if (move.expectSeq !== undefined && move.expectSeq !== lastSeq) {
        // Thrown inside the transaction, so the counter's bump is rolled back with it.
        throw new ConflictError(`alias ${move.alias} of ${move.name} moved meanwhile (now at move ${lastSeq}, expected ${move.expectSeq})`);
      }
      const lastAt = rec.get('lastAt') as number | null;
      // Moves of one alias are ordered in time as in sequence, even if the clock steps back.
      const at = Math.max(Date.now(), lastAt === null ? 0 : num(lastAt));
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
      };
      await tx.run(
        `CREATE (:AliasMoveRecord {project: $project, name: $name, alias: $alias, seq: $seq, at: $at, actor: $actor, reason: $reason,
                                   fromTarget: $fromTarget, toTarget: $toTarget, rollback: $rollback})`,
        { ...row, project: projectId, seq: int(row.seq), at: int(row.at) },
      );
      return toMove(row);
    });
  }

  async getAlias(projectId: string, name: string, alias: string, at?: Date): Promise<AliasState | null> {
    return this.read('reading an alias', async (tx) => {
      const r = await tx.run(
        `MATCH (m:AliasMoveRecord {project: $project, name: $name, alias: $alias})
         WHERE $at IS NULL OR m.at <= $at
         RETURN ${moveMap('m')} AS m ORDER BY m.seq DESC LIMIT 1`,
        { project: projectId, name, alias, at: at === undefined ? null : int(at.getTime()) },
      );
      const m = r.records[0]?.get('m') as MoveValue | undefined;
      if (!m) return null;
      const since = toMove(m);
      return { name, alias, target: since.to, since };
    });
  }

  async aliasHistory(projectId: string, name: string, alias: string): Promise<AliasMove[]> {
    return this.read('reading alias history', async (tx) => {
      const r = await tx.run(`MATCH (m:AliasMoveRecord {project: $project, name: $name, alias: $alias}) RETURN ${moveMap('m')} AS m ORDER BY m.seq`, {
        project: projectId,
        name,
        alias,
      });
      return r.records.map((rec) => toMove(rec.get('m') as MoveValue));
    });
  }

  async listAliases(projectId: string, name: string): Promise<AliasState[]> {
    return this.read('listing aliases', async (tx) => {
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

  ping(): Promise<PingResult> {
    return this.db.ping();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
