import { z } from 'zod';
import * as s from './schemas.ts';

// The OpenAPI 3.1 document, generated from the same zod schemas the routers validate with.

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) } } });
const errorResponse = (description: string) => ({ description, ...json(s.errorAnswer) });

function queryParameters(schema: z.ZodObject) {
  return Object.entries(schema.shape).map(([name, field]) => ({
    name,
    in: 'query',
    required: !(field as z.ZodType).safeParse(undefined).success,
    description: (field as z.ZodType).description,
    schema: z.toJSONSchema(field as z.ZodType, { io: 'input', unrepresentable: 'any' }),
  }));
}

export function buildOpenApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Promptline',
      version,
      description: 'Prompt lineage and tracing: which prompt version produced a response, and what else it touched.',
    },
    paths: {
      '/v1/traces': {
        post: {
          summary: 'Receive spans over OTLP/HTTP (protobuf or JSON, gzip accepted)',
          description:
            'Answers 200 only once the request is durable on disk. 400 for malformed data, 413 above 20 MiB after decompression, ' +
            '415 for another content type or encoding, 503 with Retry-After when full. Individually bad spans are reported as partial success.',
          requestBody: {
            required: true,
            content: {
              'application/x-protobuf': { schema: { type: 'string', contentMediaType: 'application/x-protobuf' } },
              'application/json': { schema: { type: 'object', description: 'OTLP/JSON ExportTraceServiceRequest' } },
            },
          },
          responses: {
            '200': { description: 'Accepted (ExportTraceServiceResponse, possibly with partialSuccess)' },
            '400': { description: 'Malformed request (google.rpc.Status)' },
            '413': { description: 'Body too large (google.rpc.Status)' },
            '415': { description: 'Unsupported content type or encoding' },
            '503': { description: 'Full; retry after the Retry-After header' },
          },
        },
      },
      '/v1/provenance': {
        get: {
          summary: 'Which prompt version, model, datasets and app version produced a response',
          parameters: queryParameters(s.provenanceQuery),
          responses: {
            '200': { description: 'The lineage', ...json(s.provenanceAnswer) },
            '400': errorResponse('No key given, or more than one, or a malformed one'),
            '404': errorResponse('Nothing with that id has been received'),
          },
        },
      },
      '/v1/traces/{traceId}': {
        get: {
          summary: 'Every span of a trace with its attributes and lineage',
          parameters: [{ name: 'traceId', in: 'path', required: true, schema: z.toJSONSchema(s.traceParams.shape.traceId) }],
          responses: {
            '200': { description: 'The trace', ...json(s.traceAnswer) },
            '400': errorResponse('Malformed trace id'),
            '404': errorResponse('Unknown trace'),
          },
        },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'Alive', ...json(s.healthAnswer) } } } },
      '/readyz': {
        get: {
          summary: 'Readiness: store health, spool depth, writer progress',
          responses: { '200': { description: 'Ready', ...json(s.readyAnswer) }, '503': { description: 'A store is down', ...json(s.readyAnswer) } },
        },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}
