import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { actingProject, DEV_PRINCIPAL, ingestProject, PROJECT_HEADER, require as requirePermission, type Principal } from '../governance/access.ts';
import { refusalReasonOf } from '../ingest/intake.ts';
import { ACCESS_LEVELS, expressPath, METHODS, type RouteDeclaration } from './route.ts';
import type { ApiServices } from './services.ts';
import { parseInput } from './validate.ts';
import { inRequest } from '../common/request-context.ts';

// Turns route declarations into an Express router. Each route checks its own declared access
// before anything else runs, so authorization never depends on matching paths a second time; a
// path no route declares reaches no handler and answers 404. Routing is case-sensitive and strict:
// /V1/KEYS and /v1/keys/ are not /v1/keys.

/** Refuses, at start, a declaration that could be served without a valid permission or twice. */
export function checkDeclarations(routes: readonly RouteDeclaration[]): void {
  const seen = new Set<string>();
  for (const r of routes) {
    const id = `${r.method.toUpperCase()} ${r.path}`;
    if (!METHODS.includes(r.method)) throw new Error(`route ${id}: unknown method`);
    if (!ACCESS_LEVELS.has(r.access)) throw new Error(`route ${id}: no valid access declared (got ${JSON.stringify(r.access)})`);
    if (!r.path.startsWith('/') || r.path.includes('//') || (r.path.length > 1 && r.path.endsWith('/'))) throw new Error(`route ${id}: malformed path`);
    if (seen.has(id)) throw new Error(`route ${id}: declared twice`);
    seen.add(id);
  }
}

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new Error('no principal: the route did not authenticate');
  return p;
}

/** The project the call acts on, as the access check settled it. */
function projectOf(res: Response): string {
  principalOf(res);
  return res.locals.project as string;
}

/** The route that is answering, for the error handler (OTLP routes answer in google.rpc.Status). */
export function routeOf(res: Response): RouteDeclaration | undefined {
  return res.locals.route as RouteDeclaration | undefined;
}

export function mountRoutes(routes: readonly RouteDeclaration[], services: ApiServices): Router {
  checkDeclarations(routes);
  const router = Router({ caseSensitive: true, strict: true });
  for (const r of routes) {
    const steps: RequestHandler[] = [authorize(r, services)];
    if (r.body) steps.push(express.json({ limit: r.body.limit, strict: true }));
    steps.push(handler(r, services));
    router[r.method](expressPath(r.path), ...steps);
  }
  return router;
}

function authorize(r: RouteDeclaration, services: ApiServices): RequestHandler {
  const admit = async (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = r;
    if (r.access === 'public') return next();
    const principal = services.auth ? await services.auth.authenticate(req.headers.authorization, req.socket.remoteAddress) : DEV_PRINCIPAL;
    res.locals.principal = principal;
    if (r.access !== 'authenticated') requirePermission(principal, r.access, r.what);
    // Every key is rate limited: OTLP exports on a budget of their own (exporters batch, and the
    // spool pushes back when full), the rest of the API on another.
    if (r.access === 'ingest') services.ingestLimiter.take(principal.keyId);
    else services.limiter.take(principal.keyId);
    // The project every handler acts on (ctx.project): the key's own, or the header's for an instance admin.
    // The OTLP receiver stores spans in the sending key's project: naming another would be ignored.
    const project = r.access === 'ingest' ? ingestProject(principal, req.headers[PROJECT_HEADER]) : actingProject(principal, req.headers[PROJECT_HEADER]);
    res.locals.project = project;
    if (r.cost === 'scan') {
      const release = services.scanBudget.take(project);
      res.once('finish', release);
      res.once('close', release);
    }
    next();
  };
  const checkAccess = async (req: Request, res: Response, next: NextFunction) => {
    try {
      await admit(req, res, next);
    } catch (err) {
      // An export refused before the receiver reads it (key, permission, rate, project) counts as
      // one the receiver refuses, as over OTLP/gRPC.
      if (r.otlpErrors) services.metrics.requestRefused('http', refusalReasonOf(err));
      throw err;
    }
  };
  return checkAccess;
}

function handler(r: RouteDeclaration, services: ApiServices): RequestHandler {
  const parse = (schema: z.ZodType | undefined, input: unknown) => (schema ? parseInput(schema, input) : undefined);
  return async (req: Request, res: Response) => {
    // Getters: a public route that asked who is calling would be a bug, and fails loudly.
    const ctx = {
      params: parse(r.params, req.params),
      query: parse(r.query, req.query),
      body: parse(r.body?.schema, req.body),
      get principal() {
        return principalOf(res);
      },
      get project() {
        return projectOf(res);
      },
      get actor() {
        return principalOf(res).actor;
      },
      req,
      res,
    };
    // Reading the body may have left the request's async context: the handler runs in it again, so
    // what it logs carries the request id (app.ts gave it).
    await inRequest(res.locals.requestId as string, () => r.handle(ctx as never, services));
  };
}
