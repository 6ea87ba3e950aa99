import { z } from 'zod';
import { compareVersions } from '../../impact/compare.ts';
import { aliasName, promptName, versionNumber } from '../../registry/names.ts';
import { buildReport, parseSubject } from '../../reports/compliance.ts';
import { HTML_REPORT_CSP, toHtml, toMarkdown } from '../../reports/render.ts';
import { evaluationBody, recordEvaluations } from '../controllers/evaluations.ts';
import { errorAnswer, spanTime } from '../schemas.ts';
import { route } from '../route.ts';

// What a prompt version, an alias move, a dataset, a model or an app version touched; how two
// versions compare; evaluation results; the compliance report behind a response.

const text = z.string().min(1).max(1024);
const anyObject = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
const err = (description: string) => ({ description, schema: errorAnswer });

export const impactQuery = z
  .object({
    prompt: text.optional().describe('A prompt name or URI (prompts:/name/3, prompts:/name@production).'),
    version: versionNumber.optional().describe('With prompt.'),
    alias: z.union([aliasName, z.literal('latest')]).optional().describe('With prompt.'),
    move: z.coerce.number().int().min(1).optional().describe('With alias: which move (default: the latest).'),
    dataset: text.optional().describe('A dataset id.'),
    model: text.optional().describe('A model name.'),
    provider: text.optional().describe('With model.'),
    app: text.optional().describe('An app name.'),
    app_version: text.optional().describe('With app.'),
    from: spanTime.optional().describe('ISO-8601 start of the window.'),
    to: spanTime.optional().describe('ISO-8601 end of the window.'),
    limit: z.coerce.number().int().min(1).max(1000).default(50).describe('Responses per page (1–1000, default 50).'),
    cursor: z.string().max(500).optional().describe('nextCursor of the previous page.'),
    bucket: z.coerce.number().int().min(1).max(31 * 86400).optional().describe('Histogram bucket, seconds.'),
  })
  .strict();

const reportQuery = z
  .object({
    response_id: text.optional().describe('A response id.'),
    prompt: promptName.optional().describe('With version.'),
    version: versionNumber.optional().describe('With prompt.'),
    app: text.optional().describe('With app_version.'),
    app_version: text.optional().describe('With app.'),
    format: z.enum(['json', 'markdown', 'html']).default('json').describe('json (default), markdown or html'),
  })
  .strict();

export const impactRoutes = [
  route({
    method: 'get',
    path: '/v1/impact',
    cost: 'scan',
    access: 'read',
    what: 'read lineage',
    tag: 'impact',
    summary: 'What a prompt version, an alias move, a dataset, a model or an app version touched',
    description:
      'Start from exactly one of: prompt with version (or a URI prompts:/name/3), prompt with alias (and move, default the latest: from that move until the next), ' +
      'dataset, model (and provider), app with app_version. Answers the affected responses (count, histogram, a page of items with a cursor), app versions, services, ' +
      'conversations, prompt versions, models, datasets, evaluation runs, versions derived from the start, first and last seen; each affected entity names the path ' +
      '(graph edges) that connects it to the start.',
    query: impactQuery,
    responses: { '200': anyObject('The impact'), '400': err('Not exactly one starting point, or a bad parameter'), '404': err('Nothing seen of the starting point') },
    handle: async (ctx, s) => {
      const q = ctx.query;
      ctx.res.json(
        await s.impact.impact(ctx.project, {
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
    },
  }),
  route({
    method: 'get',
    path: '/v1/prompts/{name}/compare',
    cost: 'scan',
    access: 'read',
    what: 'read lineage',
    tag: 'impact',
    summary: 'Two versions side by side: responses, latency, tokens, error rate, evaluation scores, with 95 % intervals, and which is better and how sure',
    params: z.object({ name: promptName.describe('The prompt name.') }),
    query: z.object({ a: versionNumber.describe('A version'), b: versionNumber.describe('Another version'), from: spanTime.optional().describe('ISO-8601'), to: spanTime.optional().describe('ISO-8601') }).strict(),
    responses: { '200': anyObject('The comparison'), '400': err('A malformed or out-of-range from or to'), '404': err('Unknown prompt or version') },
    handle: async (ctx, s) => {
      const q = ctx.query;
      ctx.res.json(
        await compareVersions({ analytics: s.analytics, registry: s.registryService }, ctx.project, ctx.params.name, q.a, q.b, {
          from: q.from ? new Date(q.from) : new Date(0),
          to: q.to ? new Date(q.to) : new Date(Date.now() + 3_600_000),
        }),
      );
    },
  }),
  route({
    method: 'post',
    path: '/v1/evaluations',
    access: 'edit',
    what: 'record evaluations',
    tag: 'impact',
    summary: 'Record the results of an evaluation run of a prompt version (optionally on a dataset)',
    body: { schema: evaluationBody, limit: '8mb' },
    responses: { '201': anyObject('Recorded'), '400': err('Invalid body'), '404': err('Unknown prompt version') },
    handle: async (ctx, s) => {
      ctx.res.status(201).json(await recordEvaluations({ analytics: s.analytics, graph: s.graph, registry: s.registryService, audit: s.audit }, ctx.project, ctx.actor, ctx.body));
    },
  }),
  route({
    method: 'get',
    path: '/v1/reports/compliance',
    cost: 'scan',
    access: 'read',
    what: 'read reports',
    tag: 'reports',
    summary: 'The decision chain behind a response, a prompt version or an app version, with a content hash',
    query: reportQuery,
    responses: {
      '200': {
        description: 'The report (X-Content-Hash header: sha256 of its canonical JSON)',
        content: { 'application/json': { schema: { type: 'object' } }, 'text/markdown': { schema: { type: 'string' } }, 'text/html': { schema: { type: 'string' } } },
      },
      '400': err('No subject'),
      '404': err('Unknown subject'),
    },
    handle: async (ctx, s) => {
      const q = ctx.query;
      const report = await buildReport(s.report, ctx.project, parseSubject(q));
      ctx.res.setHeader('X-Content-Hash', report.contentHash);
      if (q.format === 'markdown') ctx.res.type('text/markdown; charset=utf-8').send(toMarkdown(report));
      else if (q.format === 'html') ctx.res.setHeader('Content-Security-Policy', HTML_REPORT_CSP).type('text/html; charset=utf-8').send(toHtml(report));
      else ctx.res.json(report);
    },
  }),
];
