import type { AuditEntry } from '../domain/governance.ts';
import { GENESIS_HASH } from '../storage/governance.ts';
import type { RegistryHistory } from '../storage/registry.ts';
import { formatHead, signatureMatches, type AuditHead, type HeadFileState } from './audit-anchor.ts';
import { aliasTarget, moveDiffers, moveKey, recordKeyOf, versionDiffers, versionKey, versionTarget } from './audit-content.ts';
import { auditHash } from './audit-hash.ts';

// Verification of the audit chain, the same wherever the entries come from (the store, through
// the server or read directly, or an export file). It walks every entry in seq order and checks
// each hash, each link and each project's numbering; then the heads kept outside the chain (the
// head an auditor kept, the anchor beside the data, a copy of it elsewhere); then, when it can read
// the registry, every version and alias move against the entry that recorded it.

export interface VerifyInput {
  /** Entries from `fromSeq` on, in seq order. */
  scan: (fromSeq: number, limit: number) => Promise<AuditEntry[]>;
  /** The head an auditor kept: the strongest check, as no one who can rewrite the store can move it. */
  kept?: AuditHead | undefined;
  /** The anchor beside the data; a missing one on a log that has entries is tampering. */
  anchor?: { label: string; file: HeadFileState } | undefined;
  /** A copy of the head elsewhere (PROMPTLINE_AUDIT_HEAD_FILE): checked when it is there. */
  headFile?: { label: string; file: HeadFileState } | undefined;
  /** The anchor's signing secret; without it a signature cannot be checked. */
  secret?: string | undefined;
  /** The registry, to check every version and alias move against its entry. */
  history?: RegistryHistory | undefined;
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  /** The first problem found, and where (null: not one entry). */
  problem: { seq: number | null; reason: string } | null;
  /** Every problem found (the chain's first, then each independent check's). */
  problems: Array<{ seq: number | null; reason: string }>;
  head: AuditHead | null;
  /** signed: checked with the secret; unsigned: nothing vouches for it but the directory; missing; none: no anchor was given. */
  anchor: 'signed' | 'unsigned' | 'missing' | 'none';
  /** What was checked besides the chain, and what could not be. */
  notes: string[];
  /** Versions and alias moves checked against their entries, when the registry was read. */
  registry: { versions: number; moves: number } | null;
  /** How many entries of the chain each project has (not for a project's admin to see of others). */
  byProject: ReadonlyMap<string, number>;
}

const PAGE = 1000;
const MAX_PROBLEMS = 20;

