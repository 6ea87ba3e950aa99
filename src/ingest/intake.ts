import type { DecodedExport } from '../domain/span.ts';
import { BadRequestError, UnavailableError } from '../common/errors.ts';
import { MalformedRequestError } from './otlp/convert.ts';
import { decodeJsonExport } from './otlp/decode-json.ts';
import type { OtlpEncoding } from './otlp/otlp-answers.ts';
import { scanProtobufExport } from './otlp/scan-protobuf.ts';
import { startWindowAt, type SpanTimeWindow } from './otlp/span-rules.ts';
import { RECORD_JSON, RECORD_PROTOBUF, type RecordKind, type Spool } from './spool.ts';
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
    if (this.bytes >= this.max) throw new UnavailableError(`the receiver is busy with ${this.bytes} bytes of requests; retry shortly`, 1, 429);
  }

  /** What one request holds of the budget: taken as it arrives, given back at once with release(). */
  hold(): HeldBytes {
    return new HeldBytes(this);
  }
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
}

/** What an accepted export answers: the spans refused (partial success) and why, in one message. */
export interface IntakeResult {
  rejected: number;
  message: string;
}

/**
 * Checks a (decompressed) export body and appends it to the spool; resolves once it is durable.
 * Protobuf is checked, not decoded: the scan refuses what the writer could not decode and counts
 * what it will refuse, and the writer decodes the spooled bytes once. JSON is decoded here and
 * handed to the writer decoded. A malformed body is a BadRequestError.
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
      checked = { spans: decoded.spans.length, rejected: decoded.rejected, rejectionReasons: decoded.rejectionReasons, attachment: { projectId, export: decoded } };
    }
  } catch (err) {
    if (err instanceof MalformedRequestError) throw new BadRequestError(err.message);
    if (err instanceof RangeError) throw new BadRequestError('the request is nested too deeply to decode');
    throw err;
  }
  if (checked.spans > 0) await deps.spool.append(RECORD_KIND[encoding], projectId, body, checked.attachment, receivedAtMs);
  return { rejected: checked.rejected, message: checked.rejected > 0 ? `rejected ${checked.rejected} span(s): ${checked.rejectionReasons.join('; ')}` : '' };
}
