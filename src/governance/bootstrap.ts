import { systemClock, type Clock } from '../common/clock.ts';
import type { KeyStore } from '../storage/governance.ts';
import type { AuditService } from './audit.ts';
import { generateKey, hashKey, keyIdOf } from './keys.ts';

// The installation's admin key. PROMPTLINE_API_KEY, if set, is made the admin key of the default
// project when no key with its id exists yet (once revoked, it stays revoked). Without it, the first
// start of an installation with no keys at all generates one and shows it once.

export async function bootstrapAdminKey(keys: KeyStore, audit: AuditService, configured: string | undefined, clock: Clock = systemClock): Promise<{ created: boolean; generatedKey: string | null; id: string | null }> {
  if (configured ? (await keys.getKey(keyIdOf(configured))) !== null : (await keys.countKeys()) > 0) return { created: false, generatedKey: null, id: null };
  const generated = configured ? null : generateKey();
  const key = configured ?? generated!.key;
  const id = keyIdOf(key);
  const now = clock.now();
  await keys.createKey({ id, name: 'bootstrap admin', role: 'admin', promote: true, project: 'default', secretHash: await hashKey(key), createdAt: now, createdBy: 'bootstrap', expiresAt: null, revokedAt: null, revokedBy: null });
  await audit.record({ project: 'default', actor: 'bootstrap', action: 'key.create', target: `key:${id}`, before: null, after: { id, name: 'bootstrap admin', role: 'admin', project: 'default', source: configured ? 'PROMPTLINE_API_KEY' : 'generated' } });
  return { created: true, generatedKey: generated?.key ?? null, id };
}