export async function verifyAudit(input: VerifyInput): Promise<VerifyResult> {
  const problems: VerifyResult['problems'] = [];
  const notes: string[] = [];
  const fail = (seq: number | null, reason: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push({ seq, reason });
  };
  const watched = new Set([input.kept?.seq, present(input.anchor?.file)?.seq, present(input.headFile?.file)?.seq].filter((s): s is number => s !== undefined));
  const hashAt = new Map<number, string>();
  const records = new Map<string, AuditEntry>();
  const perProject = new Map<string, number>();
  let unnumbered = 0;
  let head: AuditHead | null = null;
  let count = 0;

  // The chain: a break ends the walk, as nothing after it can be trusted.
  walk: for (let from = 1; ; ) {
    const page = await input.scan(from, PAGE);
    if (page.length === 0) break;
    for (const e of page) {
      const expected = count + 1;
      if (e.seq !== expected) {
        fail(expected, e.seq > expected ? `entry ${expected} is missing (the next entry is ${e.seq})` : `entry ${e.seq} is out of order`);
        break walk;
      }
      if (e.prevHash !== (head?.hash ?? GENESIS_HASH)) {
        fail(e.seq, `entry ${e.seq} does not follow entry ${e.seq - 1}: an entry before it was changed, removed or moved`);
        break walk;
      }
      if (auditHash(e) !== e.hash) {
        fail(e.seq, `entry ${e.seq} was changed after it was written`);
        break walk;
      }
      const rank = (perProject.get(e.project) ?? 0) + 1;
      perProject.set(e.project, rank);
      if (e.projectSeq === null) unnumbered++;
      else if (e.projectSeq !== rank) fail(e.seq, `entry ${e.seq} is entry ${rank} of project ${e.project}, but is numbered ${e.projectSeq} there`);
      if (watched.has(e.seq)) hashAt.set(e.seq, e.hash);
      const key = recordKeyOf(e);
      if (key !== null) {
        if (records.has(key)) fail(e.seq, `entries ${records.get(key)!.seq} and ${e.seq} record the same change (${e.target} in project ${e.project})`);
        records.set(key, e);
      }
      head = { seq: e.seq, hash: e.hash };
      count++;
    }
    from = count + 1;
  }
  const chainBroken = problems.length > 0;
  if (unnumbered > 0) notes.push(`${unnumbered} entries written by an older Promptline are not numbered within their project yet (the next start numbers them)`);

  if (input.kept) checkKept(input.kept, head, hashAt, fail, notes);
  const anchor = input.anchor ? checkAnchor(input.anchor, true, head, hashAt, input.secret, fail, notes) : 'none';
  if (input.headFile) checkAnchor(input.headFile, false, head, hashAt, input.secret, fail, notes);
  if (!input.kept) notes.push('no head was given to check against (--head SEQ:HASH): only a head kept outside the store shows that nothing was cut off the end and the chain was not rewritten');

  // Entries appended while the registry is read: a version or move committed after the walk has its
  // entry after the head the walk reached. Read on demand, only as far as they chain on; they
  // vouch for rows found missing, never count as rows removed.
  const late = new Map<string, AuditEntry>();
  const tail = { seq: head?.seq ?? 0, hash: head?.hash ?? GENESIS_HASH };
  const entryFor = async (key: string): Promise<AuditEntry | undefined> => {
    const known = records.get(key) ?? late.get(key);
    if (known) return known;
    for (let page = await input.scan(tail.seq + 1, PAGE); page.length > 0; page = await input.scan(tail.seq + 1, PAGE)) {
      for (const e of page) {
        if (e.seq !== tail.seq + 1 || e.prevHash !== tail.hash || auditHash(e) !== e.hash) return late.get(key);
        const k = recordKeyOf(e);
        if (k !== null && !records.has(k)) late.set(k, e);
        tail.seq = e.seq;
        tail.hash = e.hash;
      }
    }
    return late.get(key);
  };

  let registry: VerifyResult['registry'] = null;
  if (input.history && !chainBroken) registry = await checkRegistry(input.history, records, entryFor, [...perProject.keys()], fail);
  else if (!input.history) notes.push('the registry was not read: versions and alias moves were not checked against their entries');

  return { ok: problems.length === 0, entries: count, problem: problems[0] ?? null, problems, head, anchor, notes, registry, byProject: perProject };
}

const present = (f: HeadFileState | undefined) => (f?.state === 'present' ? f.head : undefined);

type Fail = (seq: number | null, reason: string) => void;

function checkKept(kept: AuditHead, head: AuditHead | null, hashAt: Map<number, string>, fail: Fail, notes: string[]): void {
  if (!head || kept.seq > head.seq) return fail(head ? head.seq + 1 : 1, `the log ends at entry ${head?.seq ?? 0}, but the head you kept is entry ${kept.seq}: entries were cut off the end`);
  if (hashAt.get(kept.seq) !== kept.hash) return fail(kept.seq, `entry ${kept.seq} is not the entry whose hash you kept: the log was rewritten up to it (its entries edited and hashed again)`);
  notes.push(`the head you kept (${formatHead(kept)}) is in the chain${kept.seq < head.seq ? `, with ${head.seq - kept.seq} entries after it` : ''}`);
}

