import { isInstanceAdmin } from '../../governance/access.ts';
import type { PingResult } from '../../storage/lifecycle.ts';
import { healthAnswer, readyAnswer } from '../schemas.ts';
import { route } from '../route.ts';

// Liveness, readiness, and the API's own description. Any key may ask whether the installation is
// ready (an exporter's health check holds an ingest key); only an instance admin is told what the
// stores are, how they fail and what the spool and writer are doing, which covers every project.

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
    summary: 'Readiness: store health; for an instance admin also the backends, spool depth and writer progress',
    description: 'Every key gets `status`, whether each store is ok and `retention` (what its project keeps how long); an instance admin key also gets each store\'s backend and error, `spool` and `writer`.',
    responses: { '200': { description: 'Ready', schema: readyAnswer }, '503': { description: 'A store is down', schema: readyAnswer } },
    handle: async (ctx, s) => {
      const [spans, graph, registry] = await Promise.all([s.spans.ping(), s.graph.ping(), s.registry.ping()]);
      const ready = spans.ok && graph.ok && registry.ok;
      const status = ready ? 'ready' : 'degraded';
      // The caller's own project's (never another's); left out while the store that keeps it is down.
      const retention = registry.ok ? await s.retention.summary(ctx.project).catch(() => undefined) : undefined;
      if (!isInstanceAdmin(ctx.principal)) {
        ctx.res.status(ready ? 200 : 503).json({ status, stores: { spans: { ok: spans.ok }, graph: { ok: graph.ok }, registry: { ok: registry.ok } }, retention });
        return;
      }
      ctx.res.status(ready ? 200 : 503).json({
        status,
        stores: { spans: store(s.spans.backend, spans), graph: store(s.graph.backend, graph), registry: store(s.registry.backend, registry) },
        spool: s.spool.stats(),
        writer: s.writer.stats(),
        retention,
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
