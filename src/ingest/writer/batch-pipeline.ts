import { batchToken, type BatchRecord } from './batch.ts';
import type { PreparedBatch } from './batch.ts';
import type { PreparationThread } from './prepare-client.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { RecordReader } from './record-reader.ts';
import type { RefusedRecords } from './refused-records.ts';
import type { StoreWriteStep } from './store-write.ts';
import { ATTEMPTS_BEFORE_REFUSAL, isRefusal } from './write-failures.ts';
import type { QueueEntry, WriteQueue } from './write-queue.ts';

// Batches are written one at a time and in order; while the stores take one batch, the next is
// prepared (read, its lineage resolved, its edges and evaluations collected, its rows encoded),
// so that the JavaScript work and ClickHouse's work overlap instead of taking turns. While stored
// rows wait for a rewrite a batch had no budget for, nothing is prepared ahead: settlement steps
// (settleNext) and batches take turns, so that neither waits on the other for long.

/** A batch taken from the queue, its preparation under way. */
interface BatchInFlight {
  entries: QueueEntry[];
  records: BatchRecord[];
  token: string;
  prepared: Promise<PreparedBatch>;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class BatchPipeline {
  private readonly spoolId: string;
  private readonly queue: WriteQueue;
  private readonly batchMaxSpans: number;
  private readonly reader: RecordReader;
  private readonly preparer: PreparationThread;
  private readonly storeWrite: StoreWriteStep;
  private readonly refused: RefusedRecords;
  private readonly checkpoint: Checkpoint;
  private readonly signal: AbortSignal;
  private ahead: BatchInFlight | null = null;
  /** A batch is being written and the next one is prepared ahead once a whole batch waits (see prepareAhead). */
  private aheadWanted = false;
  private settlements = 0;

  constructor(o: {
    spoolId: string;
    queue: WriteQueue;
    batchMaxSpans: number;
    reader: RecordReader;
    preparer: PreparationThread;
    storeWrite: StoreWriteStep;
    refused: RefusedRecords;
    checkpoint: Checkpoint;
    signal: AbortSignal;
  }) {
    this.spoolId = o.spoolId;
    this.queue = o.queue;
    this.batchMaxSpans = o.batchMaxSpans;
    this.reader = o.reader;
    this.preparer = o.preparer;
    this.storeWrite = o.storeWrite;
    this.refused = o.refused;
    this.checkpoint = o.checkpoint;
    this.signal = o.signal;
  }

  /** Whether the next batch is prepared already (and the queue need not be waited on). */
  get hasBatchAhead(): boolean {
    return this.ahead !== null;
  }

  /** Traces with stored rows still to rewrite. */
  get unsettledTraces(): number {
    return this.preparer.unsettledTraces;
  }

  /**
   * One settlement step, with no batch prepared ahead: the next bounded run of rewrites of stored
   * rows whose inherited lineage changed. Rewrites the store refuses for good are given up (the
   * traces are dropped from the cache, and compared with the store again when their next span
   * arrives); an outage is waited out as for any write.
   */
  async settleNext(): Promise<void> {
    const step = await this.preparer.prepareSettlement(ATTEMPTS_BEFORE_REFUSAL);
    if (!step) return;
    try {
      await this.storeWrite.write(step.batch, `${this.spoolId}/settle-${++this.settlements}`, ATTEMPTS_BEFORE_REFUSAL);
    } catch (err) {
      this.preparer.forgetTraces(step.traces);
      if (!isRefusal(err) || this.signal.aborted) throw err;
    }
  }

  /**
   * Writes the next batch — the one prepared ahead, else one taken from the queue — and moves the
   * checkpoint past it. On a failure the batch goes back to the head of the queue.
   */
  async writeNext(): Promise<void> {
    const current = this.ahead ?? this.begin(this.queue.take(this.batchMaxSpans));
    this.ahead = null;
    try {
      await this.write(current);
    } catch (err) {
      await this.undoAhead();
      if (!this.signal.aborted) this.queue.putBack(current.entries);
      throw err;
    }
  }

  /** Starts reading and preparing a batch. */
  private begin(entries: QueueEntry[]): BatchInFlight {
    const records: BatchRecord[] = entries.map((entry) => ({ entry, payload: null, spans: null }));
    const prepared = (async () => {
      // The bytes of each record (from memory, or read back from the spool); the preparation thread decodes them.
      for (const r of records) {
        r.payload = this.reader.read(r.entry);
        // A record read back from the spool is a synchronous read: the receiver gets its turn between them.
        await yieldToEventLoop();
      }
      return this.preparer.prepare(records, ATTEMPTS_BEFORE_REFUSAL);
    })();
    // Failures are handled where it is awaited; this keeps an unawaited rejection quiet meanwhile.
    prepared.catch(() => undefined);
    return { entries, records, token: batchToken(this.spoolId, records), prepared };
  }

  /**
   * The stores are busy with the batch being written: the next one is prepared meanwhile, as if the
   * current one were stored, once a whole batch waits. A part of one is left to grow until the write
   * ends: every insert has a fixed cost in the engine (a part in each table, a file per column), so
   * a writer that kept up with a moderate rate by many small inserts spent about one and a half
   * times the CPU a span that one with whole batches does.
   */
  private prepareAhead(): void {
    if (this.signal.aborted || this.ahead !== null || this.queue.length === 0 || this.preparer.unsettledTraces > 0) return;
    if (!this.queue.holdsFullBatch(this.batchMaxSpans)) {
      this.aheadWanted = true;
      return;
    }
    this.aheadWanted = false;
    this.ahead = this.begin(this.queue.take(this.batchMaxSpans));
  }

  /** The queue grew: while a batch is being written, a whole batch now waiting is prepared ahead. */
  queued(): void {
    if (this.aheadWanted) this.prepareAhead();
  }

  /** The current batch is not stored after all: the batch prepared ahead goes back, to be prepared again later. */
  private async undoAhead(): Promise<void> {
    const undone = this.ahead;
    if (!undone) return;
    this.ahead = null;
    await undone.prepared.catch(() => undefined);
    this.preparer.forget(undone.records);
    this.queue.putBack(undone.entries);
  }

  /** A batch the stores refuse for good goes the careful way, record by record, after the batch ahead is put back. */
  private async write(current: BatchInFlight): Promise<void> {
    const { records, token } = current;
    try {
      await this.storeWrite.write(await current.prepared, token, ATTEMPTS_BEFORE_REFUSAL, () => this.prepareAhead());
    } catch (err) {
      this.aheadWanted = false;
      this.preparer.forget(records);
      if (!isRefusal(err) || this.signal.aborted) throw err;
      await this.undoAhead();
      await this.refused.isolate(records, err);
      return;
    }
    this.aheadWanted = false;
    if (this.signal.aborted) return;
    await this.checkpoint.movePast(records);
  }
}
