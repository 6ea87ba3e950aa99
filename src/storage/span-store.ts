import type { LineageFixup, ResolvedSpan, StoredNode } from '../domain/stored-span.ts';
import type { ResolvedLineage } from '../domain/lineage.ts';
import type { StoreLifecycle } from './lifecycle.ts';

// The span store: one row a span, with the resolved lineage beside the OpenTelemetry columns.
// Ingest writes through SpanSink, the API reads through SpanQueries; one store may be both.
// Adapters: ClickHouse SQL on the in-process engine (chdb) or on a server; the SQL is the same.

/**
 * Whether a span's prompt was a registered version when the span was stored: registered,
 * template_mismatch (the version is registered with another template) or unregistered; '' when the
 * span carries no prompt, or was stored without being classified (before the column existed).
 */
export type StoredRegistration = 'registered' | 'template_mismatch' | 'unregistered' | '';

/** One span's lineage as the store answers lookups. */
export interface SpanLineage {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  spanName: string;
  serviceName: string;
  /** ISO-8601 with nanoseconds, UTC. */
  timestamp: string;
  durationNs: string;
  lineage: ResolvedLineage;
  registration: StoredRegistration;
}

export interface StoredSpanDetail extends SpanLineage {
  spanKind: string;
  statusCode: string;
  statusMessage: string;
  scopeName: string;
  scopeVersion: string;
  attributes: Map<string, string>;
  resourceAttributes: Map<string, string>;
  events: Array<{ timestamp: string; name: string; attributes: Map<string, string> }>;
}

/** A batch's spans, ready to write. */
export interface StagedSpans {
  /** Stores them; `batchToken` makes a retried write of the same batch a no-op. After a failure, call it again to retry. */
  write(batchToken: string): Promise<void>;
}

/**
 * A batch's spans encoded for the store, by its encoder module (below), on whichever thread: the
 * rows as bytes, and what else the store's write needs to know of them, as plain data that a
 * structured clone carries between threads.
 */
export interface EncodedSpans {
  spans: number;
  rows: Uint8Array;
  facts: unknown;
}

/** What a span store's encoder module exports: pure work, no engine, safe in a worker thread. */
export type SpanEncoder = (projectId: string, spans: readonly ResolvedSpan[]) => Promise<EncodedSpans>;

/** What ingest needs of the span store. */
export interface SpanSink extends StoreLifecycle {
  /**
   * The URL of a module exporting `encodeSpans: SpanEncoder`: the CPU work of a write, which the
   * writer runs in its preparation thread, for the next batch while the store takes the current one.
   */
  readonly encoderModule: string;
  /** Makes encoded spans ready to write. Nothing is stored until `write` is called. */
  stageEncoded(projectId: string, encoded: EncodedSpans): StagedSpans;
  /** Encodes on this thread and stages: stageEncoded of the encoder module's encodeSpans. */
  stageSpans(projectId: string, spans: readonly ResolvedSpan[]): Promise<StagedSpans>;
  /** Writes new revisions of stored spans whose inherited lineage changed. */
  applyFixups(projectId: string, fixups: readonly LineageFixup[], batchToken: string): Promise<void>;
  /** The stored nodes of these traces, for lineage resolution. */
  loadStoredNodes(projectId: string, traceIds: readonly string[]): Promise<StoredNode[]>;
}

/** What the API asks of the span store. */
export interface SpanQueries extends StoreLifecycle {
  findByResponseId(projectId: string, responseId: string): Promise<SpanLineage[]>;
  findBySpanId(projectId: string, spanId: string): Promise<SpanLineage[]>;
  findByTraceId(projectId: string, traceId: string): Promise<SpanLineage[]>;
  /** Every span of a trace with its attributes, oldest first. */
  getTraceDetail(projectId: string, traceId: string): Promise<StoredSpanDetail[]>;
}

/** Rows removed by a deletion request, by table (every table of span rows, 0 where it held none). */
export type TraceRowsDeleted = ReadonlyMap<string, number>;

/** Retention and deletion requests: how long the span store keeps a project's rows, and removing one trace's. */
export interface SpanRetentionStore {
  /**
   * Makes the store expire each project's span rows (every table that holds them) older than its
   * number of days; a project not named keeps them. The whole set each time; idempotent, and cheap
   * when nothing changed.
   */
  applySpanRetention(rules: ReadonlyMap<string, number>): Promise<void>;
  /** The traces that have a span of this conversation, in the project. */
  traceIdsOfConversation(projectId: string, conversationId: string): Promise<string[]>;
  /** Removes every row of these traces of the project, from every table of span rows. */
  deleteTraces(projectId: string, traceIds: readonly string[]): Promise<TraceRowsDeleted>;
}
