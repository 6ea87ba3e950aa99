import { BadRequestError, NotFoundError } from '../common/errors.ts';
import { logBinEdge, RESPONSE_SIGNALS, scoreBinEdge, type SignalBin, type SignalTarget, type SpanAnalytics } from '../storage/span-analytics.ts';
import { chiSquareTest, ksTest, psi, quantile, regroup, type Counts } from './drift-stats.ts';
import type { SignalSummary } from '../domain/monitors.ts';

// Drift: has what a prompt version (or an alias) receives and produces moved away from what it
// was judged on? Each signal of the current window is compared with a baseline window: the
// version's first days in production, a fixed window, or the window in which its evaluations ran.
// Continuous signals (latency, token counts, evaluation scores) by the Kolmogorov–Smirnov test and
// the shift of their median and 90th percentile; categorical ones (errors, finish reasons, tool
// calls, registration, evaluation labels) by the chi-square test and the change of each category's
// share; both by the population stability index. A signal drifted when the test is sure
// (p < pValue) and the change is large enough to matter (PSI >= psi, or for a categorical signal a
// category whose share moved by half again and at least a point): with many responses a test alone
// finds every trifle.

export type Baseline = { kind: 'first_days'; days: number } | { kind: 'window'; from: Date; to: Date } | { kind: 'evaluation' };

export interface DriftQuery {
  target: SignalTarget;
  baseline: Baseline;
  from: Date;
  to: Date;
  /** Drifted when p < pValue and PSI >= psi. */
  thresholds?: { pValue?: number | undefined; psi?: number | undefined } | undefined;
}

export const DEFAULT_THRESHOLDS = { pValue: 0.001, psi: 0.1 };

const CONTINUOUS = new Set(['latency_ms', 'input_tokens', 'output_tokens']);

export interface SignalDrift {
  signal: string;
  kind: 'continuous' | 'categorical';
  test: 'ks' | 'chi_square';
  statistic: number;
  pValue: number;
  psi: number;
  drifted: boolean;
  baseline: SignalSummary;
  current: SignalSummary;
}


export interface DriftAnswer {
  target: { prompt: string; version: string | null; alias: string | null };
  baseline: { kind: Baseline['kind']; from: string; to: string; responses: number };
  current: { from: string; to: string; responses: number };
  thresholds: { pValue: number; psi: number };
  signals: SignalDrift[];
  /** The signals that drifted, most drifted (by PSI) first. */
  drifted: string[];
}

const DAY_MS = 86_400_000;
const round = (x: number, digits = 4) => Number(x.toPrecision(digits));

function bySignal(bins: readonly SignalBin[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const b of bins) {
    let m = out.get(b.signal);
    if (!m) out.set(b.signal, (m = new Map<string, number>()));
    m.set(b.bin, (m.get(b.bin) ?? 0) + b.count);
  }
  return out;
}

const totalOf = (c: Counts) => [...c.values()].reduce((a, b) => a + b, 0);

function summarize(kind: 'continuous' | 'categorical', c: Counts, edge: (b: number) => number): SignalSummary {
  const n = totalOf(c);
  if (kind === 'continuous') {
    const q = (p: number) => {
      const v = quantile(c, p, edge);
      return v === null ? null : round(v);
    };
    return { n, p50: q(0.5), p90: q(0.9) };
  }
  const shares = Object.create(null) as Record<string, number>;
  for (const [k, v] of c) shares[k] = n === 0 ? 0 : round(v / n);
  return { n, shares };
}

/** Whether a category's share changed by at least 50 % of itself and 1 point (see compareSignals). */
function categoryMoved(baseline: Counts, current: Counts): boolean {
  const nb = totalOf(baseline);
  const nc = totalOf(current);
  for (const k of new Set([...baseline.keys(), ...current.keys()])) {
    const pb = (baseline.get(k) ?? 0) / nb;
    const pc = (current.get(k) ?? 0) / nc;
    if (Math.abs(pc - pb) >= 0.01 && Math.max(pb, pc) >= 1.5 * Math.min(pb, pc)) return true;
  }
  return false;
}

