import type { PingResult } from '../../storage/lifecycle.ts';
import { healthAnswer, readyAnswer } from '../schemas.ts';
import { route } from '../route.ts';

// Liveness, readiness, and the API's own description.

const store = (backend: string, p: PingResult) => (p.ok ? { backend, ok: true } : { backend, ok: false, error: p.error.message });

export const healthRoutes = [
  route({
    method: 'get',
    path: '/healthz',
    access: 'public',
    what: 'check liveness',
    tag: 'health',
    summary: 'Liveness',
    responses: { '200': { description: 'Alive', schema: healthAnswer } },
    handle: (ctx) => {
      ctx.res.json({ status: 'ok' });
    },
  }),
  route({
    method: 'get',
    path: '/readyz',
    access: 'authenticated',
    what: 'check readiness',
    tag: 'health',
    summary: 'Readiness: store health, spool depth, writer progress',
    responses: { '200': { description: 'Ready', schema: readyAnswer }, '503': { description: 'A store is down', schema: readyAnswer } },
    handle: async (ctx, s) => {
      const [spans, graph, registry] = await Promise.all([s.spans.ping(), s.graph.ping(), s.registry.ping()]);
      const ready = spans.ok && graph.ok && registry.ok;
      ctx.res.status(ready ? 200 : 503).json({
        status: ready ? 'ready' : 'degraded',
        stores: { spans: store(s.spans.backend, spans), graph: store(s.graph.backend, graph), registry: store(s.registry.backend, registry) },
        spool: s.spool.stats(),
        writer: s.writer.stats(),
      });
    },
  }),
  route({
    method: 'get',
    path: '/openapi.json',
    access: 'authenticated',
    what: 'read the API description',
    tag: 'health',
    summary: 'This document',
    responses: { '200': { description: 'OpenAPI 3.1' } },
    handle: (ctx, s) => {
      ctx.res.json(s.openapi);
    },
  }),
];
