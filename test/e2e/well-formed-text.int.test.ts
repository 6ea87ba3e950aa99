import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// JSON can carry a lone UTF-16 surrogate (half an emoji a client cut off); UTF-8 and the stores
// cannot. Free text is made well-formed once, as it comes in (the surrogate becomes U+FFFD), so the
// answer to a change, the record the registry keeps and the audit entry are the same string.

describe('free text with a lone surrogate', () => {
  let server: ServerUnderTest;
  const prompt = `surrogates-${randomBytes(3).toString('hex')}`;
  const LONE_HIGH = '\uD83D';
  const LONE_LOW = '\uDE00';

  const call = async (method: string, path: string, body?: unknown) => {
    // JSON.stringify writes a lone surrogate as a \ud83d escape: the bytes a client would send.
    const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const audit = async (action: string) => (await call('GET', `/v1/audit?action=${action}`)).body.entries as Array<{ target: string; after: any }>;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('keeps the same commit message, tags and template in the answer, the registry and the audit entry', async () => {
    const r = await call('POST', `/v1/prompts/${prompt}/versions`, { template: `Answer ${LONE_LOW}: {{q}}`, commitMessage: `shorter ${LONE_HIGH}`, tags: [`tag${LONE_HIGH}`] });
    expect(r.status).toBe(201);
    expect([r.body.commitMessage, r.body.tags, r.body.template]).toEqual(['shorter \uFFFD', ['tag\uFFFD'], { type: 'text', text: 'Answer \uFFFD: {{q}}' }]);
    const stored = (await call('GET', `/v1/prompts/${prompt}/versions/1`)).body;
    expect([stored.commitMessage, stored.tags, stored.template, stored.templateHash]).toEqual([r.body.commitMessage, r.body.tags, r.body.template, r.body.templateHash]);
    const entry = (await audit('prompt.register')).find((e) => e.target === `prompts:/${prompt}/1`)!;
    expect([entry.after.commitMessage, entry.after.tags, entry.after.templateHash]).toEqual(['shorter \uFFFD', ['tag\uFFFD'], r.body.templateHash]);
  });

  it('keeps the same reason for an alias move and a rollback in the answer, the alias history and the audit entries', async () => {
    expect((await call('POST', `/v1/prompts/${prompt}/versions`, { template: 'v2 {{q}}', commitMessage: 'second' })).status).toBe(201);
    const moves = [
      await call('PUT', `/v1/prompts/${prompt}/aliases/staging`, { version: 1, reason: `first ${LONE_LOW}` }),
      await call('PUT', `/v1/prompts/${prompt}/aliases/staging`, { version: 2, reason: 'second' }),
      await call('POST', `/v1/prompts/${prompt}/aliases/staging/rollback`, { reason: `back ${LONE_HIGH}${LONE_HIGH}` }),
    ];
    expect(moves.map((m) => [m.status, m.body.reason])).toEqual([
      [200, 'first \uFFFD'],
      [200, 'second'],
      [200, 'back \uFFFD\uFFFD'],
    ]);
    const history = (await call('GET', `/v1/prompts/${prompt}/aliases/staging/history`)).body.moves as Array<{ reason: string }>;
    expect(history.map((m) => m.reason)).toEqual(['first \uFFFD', 'second', 'back \uFFFD\uFFFD']);
    const entries = [...(await audit('alias.move')), ...(await audit('alias.rollback'))].filter((e) => e.target === `prompts:/${prompt}@staging`);
    expect(entries.map((e) => e.after.reason).sort()).toEqual(['back \uFFFD\uFFFD', 'first \uFFFD', 'second']);
  });
});
