import { describe, expect, it } from 'vitest';
import type { StoredApiKey } from '../../src/domain/governance.ts';
import { BadRequestError, UnavailableError } from '../../src/common/errors.ts';
import { ROLES, type Permission, type Role } from '../../src/domain/governance.ts';
import { actingProject, administeredProject, Authenticator, DEV_PRINCIPAL, ForbiddenError, isInstanceAdmin, may, principalOf, RateLimiter, require as requirePermission, rolesWith, UnauthorizedError, type Principal } from '../../src/governance/access.ts';
import { generateKey, hashKey, verifyKey } from '../../src/governance/keys.ts';
import type { KeyStore } from '../../src/storage/governance.ts';
import { ManualClock } from '../helpers/clock.ts';

// What each role grants, who is an instance admin; key expiry, the key cache and rate limits as
// time passes, on a clock the test moves.

class KeysInMemory implements KeyStore {
  readonly backend = 'memory';
  private readonly keys = new Map<string, StoredApiKey>();
  async migrate(): Promise<void> {}
  async ping() {
    return { ok: true as const };
  }
  async close(): Promise<void> {}
  async countKeys(): Promise<number> {
    return this.keys.size;
  }
  async createKey(key: StoredApiKey): Promise<void> {
    this.keys.set(key.id, key);
  }
  async getKey(id: string): Promise<StoredApiKey | null> {
    return this.keys.get(id) ?? null;
  }
  async listKeys(project: string): Promise<StoredApiKey[]> {
    return [...this.keys.values()].filter((k) => k.project === project);
  }
  async listProjects(): Promise<string[]> {
    return [...new Set([...this.keys.values()].map((k) => k.project))].sort();
  }
  async listKeysCreatedBy(createdBy: string): Promise<StoredApiKey[]> {
    return [...this.keys.values()].filter((k) => k.createdBy === createdBy);
  }
  async revokeKey(id: string, at: Date, by: string): Promise<boolean> {
    const k = this.keys.get(id);
    if (!k || k.revokedAt) return false;
    this.keys.set(id, { ...k, revokedAt: at, revokedBy: by });
    return true;
  }
}

async function storedKey(keys: KeyStore, clock: ManualClock, expiresInMs: number | null): Promise<string> {
  const { id, key } = generateKey();
  const now = clock.now();
  await keys.createKey({ id, name: 'reader', role: 'read', promote: false, project: 'default', instanceAdmin: false, secretHash: await hashKey(key), createdAt: now, createdBy: 'test', expiresAt: expiresInMs === null ? null : new Date(now.getTime() + expiresInMs), revokedAt: null, revokedBy: null });
  return key;
}

const principal = (role: Role, over: Partial<Principal> = {}): Principal => ({ keyId: role, name: role, role, promote: false, project: 'p', instanceAdmin: false, actor: role, ...over });

describe('roles and permissions', () => {
  it('grant each role exactly its permissions; app sends spans and reads prompts, metrics reads /metrics, proposer reads prompts and proposes, and nothing else', () => {
    const PERMISSIONS: Permission[] = ['ingest', 'prompts', 'read', 'edit', 'promote', 'admin', 'metrics', 'propose'];
    const table = Object.fromEntries(ROLES.map((r) => [r, PERMISSIONS.filter((p) => may(principal(r), p))]));
    expect(table).toEqual({
      ingest: ['ingest'],
      app: ['ingest', 'prompts'],
      read: ['prompts', 'read'],
      edit: ['prompts', 'read', 'edit', 'propose'],
      admin: ['ingest', 'prompts', 'read', 'edit', 'promote', 'admin', 'metrics', 'propose'],
      metrics: ['metrics'],
      proposer: ['prompts', 'propose'],
    });
    // The promote right counts only with a role that may edit.
    expect(may(principal('edit', { promote: true }), 'promote')).toBe(true);
    expect(may(principal('app', { promote: true }), 'promote')).toBe(false);
    expect(may(principal('proposer', { promote: true }), 'promote')).toBe(false);
    expect(rolesWith('prompts')).toEqual(['app', 'read', 'edit', 'admin', 'proposer']);
    expect(rolesWith('propose')).toEqual(['edit', 'admin', 'proposer']);
  });

  it('say in a refusal which roles would do', () => {
    expect(() => requirePermission(principal('app'), 'read', 'read lineage')).toThrow('this key (role app) may not read lineage: it needs one of the roles read, edit, admin');
    expect(() => requirePermission(principal('ingest'), 'prompts', 'read prompts')).toThrow(/needs one of the roles app, read, edit, admin/);
  });
});

