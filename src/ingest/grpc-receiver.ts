import { Metadata, Server, ServerCredentials, ServerInterceptingCall, status, type sendUnaryData, type ServerInterceptingCallInterface, type ServerInterceptor, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { PromptlineError, UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { IngestMetrics } from '../common/metrics.ts';
import { inRequest, requestIdFor } from '../common/request-context.ts';
import { ForbiddenError, isLoopbackHost } from '../governance/access.ts';
import { intakeExport, refusalReasonOf, type InFlightBytes } from './intake.ts';
import { OTLP_LIMITS } from './otlp/limits.ts';
import { encodeGrpcStatusDetails, encodeProtobufExportResponse, grpcCodeOf, withRequestId } from './otlp/otlp-answers.ts';
import type { SpanTimeWindow } from './otlp/span-rules.ts';
import type { Spool } from './spool.ts';

// OTLP/gRPC: opentelemetry.proto.collector.trace.v1.TraceService/Export, on its own port (4317 by
// default). The twin of the OTLP/HTTP receiver (receiver.ts): the same checks and the same spool
// (intake.ts), the same in-flight budget, the same keys and export rate (authorizeExport), and the
// same answers in gRPC's terms (otlp-answers.ts): OK with an ExportTraceServiceResponse (partial
// success naming the refused spans) only once the request is on disk; INVALID_ARGUMENT for
// malformed data; RESOURCE_EXHAUSTED above 20 MiB (grpc-js refuses the message, after
// decompression too, without inflating past the limit); UNAVAILABLE with a google.rpc.RetryInfo
// in grpc-status-details-bin when the spool is full or a key is over its rate;
// UNAUTHENTICATED / PERMISSION_DENIED for keys.
//
// As over HTTP, a call is checked before its message is read: an interceptor takes the key and the
// project from the metadata (and the in-flight budget's admission) before grpc-js starts reading
// the stream, and refuses the call there. The request is not decoded by grpc-js: the method's
// deserializer hands over the message bytes as they came, and those bytes go to the spool as an
// OTLP/HTTP protobuf body does.
//
// Every call has a request id, as an HTTP request does: the client's own `x-request-id` metadata
// when it is a plain token, else a new one. It comes back in the `x-request-id` trailer of every
// answer the receiver gives, in the message of every failure (google.rpc.Status has no field for
// it), and in every line logged while serving the call (`reqId`). A message grpc-js refuses itself
// (over 20 MiB) is answered by grpc-js, without it.

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const PROJECT_METADATA = 'x-promptline-project';
const REQUEST_ID_METADATA = 'x-request-id';
const identity = (b: Buffer): Buffer => b;

const TRACE_SERVICE: ServiceDefinition = {
  Export: {
    path: EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: 'export',
  },
};

/** The caller's key and project, as gRPC metadata carries them, and where the call came from. */
export interface ExportCaller {
  /** `authorization` metadata ("Bearer <key>"), the first value. */
  authorization: string | undefined;
  /** `x-promptline-project` metadata: every value sent (more than one is refused as a bad name). */
  project: string | string[] | undefined;
  /** The peer's IP address. */
  address: string | undefined;
}

export interface GrpcReceiverDeps {
  spool: Spool;
  logger: Logger;
  /** The receivers' shared in-flight byte budget. */
  inFlight: InFlightBytes;
  spanTimeWindow: SpanTimeWindow;
  /** Checks the caller as POST /v1/traces is checked; resolves to the project its spans go to. */
  authorize: (caller: ExportCaller) => Promise<string>;
  /** Authentication off (PROMPTLINE_DEV_NO_AUTH): only calls that name a loopback host (:authority) are served. */
  loopbackOnly: boolean;
  /** A connection with no call this long is closed. */
  idleTimeoutMs: number;
  now?: () => number;
  /** Where spans and refusals are counted (transport grpc). */
  metrics?: IngestMetrics;
}

export interface GrpcReceiver {
  /** The port it listens on (the one asked for, or the one the system chose for 0). */
  port: number;
  /** Stops taking calls and waits for those in flight (up to `graceMs`, then cuts them). */
  stop(graceMs?: number): Promise<void>;
}

/** A call that passed the check of its metadata: where its spans go, its request id, and when it began. */
interface AdmittedCall {
  project: string;
  requestId: string;
  startedMs: number;
}

/** Starts the OTLP/gRPC receiver on host:port. */
export async function startGrpcReceiver(deps: GrpcReceiverDeps, host: string, port: number): Promise<GrpcReceiver> {
  const admitted = new WeakMap<Metadata, AdmittedCall>();
  const server = new Server({
    // The 20 MiB limit of OTLP/HTTP: grpc-js answers RESOURCE_EXHAUSTED past it, for the length on
    // the wire and for the length a compressed message inflates to (it stops inflating there).
    'grpc.max_receive_message_length': OTLP_LIMITS.maxBodyBytes,
    'grpc.max_connection_idle_ms': deps.idleTimeoutMs,
    interceptors: [checkBeforeReading(deps, admitted)],
  });
  server.addService(TRACE_SERVICE, { Export: exportHandler(deps, admitted) });
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  let stopping: Promise<void> | null = null;
  return {
    port: bound,
    stop: (graceMs = 10_000) =>
      (stopping ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      })),
  };
}

/**
 * Checks a call on its metadata, before grpc-js reads its message (the handler starts the read only
 * once the metadata has passed here): a loopback :authority while authentication is off, the key
 * and project (authorize), and the in-flight budget's admission — in the order the HTTP API checks
 * them. A refused call is answered at once; an admitted one reaches the handler with its project
 * and request id (kept by its metadata, the object the handler receives as call.metadata).
 */
