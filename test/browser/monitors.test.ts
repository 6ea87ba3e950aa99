import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { launchBrowser, openPage as openTab, signIn, type BrowserUnderTest, type ConsolePage } from '../helpers/browser.ts';
import { removeDir, type ServerUnderTest } from '../helpers/server.ts';
import { spanId, traceId, type JsonKeyValue } from '../helpers/otlp-payloads.ts';
import { HOSTILE } from './fixture.ts';

// Monitors, alerts and "what changed" as on-call reads them in a real browser. The server runs its
// monitor scheduler every second. Two stories are sent over OTLP with explicit timestamps:
// - app wc-model: two hours of answers; an hour ago its model snapshot changed and errors went
//   from 2 % to 25 % (half an hour later a canary prompt version with no effect);
// - prompt mon-answer v1: an hour of ordinary answers two hours ago (a monitor's baseline), then
//   answers three times as long, stamped now, which open an alert.

const MINUTE = 60_000;

let server: ServerUnderTest;
let b: BrowserUnderTest;
const keys = { admin: '', read: '', edit: '', ingest: '' };
/** When wc-model's model snapshot changed. */
let t0 = 0;
let start = 0;
/** The long answers that keep the alert's current window full while the tests read it. */
let drifting: ReturnType<typeof setInterval> | undefined;

const poll = <T>(fn: () => T | Promise<T>, timeout = 15_000) => expect.poll(fn, { timeout });

async function call(method: string, path: string, key = keys.admin, body?: unknown): Promise<any> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? null : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A small seeded generator, so the traffic is the same on every run. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const str = (key: string, value: string): JsonKeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): JsonKeyValue => ({ key, value: { intValue: String(Math.max(1, Math.round(value))) } });

interface Answer {
  at: number;
  app: string;
  prompt: string;
  version: number;
  model: string;
  error: boolean;
  outputTokens: number;
}

function spanOf(r: Answer) {
  const begin = BigInt(Math.round(r.at)) * 1_000_000n;
  return {
    resource: { attributes: [str('service.name', r.app), str('service.version', '2.0.0')] },
    scopeSpans: [
      {
        scope: { name: 'console-monitors-test' },
        spans: [
          {
            traceId: traceId(),
            spanId: spanId(),
            name: `chat ${r.model}`,
            kind: 3,
            startTimeUnixNano: begin.toString(),
            endTimeUnixNano: (begin + 300_000_000n).toString(),
            attributes: [
              str('gen_ai.provider.name', 'openai'),
              str('gen_ai.response.model', r.model),
              str('gen_ai.response.id', `chatcmpl-${traceId()}`),
              str('gen_ai.prompt.name', r.prompt),
              int('gen_ai.prompt.version', r.version),
              int('gen_ai.usage.input_tokens', 800),
              int('gen_ai.usage.output_tokens', r.outputTokens),
            ],
            status: r.error ? { code: 2, message: 'upstream error' } : { code: 1 },
          },
        ],
      },
    ],
  };
}