/** Compares each signal of the current window with the baseline's (see the top). */
export function compareSignals(baseline: readonly SignalBin[], current: readonly SignalBin[], thresholds: { pValue: number; psi: number }): SignalDrift[] {
  const b = bySignal(baseline);
  const c = bySignal(current);
  const names = [...new Set([...RESPONSE_SIGNALS.filter((s) => b.has(s) || c.has(s)), ...[...b.keys(), ...c.keys()].sort()])];
  const out: SignalDrift[] = [];
  for (const signal of names) {
    const bc: Counts = b.get(signal) ?? new Map();
    const cc: Counts = c.get(signal) ?? new Map();
    const scores = signal.startsWith('score:');
    const kind = CONTINUOUS.has(signal) || scores ? 'continuous' : 'categorical';
    const edge = scores ? scoreBinEdge : logBinEdge;
    let statistic: number;
    let pValue: number;
    let index: number;
    if (kind === 'continuous') {
      const ks = ksTest(bc, cc);
      statistic = ks.statistic;
      pValue = ks.pValue;
      const g = regroup(bc, cc);
      index = psi(g.baseline, g.current);
    } else {
      const x2 = chiSquareTest(bc, cc);
      statistic = x2.statistic;
      pValue = x2.pValue;
      index = psi(bc, cc);
    }
    const enough = totalOf(bc) > 0 && totalOf(cc) > 0;
    // A rare outcome can triple (errors from 2 % to 6 %) with a PSI below any usual threshold: a
    // category whose share moved by half again, and by a point at least, is a drift too.
    const shareMoved = kind === 'categorical' && enough && categoryMoved(bc, cc);
    out.push({
      signal,
      kind,
      test: kind === 'continuous' ? 'ks' : 'chi_square',
      statistic: round(statistic),
      pValue: pValue < 1e-300 ? 0 : round(pValue),
      psi: round(index),
      drifted: enough && pValue < thresholds.pValue && (index >= thresholds.psi || shareMoved),
      baseline: summarize(kind, bc, edge),
      current: summarize(kind, cc, edge),
    });
  }
  return out;
}

export async function drift(analytics: SpanAnalytics, projectId: string, q: DriftQuery): Promise<DriftAnswer> {
  if (!(q.from < q.to)) throw new BadRequestError('from must be before to');
  const thresholds = { pValue: q.thresholds?.pValue ?? DEFAULT_THRESHOLDS.pValue, psi: q.thresholds?.psi ?? DEFAULT_THRESHOLDS.psi };
  const what = q.target.version !== undefined ? `${q.target.prompt} v${q.target.version}` : `${q.target.prompt}@${q.target.alias}`;
  let baseline: { from: Date; to: Date };
  if (q.baseline.kind === 'window') {
    if (!(q.baseline.from < q.baseline.to)) throw new BadRequestError('baseline_from must be before baseline_to');
    baseline = { from: q.baseline.from, to: q.baseline.to };
  } else {
    const times = await analytics.targetTimes(projectId, q.target);
    if (q.baseline.kind === 'first_days') {
      if (!times.firstResponse) throw new NotFoundError(`no response of ${what} has been received`);
      baseline = { from: times.firstResponse, to: new Date(times.firstResponse.getTime() + q.baseline.days * DAY_MS) };
    } else {
      if (!times.evaluations) throw new NotFoundError(`${what} has no evaluation results to take the baseline from`);
      // The evaluation's own window, widened to whole seconds so its first and last results are in it.
      baseline = { from: new Date(Math.floor(times.evaluations.from.getTime() / 1000) * 1000), to: new Date(Math.ceil(times.evaluations.to.getTime() / 1000) * 1000 + 1000) };
    }
  }
  const window = (w: { from: Date; to: Date }) => Promise.all([analytics.signalHistograms(projectId, q.target, w), analytics.evaluationHistograms(projectId, q.target, w)]).then(([a, b]) => [...a, ...b]);
  // Both windows at once: on a server (or a free core) they read side by side.
  const [bb, cb] = await Promise.all([window(baseline), window({ from: q.from, to: q.to })]);
  const signals = compareSignals(bb, cb, thresholds);
  const responses = (bins: readonly SignalBin[]) => bins.filter((x) => x.signal === 'error_rate').reduce((a, x) => a + x.count, 0);
  return {
    target: { prompt: q.target.prompt, version: q.target.version ?? null, alias: q.target.alias ?? null },
    baseline: { kind: q.baseline.kind, from: baseline.from.toISOString(), to: baseline.to.toISOString(), responses: responses(bb) },
    current: { from: q.from.toISOString(), to: q.to.toISOString(), responses: responses(cb) },
    thresholds,
    signals,
    drifted: signals
      .filter((s) => s.drifted)
      .sort((a, b) => b.psi - a.psi)
      .map((s) => s.signal),
  };
}
