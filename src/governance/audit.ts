import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AuditEntry, NewAuditEntry } from '../domain/governance.ts';
import { GENESIS_HASH, type AuditFilter, type AuditLog } from '../storage/governance.ts';
import type { Logger } from '../common/logger.ts';

// The audit log: append-only and hash-chained. Each entry's hash covers its own content and the
// hash of the entry before, so editing, deleting or reordering any entry breaks the chain from
// there on. The seq and hash of the last entry this process wrote are also kept in a file beside
// the data (the anchor), so that cutting entries off the end is caught too.

function canonical(v: unknown): string {
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

export function auditHash(e: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256')
    .update(canonical({ seq: e.seq, at: e.at, project: e.project, actor: e.actor, action: e.action, target: e.target, before: e.before, after: e.after, prevHash: e.prevHash }))
    .digest('hex');
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  /** The first entry where the chain breaks, and why. */
  problem: { seq: number | null; reason: string } | null;
  head: { seq: number; hash: string } | null;
}

export class AuditService {
  private readonly log: AuditLog;
  private readonly anchorFile: string | undefined;
  private readonly logger: Logger;

  constructor(deps: { log: AuditLog; anchorFile?: string; logger: Logger }) {
    this.log = deps.log;
    this.anchorFile = deps.anchorFile;
    this.logger = deps.logger;
  }

  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const e = await this.log.append(entry, auditHash);
    if (this.anchorFile) writeAnchor(this.anchorFile, { seq: e.seq, hash: e.hash });
    return e;
  }

  list(filter: AuditFilter): Promise<AuditEntry[]> {
    return this.log.list(filter);
  }

  /** Walks the whole chain in seq order; checks every hash, every link, and the anchor. */
  async verify(): Promise<VerifyResult> {
    return verifyChain((from, limit) => this.log.scan(from, limit), this.anchorFile ? readAnchor(this.anchorFile) : null);
  }
}

export async function verifyChain(scan: (fromSeq: number, limit: number) => Promise<AuditEntry[]>, anchor: { seq: number; hash: string } | null): Promise<VerifyResult> {
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let count = 0;
  let head: { seq: number; hash: string } | null = null;
  let atAnchor: string | null = null;
  const fail = (seq: number | null, reason: string): VerifyResult => ({ ok: false, entries: count, problem: { seq, reason }, head });
  for (let from = 1; ; ) {
    const page = await scan(from, 1000);
    if (page.length === 0) break;
    for (const e of page) {
      if (e.seq !== expectedSeq) return fail(expectedSeq, e.seq > expectedSeq ? `entry ${expectedSeq} is missing (the next entry is ${e.seq})` : `entry ${e.seq} is out of order`);
      if (e.prevHash !== prev) return fail(e.seq, `entry ${e.seq} does not follow entry ${e.seq - 1}: an entry before it was changed, removed or moved`);
      if (auditHash(e) !== e.hash) return fail(e.seq, `entry ${e.seq} was changed after it was written`);
      prev = e.hash;
      head = { seq: e.seq, hash: e.hash };
      if (anchor && e.seq === anchor.seq) atAnchor = e.hash;
      expectedSeq++;
      count++;
    }
    from = expectedSeq;
  }
  // Other processes sharing the store may have appended since this one wrote its anchor: the
  // anchored entry must still be there, unchanged.
  if (anchor && (!head || anchor.seq > head.seq)) {
    return fail(head ? head.seq + 1 : 1, `the log ends at entry ${head?.seq ?? 0}, but entry ${anchor.seq} was written: entries were removed from the end`);
  }
  if (anchor && atAnchor !== anchor.hash) return fail(anchor.seq, `entry ${anchor.seq} is not the one this server wrote`);
  return { ok: true, entries: count, problem: null, head };
}

function writeAnchor(file: string, head: { seq: number; hash: string }): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, JSON.stringify(head));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function readAnchor(file: string): { seq: number; hash: string } | null {
  try {
    const a = JSON.parse(readFileSync(file, 'utf8')) as { seq: number; hash: string };
    return Number.isInteger(a.seq) && typeof a.hash === 'string' ? a : null;
  } catch {
    return null;
  }
}
