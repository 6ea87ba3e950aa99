import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Permission } from '../domain/governance.ts';
import { DEV_PRINCIPAL, require as requirePermission, type Authenticator, type Principal, type RateLimiter } from '../governance/access.ts';

// Every call but /healthz is authenticated, and the route table says what each needs. A route not
// in the table needs a valid key of any role (and then answers 404).

type Need = Permission | 'any';

const ROUTES: Array<{ methods: string[]; path: RegExp; need: Need; what: string }> = [
  { methods: ['POST'], path: /^\/v1\/traces$/, need: 'ingest', what: 'send spans' },
  { methods: ['POST'], path: /^\/v1\/prompts\/[^/]+\/versions\/[^/]+\/render$/, need: 'read', what: 'render prompts' },
  { methods: ['POST'], path: /^\/v1\/prompts\/[^/]+\/versions$/, need: 'edit', what: 'register prompt versions' },
  { methods: ['PUT', 'PATCH', 'DELETE'], path: /^\/v1\/prompts\/[^/]+\/versions\/[^/]+$/, need: 'edit', what: 'change prompt versions' },
  { methods: ['PUT'], path: /^\/v1\/prompts\/[^/]+\/aliases\/[^/]+$/, need: 'edit', what: 'move aliases' },
  { methods: ['POST'], path: /^\/v1\/prompts\/[^/]+\/aliases\/[^/]+\/rollback$/, need: 'edit', what: 'roll aliases back' },
  { methods: ['POST'], path: /^\/v1\/evaluations$/, need: 'edit', what: 'record evaluations' },
  { methods: ['GET', 'POST', 'DELETE'], path: /^\/v1\/keys(\/[^/]+)?$/, need: 'admin', what: 'manage API keys' },
  { methods: ['GET'], path: /^\/v1\/audit(\/verify)?$/, need: 'admin', what: 'read the audit log' },
  { methods: ['GET'], path: /^\/v1\/(provenance|impact|reports\/compliance|traces\/[^/]+|prompts(\/.*)?)$/, need: 'read', what: 'read lineage and prompts' },
];

export function needOf(method: string, path: string): { need: Need; what: string } {
  for (const r of ROUTES) if (r.methods.includes(method) && r.path.test(path)) return r;
  return { need: 'any', what: 'call this' };
}

export function principalOf(res: Response): Principal {
  const p = res.locals.principal as Principal | undefined;
  if (!p) throw new Error('no principal: the authentication middleware did not run');
  return p;
}

export function authMiddleware(deps: { auth: Authenticator | null; limiter: RateLimiter }): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (req.path === '/healthz') return next();
      const principal = deps.auth ? await deps.auth.authenticate(req.headers.authorization) : DEV_PRINCIPAL;
      res.locals.principal = principal;
      const { need, what } = needOf(req.method, req.path);
      if (need !== 'any') requirePermission(principal, need, what);
      // Ingest has its own backpressure (the spool); the API is rate limited per key.
      if (need !== 'ingest') deps.limiter.take(principal.keyId);
      next();
    } catch (err) {
      next(err);
    }
  };
}
