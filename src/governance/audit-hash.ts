import { createHash } from 'node:crypto';
import type { AuditEntry } from '../domain/governance.ts';

// The chain's rule: each entry's hash covers its own content and the hash of the entry before, so
// editing, deleting or reordering any entry breaks the chain from there on. projectSeq is left out:
// it follows from the chain (an entry's rank among its project's), and verification checks it.

/** JSON with object keys sorted, times as ISO text: the same text for the same content, always. */
export function canonical(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export function auditHash(e: Omit<AuditEntry, 'hash'>): string {
  return sha256(canonical({ seq: e.seq, at: e.at, project: e.project, actor: e.actor, action: e.action, target: e.target, before: e.before, after: e.after, prevHash: e.prevHash }));
}
