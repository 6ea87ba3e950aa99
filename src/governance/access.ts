import { createHmac, randomBytes } from 'node:crypto';
import { PROJECT_NAME, PROJECT_NAME_RULE, type ApiKey, type Permission, type Role } from '../domain/governance.ts';
import { BadRequestError, PromptlineError, UnavailableError } from '../common/errors.ts';
import { systemClock, type Clock } from '../common/clock.ts';
import type { AccessMetrics, AuthFailureReason, RateLimitKind } from '../common/metrics.ts';
import type { KeyStore } from '../storage/governance.ts';
import { DUMMY_HASH, keyIdOf, verifyKey } from './keys.ts';

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
  edit: new Set(['prompts', 'read', 'edit', 'propose']),
  admin: new Set(['ingest', 'prompts', 'read', 'edit', 'promote', 'admin', 'metrics', 'propose']),
  // Proposes changes to prompts; reviews, registrations and moves are others' to make.
  proposer: new Set(['prompts', 'propose']),
  // A Prometheus scraper's key: GET /metrics and nothing else.
  metrics: new Set(['metrics']),
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

/** The request header that names the project a call acts on (for an instance admin: any project). */
export const PROJECT_HEADER = 'x-promptline-project';

/**
 * The project a call acts on: the key's own, or the one the request names in X-Promptline-Project.
 * Only an instance admin may name another project; any key may name its own. A name no project
 * could have is the caller's error. (Node joins a repeated header with ", ", which no name has.)
 */
export function actingProject(p: Principal, requested: string | string[] | undefined): string {
  if (requested === undefined) return p.project;
  const name = Array.isArray(requested) ? requested.join(', ') : requested;
  if (!PROJECT_NAME.test(name)) throw new BadRequestError(`X-Promptline-Project: ${PROJECT_NAME_RULE}`);
  if (name === p.project) return name;
  if (!isInstanceAdmin(p)) throw new ForbiddenError(`this key (project ${p.project}) may not act in project ${name} (X-Promptline-Project): only an instance admin key may name another project than its own`);
  return name;
}

/**
 * The project an OTLP export's spans are stored in: always the sending key's own. Naming another
 * (X-Promptline-Project, or the gRPC metadata of that name) would be ignored, so it is refused.
 * Both receivers (the route in mount.ts, and authorizeExport for OTLP/gRPC) go through here.
 */
export function ingestProject(p: Principal, requested: string | string[] | undefined): string {
  const project = actingProject(p, requested);
  if (project !== p.project) throw new BadRequestError(`X-Promptline-Project: spans are stored in the sending key's project (${p.project}); send them with a key of project ${project}`);
  return project;
}

/** What an OTLP export outside the API's router (OTLP/gRPC) is checked with; null auth: PROMPTLINE_DEV_NO_AUTH. */
export interface ExportAccess {
  auth: Authenticator | null;
  /** OTLP export requests per key, the same limiter the OTLP/HTTP route takes from. */
  ingestLimiter: RateLimiter;
}

/**
 * Checks an OTLP export as the API checks POST /v1/traces (access `ingest`): the bearer key (or,
 * with authentication off, the local developer), the ingest permission, the key's export rate, and
 * the project. Returns the project the spans are stored in.
 */
export async function authorizeExport(access: ExportAccess, authorization: string | undefined, requestedProject: string | string[] | undefined, address: string | undefined): Promise<string> {
  const principal = access.auth ? await access.auth.authenticate(authorization, address) : DEV_PRINCIPAL;
  require(principal, 'ingest', 'send spans');
  access.ingestLimiter.take(principal.keyId);
  return ingestProject(principal, requestedProject);
}

const LOOPBACK_HOST = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(?::\d{1,5})?$/i;

/** A Host (or :authority) that names this machine's loopback interface, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host);
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
/** A key that failed verification is answered from memory this long, without scrypt. */
const REFUSED_MS = 10_000;
/** A key verified this recently may still be checked from an address over its failure budget. */
const KNOWN_GOOD_MS = 10 * 60_000;

export interface AuthenticatorOptions {
  /** Failed authentications an address may cause a second, on average, before it is answered 429. Default 2. */
  failuresPerSecond?: number;
  /** Failed authentications an address may cause in a burst. Default 10. */
  failureBurst?: number;
  /** The slow hash check; injectable so that tests can count it. Default verifyKey (scrypt). */
  verify?: (key: string, secretHash: string) => Promise<boolean>;
  /** Where failures (401s, and 429s of the failure budget, kind `auth`) are counted. */
  metrics?: AccessMetrics;
}

/**
 * Checks bearer keys against the key store. A verified key is remembered for two seconds by a
 * fingerprint of the whole key (an HMAC keyed with a secret of this process), so that a busy
 * exporter does not pay for scrypt on every request; after that its record is read again — so that
 * revoking a key counts at once in this process and within two seconds in any other — but scrypt is
 * not run again while the record holds the same hash this process verified the key against: a key
 * pays for scrypt once in a process's life, not every two seconds (which was the API's p99).
 *
 * A key that fails costs what any other failing key costs: an id no key has is checked against a
 * dummy hash of the same parameters, so the answer's time does not tell which ids exist. The same
 * wrong key again within ten seconds is refused from memory, at no cost to anyone's budget. Each
 * client address has a budget of slow checks that fail (a token bucket, taken before scrypt and
 * given back when the key is valid); past it the address is answered 429 with Retry-After and nothing is hashed, unless the
 * key is one this process verified in the last ten minutes: an attacker cannot present such a
 * key without holding it, so a valid key behind the same address (a NAT, a proxy) is not locked
 * out by someone else's failures.
 */
