import type { Logger } from '../../common/logger.ts';
import { decodeJsonExport } from '../otlp/decode-json.ts';
import { decodeProtobufExport } from '../otlp/decode-protobuf.ts';
import { RECORD_PROTOBUF, type Spool, type SpoolPosition } from '../spool.ts';
import type { DecodedRecord, QueueEntry, WriteQueue } from './write-queue.ts';

// A queued record's spans when its turn comes: from memory (decoding held protobuf bytes) or
// read back from the spool.

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
  read(entry: QueueEntry): DecodedRecord | null {
    const held = this.queue.takeHeld(entry);
    if (!held) return this.readBack(entry.position);
    if (!('raw' in held)) return held;
    try {
      return { projectId: held.projectId, export: decodeProtobufExport(held.raw) };
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
      const exp = rec.kind === RECORD_PROTOBUF ? decodeProtobufExport(rec.payload) : decodeJsonExport(rec.payload);
      return { projectId: rec.projectId, export: exp };
    } catch (err) {
      // It was valid when it was accepted; an unreadable record now is damage on disk.
      this.logger.error('writer: a spooled record could not be read back and is skipped', { position, error: err as Error });
      return null;
    }
  }
}
