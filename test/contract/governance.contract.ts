import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, NewAuditEntry, StoredApiKey } from '../../src/domain/governance.ts';
import type { Clock } from '../../src/common/clock.ts';
import { auditHash, verifyChain } from '../../src/governance/audit.ts';
import type { SpanRetentionChange } from '../../src/domain/retention.ts';
import type { AuditDraft, AuditLog, KeyStore, RetentionSettings } from '../../src/storage/governance.ts';
import type { WebhookStore } from '../../src/storage/webhooks.ts';
import { describeWebhookContract } from './webhooks.contract.ts';
import { ManualClock } from '../helpers/clock.ts';

// Scenarios that must hold for every key store and audit log backend. Tampering tests are
// backend-specific (they edit the store by hand) and live beside each backend's test file.

export interface GovernanceFixture {
  keys: KeyStore;
  audit: AuditLog;
  retention: RetentionSettings;
  /** Webhooks and their outbox, in the same store (their audit entries go to `audit`). */
  webhooks: WebhookStore;
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
      await fx.retention.migrate();
      await fx.webhooks.migrate();
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
      instanceAdmin: false,
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
      const projects = await fx.keys.listProjects();
      expect(projects).toContain(project);
      expect(projects).not.toContain(`${project}-other`);
      expect(projects).toEqual([...new Set(projects)].sort());
      expect(await fx.keys.getKey('ffffffffffffffff')).toBeNull();
      expect(await fx.keys.countKeys()).toBeGreaterThanOrEqual(2);
    });

    it('keeps whether a key is an instance admin, and finds keys by who created them, in any project', async () => {
      const creator = `creator-${randomUUID()}`;
      const admin = key({ role: 'admin', instanceAdmin: true, createdBy: creator });
      const elsewhere = key({ project: `${project}-elsewhere`, createdBy: creator, createdAt: new Date(1_700_000_000_001) });
      await fx.keys.createKey(admin);
      await fx.keys.createKey(elsewhere);
      expect(await fx.keys.getKey(admin.id)).toEqual(admin);
      expect((await fx.keys.listKeysCreatedBy(creator)).map((k) => k.id)).toEqual([admin.id, elsewhere.id]);
      expect(await fx.keys.listKeysCreatedBy(`${creator}-nobody`)).toEqual([]);
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

    it("numbers each project's entries 1, 2, 3 with no gaps, however the projects' appends interleave", async () => {
      const [a, b] = [`${project}-seq-a`, `${project}-seq-b`];
      const appended = await Promise.all(Array.from({ length: 12 }, (_, i) => fx.audit.append({ project: i % 3 === 0 ? a : b, actor: 'alice', action: 'key.create', target: `key:${i}`, before: null, after: null }, auditHash)));
      const numbers = (p: string) => appended.filter((e) => e.project === p).sort((x, y) => x.seq - y.seq).map((e) => e.projectSeq);
      expect(numbers(a)).toEqual([1, 2, 3, 4]);
      expect(numbers(b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const page1 = await fx.audit.list({ project: b, limit: 5 });
      expect(page1.map((e) => e.projectSeq)).toEqual([8, 7, 6, 5, 4]);
      expect((await fx.audit.list({ project: b, limit: 5, beforeProjectSeq: 4 })).map((e) => e.projectSeq)).toEqual([3, 2, 1]);
      expect((await fx.audit.scan(1, 100_000)).filter((e) => e.project === a).map((e) => e.projectSeq)).toEqual([1, 2, 3, 4]);
      expect(await verifyChain((from, limit) => fx.audit.scan(from, limit), null)).toMatchObject({ ok: true, problem: null });
    });

    /** A draft as the audit service makes one, that remembers what it was told. */
    const draft = (entry: (k: StoredApiKey) => NewAuditEntry[], fail = false) => {
      const told: AuditEntry[][] = [];
      const d: AuditDraft<StoredApiKey> = {
        entries: (k) => {
          if (fail) throw new Error('the audit entry cannot be made');
          return entry(k);
        },
        hashOf: auditHash,
        committed: (entries) => void told.push(entries),
      };
      return { d, told };
    };
    const keyEntry = (action: string) => (k: StoredApiKey): NewAuditEntry[] => [
      { project: k.project, actor: 'admin', action, target: `key:${k.id}`, before: null, after: { id: k.id, revokedAt: k.revokedAt?.toISOString() ?? null } },
      { project: `${k.project}-admin`, actor: 'admin', action, target: `key:${k.id}`, before: null, after: null },
    ];

    it('creates a key and its audit entries together, or neither', async () => {
      const k = key();
      const ok = draft(keyEntry('key.create'));
      await fx.keys.createKey(k, ok.d);
      expect(ok.told).toHaveLength(1);
      const [own, admins] = ok.told[0]!;
      expect(own).toMatchObject({ project, action: 'key.create', target: `key:${k.id}`, after: { id: k.id, revokedAt: null } });
      expect(admins!.seq).toBe(own!.seq + 1);
      expect((await fx.audit.list({ project, target: `key:${k.id}`, limit: 10 })).map((e) => e.hash)).toEqual([own!.hash]);

      const refused = key();
      const failing = draft(keyEntry('key.create'), true);
      await expect(fx.keys.createKey(refused, failing.d)).rejects.toThrow(/cannot be made/);
      expect(await fx.keys.getKey(refused.id)).toBeNull();
      expect(failing.told).toEqual([]);
      expect(await fx.audit.list({ project, target: `key:${refused.id}`, limit: 10 })).toEqual([]);
    });

    it('revokes a key and audits it together, once, or neither', async () => {
      const k = key();
      await fx.keys.createKey(k);
      const at = new Date(1_800_000_000_000);
      const failing = draft(keyEntry('key.revoke'), true);
      await expect(fx.keys.revokeKey(k.id, at, 'admin', failing.d)).rejects.toThrow(/cannot be made/);
      expect((await fx.keys.getKey(k.id))?.revokedAt).toBeNull();

      const ok = draft(keyEntry('key.revoke'));
      expect(await fx.keys.revokeKey(k.id, at, 'admin', ok.d)).toBe(true);
      expect(ok.told[0]![0]).toMatchObject({ action: 'key.revoke', after: { id: k.id, revokedAt: at.toISOString() } });
      const again = draft(keyEntry('key.revoke'));
      expect(await fx.keys.revokeKey(k.id, at, 'admin', again.d)).toBe(false);
      expect(again.told).toEqual([]);
      expect((await fx.audit.list({ project, target: `key:${k.id}`, limit: 10 })).map((e) => e.action)).toEqual(['key.revoke']);
      expect(await verifyChain((from, limit) => fx.audit.scan(from, limit), null)).toMatchObject({ ok: true, problem: null });
    });
    it('keeps a project\'s span retention with its audit entry, in one transaction, and says what held before', async () => {
      const [a, b] = [`${project}-retention-a`, `${project}-retention-b`];
      expect(await fx.retention.getRetention(a)).toBeNull();
      const entry = (c: SpanRetentionChange): NewAuditEntry => ({ project: c.after.project, actor: c.after.changedBy, action: 'retention.set', target: `retention:${c.after.project}`, before: c.before ? { spanDays: c.before.spanDays } : null, after: { spanDays: c.after.spanDays } });
      const told: AuditEntry[][] = [];
      const d = (fail = false): AuditDraft<SpanRetentionChange> => ({
        entries: (c) => {
          if (fail) throw new Error('the audit entry cannot be made');
          return [entry(c)];
        },
        hashOf: auditHash,
        committed: (entries) => void told.push(entries),
      });
      const first = { project: a, spanDays: 30, changedAt: new Date(1_800_000_000_000), changedBy: 'admin [key 1]' };
      expect(await fx.retention.setRetention(first, d())).toEqual({ before: null, after: first });
      expect(await fx.retention.getRetention(a)).toEqual(first);
      const unlimited = { project: a, spanDays: null, changedAt: new Date(1_800_000_001_000), changedBy: 'admin [key 2]' };
      expect(await fx.retention.setRetention(unlimited, d())).toEqual({ before: first, after: unlimited });
      expect(await fx.retention.getRetention(a)).toEqual(unlimited);
      await expect(fx.retention.setRetention({ ...first, project: b }, d(true))).rejects.toThrow(/cannot be made/);
      expect(await fx.retention.getRetention(b)).toBeNull();
      await fx.retention.setRetention({ ...first, project: b, spanDays: 7 });
      expect((await fx.retention.listRetention()).filter((r) => r.project === a || r.project === b)).toEqual([unlimited, { ...first, project: b, spanDays: 7 }]);
      expect(told.map((es) => es.map((e) => [e.action, e.before, e.after]))).toEqual([[['retention.set', null, { spanDays: 30 }]], [['retention.set', { spanDays: 30 }, { spanDays: null }]]]);
      expect((await fx.audit.list({ project: a, action: 'retention.set', limit: 10 })).map((e) => e.hash)).toEqual([told[1]![0]!.hash, told[0]![0]!.hash]);
      expect(await fx.audit.list({ project: b, limit: 10 })).toEqual([]);
      expect(await verifyChain((from, limit) => fx.audit.scan(from, limit), null)).toMatchObject({ ok: true, problem: null });
    });

    describeWebhookContract(() => fx, project);
  });
}
