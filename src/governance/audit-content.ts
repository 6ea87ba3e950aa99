import type { AuditEntry, NewAuditEntry } from '../domain/governance.ts';
import { hashTemplate, type AliasMove, type PromptVersion } from '../domain/prompt.ts';
import { canonical, sha256 } from './audit-hash.ts';

// What the audit entry of a registry change records, and how a stored version or alias move is
// checked against it. An entry carries the change's facts (who, the template's hash, the commit
// message, where an alias went, and why) and a content hash of the whole stored row, so that the
// registry's history is inside the chain: a version or a move edited in the store no longer
// matches its entry, and the entry cannot be edited to match without breaking the chain.

const REGISTER_ACTION = 'prompt.register';
const MOVE_ACTIONS = new Set(['alias.move', 'alias.split', 'alias.rollback']);

export const versionTarget = (name: string, version: number) => `prompts:/${name}/${version}`;
export const aliasTarget = (name: string, alias: string) => `prompts:/${name}@${alias}`;

const moveAction = (m: AliasMove) => (m.to.split ? 'alias.split' : m.rollback ? 'alias.rollback' : 'alias.move');

/**
 * sha256 of the canonical form of everything stored of a version. An origin is part of it only when
 * the version has one, so versions registered before origins were kept hash as they always did.
 */
export function versionContentHash(projectId: string, v: PromptVersion): string {
  return sha256(
    canonical({ project: projectId, name: v.name, version: v.version, template: v.template, templateHash: v.templateHash, commitMessage: v.commitMessage, author: v.author, tags: v.tags ?? [], baseVersion: v.baseVersion, createdAt: v.createdAt.getTime(), ...originOf(v) }),
  );
}

const originOf = (v: PromptVersion) => (v.origin ? { origin: v.origin } : {});

/** sha256 of the canonical form of everything stored of an alias move. */
export function moveContentHash(projectId: string, m: AliasMove): string {
  return sha256(canonical({ project: projectId, name: m.name, alias: m.alias, seq: m.seq, at: m.at.getTime(), actor: m.actor, reason: m.reason, from: m.from, to: m.to, rollback: m.rollback, ...governanceOf(m) }));
}

/** A move's proposal and override are part of its record only when it has them: older moves hash as they did. */
const governanceOf = (m: AliasMove) => (m.governance ? { governance: m.governance } : {});

const versionFacts = (v: PromptVersion) => ({ name: v.name, version: v.version, templateHash: v.templateHash, commitMessage: v.commitMessage, tags: v.tags ?? [], baseVersion: v.baseVersion, ...originOf(v) });
const moveFacts = (m: AliasMove) => ({ ...m.to, seq: m.seq, reason: m.reason, ...governanceOf(m) });

export function versionEntry(projectId: string, v: PromptVersion): NewAuditEntry {
  return { project: projectId, actor: v.author, action: REGISTER_ACTION, target: versionTarget(v.name, v.version), before: null, after: { ...versionFacts(v), contentHash: versionContentHash(projectId, v) } };
}

export function moveEntry(projectId: string, m: AliasMove): NewAuditEntry {
  return { project: projectId, actor: m.actor, action: moveAction(m), target: aliasTarget(m.name, m.alias), before: m.from, after: { ...moveFacts(m), contentHash: moveContentHash(projectId, m) } };
}

/** The key an entry of a registry change is found by, or null for other entries. */
export function recordKeyOf(e: AuditEntry): string | null {
  const after = e.after as Record<string, unknown> | null;
  if (after === null || typeof after !== 'object') return null;
  if (e.action === REGISTER_ACTION) return versionKey(e.project, String(after.name), Number(after.version));
  if (MOVE_ACTIONS.has(e.action)) {
    // prompts:/NAME@ALIAS: neither a prompt name nor an alias may hold "@".
    const m = /^prompts:\/([^@]+)@([^@]+)$/.exec(e.target);
    return m ? moveKey(e.project, m[1]!, m[2]!, Number(after.seq)) : null;
  }
  return null;
}

export const versionKey = (project: string, name: string, version: number) => JSON.stringify(['version', project, name, version]);
export const moveKey = (project: string, name: string, alias: string, seq: number) => JSON.stringify(['move', project, name, alias, seq]);

/**
 * What of a stored version differs from its entry, or null when it matches. Entries from before
 * content hashes were recorded are checked by the facts they carry.
 */
export function versionDiffers(e: AuditEntry, projectId: string, v: PromptVersion): string | null {
  if (hashTemplate(v.template) !== v.templateHash) return 'its template is not the one its template hash names';
  if (e.actor !== v.author) return `its author is ${JSON.stringify(v.author)}, the entry's actor ${JSON.stringify(e.actor)}`;
  return differs(e.after, { ...versionFacts(v), contentHash: versionContentHash(projectId, v) });
}

export function moveDiffers(e: AuditEntry, projectId: string, m: AliasMove): string | null {
  if (e.action !== moveAction(m)) return `it is recorded as ${e.action}, but is stored as ${moveAction(m)}`;
  if (e.actor !== m.actor) return `its actor is ${JSON.stringify(m.actor)}, the entry's ${JSON.stringify(e.actor)}`;
  if (canonical(e.before) !== canonical(m.from)) return 'where it moved from is not the one recorded';
  return differs(e.after, { ...moveFacts(m), contentHash: moveContentHash(projectId, m) });
}

/** Each field the entry recorded must be as stored; the content hash (when recorded) covers the rest. */
function differs(recorded: unknown, stored: Record<string, unknown>): string | null {
  const r = (recorded ?? {}) as Record<string, unknown>;
  for (const [field, value] of Object.entries(stored)) {
    if (!(field in r)) continue;
    if (canonical(r[field]) !== canonical(value)) return field === 'contentHash' ? 'its content is not the content recorded (a field the entry does not show was changed)' : `its ${field} is not the one recorded`;
  }
  return null;
}
