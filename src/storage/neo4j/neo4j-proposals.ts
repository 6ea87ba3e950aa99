import type { AliasPolicy, Proposal, ProposalState } from '../../domain/proposal.ts';
import { ConflictError } from '../../common/errors.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import type { AuditDraft } from '../governance.ts';
import type { NewAliasPolicy, NewProposal, PolicyChange, ProposalChange, ProposalStore } from '../proposals.ts';
import { eventFrom, fixedOf, policyFrom, policyText, toProposal, type EventBody, type ProposalRow } from '../proposal-values.ts';
import { nextInSequence } from '../values.ts';
import { appendDrafted, DEFAULT_CHAIN } from './neo4j-audit.ts';
import type { Neo4jSessions } from './neo4j-sessions.ts';
import { Neo4jStore, type Neo4jSchema, type Neo4jStoreOptions } from './neo4j-store.ts';
import { millisOrNull, toInt, toNumber } from './neo4j-values.ts';

// Proposals and alias policies on Neo4j, apart from the lineage graph's nodes:
//   (:ProposalRecord {project, name, id})             fixed part as JSON, progress as properties
//   (:ProposalEventRecord {project, name, id, seq})   one per event, never changed
//   (:AliasPolicyRecord {project, alias})             the policy as JSON
// A change bumps the proposal's revision first: the SET takes the node's write lock, so changes
// of one proposal queue there, and the revision read back is the one this change follows.

const SCHEMA: Neo4jSchema = {
  what: 'creating proposal constraints',
  statements: [
    'CREATE CONSTRAINT promptline_proposal_identity IF NOT EXISTS FOR (p:ProposalRecord) REQUIRE (p.project, p.name, p.id) IS UNIQUE',
    'CREATE CONSTRAINT promptline_proposal_event_identity IF NOT EXISTS FOR (e:ProposalEventRecord) REQUIRE (e.project, e.name, e.id, e.seq) IS UNIQUE',
    'CREATE CONSTRAINT promptline_alias_policy_identity IF NOT EXISTS FOR (a:AliasPolicyRecord) REQUIRE (a.project, a.alias) IS UNIQUE',
    'CREATE INDEX promptline_proposal_by_candidate IF NOT EXISTS FOR (p:ProposalRecord) ON (p.project, p.name, p.candidateVersion)',
    'CREATE INDEX promptline_proposal_by_prompt IF NOT EXISTS FOR (p:ProposalRecord) ON (p.project, p.name)',
  ],
  maxRetryMs: 10_000,
};

const ROW = `{name: p.name, id: p.id, fixed: p.fixed, state: p.state, steps_done: p.stepsDone, alias_seq: p.aliasSeq, step_started_at: p.stepStartedAt,
              created_at: p.createdAt, updated_at: p.updatedAt, revision: p.revision,
              events: COLLECT { MATCH (e:ProposalEventRecord {project: p.project, name: p.name, id: p.id}) RETURN [e.seq, e.at, e.body] AS ev ORDER BY e.seq }}`;

type RowValue = Record<keyof ProposalRow, unknown> & { events: Array<[unknown, unknown, string]> };

function fromRow(r: RowValue): Proposal {
  const row: ProposalRow = {
    name: r.name as string,
    id: r.id as string,
    fixed: r.fixed as string,
    state: r.state as string,
    steps_done: toNumber(r.steps_done),
    alias_seq: toNumber(r.alias_seq),
    step_started_at: r.step_started_at === null || r.step_started_at === undefined ? null : toNumber(r.step_started_at),
    created_at: toNumber(r.created_at),
    updated_at: toNumber(r.updated_at),
    revision: toNumber(r.revision),
  };
  return toProposal(row, r.events.map(([seq, at, body]) => eventFrom(toNumber(seq), toNumber(at), body)));
}

export class Neo4jProposals extends Neo4jStore implements ProposalStore {
  private readonly clock: Clock;
  private readonly chain: string;

