import type { AliasPolicy, Proposal, ProposalEvent, ProposalState } from '../../domain/proposal.ts';
import { ConflictError } from '../../common/errors.ts';
import { systemClock, type Clock } from '../../common/clock.ts';
import type { AuditDraft } from '../governance.ts';
import type { NewAliasPolicy, NewProposal, PolicyChange, ProposalChange, ProposalStore } from '../proposals.ts';
import { eventFrom, fixedOf, policyFrom, policyText, toProposal, type EventBody, type ProposalRow } from '../proposal-values.ts';
import { nextInSequence } from '../values.ts';
import { appendDrafted, AUDIT_SCHEMA } from './sqlite-audit.ts';
import type { SchemaComponent, SharedDatabase } from './sqlite-db.ts';
import { SqliteStore } from './sqlite-store.ts';

// Proposals and alias policies in SQLite, in the registry's file (so that a change and its audit
// entry are one transaction). A proposal row holds its fixed part as JSON and its progress in
// columns; events are append-only (triggers refuse UPDATE and DELETE). A change reads the
// revision inside its IMMEDIATE transaction, so two changes of one proposal cannot both pass.

const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE proposals (
       project TEXT NOT NULL,
       name TEXT NOT NULL,
       id TEXT NOT NULL,
       fixed TEXT NOT NULL,
       candidate_version INTEGER NOT NULL,
       state TEXT NOT NULL,
       steps_done INTEGER NOT NULL,
       alias_seq INTEGER NOT NULL,
       step_started_at INTEGER,
       created_at INTEGER NOT NULL,
       updated_at INTEGER NOT NULL,
       revision INTEGER NOT NULL,
       PRIMARY KEY (project, name, id)
     ) WITHOUT ROWID`,
    `CREATE INDEX proposals_by_candidate ON proposals (project, name, candidate_version)`,
    `CREATE TABLE proposal_events (
       project TEXT NOT NULL,
       name TEXT NOT NULL,
       id TEXT NOT NULL,
       seq INTEGER NOT NULL,
       at INTEGER NOT NULL,
       body TEXT NOT NULL,
       PRIMARY KEY (project, name, id, seq)
     ) WITHOUT ROWID`,
    `CREATE TRIGGER proposal_events_no_update BEFORE UPDATE ON proposal_events BEGIN SELECT RAISE(ABORT, 'proposal events are append-only'); END`,
    `CREATE TRIGGER proposal_events_no_delete BEFORE DELETE ON proposal_events BEGIN SELECT RAISE(ABORT, 'proposal events are append-only'); END`,
    `CREATE TABLE alias_policies (
       project TEXT NOT NULL,
       alias TEXT NOT NULL,
       body TEXT NOT NULL,
       PRIMARY KEY (project, alias)
     ) WITHOUT ROWID`,
  ],
];

const PROPOSAL_COLUMNS = 'name, id, fixed, state, steps_done, alias_seq, step_started_at, created_at, updated_at, revision';

const PROPOSALS_SCHEMA: SchemaComponent = { name: 'proposals', migrations: MIGRATIONS };


export class SqliteProposals extends SqliteStore implements ProposalStore {
  private readonly clock: Clock;

  constructor(file: string | SharedDatabase, opts: { clock?: Clock } = {}) {
    super(file, { components: [PROPOSALS_SCHEMA, AUDIT_SCHEMA] });
    this.clock = opts.clock ?? systemClock;
  }

  async createProposal(projectId: string, p: NewProposal, audit?: AuditDraft<Proposal>): Promise<Proposal> {
    const [stored, entries] = this.run('opening a proposal', () =>
      this.transaction(() => {
        const now = this.clock.now().getTime();
        this.db
          .prepare(`INSERT INTO proposals (project, ${PROPOSAL_COLUMNS}, candidate_version) VALUES (?, ?, ?, ?, 'open', 0, ?, NULL, ?, ?, 1, ?)`)
          .run(projectId, p.name, p.id, JSON.stringify(fixedOf(p)), p.aliasSeq, now, now, p.candidateVersion);
        const body: EventBody = { ...p.author, kind: 'opened', message: p.message, from: null, to: 'open', merge: null };
        this.db.prepare('INSERT INTO proposal_events (project, name, id, seq, at, body) VALUES (?, ?, ?, 1, ?, ?)').run(projectId, p.name, p.id, now, JSON.stringify(body));
        const stored = this.read(projectId, p.name, p.id)!;
        return [stored, appendDrafted(this.db, this.clock, audit, stored)] as const;
      }),
    );
    audit?.committed(entries);
    return stored;
  }

  async getProposal(projectId: string, name: string, id: string): Promise<Proposal | null> {
    return this.run('reading a proposal', () => this.read(projectId, name, id));
  }

  async listProposals(projectId: string, name: string, filter: { state?: ProposalState | undefined; limit: number; offset: number }): Promise<Proposal[]> {
    return this.run('listing proposals', () => {
      const rows = this.db
        .prepare(`SELECT ${PROPOSAL_COLUMNS} FROM proposals WHERE project = ? AND name = ? AND (? IS NULL OR state = ?) ORDER BY created_at DESC, id LIMIT ? OFFSET ?`)
        .all(projectId, name, filter.state ?? null, filter.state ?? null, filter.limit, filter.offset) as unknown as ProposalRow[];
      return rows.map((r) => toProposal(r, this.events(projectId, name, r.id)));
    });
  }

  async proposalsOfVersion(projectId: string, name: string, version: number): Promise<Proposal[]> {
    return this.run('finding the proposals of a version', () => {
      const rows = this.db
        .prepare(`SELECT ${PROPOSAL_COLUMNS} FROM proposals WHERE project = ? AND name = ? AND candidate_version = ? ORDER BY created_at, id`)
        .all(projectId, name, version) as unknown as ProposalRow[];
      return rows.map((r) => toProposal(r, this.events(projectId, name, r.id)));
    });
  }

  async recordEvent(projectId: string, name: string, id: string, change: ProposalChange, audit?: AuditDraft<Proposal>): Promise<Proposal> {
    const [stored, entries] = this.run('recording a proposal event', () =>
      this.transaction(() => {
        const row = this.db.prepare('SELECT state, revision, updated_at FROM proposals WHERE project = ? AND name = ? AND id = ?').get(projectId, name, id) as
          | { state: ProposalState; revision: number; updated_at: number }
          | undefined;
        if (!row) throw new ConflictError(`proposal ${id} of ${name} does not exist`);
        if (row.revision !== change.expectRevision) throw new ConflictError(`proposal ${id} of ${name} changed meanwhile (now at event ${row.revision}, expected ${change.expectRevision})`);
        const at = nextInSequence(this.clock, row.updated_at);
        const seq = row.revision + 1;
        const body: EventBody = { ...change.event, from: row.state, to: change.to.state };
        this.db.prepare('INSERT INTO proposal_events (project, name, id, seq, at, body) VALUES (?, ?, ?, ?, ?, ?)').run(projectId, name, id, seq, at, JSON.stringify(body));
        this.db
          .prepare('UPDATE proposals SET state = ?, steps_done = ?, alias_seq = ?, step_started_at = ?, updated_at = ?, revision = ? WHERE project = ? AND name = ? AND id = ?')
          .run(change.to.state, change.to.stepsDone, change.to.aliasSeq, change.to.stepStartedAt?.getTime() ?? null, at, seq, projectId, name, id);
        const stored = this.read(projectId, name, id)!;
        return [stored, appendDrafted(this.db, this.clock, audit, stored)] as const;
      }),
    );
    audit?.committed(entries);
    return stored;
  }

  async getPolicy(projectId: string, alias: string): Promise<AliasPolicy | null> {
    return this.run('reading an alias policy', () => {
      const r = this.db.prepare('SELECT body FROM alias_policies WHERE project = ? AND alias = ?').get(projectId, alias) as { body: string } | undefined;
      return r ? policyFrom(r.body) : null;
    });
  }

  async listPolicies(projectId: string): Promise<AliasPolicy[]> {
    return this.run('listing alias policies', () =>
      (this.db.prepare('SELECT body FROM alias_policies WHERE project = ? ORDER BY alias').all(projectId) as Array<{ body: string }>).map((r) => policyFrom(r.body)),
    );
  }

  async setPolicy(projectId: string, alias: string, policy: NewAliasPolicy | null, audit?: AuditDraft<PolicyChange>): Promise<PolicyChange | null> {
    const [change, entries] = this.run('setting an alias policy', () =>
      this.transaction(() => {
        const r = this.db.prepare('SELECT body FROM alias_policies WHERE project = ? AND alias = ?').get(projectId, alias) as { body: string } | undefined;
        const before = r ? policyFrom(r.body) : null;
        if (policy === null) {
          if (!before) return [null, []] as const;
          this.db.prepare('DELETE FROM alias_policies WHERE project = ? AND alias = ?').run(projectId, alias);
          const change: PolicyChange = { alias, before, after: null };
          return [change, appendDrafted(this.db, this.clock, audit, change)] as const;
        }
        const after: AliasPolicy = { ...policy, alias, updatedAt: new Date(nextInSequence(this.clock, before?.updatedAt.getTime())), revision: (before?.revision ?? 0) + 1 };
        this.db.prepare('INSERT INTO alias_policies (project, alias, body) VALUES (?, ?, ?) ON CONFLICT (project, alias) DO UPDATE SET body = excluded.body').run(projectId, alias, policyText(after));
        const change: PolicyChange = { alias, before, after };
        return [change, appendDrafted(this.db, this.clock, audit, change)] as const;
      }),
    );
    if (change) audit?.committed(entries);
    return change;
  }

  private read(projectId: string, name: string, id: string): Proposal | null {
    const r = this.db.prepare(`SELECT ${PROPOSAL_COLUMNS} FROM proposals WHERE project = ? AND name = ? AND id = ?`).get(projectId, name, id) as ProposalRow | undefined;
    return r ? toProposal(r, this.events(projectId, name, id)) : null;
  }

  private events(projectId: string, name: string, id: string): ProposalEvent[] {
    return (this.db.prepare('SELECT seq, at, body FROM proposal_events WHERE project = ? AND name = ? AND id = ? ORDER BY seq').all(projectId, name, id) as Array<{ seq: number; at: number; body: string }>).map((e) =>
      eventFrom(e.seq, e.at, e.body),
    );
  }
}
