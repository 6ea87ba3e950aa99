import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readyAnswer } from '../../src/api/schemas.ts';
import { startServerWithAdmin, TEST_ADMIN_NAME } from '../helpers/admin-key.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Keys, roles, projects, project and instance admins, protected aliases, rate limits, readiness
// and the audit log, against a server run as in production (authentication on), on SQLite and on
// Neo4j.

const ROOT = resolve(import.meta.dirname, '../..');
const ADMIN = `admin-${randomBytes(12).toString('hex')}`;
const neo4j = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'SQLite', env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else describe('governance on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));

type Key = string | null;

const runCli = (url: string, key: string, args: string[]) =>
  new Promise<{ code: number | null; out: string }>((res) => {
    const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { env: { ...process.env, PROMPTLINE_URL: url, PROMPTLINE_API_KEY: key } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => res({ code, out }));
  });

describe.each(backends)('governance on $backend', ({ backend, env }) => {
  let server: ServerUnderTest;
  // This test's own instance admin key (see helpers/admin-key.ts), and the bootstrap key it came from.
  let ADMIN: string;
  let bootstrap: string;
  const tag = randomBytes(3).toString('hex');
  const prompt = `gov-${tag}`;
  const keys: Record<string, string> = {};

  const call = async (key: Key, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const res = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json, headers: res.headers };
  };
  const newKey = async (role: string, extra: object = {}) => {
    const r = await call(ADMIN, 'POST', '/v1/keys', { role, name: `${role} ${tag}`, ...extra });
    expect(r.status).toBe(201);
    return r.body as { id: string; key: string; project: string };
  };
  const otlp = (responseId: string, prompt0 = prompt) => ({
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'gov-app' } }] }, scopeSpans: [{ spans: [{ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), name: 'chat', kind: 3, startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n), endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n), attributes: [{ key: 'gen_ai.prompt.name', value: { stringValue: prompt0 } }, { key: 'gen_ai.prompt.version', value: { stringValue: '1' } }, { key: 'gen_ai.response.id', value: { stringValue: responseId } }] }] }] }],
  });

  beforeAll(async () => {
    ({ server, admin: ADMIN, bootstrap } = await startServerWithAdmin({ env }));
    for (const role of ['ingest', 'read', 'edit', 'admin', 'app']) keys[role] = (await newKey(role)).key;
    keys.promoter = (await newKey('edit', { promote: true })).key;
    keys.revoked = (await newKey('read')).key;
    const revokedId = (await call(ADMIN, 'GET', '/v1/keys')).body.keys.find((k: { name: string; id: string }) => keys.revoked!.includes(k.id))!.id;
    expect((await call(ADMIN, 'DELETE', `/v1/keys/${revokedId}`)).status).toBe(204);
    keys.expired = (await newKey('admin', { expiresAt: new Date(Date.now() + 1500).toISOString() })).key;
    // A prompt with a version and two aliases for the endpoints to act on.
    expect((await call(ADMIN, 'POST', `/v1/prompts/${prompt}/versions`, { template: 'Hello {{name}}', commitMessage: 'first' })).status).toBe(201);
    expect((await call(ADMIN, 'PUT', `/v1/prompts/${prompt}/aliases/staging`, { version: 1, reason: 'setup' })).status).toBe(200);
    expect((await call(ADMIN, 'PUT', `/v1/prompts/${prompt}/aliases/production`, { version: 1, reason: 'setup' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600)); // the expired key is now past its expiry
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('answers every endpoint for every role with the right status', { timeout: 240_000 }, async () => {
    const trace = randomBytes(16).toString('hex');
    const throwaway = async () => (await newKey('read')).id;
    // [name, request, the permission it needs]
    const endpoints: Array<[string, () => [string, string, unknown?] | Promise<[string, string, unknown?]>, string]> = [
      ['send spans', () => ['POST', '/v1/traces', otlp(`r-${randomBytes(4).toString('hex')}`)], 'ingest'],
      ['provenance', () => ['GET', '/v1/provenance?response_id=nothing'], 'read'],
      ['a trace', () => ['GET', `/v1/traces/${trace}`], 'read'],
      ['impact', () => ['GET', `/v1/impact?prompt=${prompt}&version=1`], 'read'],
      ['list prompts', () => ['GET', '/v1/prompts'], 'prompts'],
      ['list versions', () => ['GET', `/v1/prompts/${prompt}/versions`], 'prompts'],
      ['a version', () => ['GET', `/v1/prompts/${prompt}/versions/1`], 'prompts'],
      ['the latest version', () => ['GET', `/v1/prompts/${prompt}/versions/latest`], 'prompts'],
      ['an alias', () => ['GET', `/v1/prompts/${prompt}/aliases/staging`], 'prompts'],
      ['alias history', () => ['GET', `/v1/prompts/${prompt}/aliases/staging/history`], 'prompts'],
      ['list aliases', () => ['GET', `/v1/prompts/${prompt}/aliases`], 'prompts'],
      ['resolve a URI', () => ['GET', `/v1/prompts/resolve?uri=prompts:/${prompt}@production`], 'prompts'],
      ['render', () => ['POST', `/v1/prompts/${prompt}/versions/1/render`, { variables: { name: 'x' } }], 'prompts'],
      ['diff', () => ['GET', `/v1/prompts/${prompt}/diff?from=1&to=1`], 'prompts'],
      ['compare', () => ['GET', `/v1/prompts/${prompt}/compare?a=1&b=1`], 'read'],
      ['a report', () => ['GET', `/v1/reports/compliance?prompt=${prompt}&version=1`], 'read'],
      ['a report by response', () => ['GET', '/v1/reports/compliance?response_id=nothing'], 'read'],
      ['register a version', () => ['POST', `/v1/prompts/${prompt}/versions`, { template: 'Hi {{name}}', commitMessage: 'matrix' }], 'edit'],
      ['move an alias', () => ['PUT', `/v1/prompts/${prompt}/aliases/staging`, { version: 1, reason: 'matrix' }], 'edit'],
      ['roll an alias back', () => ['POST', `/v1/prompts/${prompt}/aliases/staging/rollback`, { reason: 'matrix' }], 'edit'],
      ['change a version (405)', () => ['PUT', `/v1/prompts/${prompt}/versions/1`, { template: 'x', commitMessage: 'x' }], 'edit'],
      ['record evaluations', () => ['POST', '/v1/evaluations', { runId: 'm', scorer: 's', prompt: `prompts:/${prompt}/1`, results: [{ score: 1 }] }], 'edit'],
      ['move production', () => ['PUT', `/v1/prompts/${prompt}/aliases/production`, { version: 1, reason: 'matrix' }], 'promote'],
      ['roll production back', () => ['POST', `/v1/prompts/${prompt}/aliases/production/rollback`, { reason: 'matrix' }], 'promote'],
      ['create a key', () => ['POST', '/v1/keys', { role: 'read' }], 'admin'],
      ['list keys', () => ['GET', '/v1/keys'], 'admin'],
      ['revoke a key', async () => ['DELETE', `/v1/keys/${await throwaway()}`], 'admin'],
      ['read the audit log', () => ['GET', '/v1/audit'], 'admin'],
      ['verify the audit log', () => ['GET', '/v1/audit/verify'], 'admin'],
      ['readiness', () => ['GET', '/readyz'], 'any'],
      ['the OpenAPI document', () => ['GET', '/openapi.json'], 'any'],
      ['liveness', () => ['GET', '/healthz'], 'none'],
    ];
    const grants: Record<string, string[]> = {
      ingest: ['ingest', 'any'],
      app: ['ingest', 'prompts', 'any'],
      read: ['prompts', 'read', 'any'],
      edit: ['prompts', 'read', 'edit', 'any'],
      promoter: ['prompts', 'read', 'edit', 'promote', 'any'],
      admin: ['ingest', 'prompts', 'read', 'edit', 'promote', 'admin', 'any'],
    };
    const callers: Array<[string, Key]> = [['no key', null], ['a wrong key', `pl_${'0'.repeat(16)}_${'x'.repeat(43)}`], ['a revoked key', keys.revoked!], ['an expired key', keys.expired!], ...Object.keys(grants).map((r) => [r, keys[r]!] as [string, Key])];
    const wrong: string[] = [];
    for (const [endpoint, make, need] of endpoints) {
      for (const [caller, key] of callers) {
        const [method, path, body] = await make();
        const r = await call(key, method, path, body);
        const expected = need === 'none' ? 'allowed' : !(caller in grants) ? 401 : grants[caller]!.includes(need) ? 'allowed' : 403;
        const ok = expected === 'allowed' ? r.status !== 401 && r.status !== 403 && r.status < 500 : r.status === expected;
        if (!ok) wrong.push(`${caller} → ${endpoint} (${method} ${path}): ${r.status}, expected ${expected}: ${JSON.stringify(r.body)?.slice(0, 160)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('answers a key from another project as if the data did not exist, on every read endpoint', async () => {
    const a = await newKey('admin', { project: `a-${tag}` });
    const b = await newKey('admin', { project: `b-${tag}` });
    const name = `private-${tag}`;
    expect((await call(a.key, 'POST', `/v1/prompts/${name}/versions`, { template: 'secret {{x}}', commitMessage: 'a only' })).status).toBe(201);
    expect((await call(a.key, 'PUT', `/v1/prompts/${name}/aliases/staging`, { version: 1, reason: 'a only' })).status).toBe(200);
    const responseId = `r-private-${tag}`;
    expect((await call(a.key, 'POST', '/v1/traces', otlp(responseId, name))).status).toBe(200);
    const seen = await eventually(async () => ((await call(a.key, 'GET', `/v1/provenance?response_id=${responseId}`)).status === 200 ? true : undefined), 'project a to see its response');
    expect(seen).toBe(true);
    const traceId = (await call(a.key, 'GET', `/v1/provenance?response_id=${responseId}`)).body.traceId;
    expect((await call(a.key, 'GET', `/v1/impact?prompt=${name}&version=1`)).status).toBe(200);

    const reads: Array<[string, (r: { status: number; body: any }) => boolean]> = [
      [`/v1/provenance?response_id=${responseId}`, (r) => r.status === 404],
      [`/v1/provenance?trace_id=${traceId}`, (r) => r.status === 404],
      [`/v1/traces/${traceId}`, (r) => r.status === 404],
      [`/v1/impact?prompt=${name}&version=1`, (r) => r.status === 404],
      ['/v1/prompts', (r) => r.status === 200 && !JSON.stringify(r.body).includes(name)],
      [`/v1/prompts/${name}/versions`, (r) => r.status === 404],
      [`/v1/prompts/${name}/versions/1`, (r) => r.status === 404],
      [`/v1/prompts/${name}/aliases`, (r) => r.status === 200 && r.body.aliases.length === 0],
      [`/v1/prompts/${name}/aliases/staging`, (r) => r.status === 404],
      [`/v1/prompts/${name}/aliases/staging/history`, (r) => r.status === 404],
      [`/v1/prompts/resolve?uri=prompts:/${name}/1`, (r) => r.status === 404],
      [`/v1/prompts/${name}/diff?from=1&to=1`, (r) => r.status === 404],
      [`/v1/prompts/${name}/compare?a=1&b=1`, (r) => r.status === 404],
      [`/v1/reports/compliance?response_id=${responseId}`, (r) => r.status === 404],
      [`/v1/reports/compliance?prompt=${name}&version=1`, (r) => r.status === 404],
      ['/v1/keys', (r) => r.status === 200 && r.body.keys.every((k: { project: string }) => k.project === b.project)],
      ['/v1/audit', (r) => r.status === 200 && r.body.entries.every((e: { project: string }) => e.project === b.project)],
    ];
    const leaks: string[] = [];
    for (const [path, isolated] of reads) {
      const r = await call(b.key, 'GET', path);
      if (!isolated(r)) leaks.push(`${path}: ${r.status} ${JSON.stringify(r.body)?.slice(0, 200)}`);
    }
    const render = await call(b.key, 'POST', `/v1/prompts/${name}/versions/1/render`, { variables: { x: '1' } });
    if (render.status !== 404) leaks.push(`render: ${render.status}`);
    expect(leaks).toEqual([]);
  });

  it('records every change in the audit log, with actor, time, before and after', async () => {
    const r = await call(ADMIN, 'GET', '/v1/audit?limit=1000');
    const actions = r.body.entries.map((e: { action: string }) => e.action);
    for (const a of ['key.create', 'key.revoke', 'prompt.register', 'alias.move']) expect(actions).toContain(a);
    const move = r.body.entries.find((e: { action: string; target: string; after: { reason?: string } }) => e.action === 'alias.move' && e.target === `prompts:/${prompt}@production` && e.after.reason === 'setup');
    expect(move.actor).toMatch(new RegExp(`^${TEST_ADMIN_NAME} \\[key [0-9a-f]{16}\\]$`));
    expect(move).toMatchObject({ before: null, after: { version: 1, reason: 'setup' } });
    expect(Date.parse(move.at)).toBeGreaterThan(0);
    expect((await call(ADMIN, 'GET', '/v1/audit/verify')).body).toMatchObject({ ok: true, problem: null });
  });

  it('takes revocation at once', async () => {
    const k = await newKey('read');
    expect((await call(k.key, 'GET', '/v1/prompts')).status).toBe(200);
    expect((await call(ADMIN, 'DELETE', `/v1/keys/${k.id}`)).status).toBe(204);
    const after = await call(k.key, 'GET', '/v1/prompts');
    expect(after.status).toBe(401);
    expect(after.body.error.message).toMatch(/revoked/);
  });

  it('lets an admin key administer its own project only, and an instance admin key every project', async () => {
    const projectB = `b-${tag}-${randomBytes(2).toString('hex')}`;
    const adminB = await newKey('admin', { project: projectB });
    // Another project, or an instance admin key, asked for by a project admin: refused, and no key made.
    const refused = [
      await call(adminB.key, 'POST', '/v1/keys', { role: 'read', project: 'default' }),
      await call(adminB.key, 'POST', '/v1/keys', { role: 'admin', instanceAdmin: true }),
      await call(adminB.key, 'GET', '/v1/keys?project=default'),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403]);
    expect(refused[0]!.body.error.message).toMatch(new RegExp(`an admin of project ${projectB}\\) may not create keys in project default`));
    expect((await call(keys.read!, 'GET', '/v1/keys')).status).toBe(403);
    // Its own project: with or without naming it.
    const ownA = await call(adminB.key, 'POST', '/v1/keys', { role: 'app', name: 'b app' });
    const ownB = await call(adminB.key, 'POST', '/v1/keys', { role: 'read', project: projectB });
    expect([ownA.status, ownA.body.project, ownB.status, ownB.body.project]).toEqual([201, projectB, 201, projectB]);
    expect(ownA.body.instanceAdmin).toBe(false);
    const listedB = await call(adminB.key, 'GET', '/v1/keys');
    expect(listedB.body.keys.map((k: { id: string }) => k.id).sort()).toEqual([adminB.id, ownA.body.id, ownB.body.id].sort());
    // A key of project default is, to project B's admin, a key that does not exist.
    const inDefault = await newKey('read');
    expect((await call(adminB.key, 'DELETE', `/v1/keys/${inDefault.id}`)).status).toBe(404);
    expect((await call(inDefault.key, 'GET', '/v1/prompts')).status).toBe(200);
    // An instance admin key in project B: B's admin may not revoke it; an instance admin may.
    const instanceInB = await newKey('admin', { project: projectB, instanceAdmin: true });
    expect((await call(adminB.key, 'DELETE', `/v1/keys/${instanceInB.id}`)).status).toBe(403);
    expect((await call(ADMIN, 'POST', '/v1/keys', { role: 'read', instanceAdmin: true })).status).toBe(400);

    // The instance admin: lists and revokes across projects, by id.
    const listedByInstance = await call(ADMIN, 'GET', `/v1/keys?project=${projectB}`);
    expect(listedByInstance.body.keys.map((k: { id: string }) => k.id)).toEqual(expect.arrayContaining([adminB.id, ownA.body.id, instanceInB.id]));
    expect(listedByInstance.body.keys.find((k: { id: string }) => k.id === instanceInB.id).instanceAdmin).toBe(true);
    expect((await call(ADMIN, 'DELETE', `/v1/keys/${ownA.body.id}`)).status).toBe(204);
    expect((await call(ownA.body.key, 'GET', '/v1/prompts')).status).toBe(401);
    expect((await call(ADMIN, 'DELETE', `/v1/keys/${instanceInB.id}`)).status).toBe(204);
    // An instance admin key made by an instance admin administers other projects too.
    const second = await newKey('admin', { instanceAdmin: true });
    expect((await call(second.key, 'POST', '/v1/keys', { role: 'ingest', project: `c-${tag}` })).status).toBe(201);
    expect((await call(second.key, 'GET', `/v1/keys?project=${projectB}`)).status).toBe(200);

    // Audited in the log of the key's project, and in the actor's when that is another.
    const entriesFor = async (key: string, target: string) => (await call(key, 'GET', `/v1/audit?target=key:${target}&limit=100`)).body.entries as Array<{ project: string; action: string }>;
    const byInstance = adminB.id; // created by the instance admin (project default) in project B
    expect((await entriesFor(adminB.key, byInstance)).filter((e) => e.action === 'key.create').map((e) => e.project)).toEqual([projectB]);
    expect((await entriesFor(ADMIN, byInstance)).filter((e) => e.action === 'key.create').map((e) => e.project)).toContain('default');
    const revokedAcross = await entriesFor(adminB.key, ownA.body.id);
    expect(revokedAcross.map((e) => e.action).sort()).toEqual(['key.create', 'key.revoke']);
    expect((await entriesFor(ADMIN, ownA.body.id)).filter((e) => e.project === 'default').map((e) => e.action)).toEqual(['key.revoke']);
    // Made by B's admin in B: B's log only.
    expect((await entriesFor(ADMIN, ownB.body.id)).filter((e) => e.project === 'default')).toEqual([]);
  });

  it('tells any key whether the stores are up, and only an instance admin the details', async () => {
    const projectAdmin = await newKey('admin', { project: `r-${tag}` });
    for (const [caller, key] of [['ingest', keys.ingest!], ['app', keys.app!], ['read', keys.read!], ['admin of default', keys.admin!], ['admin of another project', projectAdmin.key]] as const) {
      const r = await call(key, 'GET', '/readyz');
      expect(r.status, caller).toBe(200);
      // What the caller's own project keeps, and nothing of the installation's.
      expect(r.body, caller).toEqual({ status: 'ready', stores: { spans: { ok: true }, graph: { ok: true }, registry: { ok: true } }, retention: { spans: expect.any(String), registry: 'forever', aliases: 'forever', proposals: 'forever', keys: 'forever', audit: 'forever', lineageGraph: 'forever' } });
      expect(readyAnswer.safeParse(r.body).success, caller).toBe(true);
    }
    const full = await call(ADMIN, 'GET', '/readyz');
    expect(readyAnswer.parse(full.body)).toMatchObject({ status: 'ready', stores: { graph: { ok: true, backend: expect.stringMatching(backend === 'Neo4j' ? /^neo4j/ : /^sqlite/) } } });
    expect(full.body.spool).toEqual(expect.objectContaining({ pendingRecords: expect.any(Number) }));
    expect(full.body.writer).toEqual(expect.objectContaining({ lastError: null }));
    // The bootstrap key is an instance admin too, unless another server started on the run's shared
    // Neo4j rotated it away meanwhile (helpers/admin-key.ts): then it is refused as revoked.
    const viaBootstrap = await call(bootstrap, 'GET', '/readyz');
    if (viaBootstrap.status === 401) expect(viaBootstrap.body.error.message, 'bootstrap key').toMatch(/revoked/);
    else expect(Object.keys(viaBootstrap.body).sort()).toEqual(['retention', 'spool', 'status', 'stores', 'writer']);
  });

  it('lists and revokes keys of another project from the CLI, with an instance admin key', async () => {
    const project = `cli-${tag}`;
    const made = await runCli(server.url, ADMIN, ['keys', 'create', '--role', 'app', '--project', project, '--name', 'cli app']);
    expect(made.code, made.out).toBe(0);
    const id = /created key ([0-9a-f]{16}) \(role app, project ([^,)]+)\)/.exec(made.out);
    expect(id?.[2]).toBe(project);
    const listed = await runCli(server.url, ADMIN, ['keys', 'list', '--project', project]);
    expect(listed.code, listed.out).toBe(0);
    expect(listed.out).toMatch(new RegExp(`${id![1]}\\s+cli app\\s+app\\s+${project}\\s.*active`));
    const revoked = await runCli(server.url, ADMIN, ['keys', 'revoke', id![1]!]);
    expect(revoked, revoked.out).toMatchObject({ code: 0, out: `revoked key ${id![1]}\n` });
    expect((await runCli(server.url, ADMIN, ['keys', 'list', '--project', project])).out).toMatch(new RegExp(`${id![1]}.*revoked`));
    // A project admin's CLI gets the server's refusal.
    const refused = await runCli(server.url, keys.admin!, ['keys', 'list', '--project', project]);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/may not list keys in project .*HTTP 403/);
  });

  it.skipIf(backend !== 'SQLite')('stores no key in plain text', async () => {
    const files = ['registry.sqlite', 'registry.sqlite-wal'].map((f) => join(server.dataDir, f)).filter(existsSync);
    const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
    expect(bytes.length).toBeGreaterThan(0);
    for (const [role, key] of Object.entries({ ...keys, testAdmin: ADMIN, bootstrap })) expect(bytes.includes(Buffer.from(key)), role).toBe(false);
    expect(bytes.includes(Buffer.from('scrypt$'))).toBe(true);
  });
});

describe('the audit log catches tampering, through the CLI', () => {
  let server: ServerUnderTest | undefined;
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  const cli = (url: string, args: string[]) =>
    new Promise<{ code: number | null; out: string }>((res) => {
      const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { env: { ...process.env, PROMPTLINE_URL: url, PROMPTLINE_API_KEY: ADMIN } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => res({ code, out }));
    });

  it('names an edited, a deleted and a reordered entry', { timeout: 120_000 }, async () => {
    for (const [what, sql, reason] of [
      ['edited', `UPDATE audit_log SET actor = 'mallory' WHERE seq = 3`, /entry 3 was changed/],
      ['deleted', 'DELETE FROM audit_log WHERE seq = 3', /entry 3 is missing/],
      ['reordered', 'UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1', /entry 2/],
      ['cut off the end', 'DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)', /removed from the end/],
    ] as const) {
      server = await startServer({ auth: true, env: { PROMPTLINE_API_KEY: ADMIN } });
      const call = (method: string, path: string, body: unknown) => fetch(`${server!.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      for (let i = 1; i <= 4; i++) expect((await call('POST', '/v1/prompts/p/versions', { template: `v${i}`, commitMessage: `change ${i}` })).status).toBe(201);
      expect(await cli(server.url, ['audit', 'verify'])).toMatchObject({ code: 0, out: expect.stringMatching(/intact: 5 entries/) });
      await server.stop();
      const db = new DatabaseSync(join(server.dataDir, 'registry.sqlite'));
      db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
      db.exec(sql);
      db.close();
      const dataDir = server.dataDir;
      server = await startServer({ auth: true, dataDir, env: { PROMPTLINE_API_KEY: ADMIN } });
      const r = await cli(server.url, ['audit', 'verify']);
      expect(r.code, what).toBe(1);
      expect(r.out, what).toMatch(reason);
      await server.stop();
      removeDir(dataDir);
      server = undefined;
    }
  });
});

describe('rate limits', () => {
  let server: ServerUnderTest | undefined;
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('answer 429 with Retry-After past a key’s rate, and not for another key', async () => {
    server = await startServer({ auth: true, env: { PROMPTLINE_API_KEY: ADMIN, PROMPTLINE_RATE_LIMIT_PER_SECOND: '1', PROMPTLINE_RATE_LIMIT_BURST: '3' } });
    const get = (key: string) => fetch(`${server!.url}/v1/prompts`, { headers: { authorization: `Bearer ${key}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(ADMIN)).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toContain(429);
    const limited = await get(ADMIN);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