  constructor(sessions: Neo4jSessions, opts: Neo4jStoreOptions & { clock?: Clock; auditChain?: string } = {}) {
    super(sessions, SCHEMA, opts);
    this.clock = opts.clock ?? systemClock;
    this.chain = opts.auditChain ?? DEFAULT_CHAIN;
  }

  async createProposal(projectId: string, p: NewProposal, audit?: AuditDraft<Proposal>): Promise<Proposal> {
    const [stored, entries] = await this.db.write('opening a proposal', async (tx) => {
      const now = this.clock.now().getTime();
      const body: EventBody = { ...p.author, kind: 'opened', message: p.message, from: null, to: 'open', merge: null };
      const r = await tx.run(
        `CREATE (p:ProposalRecord {project: $project, name: $name, id: $id, fixed: $fixed, candidateVersion: $candidate, state: 'open', stepsDone: 0,
                                   aliasSeq: $aliasSeq, stepStartedAt: null, createdAt: $now, updatedAt: $now, revision: 1})
         CREATE (:ProposalEventRecord {project: $project, name: $name, id: $id, seq: 1, at: $now, body: $body})
         WITH p RETURN ${ROW} AS p`,
        { project: projectId, name: p.name, id: p.id, fixed: JSON.stringify(fixedOf(p)), candidate: toInt(p.candidateVersion), aliasSeq: toInt(p.aliasSeq), now: toInt(now), body: JSON.stringify(body) },
      );
      const stored = fromRow(r.records[0]!.get('p') as RowValue);
      return [stored, await appendDrafted(tx, this.chain, this.clock, audit, stored)] as const;
    });
    audit?.committed(entries);
    return stored;
  }

  async getProposal(projectId: string, name: string, id: string): Promise<Proposal | null> {
    return this.db.read('reading a proposal', async (tx) => {
      const r = await tx.run(`MATCH (p:ProposalRecord {project: $project, name: $name, id: $id}) RETURN ${ROW} AS p`, { project: projectId, name, id });
      const v = r.records[0]?.get('p') as RowValue | undefined;
      return v ? fromRow(v) : null;
    });
  }

  async listProposals(projectId: string, name: string, filter: { state?: ProposalState | undefined; limit: number; offset: number }): Promise<Proposal[]> {
    return this.db.read('listing proposals', async (tx) => {
      const r = await tx.run(
        `MATCH (p:ProposalRecord {project: $project, name: $name}) WHERE $state IS NULL OR p.state = $state
         WITH p ORDER BY p.createdAt DESC, p.id SKIP $offset LIMIT $limit RETURN ${ROW} AS p`,
        { project: projectId, name, state: filter.state ?? null, offset: toInt(filter.offset), limit: toInt(filter.limit) },
      );
      return r.records.map((rec) => fromRow(rec.get('p') as RowValue));
    });
  }

  async proposalsOfVersion(projectId: string, name: string, version: number): Promise<Proposal[]> {
    return this.db.read('finding the proposals of a version', async (tx) => {
      const r = await tx.run(`MATCH (p:ProposalRecord {project: $project, name: $name, candidateVersion: $version}) WITH p ORDER BY p.createdAt, p.id RETURN ${ROW} AS p`, {
        project: projectId,
        name,
        version: toInt(version),
      });
      return r.records.map((rec) => fromRow(rec.get('p') as RowValue));
    });
  }

