import type { AuditEntry, NewAuditEntry } from '../domain/governance.ts';
import type { Logger } from '../common/logger.ts';
import type { AuditDraft, AuditFilter, AuditLog } from '../storage/governance.ts';
import type { RegistryHistory } from '../storage/registry.ts';
import { readHeadFile, writeHeadFile, type AuditHead } from './audit-anchor.ts';
import { auditHash } from './audit-hash.ts';
import { verifyAudit, type VerifyResult } from './audit-verify.ts';

export { auditHash } from './audit-hash.ts';
export type { VerifyResult } from './audit-verify.ts';

// The audit log: append-only and hash-chained (audit-hash.ts). A change writes its entries in its
// own transaction (a draft handed to the store that makes it); what has no transaction to share
// (evaluations, kept in the span store) is recorded on its own. After each commit the new head is
// written beside the data (the anchor) and, when configured, to a head file elsewhere, signed when
// a secret is set (audit-anchor.ts), so that cutting entries off the end is caught too.

export interface AuditServiceDeps {
  log: AuditLog;
  /** The anchor beside the data (audit-head.json). */
  anchorFile?: string | undefined;
  /** A copy of the head, written on every append, somewhere the data's owner cannot rewrite (PROMPTLINE_AUDIT_HEAD_FILE). */
  headFile?: string | undefined;
  /** Signs the head written (PROMPTLINE_AUDIT_SECRET). */
  secret?: string | undefined;
  /** The registry, whose versions and alias moves verification checks against their entries. */
  history?: RegistryHistory | undefined;
  logger: Logger;
}

export class AuditService {
  private readonly deps: AuditServiceDeps;
  /** The newest entry this process anchored: an older commit told later does not move the anchor back. */
  private anchoredSeq = 0;

  constructor(deps: AuditServiceDeps) {
    this.deps = deps;
  }

  /** The entries a change writes in its own transaction, made from the change as stored. */
  draft<T>(make: (stored: T) => NewAuditEntry | NewAuditEntry[]): AuditDraft<T> {
    return { entries: (stored) => [make(stored)].flat(), hashOf: auditHash, committed: (entries) => this.anchor(entries) };
  }

  /** An entry on its own, for what the audit log's store does not hold (evaluations). */
  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const e = await this.deps.log.append(entry, auditHash);
    this.anchor([e]);
    return e;
  }

  list(filter: AuditFilter): Promise<AuditEntry[]> {
    return this.deps.log.list(filter);
  }

  /** Every entry, in seq order, page by page. */
  async *entries(): AsyncGenerator<AuditEntry> {
    for (let from = 1; ; ) {
      const page = await this.deps.log.scan(from, 1000);
      if (page.length === 0) return;
      yield* page;
      from = page.at(-1)!.seq + 1;
    }
  }

  /** The whole chain, the anchors, the head an auditor kept (when given) and the registry against it. */
  verify(opts: { kept?: AuditHead | undefined } = {}): Promise<VerifyResult> {
    const { anchorFile, headFile } = this.deps;
    return verifyAudit({
      scan: (from, limit) => this.deps.log.scan(from, limit),
      kept: opts.kept,
      anchor: anchorFile ? { label: anchorFile, file: readHeadFile(anchorFile) } : undefined,
      headFile: headFile ? { label: headFile, file: readHeadFile(headFile) } : undefined,
      secret: this.deps.secret,
      history: this.deps.history,
    });
  }

  private anchor(entries: readonly AuditEntry[]): void {
    const last = entries.reduce<AuditEntry | null>((a, e) => (a === null || e.seq > a.seq ? e : a), null);
    if (last === null || last.seq <= this.anchoredSeq) return;
    this.anchoredSeq = last.seq;
    const head = { seq: last.seq, hash: last.hash };
    // The change is committed: failing its request now would only invite a retry that makes it
    // twice. The anchor lags behind until the next append, which verification tolerates.
    for (const file of [this.deps.anchorFile, this.deps.headFile]) {
      if (!file) continue;
      try {
        writeHeadFile(file, head, this.deps.secret);
      } catch (err) {
        this.deps.logger.error('audit: the head was not written', { error: err as Error, file, seq: head.seq });
      }
    }
  }
}

/** The chain alone, against an anchor (a head this process wrote), without the checks around it. */
export function verifyChain(scan: (fromSeq: number, limit: number) => Promise<AuditEntry[]>, anchor: AuditHead | null): Promise<VerifyResult> {
  return verifyAudit({ scan, anchor: anchor ? { label: 'anchor', file: { state: 'present', head: anchor, signature: null } } : undefined });
}
