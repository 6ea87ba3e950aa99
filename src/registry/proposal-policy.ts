import type { Role } from '../domain/governance.ts';
import { standingApprovals, type AliasPolicy, type EvaluationGate, type GateResult, type Proposal } from '../domain/proposal.ts';
import { DECISION_CONFIDENCE } from '../impact/compare.ts';
import { compareMeans, mean } from '../impact/stats.ts';
import type { SpanAnalytics } from '../storage/span-analytics.ts';

// Whether an alias's policy holds for a proposal's next merge step: the approvals standing, the
// evaluations of the candidate, and (between the steps of a staged split) the responses the
// candidate has served since the step began. Each check answers in words that name what is missing.

const ALL_TIME = (now: Date) => ({ from: new Date(0), to: new Date(now.getTime() + 60_000), bucketSeconds: 86_400 });
const fixed = (x: number) => x.toFixed(2);
const roleList = (roles: readonly Role[]) => (roles.length <= 1 ? roles.join('') : `${roles.slice(0, -1).join(', ')} or ${roles.at(-1)}`);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export interface PolicyInput {
  proposal: Proposal;
  policy: AliasPolicy | null;
  /** The merge step about to be made, 1-based. */
  step: number;
  /** The version the rest of the traffic is on (what "no regression" compares with); null when none. */
  currentVersion: number | null;
  now: Date;
}

/** Every check of the policy, passed or not (a proposal with no policy needs only its approval). */
export async function checkPolicy(analytics: SpanAnalytics, projectId: string, input: PolicyInput): Promise<GateResult[]> {
  const { proposal: p, policy } = input;
  const out: GateResult[] = [];
  const approvals = standingApprovals(p.events);
  if (p.state === 'changes_requested') out.push({ gate: 'reviews', ok: false, detail: 'changes were requested and not yet answered by an approval of the same reviewer' });
  if (!policy) {
    out.push({ gate: 'approvals', ok: approvals.length >= 1, detail: `needs 1 approval, has ${approvals.length}` });
    return out;
  }
  const counted = approvals.filter((a) => policy.approvals.roles.includes(a.role));
  const need = policy.approvals.count;
  out.push({ gate: 'approvals', ok: counted.length >= need, detail: `needs ${plural(need, 'approval')} from ${roleList(policy.approvals.roles)}, has ${counted.length}` });
  for (const gate of policy.evaluations) out.push(await checkEvaluation(analytics, projectId, p.name, p.candidateVersion, input.currentVersion, gate, input.now));
  if (policy.rollout) {
    const min = policy.rollout.minResponses;
    if (!p.request.steps) out.push({ gate: 'rollout', ok: false, detail: `needs a staged split: the policy asks for ${plural(min, 'response')} of the candidate on a split before the full move` });
    else if (input.step > 1 && p.stepStartedAt) {
      const stats = await analytics.versionStats(projectId, p.name, String(p.candidateVersion), { ...ALL_TIME(input.now), from: p.stepStartedAt });
      const weight = p.request.steps[input.step - 2]!;
      out.push({
        gate: 'rollout',
        ok: stats.responses >= min,
        detail: `the split at ${weight} % has ${plural(stats.responses, 'response')} of v${p.candidateVersion} since ${p.stepStartedAt.toISOString()}, needs ${min} before the next step`,
      });
    }
  }
  return out;
}

/** A required evaluation: the candidate's latest run of the scorer on the dataset. */
export async function checkEvaluation(analytics: SpanAnalytics, projectId: string, name: string, candidate: number, current: number | null, gate: EvaluationGate, now: Date): Promise<GateResult> {
  const label = `evaluation ${gate.scorer} on dataset ${gate.dataset}`;
  const runs = (await analytics.evaluationsFor(projectId, { kind: 'promptVersion', name, version: String(candidate) }, ALL_TIME(now))).filter(
    (r) => r.scorer === gate.scorer && r.datasets.includes(gate.dataset) && r.meanScore !== null,
  );
  const latest = runs[0];
  if (!latest) return { gate: label, ok: false, detail: `${label}: no results for v${candidate}` };
  const score = latest.meanScore!;
  if (gate.minScore !== null && score < gate.minScore) return { gate: label, ok: false, detail: `${label}: mean ${fixed(score)} < ${fixed(gate.minScore)} (run ${latest.runId})` };
  const parts = [`mean ${fixed(score)}${gate.minScore !== null ? ` ≥ ${fixed(gate.minScore)}` : ''} (run ${latest.runId}, ${plural(latest.results, 'result')})`];
  if (gate.noRegression && current !== null && current !== candidate) {
    // Each version's scores by this scorer on the gate's dataset, and on no other: a version's
    // results on an easier or harder dataset say nothing of this one.
    const scoresOf = (version: number) => analytics.evaluationScores(projectId, name, String(version), gate.scorer, gate.dataset, ALL_TIME(now));
    const [xa, xb] = await Promise.all([scoresOf(current), scoresOf(candidate)]);
    const r = compareMeans(xa, xb);
    if (!r) return { gate: label, ok: false, detail: `${label}: too few results to compare v${candidate} (${xb.length}) with v${current} (${xa.length}): at least 2 each` };
    const detail = `mean ${fixed(mean(xb)!)} vs ${fixed(mean(xa)!)} of v${current}, confidence ${fixed(r.confidence)}`;
    if (r.difference < 0 && r.confidence >= DECISION_CONFIDENCE) return { gate: label, ok: false, detail: `${label}: a significant regression against v${current} (${detail})` };
    parts.push(`no significant regression against v${current} (${detail})`);
  }
  return { gate: label, ok: true, detail: `${label}: ${parts.join('; ')}` };
}
