import type { SpanAnalytics, VersionStats } from '../storage/span-analytics.ts';
import type { RegistryService } from '../registry/registry-service.ts';
import { compareMeans, compareProportions, meanInterval, proportionInterval } from './stats.ts';

// Two versions of a prompt side by side: responses, latency, tokens, error rate and evaluation
// scores, each with a 95 % interval, and per metric which version is better and how sure that is.

/** Below this confidence a difference is reported, but no version is called better. */
export const DECISION_CONFIDENCE = 0.95;

function versionView(s: VersionStats) {
  return {
    version: Number(s.version),
    responses: s.responses,
    errorRate: proportionInterval(s.errors, s.responses),
    latencyMs: { p50: s.latencyMs.p50, p95: s.latencyMs.p95, mean: s.latencyMs.mean },
    tokens: s.tokens,
    scores: s.scores.map((x) => ({ scorer: x.scorer, ...meanInterval(x.values) })),
    firstSeen: s.firstSeen,
    lastSeen: s.lastSeen,
  };
}

type Verdict = { metric: string; better: 'a' | 'b' | null; difference: number; confidence: number; method: string };

function verdict(metric: string, method: string, higherIsBetter: boolean, r: { difference: number; confidence: number } | null): Verdict | null {
  if (!r) return null;
  const bIsHigher = r.difference > 0;
  const better = r.confidence >= DECISION_CONFIDENCE && r.difference !== 0 ? (bIsHigher === higherIsBetter ? 'b' : 'a') : null;
  return { metric, better, difference: r.difference, confidence: r.confidence, method };
}

export async function compareVersions(
  deps: { analytics: SpanAnalytics; registry: RegistryService },
  projectId: string,
  name: string,
  a: number,
  b: number,
  window: { from: Date; to: Date },
) {
  await deps.registry.getVersion(projectId, name, a);
  await deps.registry.getVersion(projectId, name, b);
  const w = { ...window, bucketSeconds: 3600 };
  const [sa, sb] = await Promise.all([deps.analytics.versionStats(projectId, name, String(a), w), deps.analytics.versionStats(projectId, name, String(b), w)]);
  const verdicts: Verdict[] = [];
  const errors = verdict('errorRate', 'two-proportion z-test', false, compareProportions(sa.errors, sa.responses, sb.errors, sb.responses));
  if (errors) verdicts.push(errors);
  for (const scorer of new Set([...sa.scores, ...sb.scores].map((s) => s.scorer))) {
    const xa = sa.scores.find((s) => s.scorer === scorer)?.values ?? [];
    const xb = sb.scores.find((s) => s.scorer === scorer)?.values ?? [];
    const v = verdict(`score:${scorer}`, "Welch's test (normal approximation)", true, compareMeans(xa, xb));
    if (v) verdicts.push(v);
  }
  // The overall call rests on evaluation scores where there are any, else on the error rate.
  const decisive = verdicts.filter((v) => v.better !== null);
  const byScore = decisive.filter((v) => v.metric.startsWith('score:'));
  const basis = byScore.length > 0 ? byScore : decisive;
  const votes = new Set(basis.map((v) => v.better));
  const overall =
    votes.size === 1 && basis.length > 0
      ? { better: basis[0]!.better, confidence: Math.min(...basis.map((v) => v.confidence)), basis: basis.map((v) => v.metric) }
      : { better: null, confidence: null, basis: basis.map((v) => v.metric) };
  return { name, a: versionView(sa), b: versionView(sb), verdicts, overall, decisionConfidence: DECISION_CONFIDENCE };
}
