import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

// The console: a static single-page app (console/, built by `npm run build:console` into
// console/dist) served on the API's own port. Its pages hold no data (everything comes from the
// API with the reader's key), so they are served without a key; only the paths below are pages,
// matched case-sensitively like every route, and any other path stays the API's 404.

/** The console's views (console/src/app.tsx): each has its own URL, answered with the app. */
const PAGE_PATHS: readonly RegExp[] = [
  /^\/$/,
  /^\/login$/,
  /^\/responses$/,
  /^\/responses\/[^/]+$/,
  /^\/traces\/[^/]+$/,
  /^\/prompts$/,
  /^\/prompts\/[^/]+$/,
  /^\/prompts\/[^/]+\/versions\/[^/]+$/,
  /^\/prompts\/[^/]+\/compare$/,
  /^\/prompts\/[^/]+\/proposals$/,
  /^\/prompts\/[^/]+\/proposals\/[^/]+$/,
  /^\/impact$/,
  /^\/what-changed$/,
  /^\/monitors$/,
  /^\/alerts$/,
  /^\/alerts\/[^/]+$/,
  /^\/audit$/,
];

const TYPES = new Map<string, string>([
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.map', 'application/json; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.woff2', 'font/woff2'],
]);

/**
 * Scripts and styles from this origin only, never inline; the page talks to its own origin only
 * and may not be framed. Data URLs are allowed for images (the blank favicon).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const DEFAULT_CONSOLE_DIR = resolve(import.meta.dirname, '../../console/dist');

interface Asset {
  body: Buffer;
  type: string;
}

/** Serves the built console from `dir`; when it has not been built, its pages say how to build it. */
export function consoleHandler(dir: string = DEFAULT_CONSOLE_DIR): RequestHandler {
  const indexPath = join(dir, 'index.html');
  const built = existsSync(indexPath);
  const index = built ? readFileSync(indexPath) : null;
  // The file names under assets/ carry a content hash: the set is read once, and nothing else on disk is reachable.
  const assets = new Map<string, Asset>();
  const assetDir = join(dir, 'assets');
  if (built && existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const type = TYPES.get(extname(name));
      if (type) assets.set(`/assets/${name}`, { body: readFileSync(join(assetDir, name)), type });
    }
  }
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const asset = assets.get(req.path);
    if (asset) {
      res.setHeader('Content-Type', asset.type);
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.setHeader('Content-Security-Policy', CONSOLE_CSP);
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (!PAGE_PATHS.some((p) => p.test(req.path))) return next();
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!index) {
      res.status(503).type('text/plain; charset=utf-8').send('The console has not been built. Run `npm run build:console` (npm start does it), then reload.\n');
      return;
    }
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(req.method === 'HEAD' ? undefined : index);
  };
}
