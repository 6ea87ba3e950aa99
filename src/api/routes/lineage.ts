import { provenanceByResponseId, provenanceBySpanId, provenanceByTraceId, traceDetail } from '../controllers/provenance.ts';
import { errorAnswer, provenanceAnswer, provenanceQuery, traceAnswer, traceParams } from '../schemas.ts';
import { route } from '../route.ts';

// Spans in, lineage out: the OTLP receiver, and which prompt version produced a response.

const err = (description: string) => ({ description, schema: errorAnswer });
const rpcStatus = (description: string) => ({ description: `${description} (google.rpc.Status)` });

export const lineageRoutes = [
  route({
    method: 'post',
    path: '/v1/traces',
    access: 'ingest',
    what: 'send spans',
    tag: 'ingest',
    summary: 'Receive spans over OTLP/HTTP (protobuf or JSON, gzip accepted)',
    description:
      'Answers 200 only once the request is durable on disk. 400 for malformed data, 413 above 20 MiB after decompression, ' +
      '415 for another content type or encoding, 429 or 503 with Retry-After when full. Individually bad spans are reported as partial success.',
    rawBody: {
      'application/x-protobuf': { schema: { type: 'string', contentMediaType: 'application/x-protobuf' } },
      'application/json': { schema: { type: 'object', description: 'OTLP/JSON ExportTraceServiceRequest' } },
    },
    otlpErrors: true,
    responses: {
      '200': { description: 'Accepted (ExportTraceServiceResponse, possibly with partialSuccess)' },
      '400': rpcStatus('Malformed request'),
      '401': rpcStatus('No key, or an unknown, revoked or expired one'),
      '403': rpcStatus('The key may not send spans'),
      '413': rpcStatus('Body too large'),
      '415': rpcStatus('Unsupported content type or encoding'),
      '429': rpcStatus('Busy; retry after the Retry-After header'),
      '503': rpcStatus('Full; retry after the Retry-After header'),
    },
    handle: (ctx, s) => s.receiveTraces(ctx.req, ctx.res),
  }),
  route({
    method: 'get',
    path: '/v1/provenance',
    access: 'read',
    what: 'read lineage',
    tag: 'lineage',
    summary: 'Which prompt version, model, datasets and app version produced a response',
    query: provenanceQuery,
    responses: {
      '200': { description: 'The lineage', schema: provenanceAnswer },
      '400': err('No key given, or more than one, or a malformed one'),
      '404': err('Nothing with that id has been received'),
    },
    handle: async (ctx, s) => {
      const q = ctx.query;
      const deps = { spans: s.spans, catalog: s.catalog };
      const answer =
        q.response_id !== undefined
          ? await provenanceByResponseId(deps, ctx.project, q.response_id)
          : q.trace_id !== undefined
            ? await provenanceByTraceId(deps, ctx.project, q.trace_id)
            : await provenanceBySpanId(deps, ctx.project, q.span_id!);
      ctx.res.json(answer);
    },
  }),
  route({
    method: 'get',
    path: '/v1/traces/{traceId}',
    access: 'read',
    what: 'read lineage',
    tag: 'lineage',
    summary: 'Every span of a trace with its attributes and lineage',
    params: traceParams,
    responses: { '200': { description: 'The trace', schema: traceAnswer }, '400': err('Malformed trace id'), '404': err('Unknown trace') },
    handle: async (ctx, s) => {
      ctx.res.json(await traceDetail({ spans: s.spans, catalog: s.catalog }, ctx.project, ctx.params.traceId));
    },
  }),
];
