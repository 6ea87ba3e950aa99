import { createHash } from 'node:crypto';
import type { ApiKey, Permission, Role } from '../domain/governance.ts';
import { PromptlineError, UnavailableError } from '../common/errors.ts';
import { systemClock, type Clock } from '../common/clock.ts';
import type { KeyStore } from '../storage/governance.ts';
import { keyIdOf, verifyKey } from './keys.ts';

// Who is calling, and may they. Every call but /healthz carries "Authorization: Bearer KEY".

export class UnauthorizedError extends PromptlineError {
  constructor(message: string) {
    super(message, { status: 401, code: 'unauthorized' });
  }
}

export class ForbiddenError extends PromptlineError {
  constructor(message: string) {
    super(message, { status: 403, code: 'forbidden' });
  }
}

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  promote: boolean;
  project: string;
  /** How changes by this caller are attributed (authors, alias history, audit log). */
  actor: string;
}

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  ingest: new Set(['ingest']),
  read: new Set(['read']),
  edit: new Set(['read', 'edit']),
  admin: new Set(['ingest', 'read', 'edit', 'promote', 'admin']),
};

export function may(p: Principal, permission: Permission): boolean {
  if (permission === 'promote') return GRANTS[p.role].has('promote') || (p.promote && GRANTS[p.role].has('edit'));
  return GRANTS[p.role].has(permission);
}

export function require(p: Principal, permission: Permission, what: string): void {
  if (!may(p, permission)) {
    throw new ForbiddenError(`this key (role ${p.role}${p.promote ? ', promote' : ''}) may not ${what}${permission === 'promote' ? ': it needs the admin role or the promote right' : `: it needs ${permission === 'admin' ? 'the admin role' : `a role with ${permission}`}`}`);
  }
}

export function principalOf(k: ApiKey): Principal {
  return { keyId: k.id, name: k.name, role: k.role, promote: k.promote, project: k.project, actor: `${k.name} [key ${k.id}]` };
}

/** Everything allowed, in one project: for PROMPTLINE_DEV_NO_AUTH on loopback only. */
export const DEV_PRINCIPAL: Principal = { keyId: 'dev', name: 'local development', role: 'admin', promote: true, project: 'default', actor: 'local development (no auth)' };

const CACHE_MS = 2_000;

/**
 * Checks bearer keys against the key store. A verified key is remembered for two seconds by a
 * fingerprint of the whole key, so that a busy exporter does not pay for scrypt on every request;
 * revoking a key drops it at once in this process (and within two seconds in any other).
 */
export class Authenticator {
  private readonly keys: KeyStore;
  private readonly clock: Clock;
  private readonly cache = new Map<string, { principal: Principal; expiresAt: Date | null; until: number }>();

  constructor(keys: KeyStore, clock: Clock = systemClock) {
    this.keys = keys;
    this.clock = clock;
  }

  async authenticate(header: string | undefined): Promise<Principal> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) throw new UnauthorizedError(header ? 'the Authorization header must be "Bearer <key>"' : 'this call needs an API key: send "Authorization: Bearer <key>"');
    const key = m[1]!;
    const fingerprint = createHash('sha256').update(key).digest('hex');
    const now = this.clock.now().getTime();
    const hit = this.cache.get(fingerprint);
    if (hit && hit.until > now) {
      if (hit.expiresAt && hit.expiresAt.getTime() <= now) throw new UnauthorizedError('this API key has expired');
      return hit.principal;
    }
    const stored = await this.keys.getKey(keyIdOf(key));
    if (!stored || !(await verifyKey(key, stored.secretHash))) throw new UnauthorizedError('this API key is not valid');
    if (stored.revokedAt) throw new UnauthorizedError('this API key has been revoked');
    if (stored.expiresAt && stored.expiresAt.getTime() <= now) throw new UnauthorizedError('this API key has expired');
    const principal = principalOf(stored);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(fingerprint, { principal, expiresAt: stored.expiresAt, until: now + CACHE_MS });
    return principal;
  }

  /** Forgets a key at once (after revocation). */
  forget(keyId: string): void {
    for (const [fp, v] of this.cache) if (v.principal.keyId === keyId) this.cache.delete(fp);
  }
}

/**
 * A token bucket per key: `perSecond` calls a second on average, bursts of `burst`. Past that,
 * 429 with Retry-After. Kept in memory per process (a few dozen bytes a key).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly clock: Clock;

  constructor(perSecond: number, burst: number, clock: Clock = systemClock) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.clock = clock;
  }

  take(key: string): void {
    const now = this.clock.now().getTime();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      throw new UnavailableError(`this key makes more than ${this.perSecond} calls a second; slow down`, Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond)), 429);
    }
    b.tokens -= 1;
    if (this.buckets.size > 100_000) this.buckets.clear();
    this.buckets.set(key, b);
  }
}