function checkBeforeReading(deps: GrpcReceiverDeps, admitted: WeakMap<Metadata, AdmittedCall>): ServerInterceptor {
  return (_method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            const startedMs = performance.now();
            const requestId = requestIdOf(metadata);
            inRequest(requestId, () => checkCall(deps, metadata, call)).then(
              (project) => {
                admitted.set(metadata, { project, requestId, startedMs });
                pass(metadata);
              },
              (err: unknown) => call.sendStatus(inRequest(requestId, () => failureOf(err, deps, requestId, startedMs))),
            );
          },
        }),
    });
}

/** The call's request id: its `x-request-id` metadata when that is one plain token (as over HTTP), else a new one. */
function requestIdOf(metadata: Metadata): string {
  const sent = metadata.get(REQUEST_ID_METADATA).filter((v): v is string => typeof v === 'string');
  return requestIdFor(sent.length === 1 ? sent[0] : undefined);
}

/** The trailers every answer carries: the call's request id. */
function trailersOf(requestId: string): Metadata {
  const metadata = new Metadata();
  metadata.set(REQUEST_ID_METADATA, requestId);
  return metadata;
}

async function checkCall(deps: GrpcReceiverDeps, metadata: Metadata, call: ServerInterceptingCallInterface): Promise<string> {
  if (deps.loopbackOnly && !isLoopbackHost(call.getHost())) throw new ForbiddenError(`authentication is off, so only loopback hosts are served, not "${call.getHost().slice(0, 100)}"`);
  const text = (key: string) => metadata.get(key).filter((v): v is string => typeof v === 'string');
  const projects = text(PROJECT_METADATA);
  const project = await deps.authorize({
    authorization: text('authorization')[0],
    project: projects.length === 0 ? undefined : projects.length === 1 ? projects[0] : projects,
    address: call.getConnectionInfo().remoteAddress,
  });
  // Messages being read and spooled take memory: past the budget, the client is asked to come back.
  deps.inFlight.admit();
  return project;
}

function exportHandler(deps: GrpcReceiverDeps, admitted: WeakMap<Metadata, AdmittedCall>): (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => void {
  const intake = { spool: deps.spool, spanTimeWindow: deps.spanTimeWindow, now: deps.now ?? Date.now, metrics: deps.metrics, transport: 'grpc' as const };
  return (call, callback) => {
    // The message, read whole by grpc-js, is held of the budget until it is in the spool.
    const budget = deps.inFlight.hold();
    const admission = admitted.get(call.metadata);
    const requestId = admission?.requestId ?? requestIdFor(undefined);
    const startedMs = admission?.startedMs ?? performance.now();
    const answer = async (): Promise<Buffer> => {
      budget.take(call.request.length);
      if (admission === undefined) throw new Error('a call reached the handler without passing the check of its metadata');
      const { rejected, message } = await intakeExport(intake, 'protobuf', call.request, admission.project);
      return Buffer.from(encodeProtobufExportResponse(rejected, message));
    };
    inRequest(requestId, answer).then(
      (response) => {
        budget.release();
        inRequest(requestId, () => logAnswered(deps.logger, status.OK, 200, startedMs));
        callback(null, response, trailersOf(requestId));
      },
      (err: unknown) => {
        budget.release();
        callback(inRequest(requestId, () => failureOf(err, deps, requestId, startedMs)));
      },
    );
  };
}

/**
 * One line a call once it is answered, as over HTTP: a refusal the client must change something
 * for (a 4xx over HTTP: bad data, a key, a size) at info, the rest at debug (an exporter's batches,
 * and its retries of a full spool, would fill the log).
 */
function logAnswered(logger: Logger, code: status, httpStatus: number, startedMs: number): void {
  const fields = { rpc: EXPORT_PATH, grpcStatus: status[code], ms: Math.round((performance.now() - startedMs) * 10) / 10 };
  if (httpStatus >= 400 && httpStatus < 500) logger.info('request refused', fields);
  else logger.debug('request served', fields);
}

/**
 * A failed export as gRPC answers it (and counts and logs it): the code of the same map as OTLP/HTTP,
 * the message with the call's request id, the google.rpc.Status in grpc-status-details-bin, and
 * the request id in the x-request-id trailer. Called in the call's request context.
 */
function failureOf(err: unknown, { logger, metrics }: { logger: Logger; metrics?: IngestMetrics }, requestId: string, startedMs: number): { code: status; details: string; metadata: Metadata } {
  metrics?.requestRefused('grpc', refusalReasonOf(err));
  const known = err instanceof PromptlineError && err.operational;
  const httpStatus = known ? err.status : 500;
  const message = withRequestId(known ? err.message : 'internal error while receiving spans', requestId);
  if (!known) logger.error('grpc receiver: unexpected failure', { error: err as Error });
  const retryAfter = err instanceof UnavailableError ? err.retryAfterSeconds : undefined;
  const code = grpcCodeOf(httpStatus, retryAfter);
  const metadata = trailersOf(requestId);
  metadata.set('grpc-status-details-bin', Buffer.from(encodeGrpcStatusDetails(code, message, retryAfter)));
  const grpcCode = grpcStatusOf(code);
  logAnswered(logger, grpcCode, httpStatus, startedMs);
  return { code: grpcCode, details: message, metadata };
}

/** The grpc-js status of a google.rpc.Code: the same numbers, looked up by name. */
function grpcStatusOf(code: number): status {
  const name = status[code] as keyof typeof status | undefined;
  return name === undefined ? status.INTERNAL : status[name];
}
