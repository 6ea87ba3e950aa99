import type { Request, Response } from 'express';
import { gunzip, inflate } from 'node:zlib';
import { promisify } from 'node:util';
import { BadRequestError, PayloadTooLargeError, PromptlineError, UnavailableError, UnsupportedMediaTypeError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { IngestMetrics } from '../common/metrics.ts';
import { intakeExport, refusalReasonOf, type HeldBytes, type InFlightBytes } from './intake.ts';
import { OTLP_LIMITS } from './otlp/limits.ts';
import { otlpEncodingOf, sendOtlpFailure, sendOtlpSuccess, type OtlpEncoding } from './otlp/otlp-answers.ts';
import type { SpanTimeWindow } from './otlp/span-rules.ts';
import type { Spool } from './spool.ts';

// POST /v1/traces: the OTLP/HTTP receiver. It answers as the OTLP specification says — 400 for
// bad data, 413 above 20 MiB after decompression, 415 for an unknown content type or encoding,
// 503 with Retry-After when the spool is full, partial success for individually bad spans — in
// the request's own content type (otlp/otlp-answers.ts). A 200 means the request is on disk
// (see spool.ts). The body is checked and spooled as the OTLP/gRPC receiver does (intake.ts).

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

export interface ReceiverDeps {
  spool: Spool;
  logger: Logger;
  /** The project a request's spans belong to. */
  projectOf: (req: Request) => string;
  /** The id the API gave the request (its X-Request-Id): a failure's message names it. */
  requestIdOf: (res: Response) => string;
  /** Request bytes (raw and decompressed) held at once before new requests get 429; shared with the gRPC receiver. */
  inFlight: InFlightBytes;
  /** How far before and after its receipt a span may start (span-rules.ts); the writer judges the spooled request by the same time. */
  spanTimeWindow: SpanTimeWindow;
  /** The time of receipt, in milliseconds since the epoch. */
  now?: () => number;
  /** Where spans and refusals are counted (transport http). */
  metrics?: IngestMetrics;
}

/** The handler of POST /v1/traces; the API declares the route (src/api/routes/lineage.ts). */
export function createOtlpReceiver(deps: ReceiverDeps): (req: Request, res: Response) => Promise<void> {
  const intake = { spool: deps.spool, spanTimeWindow: deps.spanTimeWindow, now: deps.now ?? Date.now, metrics: deps.metrics, transport: 'http' as const };
  return async (req, res) => {
    const encoding = otlpEncodingOf(req.headers['content-type']);
    // What this request holds of the budget: counted as each chunk arrives (a body still being read
    // takes memory too), given back all at once when the request is done, however it ends.
    const budget = deps.inFlight.hold();
    try {
      if (!encoding) {
        throw new UnsupportedMediaTypeError(
          `unsupported content type "${req.headers['content-type'] ?? ''}": send application/x-protobuf or application/json`,
        );
      }
      // Bodies being read and decoded take memory until they are in the spool: past a budget, the
      // client is asked to come back (429 with Retry-After) rather than the process growing.
      deps.inFlight.admit();
      const raw = await readBody(req, OTLP_LIMITS.maxBodyBytes, budget);
      const body = await decompress(raw, (req.headers['content-encoding'] ?? '').trim().toLowerCase());
      if (body !== raw) budget.take(body.length);
      const { rejected, message } = await intakeExport(intake, encoding, body, deps.projectOf(req));
      sendOtlpSuccess(res, encoding, rejected, message);
    } catch (err) {
      deps.metrics?.requestRefused('http', refusalReasonOf(err));
      sendFailure(req, res, encoding, err, deps);
    } finally {
      budget.release();
    }
  };
}

const DRAIN_MAX_BYTES = 32 * 1024 * 1024;
const DRAIN_MAX_MS = 30_000;

function drainThenClose(req: Request): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > OTLP_LIMITS.maxBodyBytes + DRAIN_MAX_BYTES) {
    req.res?.once('finish', () => req.destroy());
    return;
  }
  let drained = 0;
  const timer = setTimeout(() => req.destroy(), DRAIN_MAX_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_MAX_BYTES) req.destroy();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/**
 * Reads the body, refusing (413) what passes `limit` bytes. A body somewhat over the limit is read
 * to its end (and dropped) before the answer, since most clients read the answer only once they
 * have sent everything; past DRAIN_MAX_BYTES more, or a declared length beyond that, the answer
 * comes at once and the connection is closed. Every chunk kept is counted in `budget` as it arrives
 * (and given back when a body over the limit is dropped); the caller gives back the rest.
 */
function readBody(req: Request, limit: number, budget: HeldBytes): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit + DRAIN_MAX_BYTES) {
    return Promise.reject(new PayloadTooLargeError(`the request body is ${declared} bytes; the limit is ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    let settled = false;
    const tooLarge = () =>
      new PayloadTooLargeError(Number.isFinite(declared) && declared > limit ? `the request body is ${declared} bytes; the limit is ${limit} bytes` : `the request body is over the limit of ${limit} bytes`);
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        if (!over) budget.give(size - chunk.length);
        over = true;
        chunks.length = 0;
        if (size > limit + DRAIN_MAX_BYTES) {
          settled = true;
          reject(tooLarge());
        }
        return;
      }
      chunks.push(chunk);
      budget.take(chunk.length);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      if (over || (Number.isFinite(declared) && declared > limit)) reject(tooLarge());
      else resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (settled) return;
      settled = true;
      reject(new BadRequestError(`the request body could not be read: ${err.message}`));
    });
    // A client gone mid-body: settled here at the latest, so what it held is given back.
    req.on('close', () => {
      if (settled) return;
      settled = true;
      reject(new BadRequestError('the connection closed before the request body arrived'));
    });
  });
}

async function decompress(raw: Buffer, contentEncoding: string): Promise<Buffer> {
  if (contentEncoding === '' || contentEncoding === 'identity') return raw;
  const fn = contentEncoding === 'gzip' || contentEncoding === 'x-gzip' ? gunzipAsync : contentEncoding === 'deflate' ? inflateAsync : null;
  if (!fn) throw new UnsupportedMediaTypeError(`unsupported content encoding "${contentEncoding}": send gzip or no encoding`);
  try {
    return await fn(raw, { maxOutputLength: OTLP_LIMITS.maxBodyBytes });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new PayloadTooLargeError(`the request body is over the limit of ${OTLP_LIMITS.maxBodyBytes} bytes after decompression`);
    }
    throw new BadRequestError(`the ${contentEncoding} body could not be decompressed: ${e.message}`);
  }
}

function sendFailure(req: Request, res: Response, encoding: OtlpEncoding | undefined, err: unknown, { logger, requestIdOf }: Pick<ReceiverDeps, 'logger' | 'requestIdOf'>): void {
  const known = err instanceof PromptlineError && err.operational;
  const status = known ? err.status : 500;
  const message = known ? err.message : 'internal error while receiving spans';
  if (!known) logger.error('receiver: unexpected failure', { error: err as Error });
  if (res.headersSent) return;
  if (err instanceof UnavailableError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
  if (!req.complete) {
    // Answered before the body was read (too large, wrong type, busy). Most clients read the answer
    // only once they have sent their body, so the rest is read and dropped — up to a bound, past
    // which (or past a declared length beyond it) the connection is cut.
    res.setHeader('Connection', 'close');
    drainThenClose(req);
  }
  sendOtlpFailure(res, encoding, status, message, requestIdOf(res));
}
