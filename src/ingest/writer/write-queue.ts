import type { DecodedExport } from '../../domain/span.ts';
import type { SpoolPosition } from '../spool.ts';

// The records that are durable in the spool and not yet in the stores, in spool order. A request
// is kept in memory as the receiver handed it over while the queue is short; past the budgets, a
// record is read back from the spool when its turn comes.

/** A record's spans, decoded, and the project they belong to. */
export interface DecodedRecord {
  projectId: string;
  export: DecodedExport;
}

/**
 * What the receiver hands over with a record once it is durable: the request's bytes, checked (the
 * writer's preparation thread decodes them when their turn comes), and how many spans it holds.
 */
export interface WriterAttachment {
  projectId: string;
  raw: Buffer;
  spans: number;
  receivedAtMs: number;
  /** How the bytes are encoded; protobuf when not said. */
  kind?: 'protobuf' | 'json';
}

export interface QueueEntry {
  position: SpoolPosition;
  /** The request as the receiver handed it over, while the memory budget allows; else null (re-read from the spool). */
  held: WriterAttachment | null;
  /** 0 for a record recovered at start: it is not read until its turn. */
  spanCount: number;
  /** When it was queued (for a record recovered at start: the start), in milliseconds since the epoch. */
  queuedAtMs: number;
}

/** Bytes of spooled requests in one batch at most, whatever their span count (recovered records have none yet). */
const BATCH_MAX_BYTES = 32 * 1024 * 1024;

export interface QueueBudgets {
  /** Bytes of checked protobuf requests held in memory at most. */
  maxBytesInMemory: number;
}

export class WriteQueue {
  private readonly entries: QueueEntry[] = [];
  private readonly budgets: QueueBudgets;
  private readonly onPush: () => void;
  private queuedSpans = 0;
  private inMemoryBytes = 0;
  /** Entries queued and not yet settled (taken ones included), in spool order: the first is the oldest. */
  private readonly unsettled = new Set<QueueEntry>();
  private readonly now: () => number;

  constructor(budgets: QueueBudgets, onPush: () => void, now: () => number = Date.now) {
    this.budgets = budgets;
    this.onPush = onPush;
    this.now = now;
  }

  /** How long the oldest record not yet in the stores has waited, in milliseconds; 0 when none waits. */
  oldestWaitMs(): number {
    const oldest = this.unsettled.values().next();
    return oldest.done ? 0 : Math.max(0, this.now() - oldest.value.queuedAtMs);
  }

  get length(): number {
    return this.entries.length;
  }

  /** Spans of the records queued or being written, as far as they are known. */
  get spans(): number {
    return this.queuedSpans;
  }

  /** A record found in the spool at start, or one handed over without its request. */
  pushUnread(position: SpoolPosition): void {
    this.pushEntry({ position, held: null, spanCount: 0, queuedAtMs: this.now() });
  }

  push(position: SpoolPosition, attachment: WriterAttachment): void {
    const keep = this.inMemoryBytes + attachment.raw.length <= this.budgets.maxBytesInMemory;
    if (keep) this.inMemoryBytes += attachment.raw.length;
    this.pushEntry({ position, held: keep ? attachment : null, spanCount: attachment.spans, queuedAtMs: this.now() });
  }

  private pushEntry(e: QueueEntry): void {
    this.entries.push(e);
    this.unsettled.add(e);
    this.queuedSpans += e.spanCount;
    this.onPush();
  }

  /** The next batch: records from the head, up to `maxSpans` spans (one record at least) and BATCH_MAX_BYTES. */
  take(maxSpans: number): QueueEntry[] {
    return this.entries.splice(0, this.nextBatch(maxSpans).records);
  }

  /** Whether a whole batch waits: `take(maxSpans)` would stop at its limits, not at the queue's end. */
  holdsFullBatch(maxSpans: number): boolean {
    return this.nextBatch(maxSpans).whole;
  }

  /** How many records from the head the next batch holds, and whether it stops at its limits (not at the queue's end). */
  private nextBatch(maxSpans: number): { records: number; whole: boolean } {
    let spans = 0;
    let bytes = 0;
    for (const [i, e] of this.entries.entries()) {
      if (i > 0 && (spans + e.spanCount > maxSpans || bytes + e.position.size > BATCH_MAX_BYTES)) return { records: i, whole: true };
      spans += e.spanCount;
      bytes += e.position.size;
    }
    return { records: this.entries.length, whole: spans >= maxSpans };
  }

  /** Puts taken records back at the head, to be written again; what they held is read back from the spool then. */
  putBack(batch: QueueEntry[]): void {
    for (const e of batch) this.takeHeld(e);
    this.entries.unshift(...batch);
  }

  /** The request an entry holds, if any, out of the memory budget: the caller decodes it or reads it back. */
  takeHeld(entry: QueueEntry): WriterAttachment | null {
    const held = entry.held;
    entry.held = null;
    if (!held) return null;
    this.inMemoryBytes -= held.raw.length;
    return held;
  }

  /** These records are in the stores: they no longer count. */
  settled(entries: Iterable<QueueEntry>): void {
    for (const e of entries) {
      this.queuedSpans -= e.spanCount;
      this.unsettled.delete(e);
    }
  }
}
