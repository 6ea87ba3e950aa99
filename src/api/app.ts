import express, { type ErrorRequestHandler, type Express } from 'express';
import { createReceiverRouter } from '../ingest/receiver.ts';
import type { Spool } from '../ingest/spool.ts';
import type { SpanWriter } from '../ingest/writer.ts';
import { PromptlineError, UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { LineageGraph } from '../storage/lineage-graph.ts';
import type { SpanStore } from '../storage/span-store.ts';
import type { PromptCatalog } from '../domain/prompt.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { projectOf } from './project.ts';
import { createHealthRouter } from './routers/health.ts';
import { createProvenanceRouter } from './routers/provenance.ts';
import { createRegistryRouter } from './routers/registry.ts';
import type { RegistryService } from '../registry/registry-service.ts';
import type { Registry } from '../storage/registry.ts';
import type { SpanAnalytics } from '../storage/span-analytics.ts';
import { ImpactService } from '../impact/impact-service.ts';
import { createImpactRouter } from './routers/impact.ts';
import { authMiddleware } from './auth.ts';
import { createGovernanceRouter } from './routers/governance.ts';
import type { Authenticator, RateLimiter } from '../governance/access.ts';
import type { AuditService } from '../governance/audit.ts';
import type { KeyStore } from '../storage/governance.ts';
import { encodeProtobufStatus } from '../ingest/otlp/decode-protobuf.ts';

export interface AppDeps {
  version: string;
  logger: Logger;
  spans: SpanStore;
  graph: LineageGraph;
  spool: Spool;
  writer: SpanWriter;
  catalog: PromptCatalog;
  registry: Registry;
  registryService: RegistryService;
  analytics: SpanAnalytics;
  receiverMaxInFlightBytes: number;
  keys: KeyStore;
  audit: AuditService;
  /** null: authentication is off (PROMPTLINE_DEV_NO_AUTH, loopback only). */
  auth: Authenticator | null;
  limiter: RateLimiter;
  protectedAliases: readonly string[];
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('etag', false);

  const openapi = buildOpenApiDocument(deps.version);
  // Every call but /healthz carries a key; the route table in auth.ts says which role each needs.
  app.use(authMiddleware({ auth: deps.auth, limiter: deps.limiter }));
  app.use(createHealthRouter(deps));
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(createReceiverRouter({ spool: deps.spool, logger: deps.logger, projectOf, maxInFlightBytes: deps.receiverMaxInFlightBytes }));
  app.use(createProvenanceRouter({ spans: deps.spans, catalog: deps.catalog }));
  app.use('/v1/prompts', express.json({ limit: '2mb', strict: true }));
  app.use('/v1/evaluations', express.json({ limit: '8mb', strict: true }));
  const impact = new ImpactService({ analytics: deps.analytics, graph: deps.graph, registry: deps.registryService });
  app.use(
    createImpactRouter({
      impact,
      registry: deps.registryService,
      analytics: deps.analytics,
      graph: deps.graph,
      report: { spans: deps.spans, analytics: deps.analytics, registry: deps.registryService, impact, version: deps.version },
    }),
  );
  app.use(createRegistryRouter(deps.registryService, { protectedAliases: deps.protectedAliases }));
  app.use('/v1/keys', express.json({ limit: '16kb', strict: true }));
  app.use(createGovernanceRouter({ keys: deps.keys, audit: deps.audit, auth: deps.auth }));

  app.use((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
  });
  app.use(errorHandler(deps.logger));
  return app;
}

/** The one place where errors become answers: typed errors keep their status; others are 500s. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof PromptlineError && err.operational) {
      if (err instanceof UnavailableError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="promptline"');
      if (err.status >= 500) logger.warn('request failed', { method: req.method, path: req.path, error: err });
      // OTLP exporters read failures as a google.rpc.Status in the request's own encoding.
      if (req.method === 'POST' && req.path === '/v1/traces') {
        const code = err.status === 401 ? 16 : err.status === 403 ? 7 : err.status === 429 ? 8 : 3;
        if (/protobuf/i.test(String(req.headers['content-type']))) res.status(err.status).type('application/x-protobuf').send(Buffer.from(encodeProtobufStatus(code, err.message)));
        else res.status(err.status).json({ code, message: err.message });
        return;
      }
      res.status(err.status).json({ error: { code: err.code, message: err.message } });
      return;
    }
    // Body-parser and Express errors carry a status of their own (a malformed URL, say).
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) {
      logger.error('request failed', { method: req.method, path: req.path, error: err });
      res.status(500).json({ error: { code: 'internal', message: 'internal error; see the server log' } });
      return;
    }
    res.status(status).json({ error: { code: 'bad_request', message: String(err.message ?? 'bad request') } });
  };
}
