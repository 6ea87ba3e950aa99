import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Requests a browser could be made to send, answers a browser could be made to misread, and
// evaluation results that must not be taken for one another — against a real server.

/** A request with headers fetch will not let a caller set (Host). */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('with authentication off (local development)', () => {
  let server: ServerUnderTest;
  const keyCount = async () => ((await (await fetch(`${server.url}/v1/keys`)).json()) as { keys: unknown[] }).keys.length;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('serves only requests that name a loopback host, so a rebound DNS name reaches nothing', async () => {
    const before = await keyCount();
    for (const host of ['evil.example', `evil.example:${server.port}`, '10.0.0.1', '127.0.0.1.evil.example']) {
      const r = await raw(server.url, 'POST', '/v1/keys', { host }, { role: 'admin' });
      expect(r.status, host).toBe(403);
      expect(r.body).toMatch(/loopback/);
    }
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`]) expect((await raw(server.url, 'GET', '/v1/prompts', { host })).status, host).toBe(200);
    expect(await keyCount()).toBe(before);
  });

  it('refuses what a page on another origin sends through the browser, and serves its own pages', async () => {
    const before = await keyCount();
    const host = `127.0.0.1:${server.port}`;
    expect((await raw(server.url, 'POST', '/v1/keys', { host, origin: 'http://evil.example' }, { role: 'admin' })).status).toBe(403);
    expect((await raw(server.url, 'POST', '/v1/keys', { host, origin: 'http://localhost:3000' }, { role: 'admin' })).status).toBe(403);
    expect((await raw(server.url, 'POST', '/v1/keys', { host, 'sec-fetch-site': 'cross-site' }, { role: 'admin' })).status).toBe(403);
    expect(await keyCount()).toBe(before);
    expect((await raw(server.url, 'GET', '/v1/prompts', { host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });
});

describe('answers a browser cannot be made to misread', () => {
  let server: ServerUnderTest;
  const tag = randomBytes(3).toString('hex');
  const prompt = `safe-${tag}`;

  beforeAll(async () => {
    server = await startServer();
    const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(`/v1/prompts/${prompt}/versions`, { template: '<script>alert(1)</script> {{q}}', commitMessage: '<img src=x onerror=alert(1)>' })).status).toBe(201);
    const ns = String(BigInt(Date.now()) * 1_000_000n);
    const span = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), name: 'chat', kind: 3, startTimeUnixNano: ns, endTimeUnixNano: ns, attributes: [{ key: 'gen_ai.prompt.name', value: { stringValue: prompt } }, { key: 'gen_ai.prompt.version', value: { intValue: '1' } }, { key: 'gen_ai.response.id', value: { stringValue: `r-${tag}` } }] };
    expect((await post('/v1/traces', { resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] })).status).toBe(200);
    await eventually(async () => ((await fetch(`${server.url}/v1/provenance?response_id=r-${tag}`)).status === 200 ? true : undefined), 'the span to be stored');
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('marks every answer nosniff, and serves the HTML report under a policy that runs no script', async () => {
    for (const path of ['/v1/prompts', `/v1/provenance?response_id=r-${tag}`, '/no/such/route']) expect((await fetch(`${server.url}${path}`)).headers.get('x-content-type-options'), path).toBe('nosniff');
    const res = await fetch(`${server.url}/v1/reports/compliance?response_id=r-${tag}&format=html`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).not.toMatch(/script-src|unsafe-inline|unsafe-eval/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
  });

  it('keeps every evaluation post of the same run and scorer, once each, within its project', async () => {
    const post = (results: unknown[]) =>
      fetch(`${server.url}/v1/evaluations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runId: `run-${tag}`, scorer: 'exact', prompt: `prompts:/${prompt}/1`, results }) });
    // Two harness workers post different results of one run at once; then one of them retries.
    const posts = await Promise.all([post([{ score: 1, itemId: 'a' }]), post([{ score: 0, itemId: 'b' }]), post([{ score: 1, itemId: 'c' }])]);
    expect(posts.map((r) => r.status)).toEqual([201, 201, 201]);
    expect((await post([{ score: 0, itemId: 'b' }])).status).toBe(201);
    const impact = (await (await fetch(`${server.url}/v1/impact?prompt=${prompt}&version=1`)).json()) as { evaluations: Array<{ runId: string; scorer: string; results: number }> };
    expect(impact.evaluations.find((e) => e.runId === `run-${tag}` && e.scorer === 'exact')?.results).toBe(3);
  });
});
