import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whatChangedAnswer } from '../../src/api/routes/what-changed.ts';
import { driftAnswer } from '../../src/api/routes/drift.ts';
import { removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';
import { spanId, traceId, type JsonKeyValue } from '../helpers/otlp-payloads.ts';

// Ground truth for drift and "what changed": traffic sent over OTLP in which one known change
// happens at a known time, beside changes that have no effect. Drift must flag the signals that
// changed and none that did not; what-changed must name the true cause first, leave the harmless
// changes explaining next to nothing, say that a change with no effect moved nothing, and say "no
// lineage change explains it" when the metric moves with nothing else.

const ROOT = resolve(import.meta.dirname, '../..');
const MINUTE = 60_000;

/** A small seeded generator, so the traffic (and any failure) is the same on every run. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (mean: number, sd: number) => mean + sd * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, normal };
}

interface Response {
  at: number;
  app: string;
  appVersion: string;
  prompt?: { name: string; version: number; alias?: string };
  model: string;
  dataset: string;
  error: boolean;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  finishReason: string;
}

const str = (key: string, value: string): JsonKeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): JsonKeyValue => ({ key, value: { intValue: String(Math.max(0, Math.round(value))) } });

/** One OTLP/JSON request a response: a model-call span with its lineage, status, duration and token counts. */
function exportOf(r: Response) {
  const start = BigInt(r.at) * 1_000_000n;
  const attributes: JsonKeyValue[] = [
    str('gen_ai.provider.name', 'openai'),
    str('gen_ai.response.model', r.model),
    str('gen_ai.response.id', `chatcmpl-${traceId()}`),
    str('gen_ai.data_source.id', r.dataset),
    int('gen_ai.usage.input_tokens', r.inputTokens),
    int('gen_ai.usage.output_tokens', r.outputTokens),
    { key: 'gen_ai.response.finish_reasons', value: { arrayValue: { values: [{ stringValue: r.finishReason }] } } },
  ];
  if (r.prompt) {
    attributes.push(str('gen_ai.prompt.name', r.prompt.name), int('gen_ai.prompt.version', r.prompt.version));
    if (r.prompt.alias) attributes.push(str('promptline.prompt.alias', r.prompt.alias));
  }
  return {
    resource: { attributes: [str('service.name', r.app), str('service.version', r.appVersion)] },
    scopeSpans: [
      {
        scope: { name: 'what-changed-test' },
        spans: [
          {
            traceId: traceId(),
            spanId: spanId(),
            name: `chat ${r.model}`,
            kind: 3,
            startTimeUnixNano: start.toString(),
            endTimeUnixNano: (start + BigInt(Math.max(1, Math.round(r.latencyMs))) * 1_000_000n).toString(),
            attributes,
            status: r.error ? { code: 2, message: 'upstream error' } : { code: 1 },
          },
        ],
      },
    ],
  };
}

let server: ServerUnderTest;
/** The change every scenario turns on: the moment of the alias move, so that the registry's record of it is true. */
let t0: number;
const from = () => new Date(t0 - 60 * MINUTE).toISOString();
const to = () => new Date(t0 + 60 * MINUTE).toISOString();

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

/** Responses every 15 s over the two hours around t0, each as `shape` says. */
function scenario(seed: number, shape: (at: number, rnd: ReturnType<typeof random>) => Response): Response[] {
  const rnd = random(seed);
  const out: Response[] = [];
  for (let at = t0 - 60 * MINUTE + 7_000; at < t0 + 60 * MINUTE; at += 15_000) out.push(shape(at, rnd));
  return out;
}

async function whatChanged(app: string, metric: string) {
  const q = new URLSearchParams({ app, metric, from: from(), to: to() });
  return whatChangedAnswer.parse(await api('GET', `/v1/what-changed?${q}`));
}

const SCENARIOS: Record<string, () => Response[]> = {
  // An alias move to a version with longer outputs; half an hour before it, an app rollout with no effect.
  'wc-prompt': () =>
    scenario(1, (at, r) => ({
      at,
      app: 'wc-prompt',
      appVersion: at < t0 - 30 * MINUTE ? '1.0.0' : '1.1.0',
      prompt: { name: 'wc-answer', version: at < t0 ? 1 : 2, alias: 'production' },
      model: 'gpt-4o-2024-08-06',
      dataset: 'kb-2026-10',
      error: r.next() < 0.03,
      latencyMs: r.normal(400, 50),
      inputTokens: r.normal(900, 80),
      outputTokens: at < t0 ? r.normal(180, 30) : r.normal(420, 40),
      finishReason: r.next() < 0.85 ? 'stop' : 'length',
    })),
  // A model snapshot change with a higher error rate; half an hour after it, a canary prompt version with no effect.
  'wc-model': () =>
    scenario(2, (at, r) => ({
      at,
      app: 'wc-model',
      appVersion: '2.0.0',
      prompt: { name: 'wc-model-prompt', version: at >= t0 + 30 * MINUTE && r.next() < 0.5 ? 2 : 1 },
      model: at < t0 ? 'gpt-4o-2024-08-06' : 'gpt-4o-2024-11-20',
      dataset: 'kb-2026-10',
      error: r.next() < (at < t0 ? 0.02 : 0.25),
      latencyMs: r.normal(400, 50),
      inputTokens: r.normal(900, 80),
      outputTokens: r.normal(200, 30),
      finishReason: r.next() < 0.85 ? 'stop' : 'length',
    })),
  // A dataset change that shifts input size; half an hour after it, an app rollout with no effect.
  'wc-data': () =>
    scenario(3, (at, r) => ({
      at,
      app: 'wc-data',
      appVersion: at < t0 + 30 * MINUTE ? '5.0.0' : '5.1.0',
      prompt: { name: 'wc-data-prompt', version: 4 },
      model: 'gpt-4o-2024-08-06',
      dataset: at < t0 ? 'kb-2026-10' : 'kb-2026-11',
      error: r.next() < 0.03,
      latencyMs: r.normal(400, 50),
      inputTokens: at < t0 ? r.normal(900, 80) : r.normal(1800, 150),
      outputTokens: r.normal(200, 30),
      finishReason: r.next() < 0.85 ? 'stop' : 'length',
    })),
  // An app version rollout with no effect on anything.
  'wc-app': () =>
    scenario(4, (at, r) => ({
      at,
      app: 'wc-app',
      appVersion: at < t0 ? '3.1.0' : '3.2.0',
      prompt: { name: 'wc-app-prompt', version: 1 },
      model: 'gpt-4o-2024-08-06',
      dataset: 'kb-2026-10',
      error: r.next() < 0.05,
      latencyMs: r.normal(400, 50),
      inputTokens: r.normal(900, 80),
      outputTokens: r.normal(200, 30),
      finishReason: r.next() < 0.85 ? 'stop' : 'length',
    })),
  // Latency triples and no lineage value changes: the cause is outside what the spans record.
  'wc-none': () =>
    scenario(5, (at, r) => ({
      at,
      app: 'wc-none',
      appVersion: '4.0.0',
      prompt: { name: 'wc-none-prompt', version: 1 },
      model: 'gpt-4o-2024-08-06',
      dataset: 'kb-2026-10',
      error: r.next() < 0.03,
      latencyMs: at < t0 ? r.normal(300, 40) : r.normal(900, 80),
      inputTokens: r.normal(900, 80),
      outputTokens: r.normal(200, 30),
      finishReason: r.next() < 0.85 ? 'stop' : 'length',
    })),
};

beforeAll(async () => {
  // The rollup kept up every second: what-changed reads the past hour's minutes from it, the rest from the spans.
  server = await startServer({ env: { PROMPTLINE_ROLLUP_INTERVAL: '1s' } });
  // The prompt the alias-move scenario serves: v1, then production moved to v2 with longer answers.
  await api('POST', '/v1/prompts/wc-answer/versions', { template: 'Answer briefly: {{question}}', commitMessage: 'short answers' });
  await api('POST', '/v1/prompts/wc-answer/versions', { template: 'Answer in detail, with steps: {{question}}', commitMessage: 'detailed answers' });
  await api('PUT', '/v1/prompts/wc-answer/aliases/production', { version: 1, reason: 'first release' });
  await api('PUT', '/v1/prompts/wc-answer/aliases/production', { version: 2, reason: 'more helpful answers' });
  t0 = Date.now();
  let sent = 0;
  for (const make of Object.values(SCENARIOS)) {
    const responses = make();
    for (let i = 0; i < responses.length; i += 200) {
      const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ resourceSpans: responses.slice(i, i + 200).map(exportOf) }) });
      expect(res.status, await res.text()).toBe(200);
    }
    sent += responses.length;
  }
  // Stored when every scenario's responses are counted.
  for (let i = 0; ; i++) {
    const counts = await Promise.all(Object.keys(SCENARIOS).map(async (app) => (await whatChanged(app, 'error_rate')).responses));
    if (counts.reduce((a, b) => a + b, 0) === sent) break;
    if (i > 600) throw new Error(`stored ${counts.join('+')} of ${sent} responses`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Rolled up: the past hour (the scenarios share a project, so its minutes), nothing changed left over.
  for (let i = 0; ; i++) {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const figure = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    if (figure('promptline_rollup_minutes_total') >= 55 && figure('promptline_rollup_pending_minutes') === 0) break;
    if (i > 300) throw new Error(`the rollup did not catch up:\n${metrics.split('\n').filter((l) => l.startsWith('promptline_rollup')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 240_000);

afterAll(async () => {
  await server?.stop();
  if (server) removeDir(server.dataDir);
});

async function driftOf(query: Record<string, string>) {
  return driftAnswer.parse(await api('GET', `/v1/drift?${new URLSearchParams(query)}`));
}

/** Before the change against after it. */
const aroundT0 = () => ({ baseline: 'window', baseline_from: from(), baseline_to: new Date(t0).toISOString(), from: new Date(t0).toISOString(), to: to() });

describe('drift: the signals that changed, and only those', () => {
  it('an alias moved to a version with longer outputs: output size drifted for the alias, nothing else', async () => {
    const d = await driftOf({ prompt: 'wc-answer', alias: 'production', ...aroundT0() });
    expect(d.drifted).toEqual(['output_tokens']);
    const out = d.signals.find((s) => s.signal === 'output_tokens')!;
    expect(out).toMatchObject({ kind: 'continuous', test: 'ks', drifted: true });
    expect(out.pValue).toBeLessThan(1e-6);
    const [b, c] = [out.baseline as { p50: number; n: number }, out.current as { p50: number; n: number }];
    expect(b.p50).toBeGreaterThan(140);
    expect(b.p50).toBeLessThan(220);
    expect(c.p50).toBeGreaterThan(370);
    expect(b.n + c.n).toBe(d.baseline.responses + d.current.responses);
    for (const signal of ['latency_ms', 'input_tokens', 'error_rate', 'finish_reason', 'tool_call_rate', 'registration']) expect(d.signals.find((s) => s.signal === signal), signal).toMatchObject({ drifted: false });
  });

  it('a model snapshot with more errors: the error rate drifted for the version it served, nothing else', async () => {
    const d = await driftOf({ prompt: 'wc-model-prompt', version: '1', ...aroundT0() });
    expect(d.drifted).toEqual(['error_rate']);
    const e = d.signals.find((s) => s.signal === 'error_rate')!;
    expect(e).toMatchObject({ kind: 'categorical', test: 'chi_square' });
    expect((e.baseline as { shares: Record<string, number> }).shares.error).toBeLessThan(0.06);
    expect((e.current as { shares: Record<string, number> }).shares.error).toBeGreaterThan(0.15);
  });

  it('a dataset change: input size drifted; an app rollout with no effect: nothing drifted', async () => {
    expect((await driftOf({ prompt: 'wc-data-prompt', version: '4', ...aroundT0() })).drifted).toEqual(['input_tokens']);
    const none = await driftOf({ prompt: 'wc-app-prompt', version: '1', ...aroundT0() });
    expect(none.drifted).toEqual([]);
    expect(none.signals.map((s) => s.signal)).toEqual(expect.arrayContaining(['latency_ms', 'input_tokens', 'output_tokens', 'error_rate', 'finish_reason', 'tool_call_rate', 'registration']));
  });

  it("takes the version's first days as the baseline by default, and says when there is nothing to compare with", async () => {
    const d = await driftOf({ prompt: 'wc-none-prompt', version: '1', baseline_days: '1', from: from(), to: to() });
    expect(d.baseline.kind).toBe('first_days');
    expect(Math.abs(Date.parse(d.baseline.from) - (t0 - 60 * MINUTE + 7_000))).toBeLessThan(1000);
    const missing = await fetch(`${server.url}/v1/drift?prompt=wc-none-prompt&version=1&baseline=evaluation`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/wc-none-prompt v1 has no evaluation results/);
    const both = await fetch(`${server.url}/v1/drift?prompt=wc-none-prompt&version=1&alias=production`);
    expect(both.status).toBe(400);
  });
});

describe('what changed: the true cause first', () => {
  it('an alias move to a version with longer outputs: the prompt, with who moved it and why; the earlier app rollout explains little', async () => {
    const a = await whatChanged('wc-prompt', 'output_tokens');
    expect(a.movement?.moved).toBe(true);
    expect(a.movement!.change).toBeGreaterThan(150);
    expect(a.verdict.cause).toBe('prompt');
    const top = a.changes[0]!;
    expect(top.kind).toBe('alias_move');
    expect(top.move).toMatchObject({ name: 'wc-answer', alias: 'production', actor: expect.any(String), reason: 'more helpful answers', to: { version: 2 } });
    expect(top.explainedShare).toBeGreaterThan(0.8);
    expect(a.verdict.summary).toMatch(/^prompt: alias wc-answer@production moved v1 → v2/);
    // The version it moved to is the same change, not a second one.
    expect(a.changes.filter((c) => c.kind === 'prompt_version' && c.value[0] === 'wc-answer')).toEqual([]);
    const rollout = a.changes.find((c) => c.kind === 'app_version');
    expect(rollout?.value).toEqual(['wc-prompt', '1.1.0']);
    expect(Math.abs(rollout!.explainedShare!)).toBeLessThan(0.2);
    // The move to v1 just before (a version already served) explains nothing.
    expect(a.changes.find((c) => c.kind === 'alias_move' && c.move?.to.version === 1)?.explained).toBe(0);
  });

  it('a model snapshot change with a higher error rate: the model; the later canary prompt version explains little', async () => {
    const a = await whatChanged('wc-model', 'error_rate');
    expect(a.movement?.moved).toBe(true);
    expect(a.verdict.cause).toBe('model');
    expect(a.changes[0]).toMatchObject({ kind: 'model', value: ['openai', 'gpt-4o-2024-11-20'] });
    expect(a.changes[0]!.explainedShare).toBeGreaterThan(0.8);
    const canary = a.changes.find((c) => c.kind === 'prompt_version');
    expect(canary?.value).toEqual(['wc-model-prompt', '2']);
    expect(canary!.share.after).toBeGreaterThan(0.3);
    expect(canary!.significant && Math.abs(canary!.explainedShare!) >= 0.25).toBe(false);
  });

  it('a dataset change that shifts input size: the data; the later app rollout explains little', async () => {
    const a = await whatChanged('wc-data', 'input_tokens');
    expect(a.verdict.cause).toBe('data');
    expect(a.changes[0]).toMatchObject({ kind: 'datasets', value: ['kb-2026-11'] });
    expect(a.changes[0]!.explainedShare).toBeGreaterThan(0.8);
    expect(Math.abs(a.changes.find((c) => c.kind === 'app_version')!.explainedShare!)).toBeLessThan(0.2);
  });

  it('an app rollout with no effect: listed, but the metric did not move and nothing is blamed', async () => {
    for (const metric of ['error_rate', 'latency_ms', 'output_tokens', 'input_tokens']) {
      const a = await whatChanged('wc-app', metric);
      expect(a.movement?.moved, metric).toBe(false);
      expect(a.verdict.cause).toBeNull();
      expect(a.verdict.summary).toMatch(/did not move significantly/);
      expect(a.changes.map((c) => c.kind)).toEqual(['app_version']);
    }
  });

  it('a metric that moves with no lineage change: "no lineage change explains it"', async () => {
    const a = await whatChanged('wc-none', 'latency_ms');
    expect(a.movement?.moved).toBe(true);
    expect(a.movement!.change).toBeGreaterThan(400);
    expect(Math.abs(Date.parse(a.movement!.at) - t0)).toBeLessThanOrEqual(2 * MINUTE);
    expect(a.changes).toEqual([]);
    expect(a.verdict).toMatchObject({ cause: null, change: null });
    expect(a.movement!.before.mean!).toBeGreaterThan(250);
    expect(a.movement!.before.mean!).toBeLessThan(350);
    expect(a.movement!.after.mean!).toBeGreaterThan(800);
    expect(a.verdict.summary).toMatch(/^no lineage change explains it: latency moved from \d+ ms to \d+ ms around /);
  });

  it('a window whose first minute holds no response: what its first responses carry is not "first seen"', async () => {
    // The window starts a second before the minute of the first response, so its first bucket is empty;
    // two hours exactly, so that its buckets are minutes (a longer one would have two-minute buckets).
    const firstMinute = Math.floor((t0 - 60 * MINUTE + 7_000) / MINUTE) * MINUTE;
    const start = firstMinute - 1000;
    const q = new URLSearchParams({ app: 'wc-none', metric: 'latency_ms', from: new Date(start).toISOString(), to: new Date(start + 120 * MINUTE).toISOString() });
    const a = whatChangedAnswer.parse(await api('GET', `/v1/what-changed?${q}`));
    expect(a.window.bucketSeconds).toBe(60);
    expect(a.series[0]!.responses).toBe(0);
    expect(a.series[1]!.responses).toBeGreaterThan(0);
    expect(a.movement?.moved).toBe(true);
    expect(a.changes).toEqual([]);
    expect(a.verdict.summary).toMatch(/^no lineage change explains it/);
  });

  it('the series is there to chart: every bucket of the window with its responses and value', async () => {
    const a = await whatChanged('wc-none', 'latency_ms');
    expect(a.series.length).toBeGreaterThanOrEqual(120);
    expect(a.series.reduce((n, b) => n + b.responses, 0)).toBe(a.responses);
    const early = a.series.filter((b) => Date.parse(b.time) < t0 - 5 * MINUTE && b.value !== null);
    const late = a.series.filter((b) => Date.parse(b.time) > t0 + 5 * MINUTE && b.value !== null);
    expect(Math.max(...early.map((b) => b.value!))).toBeLessThan(Math.min(...late.map((b) => b.value!)));
  });

  it('`promptline what-changed` prints the verdict first and the ranked changes', async () => {
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res, rej) => {
      const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), 'what-changed', '--app', 'wc-model', '--from', from(), '--to', to()], { cwd: ROOT, env: { ...process.env, PROMPTLINE_URL: server.url }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', rej);
      child.once('close', (code) => res({ code, stdout, stderr }));
    });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^model: model openai\/gpt-4o-2024-11-20 first seen .* explains (all|\d+ %) of it; the error rate moved from [1-4]\.\d % to 2\d\.\d %/);
    expect(lines.find((l) => l.includes('gpt-4o-2024-11-20') && l.includes('model') && l.startsWith('20'))).toBeDefined();
  });

  it('refuses a window that ends before it starts, and an unknown metric', async () => {
    const bad = await fetch(`${server.url}/v1/what-changed?from=${to()}&to=${from()}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/from must be before to/);
    const metric = await fetch(`${server.url}/v1/what-changed?metric=vibes`);
    expect(metric.status).toBe(400);
  });
});
