import type { Logger } from '../../common/logger.ts';
import { decodeJsonExport } from '../otlp/decode-json.ts';
import { decodeProtobufExport } from '../otlp/decode-protobuf.ts';
import { ANY_START, startWindowAt, type SpanTimeWindow, type StartWindow } from '../otlp/span-rules.ts';
import { RECORD_PROTOBUF, type Spool, type SpoolPosition } from '../spool.ts';
import type { DecodedRecord, QueueEntry, WriteQueue } from './write-queue.ts';

// A queued record's spans when its turn comes: from memory (decoding held protobuf bytes) or
// read back from the spool. A span's start time is judged against the window around the time its
// request was received, as the receiver judged it, however long the record waited: a record
// written without that time (by an earlier version) is read with no window.

export class RecordReader {
  private readonly spool: Spool;
  private readonly queue: WriteQueue;
  private readonly logger: Logger;
  private readonly window: SpanTimeWindow | null;

  /** `spanTimeWindow`: the receiver's (null: none, as for the writer's own tests of what they send). */
  constructor(o: { spool: Spool; queue: WriteQueue; logger: Logger; spanTimeWindow: SpanTimeWindow | null }) {
    this.spool = o.spool;
    this.queue = o.queue;
    this.logger = o.logger;
    this.window = o.spanTimeWindow;
  }

  private windowAt(receivedAtMs: number | null): StartWindow {
    return this.window === null || receivedAtMs === null ? ANY_START : startWindowAt(receivedAtMs, this.window);
  }

  /** null: the record can no longer be read (damage on disk, logged); it is skipped. */
  read(entry: QueueEntry): DecodedRecord | null {
    const held = this.queue.takeHeld(entry);
    if (!held) return this.readBack(entry.position);
    if (!('raw' in held)) return held;
    try {
      return { projectId: held.projectId, export: decodeProtobufExport(held.raw, this.windowAt(held.receivedAtMs)) };
    } catch (err) {
      // The receiver checked it; a failure now is a bug, not bad data: the spool has it, read it back.
      this.logger.error('writer: a checked request did not decode; reading it back from the spool', { position: entry.position, error: err as Error });
      return this.readBack(entry.position);
    }
  }

  /** A record that was not kept in memory (or was recovered at start), decoded from the spool. */
  private readBack(position: SpoolPosition): DecodedRecord | null {
    try {
      const rec = this.spool.read(position);
      const window = this.windowAt(rec.receivedAtMs);
      const exp = rec.kind === RECORD_PROTOBUF ? decodeProtobufExport(rec.payload, window) : decodeJsonExport(rec.payload, window);
      return { projectId: rec.projectId, export: exp };
    } catch (err) {
      // It was valid when it was accepted; an unreadable record now is damage on disk.
      this.logger.error('writer: a spooled record could not be read back and is skipped', { position, error: err as Error });
      return null;
    }
  }
}
