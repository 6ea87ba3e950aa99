import type { QueueEntry, DecodedRecord } from './write-queue.ts';

// A batch is a run of consecutive spool records, written to the stores together.

export interface BatchRecord {
  entry: QueueEntry;
  /** null until the batch is read, or for good when the record could not be read back. */
  decoded: DecodedRecord | null;
}

/** A write's deduplication token: the spool's id and the records' span of positions, unique for good. */
export function batchToken(spoolId: string, records: readonly BatchRecord[]): string {
  const a = records[0]!.entry.position;
  const b = records.at(-1)!.entry.position;
  return `${spoolId}/${a.segment}:${a.offset}-${b.segment}:${b.offset}`;
}
