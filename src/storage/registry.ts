import type { VersionOrigin } from '../domain/origin.ts';
import type { AliasMove, AliasState, AliasTarget, MoveGovernance, PromptTemplate, PromptVersion } from '../domain/prompt.ts';
import type { AuditDraft } from './governance.ts';
import type { StoreLifecycle } from './lifecycle.ts';

// The prompt registry port. Adapters: SQLite (embedded) and Neo4j. Validation, URIs, splits and
// rendering live above it (src/registry/); an adapter stores and answers, atomically. A change
// handed an AuditDraft writes its audit entries in its own transaction (see ./governance.ts).

export interface NewVersion {
  name: string;
  template: PromptTemplate;
  templateHash: string;
  commitMessage: string;
  author: string;
  tags: string[];
  /** null: derived from the latest version at the moment of registration (none for the first). */
  baseVersion: number | null;
  /** Stored with the version; every version it names must be registered (else BadRequestError, see unknownSourcesError). */
  origin?: VersionOrigin | null;
}

export interface NewAliasMove {
  name: string;
  alias: string;
  to: AliasTarget;
  actor: string;
  reason: string;
  rollback: boolean;
  /** Stored with the move: the proposal it merges, an override. */
  governance?: MoveGovernance | null;
  /** Only move if the alias is still at this move (optimistic concurrency); undefined: any. */
  expectSeq?: number;
}

export interface VersionPage {
  versions: PromptVersion[];
  total: number;
}

export interface PromptSummary {
  name: string;
  latestVersion: number;
  versions: number;
  aliases: string[];
  updatedAt: Date;
}

export interface Registry extends StoreLifecycle {
  /** Registers the next version of a prompt; numbers are assigned atomically, 1, 2, 3 … with no gaps. */
  registerVersion(projectId: string, v: NewVersion, audit?: AuditDraft<PromptVersion>): Promise<PromptVersion>;
  getVersion(projectId: string, name: string, version: number): Promise<PromptVersion | null>;
  latestVersion(projectId: string, name: string): Promise<PromptVersion | null>;
  /** Newest first. */
  listVersions(projectId: string, name: string, page: { limit: number; offset: number }): Promise<VersionPage>;
  listPrompts(projectId: string, page: { limit: number; offset: number }): Promise<PromptSummary[]>;
  /** Every project with at least one registered prompt, sorted. */
  listProjects(): Promise<string[]>;
  /** Versions (of any prompt) whose template has this hash. */
  findByTemplateHash(projectId: string, templateHash: string): Promise<PromptVersion[]>;
  /** Records a move; the alias is created by its first. Throws ConflictError when expectSeq no longer holds. */
  moveAlias(projectId: string, move: NewAliasMove, audit?: AuditDraft<AliasMove>): Promise<AliasMove>;
  /** Where the alias pointed at `at` (now when not given); null before its first move. */
  getAlias(projectId: string, name: string, alias: string, at?: Date): Promise<AliasState | null>;
  /** Every move, oldest first. */
  aliasHistory(projectId: string, name: string, alias: string): Promise<AliasMove[]>;
  listAliases(projectId: string, name: string): Promise<AliasState[]>;
}

/**
 * The registry's whole history of one project, in key order and in pages, for verification: every
 * version and every alias move is checked against the audit entry that recorded it.
 */
export interface RegistryHistory {
  /** Versions ordered by (name, version), after `after` (from the start when null). */
  versionsAfter(projectId: string, after: { name: string; version: number } | null, limit: number): Promise<PromptVersion[]>;
  /** Moves ordered by (name, alias, seq), after `after` (from the start when null). */
  movesAfter(projectId: string, after: { name: string; alias: string; seq: number } | null, limit: number): Promise<AliasMove[]>;
}
