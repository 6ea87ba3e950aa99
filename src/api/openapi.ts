import { z } from 'zod';
import { aliasName, moveAliasBody, promptName, registerVersionBody } from '../registry/names.ts';
import * as r from './registry-schemas.ts';
import { evaluationBody } from './controllers/evaluations.ts';
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

const schema = (z0: z.ZodType, io: 'input' | 'output' = 'output') => z.toJSONSchema(z0, { io, unrepresentable: 'any' });
const body = (z0: z.ZodType) => ({ required: true, content: { 'application/json': { schema: schema(z0, 'input') } } });
const nameParam = { name: 'name', in: 'path', required: true, description: 'The prompt name.', schema: schema(promptName, 'input') };
const aliasParam = { name: 'alias', in: 'path', required: true, description: 'The alias, e.g. production.', schema: schema(aliasName, 'input') };
const versionParam = { name: 'version', in: 'path', required: true, description: 'A version number, or latest.', schema: { oneOf: [{ type: 'integer', minimum: 1 }, { const: 'latest' }] } };
const q = (name: string, description: string, type = 'string', required = false) => ({ name, in: 'query', required, description, schema: { type } });
const pageParams = [q('limit', 'At most this many (1–500, default 50).', 'integer'), q('offset', 'Skip this many.', 'integer')];
const errors = (...codes: Array<[string, string]>) => Object.fromEntries(codes.map(([c, d]) => [c, errorResponse(d)]));

function registryPaths() {
  return {
    '/v1/prompts': {
      get: { summary: 'List registered prompts', parameters: pageParams, responses: { '200': { description: 'Prompts', ...json(r.promptListAnswer) } } },
    },
    '/v1/prompts/resolve': {
      get: {
        summary: 'Resolve a prompt URI (prompts:/name/3, prompts:/name@production, prompts:/name@latest)',
        parameters: [q('uri', 'The prompt URI.', 'string', true), q('key', 'A user or session id: picks the arm of an alias that splits traffic.'), q('at', 'Resolve the alias as it was at this ISO-8601 time.')],
        responses: { '200': { description: 'The version', ...json(r.resolveAnswer) }, ...errors(['400', 'A malformed URI, or a split alias without a key'], ['404', 'Unknown prompt, version or alias']) },
      },
    },
    '/v1/prompts/{name}/versions': {
      post: {
        summary: 'Register a new version (its number is assigned: 1, 2, 3 …)',
        parameters: [nameParam],
        requestBody: body(registerVersionBody),
        responses: { '201': { description: 'Registered', ...json(r.promptVersionAnswer) }, ...errors(['400', 'Invalid name, empty or oversize template, no commit message'], ['404', 'Unknown base version']) },
      },
      get: { summary: 'List versions, newest first', parameters: [nameParam, ...pageParams], responses: { '200': { description: 'Versions', ...json(r.versionListAnswer) } } },
    },
    '/v1/prompts/{name}/versions/{version}': {
      get: { summary: 'One version', parameters: [nameParam, versionParam], responses: { '200': { description: 'The version', ...json(r.promptVersionAnswer) }, ...errors(['404', 'Unknown prompt or version']) } },
      put: { summary: 'Refused: versions are immutable', parameters: [nameParam, versionParam], responses: errors(['405', 'Versions are immutable']) },
      patch: { summary: 'Refused: versions are immutable', parameters: [nameParam, versionParam], responses: errors(['405', 'Versions are immutable']) },
      delete: { summary: 'Refused: versions are immutable', parameters: [nameParam, versionParam], responses: errors(['405', 'Versions are immutable']) },
    },
    '/v1/prompts/{name}/versions/{version}/render': {
      post: {
        summary: 'Render a version with {{variables}}',
        parameters: [nameParam, versionParam],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { variables: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } } } } } } },
        responses: { '200': { description: 'Rendered', ...json(r.renderAnswer) }, ...errors(['400', 'A variable the template uses is missing'], ['404', 'Unknown prompt or version']) },
      },
    },
    '/v1/prompts/{name}/diff': {
      get: {
        summary: 'Difference between two versions (unified diff; per message for chat templates)',
        parameters: [nameParam, q('from', 'Version number', 'integer', true), q('to', 'Version number', 'integer', true)],
        responses: { '200': { description: 'The diff', ...json(r.diffAnswer) }, ...errors(['404', 'Unknown prompt or version']) },
      },
    },
    '/v1/prompts/{name}/aliases': {
      get: { summary: 'Aliases and where they point', parameters: [nameParam], responses: { '200': { description: 'Aliases', ...json(r.aliasListAnswer) } } },
    },
    '/v1/prompts/{name}/aliases/{alias}': {
      put: {
        summary: 'Set or move an alias to a version, or to a weighted split over versions',
        parameters: [nameParam, aliasParam],
        requestBody: body(moveAliasBody),
        responses: { '200': { description: 'The move, as recorded', ...json(r.aliasMoveAnswer) }, ...errors(['400', 'Invalid alias, weights or body'], ['404', 'Unknown prompt or version'], ['409', 'The alias moved meanwhile (expectSeq)']) },
      },
      get: {
        summary: 'Where an alias points, now or at a time; the version a key gets from a split',
        parameters: [nameParam, { ...aliasParam, schema: { type: 'string' }, description: 'The alias, or latest.' }, q('at', 'An ISO-8601 time: where the alias pointed then.'), q('key', 'A user or session id for a split.')],
        responses: { '200': { description: 'The alias', ...json(r.aliasAnswer) }, ...errors(['404', 'Unknown alias, or the alias did not exist at that time']) },
      },
    },
    '/v1/prompts/{name}/aliases/{alias}/history': {
      get: { summary: 'Every move of an alias: who, when, from, to, why', parameters: [nameParam, aliasParam], responses: { '200': { description: 'Moves, oldest first', ...json(r.aliasHistoryAnswer) }, ...errors(['404', 'Unknown alias']) } },
    },
    '/v1/prompts/{name}/aliases/{alias}/rollback': {
      post: {
        summary: 'Move the alias back to where it pointed before its last move (recorded as a move)',
        parameters: [nameParam, aliasParam],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } } } } },
        responses: { '200': { description: 'The move', ...json(r.aliasMoveAnswer) }, ...errors(['404', 'Unknown alias'], ['409', 'Nothing to roll back to']) },
      },
    },
  };
}