describe('instance admins and project admins', () => {
  const stored = (over: Partial<StoredApiKey>): StoredApiKey => ({ id: '0123456789abcdef', name: 'k', role: 'admin', promote: false, project: 'b', instanceAdmin: false, secretHash: 'x', createdAt: new Date(0), createdBy: 'test', expiresAt: null, revokedAt: null, revokedBy: null, ...over });

  it('are told apart by the key record; only an admin key is ever an instance admin', () => {
    expect(isInstanceAdmin(principalOf(stored({ instanceAdmin: true })))).toBe(true);
    expect(isInstanceAdmin(principalOf(stored({ instanceAdmin: false })))).toBe(false);
    expect(isInstanceAdmin(principalOf(stored({ role: 'edit', instanceAdmin: true })))).toBe(false);
    // With authentication off, the one caller is the whole installation's admin.
    expect(isInstanceAdmin(DEV_PRINCIPAL)).toBe(true);
  });

  it('let a project admin act on its own project only, and an instance admin on any', () => {
    const projectAdmin = principalOf(stored({ project: 'b' }));
    expect(administeredProject(projectAdmin, undefined, 'create keys')).toBe('b');
    expect(administeredProject(projectAdmin, 'b', 'create keys')).toBe('b');
    expect(() => administeredProject(projectAdmin, 'default', 'create keys')).toThrow(ForbiddenError);
    expect(() => administeredProject(projectAdmin, 'default', 'create keys')).toThrow('this key (an admin of project b) may not create keys in project default');
    const instanceAdmin = principalOf(stored({ project: 'default', instanceAdmin: true }));
    expect(administeredProject(instanceAdmin, 'b', 'create keys')).toBe('b');
    expect(administeredProject(instanceAdmin, undefined, 'create keys')).toBe('default');
  });
});

