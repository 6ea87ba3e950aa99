import { z } from 'zod';
import { PROJECT_NAME, PROJECT_NAME_RULE, type Permission } from '../domain/governance.ts';
import { rolesWith } from '../governance/access.ts';
import type { Access, ResponseDoc, RouteDeclaration } from './route.ts';

// The OpenAPI 3.1 document, derived from the route declarations and the zod schemas the routes
// validate with: a route is in the document because it is served, and its parameters are the ones
// it checks.

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

function parameters(schema: z.ZodObject | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const f = field as z.ZodType;
    return {
      name,
      in: where,
      required: where === 'path' || !f.safeParse(undefined).success,
      ...(f.description ? { description: f.description } : {}),
      schema: jsonSchema(f, 'input'),
    };
  });
}

function response(doc: ResponseDoc) {
  if (doc.schema) return { description: doc.description, content: { 'application/json': { schema: jsonSchema(doc.schema, 'output') } } };
  if (doc.content) return { description: doc.description, content: doc.content };
  return { description: doc.description };
}

// The roles named are read from the grants themselves, so the document cannot drift from the check.
const roles = (p: Permission) => rolesWith(p).join(', ');
const ACCESS_TEXT: Record<Access, string> = {
  public: 'No key needed.',
  authenticated: 'Any valid key.',
  ingest: `A key whose role may send spans (${roles('ingest')}).`,
  prompts: `A key whose role may read prompts and aliases (${roles('prompts')}).`,
  read: `A key whose role may read lineage, impact and reports (${roles('read')}).`,
  edit: `A key whose role may edit (${roles('edit')}).`,
  promote: 'An admin key, or an edit key with the promote right.',
  admin: 'An admin key.',
  metrics: `A key whose role may read the metrics (${roles('metrics')}).`,
  propose: `A key whose role may open and comment on proposals (${roles('propose')}).`,
};

// Every call with a key may name the project it acts on; only an instance admin may name another.
const PROJECT_PARAMETER = {
  name: 'X-Promptline-Project',
  in: 'header',
  required: false,
  description:
    "The project this call acts on. An instance admin key may name any project (reads, registry, impact, keys and audit alike; a `project` parameter of a call still wins); " +
    "any other key only its own (another: 403). Spans are always stored in the sending key's own project. Default: the key's project. " +
    `A malformed name is a 400: ${PROJECT_NAME_RULE}.`,
  schema: { type: 'string', pattern: PROJECT_NAME.source },
};

function operation(r: RouteDeclaration) {
  const requestBody = r.rawBody
    ? { required: true, content: r.rawBody }
    : r.body
      ? { required: true, content: { 'application/json': { schema: r.bodyDoc ?? jsonSchema(r.body.schema, 'input') } } }
      : undefined;
  return {
    tags: [r.tag],
    summary: r.summary,
    description: [r.description, `Access: ${ACCESS_TEXT[r.access]}`, r.cost === 'scan' ? 'Scans many spans: a project may have only a few such requests in flight (PROMPTLINE_SCANS_PER_PROJECT); one more is answered 429 with Retry-After.' : ''].filter(Boolean).join('\n\n'),
    'x-promptline-access': r.access,
    ...(r.cost ? { 'x-promptline-cost': r.cost } : {}),
    security: r.access === 'public' ? [] : [{ bearer: [] }],
    parameters: [...(r.access === 'public' ? [] : [{ $ref: '#/components/parameters/project' }]), ...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
    ...(requestBody ? { requestBody } : {}),
    responses: Object.fromEntries(Object.entries(r.responses).map(([status, doc]) => [status, response(doc)])),
  };
}

export function buildOpenApiDocument(version: string, routes: readonly RouteDeclaration[]) {
  const paths = new Map<string, Record<string, unknown>>();
  for (const r of routes) {
    const item = paths.get(r.path) ?? {};
    item[r.method] = operation(r);
    paths.set(r.path, item);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Promptline',
      version,
      description: 'Prompt lineage and tracing: which prompt version produced a response, and what else it touched.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer KEY' } },
      parameters: { project: PROJECT_PARAMETER },
    },
    security: [{ bearer: [] }],
    paths: Object.fromEntries(paths),
  };
}
