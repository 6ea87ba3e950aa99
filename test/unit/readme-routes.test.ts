import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/api/routes/index.ts';

// The README's API table lists every endpoint, one line each. It is read here as a person reads
// it and held to the route declarations (the same ones the router serves and the OpenAPI document
// describes): a route added without its row, or a row left for a route that is gone, fails.
//
// The table's first column writes calls compactly; these are the notations it uses:
//   `GET /v1/monitors[/{id}]`            optional parts: /v1/monitors and /v1/monitors/{id}
//   `PUT`, `PATCH`, `DELETE /v1/…`       methods before a path share it
//   `GET /a/b/history`, `POST …/rollback` a sibling of the previous path: /a/b/rollback
//   `PUT /v1/x/{alias}`, `DELETE …`       the previous path itself
//   `?from=&to=` query strings, `{version|latest}` any name for a path parameter.

const README = readFileSync(join(resolve(import.meta.dirname, '../..'), 'README.md'), 'utf8');
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** The first cells of the API table's rows (the section "## API", its header and rule left out). */
function firstCells(markdown: string): string[] {
  const start = markdown.indexOf('\n## API\n');
  if (start < 0) throw new Error('README has no "## API" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const rows = markdown
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) => l.split(/(?<!\\)\|/)[1]!.trim());
  expect(rows.slice(0, 2), 'the table begins with its header and rule').toEqual(['call', '---']);
  return rows.slice(2);
}

/** A path with its optional parts (`[…]`, nested or not) left out and put in: every path it names. */
function expand(path: string): string[] {
  const open = path.indexOf('[');
  if (open < 0) return [path];
  let depth = 0;
  let close = -1;
  for (let i = open; i < path.length && close < 0; i++) {
    if (path[i] === '[') depth++;
    else if (path[i] === ']' && --depth === 0) close = i;
  }
  if (close < 0) throw new Error(`unbalanced [ in ${path}`);
  const before = path.slice(0, open);
  const after = path.slice(close + 1);
  return [...expand(before + after), ...expand(before + path.slice(open + 1, close) + after)];
}

/** "METHOD /path" for each call a row's first cell names, path parameters written `{}`. */
function callsOf(cell: string): string[] {
  const calls: string[] = [];
  let methods: string[] = [];
  let previous = '';
  for (const [, code] of cell.matchAll(/`([^`]+)`/g)) {
    const [method, written, ...rest] = code!.replaceAll('\\|', '|').trim().split(/\s+/);
    if (!METHODS.has(method!) || rest.length > 0) continue; // a body, or not an HTTP call
    methods.push(method!);
    if (written === undefined) continue; // a method that shares the next path
    let path = written.split('?')[0]!;
    if (path === '…') path = previous;
    else if (path.startsWith('…/')) path = previous.slice(0, previous.lastIndexOf('/')) + path.slice(1);
    const paths = expand(path);
    for (const p of paths) for (const m of methods) calls.push(`${m} ${p.replace(/\{[^}]*\}/g, '{}')}`);
    previous = paths[paths.length - 1]!;
    methods = [];
  }
  return calls;
}

const documented = (markdown: string) => new Set(firstCells(markdown).flatMap(callsOf));
const declared = ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path.replace(/\{[^}]*\}/g, '{}')}`);

/** Declared routes the table does not name. */
const missing = (markdown: string) => declared.filter((call) => !documented(markdown).has(call));

describe("README's API table", () => {
  it('names every declared route, with its method', () => {
    expect(missing(README)).toEqual([]);
  });

  it('names no route that is not declared', () => {
    expect([...documented(README)].filter((call) => !declared.includes(call))).toEqual([]);
  });

  it('fails when a row is taken out, or a method left out of one', () => {
    const withoutRow = README.split('\n').filter((l) => !l.startsWith('| `GET /v1/prompts/{name}/aliases` |')).join('\n');
    expect(withoutRow).not.toBe(README);
    expect(missing(withoutRow)).toEqual(['GET /v1/prompts/{}/aliases']);
    const withoutMethod = README.replace('| `PUT`, `PATCH`, `DELETE /v1/prompts/{name}/versions/{version}` |', '| `PUT`, `DELETE /v1/prompts/{name}/versions/{version}` |');
    expect(withoutMethod).not.toBe(README);
    expect(missing(withoutMethod)).toEqual(['PATCH /v1/prompts/{}/versions/{}']);
  });

  it('reads the notations the table uses', () => {
    expect(callsOf('`GET /v1/prompts[/{name}/versions[/{version\\|latest}]]`')).toEqual(['GET /v1/prompts', 'GET /v1/prompts/{}/versions', 'GET /v1/prompts/{}/versions/{}']);
    expect(callsOf('`GET /v1/a/{x}/history`, `POST …/rollback` `{reason}`')).toEqual(['GET /v1/a/{}/history', 'POST /v1/a/{}/rollback']);
    expect(callsOf('`GET /v1/p[/{alias}]`, `PUT /v1/p/{alias}` `{approvals}`, `DELETE …`')).toEqual(['GET /v1/p', 'GET /v1/p/{}', 'PUT /v1/p/{}', 'DELETE /v1/p/{}']);
    expect(callsOf('`GET /v1/responses/facets?…` (the same filters)')).toEqual(['GET /v1/responses/facets']);
    expect(callsOf('OTLP/gRPC `opentelemetry.proto.collector.trace.v1.TraceService/Export` on port 4317')).toEqual([]);
  });
});
