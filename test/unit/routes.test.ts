import { describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from '../../src/api/app.ts';
import { checkDeclarations, mountRoutes } from '../../src/api/mount.ts';
import { buildOpenApiDocument } from '../../src/api/openapi.ts';
import { ACCESS_LEVELS, route, type RouteDeclaration } from '../../src/api/route.ts';
import { ROUTES } from '../../src/api/routes/index.ts';
import type { ApiServices } from '../../src/api/services.ts';

// Routes are declared once; what the app serves, what it checks and what it documents all come
// from those declarations. These tests read the router itself, not a list kept by hand.

interface Layer {
  route?: { path: string; methods: Record<string, boolean>; stack: Array<{ handle: { name: string } }> };
  handle: { stack?: Layer[] };
  name: string;
}

const declared = (routes: readonly RouteDeclaration[]) => routes.map((r) => `${r.method.toUpperCase()} ${r.path.replace(/\{(\w+)\}/g, ':$1')}`).sort();

/** Every method and path the router serves, read from Express's own layers. */
function served(stack: Layer[]): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) for (const m of Object.keys(layer.route.methods)) out.push(`${m.toUpperCase()} ${layer.route.path}`);
    else if (layer.handle.stack) out.push(...served(layer.handle.stack));
  }
  return out.sort();
}

// Never called: these tests only build the app and read its router.
const deps = { version: 'test', protectedAliases: ['production'], logger: console } as unknown as AppDeps;

describe('routes declared once', () => {
  it('serve exactly the declared routes, each with a permission, and nothing besides', () => {
    const app = createApp(deps) as unknown as { router: { stack: Layer[] } };
    expect(served(app.router.stack)).toEqual(declared(ROUTES));
    for (const r of ROUTES) expect(ACCESS_LEVELS.has(r.access), `${r.method} ${r.path}`).toBe(true);
    // Only liveness answers without a key.
    expect(ROUTES.filter((r) => r.access === 'public').map((r) => r.path)).toEqual(['/healthz']);
  });

  it('check access before any other step of a route runs (body parsing, validation, the handler)', () => {
    const router = mountRoutes(ROUTES, {} as ApiServices) as unknown as { stack: Layer[] };
    for (const layer of router.stack) expect(layer.route!.stack[0]!.handle.name, layer.route!.path).toBe('checkAccess');
  });

  it('refuse at start a route without a valid permission, or one declared twice', () => {
    const bare = { method: 'get', path: '/v1/secret', what: 'x', tag: 't', summary: 's', responses: {}, handle: () => undefined };
    expect(() => checkDeclarations([bare as unknown as RouteDeclaration])).toThrow(/no valid access/);
    expect(() => checkDeclarations([{ ...bare, access: 'root' } as unknown as RouteDeclaration])).toThrow(/no valid access/);
    const ok = route({ ...bare, method: 'get', access: 'read' });
    expect(() => checkDeclarations([ok])).not.toThrow();
    expect(() => checkDeclarations([ok, ok])).toThrow(/declared twice/);
    expect(() => checkDeclarations([{ ...ok, path: '/v1/secret/' }])).toThrow(/malformed path/);
  });

  it('document every served route with its access, keys and audit included', () => {
    const doc = buildOpenApiDocument('test', ROUTES);
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));
    expect(documented.sort()).toEqual(declared(ROUTES));
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/keys', '/v1/keys/{id}', '/v1/audit', '/v1/audit/verify']));
    const keys = doc.paths['/v1/keys'] as Record<string, { 'x-promptline-access': string }>;
    expect(keys.post!['x-promptline-access']).toBe('admin');
  });

  it('document the project header on every route that takes a key, and on none that does not', () => {
    const doc = buildOpenApiDocument('test', ROUTES);
    expect(doc.components.parameters.project).toMatchObject({ name: 'X-Promptline-Project', in: 'header', required: false });
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item as Record<string, { 'x-promptline-access': string; parameters: Array<{ $ref?: string }> }>)) {
        const refs = op.parameters.filter((p) => p.$ref === '#/components/parameters/project').length;
        expect(refs, `${method} ${path}`).toBe(op['x-promptline-access'] === 'public' ? 0 : 1);
      }
    }
  });
});
