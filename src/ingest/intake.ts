import type { DecodedExport } from '../domain/span.ts';
import { BadRequestError, PromptlineError, UnavailableError } from '../common/errors.ts';
import type { IngestMetrics, OtlpRefusalReason, Transport } from '../common/metrics.ts';
import { MalformedRequestError } from './otlp/convert.ts';
import { decodeJsonExport } from './otlp/decode-json.ts';
import type { OtlpEncoding } from './otlp/otlp-answers.ts';
import { scanProtobufExport } from './otlp/scan-protobuf.ts';
import { startWindowAt, type SpanTimeWindow } from './otlp/span-rules.ts';
import { RECORD_JSON, RECORD_PROTOBUF, SpoolFullError, type RecordKind, type Spool } from './spool.ts';
import type { WriterAttachment } from './writer.ts';

// What both OTLP receivers do with an export once its body is in memory (receiver.ts for OTLP/HTTP,
// grpc-receiver.ts for OTLP/gRPC): the in-flight byte budget they share, and the one way a body is
// checked and spooled. A request is acknowledged only once `intakeExport` has returned: it is then
// on disk (see spool.ts).

const RECORD_KIND: Record<OtlpEncoding, RecordKind> = { protobuf: RECORD_PROTOBUF, json: RECORD_JSON };

/**
 * Request bytes (raw and decompressed) the receivers hold at once. One budget serves both
 * receivers of a process: a new request past it is asked to come back (429 over HTTP, UNAVAILABLE
 * over gRPC, with a retry delay) rather than the process growing.
 */
export class InFlightBytes {
  readonly max: number;
  bytes = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Refuses a new request once the budget is spent. */
  admit(): void {
    if (this.bytes >= this.max) throw new ReceiverBusyError(`the receiver is busy with ${this.bytes} bytes of requests; retry shortly`);
  }

  /** What one request holds of the budget: taken as it arrives, given back at once with release(). */
  hold(): HeldBytes {
    return new HeldBytes(this);
  }
}

/** The receivers' in-flight budget is spent: 429, as a rate limit answers, but no key's fault. */
class ReceiverBusyError extends UnavailableError {
  constructor(message: string) {
    super(message, 1, 429);
  }
}

/** Why an export was refused, in the bounded set /metrics labels refusals with. */
export function refusalReasonOf(err: unknown): OtlpRefusalReason {
  if (err instanceof ReceiverBusyError) return 'busy';
  if (err instanceof SpoolFullError) return 'spool_full';
  if (!(err instanceof PromptlineError) || !err.operational) return 'internal';
  const byStatus: Partial<Record<number, OtlpRefusalReason>> = { 400: 'malformed', 401: 'unauthenticated', 403: 'forbidden', 413: 'too_large', 415: 'unsupported_media_type', 429: 'rate_limited', 503: 'unavailable' };
  return byStatus[err.status] ?? 'internal';
}

/** Bytes one request holds of the receivers' budget. */
export class HeldBytes {
  private readonly budget: InFlightBytes;
  private held = 0;

  constructor(budget: InFlightBytes) {
    this.budget = budget;
  }

  take(n: number): void {
    this.held += n;
    this.budget.bytes += n;
  }

  give(n: number): void {
    this.held -= n;
    this.budget.bytes -= n;
  }

  /** Gives back all the request holds, however it ended. */
  release(): void {
    this.give(this.held);
  }
}

export interface IntakeDeps {
  spool: Spool;
  /** How far before and after its receipt a span may start (span-rules.ts); the writer judges the spooled request by the same time. */
  spanTimeWindow: SpanTimeWindow;
  /** The time of receipt, in milliseconds since the epoch. */
  now: () => number;
  /** Where the spans received, acknowledged and refused are counted, under `transport`. */
  metrics?: IngestMetrics;
  transport: Transport;
}

/** What an accepted export answers: the spans refused (partial success) and why, in one message. */
export interface IntakeResult {
  rejected: number;
  message: string;
}

/**
 * Checks a (decompressed) export body and appends it to the spool; resolves once it is durable.
 * Protobuf is checked, not decoded: the scan refuses what the writer could not decode and counts
 * what it will refuse, and the writer decodes the spooled bytes once. JSON is decoded here, to
 * count what it refuses, and handed to the writer as bytes too. A malformed body is a BadRequestError.
 */
export async function intakeExport(deps: IntakeDeps, encoding: OtlpEncoding, body: Buffer, projectId: string): Promise<IntakeResult> {
  let checked: { spans: number; rejected: number; rejectionReasons: string[]; attachment: WriterAttachment };
  const receivedAtMs = deps.now();
  const window = startWindowAt(receivedAtMs, deps.spanTimeWindow);
  try {
    if (encoding === 'protobuf') {
      const scan = scanProtobufExport(body, window);
      checked = { ...scan, attachment: { projectId, raw: body, spans: scan.spans, receivedAtMs } };
    } else {
      const decoded: DecodedExport = decodeJsonExport(body, window);
      checked = { spans: decoded.spans.length, rejected: decoded.rejected, rejectionReasons: decoded.rejectionReasons, attachment: { projectId, raw: body, spans: decoded.spans.length, receivedAtMs, kind: 'json' } };
    }
  } catch (err) {
    if (err instanceof MalformedRequestError) throw new BadRequestError(err.message);
    if (err instanceof RangeError) throw new BadRequestError('the request is nested too deeply to decode');
    throw err;
  }
  deps.metrics?.spansReceived(deps.transport, checked.spans + checked.rejected);
  deps.metrics?.spansRefused(deps.transport, 'invalid_span', checked.rejected);
  if (checked.spans > 0) {
    try {
      await deps.spool.append(RECORD_KIND[encoding], projectId, body, checked.attachment, receivedAtMs);
    } catch (err) {
      deps.metrics?.spansRefused(deps.transport, refusalReasonOf(err), checked.spans);
      throw err;
    }
  }
  deps.metrics?.spansAcknowledged(deps.transport, checked.spans);
  return { rejected: checked.rejected, message: checked.rejected > 0 ? `rejected ${checked.rejected} span(s): ${checked.rejectionReasons.join('; ')}` : '' };
}
