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
  /** Administers every project, not only its own (see isInstanceAdmin). */
  instanceAdmin: boolean;
  /** How changes by this caller are attributed (authors, alias history, audit log). */
  actor: string;
}

// `prompts` is split from `read` so that an app's key can load its prompts without reading the
// lineage, impact and reports of every response in the project.
const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  ingest: new Set(['ingest']),
  app: new Set(['ingest', 'prompts']),
  read: new Set(['prompts', 'read']),
  edit: new Set(['prompts', 'read', 'edit']),
  admin: new Set(['ingest', 'prompts', 'read', 'edit', 'promote', 'admin']),
};

export function may(p: Principal, permission: Permission): boolean {
  if (permission === 'promote') return GRANTS[p.role].has('promote') || (p.promote && GRANTS[p.role].has('edit'));
  return GRANTS[p.role].has(permission);
}

/** The roles that grant a permission, for messages and documentation. */
export function rolesWith(permission: Permission): Role[] {
  return (Object.keys(GRANTS) as Role[]).filter((r) => GRANTS[r].has(permission));
}

/**
 * May administer any project: keys in every project and the audit chain of the whole installation.
 * Only an admin key can be one; an admin key without the flag administers its own project only.
 */
export function isInstanceAdmin(p: Principal): boolean {
  return p.role === 'admin' && p.instanceAdmin;
}

/**
 * The project an admin call acts on: the caller's own, or `requested` when the caller is an
 * instance admin. An admin of one project asking for another is refused, not answered with its own.
 */
export function administeredProject(p: Principal, requested: string | undefined, what: string): string {
  if (requested === undefined || requested === p.project) return p.project;
  if (!isInstanceAdmin(p)) throw new ForbiddenError(`this key (an admin of project ${p.project}) may not ${what} in project ${requested}: it administers its own project only; an instance admin key may administer any`);
  return requested;
}

export function require(p: Principal, permission: Permission, what: string): void {
  if (!may(p, permission)) {
    const needs = permission === 'promote' ? 'the admin role or the promote right' : permission === 'admin' ? 'the admin role' : `one of the roles ${rolesWith(permission).join(', ')}`;
    throw new ForbiddenError(`this key (role ${p.role}${p.promote ? ', promote' : ''}) may not ${what}: it needs ${needs}`);
  }
}

export function principalOf(k: ApiKey): Principal {
  return { keyId: k.id, name: k.name, role: k.role, promote: k.promote, project: k.project, instanceAdmin: k.role === 'admin' && k.instanceAdmin, actor: `${k.name} [key ${k.id}]` };
}

/**
 * Everything allowed: for PROMPTLINE_DEV_NO_AUTH on loopback only. An instance admin, as the one
 * person at the machine is; its own project is `default`.
 */
export const DEV_PRINCIPAL: Principal = { keyId: 'dev', name: 'local development', role: 'admin', promote: true, project: 'default', instanceAdmin: true, actor: 'local development (no auth)' };

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