async function send(answers: Answer[]): Promise<void> {
  for (let i = 0; i < answers.length; i += 200) {
    const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${keys.ingest}`, 'content-type': 'application/json' }, body: JSON.stringify({ resourceSpans: answers.slice(i, i + 200).map(spanOf) }) });
    expect(res.status, await res.text()).toBe(200);
  }
}

/** `n` answers of mon-answer v1 over [from, to), their output sizes around `outputTokens`. */
const monAnswers = (n: number, from: number, to: number, outputTokens: number): Answer[] =>
  Array.from({ length: n }, (_, i) => ({ at: from + ((to - from) * i) / n, app: 'mon-app', prompt: 'mon-answer', version: 1, model: 'gpt-4o-2024-08-06', error: false, outputTokens: outputTokens * (0.85 + ((i * 37) % 31) / 100) }));

/** wc-model's two hours: every 15 s an answer; the model snapshot changes at t0, with more errors. */
function modelChange(): Answer[] {
  const rnd = random(2);
  const out: Answer[] = [];
  for (let at = start + 7_000; at < Date.now() - 5_000; at += 15_000) {
    out.push({ at, app: 'wc-model', prompt: 'wc-model-prompt', version: at >= t0 + 30 * MINUTE && rnd() < 0.5 ? 2 : 1, model: at < t0 ? 'gpt-4o-2024-08-06' : 'gpt-4o-2024-11-20', error: rnd() < (at < t0 ? 0.02 : 0.25), outputTokens: 180 + rnd() * 40 });
  }
  return out;
}

const wcQuery = () => new URLSearchParams({ app: 'wc-model', metric: 'error_rate', from: new Date(start).toISOString(), to: new Date(Date.now()).toISOString() });

/** A new tab. Its first look at the session, with no key stored yet, is answered 401 (keys are on): expected. */
async function openPage(): Promise<ConsolePage> {
  const p = await openTab(b);
  p.allowFailure('/v1/session', 401);
  return p;
}

/** Form controls a screen reader could not name: each needs a label. Runs in the page (no DOM types here). */
const unlabeled = (p: ConsolePage) =>
  p.page.evaluate(() => {
    const { document } = globalThis as any;
    return [...document.querySelectorAll('main input, main select, main textarea')].filter((el: any) => !((el.labels?.length ?? 0) > 0 || el.getAttribute('aria-label'))).map((el: any) => String(el.outerHTML));
  });

const pwned = (p: ConsolePage) => p.page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned);

const MONITOR_NAME = `answer length ${HOSTILE.img} ${HOSTILE.script}`;

beforeAll(async () => {
  const started = await startServerWithAdmin({ env: { PROMPTLINE_MONITOR_INTERVAL: '1s' } });
  server = started.server;
  keys.admin = started.admin;
  const key = async (role: string, name: string) => ((await call('POST', '/v1/keys', keys.admin, { role, name })) as { key: string }).key;
  keys.read = await key('read', 'on call (read)');
  keys.edit = await key('edit', 'editor');
  keys.ingest = await key('ingest', 'apps');

  const now = Date.now();
  t0 = now - 60 * MINUTE;
  start = now - 120 * MINUTE;
  const wc = modelChange();
  await send(wc);
  await send(monAnswers(300, now - 2 * 3_600_000, now - 3_600_000, 200));
  // Acknowledged is durable; stored is a moment later.
  await until('the seeded answers to be stored', async () => ((await call('GET', `/v1/what-changed?${wcQuery()}`)) as { responses: number }).responses === wc.length);
  b = await launchBrowser();
}, 180_000);

afterAll(async () => {
  if (drifting) clearInterval(drifting);
  await b?.close();
  await server?.stop();
  if (server) removeDir(server.dataDir);
});

describe('monitors', () => {
  it('an editor creates a monitor through the form and sees it listed; its hostile name stays text', async () => {
    const p = await openPage();
    await signIn(p, server.url, keys.edit, '/monitors');
    await p.page.getByRole('heading', { name: 'Monitors', level: 1 }).waitFor();
    const form = p.page.getByRole('form', { name: 'New monitor' });
    await form.getByLabel('Name', { exact: true }).fill(MONITOR_NAME);
    await form.getByLabel('Prompt', { exact: true }).fill('mon-answer');
    await form.getByRole('combobox', { name: 'Watch' }).selectOption('version');
    await form.getByLabel('Version', { exact: true }).fill('1');
    await form.getByLabel('Window', { exact: true }).fill('20s');
    await form.getByRole('combobox', { name: 'Baseline', exact: true }).selectOption('window');
    const now = Date.now();
    await form.getByLabel('Baseline from').fill(new Date(now - 2 * 3_600_000 - MINUTE).toISOString());
    await form.getByLabel('Baseline to').fill(new Date(now - 3_600_000 + MINUTE).toISOString());
    await form.getByRole('checkbox', { name: 'output_tokens' }).check();
    await form.getByRole('checkbox', { name: 'error_rate' }).check();
    expect(await unlabeled(p)).toEqual([]);
    await form.getByRole('button', { name: 'Create monitor' }).click();

    const table = p.page.getByRole('table', { name: 'Monitors' });
    const row = table.getByRole('row').filter({ hasText: 'mon-answer' });
    await row.waitFor();
    // The name a stranger might have typed is shown as it is, as text.
    expect(await row.getByRole('rowheader').getByRole('link').textContent()).toBe(MONITOR_NAME);
    expect(await row.locator('img').count()).toBe(0);
    expect(await row.textContent()).toContain('v1');
    expect(await row.textContent()).toContain('20 s');
    expect(await row.textContent()).toContain('output_tokens');
    expect(await pwned(p)).toBeUndefined();

    const made = ((await call('GET', '/v1/monitors')) as { monitors: Array<{ id: string; name: string; windowSeconds: number; signals: string[]; baseline: { kind: string } }> }).monitors;
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ name: MONITOR_NAME, windowSeconds: 20, signals: ['output_tokens', 'error_rate'], baseline: { kind: 'window' } });
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('an editor deletes a monitor, after saying so twice', async () => {
    await call('POST', '/v1/monitors', keys.edit, { name: 'to be removed', prompt: 'mon-answer', alias: 'production', window: '1h' });
    const p = await openPage();
    await signIn(p, server.url, keys.edit, '/monitors');
    const row = p.page.getByRole('row').filter({ hasText: 'to be removed' });
    await row.getByRole('button', { name: 'Delete to be removed' }).click();
    await row.getByRole('button', { name: /Delete “to be removed” and its alerts/ }).click();
    await poll(() => p.page.getByRole('row').filter({ hasText: 'to be removed' }).count()).toBe(0);
    expect(((await call('GET', '/v1/monitors')) as { monitors: Array<{ name: string }> }).monitors.map((m) => m.name)).toEqual([MONITOR_NAME]);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('a read key sees the monitors, but no form to create one and no delete button', async () => {
    const p = await openPage();
    await signIn(p, server.url, keys.read, '/monitors');
    await p.page.getByRole('table', { name: 'Monitors' }).getByRole('row').filter({ hasText: 'mon-answer' }).waitFor();
    expect(await p.page.getByRole('form', { name: 'New monitor' }).count()).toBe(0);
    expect(await p.page.getByRole('button', { name: /Delete/ }).count()).toBe(0);
    expect(await p.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Monitors' }).getAttribute('aria-current')).toBe('page');
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});

describe('what changed', () => {
  it('names the model snapshot as the cause of the errors, first in the ranked changes, with the verdict on top', async () => {
    const q = wcQuery();
    const answer = (await call('GET', `/v1/what-changed?${q}`)) as { verdict: { cause: string; summary: string }; changes: Array<{ kind: string; value: string[] }> };
    expect(answer.verdict.cause).toBe('model');
    expect(answer.changes[0]).toMatchObject({ kind: 'model', value: ['openai', 'gpt-4o-2024-11-20'] });

    const p = await openPage();
    await signIn(p, server.url, keys.read, `/what-changed?${q}`);
    const verdict = p.page.locator('.what-changed-verdict');
    await verdict.waitFor();
    expect(await verdict.textContent()).toBe(answer.verdict.summary);
    expect(await p.page.getByRole('heading', { name: 'Verdict: model' }).count()).toBe(1);
    // The metric over time, with the movement and the changes marked.
    await p.page.getByRole('img', { name: /error rate \(%\) per \d+ s, with the movement and each change marked/ }).waitFor();
    const rows = p.page.getByRole('table', { name: 'Lineage changes' }).locator('tbody tr');
    await poll(() => rows.count()).toBe(answer.changes.length);
    const first = rows.first();
    expect(await first.textContent()).toContain('gpt-4o-2024-11-20');
    expect(await first.getByRole('cell').nth(2).textContent()).toBe('model');
    expect(await first.getByRole('link', { name: 'impact of the model' }).getAttribute('href')).toBe('/impact?model=gpt-4o-2024-11-20&provider=openai');
    // The form shows the address's question.
    expect(await p.page.getByLabel('App', { exact: true }).inputValue()).toBe('wc-model');
    expect(await p.page.getByRole('combobox', { name: 'Metric' }).inputValue()).toBe('error_rate');
    expect(await unlabeled(p)).toEqual([]);
    await p.screenshot('console-what-changed');

    // Asking about another metric through the form puts it in the address.
    await p.page.getByRole('combobox', { name: 'Metric' }).selectOption('latency_ms');
    await p.page.getByRole('button', { name: 'Show what changed' }).click();
    await poll(() => new URL(p.page.url()).searchParams.get('metric')).toBe('latency_ms');
    expect(new URL(p.page.url()).searchParams.get('app')).toBe('wc-model');
    await poll(() => p.page.locator('.what-changed-verdict').textContent()).toMatch(/latency/);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('is linked from the response list with its app and window', async () => {
    const p = await openPage();
    await signIn(p, server.url, keys.read, '/responses?app=wc-model&range=24h');
    const link = p.page.getByRole('link', { name: 'What changed here' });
    await link.waitFor();
    const href = new URL((await link.getAttribute('href'))!, server.url);
    expect(href.pathname).toBe('/what-changed');
    expect(href.searchParams.get('app')).toBe('wc-model');
    expect(href.searchParams.get('from')).not.toBeNull();
    await link.click();
    await p.page.locator('.what-changed-verdict').waitFor();
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});

describe('alerts', () => {
  it('an alert page charts each watched signal against its baseline, and each chart leads to what changed', async () => {
    const monitor = ((await call('GET', '/v1/monitors')) as { monitors: Array<{ id: string; name: string }> }).monitors.find((m) => m.name === MONITOR_NAME)!;
    // Answers three times as long, now; kept coming so that the current window stays full.
    await send(monAnswers(200, Date.now() - 8_000, Date.now(), 600));
    drifting = setInterval(() => void send(monAnswers(20, Date.now() - 1000, Date.now(), 600)).catch(() => undefined), 2000);
    const alert = await until('an open alert', async () => ((await call('GET', '/v1/alerts?state=open')) as { alerts: Array<{ id: string; monitorId: string; signals: string[] }> }).alerts[0]);
    expect(alert).toMatchObject({ monitorId: monitor.id, signals: ['output_tokens'] });

    const p = await openPage();
    await signIn(p, server.url, keys.read, '/alerts?state=open');
    const table = p.page.getByRole('table', { name: 'Alerts' });
    const row = table.getByRole('row').filter({ hasText: 'mon-answer' });
    await row.waitFor();
    expect(await row.getByRole('cell').nth(1).textContent()).toBe(MONITOR_NAME);
    // The list's state filter is the address; resolved alerts: none yet.
    await p.page.getByRole('combobox', { name: 'State' }).selectOption('resolved');
    await poll(() => new URL(p.page.url()).searchParams.get('state')).toBe('resolved');
    await p.page.getByText('No resolved alerts.').waitFor();
    await p.page.getByRole('combobox', { name: 'State' }).selectOption('open');
    await row.getByRole('link', { name: /open since/ }).click();

    await poll(() => new URL(p.page.url()).pathname).toBe(`/alerts/${alert.id}`);
    await p.page.getByRole('heading', { level: 1, name: `Alert: ${MONITOR_NAME}` }).waitFor();
    const breached = p.page.getByRole('table', { name: 'Breached signals' });
    await breached.getByRole('rowheader', { name: 'output_tokens' }).waitFor();
    // The two windows as the evaluation that saw the breach measured them: median near 200 then, near 600 now.
    const [thenBase, thenNow] = (await breached.getByRole('row').filter({ hasText: 'output_tokens' }).getByRole('cell').allTextContents()).slice(3, 5);
    const p50Of = (text: string | undefined) => Number(/p50 ([\d.]+)/.exec(text ?? '')?.[1]);
    expect(p50Of(thenBase)).toBeGreaterThan(150);
    expect(p50Of(thenBase)).toBeLessThan(260);
    expect(p50Of(thenNow)).toBeGreaterThan(450);
    const out = p.page.getByRole('region', { name: 'Signal output_tokens' });
    await out.getByRole('img', { name: 'output_tokens: median and 90th percentile, baseline and now' }).waitFor();
    expect(await out.getByText('breached').count()).toBe(1);
    const errors = p.page.getByRole('region', { name: 'Signal error_rate' });
    await errors.getByRole('img', { name: 'error_rate: share of each value, baseline and now (%)' }).waitFor();
    // The chart's numbers as a table: the baseline's median near 200, now near 600.
    const data = out.locator('.chart-data tbody tr').first();
    const [baseP50, nowP50] = (await data.locator('td').allTextContents()).map(Number);
    expect(baseP50).toBeGreaterThan(150);
    expect(baseP50).toBeLessThan(260);
    expect(nowP50).toBeGreaterThan(450);
    expect(await pwned(p)).toBeUndefined();
    expect(await p.page.locator('main img').count()).toBe(0);
    expect(await unlabeled(p)).toEqual([]);
    await p.screenshot('console-alert');

    // Each chart links to what changed for the monitor's prompt over the alert's window, asking about its signal.
    const errorsLink = new URL((await errors.getByRole('link', { name: /What changed around this alert/ }).getAttribute('href'))!, server.url);
    expect(errorsLink.searchParams.get('metric')).toBe('error_rate');
    const link = out.getByRole('link', { name: 'What changed around this alert (output tokens)' });
    const href = new URL((await link.getAttribute('href'))!, server.url);
    expect(href.pathname).toBe('/what-changed');
    expect(href.searchParams.get('prompt')).toBe('mon-answer');
    expect(href.searchParams.get('metric')).toBe('output_tokens');
    expect(Date.parse(href.searchParams.get('from')!)).toBeLessThan(Date.now() - 2 * 3_600_000);
    await link.click();
    await poll(() => new URL(p.page.url()).pathname).toBe('/what-changed');
    await p.page.locator('.what-changed-verdict').waitFor();
    expect(await p.page.getByRole('combobox', { name: 'Metric' }).inputValue()).toBe('output_tokens');
    expect(await p.page.getByLabel('Prompt', { exact: true }).inputValue()).toBe('mon-answer');
    expect(p.problems()).toEqual([]);
    await p.close();

    // The monitor list shows the open alert, since when, linked to it.
    const list = await openPage();
    await signIn(list, server.url, keys.read, '/monitors');
    const state = list.page.getByRole('table', { name: 'Monitors' }).getByRole('link', { name: /open since/ });
    await state.waitFor();
    expect(await state.getAttribute('href')).toBe(`/alerts/${alert.id}`);
    expect(list.problems()).toEqual([]);
    await list.close();
  }, 180_000);
});
