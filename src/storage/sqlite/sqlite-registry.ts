import { unknownSourcesError, type VersionOrigin } from '../../domain/origin.ts';
import type { AliasMove, AliasState, AliasTarget, MoveGovernance, PromptTemplate, PromptVersion } from '../../domain/prompt.ts';
import { ConflictError } from '../../common/errors.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import type { AuditDraft } from '../governance.ts';
import type { NewAliasMove, NewVersion, PromptSummary, Registry, RegistryHistory, VersionPage } from '../registry.ts';
import { jsonOrNull, nextInSequence } from '../values.ts';
import { appendDrafted, AUDIT_SCHEMA } from './sqlite-audit.ts';
import type { SchemaComponent, SharedDatabase } from './sqlite-db.ts';
import { SqliteStore } from './sqlite-store.ts';
import { fromFlag, toFlag } from './sqlite-values.ts';

// The prompt registry in SQLite. Versions and alias moves are append-only: triggers refuse any
// UPDATE or DELETE of them, so even a bug above cannot rewrite history. A version's number comes
// from its prompt's counter, read and bumped inside one IMMEDIATE transaction. The file holds the
// audit log too (and the keys, a SharedDatabase with SqliteGovernance): a change handed an
// AuditDraft appends its entries in that same transaction.

const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE prompts (
       project TEXT NOT NULL,
       name TEXT NOT NULL,
       last_version INTEGER NOT NULL,
       created_at INTEGER NOT NULL,
       updated_at INTEGER NOT NULL,
       PRIMARY KEY (project, name)
     ) WITHOUT ROWID`,
    `CREATE TABLE prompt_versions (
       project TEXT NOT NULL,
       name TEXT NOT NULL,
       version INTEGER NOT NULL,
       template TEXT NOT NULL,
       template_hash TEXT NOT NULL,
       commit_message TEXT NOT NULL,
       author TEXT NOT NULL,
       tags TEXT NOT NULL,
       base_version INTEGER,
       created_at INTEGER NOT NULL,
       PRIMARY KEY (project, name, version)
     ) WITHOUT ROWID`,
    `CREATE INDEX prompt_versions_by_hash ON prompt_versions (project, template_hash)`,
    `CREATE TRIGGER prompt_versions_no_update BEFORE UPDATE ON prompt_versions BEGIN SELECT RAISE(ABORT, 'prompt versions are immutable'); END`,
    `CREATE TRIGGER prompt_versions_no_delete BEFORE DELETE ON prompt_versions BEGIN SELECT RAISE(ABORT, 'prompt versions are immutable'); END`,
    `CREATE TABLE alias_moves (
       project TEXT NOT NULL,
       name TEXT NOT NULL,
       alias TEXT NOT NULL,
       seq INTEGER NOT NULL,
       at INTEGER NOT NULL,
       actor TEXT NOT NULL,
       reason TEXT NOT NULL,
       from_target TEXT,
       to_target TEXT NOT NULL,
       rollback INTEGER NOT NULL,
       PRIMARY KEY (project, name, alias, seq)
     ) WITHOUT ROWID`,
    `CREATE INDEX alias_moves_by_time ON alias_moves (project, name, alias, at)`,
    `CREATE TRIGGER alias_moves_no_update BEFORE UPDATE ON alias_moves BEGIN SELECT RAISE(ABORT, 'alias history is append-only'); END`,
    `CREATE TRIGGER alias_moves_no_delete BEFORE DELETE ON alias_moves BEGIN SELECT RAISE(ABORT, 'alias history is append-only'); END`,
  ],
  // Where a version came from (JSON of a VersionOrigin), written with it: adding a column updates
  // no row, so the triggers above keep versions as they were; older versions read as null.
  ['ALTER TABLE prompt_versions ADD COLUMN origin TEXT'],
  // The proposal a move merged and any override (JSON of a MoveGovernance); null on other moves.
  ['ALTER TABLE alias_moves ADD COLUMN governance TEXT'],
];

interface VersionRow {
  name: string;
  version: number;
  template: string;
  template_hash: string;
  commit_message: string;
  author: string;
  tags: string;
  base_version: number | null;
  created_at: number;
  origin: string | null;
}

interface MoveRow {
  name: string;
  alias: string;
  seq: number;
  at: number;
  actor: string;
  reason: string;
  from_target: string | null;
  to_target: string;
  rollback: number;
  governance: string | null;
}

const toVersion = (r: VersionRow): PromptVersion => ({
  name: r.name,
  version: r.version,
  template: JSON.parse(r.template) as PromptTemplate,
  templateHash: r.template_hash,
  commitMessage: r.commit_message,
  author: r.author,
  tags: JSON.parse(r.tags) as string[],
  baseVersion: r.base_version,
  origin: jsonOrNull(r.origin) as VersionOrigin | null,
  createdAt: new Date(r.created_at),
});

const toMove = (r: MoveRow): AliasMove => ({
  name: r.name,
  alias: r.alias,
  seq: r.seq,
  at: new Date(r.at),
  actor: r.actor,
  reason: r.reason,
  from: jsonOrNull(r.from_target) as AliasTarget | null,
  to: JSON.parse(r.to_target) as AliasTarget,
  rollback: fromFlag(r.rollback),
  ...(r.governance ? { governance: JSON.parse(r.governance) as MoveGovernance } : {}),
});

/** A file of the registry alone (registry.sqlite before it held keys and audit) had it at user_version. */
const REGISTRY_SCHEMA: SchemaComponent = { name: 'registry', migrations: MIGRATIONS, legacyTable: 'prompt_versions' };

const VERSION_COLUMNS = 'name, version, template, template_hash, commit_message, author, tags, base_version, created_at, origin';
const MOVE_COLUMNS = 'name, alias, seq, at, actor, reason, from_target, to_target, rollback, governance';

export interface SqliteRegistryOptions {
  /** Stamps versions and alias moves. */
  clock?: Clock;
}

export class SqliteRegistry extends SqliteStore implements Registry, RegistryHistory {
  private readonly clock: Clock;

  constructor(file: string | SharedDatabase, opts: SqliteRegistryOptions = {}) {
    super(file, { components: [REGISTRY_SCHEMA, AUDIT_SCHEMA] });
    this.clock = opts.clock ?? systemClock;
  }

  async registerVersion(projectId: string, v: NewVersion, audit?: AuditDraft<PromptVersion>): Promise<PromptVersion> {
    const [stored, entries] = this.run('registering a prompt version', () =>
      this.transaction(() => {
        const now = this.clock.now().getTime();
        const origin = v.origin ?? null;
        const exists = this.db.prepare('SELECT 1 FROM prompt_versions WHERE project = ? AND name = ? AND version = ?');
        const missing = (origin?.derivedFrom ?? []).filter((r) => exists.get(projectId, r.name, r.version) === undefined);
        if (missing.length > 0) throw unknownSourcesError(missing);
        const prompt = this.db.prepare('SELECT last_version FROM prompts WHERE project = ? AND name = ?').get(projectId, v.name) as { last_version: number } | undefined;
        const version = (prompt?.last_version ?? 0) + 1;
        if (prompt) this.db.prepare('UPDATE prompts SET last_version = ?, updated_at = ? WHERE project = ? AND name = ?').run(version, now, projectId, v.name);
        else this.db.prepare('INSERT INTO prompts (project, name, last_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(projectId, v.name, version, now, now);
        const base = v.baseVersion ?? (version > 1 ? version - 1 : null);
        this.db
          .prepare(`INSERT INTO prompt_versions (project, ${VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(projectId, v.name, version, JSON.stringify(v.template), v.templateHash, v.commitMessage, v.author, JSON.stringify(v.tags), base, now, origin === null ? null : JSON.stringify(origin));
        const stored: PromptVersion = { name: v.name, version, template: v.template, templateHash: v.templateHash, commitMessage: v.commitMessage, author: v.author, tags: v.tags, baseVersion: base, origin, createdAt: new Date(now) };
        return [stored, appendDrafted(this.db, this.clock, audit, stored)] as const;
      }),
    );
    audit?.committed(entries);
    return stored;
  }

  async getVersion(projectId: string, name: string, version: number): Promise<PromptVersion | null> {
    return this.run('reading a prompt version', () => {
      const r = this.db.prepare(`SELECT ${VERSION_COLUMNS} FROM prompt_versions WHERE project = ? AND name = ? AND version = ?`).get(projectId, name, version) as VersionRow | undefined;
      return r ? toVersion(r) : null;
    });
  }

  async latestVersion(projectId: string, name: string): Promise<PromptVersion | null> {
    return this.run('reading the latest prompt version', () => {
      const r = this.db
        .prepare(`SELECT ${VERSION_COLUMNS} FROM prompt_versions WHERE project = ? AND name = ? ORDER BY version DESC LIMIT 1`)
        .get(projectId, name) as VersionRow | undefined;
      return r ? toVersion(r) : null;
    });
  }

  async listVersions(projectId: string, name: string, page: { limit: number; offset: number }): Promise<VersionPage> {
    return this.run('listing prompt versions', () => {
      const rows = this.db
        .prepare(`SELECT ${VERSION_COLUMNS} FROM prompt_versions WHERE project = ? AND name = ? ORDER BY version DESC LIMIT ? OFFSET ?`)
        .all(projectId, name, page.limit, page.offset) as unknown as VersionRow[];
      const total = (this.db.prepare('SELECT count(*) AS n FROM prompt_versions WHERE project = ? AND name = ?').get(projectId, name) as { n: number }).n;
      return { versions: rows.map(toVersion), total };
    });
  }

  async listPrompts(projectId: string, page: { limit: number; offset: number }): Promise<PromptSummary[]> {
    return this.run('listing prompts', () => {
      const rows = this.db
        .prepare(
          `SELECT p.name, p.last_version, p.updated_at,
                  (SELECT group_concat(alias, char(31)) FROM (SELECT DISTINCT alias FROM alias_moves m WHERE m.project = p.project AND m.name = p.name ORDER BY alias)) AS aliases
           FROM prompts p WHERE p.project = ? ORDER BY p.name LIMIT ? OFFSET ?`,
        )
        .all(projectId, page.limit, page.offset) as Array<{ name: string; last_version: number; updated_at: number; aliases: string | null }>;
      return rows.map((r) => ({
        name: r.name,
        latestVersion: r.last_version,
        versions: r.last_version,
        aliases: r.aliases ? r.aliases.split('\u001f') : [],
        updatedAt: new Date(r.updated_at),
      }));
    });
  }

  async listProjects(): Promise<string[]> {
    // The primary key (project, name) serves it.
    return this.run('listing projects', () => (this.db.prepare('SELECT DISTINCT project FROM prompts ORDER BY project').all() as Array<{ project: string }>).map((r) => r.project));
  }

  async findByTemplateHash(projectId: string, templateHash: string): Promise<PromptVersion[]> {
    return this.run('finding versions by template hash', () =>
      (this.db
        .prepare(`SELECT ${VERSION_COLUMNS} FROM prompt_versions WHERE project = ? AND template_hash = ? ORDER BY name, version`)
        .all(projectId, templateHash) as unknown as VersionRow[]).map(toVersion),
    );
  }

  async moveAlias(projectId: string, move: NewAliasMove, audit?: AuditDraft<AliasMove>): Promise<AliasMove> {
    const [stored, entries] = this.run('moving an alias', () =>
      this.transaction(() => {
        const last = this.db
          .prepare(`SELECT ${MOVE_COLUMNS} FROM alias_moves WHERE project = ? AND name = ? AND alias = ? ORDER BY seq DESC LIMIT 1`)
          .get(projectId, move.name, move.alias) as MoveRow | undefined;
        const lastSeq = last?.seq ?? 0;
        if (move.expectSeq !== undefined && move.expectSeq !== lastSeq) {
          throw new ConflictError(`alias ${move.alias} of ${move.name} moved meanwhile (now at move ${lastSeq}, expected ${move.expectSeq})`);
        }
        const at = nextInSequence(this.clock, last?.at);
        const row: MoveRow = {
          name: move.name,
          alias: move.alias,
          seq: lastSeq + 1,
          at,
          actor: move.actor,
          reason: move.reason,
          from_target: last ? last.to_target : null,
          to_target: JSON.stringify(move.to),
          rollback: toFlag(move.rollback),
          governance: move.governance ? JSON.stringify(move.governance) : null,
        };
        this.db
          .prepare(`INSERT INTO alias_moves (project, ${MOVE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(projectId, row.name, row.alias, row.seq, row.at, row.actor, row.reason, row.from_target, row.to_target, row.rollback, row.governance);
        const stored = toMove(row);
        return [stored, appendDrafted(this.db, this.clock, audit, stored)] as const;
      }),
    );
    audit?.committed(entries);
    return stored;
  }

  async getAlias(projectId: string, name: string, alias: string, at?: Date): Promise<AliasState | null> {
    return this.run('reading an alias', () => {
      const r = this.db
        .prepare(`SELECT ${MOVE_COLUMNS} FROM alias_moves WHERE project = ? AND name = ? AND alias = ? AND at <= ? ORDER BY seq DESC LIMIT 1`)
        .get(projectId, name, alias, (at ?? new Date(8.64e15)).getTime()) as MoveRow | undefined;
      if (!r) return null;
      const since = toMove(r);
      return { name, alias, target: since.to, since };
    });
  }

  async aliasHistory(projectId: string, name: string, alias: string): Promise<AliasMove[]> {
    return this.run('reading alias history', () =>
      (this.db
        .prepare(`SELECT ${MOVE_COLUMNS} FROM alias_moves WHERE project = ? AND name = ? AND alias = ? ORDER BY seq`)
        .all(projectId, name, alias) as unknown as MoveRow[]).map(toMove),
    );
  }

  async listAliases(projectId: string, name: string): Promise<AliasState[]> {
    return this.run('listing aliases', () =>
      (this.db
        .prepare(
          `SELECT ${MOVE_COLUMNS} FROM alias_moves m
           WHERE project = ? AND name = ? AND seq = (SELECT max(seq) FROM alias_moves x WHERE x.project = m.project AND x.name = m.name AND x.alias = m.alias)
           ORDER BY alias`,
        )
        .all(projectId, name) as unknown as MoveRow[]).map((r) => {
        const since = toMove(r);
        return { name, alias: r.alias, target: since.to, since };
      }),
    );
  }

  async versionsAfter(projectId: string, after: { name: string; version: number } | null, limit: number): Promise<PromptVersion[]> {
    return this.run('reading the registry history', () =>
      (this.db
        .prepare(`SELECT ${VERSION_COLUMNS} FROM prompt_versions WHERE project = ? AND (name, version) > (?, ?) ORDER BY name, version LIMIT ?`)
        .all(projectId, after?.name ?? '', after?.version ?? 0, limit) as unknown as VersionRow[]).map(toVersion),
    );
  }

  async movesAfter(projectId: string, after: { name: string; alias: string; seq: number } | null, limit: number): Promise<AliasMove[]> {
    return this.run('reading the registry history', () =>
      (this.db
        .prepare(`SELECT ${MOVE_COLUMNS} FROM alias_moves WHERE project = ? AND (name, alias, seq) > (?, ?, ?) ORDER BY name, alias, seq LIMIT ?`)
        .all(projectId, after?.name ?? '', after?.alias ?? '', after?.seq ?? 0, limit) as unknown as MoveRow[]).map(toMove),
    );
  }
}
