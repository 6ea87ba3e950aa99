import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/api/routes/index.ts';
import type { RouteDeclaration } from '../../src/api/route.ts';
import { ROLES } from '../../src/domain/governance.ts';
import { may, type Principal } from '../../src/governance/access.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { removeDir, type ServerUnderTest } from '../helpers/server.ts';

// Every route the app serves (read from its declarations, the list the router is built from) ×
// every kind of caller × the spellings of a path and a method an attacker would try. A caller
// reaches a handler only through the route's own path, method and permission: upper or mixed case,
// a trailing or doubled slash, an encoded slash or dot segment, HEAD, OPTIONS and
// X-HTTP-Method-Override reach nothing more. A route added without a permission fails here too.

const neo4j = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'SQLite', env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else describe('route matrix on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));

interface Answer {
  status: number;
  body: string;
}

/** A raw HTTP request: fetch would normalise the path (// and %2e%2e) before it leaves. */
function send(port: number, method: string, path: string, key: string | null, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    if (key !== null) h.authorization = `Bearer ${key}`;
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      h['content-length'] = String(Buffer.byteLength(body));
    }
    const req = request({ host: '127.0.0.1', port, method, path, headers: h }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const SAMPLE: Record<string, string> = { name: 'matrix', version: '1', alias: 'staging', traceId: '0af7651916cd43dd8448eb211c80319c', id: '0123456789abcdef' };
const pathOf = (r: RouteDeclaration) => r.path.replace(/\{(\w+)\}/g, (_, p: string) => SAMPLE[p] ?? 'x');
const bodyOf = (r: RouteDeclaration) => (r.method === 'get' || r.method === 'delete' ? undefined : r.rawBody ? '{"resourceSpans":[]}' : '{}');

/**
 * Spellings of one path. Those that only change case or slashes name no route at all (routing is
 * case-sensitive and strict); an encoded slash or dot segment may name another route, which then
 * checks its own access.
 */
function pathVariants(path: string): Array<{ variant: string; path: string; noRoute: boolean }> {
  const segments = path.split('/');
  const last = segments.length - 1;
  const out = [
    { variant: 'upper case', path: path.toUpperCase(), noRoute: true },
    { variant: 'mixed case', path: segments.map((s, i) => (i === 1 ? s.toUpperCase() : s)).join('/'), noRoute: true },
    { variant: 'trailing slash', path: `${path}/`, noRoute: true },
    { variant: 'double slash', path: path.replace('/', '//'), noRoute: true },
    { variant: 'inner double slash', path: `${segments.slice(0, last).join('/')}//${segments[last]}`, noRoute: true },
    { variant: 'dot segments', path: `/v1/prompts/%2e%2e/%2e%2e${path}`, noRoute: false },
    { variant: 'encoded slash', path: `${segments.slice(0, last).join('/')}%2F${segments[last]}`, noRoute: false },
  ];
  return out.filter((v) => v.path !== path);
}

const NO_ROUTE = (a: Answer) => a.status === 404 && a.body.includes('"no route for');

describe.each(backends)('route matrix on $backend', ({ env }) => {
  let server: ServerUnderTest;
  let ADMIN: string;
  const keys = new Map<string, { key: string | null; principal: Principal | null }>();

  const admin = (method: string, path: string, body?: unknown) => send(server.port, method, path, ADMIN, body === undefined ? undefined : JSON.stringify(body));

  beforeAll(async () => {
    ({ server, admin: ADMIN } = await startServerWithAdmin({ env }));
    keys.set('no key', { key: null, principal: null });
    keys.set('a wrong key', { key: `pl_${'0'.repeat(16)}_${'x'.repeat(43)}`, principal: null });
    const make = async (label: string, role: string, extra: object = {}) => {
      const r = await admin('POST', '/v1/keys', { role, name: `matrix ${label}`, ...extra });
      expect(r.status, r.body).toBe(201);
      const k = JSON.parse(r.body) as { key: string; id: string; role: Principal['role']; promote: boolean; project: string; instanceAdmin?: boolean };
      keys.set(label, { key: k.key, principal: { keyId: k.id, name: label, role: k.role, promote: k.promote, project: k.project, instanceAdmin: k.instanceAdmin ?? false, actor: label } });
    };
    for (const role of ROLES) await make(role, role);
    await make('edit with promote', 'edit', { promote: true });
    await make('admin of another project', 'admin', { project: `other-${randomBytes(3).toString('hex')}` });
    // DELETE /v1/keys/{id} acts on a real key, so that a caller who may revoke it does.
    const target = JSON.parse((await admin('POST', '/v1/keys', { role: 'read', name: 'revocation target' })).body) as { id: string };
    SAMPLE.id = target.id;
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  const allowed = (r: RouteDeclaration, p: Principal | null) => r.access === 'public' || (p !== null && (r.access === 'authenticated' || may(p, r.access)));

  it('answers every declared route, for every caller, as its declared access says', { timeout: 240_000 }, async () => {
    expect(ROUTES.length).toBeGreaterThan(25);
    const wrong: string[] = [];
    for (const r of ROUTES) {
      for (const [caller, { key, principal }] of keys) {
        const a = await send(server.port, r.method.toUpperCase(), pathOf(r), key, bodyOf(r));
        const expected = allowed(r, principal) ? 'reached' : principal === null ? 401 : 403;
        const ok = expected === 'reached' ? a.status !== 401 && a.status !== 403 && a.status !== 404 && a.status < 500 : a.status === expected;
        // A 404 from an allowed caller must come from the handler (an unknown prompt), not from routing.
        const routed = !a.body.includes('"no route for');
        if (!ok && !(expected === 'reached' && a.status === 404 && routed)) wrong.push(`${caller} → ${r.method.toUpperCase()} ${r.path}: ${a.status}, expected ${expected}: ${a.body.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('reaches no handler through another spelling of the path, for any caller', async () => {
    const reached: string[] = [];
    const callers = [...keys].filter(([c]) => c !== 'a wrong key');
    for (const r of ROUTES) {
      for (const v of pathVariants(pathOf(r))) {
        for (const [caller, { key, principal }] of callers) {
          const a = await send(server.port, r.method.toUpperCase(), v.path, key, bodyOf(r));
          // A spelling that names no route reaches nothing; one that names another route is refused
          // there unless the caller may call it, and never succeeds for a caller refused here.
          const bad = v.noRoute ? !NO_ROUTE(a) : a.status >= 500 || (!allowed(r, principal) && a.status < 400);
          if (bad) reached.push(`${caller} → ${r.method.toUpperCase()} ${v.path} (${v.variant}): ${a.status} ${a.body.slice(0, 100)}`);
        }
      }
    }
    expect(reached).toEqual([]);
  });

  it('lets no other method reach a route: HEAD is GET with its access, OPTIONS and X-HTTP-Method-Override reach nothing', async () => {
    const wrong: string[] = [];
    for (const r of ROUTES) {
      const path = pathOf(r);
      for (const [caller, { key, principal }] of keys) {
        if (caller === 'a wrong key') continue;
        const options = await send(server.port, 'OPTIONS', path, key);
        if (!NO_ROUTE(options)) wrong.push(`${caller} → OPTIONS ${path}: ${options.status}`);
        if (r.method === 'get') {
          const head = await send(server.port, 'HEAD', path, key);
          const expected = allowed(r, principal) ? head.status !== 401 && head.status !== 403 && head.status < 500 : head.status === (principal === null ? 401 : 403);
          if (!expected) wrong.push(`${caller} → HEAD ${path}: ${head.status}`);
        }
        if (r.method !== 'post') {
          // POST with an override header is still a POST: it reaches a POST route on that path or none.
          const overridden = await send(server.port, 'POST', path, key, '{}', { 'x-http-method-override': r.method.toUpperCase() });
          const postRoute = ROUTES.find((o) => o.method === 'post' && o.path === r.path);
          if (!postRoute && !NO_ROUTE(overridden)) wrong.push(`${caller} → POST ${path} overriding ${r.method}: ${overridden.status}`);
          if (postRoute && !allowed(postRoute, principal) && overridden.status !== (principal === null ? 401 : 403)) wrong.push(`${caller} → POST ${path} overriding ${r.method}: ${overridden.status}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('made and revoked keys only through callers that may: the audit log names every such change', async () => {
    const entries: Array<{ action: string; actor: string }> = [];
    for (const action of ['key.create', 'key.revoke']) entries.push(...(JSON.parse((await admin('GET', `/v1/audit?action=${action}&limit=1000`)).body) as { entries: Array<{ action: string; actor: string }> }).entries);
    const byCaller = entries.filter((e) => e.actor.startsWith('matrix '));
    // The admin caller revoked the sample key (a real one): the matrix did reach that handler.
    expect(byCaller.some((e) => e.action === 'key.revoke' && e.actor.startsWith('matrix admin ['))).toBe(true);
    expect(byCaller.filter((e) => !e.actor.startsWith('matrix admin ['))).toEqual([]);
  });
});
