import type { RequestHandler } from 'express';
import { ForbiddenError, isLoopbackHost } from '../governance/access.ts';

// With authentication off (PROMPTLINE_DEV_NO_AUTH) every caller is an admin, and the server binds to
// loopback. That alone does not stop a page on another origin: through DNS rebinding its host name
// can resolve to 127.0.0.1, or it can post to localhost from the victim's browser. So only requests
// that name a loopback host are served, and none that a browser sends on behalf of another origin.

/** The page that sent the request was served by this server itself. */
function sameOrigin(origin: string, host: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

export function loopbackOnly(): RequestHandler {
  return (req, _res, next) => {
    const host = req.headers.host ?? '';
    if (!isLoopbackHost(host)) return next(new ForbiddenError(`authentication is off, so only loopback hosts are served, not "${host.slice(0, 100)}"`));
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, host)) return next(new ForbiddenError('authentication is off, so no cross-origin request is served'));
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return next(new ForbiddenError('authentication is off, so no cross-site request is served'));
    next();
  };
}
