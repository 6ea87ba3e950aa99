import { execFile } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Project webhooks against a real server: a loopback receiver in this process answers as each test
// tells it (fail, hang, succeed), and the tests read what it got and the server's delivery log.
// Each run works in a project of its own, with that project's admin key: a Neo4j shared with other
// runs holds their webhooks and alias moves too (their servers may even make some of these
// attempts: every server on one database delivers from the one outbox).

const neo4j = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'SQLite', env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else describe('project webhooks on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** Answers the request (a held one, or one the receiver's mode answers at once). */
  answer(status: number): void;
  answered: boolean;
}

/** A receiver whose answer to each request `mode` decides: a status now, or 'hold' until the test answers. */
class Receiver {
  readonly received: Received[] = [];
  mode: (n: number) => number | 'hold' = () => 200;
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        const r: Received = { headers: req.headers, body, answered: false, answer: (status) => answer(res, r, status) };
        this.received.push(r);
        const m = this.mode(this.received.length);
        if (m !== 'hold') r.answer(m);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;
  }

  async stop(): Promise<void> {
    for (const r of this.received) if (!r.answered) r.answer(200);
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function answer(res: ServerResponse, r: Received, status: number): void {
  if (r.answered) return;
  r.answered = true;
  if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
}

/** What a receiver does with X-Promptline-Signature (README.md, "Webhooks"). */
function verifySignature(secret: string, header: string | undefined, body: string): boolean {
  const parts = new Map((header ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = parts.get('t');
  const v1 = parts.get('v1');
  if (!t || !v1) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return v1.length === expected.length && timingSafeEqual(Buffer.from(v1), Buffer.from(expected)) && Math.abs(Date.now() / 1000 - Number(t)) < 300;
}

const ROOT = resolve(import.meta.dirname, '../..');

const ENV = { PROMPTLINE_WEBHOOK_RETRY_BASE_MS: '100', PROMPTLINE_WEBHOOK_TIMEOUT_MS: '5000' };

describe.each(backends)('project webhooks on $backend', ({ env }) => {
  let server: ServerUnderTest;
  let bootstrap: string;
  /** The admin key of this run's project. */
  let admin: string;
  const project = `webhooks-${randomBytes(4).toString('hex')}`;
  const receivers: Receiver[] = [];

  const call = async (method: string, path: string, body?: unknown, key = admin) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
  };
  const receiver = async () => {
    const r = new Receiver();
    await r.start();
    receivers.push(r);
    return r;
  };
  const addWebhook = async (url: string, events: string[]) => {
    const created = await call('POST', '/v1/webhooks', { url, events, description: 'test receiver' });
    expect(created.status, created.text).toBe(201);
    return created.json as { id: string; url: string; events: string[]; secret: string };
  };
  /** A prompt with versions 1 and 2. */
  const prompt = async (name: string) => {
    for (const text of ['Hello {{name}}', 'Hi {{name}}']) expect((await call('POST', `/v1/prompts/${name}/versions`, { template: text, commitMessage: 'a version' })).status).toBe(201);
  };
  const move = (name: string, version: number) => call('PUT', `/v1/prompts/${name}/aliases/staging`, { version, reason: `to ${version}` });
  const deliveries = async (id: string) => (await call('GET', `/v1/webhooks/${id}/deliveries`)).json.deliveries as Array<Record<string, any>>;

  beforeAll(async () => {
    let instanceAdmin: string;
    ({ server, bootstrap, admin: instanceAdmin } = await startServerWithAdmin({ env: { ...ENV, ...env } }));
    admin = (await call('POST', '/v1/keys', { role: 'admin', project, name: 'webhooks project admin' }, instanceAdmin)).json.key as string;
  }, 180_000);

  afterAll(async () => {
    for (const r of receivers) await r.stop();
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('delivers alias.moved on the third attempt after two 500s, signed with the secret shown at creation, and logs the attempts', async () => {
    const r = await receiver();
    r.mode = (n) => (n <= 2 ? 500 : 200);
    const hook = await addWebhook(r.url, ['alias.moved']);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    await prompt('wh-retry');
    const moved = await move('wh-retry', 1);
    expect(moved.status, moved.text).toBe(200);

    await eventually(async () => (r.received.length >= 3 ? true : undefined), 'three attempts');
    const [first, , third] = r.received;
    for (const got of r.received) {
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.headers['x-promptline-event']).toBe('alias.moved');
      expect(got.headers['x-promptline-delivery']).toBe(first!.headers['x-promptline-delivery']);
      expect(got.body).toBe(first!.body);
      expect(verifySignature(hook.secret, got.headers['x-promptline-signature'] as string, got.body)).toBe(true);
    }
    expect(verifySignature(`${hook.secret}x`, third!.headers['x-promptline-signature'] as string, third!.body)).toBe(false);
    expect(JSON.parse(third!.body)).toMatchObject({
      type: 'alias.moved',
      project,
      subject: 'prompt:wh-retry@staging',
      at: moved.json.at,
      data: { prompt: 'wh-retry', alias: 'staging', seq: 1, from: null, to: { version: 1, split: null }, reason: 'to 1', rollback: false, actor: moved.json.actor },
    });
    expect(r.received).toHaveLength(3);

    const log = await eventually(async () => {
      const d = await deliveries(hook.id);
      return d[0]?.status === 'delivered' ? d : undefined;
    }, 'the delivery logged as delivered');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ id: first!.headers['x-promptline-delivery'], eventType: 'alias.moved', subject: 'prompt:wh-retry@staging', attempts: 3, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect(Date.parse(log[0]!.deliveredAt)).not.toBeNaN();
    expect((await call('DELETE', `/v1/webhooks/${hook.id}`)).status).toBe(204);
  });

  it('answers alias moves while the receiver hangs on an earlier delivery', async () => {
    const r = await receiver();
    r.mode = () => 'hold';
    const hook = await addWebhook(r.url, ['alias.*']);
    await prompt('wh-hang');
    expect((await move('wh-hang', 1)).status).toBe(200);
    await eventually(async () => (r.received.length === 1 ? true : undefined), 'the first delivery, held by the receiver');
    // The receiver holds the first delivery unanswered; the next move is answered all the same.
    const second = await move('wh-hang', 2);
    expect(second.status, second.text).toBe(200);
    expect(r.received[0]!.answered).toBe(false);
    await eventually(async () => (r.received.length === 2 ? true : undefined), 'the second delivery, beside the held one');
    expect(r.received[0]!.answered).toBe(false);
    for (const got of r.received) got.answer(204);
    const log = await eventually(async () => {
      const d = await deliveries(hook.id);
      return d.length === 2 && d.every((x) => x.status === 'delivered') ? d : undefined;
    }, 'both deliveries delivered');
    expect(log.map((d) => [d.subject, d.attempts, d.lastStatusCode])).toEqual([
      ['prompt:wh-hang@staging', 1, 204],
      ['prompt:wh-hang@staging', 1, 204],
    ]);
    expect((await call('DELETE', `/v1/webhooks/${hook.id}`)).status).toBe(204);
  });

  it('delivers only the events a webhook asked for', async () => {
    const [proposals, moves] = [await receiver(), await receiver()];
    const forProposals = await addWebhook(proposals.url, ['proposal.*']);
    const forMoves = await addWebhook(moves.url, ['alias.moved', 'proposal.merged']);
    await prompt('wh-filter');
    expect((await move('wh-filter', 1)).status).toBe(200);
    await eventually(async () => (moves.received.length === 1 ? true : undefined), 'the alias.moved delivery');
    // Deliveries of one event are stored together, before any is posted: none was made for proposal.*.
    expect(await deliveries(forProposals.id)).toEqual([]);
    expect(proposals.received).toEqual([]);
    for (const h of [forProposals, forMoves]) expect((await call('DELETE', `/v1/webhooks/${h.id}`)).status).toBe(204);
  });

  it('shows the secret in no list and no audit entry, refuses other roles and bad URLs, and audits creation and deletion', async () => {
    const r = await receiver();
    const hook = await addWebhook(r.url, ['alias.moved']);
    const list = await call('GET', '/v1/webhooks');
    expect(list.status).toBe(200);
    expect(list.json.webhooks.find((w: { id: string }) => w.id === hook.id)).toMatchObject({ id: hook.id, url: r.url, events: ['alias.moved'], description: 'test receiver' });
    expect(list.text).not.toContain(hook.secret);
    expect(list.text).not.toContain('whsec_');
    expect((await call('DELETE', `/v1/webhooks/${hook.id}`)).status).toBe(204);
    expect((await call('DELETE', `/v1/webhooks/${hook.id}`)).status).toBe(404);
    expect((await call('GET', `/v1/webhooks/${hook.id}/deliveries`)).status).toBe(404);

    const audit = await call('GET', `/v1/audit?target=${encodeURIComponent(`webhook:${hook.id}`)}&limit=10`);
    expect(audit.status, audit.text).toBe(200);
    expect(audit.json.entries.map((e: { action: string }) => e.action)).toEqual(['webhook.delete', 'webhook.create']);
    expect(audit.json.entries[1]).toMatchObject({ after: { id: hook.id, url: r.url, events: ['alias.moved'] } });
    expect(audit.text).not.toContain(hook.secret);
    expect((await call('GET', '/v1/audit?limit=1000')).text).not.toContain('whsec_');

    const read = (await call('POST', '/v1/keys', { role: 'read', name: 'webhook reader' })).json.key as string;
    const edit = (await call('POST', '/v1/keys', { role: 'edit', promote: true, name: 'webhook editor' })).json.key as string;
    for (const key of [read, edit]) {
      expect((await call('GET', '/v1/webhooks', undefined, key)).status).toBe(403);
      expect((await call('POST', '/v1/webhooks', { url: r.url, events: ['*'] }, key)).status).toBe(403);
    }
    for (const url of ['ftp://example.com/hook', 'http://user:pw@example.com/hook', 'not a url', `https://example.com/${'a'.repeat(2100)}`]) {
      const refused = await call('POST', '/v1/webhooks', { url, events: ['alias.moved'] });
      expect(refused.status, url).toBe(400);
    }
    expect((await call('POST', '/v1/webhooks', { url: r.url, events: ['alias.'] })).status).toBe(400);
    expect((await call('POST', '/v1/webhooks', { url: r.url, events: [] })).status).toBe(400);
  });

  it('is managed from the command line: add prints the secret once, list and deliveries show no secret, remove', async () => {
    const r = await receiver();
    const cli = async (...args: string[]) => (await promisify(execFile)(process.execPath, [join(ROOT, 'src/cli.ts'), 'webhooks', ...args], { cwd: ROOT, env: { ...process.env, PROMPTLINE_URL: server.url, PROMPTLINE_API_KEY: admin } })).stdout;
    const added = await cli('add', r.url, '--events', 'alias.moved,proposal.*', '--description', 'from the CLI');
    const [, id] = /created webhook ([0-9a-f]{16}) for alias\.moved, proposal\.\*/.exec(added) ?? [];
    const secret = /(whsec_[A-Za-z0-9_-]{43})/.exec(added)?.[1];
    expect(id, added).toBeDefined();
    expect(secret, added).toBeDefined();
    const listed = await cli('list');
    expect(listed).toContain(id);
    expect(listed).toContain('alias.moved,proposal.*');
    expect(listed).not.toContain('whsec_');
    await prompt('wh-cli');
    expect((await move('wh-cli', 1)).status).toBe(200);
    await eventually(async () => ((await cli('deliveries', id!)).includes('delivered') ? true : undefined), 'the delivery in the CLI log');
    expect(await cli('deliveries', id!, '--json')).toContain('"subject": "prompt:wh-cli@staging"');
    expect(await cli('remove', id!)).toContain(`removed webhook ${id}`);
    expect(await cli('list')).not.toContain(id);
  });

  it('keeps a pending delivery across a restart and delivers it once the receiver recovers', { timeout: 120_000 }, async () => {
    const r = await receiver();
    r.mode = () => 503;
    const hook = await addWebhook(r.url, ['alias.moved']);
    await prompt('wh-restart');
    expect((await move('wh-restart', 1)).status).toBe(200);
    await eventually(async () => (r.received.length >= 2 ? true : undefined), 'two failed attempts');
    expect(await server.stop()).toBe(0);
    expect(server.output()).toContain('stopping webhook deliveries');
    const before = r.received.length;
    const deliveryId = r.received[0]!.headers['x-promptline-delivery'];

    r.mode = () => 200;
    server = await startServer({ auth: true, dataDir: server.dataDir, env: { ...ENV, ...env, PROMPTLINE_API_KEY: bootstrap } });
    const log = await eventually(async () => {
      const d = await deliveries(hook.id);
      return d[0]?.status === 'delivered' ? d : undefined;
    }, 'the delivery, after the restart');
    expect(r.received.length).toBeGreaterThan(before);
    expect(r.received.at(-1)!.headers['x-promptline-delivery']).toBe(deliveryId);
    expect(verifySignature(hook.secret, r.received.at(-1)!.headers['x-promptline-signature'] as string, r.received.at(-1)!.body)).toBe(true);
    // An attempt the shutdown cut off is not counted: the log has at most as many as the receiver saw.
    expect(log[0]).toMatchObject({ id: deliveryId, lastStatusCode: 200, lastError: null });
    expect(log[0]!.attempts).toBeGreaterThanOrEqual(3);
    expect(log[0]!.attempts).toBeLessThanOrEqual(r.received.length);
  });
});
