import { z } from 'zod';
import { METRICS, whatChanged } from '../../impact/what-changed.ts';
import { promptName } from '../../registry/names.ts';
import { errorAnswer, spanTime } from '../schemas.ts';
import { route } from '../route.ts';

// What changed around the time a metric moved: the lineage changes in a window (alias moves,
// prompt versions, model snapshots, datasets, app versions, unregistered prompts first seen),
// ranked by how much of the metric's movement each explains (src/impact/what-changed.ts).

const err = (description: string) => ({ description, schema: errorAnswer });
const text = z.string().min(1).max(1024);
const stat = z.object({ mean: z.number().nullable(), n: z.number() });
const target = z.object({ version: z.number().nullable(), split: z.object({ id: z.string(), arms: z.array(z.object({ version: z.number(), weight: z.number() })) }).nullable() });

export const whatChangedAnswer = z.object({
  scope: z.object({ app: z.string().nullable(), prompt: z.string().nullable() }),
  metric: z.enum(METRICS),
  window: z.object({ from: z.string(), to: z.string(), bucketSeconds: z.number() }),
  responses: z.number(),
  series: z.array(z.object({ time: z.string(), responses: z.number(), value: z.number().nullable() })),
  movement: z.object({ at: z.string(), before: stat, after: stat, change: z.number(), z: z.number(), moved: z.boolean() }).nullable(),
  changes: z.array(
    z.object({
      kind: z.enum(['alias_move', 'prompt_version', 'unregistered_prompt', 'model', 'datasets', 'app_version']),
      cause: z.enum(['prompt', 'model', 'data', 'app']),
      at: z.string(),
      description: z.string(),
      dimension: z.string(),
      value: z.array(z.string()),
      move: z.object({ name: z.string(), alias: z.string(), seq: z.number(), actor: z.string(), reason: z.string(), from: target.nullable(), to: target }).optional(),
      segment: z.object({ from: z.string(), to: z.string() }),
      share: z.object({ before: z.number(), after: z.number() }),
      before: stat,
      after: stat,
      changed: stat,
      unchanged: stat,
      explained: z.number(),
      z: z.number(),
      significant: z.boolean(),
      explainedShare: z.number().nullable(),
    }),
  ),
  verdict: z.object({ cause: z.enum(['prompt', 'model', 'data', 'app']).nullable(), change: z.number().nullable(), summary: z.string() }),
});

const whatChangedQuery = z
  .object({
    app: text.optional().describe('Only the responses of this app (service.name).'),
    prompt: promptName.optional().describe('Only the responses of this prompt.'),
    metric: z.enum(METRICS).default('error_rate').describe('What moved: error_rate (default), latency_ms, output_tokens or input_tokens.'),
    from: spanTime.optional().describe('ISO-8601 start of the window (default: 24 hours before to). Start it before the metric moved.'),
    to: spanTime.optional().describe('ISO-8601 end of the window (default: now).'),
  })
  .strict();

const DAY_MS = 86_400_000;

export const whatChangedRoutes = [
  route({
    method: 'get',
    path: '/v1/what-changed',
    cost: 'scan',
    access: 'read',
    what: 'read lineage',
    tag: 'impact',
    summary: 'The lineage changes around a metric that moved, ranked by how much of the movement each explains',
    description:
      'Finds where in the window the metric moved most (Welch z over time buckets; moved when |z| ≥ 4), lists the lineage changes in the window ' +
      '(alias moves with who and why; prompt versions, model snapshots, datasets and app versions first seen; unregistered prompts appearing), and ranks them by ' +
      'the part of the movement the responses moving to the new value explain (a shift-share split over that lineage value). The verdict names the cause ' +
      '(prompt, model, data or app) of a change that explains at least half of the movement, or says that no lineage change explains it.',
    query: whatChangedQuery,
    responses: { '200': { description: 'What changed', schema: whatChangedAnswer }, '400': err('A bad parameter, or from not before to') },
    handle: async (ctx, s) => {
      const q = ctx.query;
      const to = q.to ? new Date(q.to) : new Date();
      const from = q.from ? new Date(q.from) : new Date(to.getTime() - DAY_MS);
      ctx.res.json(await whatChanged({ analytics: s.analytics, registry: s.registryService }, ctx.project, { app: q.app, prompt: q.prompt, metric: q.metric, from, to }));
    },
  }),
];
