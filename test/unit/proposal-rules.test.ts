import { describe, expect, it } from 'vitest';
import { standingApprovals, stateAfterReview, stepTarget, type ProposalEvent, type ProposalEventKind } from '../../src/domain/proposal.ts';

// The pure rules of a proposal: the state after a review, the approvals that stand, and where each
// merge step of a staged split points the alias.

let seq = 0;
const event = (kind: ProposalEventKind, keyName: string): ProposalEvent => ({ seq: ++seq, at: new Date(seq * 1000), kind, keyName, keyId: keyName, actor: `${keyName} [key ${keyName}]`, role: 'edit', message: '', from: null, to: 'open', merge: null });

describe('proposal rules', () => {
  it('moves to changes_requested while any reviewer’s latest verdict asks for changes, and to approved otherwise', () => {
    const opened = [event('opened', 'author')];
    expect(stateAfterReview({ state: 'open', events: opened }, 'comment', 'ann')).toBe('open');
    expect(stateAfterReview({ state: 'open', events: opened }, 'approve', 'ann')).toBe('approved');
    const asked = [...opened, event('request_changes', 'bob')];
    expect(stateAfterReview({ state: 'changes_requested', events: asked }, 'approve', 'ann')).toBe('changes_requested');
    // Bob's own approval answers his change request.
    expect(stateAfterReview({ state: 'changes_requested', events: asked }, 'approve', 'bob')).toBe('approved');
    expect(stateAfterReview({ state: 'approved', events: [...opened, event('approve', 'ann')] }, 'request_changes', 'bob')).toBe('changes_requested');
  });

  it('counts each reviewer once, by their latest verdict', () => {
    const events = [event('opened', 'author'), event('approve', 'ann'), event('approve', 'ann'), event('approve', 'bob'), event('request_changes', 'bob'), event('comment', 'cy')];
    expect(standingApprovals(events).map((e) => e.keyName)).toEqual(['ann']);
  });

  it('gives the candidate each step’s share of a split and the rest to the version the alias was on, then the whole alias', () => {
    const p = { request: { alias: 'production', steps: [10, 50, 100] }, candidateVersion: 7, fromTarget: { version: 3, split: null } };
    expect(stepTarget(p, 1)).toEqual({ version: null, split: { id: '', arms: [{ version: 3, weight: 90 }, { version: 7, weight: 10 }] } });
    expect(stepTarget(p, 2).split!.arms).toEqual([{ version: 3, weight: 50 }, { version: 7, weight: 50 }]);
    expect(stepTarget(p, 3)).toEqual({ version: 7, split: null });
    expect(stepTarget({ ...p, request: { alias: 'production', steps: null } }, 1)).toEqual({ version: 7, split: null });
  });
});
