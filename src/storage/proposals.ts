import type { AliasPolicy, Proposal, ProposalActor, ProposalEventKind, ProposalState, MergeRecord } from '../domain/proposal.ts';
import type { AuditDraft } from './governance.ts';
import type { StoreLifecycle } from './lifecycle.ts';

// Proposals and alias policies, beside the registry (SQLite: the registry's file; Neo4j: the same
// driver). A proposal's fixed part is written once; its events are append-only; its progress (state,
// merge steps, the alias move it expects) changes only with an event, and only when no other event
// came first (the revision). Each change commits with its audit entries.

export type NewProposal = Omit<Proposal, 'createdAt' | 'updatedAt' | 'revision' | 'events' | 'state' | 'stepsDone' | 'stepStartedAt'> & { message: string };

export interface ProposalChange {
  /** The revision the change was decided on: refused with ConflictError when the proposal moved on. */
  expectRevision: number;
  event: ProposalActor & { kind: ProposalEventKind; message: string; merge: MergeRecord | null };
  to: { state: ProposalState; stepsDone: number; aliasSeq: number; stepStartedAt: Date | null };
}

export type NewAliasPolicy = Omit<AliasPolicy, 'updatedAt' | 'revision'>;

export interface PolicyChange {
  alias: string;
  before: AliasPolicy | null;
  /** null: the policy was removed. */
  after: AliasPolicy | null;
}

export interface ProposalStore extends StoreLifecycle {
  /** Stores a new proposal with its `opened` event (seq 1), stamped now. */
  createProposal(projectId: string, p: NewProposal, audit?: AuditDraft<Proposal>): Promise<Proposal>;
  getProposal(projectId: string, name: string, id: string): Promise<Proposal | null>;
  /** Newest first. */
  listProposals(projectId: string, name: string, filter: { state?: ProposalState | undefined; limit: number; offset: number }): Promise<Proposal[]>;
  /** Proposals whose candidate is this version, oldest first. */
  proposalsOfVersion(projectId: string, name: string, version: number): Promise<Proposal[]>;
  /** Appends the event and sets the progress, atomically; ConflictError when the revision no longer holds. */
  recordEvent(projectId: string, name: string, id: string, change: ProposalChange, audit?: AuditDraft<Proposal>): Promise<Proposal>;
  getPolicy(projectId: string, alias: string): Promise<AliasPolicy | null>;
  listPolicies(projectId: string): Promise<AliasPolicy[]>;
  /** Sets (or with `policy` null, removes) an alias's policy; null when there was nothing to remove. */
  setPolicy(projectId: string, alias: string, policy: NewAliasPolicy | null, audit?: AuditDraft<PolicyChange>): Promise<PolicyChange | null>;
}
