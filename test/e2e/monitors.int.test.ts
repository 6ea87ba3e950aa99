import { createHmac, timingSafeEqual } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertAnswer, monitorAnswer } from '../../src/api/routes/monitors.ts';
import { removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';
import { spanId, traceId, type JsonKeyValue } from '../helpers/otlp-payloads.ts';

// A monitor as on-call uses it: it watches a prompt version's output size; when production's
// answers grow, the scheduler opens one alert and the project's webhook is told once, signed; when
// the answers come back, the alert resolves itself and the webhook is told that too.

interface Delivery {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const ROOT = resolve(import.meta.dirname, '../..');
let server: ServerUnderTest;
let receiver: Server;
let receiverUrl: string;
const deliveries: Delivery[] = [];
let secret: string;

const str = (key: string, value: string): JsonKeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): JsonKeyValue => ({ key, value: { intValue: String(Math.max(1, Math.round(value))) } });

/** `n` responses of mon-answer v1, spread over [from, to), their output sizes around `outputTokens`. */
async function send(n: number, from: number, to: number, outputTokens: number): Promise<void> {
  const spans = Array.from({ length: n }, (_, i) => {
    const start = BigInt(Math.round(from + ((to - from) * i) / n)) * 1_000_000n;
    return {
      traceId: traceId(),
      spanId: spanId(),
      name: 'chat gpt-4o',
      kind: 3,
      startTimeUnixNano: start.toString(),
      endTimeUnixNano: (start + 300_000_000n).toString(),
      attributes: [
        str('gen_ai.prompt.name', 'mon-answer'),
        int('gen_ai.prompt.version', 1),
        str('gen_ai.response.model', 'gpt-4o-2024-08-06'),
        str('gen_ai.response.id', `chatcmpl-${traceId()}`),
        int('gen_ai.usage.input_tokens', 800 + (i % 7) * 10),
        int('gen_ai.usage.output_tokens', outputTokens * (0.85 + ((i * 37) % 31) / 100)),
      ],
    };
  });
  const res = await fetch(`${server.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [str('service.name', 'mon-app')] }, scopeSpans: [{ scope: { name: 'monitor-test' }, spans }] }] }),
  });
  expect(res.status).toBe(200);
}

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? null : (JSON.parse(text) as unknown);
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const alertsOf = async (state?: string) => ((await api('GET', `/v1/alerts${state ? `?state=${state}` : ''}`)) as { alerts: unknown[] }).alerts.map((a) => alertAnswer.parse(a));
const eventsOf = (type: string) => deliveries.filter((d) => d.headers['x-promptline-event'] === type);

/** The receiver's check: HMAC-SHA256 of "<t>.<body>" with the webhook's secret, compared in constant time. */
function signatureValid(d: Delivery): boolean {
  const header = String(d.headers['x-promptline-signature'] ?? '');
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = parts.get('t');
  const v1 = parts.get('v1');
  if (!t || !v1) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${d.body}`).digest();
  const given = Buffer.from(v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  server = await startServer({ env: { PROMPTLINE_MONITOR_INTERVAL: '1s', PROMPTLINE_WEBHOOK_RETRY_BASE_MS: '100' } });
  secret = ((await api('POST', '/v1/webhooks', { url: receiverUrl, events: ['alert.*'] })) as { secret: string }).secret;
  // The baseline: an hour of ordinary answers, two hours ago.
  const now = Date.now();
  await send(300, now - 2 * 3_600_000, now - 3_600_000, 200);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (server) removeDir(server.dataDir);
  await new Promise((r) => receiver?.close(r));
});

describe('drift monitors and alerts', () => {
  it('opens one alert when the watched signal drifts, tells the webhook once, signed, and resolves itself after recovery', async () => {
    const now = Date.now();
    const m = monitorAnswer.parse(
      await api('POST', '/v1/monitors', { name: 'answer length', prompt: 'mon-answer', version: 1, signals: ['output_tokens'], window: '20s', baseline: { kind: 'window', from: new Date(now - 2 * 3_600_000).toISOString(), to: new Date(now - 3_600_000).toISOString() } }),
    );
    expect(m).toMatchObject({ prompt: 'mon-answer', version: '1', alias: null, signals: ['output_tokens'], windowSeconds: 20 });

    // No responses in the current window yet: nothing to compare, no alert.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await alertsOf()).toEqual([]);

    // Answers three times as long.
    await send(200, Date.now() - 8_000, Date.now(), 600);
    const [opened] = await until('an open alert', async () => {
      const open = await alertsOf('open');
      return open.length > 0 && open;
    });
    expect(opened).toMatchObject({ monitorId: m.id, state: 'open', signals: ['output_tokens'], resolvedAt: null });
    expect(opened!.values[0]!.psi).toBeGreaterThan(0.5);
    // The alert keeps the two windows as that evaluation measured them: answers three times as long now.
    const { baseline, current } = opened!.values[0]! as { baseline?: { n: number; p50: number }; current?: { n: number; p50: number } };
    expect(baseline!.n).toBeGreaterThan(0);
    expect(current!.n).toBeGreaterThan(0);
    expect(current!.p50).toBeGreaterThan(2 * baseline!.p50);
    const delivered = await until('the alert.opened delivery', async () => eventsOf('alert.opened')[0]);
    expect(signatureValid(delivered)).toBe(true);
    const payload = JSON.parse(delivered.body) as { type: string; data: { alert: { id: string }; monitor: { id: string } } };
    expect(payload).toMatchObject({ type: 'alert.opened', data: { alert: { id: opened!.id }, monitor: { id: m.id } } });

    // Answers back to normal: once the long ones leave the 20 s window, the alert resolves.
    const recovering = setInterval(() => void send(20, Date.now() - 1000, Date.now(), 200), 1000);
    try {
      await until('the alert to resolve', async () => (await alertsOf('resolved')).find((a) => a.id === opened!.id), 120_000);
    } finally {
      clearInterval(recovering);
    }
    const resolved = await until('the alert.resolved delivery', async () => eventsOf('alert.resolved')[0]);
    expect(signatureValid(resolved)).toBe(true);
    // Told once of each, however many evaluations saw the breach.
    expect(eventsOf('alert.opened')).toHaveLength(1);
    expect(eventsOf('alert.resolved')).toHaveLength(1);
    expect((await alertsOf()).filter((a) => a.monitorId === m.id)).toHaveLength(1);

    // The monitor and its alert's life are in the audit log.
    const audit = (await api('GET', '/v1/audit?limit=50')) as { entries: Array<{ action: string; target: string }> };
    const actions = audit.entries.filter((e) => e.target === `monitor:${m.id}` || e.target === `alert:${opened!.id}`).map((e) => e.action);
    expect(actions.sort()).toEqual(['alert.open', 'alert.resolve', 'monitor.create']);
  }, 240_000);

  it('a monitor shows its drift now; one with neither version nor alias, or an unknown signal, is refused; deleting one is audited', async () => {
    const bad = await fetch(`${server.url}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', prompt: 'mon-answer' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/exactly one of a version or an alias/);
    const unknown = await fetch(`${server.url}/v1/monitors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', prompt: 'mon-answer', version: 1, signals: ['vibes'] }) });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/unknown signal "vibes"/);

    const m = monitorAnswer.parse(await api('POST', '/v1/monitors', { name: 'by alias', prompt: 'mon-answer', alias: 'production', window: '1h' }));
    const shown = (await api('GET', `/v1/monitors/${m.id}`)) as { monitor: { id: string }; drift: unknown; alerts: unknown[] };
    expect(shown.monitor.id).toBe(m.id);
    // No response came through the alias: nothing to take its first days from.
    expect(shown.drift).toBeNull();
    const list = (await api('GET', '/v1/monitors')) as { monitors: Array<{ id: string; openAlert: unknown }> };
    expect(list.monitors.map((x) => x.id)).toContain(m.id);
    await api('DELETE', `/v1/monitors/${m.id}`);
    expect((await fetch(`${server.url}/v1/monitors/${m.id}`)).status).toBe(404);
    const audit = (await api('GET', '/v1/audit?limit=50')) as { entries: Array<{ action: string; target: string }> };
    expect(audit.entries.filter((e) => e.target === `monitor:${m.id}`).map((e) => e.action).sort()).toEqual(['monitor.create', 'monitor.delete']);
  });

  it('`promptline monitors add | list | remove` and `promptline alerts`, with usage errors caught before anything is sent', async () => {
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((res, rej) => {
        const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: { ...process.env, PROMPTLINE_URL: server.url }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('error', rej);
        child.once('close', (code) => res({ code, stdout, stderr }));
      });
    const added = await cli(['monitors', 'add', 'from the cli', '--prompt', 'mon-answer', '--alias', 'production', '--signals', 'error_rate,output_tokens', '--window', '15m']);
    expect(added.code, added.stderr).toBe(0);
    const id = /^monitor (\S+): from the cli watches mon-answer@production \(error_rate, output_tokens\) over the last 900 s$/m.exec(added.stdout)?.[1];
    expect(id, added.stdout).toBeDefined();
    const listed = await cli(['monitors', 'list', '--json']);
    expect((JSON.parse(listed.stdout) as { monitors: Array<{ id: string; name: string }> }).monitors).toContainEqual(expect.objectContaining({ id, name: 'from the cli' }));
    const alerts = await cli(['alerts', '--state', 'resolved', '--json']);
    expect(alerts.code, alerts.stderr).toBe(0);
    expect((JSON.parse(alerts.stdout) as { alerts: Array<{ state: string }> }).alerts.every((a) => a.state === 'resolved')).toBe(true);
    expect((await cli(['monitors', 'add', 'x', '--prompt', 'mon-answer'])).code).toBe(2);
    expect((await cli(['alerts', '--state', 'closed'])).code).toBe(2);
    const removed = await cli(['monitors', 'remove', id!]);
    expect(removed.code, removed.stderr).toBe(0);
    expect((await cli(['monitors', 'remove', id!])).code).toBe(1);
  });
});
