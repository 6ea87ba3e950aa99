import type { Spool } from '../spool.ts';
import type { BatchRecord } from './batch.ts';
import type { WriteQueue } from './write-queue.ts';

// The spool's checkpoint moves only past records the stores have: after a crash, everything
// after it is written again (idempotently, by the writes' tokens).

export class Checkpoint {
  private readonly spool: Spool;
  private readonly queue: WriteQueue;

  constructor(o: { spool: Spool; queue: WriteQueue }) {
    this.spool = o.spool;
    this.queue = o.queue;
  }

  /** These records, the last ones before the checkpoint, are in the stores. */
  async movePast(records: readonly BatchRecord[]): Promise<void> {
    await this.spool.commit(records.at(-1)!.entry.position, records.length);
    this.queue.settled(records.map((r) => r.entry));
  }
}
