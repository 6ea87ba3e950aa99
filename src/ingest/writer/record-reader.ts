import type { Logger } from '../../common/logger.ts';
import { RECORD_PROTOBUF, type Spool, type SpoolPosition } from '../spool.ts';
import type { RecordPayload } from './preparation-protocol.ts';
import type { QueueEntry, WriteQueue } from './write-queue.ts';

// A queued record's request when its turn comes, as bytes for the preparation thread to decode:
// from memory (as the receiver handed it over) or read back from the spool. A span's start time is
// judged against the window around the time its request was received, as the receiver judged it,
// however long the record waited: a record written without that time (by an earlier version) is
// read with no window.

export class RecordReader {
  private readonly spool: Spool;
  private readonly queue: WriteQueue;
  private readonly logger: Logger;

  constructor(o: { spool: Spool; queue: WriteQueue; logger: Logger }) {
    this.spool = o.spool;
    this.queue = o.queue;
    this.logger = o.logger;
  }

  /** null: the record can no longer be read (damage on disk, logged); it is skipped. */
  read(entry: QueueEntry): RecordPayload | null {
    const held = this.queue.takeHeld(entry);
    if (held) return { projectId: held.projectId, kind: held.kind ?? 'protobuf', bytes: held.raw, receivedAtMs: held.receivedAtMs };
    return this.readBack(entry.position);
  }

  /** A record that was not kept in memory (or was recovered at start), from the spool. */
  private readBack(position: SpoolPosition): RecordPayload | null {
    try {
      const rec = this.spool.read(position);
      return { projectId: rec.projectId, kind: rec.kind === RECORD_PROTOBUF ? 'protobuf' : 'json', bytes: rec.payload, receivedAtMs: rec.receivedAtMs };
    } catch (err) {
      // It was valid when it was accepted; an unreadable record now is damage on disk.
      this.logger.error('writer: a spooled record could not be read back and is skipped', { position, error: err as Error });
      return null;
    }
  }
}
