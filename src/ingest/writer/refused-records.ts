import type { Logger } from '../../common/logger.ts';
import { batchToken, type BatchRecord } from './batch.ts';
import type { PreparationThread } from './prepare-client.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { DeadLetterFolder } from './dead-letters.ts';
import type { StoreWriteStep } from './store-write.ts';
import { ATTEMPTS_BEFORE_REFUSAL, isRefusal, type PermanentWriteFailure } from './write-failures.ts';
import type { WriterCounters } from './writer-stats.ts';

// A batch the stores refused for good (not an outage: data they cannot take) must not hold up
// everything behind it. Its records are written one by one; a record refused alone is kept whole
// in the dead-letter folder, and each of its spans that the stores do take is stored.

export class RefusedRecords {
  private readonly spoolId: string;
  private readonly preparer: PreparationThread;
  private readonly storeWrite: StoreWriteStep;
  private readonly checkpoint: Checkpoint;
  private readonly deadLetters: DeadLetterFolder;
  private readonly counters: WriterCounters;
  private readonly logger: Logger;
  private readonly signal: AbortSignal;

  constructor(o: {
    spoolId: string;
    preparer: PreparationThread;
    storeWrite: StoreWriteStep;
    checkpoint: Checkpoint;
    deadLetters: DeadLetterFolder;
    counters: WriterCounters;
    logger: Logger;
    signal: AbortSignal;
  }) {
    this.spoolId = o.spoolId;
    this.preparer = o.preparer;
    this.storeWrite = o.storeWrite;
    this.checkpoint = o.checkpoint;
    this.deadLetters = o.deadLetters;
    this.counters = o.counters;
    this.logger = o.logger;
    this.signal = o.signal;
  }

  /** Writes records the stores refused together, and moves the checkpoint past them. */
  async isolate(records: BatchRecord[], refusal: PermanentWriteFailure): Promise<void> {
    await this.writeRecords(records, refusal);
  }

  /** `refused`: the stores already refused these records together. */
  private async writeRecords(records: BatchRecord[], refused?: PermanentWriteFailure): Promise<void> {
    try {
      if (refused) throw refused;
      await this.store(records, batchToken(this.spoolId, records), ATTEMPTS_BEFORE_REFUSAL);
    } catch (err) {
      if (!isRefusal(err) || this.signal.aborted) throw err;
      if (records.length > 1) {
        for (const r of records) await this.writeRecords([r]);
        return;
      }
      await this.salvage(records[0]!, err);
    }
    if (this.signal.aborted) return;
    await this.checkpoint.movePast(records);
  }

  private async store(records: BatchRecord[], token: string, attempts: number): Promise<void> {
    try {
      await this.storeWrite.write(await this.preparer.prepare(records, attempts), token, attempts);
    } catch (err) {
      this.preparer.forget(records);
      throw err;
    }
  }

  /** One record the stores refuse: keep it whole on disk, and store each span that they take. */
  private async salvage(rec: BatchRecord, failure: PermanentWriteFailure): Promise<void> {
    const { position } = rec.entry;
    const file = this.deadLetters.keep(position, failure);
    let refused = 0;
    const spans = rec.payload ? (rec.spans ?? 0) : 0;
    for (let i = 0; i < spans; i++) {
      const one: BatchRecord = { entry: rec.entry, payload: { ...rec.payload!, onlySpan: i }, spans: 1 };
      try {
        // The record was refused already: a span refused alone is not tried again.
        await this.store([one], `${batchToken(this.spoolId, [rec])}#${i}`, 1);
      } catch (err) {
        if (!isRefusal(err)) throw err;
        refused++;
      }
    }
    this.counters.deadLettered++;
    this.logger.error('writer: the stores refused a record; its other spans are stored and the record is kept whole in the dead-letter folder', {
      position,
      spans,
      refusedSpans: refused,
      file,
      reason: failure.message,
    });
  }
}
