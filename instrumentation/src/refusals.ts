import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

// An export Promptline refuses for the key (401: no key, or an unknown, revoked or expired one;
// 403: a key whose role may not send spans, a read key say) is not a passing outage: every span is
// dropped until someone changes the key, and the SDK says nothing unless the app set a diag logger.
// So the first refusal is reported once, where it will be seen, and the rest are not repeated.

const PREFIX = '@promptline/instrumentation:';

/** 401 or 403 when `err` (or every error of a list, as TracerProvider.forceFlush rejects) is a refusal of the key. */
export function refusalStatus(err: unknown): 401 | 403 | null {
  if (Array.isArray(err)) {
    const statuses = err.map(refusalStatus);
    return statuses.length > 0 && statuses.every((s) => s !== null) ? statuses[0]! : null;
  }
  // The OTLP exporters' OTLPExporterError carries the HTTP status as `code`.
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 401 || code === 403 ? code : null;
}

function refusalMessage(status: 401 | 403, url: string): string {
  const why = status === 401 ? 'the key is missing, unknown, revoked or expired' : 'this key may not send spans';
  return (
    `${PREFIX} Promptline refused the spans sent to ${url} (HTTP ${status}: ${why}). Spans are being dropped: ` +
    'use a key with role app or ingest (register({ apiKey }) or PROMPTLINE_API_KEY). Reported once; further refusals are not logged.'
  );
}

/**
 * Whether the app registered a diag logger. The API has no getter for it; every copy of
 * @opentelemetry/api 1.x keeps its globals under this well-known symbol, so that copies agree.
 */
function hasDiagLogger(): boolean {
  const globals = (globalThis as Record<symbol, { diag?: unknown } | undefined>)[Symbol.for('opentelemetry.js.api.1')];
  return globals?.diag !== undefined;
}

/** Through the app's diag logger when it has one; on stderr otherwise, since diag would drop it. */
function reportLoudly(message: string): void {
  try {
    if (hasDiagLogger()) diag.error(message);
    else console.error(message);
  } catch {
    // a broken logger must not break the app
  }
}

/**
 * Wraps an exporter: its results pass through unchanged, and the first refusal of a run of
 * refusals is reported. A success ends the run, so a key that is refused again later (revoked after
 * working) is reported again.
 */
export class RefusalReportingExporter implements SpanExporter {
  private readonly inner: SpanExporter;
  private readonly url: string;
  private reported = false;

  constructor(inner: SpanExporter, url: string) {
    this.inner = inner;
    this.url = url;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      try {
        if (result.code === ExportResultCode.SUCCESS) this.reported = false;
        else {
          const status = refusalStatus(result.error);
          if (status !== null && !this.reported) {
            this.reported = true;
            reportLoudly(refusalMessage(status, this.url));
          }
        }
      } catch {
        // reporting must never keep the result from the processor
      }
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
