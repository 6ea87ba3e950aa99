import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, NewAuditEntry } from '../../src/domain/governance.ts';
import { hashTemplate, type AliasMove, type PromptTemplate, type PromptVersion } from '../../src/domain/prompt.ts';
import { BadRequestError, ConflictError } from '../../src/common/errors.ts';
import type { VersionOrigin } from '../../src/domain/origin.ts';
import type { Clock } from '../../src/common/clock.ts';
import { auditHash } from '../../src/governance/audit.ts';
import { moveContentHash, moveEntry, versionContentHash, versionEntry } from '../../src/governance/audit-content.ts';
import { verifyAudit } from '../../src/governance/audit-verify.ts';
import type { AuditDraft, AuditLog } from '../../src/storage/governance.ts';
import type { NewVersion, Registry, RegistryHistory } from '../../src/storage/registry.ts';
import { ManualClock } from '../helpers/clock.ts';

// Scenarios that must hold for every registry backend.

export interface RegistryFixture {
  registry: Registry & RegistryHistory;
  /** The audit log the registry writes its changes' entries to (its own chain). */
  audit: AuditLog;
  cleanup(): Promise<void>;
}

/** A draft as the audit service makes one, that remembers what it was told; `fail` makes its entry impossible. */
function draftOf<T>(make: (stored: T) => NewAuditEntry, fail = false) {
  const told: AuditEntry[][] = [];
  const d: AuditDraft<T> = {
    entries: (stored) => {
      if (fail) throw new Error('the audit entry cannot be made');
      return [make(stored)];
    },
    hashOf: auditHash,
    committed: (entries) => void told.push(entries),
  };
  return { d, told };
}

const text = (t: string): PromptTemplate => ({ type: 'text', text: t });

