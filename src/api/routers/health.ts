import { Router } from 'express';
import type { Spool } from '../../ingest/spool.ts';
import type { SpanWriter } from '../../ingest/writer.ts';
import type { LineageGraph } from '../../storage/lineage-graph.ts';
import type { Registry } from '../../storage/registry.ts';
import type { SpanStore } from '../../storage/span-store.ts';

export interface HealthDeps {
  spans: SpanStore;
  graph: LineageGraph;
  registry: Registry;
  spool: Spool;
  writer: SpanWriter;
}

export function createHealthRouter(deps: HealthDeps): Router {
  const router = Router();
  // Liveness: the process answers.
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Readiness: the stores answer, and the spool and writer say how far behind they are.
  router.get('/readyz', async (_req, res) => {
    const [spans, graph, registry] = await Promise.all([deps.spans.ping(), deps.graph.ping(), deps.registry.ping()]);
    const store = (backend: string, p: Awaited<ReturnType<SpanStore['ping']>>) =>
      p.ok ? { backend, ok: true } : { backend, ok: false, error: p.error.message };
    const ready = spans.ok && graph.ok && registry.ok;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'degraded',
      stores: { spans: store(deps.spans.backend, spans), graph: store(deps.graph.backend, graph), registry: store(deps.registry.backend, registry) },
      spool: deps.spool.stats(),
      writer: deps.writer.stats(),
    });
  });
  return router;
}
