import { context, diag, DiagLogLevel, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Metadata } from '@grpc/grpc-js';
import { OTLPTraceExporter as OTLPGrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';

// A real OpenTelemetry SDK pipeline pointed at a server under test: TracerProvider ->
// BatchSpanProcessor -> OTLP/HTTP exporter (protobuf or JSON) or OTLP/gRPC exporter (plain or gzip). Spans leave only on flush(), so a
// test decides which spans travel together in one request.

export type OtlpEncoding = 'protobuf' | 'json';
/** How spans travel: OTLP/HTTP in an encoding, or OTLP/gRPC without or with gzip. */
export type OtlpTransport = OtlpEncoding | 'grpc' | 'grpc+gzip';
// The exporter's CompressionAlgorithm enum (of @opentelemetry/otlp-exporter-base, not a dependency of
// ours); its values are the strings 'gzip' and 'none'.
type GrpcCompression = NonNullable<NonNullable<ConstructorParameters<typeof OTLPGrpcTraceExporter>[0]>['compression']>;

type ExportResult = Parameters<Parameters<SpanExporter['export']>[1]>[0];

/** Passes spans to the real exporter and remembers what came of every request. */
class RecordingExporter implements SpanExporter {
  readonly inner: SpanExporter;
  requests = 0;
  readonly failures: string[] = [];

  constructor(inner: SpanExporter) {
    this.inner = inner;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.requests++;
    this.inner.export(spans, (result) => {
      // ExportResultCode.SUCCESS is 0 (@opentelemetry/core is not a dependency for one constant).
      if ((result.code as number) !== 0) this.failures.push(`export of ${spans.length} span(s) failed: ${String(result.error ?? 'unknown error')}`);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

const exporterWarnings: string[] = [];
let globalsRegistered = false;

/**
 * Registers an AsyncLocalStorage context manager on the context API (what startActiveSpan and
 * implicit parents need) and a diag logger that keeps the exporters' warnings, where a partial
 * success (spans the receiver refused) is reported. Returns the function that undoes both.
 */
export function registerOtelGlobals(): () => void {
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  const keep = (...args: unknown[]) => void exporterWarnings.push(args.map(String).join(' '));
  diag.setLogger({ error: keep, warn: keep, info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  globalsRegistered = true;
  return () => {
    context.disable();
    diag.disable();
    globalsRegistered = false;
  };
}

export interface Tracing {
  tracer: Tracer;
  /** Exports every ended span not yet exported (in one request), and fails if the receiver refused any. */
  flush(): Promise<void>;
  /** How many export requests went out so far. */
  requests(): number;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  encoding: OtlpTransport;
  /** The server's base URL; spans go to `${url}/v1/traces`. For OTLP/gRPC: the receiver's http://host:port. */
  url: string;
  /** Resource attributes; when absent the SDK's default resource (service.name "unknown_service:…") is used. */
  resource?: Record<string, string>;
  /** Request headers (an ingest key: `{ authorization: 'Bearer …' }`); gRPC metadata for OTLP/gRPC. */
  headers?: Record<string, string>;
}

function startTracing(opts: TracingOptions): Tracing {
  if (!globalsRegistered) throw new Error('call registerOtelGlobals() first (in beforeAll)');
  const grpc = opts.encoding === 'grpc' || opts.encoding === 'grpc+gzip';
  const endpoint = grpc ? opts.url : `${opts.url}/v1/traces`;
  const exporter = new RecordingExporter(grpc ? grpcExporter(opts) : opts.encoding === 'protobuf' ? new OTLPProtoTraceExporter({ url: endpoint, headers: opts.headers ?? {} }) : new OTLPJsonTraceExporter({ url: endpoint, headers: opts.headers ?? {} }));
  const provider = new TracerProvider({
    ...(opts.resource ? { resource: resourceFromAttributes(opts.resource) } : {}),
    // Only flush() exports: no timer-driven export splits or merges the requests a test plans.
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 3_600_000, maxExportBatchSize: 512 })],
  });
  let shutDown = false;
  return {
    tracer: provider.getTracer('promptline-conventions-test', '1.0.0'),
    async flush() {
      const warningsBefore = exporterWarnings.length;
      // A failed export also rejects forceFlush (with a list of errors); the recorded failure says more.
      const flushError = await provider.forceFlush().then(
        () => null,
        (err: unknown) => (Array.isArray(err) ? err : [err]).map((e) => (e instanceof Error ? e.message || e.name : String(e))).join('; ') || 'forceFlush failed',
      );
      const problems = [...exporter.failures.splice(0), ...exporterWarnings.slice(warningsBefore)];
      if (flushError !== null && problems.length === 0) problems.push(flushError);
      if (problems.length > 0) throw new Error(`the OTLP export to ${endpoint} did not succeed:\n${problems.join('\n')}`);
    },
    requests: () => exporter.requests,
    async shutdown() {
      if (shutDown) return;
      shutDown = true;
      await provider.shutdown();
    },
  };
}

function grpcExporter(opts: TracingOptions): SpanExporter {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(opts.headers ?? {})) metadata.set(k, v);
  return new OTLPGrpcTraceExporter({ url: opts.url, metadata, compression: (opts.encoding === 'grpc+gzip' ? 'gzip' : 'none') as unknown as GrpcCompression });
}

/** Runs `fn` with a tracing pipeline of its own and always shuts the pipeline down. */
export async function withTracing<T>(opts: TracingOptions, fn: (t: Tracing) => Promise<T>): Promise<T> {
  const t = startTracing(opts);
  try {
    return await fn(t);
  } finally {
    await t.shutdown();
  }
}
