import type { RequestHandler } from 'express';
import type { ApiMetrics } from '../common/metrics.ts';
import { routeOf } from './mount.ts';

// Every answered request in the API's latency histogram, labelled by the route that answered it
// as declared (/v1/prompts/{name}/versions, never the raw URL: a label per prompt name would grow
// without bound), `unmatched` for a path no route declares (the console's files included).

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function countRequests(metrics: ApiMetrics): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once('finish', () => {
      const method = KNOWN_METHODS.has(req.method) ? req.method : 'other';
      metrics.request(method, routeOf(res)?.path ?? 'unmatched', res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  };
}
