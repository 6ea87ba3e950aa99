import type { SpanTimeWindow } from '../otlp/span-rules.ts';
import type { PreparedParts } from './batch-preparer.ts';

// The messages between the writer (prepare-client.ts, on the main thread) and its preparation
// thread (prepare-worker.ts). Everything in them is plain data a structured clone carries.

/** What the thread is started with. */
export interface PreparationOptions {
  /** The span store's encoder module (SpanSink.encoderModule). */
  encoderModule: string;
  /** Whether prompts are classified (through the writer's ClassifyPrompt). */
  classify: boolean;
  collectEvaluations: boolean;
  resolverCacheBytes: number;
  maxFixupsPerBatch: number;
  /** The receiver's start-time window, by which spooled requests are judged as at their receipt; null: none. */
  spanTimeWindow: SpanTimeWindow | null;
}

/** A spooled request as the thread gets it: its bytes, to decode there. */
export interface RecordPayload {
  projectId: string;
  kind: 'protobuf' | 'json';
  bytes: Uint8Array;
  /** When it was received (for the start-time window); null: judged with none. */
  receivedAtMs: number | null;
  /** Only this span of the request (a refused record's spans are stored one by one). */
  onlySpan?: number;
}

export interface PreparedRecords extends PreparedParts {
  /** The spans each record decoded to. */
  spansPerRecord: number[];
  /** Records that did not decode, by index: damage, skipped. */
  unreadable: Array<{ index: number; message: string }>;
}

export interface PreparedSettlement {
  batch: PreparedParts;
  traces: Array<{ projectId: string; traceIds: string[] }>;
}

/** How a failure crosses: a refusal (the data, for good), the writer stopping, or anything else (tried again later). */
export type FailureKind = 'refusal' | 'stopped' | 'error';

export class PreparationFailure extends Error {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string) {
    super(message);
    this.name = 'PreparationFailure';
    this.kind = kind;
  }
}

export type ToPreparation =
  | { t: 'prepare'; id: number; attempts: number; records: RecordPayload[] }
  | { t: 'settle'; id: number; attempts: number }
  | { t: 'forget'; prepared: number[] }
  | { t: 'forgetTraces'; traces: Array<{ projectId: string; traceIds: string[] }> }
  | { t: 'answer'; id: number; ok: true; value: unknown }
  | { t: 'answer'; id: number; ok: false; error: { kind: FailureKind; message: string } };

export type FromPreparation =
  | { t: 'call'; id: number; op: 'load' | 'classify'; args: unknown[]; attempts: number }
  | { t: 'done'; id: number; ok: true; value: PreparedRecords | PreparedSettlement | null; unsettledTraces: number }
  | { t: 'done'; id: number; ok: false; error: { kind: FailureKind; message: string }; unsettledTraces: number; spansPerRecord?: number[] };
