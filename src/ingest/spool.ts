import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';

// The durable spool: every accepted OTLP request is appended here, and fsynced, before it is
// acknowledged. Appends that arrive while a sync is under way wait for the next one, so one
// fdatasync covers many requests (group commit). Writers drain the spool to the stores and move
// a checkpoint; a record before the checkpoint is in the stores, and a segment wholly before it
// is deleted. At open, records after the checkpoint are handed back for replay.
//
// Segment files: <dir>/<20-digit number>.seg, a sequence of records:
//   u32 payload length | u32 crc32 of (kind, project, payload) | u8 kind | u8 project length | project | payload
// Kinds 1 (protobuf) and 2 (JSON) hold the request alone; kinds 3 and 4, the same requests with the
// time they were received (u64 milliseconds since the epoch, little-endian) before them, inside the
// payload length and the checksum. Records of kinds 1 and 2 (written before there were times) are
// read with no time.
// A torn or corrupt record (a crash in the middle of a write) ends its segment: it is logged,
// counted, cut off the file, and nothing after it in that segment is read.

export type RecordKind = 1 | 2;
export const RECORD_PROTOBUF: RecordKind = 1;
export const RECORD_JSON: RecordKind = 2;
/** On disk, a record with its time of receipt is its kind plus this. */
const TIMED = 2;
const TIME_BYTES = 8;
const KINDS = new Set<number>([RECORD_PROTOBUF, RECORD_JSON, RECORD_PROTOBUF + TIMED, RECORD_JSON + TIMED]);

const HEADER = 10;
const MAX_PROJECT_BYTES = 255;

export interface SpoolPosition {
  segment: number;
  offset: number;
  /** Bytes of the whole record, header included. */
  size: number;
}

export interface SpoolRecord {
  position: SpoolPosition;
  kind: RecordKind;
  projectId: string;
  payload: Buffer;
  /** When the request was received (milliseconds since the epoch); null for a record written without it. */
  receivedAtMs: number | null;
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  logger: Logger;
  /** Called once per record, in order, as soon as it is durable. */
  onDurable?: (position: SpoolPosition, attachment: unknown) => void;
}

export interface SpoolStats {
  pendingBytes: number;
  pendingRecords: number;
  maxBytes: number;
  segments: number;
  tornRecords: number;
}

interface Pending {
  /** The record's header (with project and time) and its payload, written together without being copied into one buffer. */
  parts: [Buffer, Uint8Array];
  size: number;
  attachment: unknown;
  resolve: (p: SpoolPosition) => void;
  reject: (e: Error) => void;
}

const segName = (n: number) => `${String(n).padStart(20, '0')}.seg`;
const CHECKPOINT = 'checkpoint.json';
const SPOOL_ID = 'spool-id';

export class SpoolFullError extends UnavailableError {
  constructor(message: string) {
    super(message, 5, 503);
  }
}

export class Spool {
  private readonly opts: SpoolOptions;
  private readonly log: Logger;
  private active!: { n: number; fh: FileHandle; size: number };
  /** Sizes of segments at and after the checkpoint, by number (active included). */
  private readonly segmentSizes = new Map<number, number>();
  private checkpoint: { segment: number; offset: number } = { segment: 0, offset: 0 };
  private pending: Pending[] = [];
  private flushing = false;
  private scheduled = false;
  private closed = false;
  private reserved = 0;
  private pendingRecords = 0;
  private tornRecords = 0;
  private recovered: SpoolPosition[] = [];
  /** Names this spool for good: with a record's position it makes a write token no other spool repeats. */
  id = '';

  private constructor(opts: SpoolOptions) {
    this.opts = opts;
    this.log = opts.logger;
  }

  static async open(opts: SpoolOptions): Promise<Spool> {
    const spool = new Spool(opts);
    await spool.init();
    return spool;
  }

