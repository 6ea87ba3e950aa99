import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// The figures GET /metrics shows, in Prometheus's text format. One registry per server (no
// global default registry: two servers in one process count apart). The parts that move a figure
// are handed a narrow sink (IngestMetrics, StoreMetrics, AccessMetrics, ApiMetrics) and work
// without one; figures that are state (the spool's depth, the writer's lag) are read at scrape
// time from what those parts already keep. Every label takes values from a bounded set.

export type Transport = 'http' | 'grpc';

/** Why an OTLP export request, or the spans in it, were refused. */
export type OtlpRefusalReason =
  | 'invalid_span'
  | 'malformed'
  | 'unauthenticated'
  | 'forbidden'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'busy'
  | 'spool_full'
  | 'unavailable'
  | 'internal';

/** What the OTLP receivers report (src/ingest/intake.ts, receiver.ts, grpc-receiver.ts). */
export interface IngestMetrics {
  /** Spans in an export that was read and checked (those refused one by one included). */
  spansReceived(transport: Transport, spans: number): void;
  /** Spans of an export answered with success: on disk in the spool. */
  spansAcknowledged(transport: Transport, spans: number): void;
  spansRefused(transport: Transport, reason: OtlpRefusalReason, spans: number): void;
  /** An export refused whole (its spans, when they were counted at all, are also refused). */
  requestRefused(transport: Transport, reason: OtlpRefusalReason): void;
}

export type StoreName = 'spans' | 'graph' | 'registry' | 'analytics';

/** What the writer reports of each call it makes to a store (src/ingest/writer/store-retry.ts). */
export interface StoreMetrics {
  /** One attempt of a store call: how long it took and whether it failed. */
  storeCall(store: StoreName, operation: string, seconds: number, failed: boolean): void;
}

export type AuthFailureReason = 'missing_key' | 'malformed_header' | 'invalid_key' | 'expired' | 'revoked';
export type RateLimitKind = 'api' | 'ingest' | 'auth';

/** What authentication and rate limiting report (src/governance/access.ts). */
export interface AccessMetrics {
  authFailed(reason: AuthFailureReason): void;
  rateLimited(kind: RateLimitKind): void;
}

/** What the API reports of each answered request; `route` is the declared path template, or `unmatched`. */
export interface ApiMetrics {
  request(method: string, route: string, status: number, seconds: number): void;
}

/** What the lineage rollup reports of each round (src/impact/lineage-rollup.ts). */
export interface RollupMetrics {
  rollupRound(minutes: number, pending: number, seconds: number, failed: boolean): void;
}

