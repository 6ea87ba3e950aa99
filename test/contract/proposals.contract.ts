import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/common/errors.ts';
import type { Clock } from '../../src/common/clock.ts';
import type { AuditEntry, NewAuditEntry } from '../../src/domain/governance.ts';
import type { MergeRecord, Proposal, ProposalActor } from '../../src/domain/proposal.ts';
import { auditHash } from '../../src/governance/audit.ts';
import { verifyAudit } from '../../src/governance/audit-verify.ts';
import type { AuditDraft, AuditLog } from '../../src/storage/governance.ts';
import type { NewProposal, PolicyChange, ProposalStore } from '../../src/storage/proposals.ts';
import { ManualClock } from '../helpers/clock.ts';

// Scenarios every proposal store must hold to: proposals with their events, the revision that lets
// one of two concurrent changes through, policies with their revisions, and audit entries that
// commit with each change or not at all.

export interface ProposalsFixture {
  store: ProposalStore;
  audit: AuditLog;
  cleanup(): Promise<void>;
}

const author: ProposalActor = { actor: 'pat [key a1]', keyId: 'a1', keyName: 'pat', role: 'proposer' };
const reviewer: ProposalActor = { actor: 'rev [key r1]', keyId: 'r1', keyName: 'rev', role: 'edit' };

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

