import type { EdgeObservation } from '../../domain/graph.ts';
import type { LineageFixup } from '../../domain/stored-span.ts';
import type { EvaluationRow } from '../../storage/span-analytics.ts';
import type { StagedSpans } from '../../storage/span-store.ts';
import type { RecordPayload } from './preparation-protocol.ts';
import type { QueueEntry } from './write-queue.ts';

// A batch is a run of consecutive spool records, written to the stores together.

export interface BatchRecord {
  entry: QueueEntry;
  /** null until the batch is read, or for good when the record could not be read back. */
  payload: RecordPayload | null;
  /** The spans it decoded to, once the preparation thread has read it. */
  spans: number | null;
  /** The preparation (request id) that last took its spans as stored: what `forget` names. */
  preparedIn?: number;
}

/** A project's part of a batch, ready for the stores. */
export interface StagedProject {
  projectId: string;
  spanCount: number;
  fixups: LineageFixup[];
  evaluations: EvaluationRow[];
  edges: EdgeObservation[];
  spans: StagedSpans;
}

export interface PreparedBatch {
  records: number;
  projects: StagedProject[];
  prepareMs: number;
}

/** A write's deduplication token: the spool's id and the records' span of positions, unique for good. */
export function batchToken(spoolId: string, records: readonly BatchRecord[]): string {
  const a = records[0]!.entry.position;
  const b = records.at(-1)!.entry.position;
  return `${spoolId}/${a.segment}:${a.offset}-${b.segment}:${b.offset}`;
}
