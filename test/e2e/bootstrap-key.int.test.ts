import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, removeDir, startServer, tempDataDir, type ServerUnderTest } from '../helpers/server.ts';

// PROMPTLINE_API_KEY is the installation's one bootstrap key, across restarts of a real server on
// one data directory: the same value keeps it, another value rotates it (the new key made, the
// old one revoked, both audited, and a log line), no value keeps what there is, and a revoked value
// stays revoked. On SQLite only: servers under test share the run's Neo4j, and a rotation there would
// revoke the bootstrap keys of the other tests' servers (the store calls it uses are held to the same
// contract on both backends, test/contract/governance.contract.ts).

// The server inherits this process's environment: "unset" must mean unset.
delete process.env.PROMPTLINE_API_KEY;
const dataDir = tempDataDir('promptline-bootstrap-');
let server: ServerUnderTest | undefined;

afterAll(async () => {
  await server?.stop();
  removeDir(dataDir);
});

async function restart(apiKey: string | undefined): Promise<ServerUnderTest> {
  await server?.stop();
  server = await startServer({ auth: true, dataDir, env: apiKey === undefined ? {} : { PROMPTLINE_API_KEY: apiKey } });
  return server;
}

async function call(key: string, method: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server!.url}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

type KeyView = { id: string; name: string; createdBy: string; instanceAdmin: boolean; revokedAt: string | null };
const bootstrapKeys = async (key: string) => ((await call(key, 'GET', '/v1/keys')).body.keys as KeyView[]).filter((k) => k.createdBy === 'bootstrap');
const logLines = (s: ServerUnderTest, pattern: RegExp) => s.output().split('\n').filter((l) => pattern.test(l));

describe('the bootstrap key across restarts', () => {
  const first = `first-${randomBytes(12).toString('hex')}`;
  const second = `second-${randomBytes(12).toString('hex')}`;
  let generated: string;

  it('is generated and shown once on the first start without PROMPTLINE_API_KEY, as an instance admin', { timeout: 120_000 }, async () => {
    const s = await restart(undefined);
    // Printed just after "ready in", which is when the helper hands the server over.
    generated = await eventually(async () => /First start: an admin API key was created[^\n]*\n\n\s+(pl_[0-9a-f]{16}_[A-Za-z0-9_-]{43})\n/.exec(s.output())?.[1], 'the generated key to be shown');
    expect(generated).toMatch(/^pl_[0-9a-f]{16}_/);
    expect(await bootstrapKeys(generated)).toEqual([expect.objectContaining({ name: 'bootstrap admin', instanceAdmin: true, revokedAt: null })]);
  });

  it('is kept when PROMPTLINE_API_KEY is still unset', { timeout: 120_000 }, async () => {
    const s = await restart(undefined);
    expect(s.output()).not.toMatch(/First start/);
    expect((await bootstrapKeys(generated)).filter((k) => k.revokedAt === null)).toHaveLength(1);
  });

  it('is rotated when PROMPTLINE_API_KEY is set to a new value: the new key made, the one before revoked, audited and logged', { timeout: 120_000 }, async () => {
    const s = await restart(first);
    expect(logLines(s, /bootstrap: PROMPTLINE_API_KEY changed: the new bootstrap key replaces the old one, which is revoked/)).toHaveLength(1);
    const refused = await call(generated, 'GET', '/v1/prompts');
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/revoked/);
    const keys = await bootstrapKeys(first);
    const [old, now] = [keys.find((k) => generated.includes(k.id))!, keys.find((k) => !generated.includes(k.id))!];
    expect(old.revokedAt).not.toBeNull();
    expect(now).toMatchObject({ name: 'bootstrap admin', instanceAdmin: true, revokedAt: null });

    const audit = (await call(first, 'GET', '/v1/audit?actor=bootstrap&limit=100')).body.entries as Array<{ action: string; target: string; after: any }>;
    expect(audit.find((e) => e.action === 'key.create' && e.target === `key:${now.id}`)?.after).toMatchObject({ source: 'PROMPTLINE_API_KEY', replaces: [old.id], instanceAdmin: true });
    expect(audit.find((e) => e.action === 'key.revoke' && e.target === `key:${old.id}`)?.after.reason).toMatch(new RegExp(`rotated: PROMPTLINE_API_KEY now names key ${now.id}`));
    expect((await call(first, 'GET', '/v1/audit/verify')).body).toMatchObject({ ok: true });
  });

  it('is kept, without another key, when started again with the same value or with none', { timeout: 120_000 }, async () => {
    for (const value of [first, undefined]) {
      const s = await restart(value);
      expect(logLines(s, /bootstrap:/), String(value)).toEqual([]);
      expect((await bootstrapKeys(first)).filter((k) => k.revokedAt === null), String(value)).toHaveLength(1);
      expect((await call(first, 'GET', '/v1/prompts')).status).toBe(200);
    }
  });

  it('stays revoked when PROMPTLINE_API_KEY names a key revoked before, and the bootstrap key there is stays', { timeout: 120_000 }, async () => {
    const s = await restart(generated);
    expect(logLines(s, /PROMPTLINE_API_KEY names a revoked key, which stays revoked/)).toHaveLength(1);
    expect((await call(generated, 'GET', '/v1/prompts')).status).toBe(401);
    expect((await call(first, 'GET', '/v1/prompts')).status).toBe(200);
  });

  it('is rotated again to the next value', { timeout: 120_000 }, async () => {
    await restart(second);
    expect((await call(first, 'GET', '/v1/prompts')).status).toBe(401);
    expect((await bootstrapKeys(second)).filter((k) => k.revokedAt === null).map((k) => k.name)).toEqual(['bootstrap admin']);
    expect((await call(second, 'GET', '/v1/audit/verify')).body).toMatchObject({ ok: true });
  });
});
