import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import { PromptlineError, UnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { inRequest, requestIdFor } from '../common/request-context.ts';
import { ImpactService } from '../impact/impact-service.ts';
import { InFlightBytes } from '../ingest/intake.ts';
import { createOtlpReceiver } from '../ingest/receiver.ts';
import { otlpEncodingOf, sendOtlpFailure } from '../ingest/otlp/otlp-answers.ts';
import { PromptlineMetrics } from '../common/metrics.ts';
import { consoleHandler } from './console.ts';
import { loopbackOnly } from './loopback-only.ts';
import { mountRoutes, principalOf, routeOf } from './mount.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { countRequests } from './request-metrics.ts';
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
  app.use((req, res, next) => {
    // Every request has an id: in its answer's X-Request-Id, in its error answer, and in every
    // line logged while serving it (a handler re-enters it after the body is read: mount.ts).
    const requestId = requestIdFor(req.headers['x-request-id']);
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = performance.now();
    res.once('finish', () => inRequest(requestId, () => logServed(deps.logger, req, res, performance.now() - started)));
    // No answer is ever sniffed into another type; and none is a page that may load anything, but
    // the HTML report, which sets its own policy.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    inRequest(requestId, next);
  });

  const metrics = deps.metrics ?? new PromptlineMetrics();
  app.use(countRequests(metrics));
  if (!deps.auth) app.use(loopbackOnly());

  const impact = new ImpactService({ analytics: deps.analytics, graph: deps.graph, registry: deps.registryService });
  const services: ApiServices = {
    ...deps,
    impact,
    report: { spans: deps.spans, analytics: deps.analytics, registry: deps.registryService, proposals: deps.proposals, impact, version: deps.version },
    receiveTraces: createOtlpReceiver({ spool: deps.spool, logger: deps.logger, projectOf: (req) => principalOf(req.res!).project, requestIdOf, inFlight: deps.receiverInFlight ?? new InFlightBytes(deps.receiverMaxInFlightBytes), spanTimeWindow: deps.spanTimeWindow, metrics }),
    protectedAliasSet: new Set(deps.protectedAliases),
    openapi: buildOpenApiDocument(deps.version, ROUTES),
    metrics,
  };
  // No route answers OPTIONS (the console is served from the same origin; there is no CORS), so
  // none is answered for a route either: Express would otherwise list a path's methods to anyone.
  app.use((req, res, next) => {
    if (req.method === 'OPTIONS') noRoute(req, res);
    else next();
  });
  app.use(mountRoutes(ROUTES, services));
  // The console's pages and assets: only its own paths, after every API route.
  app.use(consoleHandler(deps.consoleDir));
  app.use(noRoute);
  app.use(errorHandler(deps.logger));
  return app;
}

function noRoute(req: Request, res: Response): void {
  res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}`, requestId: requestIdOf(res) } });
}

/**
 * One line a request once it is answered: what was asked (the declared route, not the raw path, which
 * may carry names and ids), the status, how long it took. Refusals at info, the rest at debug (an
 * exporter's batches would fill the log); failures are logged where they are handled, with the error.
 */
function logServed(logger: Logger, req: Request, res: Response, ms: number): void {
  const fields = { method: req.method, route: routeOf(res)?.path ?? 'unmatched', status: res.statusCode, ms: Math.round(ms * 10) / 10 };
  if (res.statusCode >= 400 && res.statusCode < 500) logger.info('request refused', fields);
  else logger.debug('request served', fields);
}

/** The id this request was given (the first middleware sets it). */
function requestIdOf(res: Response): string {
  return res.locals.requestId as string;
}

/** The one place where errors become answers: typed errors keep their status; others are 500s. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) return;
    // Body parsing may have left the request's async context: what is logged here names it again.
    inRequest(requestIdOf(res), () => answerError(logger, err, req, res));
  };
}

function answerError(logger: Logger, err: unknown, req: Request, res: Response): void {
  const requestId = requestIdOf(res);
  if (err instanceof PromptlineError && err.operational) {
    if (err instanceof UnavailableError) res.setHeader('Retry-After', String(err.retryAfterSeconds));
    if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="promptline"');
    if (err.status >= 500) logger.warn('request failed', { method: req.method, path: req.path, error: err });
    // OTLP exporters read failures as a google.rpc.Status in the request's own encoding.
    if (routeOf(res)?.otlpErrors) {
      sendOtlpFailure(res, otlpEncodingOf(req.headers['content-type']), err.status, err.message, requestId);
      return;
    }
    res.status(err.status).json({ error: { code: err.code, message: err.message, requestId } });
    return;
  }
  // Body-parser and Express errors carry a status of their own (a malformed URL, say).
  const status = clientStatusOf(err);
  if (status === 500) {
    logger.error('request failed', { method: req.method, path: req.path, error: err });
    res.status(500).json({ error: { code: 'internal', message: `internal error; the server log has it under request id ${requestId}`, requestId } });
    return;
  }
  // Errors given a 4xx status (body-parser's, Express's) are Errors: their message is a string.
  const message = propertyOf(err, 'message');
  res.status(status).json({ error: { code: 'bad_request', message: typeof message === 'string' ? message : 'bad request', requestId } });
}

/** The status an error carries when it is a client error's (400-499); else 500. */
function clientStatusOf(err: unknown): number {
  const status = propertyOf(err, 'status');
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
}

/** A property of what was thrown, which may be any value: undefined when it has none. */
function propertyOf(thrown: unknown, key: 'status' | 'message'): unknown {
  if ((typeof thrown !== 'object' || thrown === null) && typeof thrown !== 'function') return undefined;
  return (thrown as Partial<Record<typeof key, unknown>>)[key];
}
