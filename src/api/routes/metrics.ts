import { route } from '../route.ts';

// The installation's operational figures for a Prometheus scraper (src/common/metrics.ts), on a
// key of role `metrics` (or admin) that reads nothing else. They cover every project.

const EXPOSITION = { type: 'string', description: 'Prometheus text exposition format 0.0.4' };

export const metricsRoutes = [
  route({
    method: 'get',
    path: '/metrics',
    access: 'metrics',
    what: 'read the metrics',
    tag: 'health',
    summary: 'Operational figures in Prometheus text format: spans received, acknowledged, refused and stored; spool and writer; store calls; API latency; auth failures and rate limits',
    description: 'For a Prometheus scraper holding a key of role `metrics` (admin keys may read it too). The figures are the whole installation\'s, not one project\'s.',
    responses: { '200': { description: 'The metrics', content: { 'text/plain; version=0.0.4': { schema: EXPOSITION } } } },
    handle: async (ctx, s) => {
      const body = await s.metrics.render();
      ctx.res.setHeader('Content-Type', s.metrics.contentType);
      ctx.res.send(body);
    },
  }),
];