/** The anchor beside the data must be there once the log has entries; a copy elsewhere is checked when it is there. */
function checkAnchor(a: { label: string; file: HeadFileState }, required: boolean, head: AuditHead | null, hashAt: Map<number, string>, secret: string | undefined, fail: Fail, notes: string[]): VerifyResult['anchor'] {
  const f = a.file;
  if (f.state === 'missing') {
    if (required && head) fail(null, `the anchor (${a.label}) is missing, but the log has ${head.seq} entries: entries may have been cut off the end and the anchor removed`);
    else if (!required) notes.push(`the head file (${a.label}) is not there`);
    return 'missing';
  }
  if (f.state === 'unreadable') {
    fail(null, `the anchor (${a.label}) cannot be read: ${f.reason}`);
    return 'missing';
  }
  let signed = false;
  if (secret) {
    if (f.signature === null) fail(null, `the anchor (${a.label}) is not signed, but a signing secret (PROMPTLINE_AUDIT_SECRET) is set: Promptline did not write it (or wrote it before the secret was set; the next change signs it)`);
    else if (!signatureMatches(f.head, f.signature, secret)) fail(null, `the anchor's signature (${a.label}) is not made with this secret: the anchor was rewritten`);
    else signed = true;
  } else if (f.signature) {
    notes.push(`the anchor (${a.label}) is signed, but no secret (PROMPTLINE_AUDIT_SECRET) was given to check it: it can only be trusted together with a head kept elsewhere`);
  }
  if (!head || f.head.seq > head.seq) fail(head ? head.seq + 1 : 1, `the log ends at entry ${head?.seq ?? 0}, but entry ${f.head.seq} was written (${a.label}): entries were removed from the end`);
  else if (hashAt.get(f.head.seq) !== f.head.hash) fail(f.head.seq, `entry ${f.head.seq} is not the one this server wrote (${a.label})`);
  return signed ? 'signed' : 'unsigned';
}

/** Every version and move of every project in the log has its entry, as recorded, and every such entry its row. */
async function checkRegistry(history: RegistryHistory, records: Map<string, AuditEntry>, entryFor: (key: string) => Promise<AuditEntry | undefined>, projects: string[], fail: Fail): Promise<{ versions: number; moves: number }> {
  let versions = 0;
  let moves = 0;
  for (const project of projects) {
    for (let after: { name: string; version: number } | null = null; ; ) {
      const page = await history.versionsAfter(project, after, PAGE);
      for (const v of page) {
        versions++;
        const key = versionKey(project, v.name, v.version);
        const e = await entryFor(key);
        const what = `prompt version ${versionTarget(v.name, v.version)} of project ${project}`;
        if (!e) fail(null, `${what} has no audit entry: it was added outside Promptline`);
        else {
          const d = versionDiffers(e, project, v);
          if (d) fail(e.seq, `${what} does not match its audit entry ${e.seq}: ${d}`);
          records.delete(key);
        }
      }
      if (page.length < PAGE) break;
      after = page.at(-1)!;
    }
    for (let after: { name: string; alias: string; seq: number } | null = null; ; ) {
      const page = await history.movesAfter(project, after, PAGE);
      for (const m of page) {
        moves++;
        const key = moveKey(project, m.name, m.alias, m.seq);
        const e = await entryFor(key);
        const what = `alias move ${m.seq} of ${aliasTarget(m.name, m.alias)} in project ${project}`;
        if (!e) fail(null, `${what} has no audit entry: it was added outside Promptline`);
        else {
          const d = moveDiffers(e, project, m);
          if (d) fail(e.seq, `${what} does not match its audit entry ${e.seq}: ${d}`);
          records.delete(key);
        }
      }
      if (page.length < PAGE) break;
      after = page.at(-1)!;
    }
  }
  for (const e of records.values()) fail(e.seq, `audit entry ${e.seq} records ${e.target} in project ${e.project}, which is not in the registry: it was removed`);
  return { versions, moves };
}
