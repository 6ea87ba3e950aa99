import type { LineageFixup, ResolvedSpan, StoredNode } from '../domain/stored-span.ts';
import type { ResolvedLineage } from '../domain/lineage.ts';
import type { PingResult } from './lifecycle.ts';

// The span store: one row a span, with the resolved lineage beside the OpenTelemetry columns.
// Adapters: ClickHouse SQL on the in-process engine (chdb) or on a server; the SQL is the same.

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
  /** What the collector found when it stored the span: registered, template_mismatch, unregistered, or '' (no prompt). */
  registration: string;
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

/** What prepareSpans made of a batch; only the store that made it reads it. */
export interface PreparedSpans {
  readonly spans: readonly ResolvedSpan[];
}

export interface SpanStore {
  /** A name for logs and health answers, e.g. "clickhouse (embedded)". */
  readonly backend: string;
  /** Applies schema migrations not yet applied. Safe to call at every start. */
  migrate(): Promise<void>;
  /**
   * Optional: the CPU work of writing these spans (encoding rows), done ahead — while an earlier
   * batch is being written — and handed to writeSpans with the same spans.
   */
  prepareSpans?(projectId: string, spans: readonly ResolvedSpan[]): Promise<PreparedSpans>;
  /** Writes spans; `batchToken` makes a retried write of the same batch a no-op. */
  writeSpans(projectId: string, spans: readonly ResolvedSpan[], batchToken: string, prepared?: PreparedSpans): Promise<void>;
  /** Writes new revisions of stored spans whose inherited lineage changed. */
  applyFixups(projectId: string, fixups: readonly LineageFixup[], batchToken: string): Promise<void>;
  /** The stored nodes of these traces, for lineage resolution. */
  loadStoredNodes(projectId: string, traceIds: readonly string[]): Promise<StoredNode[]>;
  findByResponseId(projectId: string, responseId: string): Promise<SpanLineage[]>;
  findBySpanId(projectId: string, spanId: string): Promise<SpanLineage[]>;
  findByTraceId(projectId: string, traceId: string): Promise<SpanLineage[]>;
  /** Every span of a trace with its attributes, oldest first. */
  getTraceDetail(projectId: string, traceId: string): Promise<StoredSpanDetail[]>;
  countSpans(projectId: string): Promise<number>;
  ping(): Promise<PingResult>;
  close(): Promise<void>;
}