export function describeProposalsContract(backend: string, open: (clock: Clock) => Promise<ProposalsFixture>): void {
  describe(`proposal store contract: ${backend}`, () => {
    const clock = new ManualClock(new Date('2026-11-01T10:00:00Z'));
    let f: ProposalsFixture;
    const project = `proposals-${randomBytes(4).toString('hex')}`;
    const id = () => `pr_${randomBytes(6).toString('hex')}`;
    const newProposal = (over: Partial<NewProposal> = {}): NewProposal => ({
      id: id(),
      name: 'summarize',
      title: 'Shorter answers',
      description: 'Asks for two sentences.',
      author,
      baseVersion: 3,
      candidateVersion: 4,
      request: { alias: 'production', steps: [10, 50, 100] },
      fromTarget: { version: 3, split: null },
      aliasSeq: 2,
      message: 'Asks for two sentences.',
      ...over,
    });
    const entry = (action: string) => (p: { id?: string; alias?: string }) => ({ project, actor: 'someone', action, target: p.id ?? p.alias ?? '?', before: null, after: { ok: true } });

    beforeAll(async () => {
      f = await open(clock);
      await f.store.migrate();
      await f.store.migrate(); // twice: migrations apply once
    });
    afterAll(async () => f?.cleanup());

    it('stores a proposal with its opened event, and reads it back as stored', async () => {
      const { d, told } = draftOf<Proposal>(entry('proposal.open'));
      const p = await f.store.createProposal(project, newProposal({ title: 'Hostile "title" <b>\u0000' }), d);
      expect(p).toMatchObject({ state: 'open', stepsDone: 0, revision: 1, aliasSeq: 2, stepStartedAt: null, candidateVersion: 4, request: { alias: 'production', steps: [10, 50, 100] }, fromTarget: { version: 3, split: null } });
      expect(p.createdAt.toISOString()).toBe('2026-11-01T10:00:00.000Z');
      expect(p.events).toEqual([{ seq: 1, at: p.createdAt, ...author, kind: 'opened', message: 'Asks for two sentences.', from: null, to: 'open', merge: null }]);
      expect(await f.store.getProposal(project, 'summarize', p.id)).toEqual(p);
      expect(await f.store.getProposal(project, 'other-prompt', p.id)).toBeNull();
      expect(await f.store.getProposal(`${project}-elsewhere`, 'summarize', p.id)).toBeNull();
      expect(told.flat().map((e) => e.action)).toEqual(['proposal.open']);
    });

    it('appends events in order and sets the progress with them; a stale revision is refused and changes nothing', async () => {
      const p = await f.store.createProposal(project, newProposal());
      clock.advance(1_000);
      const approved = await f.store.recordEvent(project, 'summarize', p.id, { expectRevision: 1, event: { ...reviewer, kind: 'approve', message: 'good', merge: null }, to: { state: 'approved', stepsDone: 0, aliasSeq: 2, stepStartedAt: null } });
      expect(approved.revision).toBe(2);
      expect(approved.state).toBe('approved');
      expect(approved.events.map((e) => [e.seq, e.kind, e.from, e.to, e.actor])).toEqual([
        [1, 'opened', null, 'open', author.actor],
        [2, 'approve', 'open', 'approved', reviewer.actor],
      ]);
      const merge: MergeRecord = {
        step: 1,
        steps: 3,
        moveSeq: 3,
        target: { version: null, split: { id: 's', arms: [{ version: 3, weight: 90 }, { version: 4, weight: 10 }] } },
        policy: { alias: 'production', approvals: { count: 1, roles: ['edit'] }, evaluations: [{ dataset: 'golden', scorer: 'helpfulness', minScore: 0.8, noRegression: false }], rollout: { minResponses: 5 }, updatedAt: new Date('2026-10-01T00:00:00Z'), updatedBy: 'admin', revision: 2 },
        checks: [{ gate: 'approvals', ok: true, detail: 'needs 1 approval from edit, has 1' }],
        override: null,
      };
      clock.advance(1_000);
      const stepAt = clock.now();
      const stepped = await f.store.recordEvent(project, 'summarize', p.id, { expectRevision: 2, event: { ...reviewer, kind: 'merge_step', message: '', merge }, to: { state: 'approved', stepsDone: 1, aliasSeq: 3, stepStartedAt: stepAt } });
      expect(stepped).toMatchObject({ stepsDone: 1, aliasSeq: 3, stepStartedAt: stepAt, revision: 3 });
      expect(stepped.events[2]!.merge).toEqual(merge);
      // A change decided on revision 2 comes too late: refused, and nothing of it is stored.
      await expect(f.store.recordEvent(project, 'summarize', p.id, { expectRevision: 2, event: { ...reviewer, kind: 'comment', message: 'late', merge: null }, to: { state: 'closed', stepsDone: 0, aliasSeq: 0, stepStartedAt: null } })).rejects.toBeInstanceOf(ConflictError);
      expect(await f.store.getProposal(project, 'summarize', p.id)).toEqual(stepped);
    });

    it('lets exactly one of two concurrent changes of one revision through', async () => {
      const p = await f.store.createProposal(project, newProposal());
      const change = (message: string) => f.store.recordEvent(project, 'summarize', p.id, { expectRevision: 1, event: { ...reviewer, kind: 'comment', message, merge: null }, to: { state: 'open', stepsDone: 0, aliasSeq: 2, stepStartedAt: null } });
      const results = await Promise.allSettled([change('a'), change('b'), change('c')]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof ConflictError)).toBe(true);
      expect((await f.store.getProposal(project, 'summarize', p.id))!.events).toHaveLength(2);
    });

    it('lists newest first, by state, in pages; and finds the proposals of a candidate version', async () => {
      const name = `list-${randomBytes(3).toString('hex')}`;
      const made: Proposal[] = [];
      for (let i = 0; i < 3; i++) {
        clock.advance(1_000);
        made.push(await f.store.createProposal(project, newProposal({ name, candidateVersion: 10 + i })));
      }
      await f.store.recordEvent(project, name, made[0]!.id, { expectRevision: 1, event: { ...author, kind: 'closed', message: 'no', merge: null }, to: { state: 'closed', stepsDone: 0, aliasSeq: 2, stepStartedAt: null } });
      expect((await f.store.listProposals(project, name, { limit: 10, offset: 0 })).map((p) => p.id)).toEqual([made[2]!.id, made[1]!.id, made[0]!.id]);
      expect((await f.store.listProposals(project, name, { limit: 1, offset: 1 })).map((p) => p.id)).toEqual([made[1]!.id]);
      expect((await f.store.listProposals(project, name, { state: 'closed', limit: 10, offset: 0 })).map((p) => p.id)).toEqual([made[0]!.id]);
      expect((await f.store.proposalsOfVersion(project, name, 11)).map((p) => p.id)).toEqual([made[1]!.id]);
      expect(await f.store.proposalsOfVersion(project, name, 99)).toEqual([]);
    });

    it('keeps a policy per protected alias with its revision; removes it; audits each change in its transaction', async () => {
      const alias = `prod-${randomBytes(3).toString('hex')}`;
      expect(await f.store.getPolicy(project, alias)).toBeNull();
      const { d, told } = draftOf<PolicyChange>((c) => ({ project, actor: 'admin', action: c.after ? 'policy.set' : 'policy.remove', target: c.alias, before: c.before?.revision ?? null, after: c.after?.revision ?? null }));
      const rules = { alias, approvals: { count: 2, roles: ['edit', 'admin'] as const }, evaluations: [{ dataset: 'golden-v3', scorer: 'helpfulness', minScore: 0.8, noRegression: true }], rollout: { minResponses: 20 }, updatedBy: 'admin [key x]' };
      const first = await f.store.setPolicy(project, alias, { ...rules, approvals: { ...rules.approvals, roles: [...rules.approvals.roles] } }, d);
      expect(first!.before).toBeNull();
      expect(first!.after).toMatchObject({ revision: 1, approvals: { count: 2, roles: ['edit', 'admin'] }, rollout: { minResponses: 20 } });
      clock.advance(1_000);
      const second = await f.store.setPolicy(project, alias, { ...rules, approvals: { count: 1, roles: ['admin'] } }, d);
      expect(second!.before).toEqual(first!.after);
      expect(second!.after!.revision).toBe(2);
      expect(await f.store.getPolicy(project, alias)).toEqual(second!.after);
      expect((await f.store.listPolicies(project)).map((p) => p.alias)).toContain(alias);
      const removed = await f.store.setPolicy(project, alias, null, d);
      expect(removed).toEqual({ alias, before: second!.after, after: null });
      expect(await f.store.getPolicy(project, alias)).toBeNull();
      expect(await f.store.setPolicy(project, alias, null, d)).toBeNull();
      expect(told.flat().map((e) => e.action)).toEqual(['policy.set', 'policy.set', 'policy.remove']);
    });

    it('stores nothing when its audit entry cannot be made, and the chain stays whole', async () => {
      const p = newProposal();
      await expect(f.store.createProposal(project, p, draftOf<Proposal>(entry('proposal.open'), true).d)).rejects.toThrow(/cannot be made/);
      expect(await f.store.getProposal(project, p.name, p.id)).toBeNull();
      const alias = `prod-${randomBytes(3).toString('hex')}`;
      await expect(f.store.setPolicy(project, alias, { alias, approvals: { count: 1, roles: ['edit'] }, evaluations: [], rollout: null, updatedBy: 'a' }, draftOf<PolicyChange>(entry('policy.set'), true).d)).rejects.toThrow(/cannot be made/);
      expect(await f.store.getPolicy(project, alias)).toBeNull();
      const report = await verifyAudit({ scan: (from, limit) => f.audit.scan(from, limit) });
      expect(report.ok, JSON.stringify(report)).toBe(true);
    });
  });
}
