import { createHash } from 'node:crypto';
import type { VersionOrigin } from './origin.ts';

// Prompts in the registry: immutable numbered versions of a template, and aliases that point
// to a version (or split traffic over several) and keep every move.

export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export type PromptTemplate = { type: 'text'; text: string } | { type: 'chat'; messages: Array<{ role: ChatRole; content: string }> };

export interface PromptVersion {
  name: string;
  version: number;
  template: PromptTemplate;
  templateHash: string;
  commitMessage: string;
  author: string;
  tags: string[];
  /** The version this one was derived from (by default the latest when it was registered). */
  baseVersion: number | null;
  /** What produced it: the versions it was derived from, the optimizer run (see ./origin.ts); null when its registration said nothing. */
  origin?: VersionOrigin | null;
  createdAt: Date;
}

export interface SplitArm {
  version: number;
  /** A percentage; the arms of a split add up to 100. */
  weight: number;
}

export interface Split {
  id: string;
  arms: SplitArm[];
}

/** Where an alias points: one version, or a weighted split over versions. */
export type AliasTarget = { version: number; split: null } | { version: null; split: Split };

export interface AliasMove {
  name: string;
  alias: string;
  /** 1 for the alias's first move, then 2, 3, … */
  seq: number;
  at: Date;
  actor: string;
  reason: string;
  from: AliasTarget | null;
  to: AliasTarget;
  /** A rollback is a move back to where the alias pointed before its last move. */
  rollback: boolean;
  /** The proposal (and its step) this move merged, and an admin's override; absent on ordinary moves. */
  governance?: MoveGovernance | null;
}

/** Why a move was allowed: a proposal's merge step, or an admin's override of a policy (or both). */
export interface MoveGovernance {
  proposal: string | null;
  /** 1-based merge step of the proposal, and how many it has. */
  step: number | null;
  steps: number | null;
  /** The admin's reason for moving although the policy did not hold; null when it held. */
  override: string | null;
}

export interface AliasState {
  name: string;
  alias: string;
  target: AliasTarget;
  /** The move that set this target. */
  since: AliasMove;
}

/**
 * The template hash everywhere in Promptline: sha256, lower-case hex, of the text of a text
 * template, or of the canonical JSON of a chat template's messages ([{"role","content"}, …]).
 * The collector computes the same for spans that carry their template.
 */
export function hashTemplate(t: PromptTemplate): string {
  const text = t.type === 'text' ? t.text : JSON.stringify(t.messages.map((m) => ({ role: m.role, content: m.content })));
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface RegisteredPromptVersion {
  commitMessage: string | null;
  author: string | null;
  /** registered: name, version and template match a registered version; template_mismatch: the version is registered with another template. */
  status: 'registered' | 'template_mismatch';
  /** When the version was registered: a response produced before it was made without it. */
  createdAt: Date;
}

/**
 * Whether a response's prompt was a registered version when the response was produced:
 * registered_later when the version exists now but was registered after the response.
 */
export type RegistrationAtTheTime = 'registered' | 'template_mismatch' | 'registered_later' | 'unregistered';

/**
 * Decides what held when a response was produced from what ingest recorded with its span (`stored`:
 * registered, template_mismatch, unregistered, or '' for a span stored unclassified), what the
 * registry knows of the version now (`found`), and the span's start time (`respondedAt`, ISO-8601).
 *
 * A version the writer did not find when it classified the span did not exist when the response
 * was produced, which was earlier still, so a stored unregistered that the registry knows now was
 * registered later, whatever the app's clock says: claiming a registration that was not there is
 * the mistake a compliance record must not make. Otherwise the version's registration time against
 * the span's start decides: a span stored after the version existed may still describe a response
 * from before it (replayed from the spool, sent late, or from a client whose clock runs behind).
 */
export function registrationAtTheTime(stored: string, found: { status: 'registered' | 'template_mismatch'; createdAt: Date } | null, respondedAt: string): RegistrationAtTheTime {
  if (found === null) return stored === 'registered' || stored === 'template_mismatch' ? stored : 'unregistered';
  if (stored === 'unregistered') return 'registered_later';
  const at = Date.parse(respondedAt);
  if (Number.isFinite(at) && found.createdAt.getTime() > at) return 'registered_later';
  return stored === 'registered' || stored === 'template_mismatch' ? stored : found.status;
}

/** What the registry knows of a prompt version; null when it is not registered. */
export interface PromptCatalog {
  lookup(projectId: string, prompt: { name: string; version: string; templateHash: string }): Promise<RegisteredPromptVersion | null>;
}
