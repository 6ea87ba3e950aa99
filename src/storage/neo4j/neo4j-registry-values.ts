import type { VersionOrigin } from '../../domain/origin.ts';
import type { AliasMove, AliasTarget, MoveGovernance, PromptTemplate, PromptVersion } from '../../domain/prompt.ts';
import { jsonOrNull } from '../values.ts';
import { projection, toDate, toNumber } from './neo4j-values.ts';

// What the registry's version and alias move nodes hold, and how they read back as the domain's
// versions and moves: templates and alias targets are JSON text.

export interface VersionValue {
  name: string;
  version: number;
  template: string;
  templateHash: string;
  commitMessage: string;
  author: string;
  tags: string[];
  baseVersion: number | null;
  createdAt: number;
  /** JSON of a VersionOrigin; absent on versions registered without one (and before origins were kept). */
  origin: string | null;
}

export interface MoveValue {
  name: string;
  alias: string;
  seq: number;
  at: number;
  actor: string;
  reason: string;
  fromTarget: string | null;
  toTarget: string;
  rollback: boolean | null;
  /** JSON of a MoveGovernance; absent on ordinary moves. */
  governance?: string | null;
}

const VERSION_FIELDS = ['name', 'version', 'template', 'templateHash', 'commitMessage', 'author', 'tags', 'baseVersion', 'createdAt', 'origin'];
const MOVE_FIELDS = ['name', 'alias', 'seq', 'at', 'actor', 'reason', 'fromTarget', 'toTarget', 'rollback', 'governance'];
export const versionMap = projection(VERSION_FIELDS);
export const moveMap = projection(MOVE_FIELDS);

export const toVersion = (r: VersionValue): PromptVersion => ({
  name: r.name,
  version: toNumber(r.version),
  template: JSON.parse(r.template) as PromptTemplate,
  templateHash: r.templateHash,
  commitMessage: r.commitMessage,
  author: r.author,
  tags: r.tags ?? [],
  baseVersion: r.baseVersion === null || r.baseVersion === undefined ? null : toNumber(r.baseVersion),
  origin: jsonOrNull(r.origin ?? null) as VersionOrigin | null,
  createdAt: toDate(r.createdAt),
});

export const toMove = (r: MoveValue): AliasMove => ({
  name: r.name,
  alias: r.alias,
  seq: toNumber(r.seq),
  at: toDate(r.at),
  actor: r.actor,
  reason: r.reason,
  from: jsonOrNull(r.fromTarget) as AliasTarget | null,
  to: JSON.parse(r.toTarget) as AliasTarget,
  rollback: r.rollback === true,
  ...(r.governance ? { governance: JSON.parse(r.governance) as MoveGovernance } : {}),
});
