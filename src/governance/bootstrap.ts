import { systemClock, type Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { BOOTSTRAP_ACTOR, type StoredApiKey } from '../domain/governance.ts';
import type { KeyStore } from '../storage/governance.ts';
import type { AuditService } from './audit.ts';
import { generateKey, hashKey, keyIdOf, verifyKey } from './keys.ts';

// The installation's bootstrap key: an instance admin of project `default`, created by the
// installation itself (createdBy "bootstrap"). PROMPTLINE_API_KEY, when set, IS that key:
//   - a value with no key yet makes it the bootstrap key, and revokes any other bootstrap key still
//     active, so that changing the variable and restarting rotates the key (an old value that leaked
//     stops working) instead of silently adding one more admin key;
//   - a value that names a revoked key leaves it revoked: a revocation is not undone by a restart;
//   - unset, the bootstrap key there is stays; only an installation with no keys at all gets one,
//     generated and shown once.
// The new key is created before the old one is revoked, and every start finishes a rotation an
// earlier start was stopped in, so the installation is never left without a bootstrap key.

const BOOTSTRAP_KEY_NAME = 'bootstrap admin';

export interface BootstrapResult {
  /** created: a first bootstrap key; rotated: a new one replaced those before; kept: nothing made. */
  outcome: 'created' | 'rotated' | 'kept';
  /** A key made up here (PROMPTLINE_API_KEY unset), to be shown once. */
  generatedKey: string | null;
  /** The key made, when one was. */
  id: string | null;
  /** Bootstrap keys revoked because PROMPTLINE_API_KEY now names another. */
  revoked: string[];
}

const view = (k: StoredApiKey) => ({ id: k.id, name: k.name, role: k.role, project: k.project, instanceAdmin: k.instanceAdmin, revokedAt: k.revokedAt?.toISOString() ?? null });

export async function bootstrapAdminKey(
  keys: KeyStore,
  audit: AuditService,
  configured: string | undefined,
  deps: { clock?: Clock; logger?: Logger } = {},
): Promise<BootstrapResult> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const kept: BootstrapResult = { outcome: 'kept', generatedKey: null, id: null, revoked: [] };

  if (!configured) {
    if ((await keys.countKeys()) > 0) return kept;
    const generated = generateKey();
    const key = await createBootstrapKey(keys, audit, generated.key, 'generated', [], clock);
    logger?.info('bootstrap: admin key created', { keyId: key.id, source: 'generated' });
    return { outcome: 'created', generatedKey: generated.key, id: key.id, revoked: [] };
  }

  const id = keyIdOf(configured);
  const existing = await keys.getKey(id);
  if (existing?.revokedAt) {
    logger?.warn('bootstrap: PROMPTLINE_API_KEY names a revoked key, which stays revoked; set a new value to make a new bootstrap key', { keyId: id });
    return kept;
  }
  if (existing && !(await verifyKey(configured, existing.secretHash))) {
    logger?.warn('bootstrap: PROMPTLINE_API_KEY has the id of a stored key but not its secret; no key was created', { keyId: id });
    return kept;
  }
  // An ordinary key given as PROMPTLINE_API_KEY (an admin's own key in the server's environment) is
  // used as it is: it cannot become the bootstrap key, and the bootstrap key stays.
  if (existing && existing.createdBy !== BOOTSTRAP_ACTOR) return kept;

  const others = (await keys.listKeysCreatedBy(BOOTSTRAP_ACTOR)).filter((k) => k.id !== id && k.revokedAt === null);
  let created: StoredApiKey | null = null;
  if (!existing) created = await createBootstrapKey(keys, audit, configured, 'PROMPTLINE_API_KEY', others, clock);
  const revoked: string[] = [];
  for (const old of others) {
    // The revocation and its audit entry commit together.
    const draft = audit.draft((stored: StoredApiKey) => ({
      project: old.project,
      actor: BOOTSTRAP_ACTOR,
      action: 'key.revoke',
      target: `key:${old.id}`,
      before: view(old),
      after: { ...view(stored), reason: `rotated: PROMPTLINE_API_KEY now names key ${id}` },
    }));
    if (await keys.revokeKey(old.id, clock.now(), BOOTSTRAP_ACTOR, draft)) revoked.push(old.id);
  }
  if (revoked.length > 0) {
    logger?.warn('bootstrap: PROMPTLINE_API_KEY changed: the new bootstrap key replaces the old one, which is revoked', { keyId: id, revoked });
    return { outcome: 'rotated', generatedKey: null, id: created?.id ?? null, revoked };
  }
  if (created) {
    logger?.info('bootstrap: admin key created', { keyId: created.id, source: 'PROMPTLINE_API_KEY' });
    return { outcome: 'created', generatedKey: null, id: created.id, revoked: [] };
  }
  return kept;
}

async function createBootstrapKey(keys: KeyStore, audit: AuditService, key: string, source: 'generated' | 'PROMPTLINE_API_KEY', replacing: readonly StoredApiKey[], clock: Clock): Promise<StoredApiKey> {
  const record: StoredApiKey = {
    id: keyIdOf(key),
    name: BOOTSTRAP_KEY_NAME,
    role: 'admin',
    promote: true,
    project: 'default',
    instanceAdmin: true,
    secretHash: await hashKey(key),
    createdAt: clock.now(),
    createdBy: BOOTSTRAP_ACTOR,
    expiresAt: null,
    revokedAt: null,
    revokedBy: null,
  };
  // The key and its audit entry commit together.
  await keys.createKey(
    record,
    audit.draft((stored: StoredApiKey) => ({
      project: stored.project,
      actor: BOOTSTRAP_ACTOR,
      action: 'key.create',
      target: `key:${stored.id}`,
      before: null,
      after: { ...view(stored), source, ...(replacing.length > 0 ? { replaces: replacing.map((k) => k.id) } : {}) },
    })),
  );
  return record;
}
