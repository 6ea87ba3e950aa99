// What the writer reports on /readyz: how far behind it is, and what went wrong last.

export interface WriterStats {
  queuedRecords: number;
  queuedSpans: number;
  writtenSpans: number;
  fixups: number;
  failedAttempts: number;
  deadLettered: number;
  lastError: string | null;
}

/** The counters the parts of the writer move; the queue's figures are read from the queue. */
export type WriterCounters = Omit<WriterStats, 'queuedRecords' | 'queuedSpans'>;

export function newWriterCounters(): WriterCounters {
  return { writtenSpans: 0, fixups: 0, failedAttempts: 0, deadLettered: 0, lastError: null };
}
