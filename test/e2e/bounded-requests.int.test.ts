import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// No single request can freeze, stall or exhaust the server: a diff of two very different versions
// gives up within its bound (422) while the server keeps answering, a template that would render
// hundreds of megabytes is refused before it is built, and times the span store cannot hold are
// the caller's error (400 naming the parameter), not the engine's (500).

describe('requests are bounded', () => {
  let server: ServerUnderTest;
  const name = `bounded-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const register = (template: unknown, prompt = name) => call('POST', `/v1/prompts/${prompt}/versions`, { template, commitMessage: 'a change' });

  it('answers 422 for two versions too different to diff, and /healthz answers meanwhile', async () => {
    const lines = (tag: string) => Array.from({ length: 3_000 }, (_, i) => `${tag} line ${i}: ${tag.repeat(8)}`).join('\n');
    expect((await register(lines('a'))).status).toBe(201);
    expect((await register(lines('b'))).status).toBe(201);

    const diff = call('GET', `/v1/prompts/${name}/diff?from=1&to=2`);
    const health = Array.from({ length: 3 }, () => fetch(`${server.url}/healthz`).then((r) => r.status));
    const [d, ...statuses] = await Promise.all([diff, ...health]);
    expect(statuses).toEqual([200, 200, 200]);
    expect(d.status).toBe(422);
    expect(d.body.error.message).toMatch(/differ too much to diff/);
    expect(d.body.error.message).toMatch(/compare them locally|closer together/);

    // A diff within the bound still answers.
    expect((await register(`${lines('b')}\none more line`)).status).toBe(201);
    const small = await call('GET', `/v1/prompts/${name}/diff?from=2&to=3`);
    expect(small.status).toBe(200);
    expect(small.body).toMatchObject({ added: 1, removed: 0 });
    expect(small.body.unified).toContain('+one more line');
  });

  it('refuses a render that would be hundreds of megabytes with a clear 4xx, and keeps answering', async () => {
    const bomb = `${name}-bomb`;
    expect((await register('{{a}}'.repeat(52_000), bomb)).status).toBe(201);
    const r = await call('POST', `/v1/prompts/${bomb}/versions/1/render`, { variables: { a: 'x'.repeat(4096) } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.error.message).toMatch(/rendered template would be \d+ characters, more than/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const fine = await call('POST', `/v1/prompts/${bomb}/versions/1/render`, { variables: { a: 'x' } });
    expect(fine.status).toBe(200);
    expect(fine.body.rendered).toEqual({ type: 'text', text: 'x'.repeat(52_000) });
  });

  describe('times the span store cannot hold answer 400 naming the parameter', () => {
    const times = ['0001-01-01T00:00:00Z', '2300-01-01T00:00:00Z', '2262-04-12T00:00:00Z', '1899-12-31T23:59:59Z'];
    const cases = times.flatMap((t) => [
      { what: `impact from=${t}`, path: () => `/v1/impact?prompt=${name}&version=1&from=${t}`, param: 'from' },
      { what: `impact to=${t}`, path: () => `/v1/impact?prompt=${name}&version=1&to=${t}`, param: 'to' },
      { what: `compare from=${t}`, path: () => `/v1/prompts/${name}/compare?a=1&b=2&from=${t}`, param: 'from' },
      { what: `compare to=${t}`, path: () => `/v1/prompts/${name}/compare?a=1&b=2&to=${t}`, param: 'to' },
    ]);
    it.each(cases)('$what', async ({ path, param }) => {
      const r = await call('GET', path());
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(new RegExp(`\\b${param}\\b`));
    });

    const cursor = (timestamp: unknown) => Buffer.from(JSON.stringify([timestamp, 'a'.repeat(32), 'b'.repeat(16)])).toString('base64url');
    it.each(['2026-01-01T::::Z', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T25:00:00Z', '0001-01-01T00:00:00Z', '2300-01-01T00:00:00.123456789Z', 42])('impact cursor with time %s', async (t) => {
      const r = await call('GET', `/v1/impact?prompt=${name}&version=1&cursor=${cursor(t)}`);
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/\bcursor\b/);
    });

    it('a good cursor and in-range times still answer 200', async () => {
      const r = await call('GET', `/v1/impact?prompt=${name}&version=1&from=1900-01-01T00:00:00Z&to=2262-04-11T00:00:00Z&cursor=${cursor('2026-01-01T00:00:00.123456789Z')}`);
      expect(r.status).toBe(200);
      expect((await call('GET', `/v1/prompts/${name}/compare?a=1&b=2&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`)).status).toBe(200);
    });
  });
});
