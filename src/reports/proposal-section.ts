import { latestVerdicts, type AliasPolicy, type Proposal } from '../domain/proposal.ts';

// The review behind a response's prompt version: the proposals that had merged its candidate (a step
// of it, at least) when the response was produced, as they stood then: their transitions and
// reviews, the approvals, the evaluation gates and their results, the policy in force at each merge
// step, and any override. A proposal merged after the response is not part of its record.

/** The shapes of compliance.ts's sections and audit rows (named here so that neither file imports the other). */
interface ReportSection {
  heading: string;
  facts: Array<[string, string]>;
  tables?: Array<{ caption: string; columns: string[]; rows: string[][] }>;
}
interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  detail: string;
}

export interface ProposalReader {
  proposalsOfVersion(projectId: string, name: string, version: number): Promise<Proposal[]>;
}

const target = (t: { version: number | null; split: { arms: Array<{ version: number; weight: number }> } | null }) =>
  t.split ? t.split.arms.map((a) => `v${a.version} ${a.weight} %`).join(' / ') : `v${t.version}`;

function policyText(p: AliasPolicy | null): string {
  if (!p) return 'none (the alias had no policy)';
  const gates = p.evaluations.map((g) => `${g.scorer} on ${g.dataset}${g.minScore !== null ? ` ≥ ${g.minScore}` : ''}${g.noRegression ? ', no significant regression' : ''}`);
  return [`${p.approvals.count} approval(s) from ${p.approvals.roles.join(', ')}`, ...gates, p.rollout ? `staged split, ${p.rollout.minResponses} responses a step` : null, `policy revision ${p.revision} by ${p.updatedBy}`].filter((x) => x !== null).join('; ');
}

export async function proposalSections(reader: ProposalReader | undefined, projectId: string, name: string, version: number, at: Date): Promise<{ sections: ReportSection[]; audit: AuditEntry[] }> {
  if (!reader) return { sections: [], audit: [] };
  const sections: ReportSection[] = [];
  const audit: AuditEntry[] = [];
  for (const p of await reader.proposalsOfVersion(projectId, name, version)) {
    const then = p.events.filter((e) => e.at <= at);
    const merges = then.filter((e) => e.merge !== null);
    if (merges.length === 0) continue;
    const verdicts = latestVerdicts(then);
    const approvals = then.filter((e) => e.kind === 'approve' && verdicts.get(e.keyName) === 'approve');
    const overrides = merges.filter((e) => e.merge!.override !== null);
    sections.push({
      heading: `Proposal ${p.id}: ${p.title}`,
      facts: [
        ['Proposal', p.id],
        ['Title', p.title],
        ['Description', p.description || '—'],
        ['Author', p.author.actor],
        ['Opened', p.createdAt.toISOString()],
        ['State at the time of the response', then.at(-1)!.to],
        ['Alias', p.request.alias],
        ['Requested move', p.request.steps ? `staged split ${p.request.steps.map((s) => `${s} %`).join(' → ')}` : `to v${p.candidateVersion}`],
        ['Candidate', `v${p.candidateVersion}`],
        ['Merge steps before the response', `${merges.length} of ${p.request.steps?.length ?? 1}`],
        ['Override', overrides.length > 0 ? overrides.map((e) => `step ${e.merge!.step} by ${e.actor}: ${e.merge!.override}`).join('; ') : 'none'],
      ],
      tables: [
        { caption: 'Transitions and reviews', columns: ['Event', 'Time', 'Actor', 'Role', 'Kind', 'State', 'Message'], rows: then.map((e) => [String(e.seq), e.at.toISOString(), e.actor, e.role, e.kind, `${e.from ?? '—'} → ${e.to}`, e.message || '—']) },
        { caption: 'Approvals standing', columns: ['Reviewer', 'Role', 'Time'], rows: approvals.map((e) => [e.actor, e.role, e.at.toISOString()]) },
        {
          caption: 'Policy checks at each merge step',
          columns: ['Step', 'Move', 'Target', 'Check', 'Result', 'Detail'],
          rows: merges.flatMap((e) => e.merge!.checks.map((c) => [`${e.merge!.step} of ${e.merge!.steps}`, String(e.merge!.moveSeq), target(e.merge!.target), c.gate, c.ok ? 'passed' : 'failed', c.detail])),
        },
        { caption: 'Policy in force at each merge step', columns: ['Step', 'Time', 'Policy'], rows: merges.map((e) => [`${e.merge!.step} of ${e.merge!.steps}`, e.at.toISOString(), policyText(e.merge!.policy)]) },
      ],
    });
    for (const e of then) audit.push({ at: e.at.toISOString(), actor: e.actor, action: `proposal ${e.kind}`, detail: `${p.id} (${name} v${p.candidateVersion})${e.merge?.override ? `: override: ${e.merge.override}` : e.message ? `: ${e.message}` : ''}` });
  }
  return { sections, audit };
}
