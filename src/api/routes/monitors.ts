import { z } from 'zod';
import { alertView, monitorView } from '../../impact/monitors.ts';
import { aliasName, promptName, versionNumber } from '../../registry/names.ts';
import { errorAnswer, spanTime } from '../schemas.ts';
import { route } from '../route.ts';
import { driftAnswer, signalSummary } from './drift.ts';

// Monitors (a prompt version or alias watched for drift) and the alerts they open
// (src/impact/monitors.ts). Editors make and remove monitors; readers see them and their alerts.

const err = (description: string) => ({ description, schema: errorAnswer });

const DURATION = /^(\d{1,7})(s|m|h|d)$/;
const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const windowText = z
  .string()
  .regex(DURATION, 'a window is a whole number and a unit: s, m, h or d (such as 1h)')
  .transform((t) => {
    const [, n, unit] = DURATION.exec(t)!;
    return Number(n) * SECONDS[unit!]!;
  })
  .refine((s) => s >= 10 && s <= 90 * 86_400, 'a window is from 10 s to 90 days');

const baselineBody = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('first_days'), days: z.number().int().min(1).max(365).default(7) }).strict(),
  z.object({ kind: z.literal('window'), from: spanTime, to: spanTime }).strict(),
  z.object({ kind: z.literal('evaluation') }).strict(),
]);

const createMonitorBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    prompt: promptName,
    version: versionNumber.optional(),
    alias: aliasName.optional(),
    signals: z.array(z.string().min(1).max(300)).max(50).optional().describe('The signals to watch (default: every signal drift reports).'),
    pValue: z.number().gt(0).lt(1).optional().describe('A signal breaches when p < pValue (default 0.001) …'),
    psi: z.number().min(0).max(10).optional().describe('… and its PSI ≥ psi (default 0.1).'),
    window: windowText.default(3600).describe('The current window: the last 1h (default), 15m, 1d …'),
    baseline: baselineBody.default({ kind: 'first_days', days: 7 }),
  })
  .strict();

const baselineAnswer = z.union([
  z.object({ kind: z.literal('first_days'), days: z.number() }),
  z.object({ kind: z.literal('window'), from: z.string(), to: z.string() }),
  z.object({ kind: z.literal('evaluation') }),
]);

export const monitorAnswer = z.object({
  id: z.string(),
  name: z.string(),
  prompt: z.string(),
  version: z.string().nullable(),
  alias: z.string().nullable(),
  signals: z.array(z.string()),
  pValue: z.number(),
  psi: z.number(),
  windowSeconds: z.number(),
  baseline: baselineAnswer,
  createdAt: z.string(),
  createdBy: z.string(),
});

export const alertAnswer = z.object({
  id: z.string(),
  monitorId: z.string(),
  state: z.enum(['open', 'resolved']),
  signals: z.array(z.string()),
  values: z.array(
    z.object({
      signal: z.string(),
      statistic: z.number(),
      pValue: z.number(),
      psi: z.number(),
      baseline: signalSummary.optional().describe('The baseline window as the evaluation that saw the breach measured it (quantiles or shares, and n)'),
      current: signalSummary.optional().describe('The current window as that evaluation measured it'),
    }),
  ),
  firstSeen: z.string(),
  lastSeen: z.string(),
  resolvedAt: z.string().nullable(),
});

const idParams = z.object({ id: z.string().min(1).max(100) }).strict();

