import type { AuditEntry } from '../domain/governance.ts';
import { BadRequestError } from '../common/errors.ts';

// The audit log exported as JSON lines: one entry a line, in seq order, with every field the chain
// is made of, so that an auditor can verify it anywhere, with no server and no store (`promptline
// audit verify --file`), against a head they kept.

export const EXPORT_MEDIA_TYPE = 'application/x-ndjson';

export function exportLine(e: AuditEntry): string {
  return JSON.stringify({
    seq: e.seq,
    projectSeq: e.projectSeq,
    at: e.at.toISOString(),
    project: e.project,
    actor: e.actor,
    action: e.action,
    target: e.target,
    before: e.before ?? null,
    after: e.after ?? null,
    prevHash: e.prevHash,
    hash: e.hash,
  });
}

/** The entries of an export, checked for shape only (verification checks the rest). */
export function parseExport(text: string): AuditEntry[] {
  const entries: AuditEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new BadRequestError(`line ${i + 1} is not JSON`);
    }
    const str = (k: string) => {
      if (typeof v[k] !== 'string') throw new BadRequestError(`line ${i + 1} has no ${k}`);
      return v[k];
    };
    const at = new Date(str('at'));
    if (!Number.isInteger(v.seq) || Number.isNaN(at.getTime()) || (v.projectSeq !== null && !Number.isInteger(v.projectSeq))) throw new BadRequestError(`line ${i + 1} is not an audit entry`);
    entries.push({
      seq: v.seq as number,
      projectSeq: v.projectSeq as number | null,
      at,
      project: str('project'),
      actor: str('actor'),
      action: str('action'),
      target: str('target'),
      before: v.before ?? null,
      after: v.after ?? null,
      prevHash: str('prevHash'),
      hash: str('hash'),
    });
  }
  return entries;
}

/**
 * A scan over entries held in memory, in the shape verification reads a store. Verification asks
 * for the entries after the ones it has walked, which are in order, so the position is the seq.
 */
export function scanOf(entries: readonly AuditEntry[]): (fromSeq: number, limit: number) => Promise<AuditEntry[]> {
  return async (fromSeq, limit) => entries.slice(fromSeq - 1, fromSeq - 1 + limit);
}
