import { Router } from 'express';
import { z } from 'zod';
import { compareVersions } from '../../impact/compare.ts';
import type { ImpactService } from '../../impact/impact-service.ts';
import { aliasName, promptName, versionNumber } from '../../registry/names.ts';
import type { RegistryService } from '../../registry/registry-service.ts';
import { parseSubject, buildReport, type ReportDeps } from '../../reports/compliance.ts';
import { toHtml, toMarkdown } from '../../reports/render.ts';
import type { SpanAnalytics } from '../../storage/span-analytics.ts';
import { evaluationBody, recordEvaluations } from '../controllers/evaluations.ts';
import type { LineageGraph } from '../../storage/lineage-graph.ts';
import { actorOf, projectOf } from '../project.ts';
import { parseInput } from '../validate.ts';

const isoTime = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 time, e.g. 2026-11-25T14:02:00Z' });
const text = z.string().min(1).max(1024);

export const impactQuery = z
  .object({
    prompt: text.optional().describe('A prompt name or URI (prompts:/name/3, prompts:/name@production).'),
    version: versionNumber.optional(),
    alias: z.union([aliasName, z.literal('latest')]).optional(),
    move: z.coerce.number().int().min(1).optional().describe('With alias: which move (default: the latest).'),
    dataset: text.optional(),
    model: text.optional(),
    provider: text.optional(),
    app: text.optional(),
    app_version: text.optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(50),
    cursor: z.string().max(500).optional(),
    bucket: z.coerce.number().int().min(1).max(31 * 86400).optional().describe('Histogram bucket, seconds.'),
  })
  .strict();

export function createImpactRouter(deps: { impact: ImpactService; registry: RegistryService; analytics: SpanAnalytics; graph: LineageGraph; report: ReportDeps }): Router {
  const router = Router();

  router.get('/v1/impact', async (req, res) => {
    const q = parseInput(impactQuery, req.query);
    res.json(
      await deps.impact.impact(projectOf(req), {
        prompt: q.prompt,
        version: q.version,
        alias: q.alias,
        move: q.move,
        dataset: q.dataset,
        model: q.model,
        provider: q.provider,
        app: q.app,
        appVersion: q.app_version,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        limit: q.limit,
        cursor: q.cursor,
        bucketSeconds: q.bucket,
      }),
    );
  });

  router.get('/v1/prompts/:name/compare', async (req, res) => {
    const name = parseInput(z.object({ name: promptName }).loose(), req.params).name;
    const q = parseInput(z.object({ a: versionNumber, b: versionNumber, from: isoTime.optional(), to: isoTime.optional() }).strict(), req.query);
    res.json(
      await compareVersions({ analytics: deps.analytics, registry: deps.registry }, projectOf(req), name, q.a, q.b, {
        from: q.from ? new Date(q.from) : new Date(0),
        to: q.to ? new Date(q.to) : new Date(Date.now() + 3_600_000),
      }),
    );
  });

  router.post('/v1/evaluations', async (req, res) => {
    const body = parseInput(evaluationBody, req.body);
    res.status(201).json(await recordEvaluations({ analytics: deps.analytics, graph: deps.graph, registry: deps.registry }, projectOf(req), actorOf(req), body));
  });

  router.get('/v1/reports/compliance', async (req, res) => {
    const q = parseInput(
      z
        .object({
          response_id: text.optional(),
          prompt: promptName.optional(),
          version: versionNumber.optional(),
          app: text.optional(),
          app_version: text.optional(),
          format: z.enum(['json', 'markdown', 'html']).default('json'),
        })
        .strict(),
      req.query,
    );
    const report = await buildReport(deps.report, projectOf(req), parseSubject(q));
    res.setHeader('X-Content-Hash', report.contentHash);
    if (q.format === 'markdown') res.type('text/markdown; charset=utf-8').send(toMarkdown(report));
    else if (q.format === 'html') res.type('text/html; charset=utf-8').send(toHtml(report));
    else res.json(report);
  });

  return router;
}
