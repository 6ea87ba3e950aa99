// What the writer reports on /readyz: how far behind it is, and what went wrong last.

export interface WriterStats {
  queuedRecords: number;
  queuedSpans: number;
  writtenSpans: number;
  fixups: number;
  /** Traces with stored rows whose rewrite (a late parent's lineage) is left to the next bounded steps. */
  unsettledTraces: number;
  failedAttempts: number;
  /** Times the span store said it was overwhelmed (ClickHouse's TOO_MANY_PARTS) and the writer waited longer. */
  backPressureWaits: number;
  /** While the span store pushes back: what it said; null otherwise. */
  backPressure: string | null;
  deadLettered: number;
  lastError: string | null;
}

/** The counters the parts of the writer move; the queue's and the resolver's figures are read from them. */
export type WriterCounters = Omit<WriterStats, 'queuedRecords' | 'queuedSpans' | 'unsettledTraces'>;

export function newWriterCounters(): WriterCounters {
  return { writtenSpans: 0, fixups: 0, failedAttempts: 0, backPressureWaits: 0, backPressure: null, deadLettered: 0, lastError: null };
}