export class Authenticator {
  private readonly keys: KeyStore;
  private readonly clock: Clock;
  private readonly verify: (key: string, secretHash: string) => Promise<boolean>;
  private readonly failures: RateLimiter;
  private readonly cache = new Map<string, { principal: Principal; expiresAt: Date | null; until: number }>();
  /** Keys verified by scrypt, by fingerprint: the hash they were verified against. */
  private readonly verified = new Map<string, { keyId: string; secretHash: string }>();
  private readonly fingerprintKey = randomBytes(32);
  private readonly refused = new Map<string, number>();
  private readonly knownGood = new Map<string, number>();
  private readonly metrics: AccessMetrics | undefined;

  constructor(keys: KeyStore, clock: Clock = systemClock, opts: AuthenticatorOptions = {}) {
    this.keys = keys;
    this.clock = clock;
    this.verify = opts.verify ?? verifyKey;
    this.metrics = opts.metrics;
    const perSecond = opts.failuresPerSecond ?? 2;
    const counted = opts.metrics ? { metrics: opts.metrics, kind: 'auth' as const } : undefined;
    this.failures = new RateLimiter(perSecond, opts.failureBurst ?? 10, clock, `this address has sent more than ${perSecond} invalid API keys a second; slow down`, counted);
  }

  private refuse(reason: AuthFailureReason, message: string): UnauthorizedError {
    this.metrics?.authFailed(reason);
    return new UnauthorizedError(message);
  }

  /** `address` is the client's (the socket's remote address); failures are budgeted per address. */
  async authenticate(header: string | undefined, address = 'unknown'): Promise<Principal> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) throw header ? this.refuse('malformed_header', 'the Authorization header must be "Bearer <key>"') : this.refuse('missing_key', 'this call needs an API key: send "Authorization: Bearer <key>"');
    const key = m[1]!;
    const fingerprint = createHmac('sha256', this.fingerprintKey).update(key).digest('hex');
    const now = this.clock.now().getTime();
    const hit = this.cache.get(fingerprint);
    if (hit && hit.until > now) {
      if (hit.expiresAt && hit.expiresAt.getTime() <= now) throw this.refuse('expired', 'this API key has expired');
      return hit.principal;
    }
    // A key refused moments ago costs nothing to refuse again, and so takes none of the budget.
    if ((this.refused.get(fingerprint) ?? 0) > now) throw this.refuse('invalid_key', 'this API key is not valid');
    const known = (this.knownGood.get(fingerprint) ?? 0) > now;
    // Taken before any scrypt, so that concurrent requests cannot all pass a check made before
    // their failures are counted; given back below when the key is valid.
    if (!known) this.failures.take(address);
    let stored, valid;
    try {
      stored = await this.keys.getKey(keyIdOf(key));
      const before = this.verified.get(fingerprint);
      valid = stored !== null && before !== undefined && before.keyId === stored.id && before.secretHash === stored.secretHash ? true : await this.verify(key, stored?.secretHash ?? DUMMY_HASH);
    } catch (err) {
      // The store failed, not the key: that is no failure of this address.
      if (!known) this.failures.giveBack(address);
      throw err;
    }
    if (!stored || !valid) {
      remember(this.refused, fingerprint, now + REFUSED_MS);
      throw this.refuse('invalid_key', 'this API key is not valid');
    }
    if (!known) this.failures.giveBack(address);
    remember(this.knownGood, fingerprint, now + KNOWN_GOOD_MS);
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(fingerprint, { keyId: stored.id, secretHash: stored.secretHash });
    if (stored.revokedAt) throw this.refuse('revoked', 'this API key has been revoked');
    if (stored.expiresAt && stored.expiresAt.getTime() <= now) throw this.refuse('expired', 'this API key has expired');
    const principal = principalOf(stored);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(fingerprint, { principal, expiresAt: stored.expiresAt, until: now + CACHE_MS });
    return principal;
  }

  /** Forgets a key at once (after revocation). */
  forget(keyId: string): void {
    for (const [fp, v] of this.cache) if (v.principal.keyId === keyId) this.cache.delete(fp);
    for (const [fp, v] of this.verified) if (v.keyId === keyId) this.verified.delete(fp);
  }
}

function remember(m: Map<string, number>, fingerprint: string, until: number): void {
  if (m.size > 10_000) m.clear();
  m.set(fingerprint, until);
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
  private readonly message: string;
  private readonly counted: { metrics: AccessMetrics; kind: RateLimitKind } | undefined;

  /** `counted`: where each refusal is counted, and as which kind of limit. */
  constructor(perSecond: number, burst: number, clock: Clock = systemClock, message = `this key makes more than ${perSecond} calls a second; slow down`, counted?: { metrics: AccessMetrics; kind: RateLimitKind }) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.clock = clock;
    this.message = message;
    this.counted = counted;
  }

  take(key: string): void {
    const now = this.clock.now().getTime();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      this.counted?.metrics.rateLimited(this.counted.kind);
      throw new UnavailableError(this.message, Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond)), 429);
    }
    b.tokens -= 1;
    if (this.buckets.size > 100_000) this.buckets.clear();
    this.buckets.set(key, b);
  }

  /** Returns a token taken for a call that turned out not to count. */
  giveBack(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.burst, b.tokens + 1);
  }
}