describe('the authenticator, as time passes', () => {
  it('takes a key until it expires, whether remembered or not', async () => {
    const clock = new ManualClock();
    const keys = new KeysInMemory();
    const auth = new Authenticator(keys, clock);
    const key = await storedKey(keys, clock, 1_500);
    expect((await auth.authenticate(`Bearer ${key}`)).role).toBe('read');
    clock.advance(1_500); // expired, while still remembered
    await expect(auth.authenticate(`Bearer ${key}`)).rejects.toThrow(/expired/);
    clock.advance(5_000); // expired, and forgotten: read from the store again
    await expect(auth.authenticate(`Bearer ${key}`)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(auth.authenticate(`Bearer ${key}`)).rejects.toThrow(/expired/);
  });

  it('remembers a verified key for two seconds, so a revocation elsewhere counts within them', async () => {
    const clock = new ManualClock();
    const keys = new KeysInMemory();
    const auth = new Authenticator(keys, clock);
    const key = await storedKey(keys, clock, null);
    const { id } = (await keys.listKeys('default'))[0]!;
    await auth.authenticate(`Bearer ${key}`);
    // Revoked by another process: this one does not hear of it.
    await keys.revokeKey(id, clock.now(), 'admin');
    clock.advance(1_999);
    expect((await auth.authenticate(`Bearer ${key}`)).keyId).toBe(id);
    clock.advance(1);
    await expect(auth.authenticate(`Bearer ${key}`)).rejects.toThrow(/revoked/);
  });
});

describe('failed authentications', () => {
  /** An authenticator whose slow hash check is counted (and is the real one). */
  function counted(keys: KeyStore, clock: ManualClock, opts: { failuresPerSecond?: number; failureBurst?: number } = {}) {
    const calls: string[] = [];
    const auth = new Authenticator(keys, clock, {
      ...opts,
      verify: (key, hash) => {
        calls.push(hash);
        return verifyKey(key, hash);
      },
    });
    return { auth, calls };
  }

  it('cost one hash of the same parameters whether the key id exists or not', async () => {
    const clock = new ManualClock();
    const keys = new KeysInMemory();
    const { auth, calls } = counted(keys, clock);
    const key = await storedKey(keys, clock, null);
    const known = await auth.authenticate(`Bearer ${key.slice(0, -4)}AAAA`, '10.0.0.1').catch((e: unknown) => e);
    const unknown = await auth.authenticate(`Bearer ${generateKey().key}`, '10.0.0.1').catch((e: unknown) => e);
    expect(known).toBeInstanceOf(UnauthorizedError);
    expect(unknown).toBeInstanceOf(UnauthorizedError);
    expect((unknown as Error).message).toBe((known as Error).message);
    expect(calls).toHaveLength(2);
    const params = (h: string) => h.split('$').slice(0, 4).join('$');
    expect(params(calls[1]!)).toBe(params(calls[0]!));
    expect(calls[1]).not.toBe(calls[0]);
  });

  it('refuse the same wrong key again from memory, without a hash or any of the budget', async () => {
    const clock = new ManualClock();
    const { auth, calls } = counted(new KeysInMemory(), clock, { failuresPerSecond: 1, failureBurst: 1 });
    const wrong = `Bearer ${generateKey().key}`;
    for (let i = 0; i < 5; i++) await expect(auth.authenticate(wrong, 'a')).rejects.toBeInstanceOf(UnauthorizedError);
    expect(calls).toHaveLength(1);
    await expect(auth.authenticate(`Bearer ${generateKey().key}`, 'a')).rejects.toBeInstanceOf(UnavailableError);
  });

  it('hash a valid key once in the process, though its record is read again every two seconds; a revocation elsewhere still counts within them', async () => {
    const clock = new ManualClock();
    const keys = new KeysInMemory();
    const { auth, calls } = counted(keys, clock);
    const key = await storedKey(keys, clock, null);
    const { id } = (await keys.listKeys('default'))[0]!;
    for (let i = 0; i < 5; i++) {
      expect((await auth.authenticate(`Bearer ${key}`, 'a')).keyId).toBe(id);
      clock.advance(2_000);
    }
    expect(calls).toHaveLength(1);
    // Another key string under the same id is hashed, and refused.
    await expect(auth.authenticate(`Bearer ${key.slice(0, -4)}AAAA`, 'a')).rejects.toBeInstanceOf(UnauthorizedError);
    expect(calls).toHaveLength(2);
    // Revoked by another process: within two seconds, and without a hash.
    await keys.revokeKey(id, clock.now(), 'admin');
    clock.advance(2_000);
    await expect(auth.authenticate(`Bearer ${key}`, 'a')).rejects.toThrow(/revoked/);
    expect(calls).toHaveLength(2);
  });

  it('past the budget of an address, answer 429 with a retry time and hash nothing; other addresses and verified keys go on', async () => {
    const clock = new ManualClock();
    const keys = new KeysInMemory();
    const { auth, calls } = counted(keys, clock, { failuresPerSecond: 1, failureBurst: 3 });
    const good = await storedKey(keys, clock, null);
    const fresh = await storedKey(keys, clock, null);
    await auth.authenticate(`Bearer ${good}`, 'attacker'); // verified: gives its token back
    for (let i = 0; i < 3; i++) await expect(auth.authenticate(`Bearer ${generateKey().key}`, 'attacker')).rejects.toBeInstanceOf(UnauthorizedError);
    expect(calls).toHaveLength(4);
    const limited = await auth.authenticate(`Bearer ${generateKey().key}`, 'attacker').catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(UnavailableError);
    expect((limited as UnavailableError).status).toBe(429);
    expect((limited as UnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(calls).toHaveLength(4);
    // A key this process verified is still checked from that address, after its cache entry went.
    clock.advance(2_000);
    // (two tokens have come back by now; spend them)
    for (let i = 0; i < 2; i++) await expect(auth.authenticate(`Bearer ${generateKey().key}`, 'attacker')).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(auth.authenticate(`Bearer ${generateKey().key}`, 'attacker')).rejects.toBeInstanceOf(UnavailableError);
    expect((await auth.authenticate(`Bearer ${good}`, 'attacker')).role).toBe('read');
    // A valid key never seen waits like anyone there; elsewhere, it is checked.
    await expect(auth.authenticate(`Bearer ${fresh}`, 'attacker')).rejects.toBeInstanceOf(UnavailableError);
    expect((await auth.authenticate(`Bearer ${fresh}`, 'elsewhere')).role).toBe('read');
    clock.advance(1_000);
    await expect(auth.authenticate(`Bearer ${generateKey().key}`, 'attacker')).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('concurrent failures cannot all pass the budget before they are counted', async () => {
    const { auth, calls } = counted(new KeysInMemory(), new ManualClock(), { failuresPerSecond: 1, failureBurst: 3 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => auth.authenticate(`Bearer ${generateKey().key}`, 'a')));
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof UnavailableError)).toHaveLength(7);
    expect(calls).toHaveLength(3);
  });
});

describe('the rate limiter, as time passes', () => {
  it('allows a burst, then a call per 1/rate seconds, each key on its own', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(2, 3, clock);
    for (let i = 0; i < 3; i++) limiter.take('a');
    expect(() => limiter.take('a')).toThrow(UnavailableError);
    limiter.take('b');
    clock.advance(499);
    expect(() => limiter.take('a')).toThrow(/more than 2 calls a second/);
    clock.advance(1);
    limiter.take('a');
    expect(() => limiter.take('a')).toThrow(UnavailableError);
    clock.advance(10_000); // refilled, up to the burst only
    for (let i = 0; i < 3; i++) limiter.take('a');
    expect(() => limiter.take('a')).toThrow(UnavailableError);
  });

  it('says when to come back', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(1, 1, clock);
    limiter.take('a');
    let refused: unknown;
    try {
      limiter.take('a');
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({ status: 429, retryAfterSeconds: 1 });
  });
});

describe('the project a call acts on (X-Promptline-Project)', () => {
  const instance = principal('admin', { instanceAdmin: true });
  it("is the key's own without the header, and the named one for an instance admin", () => {
    expect(actingProject(principal('read'), undefined)).toBe('p');
    expect(actingProject(instance, undefined)).toBe('p');
    expect(actingProject(instance, 'team-b.eu_1')).toBe('team-b.eu_1');
  });
  it('lets any other key name its own project only', () => {
    expect(actingProject(principal('read'), 'p')).toBe('p');
    expect(() => actingProject(principal('read'), 'q')).toThrow(ForbiddenError);
    // An admin of one project is no instance admin.
    expect(() => actingProject(principal('admin'), 'q')).toThrow(/only an instance admin key may name another project/);
  });
  it('refuses a malformed name, or the header twice, as the caller\'s error, whoever calls', () => {
    for (const bad of ['', ' p', '-p', 'a/b', 'x'.repeat(65), 'p\u0000', 'é']) expect(() => actingProject(instance, bad), JSON.stringify(bad)).toThrow(BadRequestError);
    expect(() => actingProject(principal('read'), ['p', 'p'])).toThrow(BadRequestError);
  });
});
