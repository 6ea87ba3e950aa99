import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredApiKey } from '../../src/domain/governance.ts';
import type { Clock } from '../../src/common/clock.ts';
import { auditHash, verifyChain } from '../../src/governance/audit.ts';
import type { AuditLog, KeyStore } from '../../src/storage/governance.ts';
import { ManualClock } from '../helpers/clock.ts';

// Scenarios that must hold for every key store and audit log backend. Tampering tests are
// backend-specific (they edit the store by hand) and live beside each backend's test file.

export interface GovernanceFixture {
  keys: KeyStore;
  audit: AuditLog;
  cleanup(): Promise<void>;
}

/** `open` makes a fresh key store and audit log (an audit chain of their own) that take their time from `clock`. */
export function describeGovernanceContract(backend: string, open: (clock: Clock) => Promise<GovernanceFixture>): void {
  describe(`keys and audit log contract: ${backend}`, () => {
    let fx: GovernanceFixture;
    const project = `contract-${randomUUID()}`;
    const clock = new ManualClock();
    beforeAll(async () => {
      fx = await open(clock);
      await fx.keys.migrate();
      await fx.audit.migrate();
      await fx.keys.migrate();
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    const key = (over: Partial<StoredApiKey> = {}): StoredApiKey => ({
      id: randomUUID().replaceAll('-', '').slice(0, 16),
      name: 'ci ingest',
      role: 'ingest',
      promote: false,
      project,
      secretHash: 'scrypt$32768$8$1$c2FsdA$aGFzaA',
      createdAt: new Date(1_700_000_000_000),
      createdBy: 'admin [key 0]',
      expiresAt: null,
      revokedAt: null,
      revokedBy: null,
      ...over,
    });

    it('stores keys and finds them by id and by project', async () => {
      const a = key();
      const b = key({ role: 'edit', promote: true, name: 'editor', expiresAt: new Date(1_900_000_000_000) });
      await fx.keys.createKey(a);
      await fx.keys.createKey(b);
      expect(await fx.keys.getKey(a.id)).toEqual(a);
      expect(await fx.keys.getKey(b.id)).toEqual(b);
      expect((await fx.keys.listKeys(project)).map((k) => k.id).sort()).toEqual([a.id, b.id].sort());
      expect(await fx.keys.listKeys(`${project}-other`)).toEqual([]);
      expect(await fx.keys.getKey('ffffffffffffffff')).toBeNull();
      expect(await fx.keys.countKeys()).toBeGreaterThanOrEqual(2);
    });

    it('revokes a key once', async () => {
      const k = key();
      await fx.keys.createKey(k);
      const at = new Date(1_800_000_000_000);
      expect(await fx.keys.revokeKey(k.id, at, 'admin')).toBe(true);
      expect(await fx.keys.revokeKey(k.id, at, 'admin')).toBe(false);
      expect(await fx.keys.getKey(k.id)).toMatchObject({ revokedAt: at, revokedBy: 'admin' });
      expect(await fx.keys.revokeKey('0000000000000000', at, 'admin')).toBe(false);
    });

    it('appends audit entries as a hash chain, in order, even when appended in parallel', async () => {
      const before = (await fx.audit.list({ limit: 1 }))[0]?.seq ?? 0;
      const entries = await Promise.all(
        Array.from({ length: 20 }, (_, i) => fx.audit.append({ project, actor: `actor-${i}`, action: 'prompt.register', target: `prompt:p/${i}`, before: null, after: { version: i, quote: `it's "odd" \\ ${i}` } }, auditHash)),
      );
      expect(entries.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => before + i + 1));
      const verified = await verifyChain((from, limit) => fx.audit.scan(from, limit), null);
      expect(verified).toMatchObject({ ok: true, problem: null });
      expect(verified.entries).toBeGreaterThanOrEqual(20);
    });

    it('lists entries newest first, filtered', async () => {
      const mine = await fx.audit.list({ project, limit: 5 });
      expect(mine).toHaveLength(5);
      expect(mine[0]!.seq).toBeGreaterThan(mine[1]!.seq);
      const one = await fx.audit.list({ project, actor: 'actor-3', limit: 10 });
      expect(one.map((e) => [e.actor, e.target, e.after])).toEqual([['actor-3', 'prompt:p/3', { version: 3, quote: `it's "odd" \\ 3` }]]);
      expect(await fx.audit.list({ project: `${project}-other`, limit: 10 })).toEqual([]);
      const page2 = await fx.audit.list({ project, limit: 5, beforeSeq: mine.at(-1)!.seq });
      expect(page2[0]!.seq).toBe(mine.at(-1)!.seq - 1);
    });

    it('stamps each entry with the time of its clock, never earlier than the entry before', async () => {
      const append = () => fx.audit.append({ project, actor: 'clock', action: 'alias.move', target: 'prompt:clock@production', before: null, after: null }, auditHash);
      clock.advance(1_000);
      const first = await append();
      expect(first.at).toEqual(clock.now());
      clock.advance(-60_000);
      const second = await append();
      expect(second.at).toEqual(first.at);
      clock.advance(60_005);
      expect((await append()).at).toEqual(clock.now());
      expect(await verifyChain((from, limit) => fx.audit.scan(from, limit), null)).toMatchObject({ ok: true, problem: null });
      expect((await fx.audit.list({ project, actor: 'clock', since: first.at, until: clock.now(), limit: 10 })).map((e) => e.at)).toEqual([second.at, first.at]);
    });
  });
}
