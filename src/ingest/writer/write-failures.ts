import { StoreError } from '../../common/errors.ts';

// How the writer tells failures apart, in one place. An outage (a store down, a timeout) passes
// if waited out: it is retried for as long as it lasts, and the data waits in the spool. Anything
// else is tried again once (a TypeError, a fault of the call itself, is not: p-retry's rule) and
// then taken as data the stores will not take: a refusal, which is set aside in the dead-letter
// folder rather than holding up what comes after it.

/** The stores refused data for a reason that waiting will not change. */
export class PermanentWriteFailure extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'PermanentWriteFailure';
  }
}

/** The writer was stopped before a batch was in the stores; the batch stays in the spool for the next start. */
export class WriterStopped extends Error {
  constructor() {
    super('writer stopped before the batch was written');
    this.name = 'WriterStopped';
  }
}

/** Whether the same call may succeed later. */
export function isOutage(err: unknown): boolean {
  return err instanceof StoreError && err.retryable;
}

export function isRefusal(err: unknown): err is PermanentWriteFailure {
  return err instanceof PermanentWriteFailure;
}

/** Attempts, in all, at a call that fails for a reason other than an outage before it counts as a refusal. */
export const ATTEMPTS_BEFORE_REFUSAL = 2;