  async recordEvent(projectId: string, name: string, id: string, change: ProposalChange, audit?: AuditDraft<Proposal>): Promise<Proposal> {
    const [stored, entries] = await this.db.write('recording a proposal event', async (tx) => {
      const head = await tx.run(
        `MATCH (p:ProposalRecord {project: $project, name: $name, id: $id})
         SET p.revision = p.revision + 1
         RETURN p.revision - 1 AS revision, p.state AS state, p.updatedAt AS updatedAt`,
        { project: projectId, name, id },
      );
      const rec = head.records[0];
      if (!rec) throw new ConflictError(`proposal ${id} of ${name} does not exist`);
      const revision = toNumber(rec.get('revision'));
      // Thrown inside the transaction: the revision's bump is rolled back with it.
      if (revision !== change.expectRevision) throw new ConflictError(`proposal ${id} of ${name} changed meanwhile (now at event ${revision}, expected ${change.expectRevision})`);
      const at = nextInSequence(this.clock, toNumber(rec.get('updatedAt')));
      const body: EventBody = { ...change.event, from: rec.get('state') as ProposalState, to: change.to.state };
      const r = await tx.run(
        `MATCH (p:ProposalRecord {project: $project, name: $name, id: $id})
         CREATE (:ProposalEventRecord {project: $project, name: $name, id: $id, seq: $seq, at: $at, body: $body})
         SET p.state = $state, p.stepsDone = $stepsDone, p.aliasSeq = $aliasSeq, p.stepStartedAt = $stepStartedAt, p.updatedAt = $at
         WITH p RETURN ${ROW} AS p`,
        {
          project: projectId,
          name,
          id,
          seq: toInt(revision + 1),
          at: toInt(at),
          body: JSON.stringify(body),
          state: change.to.state,
          stepsDone: toInt(change.to.stepsDone),
          aliasSeq: toInt(change.to.aliasSeq),
          stepStartedAt: millisOrNull(change.to.stepStartedAt),
        },
      );
      const stored = fromRow(r.records[0]!.get('p') as RowValue);
      return [stored, await appendDrafted(tx, this.chain, this.clock, audit, stored)] as const;
    });
    audit?.committed(entries);
    return stored;
  }

  async getPolicy(projectId: string, alias: string): Promise<AliasPolicy | null> {
    return this.db.read('reading an alias policy', async (tx) => {
      const r = await tx.run('MATCH (a:AliasPolicyRecord {project: $project, alias: $alias}) RETURN a.body AS body', { project: projectId, alias });
      const body = r.records[0]?.get('body') as string | undefined;
      return body ? policyFrom(body) : null;
    });
  }

  async listPolicies(projectId: string): Promise<AliasPolicy[]> {
    return this.db.read('listing alias policies', async (tx) => {
      const r = await tx.run('MATCH (a:AliasPolicyRecord {project: $project}) RETURN a.body AS body ORDER BY a.alias', { project: projectId });
      return r.records.map((rec) => policyFrom(rec.get('body') as string));
    });
  }

  async setPolicy(projectId: string, alias: string, policy: NewAliasPolicy | null, audit?: AuditDraft<PolicyChange>): Promise<PolicyChange | null> {
    const [change, entries] = await this.db.write('setting an alias policy', async (tx) => {
      // The MERGE and SET lock the policy's node: changes of one alias's policy queue here.
      const head = await tx.run(
        `MERGE (a:AliasPolicyRecord {project: $project, alias: $alias}) ON CREATE SET a.body = null
         SET a.locked = true RETURN a.body AS body`,
        { project: projectId, alias },
      );
      const text = head.records[0]!.get('body') as string | null;
      const before = text ? policyFrom(text) : null;
      if (policy === null) {
        await tx.run('MATCH (a:AliasPolicyRecord {project: $project, alias: $alias}) DELETE a', { project: projectId, alias });
        if (!before) return [null, []] as const;
        const change: PolicyChange = { alias, before, after: null };
        return [change, await appendDrafted(tx, this.chain, this.clock, audit, change)] as const;
      }
      const after: AliasPolicy = { ...policy, alias, updatedAt: new Date(nextInSequence(this.clock, before?.updatedAt.getTime())), revision: (before?.revision ?? 0) + 1 };
      await tx.run('MATCH (a:AliasPolicyRecord {project: $project, alias: $alias}) SET a.body = $body REMOVE a.locked', { project: projectId, alias, body: policyText(after) });
      const change: PolicyChange = { alias, before, after };
      return [change, await appendDrafted(tx, this.chain, this.clock, audit, change)] as const;
    });
    if (change) audit?.committed(entries);
    return change;
  }
}
