import { randomBytes } from 'node:crypto';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PromptClient, register } from '../../instrumentation/src/index.ts';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// The instrumentation's own OTLP exporter against a real `promptline serve` with keys: a key that
// may not send spans (read) or is revoked is refused, and the app is told once, not once an export;
// an app key sends spans and loads prompts.

const ADMIN = `admin-${randomBytes(12).toString('hex')}`;
let server: ServerUnderTest;
const keys: Record<string, { id: string; key: string }> = {};

async function call(key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  server = await startServer({ auth: true, env: { PROMPTLINE_API_KEY: ADMIN } });
  for (const role of ['read', 'app', 'ingest']) {
    const r = await call(ADMIN, 'POST', '/v1/keys', { role, name: `refusal ${role}` });
    expect(r.status).toBe(201);
    keys[role] = r.body;
  }
  const revoked = await call(ADMIN, 'POST', '/v1/keys', { role: 'app', name: 'refusal revoked' });
  keys.revoked = revoked.body;
  expect((await call(ADMIN, 'DELETE', `/v1/keys/${keys.revoked!.id}`)).status).toBe(204);
}, 120_000);

afterAll(async () => {
  diag.disable();
  await server?.stop();
  if (server) removeDir(server.dataDir);
});

/** Ends a span and flushes, `times` times: each flush is one export request to the server. */
async function exportSpans(handle: ReturnType<typeof register>, times: number): Promise<string[]> {
  const traceIds: string[] = [];
  for (let i = 0; i < times; i++) {
    const span = handle.tracerProvider.getTracer('refusal-test').startSpan(`step ${i}`);
    traceIds.push(span.spanContext().traceId);
    span.end();
    await handle.forceFlush();
  }
  return traceIds;
}

const refusals = (lines: string[]) => lines.filter((l) => l.includes('Promptline refused the spans'));

describe('a refused export', () => {
  it('is reported once through the diag logger, naming the status and the key to use, for several refused exports', async () => {
    const logged: string[] = [];
    const log = (...args: unknown[]) => logged.push(args.map(String).join(' '));
    diag.setLogger({ error: log, warn: log, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
    const handle = register({ endpoint: server.url, apiKey: keys.read!.key, openai: false, setGlobal: false, serviceName: 'refused-app' });
    try {
      await expect(exportSpans(handle, 4)).resolves.toHaveLength(4);
      expect(refusals(logged)).toHaveLength(1);
      expect(refusals(logged)[0]).toContain(`Promptline refused the spans sent to ${server.url}/v1/traces (HTTP 403: this key may not send spans)`);
      expect(refusals(logged)[0]).toContain('use a key with role app or ingest');
    } finally {
      await handle.shutdown();
      diag.disable();
    }
  });

  it('is reported once on stderr when the app has no diag logger, here for a revoked key (401)', async () => {
    diag.disable();
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const handle = register({ endpoint: server.url, apiKey: keys.revoked!.key, openai: false, setGlobal: false, serviceName: 'revoked-app' });
    try {
      await exportSpans(handle, 3);
      const lines = errors.mock.calls.map((c) => c.map(String).join(' '));
      expect(refusals(lines)).toHaveLength(1);
      expect(refusals(lines)[0]).toMatch(/HTTP 401: the key is missing, unknown, revoked or expired\). Spans are being dropped: use a key with role app or ingest/);
    } finally {
      await handle.shutdown();
      errors.mockRestore();
    }
  });

  it('is not reported for a key that may send spans; an app key sends spans and loads prompts, and reads no lineage', async () => {
    const name = `refusal-${randomBytes(3).toString('hex')}`;
    expect((await call(ADMIN, 'POST', `/v1/prompts/${name}/versions`, { template: 'Hello {{who}}', commitMessage: 'first' })).status).toBe(201);
    expect((await call(ADMIN, 'PUT', `/v1/prompts/${name}/aliases/production`, { version: 1, reason: 'live' })).status).toBe(200);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const handle = register({ endpoint: server.url, apiKey: keys.app!.key, openai: false, setGlobal: false, serviceName: 'app-key-app' });
    try {
      const prompt = await new PromptClient({ endpoint: server.url, apiKey: keys.app!.key }).load(`prompts:/${name}@production`);
      expect(prompt).toMatchObject({ name, version: 1, alias: 'production', source: 'registry' });
      const [traceId] = await exportSpans(handle, 2);
      expect(refusals(errors.mock.calls.map((c) => c.map(String).join(' ')))).toEqual([]);
      await eventually(async () => ((await call(ADMIN, 'GET', `/v1/traces/${traceId}`)).status === 200 ? true : undefined), 'the app key’s spans to be stored');
      expect((await call(keys.app!.key, 'GET', `/v1/traces/${traceId}`)).status).toBe(403);
    } finally {
      await handle.shutdown();
      errors.mockRestore();
    }
  });
});
