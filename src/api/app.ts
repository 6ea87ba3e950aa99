import express, { type ErrorRequestHandler, type Express } from 'express';
import { createReceiverRouter } from '../../collector/receiver.ts';
import type { Spool } from '../../collector/spool.ts';
import type { SpanWriter } from '../../collector/writer.ts';
import { PromptlineError, UnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { LineageGraph } from '../storage/lineage-graph.ts';
import type { SpanStore } from '../storage/span-store.ts';
import type { PromptCatalog } from './controllers/provenance.ts';
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
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('etag', false);

  const openapi = buildOpenApiDocument(deps.version);
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
  app.use(createRegistryRouter(deps.registryService));

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
      if (err.status >= 500) logger.warn('request failed', { method: req.method, path: req.path, error: err });
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
