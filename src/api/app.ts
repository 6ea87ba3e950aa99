import express, { type ErrorRequestHandler, type Express } from 'express';
import { PromptlineError, UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { ImpactService } from '../impact/impact-service.ts';
import { createOtlpReceiver } from '../ingest/receiver.ts';
import { otlpEncodingOf, sendOtlpFailure } from '../ingest/otlp/otlp-answers.ts';
import { loopbackOnly } from './loopback-only.ts';
import { mountRoutes, principalOf, routeOf } from './mount.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { ROUTES } from './routes/index.ts';
import type { ApiServices, AppDeps } from './services.ts';

export type { AppDeps } from './services.ts';

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('etag', false);
  // /V1/KEYS is not /v1/keys, and /v1/keys/ is neither: a path means one route or none.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.use((_req, res, next) => {
    // No answer is ever sniffed into another type; and none is a page that may load anything, but
    // the HTML report, which sets its own policy.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    next();
  });

  if (!deps.auth) app.use(loopbackOnly());

  const impact = new ImpactService({ analytics: deps.analytics, graph: deps.graph, registry: deps.registryService });
  const services: ApiServices = {
    ...deps,
    impact,
    report: { spans: deps.spans, analytics: deps.analytics, registry: deps.registryService, impact, version: deps.version },
    receiveTraces: createOtlpReceiver({ spool: deps.spool, logger: deps.logger, projectOf: (req) => principalOf(req.res!).project, maxInFlightBytes: deps.receiverMaxInFlightBytes }),
    protectedAliasSet: new Set(deps.protectedAliases),
    openapi: buildOpenApiDocument(deps.version, ROUTES),
  };
  app.use(mountRoutes(ROUTES, services));

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
      if (routeOf(res)?.otlpErrors) {
        sendOtlpFailure(res, otlpEncodingOf(req.headers['content-type']), err.status, err.message);
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