/** `open` makes a fresh registry that takes its time from `clock`. */
export function describeRegistryContract(backend: string, open: (clock: Clock) => Promise<RegistryFixture>): void {
  describe(`registry contract: ${backend}`, () => {
    let fx: RegistryFixture;
    let reg: Registry & RegistryHistory;
    const clock = new ManualClock();
    // Every run names its own project, so runs against a shared server never meet.
    const project = `contract-${randomUUID()}`;
    const other = `${project}-other`;

    beforeAll(async () => {
      fx = await open(clock);
      reg = fx.registry;
      await reg.migrate();
      await reg.migrate();
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    const version = (name: string, t: string, over: Partial<NewVersion> = {}): NewVersion => ({
      name,
      template: text(t),
      templateHash: hashTemplate(text(t)),
      commitMessage: `commit ${t}`,
      author: 'alice',
      tags: ['support'],
      baseVersion: null,
      ...over,
    });

    it('numbers versions 1, 2, 3 and derives each from the one before by default', async () => {
      const v1 = await reg.registerVersion(project, version('support-answer', 'Answer: {{q}}'));
      const v2 = await reg.registerVersion(project, version('support-answer', 'Answer briefly: {{q}}'));
      const v3 = await reg.registerVersion(project, version('support-answer', 'Answer kindly: {{q}}', { baseVersion: 1 }));
      expect([v1.version, v2.version, v3.version]).toEqual([1, 2, 3]);
      expect([v1.baseVersion, v2.baseVersion, v3.baseVersion]).toEqual([null, 1, 1]);
      expect(v2).toMatchObject({ name: 'support-answer', commitMessage: 'commit Answer briefly: {{q}}', author: 'alice', tags: ['support'], createdAt: clock.now() });
      expect(await reg.getVersion(project, 'support-answer', 2)).toEqual(v2);
      expect((await reg.latestVersion(project, 'support-answer'))?.version).toBe(3);
      const page = await reg.listVersions(project, 'support-answer', { limit: 2, offset: 0 });
      expect(page.total).toBe(3);
      expect(page.versions.map((v) => v.version)).toEqual([3, 2]);
      expect(await reg.getVersion(project, 'support-answer', 9)).toBeNull();
      expect(await reg.latestVersion(project, 'never-registered')).toBeNull();
    });

    it('gives parallel registrations of one prompt distinct, gapless numbers', async () => {
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => reg.registerVersion(project, version('parallel', `template ${i}`))));
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
      const page = await reg.listVersions(project, 'parallel', { limit: 100, offset: 0 });
      expect(page.total).toBe(25);
    });

    it('keeps chat templates whole and finds versions by template hash', async () => {
      const chat: PromptTemplate = { type: 'chat', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: '{{question}}' }] };
      const v = await reg.registerVersion(project, { ...version('chat-prompt', ''), template: chat, templateHash: hashTemplate(chat) });
      expect((await reg.getVersion(project, 'chat-prompt', v.version))?.template).toEqual(chat);
      expect((await reg.findByTemplateHash(project, hashTemplate(chat))).map((x) => [x.name, x.version])).toEqual([['chat-prompt', 1]]);
      expect(await reg.findByTemplateHash(project, 'f'.repeat(64))).toEqual([]);
    });

    it('moves an alias and keeps every move, with who, when, from and to, and why', async () => {
      const m1 = await reg.moveAlias(project, { name: 'support-answer', alias: 'production', to: { version: 1, split: null }, actor: 'alice', reason: 'first release', rollback: false });
      clock.advance(5);
      const m2 = await reg.moveAlias(project, { name: 'support-answer', alias: 'production', to: { version: 2, split: null }, actor: 'bob', reason: 'shorter answers', rollback: false });
      clock.advance(5);
      const m3 = await reg.moveAlias(project, { name: 'support-answer', alias: 'production', to: { version: 1, split: null }, actor: 'carol', reason: 'complaints', rollback: true });
      expect([m1.seq, m2.seq, m3.seq]).toEqual([1, 2, 3]);
      expect(m1.from).toBeNull();
      expect(m2).toMatchObject({ actor: 'bob', reason: 'shorter answers', from: { version: 1, split: null }, to: { version: 2, split: null }, rollback: false });
      expect(m3).toMatchObject({ from: { version: 2 }, to: { version: 1 }, rollback: true });
      const history = await reg.aliasHistory(project, 'support-answer', 'production');
      expect(history).toEqual([m1, m2, m3]);
      expect([m1.at.getTime(), m2.at.getTime(), m3.at.getTime()]).toEqual([0, 5, 10].map((ms) => m1.at.getTime() + ms));
      expect(m3.at).toEqual(clock.now());
    });

    it('answers where an alias pointed at any time: before, at and between its moves', async () => {
      const [m1, m2, m3] = await reg.aliasHistory(project, 'support-answer', 'production');
      expect(await reg.getAlias(project, 'support-answer', 'production', new Date(m1!.at.getTime() - 1))).toBeNull();
      expect((await reg.getAlias(project, 'support-answer', 'production', m1!.at))?.target).toEqual({ version: 1, split: null });
      expect((await reg.getAlias(project, 'support-answer', 'production', new Date(m2!.at.getTime() - 1)))?.since.seq).toBe(1);
      expect((await reg.getAlias(project, 'support-answer', 'production', m2!.at))?.target.version).toBe(2);
      expect((await reg.getAlias(project, 'support-answer', 'production', new Date(m3!.at.getTime() + 60_000)))?.since.seq).toBe(3);
      expect((await reg.getAlias(project, 'support-answer', 'production'))?.target.version).toBe(1);
      expect(await reg.getAlias(project, 'support-answer', 'staging')).toBeNull();
    });

    it('keeps a split as the target of a move', async () => {
      const split = { id: 'split-1', arms: [{ version: 2, weight: 90 }, { version: 3, weight: 10 }] };
      await reg.moveAlias(project, { name: 'support-answer', alias: 'canary', to: { version: null, split }, actor: 'alice', reason: 'try v3', rollback: false });
      expect((await reg.getAlias(project, 'support-answer', 'canary'))?.target).toEqual({ version: null, split });
      const aliases = await reg.listAliases(project, 'support-answer');
      expect(aliases.map((a) => [a.alias, a.since.seq])).toEqual([['canary', 1], ['production', 3]]);
    });

    it('refuses a move when the alias moved meanwhile (expectSeq)', async () => {
      await expect(
        reg.moveAlias(project, { name: 'support-answer', alias: 'production', to: { version: 3, split: null }, actor: 'dave', reason: 'stale view', rollback: false, expectSeq: 2 }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect((await reg.aliasHistory(project, 'support-answer', 'production')).length).toBe(3);
    });

    it('keeps the moves of an alias in time order when the clock steps back', async () => {
      const move = (version: number) => reg.moveAlias(project, { name: 'clock-steps-back', alias: 'production', to: { version, split: null }, actor: 'alice', reason: `to ${version}`, rollback: false });
      const first = await move(1);
      clock.advance(-60_000);
      const second = await move(2);
      expect(second.at).toEqual(first.at);
      clock.advance(60_005);
      expect((await move(3)).at).toEqual(clock.now());
    });

    it('lists prompts with their latest version and aliases', async () => {
      const prompts = await reg.listPrompts(project, { limit: 100, offset: 0 });
      const support = prompts.find((p) => p.name === 'support-answer')!;
      expect(support).toMatchObject({ latestVersion: 3, versions: 3, aliases: ['canary', 'production'] });
      expect(prompts.map((p) => p.name)).toEqual([...prompts.map((p) => p.name)].sort());
    });

    it('keeps projects apart', async () => {
      expect(await reg.getVersion(other, 'support-answer', 1)).toBeNull();
      expect(await reg.getAlias(other, 'support-answer', 'production')).toBeNull();
      expect(await reg.listPrompts(other, { limit: 10, offset: 0 })).toEqual([]);
      expect(await reg.listProjects()).not.toContain(other);
      const v = await reg.registerVersion(other, version('support-answer', 'other project'));
      expect(v.version).toBe(1);
      const projects = await reg.listProjects();
      expect(projects).toEqual(expect.arrayContaining([project, other]));
      expect(projects).toEqual([...new Set(projects)].sort());
    });

    it('stores names and text with any characters verbatim', async () => {
      const odd = `it's "q" \\ {{x}} ✓ ' OR 1=1 -- MATCH (n) DETACH DELETE n`;
      const v = await reg.registerVersion(project, version('odd', odd, { commitMessage: odd, tags: [odd] }));
      expect(await reg.getVersion(project, 'odd', v.version)).toMatchObject({ template: { type: 'text', text: odd }, commitMessage: odd, tags: [odd] });
    });

    // Changes handed an audit draft: the change and its entry commit in one transaction.
    const audited = `${project}-audited`;
    const entriesOf = async (target: string) => (await fx.audit.list({ project: audited, target, limit: 100 })).map((e) => e.hash);

    it('registers a version with its audit entry, or neither', async () => {
      const ok = draftOf((v: PromptVersion) => versionEntry(audited, v));
      const v1 = await reg.registerVersion(audited, version('audited', 'one'), ok.d);
      const [entry] = ok.told[0]!;
      expect(entry).toMatchObject({ project: audited, projectSeq: 1, actor: 'alice', action: 'prompt.register', target: 'prompts:/audited/1', after: { version: 1, contentHash: versionContentHash(audited, v1) } });
      expect(await entriesOf('prompts:/audited/1')).toEqual([entry!.hash]);

      const failing = draftOf((v: PromptVersion) => versionEntry(audited, v), true);
      await expect(reg.registerVersion(audited, version('audited', 'two'), failing.d)).rejects.toThrow(/cannot be made/);
      expect(failing.told).toEqual([]);
      expect((await reg.latestVersion(audited, 'audited'))?.version).toBe(1);
      // The refused registration took no number: the next one is 2.
      expect((await reg.registerVersion(audited, version('audited', 'two'), draftOf((v: PromptVersion) => versionEntry(audited, v)).d)).version).toBe(2);
      expect(await entriesOf('prompts:/audited/2')).toHaveLength(1);
    });

    it('moves an alias with its audit entry; a refused or failing move leaves neither', async () => {
      const ok = draftOf((m: AliasMove) => moveEntry(audited, m));
      const m1 = await reg.moveAlias(audited, { name: 'audited', alias: 'production', to: { version: 1, split: null }, actor: 'bob', reason: 'first release', rollback: false }, ok.d);
      expect(ok.told[0]![0]).toMatchObject({ action: 'alias.move', actor: 'bob', target: 'prompts:/audited@production', before: null, after: { version: 1, seq: 1, reason: 'first release', contentHash: moveContentHash(audited, m1) } });
      const stale = draftOf((m: AliasMove) => moveEntry(audited, m));
      await expect(reg.moveAlias(audited, { name: 'audited', alias: 'production', to: { version: 2, split: null }, actor: 'bob', reason: 'stale', rollback: false, expectSeq: 0 }, stale.d)).rejects.toBeInstanceOf(ConflictError);
      const failing = draftOf((m: AliasMove) => moveEntry(audited, m), true);
      await expect(reg.moveAlias(audited, { name: 'audited', alias: 'production', to: { version: 2, split: null }, actor: 'bob', reason: 'no entry', rollback: false }, failing.d)).rejects.toThrow(/cannot be made/);
      expect([stale.told, failing.told]).toEqual([[], []]);
      expect(await reg.aliasHistory(audited, 'audited', 'production')).toEqual([m1]);
      expect(await entriesOf('prompts:/audited@production')).toHaveLength(1);
      clock.advance(5);
      await reg.moveAlias(audited, { name: 'audited', alias: 'production', to: { version: 2, split: null }, actor: 'bob', reason: 'second', rollback: false }, draftOf((m: AliasMove) => moveEntry(audited, m)).d);
    });

    it('reads its whole history back in key order, page by page', async () => {
      await reg.moveAlias(audited, { name: 'audited', alias: 'canary', to: { version: 2, split: null }, actor: 'bob', reason: 'try', rollback: false }, draftOf((m: AliasMove) => moveEntry(audited, m)).d);
      const versions: PromptVersion[] = [];
      for (let page = await reg.versionsAfter(audited, null, 1); page.length > 0; page = await reg.versionsAfter(audited, page.at(-1)!, 1)) versions.push(...page);
      expect(versions.map((v) => [v.name, v.version])).toEqual([['audited', 1], ['audited', 2]]);
      expect(versions[0]).toEqual(await reg.getVersion(audited, 'audited', 1));
      const moves: AliasMove[] = [];
      for (let page = await reg.movesAfter(audited, null, 2); page.length > 0; page = await reg.movesAfter(audited, page.at(-1)!, 2)) moves.push(...page);
      expect(moves.map((m) => [m.alias, m.seq])).toEqual([['canary', 1], ['production', 1], ['production', 2]]);
      expect(moves.slice(1)).toEqual(await reg.aliasHistory(audited, 'audited', 'production'));
      expect(await reg.versionsAfter(`${audited}-none`, null, 10)).toEqual([]);
    });

    it('keeps what produced a version with it, in its audit entry too, and refuses an origin naming versions not registered', async () => {
      const entry = () => draftOf((v: PromptVersion) => versionEntry(audited, v));
      const seed = await reg.registerVersion(audited, version('optimized', 'Answer: {{q}}'), entry().d);
      expect(seed.origin).toBeNull();
      const origin: VersionOrigin = {
        derivedFrom: [{ name: 'optimized', version: seed.version }],
        optimizer: { name: 'dspy.MIPROv2 <b>', runId: 'run-2026-10-01', dataset: 'golden-2026-10', scorer: 'exact_match', score: 0.875 },
      };
      const ok = entry();
      const tuned = await reg.registerVersion(audited, version('optimized', 'Answer, citing the KB: {{q}}', { origin }), ok.d);
      expect(tuned.origin).toEqual(origin);
      expect(await reg.getVersion(audited, 'optimized', tuned.version)).toEqual(tuned);
      expect((await reg.listVersions(audited, 'optimized', { limit: 1, offset: 0 })).versions).toEqual([tuned]);
      expect(ok.told[0]![0]!.after).toMatchObject({ origin, contentHash: versionContentHash(audited, tuned) });
      // The content hash covers the origin (a changed score would no longer match its entry); a version without one hashes as before origins were kept.
      expect(versionContentHash(audited, { ...tuned, origin: { ...origin, optimizer: { ...origin.optimizer!, score: 0.99 } } })).not.toBe(versionContentHash(audited, tuned));
      expect(versionContentHash(audited, seed)).toBe(versionContentHash(audited, { ...seed, origin: undefined }));

      const refused = entry();
      const unknown = reg.registerVersion(audited, version('optimized', 'from nowhere', { origin: { derivedFrom: [{ name: 'optimized', version: 1 }, { name: 'elsewhere', version: 4 }], optimizer: null } }), refused.d);
      await expect(unknown).rejects.toBeInstanceOf(BadRequestError);
      await expect(unknown).rejects.toThrow(/elsewhere version 4 is not registered/);
      expect(refused.told).toEqual([]);
      expect((await reg.latestVersion(audited, 'optimized'))?.version).toBe(tuned.version);
    });

    it('keeps the proposal step and override a move was made under, in its content hash and audit facts too', async () => {
      const gov = `${project}-governed`;
      const plain = await reg.moveAlias(gov, { name: 'governed', alias: 'production', to: { version: 1, split: null }, actor: 'alice', reason: 'first', rollback: false });
      const governance = { proposal: 'pr_0123456789ab', step: 1, steps: 2, override: 'incident 42: the evaluation service is down' };
      const step = await reg.moveAlias(gov, { name: 'governed', alias: 'production', to: { version: null, split: { id: 's1', arms: [{ version: 1, weight: 90 }, { version: 2, weight: 10 }] } }, actor: 'bob', reason: 'proposal pr_0123456789ab', rollback: false, governance });
      expect(plain.governance ?? null).toBeNull();
      expect(step.governance).toEqual(governance);
      expect(await reg.aliasHistory(gov, 'governed', 'production')).toEqual([plain, step]);
      expect((await reg.getAlias(gov, 'governed', 'production'))!.since).toEqual(step);
      expect(moveEntry(gov, step).after).toMatchObject({ governance });
      expect(moveContentHash(gov, step)).not.toBe(moveContentHash(gov, { ...step, governance: { ...governance, override: null } }));
      // A move without one hashes as moves did before they could carry one.
      expect(moveContentHash(gov, plain)).toBe(moveContentHash(gov, { ...plain, governance: undefined }));
    });

    it('verifies: every version and alias move matches the entry that recorded it', async () => {
      const r = await verifyAudit({ scan: (from, limit) => fx.audit.scan(from, limit), history: reg });
      expect(r).toMatchObject({ ok: true, problems: [], registry: { versions: 4, moves: 3 } });
    });
  });
}