const alertsQuery = z
  .object({
    state: z.enum(['open', 'resolved']).optional(),
    monitor: z.string().min(1).max(100).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

export const monitorRoutes = [
  route({
    method: 'post',
    path: '/v1/monitors',
    access: 'edit',
    what: 'create monitors',
    tag: 'monitors',
    summary: 'Watch a prompt version or alias for drift',
    description: 'Every scheduler interval (PROMPTLINE_MONITOR_INTERVAL) the monitor compares its current window with its baseline (as GET /v1/drift does); a watched signal that drifted opens an alert, published as alert.opened to the webhooks; it resolves (alert.resolved) when none does. Audited.',
    body: { schema: createMonitorBody, limit: '16kb' },
    responses: { '201': { description: 'The monitor', schema: monitorAnswer }, '400': err('Invalid body') },
    handle: async (ctx, s) => {
      const b = ctx.body;
      const baseline = b.baseline.kind === 'window' ? { kind: 'window' as const, from: new Date(b.baseline.from), to: new Date(b.baseline.to) } : b.baseline;
      const m = await s.monitors.create(ctx.project, ctx.actor, { name: b.name, prompt: b.prompt, version: b.version === undefined ? undefined : String(b.version), alias: b.alias, signals: b.signals, pValue: b.pValue, psi: b.psi, windowSeconds: b.window, baseline });
      ctx.res.status(201).json(monitorView(m));
    },
  }),
  route({
    method: 'get',
    path: '/v1/monitors',
    access: 'read',
    what: 'read monitors',
    tag: 'monitors',
    summary: "The project's monitors, each with its open alert",
    responses: { '200': { description: 'Monitors', schema: z.object({ monitors: z.array(monitorAnswer.extend({ openAlert: alertAnswer.nullable() })) }) } },
    handle: async (ctx, s) => {
      const monitors = await s.monitors.list(ctx.project);
      const open = new Map((await s.monitors.alerts(ctx.project, { state: 'open', limit: 500 })).map((a) => [a.monitorId, a]));
      ctx.res.json({ monitors: monitors.map((m) => ({ ...monitorView(m), openAlert: open.has(m.id) ? alertView(open.get(m.id)!) : null })) });
    },
  }),
  route({
    method: 'get',
    path: '/v1/monitors/{id}',
    cost: 'scan',
    access: 'read',
    what: 'read monitors',
    tag: 'monitors',
    summary: 'A monitor, its drift now and its latest alerts',
    params: idParams,
    responses: { '200': { description: 'The monitor', schema: z.object({ monitor: monitorAnswer, drift: driftAnswer.nullable(), alerts: z.array(alertAnswer) }) }, '404': err('No such monitor') },
    handle: async (ctx, s) => {
      const m = await s.monitors.get(ctx.project, ctx.params.id);
      const drift = await s.monitors.current(m).catch((e: unknown) => {
        if (e instanceof Error && 'status' in e && e.status === 404) return null;
        throw e;
      });
      ctx.res.json({ monitor: monitorView(m), drift, alerts: (await s.monitors.alerts(ctx.project, { monitorId: m.id, limit: 20 })).map(alertView) });
    },
  }),
  route({
    method: 'delete',
    path: '/v1/monitors/{id}',
    access: 'edit',
    what: 'delete monitors',
    tag: 'monitors',
    summary: 'Remove a monitor and its alerts (audited)',
    params: idParams,
    responses: { '204': { description: 'Removed' }, '404': err('No such monitor') },
    handle: async (ctx, s) => {
      await s.monitors.delete(ctx.project, ctx.actor, ctx.params.id);
      ctx.res.status(204).end();
    },
  }),
  route({
    method: 'get',
    path: '/v1/alerts',
    access: 'read',
    what: 'read alerts',
    tag: 'monitors',
    summary: "The project's alerts, newest first",
    query: alertsQuery,
    responses: { '200': { description: 'Alerts', schema: z.object({ alerts: z.array(alertAnswer) }) } },
    handle: async (ctx, s) => {
      const q = ctx.query;
      ctx.res.json({ alerts: (await s.monitors.alerts(ctx.project, { state: q.state, monitorId: q.monitor, limit: q.limit })).map(alertView) });
    },
  }),
  route({
    method: 'get',
    path: '/v1/alerts/{id}',
    cost: 'scan',
    access: 'read',
    what: 'read alerts',
    tag: 'monitors',
    summary: 'An alert with its monitor and the drift of its signals now, against the baseline',
    params: idParams,
    responses: { '200': { description: 'The alert', schema: z.object({ alert: alertAnswer, monitor: monitorAnswer, drift: driftAnswer.nullable() }) }, '404': err('No such alert') },
    handle: async (ctx, s) => {
      const a = await s.monitors.alert(ctx.project, ctx.params.id);
      const m = await s.monitors.get(ctx.project, a.monitorId);
      const drift = await s.monitors.current(m).catch((e: unknown) => {
        if (e instanceof Error && 'status' in e && e.status === 404) return null;
        throw e;
      });
      ctx.res.json({ alert: alertView(a), monitor: monitorView(m), drift });
    },
  }),
];
