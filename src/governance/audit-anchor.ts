import { createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { BadRequestError } from '../common/errors.ts';

// The head of the audit chain (the seq and hash of its newest entry) kept outside the store: an
// anchor file beside the data (audit-head.json), and optionally a copy elsewhere
// (PROMPTLINE_AUDIT_HEAD_FILE), both rewritten on every append. The chain alone cannot show that
// entries were cut off its end; a head kept outside can. A head written in the file is signed with
// an HMAC when PROMPTLINE_AUDIT_SECRET is set, so that whoever can rewrite the data and the file
// but does not hold the secret cannot move the anchor back with it. Unsigned, an anchor is only
// as trustworthy as the directory it is in: an auditor then relies on a head they kept themselves.

/** The anchor's name in the data directory. */
export const ANCHOR_FILE = 'audit-head.json';

export interface AuditHead {
  seq: number;
  hash: string;
}

/** What a head file holds, as read. */
export type HeadFileState =
  | { state: 'missing' }
  | { state: 'unreadable'; reason: string }
  | { state: 'present'; head: AuditHead; signature: string | null };

const HASH = /^[0-9a-f]{64}$/;

/** The text the signature covers: what it is for, and the head. */
const signed = (h: AuditHead) => `promptline audit head ${h.seq} ${h.hash}`;

function signHead(head: AuditHead, secret: string): string {
  return createHmac('sha256', secret).update(signed(head), 'utf8').digest('hex');
}

export function signatureMatches(head: AuditHead, signature: string, secret: string): boolean {
  const expected = Buffer.from(signHead(head, secret), 'hex');
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Replaces the file with this head (signed when a secret is given): written, synced, then renamed over. */
export function writeHeadFile(file: string, head: AuditHead, secret: string | undefined): void {
  const body = JSON.stringify({ seq: head.seq, hash: head.hash, ...(secret ? { signature: signHead(head, secret) } : {}) });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, `${body}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function readHeadFile(file: string): HeadFileState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'unreadable', reason: (err as Error).message };
  }
  try {
    const a = JSON.parse(text) as { seq?: unknown; hash?: unknown; signature?: unknown };
    if (!Number.isInteger(a.seq) || (a.seq as number) < 1 || typeof a.hash !== 'string' || !HASH.test(a.hash)) return { state: 'unreadable', reason: 'it does not hold a seq and a hash' };
    if (a.signature !== undefined && (typeof a.signature !== 'string' || !HASH.test(a.signature))) return { state: 'unreadable', reason: 'its signature is not an HMAC-SHA256 in hex' };
    return { state: 'present', head: { seq: a.seq as number, hash: a.hash }, signature: a.signature ?? null };
  } catch {
    return { state: 'unreadable', reason: 'it is not JSON' };
  }
}

/** "SEQ:HASH", as verify prints a head and an operator gives one back. */
export function formatHead(head: AuditHead): string {
  return `${head.seq}:${head.hash}`;
}

export function parseHead(text: string): AuditHead {
  const m = /^([1-9][0-9]{0,15}):([0-9a-f]{64})$/.exec(text.trim());
  if (!m) throw new BadRequestError(`a head is SEQ:HASH, as verify prints it (e.g. 42:${'0'.repeat(8)}…, the hash 64 hex characters), not ${JSON.stringify(text.slice(0, 100))}`);
  return { seq: Number(m[1]), hash: m[2]! };
}