function impactPaths() {
  const obj = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
  return {
    '/v1/impact': {
      get: {
        summary: 'What a prompt version, an alias move, a dataset, a model or an app version touched',
        description:
          'Start from exactly one of: prompt with version (or a URI prompts:/name/3), prompt with alias (and move, default the latest: from that move until the next), ' +
          'dataset, model (and provider), app with app_version. Answers the affected responses (count, histogram, a page of items with a cursor), app versions, services, ' +
          'conversations, prompt versions, models, datasets, evaluation runs, versions derived from the start, first and last seen; each affected entity names the path ' +
          '(graph edges) that connects it to the start.',
        parameters: [
          q('prompt', 'A prompt name or URI.'),
          q('version', 'With prompt.', 'integer'),
          q('alias', 'With prompt.'),
          q('move', 'With alias: the move (default: the latest).', 'integer'),
          q('dataset', 'A dataset id.'),
          q('model', 'A model name.'),
          q('provider', 'With model.'),
          q('app', 'An app name.'),
          q('app_version', 'With app.'),
          q('from', 'ISO-8601 start of the window.'),
          q('to', 'ISO-8601 end of the window.'),
          q('limit', 'Responses per page (1–1000, default 50).', 'integer'),
          q('cursor', 'nextCursor of the previous page.'),
          q('bucket', 'Histogram bucket in seconds.', 'integer'),
        ],
        responses: { '200': obj('The impact'), ...errors(['400', 'Not exactly one starting point, or a bad parameter'], ['404', 'Nothing seen of the starting point']) },
      },
    },
    '/v1/prompts/{name}/compare': {
      get: {
        summary: 'Two versions side by side: responses, latency, tokens, error rate, evaluation scores, with 95 % intervals, and which is better and how sure',
        parameters: [nameParam, q('a', 'A version', 'integer', true), q('b', 'Another version', 'integer', true), q('from', 'ISO-8601'), q('to', 'ISO-8601')],
        responses: { '200': obj('The comparison'), ...errors(['404', 'Unknown prompt or version']) },
      },
    },
    '/v1/evaluations': {
      post: {
        summary: 'Record the results of an evaluation run of a prompt version (optionally on a dataset)',
        requestBody: body(evaluationBody),
        responses: { '201': obj('Recorded'), ...errors(['400', 'Invalid body'], ['404', 'Unknown prompt version']) },
      },
    },
    '/v1/reports/compliance': {
      get: {
        summary: 'The decision chain behind a response, a prompt version or an app version, with a content hash',
        parameters: [q('response_id', 'A response id.'), q('prompt', 'With version.'), q('version', 'With prompt.', 'integer'), q('app', 'With app_version.'), q('app_version', 'With app.'), q('format', 'json (default), markdown or html')],
        responses: {
          '200': { description: 'The report (X-Content-Hash header: sha256 of its canonical JSON)', content: { 'application/json': { schema: { type: 'object' } }, 'text/markdown': { schema: { type: 'string' } }, 'text/html': { schema: { type: 'string' } } } },
          ...errors(['400', 'No subject'], ['404', 'Unknown subject']),
        },
      },
    },
  };
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
      ...registryPaths(),
      ...impactPaths(),
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
