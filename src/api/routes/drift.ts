import { z } from 'zod';
import { drift } from '../../impact/drift.ts';
import { aliasName, promptName, versionNumber } from '../../registry/names.ts';
import { errorAnswer, spanTime } from '../schemas.ts';
import { route } from '../route.ts';
import { BadRequestError } from '../../common/errors.ts';

// Drift per prompt version or alias: each signal of a window against a baseline (src/impact/drift.ts).

const err = (description: string) => ({ description, schema: errorAnswer });

/** A signal in one window (drift's answers, alerts' values). */
export const signalSummary = z.union([z.object({ n: z.number(), p50: z.number().nullable(), p90: z.number().nullable() }), z.object({ n: z.number(), shares: z.record(z.string(), z.number()) })]);

export const driftAnswer = z.object({
  target: z.object({ prompt: z.string(), version: z.string().nullable(), alias: z.string().nullable() }),
  baseline: z.object({ kind: z.enum(['first_days', 'window', 'evaluation']), from: z.string(), to: z.string(), responses: z.number() }),
  current: z.object({ from: z.string(), to: z.string(), responses: z.number() }),
  thresholds: z.object({ pValue: z.number(), psi: z.number() }),
  signals: z.array(
    z.object({
      signal: z.string(),
      kind: z.enum(['continuous', 'categorical']),
      test: z.enum(['ks', 'chi_square']),
      statistic: z.number(),
      pValue: z.number(),
      psi: z.number(),
      drifted: z.boolean(),
      baseline: signalSummary,
      current: signalSummary,
    }),
  ),
  drifted: z.array(z.string()),
});

const driftQuery = z
  .object({
    prompt: promptName.describe('The prompt.'),
    version: versionNumber.optional().describe('A version of it (or alias).'),
    alias: aliasName.optional().describe('The responses served through this alias, whatever version (or version).'),
    baseline: z.enum(['first_days', 'window', 'evaluation']).default('first_days').describe('first_days (default): the first baseline_days after its first response; window: baseline_from to baseline_to; evaluation: the window its evaluation results were recorded in.'),
    baseline_days: z.coerce.number().int().min(1).max(365).default(7).describe('With baseline=first_days (default 7).'),
    baseline_from: spanTime.optional().describe('With baseline=window.'),
    baseline_to: spanTime.optional().describe('With baseline=window.'),
    from: spanTime.optional().describe('ISO-8601 start of the current window (default: 24 hours before to).'),
    to: spanTime.optional().describe('ISO-8601 end of the current window (default: now).'),
    p_value: z.coerce.number().gt(0).lt(1).optional().describe('A signal drifted when its test gives p below this (default 0.001) …'),
    psi: z.coerce.number().min(0).max(10).optional().describe('… and its population stability index is at least this (default 0.1).'),
  })
  .strict();

const DAY_MS = 86_400_000;

export const driftRoutes = [
  route({
    method: 'get',
    path: '/v1/drift',
    cost: 'scan',
    access: 'read',
    what: 'read lineage',
    tag: 'impact',
    summary: 'Drift of a prompt version or alias: each signal of a window against a baseline',
    description:
      'Signals: latency_ms, input_tokens, output_tokens (Kolmogorov–Smirnov; median and p90), error_rate, finish_reason, tool_call_rate, registration (chi-square; shares), ' +
      'and per scorer its evaluation scores (score:SCORER) and labels (label:SCORER). Each with its statistic, p-value, population stability index and sample sizes; ' +
      'drifted when p < p_value and PSI ≥ psi.',
    query: driftQuery,
    responses: { '200': { description: 'The drift of each signal', schema: driftAnswer }, '400': err('Not exactly one of version or alias, or a bad parameter'), '404': err('Nothing to take the baseline from') },
    handle: async (ctx, s) => {
      const q = ctx.query;
      if ((q.version === undefined) === (q.alias === undefined)) throw new BadRequestError('give exactly one of version or alias');
      if (q.baseline === 'window' && (q.baseline_from === undefined || q.baseline_to === undefined)) throw new BadRequestError('baseline=window needs baseline_from and baseline_to');
      const to = q.to ? new Date(q.to) : new Date();
      const from = q.from ? new Date(q.from) : new Date(to.getTime() - DAY_MS);
      const baseline =
        q.baseline === 'window' ? { kind: 'window' as const, from: new Date(q.baseline_from!), to: new Date(q.baseline_to!) } : q.baseline === 'evaluation' ? { kind: 'evaluation' as const } : { kind: 'first_days' as const, days: q.baseline_days };
      const target = q.version !== undefined ? { prompt: q.prompt, version: String(q.version) } : { prompt: q.prompt, alias: q.alias! };
      ctx.res.json(await drift(s.analytics, ctx.project, { target, baseline, from, to, thresholds: { pValue: q.p_value, psi: q.psi } }));
    },
  }),
];
