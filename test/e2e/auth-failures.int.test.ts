import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/governance/keys.ts';
import { removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Wrong keys cost an attacker as much as they cost the server: past a few failures a second, one
// address is answered 429 with Retry-After before any hash is computed, while a valid key sent from
// the same address is still answered.

const ADMIN = `admin-${randomBytes(12).toString('hex')}`;

describe('failed authentications from one address', () => {
  let server: ServerUnderTest;
  beforeAll(async () => {
    // One failure a second, five at once: the limit is reached however slowly a loaded machine
    // checks the keys (30 failures would need 25 s to stay under it).
    server = await startServer({ auth: true, env: { PROMPTLINE_API_KEY: ADMIN, PROMPTLINE_AUTH_FAILURES_PER_SECOND: '1', PROMPTLINE_AUTH_FAILURE_BURST: '5' } });
  });
  afterAll(async () => {
    await server?.stop();
    removeDir(server?.dataDir ?? '');
  });

  const get = (key: string) => fetch(`${server.url}/readyz`, { headers: { authorization: `Bearer ${key}` } });

  it('are limited with 429 and Retry-After, and do not lock out a valid key', async () => {
    expect((await get(ADMIN)).status).toBe(200);
    const answers: Array<{ status: number; retryAfter: string | null }> = [];
    for (let i = 0; i < 30; i++) {
      const res = await get(i % 2 ? generateKey().key : `wrong-${i}`);
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
      await res.arrayBuffer();
    }
    expect(answers.every((a) => a.status === 401 || a.status === 429)).toBe(true);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const a of limited) expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    // The address is over its budget; the valid key is still answered, from the key cache and,
    // once that entry is gone (2 s), checked again because this server verified it before.
    expect((await get(ADMIN)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_100));
    let status = 0;
    for (let i = 0; i < 20 && status !== 429; i++) status = (await get(`wrong-again-${i}`)).status;
    expect(status).toBe(429);
    expect((await get(ADMIN)).status).toBe(200);
  });
});
