import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MissingVariablesError, PromptClient, PromptRegistryError, PromptUnavailableError, hashTemplate } from '../src/index.ts';

// loadPrompt against a scripted registry on loopback: what it asks, what it caches, and what it
// serves when the registry is down. TTLs are read from Date.now(), so a fake Date moves past them
// instead of the tests waiting.

/** `hang`: never answer, so only the client's own timeout can end the request. */
type Answer = { status: number; body?: unknown; delayMs?: number; hang?: boolean };
let registry: Server;
let url: string;
let seen: Array<{ uri: string; key: string | null; auth: string | undefined }> = [];
let answer: (uri: string, key: string | null) => Answer;
/** Settles when the client closes a request the registry is hanging on. */
let hungUpOn: Promise<void> | undefined;
const warnings: string[] = [];

const version = (name: string, v: number, text: string) => ({ name, version: v, template: { type: 'text', text }, templateHash: hashTemplate({ type: 'text', text }), variables: [] });
const ok = (uri: string, alias: string | null, v: ReturnType<typeof version>, assignment: unknown = null): Answer => ({ status: 200, body: { uri, alias, assignment, version: v } });

beforeAll(async () => {
  registry = createServer((req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    seen.push({ uri: q.get('uri')!, key: q.get('key'), auth: req.headers.authorization });
    const a = answer(q.get('uri')!, q.get('key'));
    if (a.hang) {
      hungUpOn = new Promise((r) => res.once('close', () => r()));
      return;
    }
    setTimeout(() => {
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body ?? { error: { message: 'boom' } }));
    }, a.delayMs ?? 0);
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
  diag.setLogger({ error: (m) => warnings.push(m), warn: (m) => warnings.push(m), info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
});
afterAll(() => {
  diag.disable();
  registry.closeAllConnections();
  return new Promise<void>((r) => registry.close(() => r()));
});
beforeEach(() => {
  seen = [];
  hungUpOn = undefined;
  warnings.length = 0;
  answer = (uri) => ok(uri, 'production', version('greet', 2, 'Hello {{name}}, welcome to {{shop}}.'));
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Only Date is faked: sockets, the fake registry's delays and AbortSignal.timeout keep real time. */
function fakeClock(): { advance(ms: number): void } {
  vi.useFakeTimers({ toFake: ['Date'] });
  return { advance: (ms) => vi.setSystemTime(Date.now() + ms) };
}

describe('loadPrompt', () => {
  it('resolves a URI, { name, version } and { name, alias } through GET /v1/prompts/resolve with the key and the API key', async () => {
    const client = new PromptClient({ endpoint: `${url}/`, apiKey: 'pl_secret' });
    const p = await client.load('prompts:/greet@production', { key: 'user-1' });
    await client.load({ name: 'greet', version: 2 });
    await client.load({ name: 'greet', alias: 'canary' });
    expect(seen.map((s) => [s.uri, s.key, s.auth])).toEqual([
      ['prompts:/greet@production', 'user-1', 'Bearer pl_secret'],
      ['prompts:/greet/2', null, 'Bearer pl_secret'],
      ['prompts:/greet@canary', null, 'Bearer pl_secret'],
    ]);
    expect(p).toMatchObject({ name: 'greet', version: 2, alias: 'production', splitId: null, source: 'registry', variables: ['name', 'shop'] });
    expect(p.lineage).toEqual({ name: 'greet', version: 2, alias: 'production', templateHash: hashTemplate({ type: 'text', text: 'Hello {{name}}, welcome to {{shop}}.' }) });
  });

  it('reuses an answer for its TTL, then asks again', async () => {
    const clock = fakeClock();
    const client = new PromptClient({ endpoint: url });
    await client.load('prompts:/greet@production', { ttlMs: 60 });
    expect((await client.load('prompts:/greet@production', { ttlMs: 60 })).source).toBe('cache');
    clock.advance(59);
    expect((await client.load('prompts:/greet@production', { ttlMs: 60 })).source).toBe('cache');
    expect(seen).toHaveLength(1);
    clock.advance(1);
    expect((await client.load('prompts:/greet@production', { ttlMs: 60 })).source).toBe('registry');
    expect(seen).toHaveLength(2);
  });

  it('asks once for many callers at the same time', async () => {
    answer = (uri) => ({ ...ok(uri, 'production', version('greet', 2, 'Hi')), delayMs: 30 });
    const client = new PromptClient({ endpoint: url });
    const all = await Promise.all(Array.from({ length: 20 }, () => client.load('prompts:/greet@production')));
    expect(seen).toHaveLength(1);
    expect(new Set(all.map((p) => p.version))).toEqual(new Set([2]));
  });

  it("applies an alias's A/B split by the caller's key, caching per key, and shares an unsplit alias across keys", async () => {
    answer = (uri, key) =>
      uri.endsWith('@canary')
        ? ok(uri, 'canary', version('greet', key === 'user-b' ? 4 : 3, 'Hi'), { splitId: 'canary-2-0badf00d', version: key === 'user-b' ? 4 : 3, key })
        : ok(uri, 'production', version('greet', 2, 'Hi'));
    const client = new PromptClient({ endpoint: url });
    const a = await client.load('prompts:/greet@canary', { key: 'user-a' });
    const b = await client.load('prompts:/greet@canary', { key: 'user-b' });
    expect([a.version, a.splitId, b.version, b.splitId]).toEqual([3, 'canary-2-0badf00d', 4, 'canary-2-0badf00d']);
    expect(a.lineage.splitId).toBe('canary-2-0badf00d');
    expect((await client.load('prompts:/greet@canary', { key: 'user-a' })).source).toBe('cache');
    expect(seen.filter((s) => s.uri.endsWith('@canary'))).toHaveLength(2);
    for (const key of ['u1', 'u2', 'u3']) await client.load('prompts:/greet@production', { key });
    expect(seen.filter((s) => s.uri.endsWith('@production'))).toHaveLength(1);
  });

  it('serves the last good prompt while the registry answers 5xx, reports it through diag, and retries later', async () => {
    const clock = fakeClock();
    const client = new PromptClient({ endpoint: url });
    await client.load('prompts:/greet@production', { ttlMs: 10 });
    answer = () => ({ status: 503 });
    clock.advance(10);
    const stale = await client.load('prompts:/greet@production', { ttlMs: 10 });
    expect(stale).toMatchObject({ version: 2, alias: 'production', source: 'stale' });
    expect(warnings.join('\n')).toMatch(/registry unreachable \(the registry answered 503\); serving the last good prompts:\/greet@production, version 2/);
    answer = (uri) => ok(uri, 'production', version('greet', 5, 'Back'));
    clock.advance(10);
    expect((await client.load('prompts:/greet@production', { ttlMs: 10 })).version).toBe(5);
    expect(seen).toHaveLength(3);
  });

  it('serves the last good prompt when the registry does not answer in time, giving up on the request itself', async () => {
    const clock = fakeClock();
    const client = new PromptClient({ endpoint: url });
    await client.load('prompts:/greet/2', { ttlMs: 1 });
    answer = () => ({ status: 200, hang: true });
    clock.advance(1);
    const timeouts = vi.spyOn(AbortSignal, 'timeout');
    // The registry never answers: only the request's own timeout can end this load.
    expect((await client.load('prompts:/greet/2', { ttlMs: 1, timeoutMs: 50 })).source).toBe('stale');
    expect(timeouts.mock.calls).toEqual([[50]]); // bounded by timeoutMs, not the 5 s default
    expect(seen.map((s) => s.uri)).toEqual(['prompts:/greet/2', 'prompts:/greet/2']);
    expect(warnings.join('\n')).toMatch(/registry unreachable \(TimeoutError: .*\); serving the last good prompts:\/greet\/2, version 2/);
    await hungUpOn; // the client closed the request, not the registry
  });

  it('serves the last good prompt when nothing listens any more, and gives a new key of a split the last arm seen', async () => {
    answer = (uri, key) => ok(uri, 'canary', version('greet', 3, 'Hi'), { splitId: 'canary-1-aa', version: 3, key });
    const clock = fakeClock();
    const client = new PromptClient({ endpoint: url });
    await client.load('prompts:/greet@canary', { key: 'k1', ttlMs: 1 });
    client.connection.endpoint = 'http://127.0.0.1:9'; // discard port: connection refused
    clock.advance(1);
    expect(await client.load('prompts:/greet@canary', { key: 'k1', ttlMs: 1 })).toMatchObject({ version: 3, source: 'stale' });
    expect(await client.load('prompts:/greet@canary', { key: 'k-new', ttlMs: 1 })).toMatchObject({ version: 3, splitId: 'canary-1-aa', source: 'stale' });
  });

  it('serves the fallback template, with no version, when the registry is down and nothing was cached', async () => {
    const client = new PromptClient({ endpoint: 'http://127.0.0.1:9' });
    const p = await client.load('prompts:/greet@production', { fallback: 'Hello {{name}}' });
    expect(p).toMatchObject({ name: 'greet', version: undefined, alias: 'production', source: 'fallback', templateHash: hashTemplate({ type: 'text', text: 'Hello {{name}}' }) });
    expect(p.format({ name: 'Ada' })).toBe('Hello Ada');
    await expect(client.load('prompts:/other/1')).rejects.toBeInstanceOf(PromptUnavailableError);
  });

  it('does not hide a refusal behind the cache: an unknown prompt is an error', async () => {
    answer = () => ({ status: 404, body: { error: { message: 'prompt nope has no version 9' } } });
    const client = new PromptClient({ endpoint: url });
    const err = await client.load('prompts:/nope/9').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PromptRegistryError);
    expect((err as PromptRegistryError).status).toBe(404);
    expect((err as Error).message).toMatch(/prompt nope has no version 9/);
  });
});

describe('prompt.format', () => {
  const load = async (template: unknown, variables?: Record<string, string>) => {
    answer = (uri) => ({ status: 200, body: { uri, alias: null, assignment: null, version: { name: 't', version: 1, template, templateHash: 'h', variables: [] } } });
    return new PromptClient({ endpoint: url }).load('prompts:/t/1', variables ? { variables } : {});
  };

  it('renders a text template, spaces inside the braces allowed', async () => {
    expect((await load({ type: 'text', text: 'Hi {{ name }}, about {{order.id}}' })).format({ name: 'Ada', 'order.id': 42 })).toBe('Hi Ada, about 42');
  });

  it('renders a chat template into messages, and a text template into one user message', async () => {
    const chat = await load({ type: 'chat', messages: [{ role: 'system', content: 'You serve {{shop}}.' }, { role: 'user', content: '{{question}}' }] });
    expect(chat.format({ shop: 'Acme', question: 'Where is my order?' })).toEqual([{ role: 'system', content: 'You serve Acme.' }, { role: 'user', content: 'Where is my order?' }]);
    expect((await load({ type: 'text', text: 'Q: {{q}}' })).messages({ q: 'why' })).toEqual([{ role: 'user', content: 'Q: why' }]);
  });

  it('refuses to render with a variable missing, naming it', async () => {
    const p = await load({ type: 'text', text: '{{a}} {{b}} {{c}}' });
    expect(() => p.format({ b: '1' })).toThrow(MissingVariablesError);
    expect(() => p.format({ b: '1' })).toThrow('prompt t needs the variables "a", "c", which were not given');
  });

  it('takes defaults from loadPrompt, which the values given to format override', async () => {
    const p = await load({ type: 'text', text: '{{greeting}} {{name}}' }, { greeting: 'Hello', name: 'default' });
    expect(p.format({ name: 'Ada' })).toBe('Hello Ada');
  });

  it('treats names such as __proto__ as plain data', async () => {
    const p = await load({ type: 'text', text: '[{{__proto__}}] [{{constructor}}]' });
    expect(() => p.format({})).toThrow(/"__proto__", "constructor"/);
    expect(p.format(new Map([['__proto__', 'x'], ['constructor', 'y']]))).toBe('[x] [y]');
    expect(p.format(JSON.parse('{"__proto__":"p","constructor":"c"}'))).toBe('[p] [c]');
  });
});
