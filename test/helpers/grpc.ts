import { Client, compressionAlgorithms, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { decodeGrpcStatusDetails, decodeProtobufExportResponse } from '../../src/ingest/otlp/otlp-answers.ts';

// A raw OTLP/gRPC client: sends the bytes it is given to TraceService/Export (no encoding by
// grpc-js, as the receiver takes them), and reads the answer as an exporter does — the
// ExportTraceServiceResponse of an OK, or the status code, message and the google.rpc.Status of
// grpc-status-details-bin (with its RetryInfo) of a failure; and, either way, the request id the
// server sent back in its x-request-id trailer.

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const identity = (b: Buffer): Buffer => b;

export type GrpcExportAnswer =
  | { ok: true; rejectedSpans: number; errorMessage: string; requestId: string | undefined }
  | { ok: false; code: number; message: string; details: ReturnType<typeof decodeGrpcStatusDetails> | undefined; requestId: string | undefined };

const requestIdIn = (trailers: Metadata | undefined): string | undefined => {
  const [id] = trailers?.get('x-request-id') ?? [];
  return typeof id === 'string' ? id : undefined;
};

export interface RawGrpcExporter {
  export(body: Uint8Array, metadata?: Record<string, string | string[]>): Promise<GrpcExportAnswer>;
  close(): void;
}

/** A client of one channel to `address` (host:port), gzip-compressing its messages when asked. */
export function rawGrpcExporter(address: string, opts: { gzip?: boolean } = {}): RawGrpcExporter {
  const client = new Client(address, credentials.createInsecure(), opts.gzip ? { 'grpc.default_compression_algorithm': compressionAlgorithms.gzip } : {});
  return {
    export(body, metadata = {}) {
      const md = new Metadata();
      for (const [k, v] of Object.entries(metadata)) for (const one of Array.isArray(v) ? v : [v]) md.add(k, one);
      return new Promise((resolve) => {
        // grpc-js calls back with the answer, then emits the status with its trailers: resolved then.
        let answer: Omit<Extract<GrpcExportAnswer, { ok: true }>, 'requestId'> | Omit<Extract<GrpcExportAnswer, { ok: false }>, 'requestId'>;
        const call = client.makeUnaryRequest(EXPORT_PATH, identity, identity, Buffer.from(body), md, { deadline: Date.now() + 60_000 }, (err: ServiceError | null, response?: Buffer) => {
          if (err) {
            const bin = err.metadata?.get('grpc-status-details-bin')[0];
            answer = { ok: false, code: err.code, message: err.details, details: bin instanceof Buffer ? decodeGrpcStatusDetails(bin) : undefined };
          } else {
            answer = { ok: true, ...decodeProtobufExportResponse(response ?? Buffer.alloc(0)) };
          }
        });
        call.on('status', (s: { metadata: Metadata }) => resolve({ ...answer, requestId: requestIdIn(s.metadata) }));
      });
    },
    close: () => client.close(),
  };
}
