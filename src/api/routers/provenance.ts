import { Router } from 'express';
import { provenanceByResponseId, provenanceBySpanId, provenanceByTraceId, traceDetail, type ProvenanceDeps } from '../controllers/provenance.ts';
import { provenanceQuery, traceParams } from '../schemas.ts';
import { parseInput } from '../validate.ts';
import { projectOf } from '../project.ts';

export function createProvenanceRouter(deps: ProvenanceDeps): Router {
  const router = Router();

  router.get('/v1/provenance', async (req, res) => {
    const q = parseInput(provenanceQuery, req.query);
    const project = projectOf(req);
    const answer = q.response_id !== undefined
      ? await provenanceByResponseId(deps, project, q.response_id)
      : q.trace_id !== undefined
        ? await provenanceByTraceId(deps, project, q.trace_id)
        : await provenanceBySpanId(deps, project, q.span_id!);
    res.json(answer);
  });

  router.get('/v1/traces/:traceId', async (req, res) => {
    const p = parseInput(traceParams, req.params);
    res.json(await traceDetail(deps, projectOf(req), p.traceId));
  });

  return router;
}
