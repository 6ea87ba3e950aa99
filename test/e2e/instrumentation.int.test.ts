import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { diag, DiagLogLevel, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../examples/agent/fake-openai.ts';
import { hashTemplate, PromptClient, register } from '../../instrumentation/src/index.ts';
import { removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// The instrumentation package against a real `promptline serve`: the example agent end to end
// (its prompts from the registry, its model calls to an OpenAI-compatible fake, its spans over
// OTLP), and loadPrompt through a registry outage.

const ROOT = resolve(import.meta.dirname, '../..');
const API_KEY = 'pl-e2e-bootstrap-admin-key-0123456789';
const auth = { authorization: `Bearer ${API_KEY}` };

let server: ServerUnderTest;
let fake: FakeOpenAI;

beforeAll(async () => {
  [server, fake] = await Promise.all([startServer({ env: { PROMPTLINE_API_KEY: API_KEY } }), startFakeOpenAI()]);
});
afterAll(async () => {
  await fake?.close();
  if (server) {
    await server.stop();
    removeDir(server.dataDir);
  }
});

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json', ...auth }, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Runs `npm run example:agent -- --json` as a user would, against the server and the fake. */
function runExampleAgent(): Promise<any> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--conditions=@promptline/source', join(ROOT, 'examples/agent/agent.ts'), '--json'], {
      cwd: ROOT,
      env: { ...process.env, PROMPTLINE_URL: server.url, PROMPTLINE_API_KEY: API_KEY, OPENAI_BASE_URL: fake.baseURL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the example agent exited with ${code}:\n${out}\n${err}`));
      resolvePromise(JSON.parse(out.trim().split('\n').at(-1)!));
    });
  });
}

describe('the example agent → OpenAI-compatible fake → promptline serve', () => {
  it('registers its prompts, and the provenance of its last response names the prompt version, alias, model and app', async () => {
    const requestsBefore = fake.requests.length;
    const run = await runExampleAgent();
    expect(run.responseId).toMatch(/^resp_[0-9a-f]{48}$/);

    const made = fake.requests.slice(requestsBefore);
    expect(made.map((r) => r.path)).toEqual(['/v1/chat/completions', '/v1/responses']);
    expect(made[0]!.body.tools[0].function.name).toBe('lookup_order');
    expect(JSON.stringify(made[1]!.body.input)).toContain('A-10023'); // the tool's result reached the answer step

    const answerV1 = await api('GET', '/v1/prompts/support-answer/versions/1');
    expect(run.provenance).toMatchObject({
      responseId: run.responseId,
      spanName: 'OpenAI Responses',
      prompt: { name: 'support-answer', version: 1, alias: 'production', templateHash: answerV1.templateHash, registered: true, commitMessage: 'answer: short, cite the order record' },
      model: { provider: 'openai', name: 'gpt-4o-2024-08-06' },
      datasets: [{ id: 'orders-db' }],
      app: { name: 'support-agent', version: '1.0.0' },
    });
    expect(hashTemplate(answerV1.template)).toBe(answerV1.templateHash);

    // The planning call of the same trace names the other prompt.
    const detail = await api('GET', `/v1/traces/${run.provenance.traceId}`);
    const planSpan = detail.spans.find((s: any) => s.name === 'OpenAI Chat Completions');
    // The traces API gives int64 attribute values as strings, as OTLP/JSON does.
    expect(planSpan.attributes).toMatchObject({ 'gen_ai.prompt.name': 'support-plan', 'gen_ai.prompt.version': '1', 'promptline.prompt.alias': 'production', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18' });
    expect(planSpan.attributes['gen_ai.response.id']).toMatch(/^chatcmpl-/);
  });

  it('after production moves to a new version, the next run is traced to that version', async () => {
    const v2 = await api('POST', '/v1/prompts/support-answer/versions', { template: { messages: [{ role: 'system', content: 'Answer in one sentence from {{facts}} for {{shop}}.' }, { role: 'user', content: '{{question}}' }] }, commitMessage: 'one sentence' });
    await api('PUT', '/v1/prompts/support-answer/aliases/production', { version: v2.version, reason: 'shorter answers' });
    const run = await runExampleAgent();
    expect(run.provenance.prompt).toMatchObject({ name: 'support-answer', version: v2.version, alias: 'production', templateHash: v2.templateHash, commitMessage: 'one sentence' });
  });
});

describe('loadPrompt through a registry outage', () => {
  it('serves the last good prompt after the registry stops, and the app goes on tracing with it', async () => {
    const own = await startServer({ env: { PROMPTLINE_API_KEY: API_KEY } });
    const name = `outage-${randomUUID().slice(0, 8)}`;
    const warnings: string[] = [];
    diag.setLogger({ error: (m) => warnings.push(m), warn: (m) => warnings.push(m), info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
    const exporter = new InMemorySpanExporter();
    const handle = register({ endpoint: own.url, apiKey: API_KEY, exporter, openai: false, serviceName: 'outage-app' });
    try {
      const reg = await fetch(`${own.url}/v1/prompts/${name}/versions`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ template: 'Hello {{who}}', commitMessage: 'first' }) });
      expect(reg.status).toBe(201);
      await fetch(`${own.url}/v1/prompts/${name}/aliases/live`, { method: 'PUT', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ version: 1, reason: 'go live' }) });

      const client = new PromptClient({ endpoint: own.url, apiKey: API_KEY });
      const first = await client.load(`prompts:/${name}@live`, { ttlMs: 100 });
      expect(first).toMatchObject({ version: 1, alias: 'live', source: 'registry' });

      expect(await own.stop()).toBe(0);
      // Past the TTL, which the client reads from Date.now(): the next load asks the registry.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 100);
      const stale = await client.load(`prompts:/${name}@live`, { ttlMs: 100 });
      vi.useRealTimers();
      expect(stale).toMatchObject({ version: 1, alias: 'live', templateHash: first.templateHash, source: 'stale' });
      expect(warnings.join('\n')).toMatch(new RegExp(`registry unreachable .*serving the last good prompts:/${name}@live, version 1`));

      const text = stale.run(() => trace.getTracer('app').startActiveSpan('agent.step', (span) => {
        const rendered = stale.format({ who: 'Ada' });
        span.end();
        return rendered;
      }));
      expect(text).toBe('Hello Ada');
      await handle.forceFlush();
      expect(exporter.getFinishedSpans()[0]?.attributes).toMatchObject({ 'gen_ai.prompt.name': name, 'gen_ai.prompt.version': 1, 'promptline.prompt.alias': 'live' });
    } finally {
      vi.useRealTimers();
      await handle.shutdown();
      diag.disable();
      await own.stop();
      removeDir(own.dataDir);
    }
  });
});