  private async init(): Promise<void> {
    // Segments hold raw requests (prompts, messages, responses): readable by their owner only.
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    try {
      this.id = readFileSync(join(this.opts.dir, SPOOL_ID), 'utf8').trim();
    } catch {
      this.id = randomUUID();
      const fd = openSync(join(this.opts.dir, SPOOL_ID), 'w', 0o600);
      try {
        writeFileSync(fd, this.id);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      fsyncDir(this.opts.dir);
    }
    try {
      const cp = JSON.parse(readFileSync(join(this.opts.dir, CHECKPOINT), 'utf8')) as { segment: number; offset: number };
      if (Number.isSafeInteger(cp.segment) && Number.isSafeInteger(cp.offset)) this.checkpoint = cp;
    } catch {
      // no checkpoint yet: everything in the spool is pending
    }
    const segments = readdirSync(this.opts.dir)
      .filter((f) => /^\d{20}\.seg$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    for (const n of segments) {
      if (n < this.checkpoint.segment) {
        unlinkSync(join(this.opts.dir, segName(n)));
        continue;
      }
      const from = n === this.checkpoint.segment ? this.checkpoint.offset : 0;
      const size = this.scanSegment(n, from);
      this.segmentSizes.set(n, size);
    }
    const next = segments.length > 0 ? segments[segments.length - 1]! + 1 : Math.max(1, this.checkpoint.segment);
    await this.openSegment(next);
  }

  /** Validates the records of a segment from `from` on, remembers them for replay, cuts a torn tail. */
  private scanSegment(n: number, from: number): number {
    const path = join(this.opts.dir, segName(n));
    const data = readFileSync(path);
    if (from > data.length) from = data.length; // a checkpoint past a segment cut short
    let off = from;
    while (off < data.length) {
      const rec = parseRecordAt(data, off);
      if (rec && !KINDS.has(rec.kind)) {
        // Intact but of a kind this version does not know: leave it, keep reading.
        this.log.warn('spool: a record of an unknown kind is skipped', { segment: n, offset: off, kind: rec.kind });
        off += rec.size;
        continue;
      }
      if (!rec) {
        this.tornRecords++;
        this.log.warn('spool: torn or corrupt record skipped; the rest of its segment is cut off', {
          segment: n,
          offset: off,
          bytesCut: data.length - off,
        });
        const fd = openSync(path, 'r+');
        try {
          // Cut the file where the valid records end, so the same damage is not met twice.
          ftruncateSync(fd, off);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        break;
      }
      this.recovered.push({ segment: n, offset: off, size: rec.size });
      this.pendingRecords++;
      off += rec.size;
    }
    const size = Math.min(off, data.length);
    this.reserved += size - from;
    return size;
  }

  private async openSegment(n: number): Promise<void> {
    const fh = await open(join(this.opts.dir, segName(n)), 'a', 0o600);
    this.active = { n, fh, size: 0 };
    this.segmentSizes.set(n, 0);
    fsyncDir(this.opts.dir);
  }

  /** Records found at open that are not yet in the stores, oldest first. Taken once. */
  takeRecovered(): SpoolPosition[] {
    const r = this.recovered;
    this.recovered = [];
    return r;
  }

  /**
   * Appends one request, with the time it was received when given; resolves when it is on disk.
   * Throws SpoolFullError at once when the spool holds its maximum, so the receiver can answer 503
   * with Retry-After.
   */
  append(kind: RecordKind, projectId: string, payload: Uint8Array, attachment?: unknown, receivedAtMs?: number): Promise<SpoolPosition> {
    if (this.closed) return Promise.reject(new UnavailableError('the collector is shutting down', 1));
    if (kind !== RECORD_PROTOBUF && kind !== RECORD_JSON) return Promise.reject(new Error(`unknown spool record kind ${String(kind)}`));
    const project = Buffer.from(projectId, 'utf8');
    if (project.length > MAX_PROJECT_BYTES) return Promise.reject(new Error('project id too long for the spool'));
    const size = HEADER + project.length + (receivedAtMs === undefined ? 0 : TIME_BYTES) + payload.length;
    if (this.reserved + size > this.opts.maxBytes) {
      return Promise.reject(new SpoolFullError(`the spool is full (${this.reserved} of ${this.opts.maxBytes} bytes pending); retry later`));
    }
    this.reserved += size;
    const parts = encodeRecord(kind, project, payload, receivedAtMs);
    return new Promise<SpoolPosition>((resolve, reject) => {
      this.pending.push({ parts, size, attachment, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending;
    this.pending = [];
    try {
      if (this.active.size >= this.opts.segmentBytes) await this.roll();
      const seg = this.active;
      const positions: SpoolPosition[] = [];
      let off = seg.size;
      for (const p of batch) {
        positions.push({ segment: seg.n, offset: off, size: p.size });
        off += p.size;
      }
      try {
        await seg.fh.writev(batch.flatMap((p) => p.parts));
        await seg.fh.datasync();
      } catch (err) {
        // Leave no partial record behind (a full disk): cut back to the last durable byte.
        await seg.fh.truncate(seg.size).catch(() => undefined);
        throw err;
      }
      seg.size = off;
      this.segmentSizes.set(seg.n, off);
      this.pendingRecords += batch.length;
      for (let i = 0; i < batch.length; i++) {
        this.opts.onDurable?.(positions[i]!, batch[i]!.attachment);
        batch[i]!.resolve(positions[i]!);
      }
    } catch (err) {
      for (const p of batch) this.reserved -= p.size;
      const e = err as NodeJS.ErrnoException;
      const failure =
        e.code === 'ENOSPC' || e.code === 'EDQUOT'
          ? new SpoolFullError('the spool disk is full; retry later')
          : new UnavailableError(`the spool could not write: ${e.message}`, 5);
      this.log.error('spool: write failed', { error: e });
      for (const p of batch) p.reject(failure);
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) this.schedule();
    }
  }

  private async roll(): Promise<void> {
    await this.active.fh.close();
    await this.openSegment(this.active.n + 1);
  }

  /** Reads one durable record back. */
  read(pos: SpoolPosition): SpoolRecord {
    const fd = openSync(join(this.opts.dir, segName(pos.segment)), 'r');
    try {
      const buf = Buffer.alloc(pos.size);
      let got = 0;
      while (got < pos.size) {
        const n = readSync(fd, buf, got, pos.size - got, pos.offset + got);
        if (n === 0) break;
        got += n;
      }
      const rec = parseRecordAt(buf, 0);
      if (!rec || !KINDS.has(rec.kind)) throw new Error(`spool record at ${pos.segment}:${pos.offset} is unreadable`);
      if (rec.kind <= TIMED) return { position: pos, kind: rec.kind as RecordKind, projectId: rec.projectId, payload: rec.payload, receivedAtMs: null };
      if (rec.payload.length < TIME_BYTES) throw new Error(`spool record at ${pos.segment}:${pos.offset} is unreadable`);
      return {
        position: pos,
        kind: (rec.kind - TIMED) as RecordKind,
        projectId: rec.projectId,
        payload: rec.payload.subarray(TIME_BYTES),
        receivedAtMs: Number(rec.payload.readBigUInt64LE(0)),
      };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Everything up to and including `pos` is in the stores: move the checkpoint past it (atomically,
   * durably) and delete segments wholly before it.
   */
  async commit(pos: SpoolPosition, records: number): Promise<void> {
    const cp = { segment: pos.segment, offset: pos.offset + pos.size };
    // A record written again after a retry may lie before the checkpoint: it never moves back.
    if (cp.segment < this.checkpoint.segment || (cp.segment === this.checkpoint.segment && cp.offset <= this.checkpoint.offset)) return;
    const freed = this.bytesBetween(this.checkpoint, cp);
    const tmp = join(this.opts.dir, `${CHECKPOINT}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeFileSync(fd, JSON.stringify(cp));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.opts.dir, CHECKPOINT));
    fsyncDir(this.opts.dir);
    this.checkpoint = cp;
    this.reserved -= freed;
    this.pendingRecords -= records;
    for (const n of [...this.segmentSizes.keys()]) {
      if (n < cp.segment && n !== this.active.n) {
        try {
          unlinkSync(join(this.opts.dir, segName(n)));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        this.segmentSizes.delete(n);
      }
    }
  }

  private bytesBetween(a: { segment: number; offset: number }, b: { segment: number; offset: number }): number {
    let total = 0;
    for (const [n, size] of this.segmentSizes) {
      if (n < a.segment || n > b.segment) continue;
      const from = n === a.segment ? a.offset : 0;
      const to = n === b.segment ? b.offset : size;
      total += Math.max(0, to - from);
    }
    return total;
  }

  stats(): SpoolStats {
    return {
      pendingBytes: this.reserved,
      pendingRecords: this.pendingRecords,
      maxBytes: this.opts.maxBytes,
      segments: this.segmentSizes.size,
      tornRecords: this.tornRecords,
    };
  }

  /** Stops taking appends and waits for the ones already taken to be durable. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.scheduled || this.pending.length > 0) {
      await new Promise((r) => setTimeout(r, 5));
      if (!this.flushing && !this.scheduled && this.pending.length > 0) this.schedule();
    }
    await this.active.fh.close();
  }
}

/** A record as its header and its payload (the request's bytes, not copied): the checksum runs over both. */
function encodeRecord(kind: RecordKind, project: Buffer, payload: Uint8Array, receivedAtMs: number | undefined): [Buffer, Uint8Array] {
  const time = receivedAtMs === undefined ? 0 : TIME_BYTES;
  const head = Buffer.allocUnsafe(HEADER + project.length + time);
  head.writeUInt32LE(time + payload.length, 0);
  head.writeUInt8(time ? kind + TIMED : kind, 8);
  head.writeUInt8(project.length, 9);
  project.copy(head, HEADER);
  if (time) head.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(receivedAtMs!))), HEADER + project.length);
  head.writeUInt32LE(crc32(payload, crc32(head.subarray(8))), 4);
  return [head, payload];
}

/** The record at `off`, if it is whole and its checksum holds (its kind, as on disk, is the caller's to check). */
function parseRecordAt(data: Buffer, off: number): { size: number; kind: number; projectId: string; payload: Buffer } | null {
  if (off + HEADER > data.length) return null;
  const len = data.readUInt32LE(off);
  const kind = data.readUInt8(off + 8);
  const plen = data.readUInt8(off + 9);
  const size = HEADER + plen + len;
  if (off + size > data.length) return null;
  if (crc32(data.subarray(off + 8, off + size)) !== data.readUInt32LE(off + 4)) return null;
  return {
    size,
    kind,
    projectId: data.toString('utf8', off + HEADER, off + HEADER + plen),
    payload: data.subarray(off + HEADER + plen, off + size),
  };
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