/** State read at scrape time. */
interface SpoolFigures {
  pendingBytes: number;
  pendingRecords: number;
}
interface WriterFigures {
  writtenSpans: number;
  deadLettered: number;
  /** Seconds since the oldest record not yet in the stores was spooled; 0 when none waits. */
  lagSeconds: number;
}

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class PromptlineMetrics implements IngestMetrics, StoreMetrics, AccessMetrics, ApiMetrics, RollupMetrics {
  readonly registry = new Registry();
  private readonly received: Counter<'transport'>;
  private readonly acknowledged: Counter<'transport'>;
  private readonly refused: Counter<'transport' | 'reason'>;
  private readonly requestsRefused: Counter<'transport' | 'reason'>;
  private readonly storeSeconds: Histogram<'store' | 'operation'>;
  private readonly storeFailures: Counter<'store' | 'operation'>;
  private readonly authFailures: Counter<'reason'>;
  private readonly rateLimits: Counter<'kind'>;
  private readonly apiSeconds: Histogram<'method' | 'route' | 'status'>;
  private readonly rolledMinutes: Counter;
  private readonly rollupFailures: Counter;
  private readonly rollupPending: Gauge;
  private readonly rollupSeconds: Histogram;
  private spool: (() => SpoolFigures) | null = null;
  private writer: (() => WriterFigures) | null = null;

  /** `processMetrics`: also prom-client's process figures (CPU, memory, event loop, GC), on this registry. */
  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.received = new Counter({ name: 'promptline_spans_received_total', help: 'Spans in OTLP export requests read and checked, refused ones included.', labelNames: ['transport'], registers });
    this.acknowledged = new Counter({ name: 'promptline_spans_acknowledged_total', help: 'Spans answered with success: durable in the spool.', labelNames: ['transport'], registers });
    this.refused = new Counter({ name: 'promptline_spans_refused_total', help: 'Spans refused, one by one (invalid_span) or with their request.', labelNames: ['transport', 'reason'], registers });
    this.requestsRefused = new Counter({ name: 'promptline_otlp_requests_refused_total', help: 'OTLP export requests refused whole, by reason.', labelNames: ['transport', 'reason'], registers });
    // collect() runs with the metric as `this`: the figures are read through these.
    const spool = () => this.spool?.();
    const writer = () => this.writer?.();
    new Counter({
      name: 'promptline_spans_stored_total',
      help: 'Spans written to the span store by the writer.',
      registers,
      collect() {
        const w = writer();
        if (!w) return;
        this.reset();
        this.inc(w.writtenSpans);
      },
    });
    new Gauge({
      name: 'promptline_spool_bytes',
      help: 'Bytes of acknowledged requests in the spool not yet in the stores.',
      registers,
      collect() {
        const figures = spool();
        if (figures) this.set(figures.pendingBytes);
      },
    });
    new Gauge({
      name: 'promptline_spool_records',
      help: 'Acknowledged requests in the spool not yet in the stores.',
      registers,
      collect() {
        const figures = spool();
        if (figures) this.set(figures.pendingRecords);
      },
    });
    new Gauge({
      name: 'promptline_writer_lag_seconds',
      help: 'Age of the oldest spooled request not yet in the stores; 0 when the writer has caught up.',
      registers,
      collect() {
        const w = writer();
        if (w) this.set(w.lagSeconds);
      },
    });
    new Counter({
      name: 'promptline_dead_letters_total',
      help: 'Requests the stores refused for good, kept in the dead-letter folder.',
      registers,
      collect() {
        const w = writer();
        if (!w) return;
        this.reset();
        this.inc(w.deadLettered);
      },
    });
    this.storeSeconds = new Histogram({ name: 'promptline_store_call_duration_seconds', help: 'Attempts of the writer\'s store calls, by store and operation.', labelNames: ['store', 'operation'], buckets: LATENCY_BUCKETS, registers });
    this.storeFailures = new Counter({ name: 'promptline_store_call_failures_total', help: 'Failed attempts of the writer\'s store calls (each is retried or refused).', labelNames: ['store', 'operation'], registers });
    this.authFailures = new Counter({ name: 'promptline_auth_failures_total', help: 'Requests refused 401 (API and OTLP), by reason.', labelNames: ['reason'], registers });
    this.rolledMinutes = new Counter({ name: 'promptline_rollup_minutes_total', help: 'Minutes of responses rolled up by lineage value (a minute is rolled again when it changes).', registers });
    this.rollupFailures = new Counter({ name: 'promptline_rollup_failures_total', help: 'Rollup rounds that failed (tried again next interval; what-changed reads those minutes from the spans meanwhile).', registers });
    this.rollupPending = new Gauge({ name: 'promptline_rollup_pending_minutes', help: 'Changed minutes left for the next rollup round, after the last one.', registers });
    this.rollupSeconds = new Histogram({ name: 'promptline_rollup_round_seconds', help: 'How long a rollup round took.', buckets: LATENCY_BUCKETS, registers });
    this.rateLimits = new Counter({ name: 'promptline_rate_limited_total', help: 'Requests refused 429 by a rate limit: api, ingest (OTLP exports), auth (failed keys per address).', labelNames: ['kind'], registers });
    this.apiSeconds = new Histogram({ name: 'promptline_http_request_duration_seconds', help: 'HTTP requests answered, by method, declared route and status.', labelNames: ['method', 'route', 'status'], buckets: LATENCY_BUCKETS, registers });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'promptline_' });
  }

  /** The spool's state, read at each scrape. */
  watchSpool(figures: () => SpoolFigures): void {
    this.spool = figures;
  }

  /** The writer's state, read at each scrape. */
  watchWriter(figures: () => WriterFigures): void {
    this.writer = figures;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  spansReceived(transport: Transport, spans: number): void {
    this.received.inc({ transport }, spans);
  }

  spansAcknowledged(transport: Transport, spans: number): void {
    this.acknowledged.inc({ transport }, spans);
  }

  spansRefused(transport: Transport, reason: OtlpRefusalReason, spans: number): void {
    if (spans > 0) this.refused.inc({ transport, reason }, spans);
  }

  requestRefused(transport: Transport, reason: OtlpRefusalReason): void {
    this.requestsRefused.inc({ transport, reason });
  }

  storeCall(store: StoreName, operation: string, seconds: number, failed: boolean): void {
    this.storeSeconds.observe({ store, operation }, seconds);
    if (failed) this.storeFailures.inc({ store, operation });
  }

  authFailed(reason: AuthFailureReason): void {
    this.authFailures.inc({ reason });
  }

  rateLimited(kind: RateLimitKind): void {
    this.rateLimits.inc({ kind });
  }

  rollupRound(minutes: number, pending: number, seconds: number, failed: boolean): void {
    if (failed) this.rollupFailures.inc();
    else {
      this.rolledMinutes.inc(minutes);
      this.rollupPending.set(pending);
    }
    this.rollupSeconds.observe(seconds);
  }

  request(method: string, route: string, status: number, seconds: number): void {
    this.apiSeconds.observe({ method, route, status: String(status) }, seconds);
  }
}
