// The statistics drift is judged by, each suited to its kind of signal:
// - binned and categorical signals (error rate, finish reasons, registration, evaluation labels):
//   the population stability index and Pearson's chi-square test of the two windows' counts;
// - continuous signals (latency, token counts, evaluation scores), held as fine histograms: the
//   two-sample Kolmogorov–Smirnov statistic over the histograms' bin edges (a lower bound of the
//   exact D, so never an overstatement), the shift of the median and the 90th percentile, and the
//   PSI over ten bins of equal baseline mass.
// Every result carries its sample sizes, so a reader can judge what a p-value rests on.

/** ln Γ(x), Lanczos approximation (g = 7, n = 9): relative error below 1e-15 for x > 0. */
function logGamma(x: number): number {
  const c = [0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406, 12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = c[0]!;
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized upper incomplete gamma Q(a, x): a series below a + 1, a continued fraction above. */
function upperGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPrefix = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lnPrefix));
  }
  // Lentz's method for the continued fraction of Q.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(lnPrefix) * h);
}

/** P(χ²_df ≥ x). */
export function chiSquareSurvival(x: number, df: number): number {
  if (df <= 0) return 1;
  return upperGammaQ(df / 2, x / 2);
}

/** P(K ≥ λ) for the Kolmogorov distribution (the limit of √n·D). */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = (k % 2 === 1 ? 2 : -2) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-16) break;
  }
  return Math.min(1, Math.max(0, sum));
}

/** A histogram: counts by ordered bin (continuous signals) or by category. */
export type Counts = ReadonlyMap<string, number>;

const total = (c: Counts) => [...c.values()].reduce((a, b) => a + b, 0);

/** The population stability index of `current` against `baseline` over the same bins (empty bins smoothed). */
export function psi(baseline: Counts, current: Counts): number {
  const nb = total(baseline);
  const nc = total(current);
  if (nb === 0 || nc === 0) return 0;
  const keys = new Set([...baseline.keys(), ...current.keys()]);
  const eps = 1e-4;
  let s = 0;
  for (const k of keys) {
    const pb = Math.max(eps, (baseline.get(k) ?? 0) / nb);
    const pc = Math.max(eps, (current.get(k) ?? 0) / nc);
    s += (pc - pb) * Math.log(pc / pb);
  }
  return s;
}

/** Pearson's chi-square test of homogeneity of two windows' category counts: statistic, df, p-value. */
export function chiSquareTest(baseline: Counts, current: Counts): { statistic: number; df: number; pValue: number } {
  const nb = total(baseline);
  const nc = total(current);
  const keys = [...new Set([...baseline.keys(), ...current.keys()])].filter((k) => (baseline.get(k) ?? 0) + (current.get(k) ?? 0) > 0);
  if (nb === 0 || nc === 0 || keys.length < 2) return { statistic: 0, df: 0, pValue: 1 };
  const n = nb + nc;
  let x2 = 0;
  for (const k of keys) {
    const row = (baseline.get(k) ?? 0) + (current.get(k) ?? 0);
    for (const [obs, side] of [
      [baseline.get(k) ?? 0, nb],
      [current.get(k) ?? 0, nc],
    ] as const) {
      const expected = (row * side) / n;
      x2 += (obs - expected) ** 2 / expected;
    }
  }
  const df = keys.length - 1;
  return { statistic: x2, df, pValue: chiSquareSurvival(x2, df) };
}

/** Ordered bins of a continuous signal: the bin index (as text) to its lower edge's value. */
export type BinEdge = (bin: number) => number;

/** The two-sample Kolmogorov–Smirnov test over histogram bins sharing edges: D, p-value (asymptotic). */
export function ksTest(baseline: Counts, current: Counts): { statistic: number; pValue: number } {
  const nb = total(baseline);
  const nc = total(current);
  if (nb === 0 || nc === 0) return { statistic: 0, pValue: 1 };
  const bins = [...new Set([...baseline.keys(), ...current.keys()])].map(Number).sort((a, b) => a - b);
  let cb = 0;
  let cc = 0;
  let d = 0;
  for (const b of bins) {
    cb += baseline.get(String(b)) ?? 0;
    cc += current.get(String(b)) ?? 0;
    d = Math.max(d, Math.abs(cb / nb - cc / nc));
  }
  const en = Math.sqrt((nb * nc) / (nb + nc));
  return { statistic: d, pValue: kolmogorovSurvival((en + 0.12 + 0.11 / en) * d) };
}

/** The value at quantile q of a histogram, interpolated within its bin on the bins' own scale. */
export function quantile(counts: Counts, q: number, edge: BinEdge): number | null {
  const n = total(counts);
  if (n === 0) return null;
  const bins = [...counts.keys()].map(Number).sort((a, b) => a - b);
  const target = q * n;
  let seen = 0;
  for (const b of bins) {
    const c = counts.get(String(b)) ?? 0;
    if (seen + c >= target && c > 0) {
      const within = (target - seen) / c;
      return edge(b) + within * (edge(b + 1) - edge(b));
    }
    seen += c;
  }
  return edge(bins.at(-1)! + 1);
}

/**
 * The bins of a fine histogram merged into about `groups` groups of equal baseline mass, applied to
 * both windows: PSI over ~10 bins is the convention its thresholds (0.1, 0.25) are known for.
 */
export function regroup(baseline: Counts, current: Counts, groups = 10): { baseline: Counts; current: Counts } {
  const nb = total(baseline);
  const bins = [...new Set([...baseline.keys(), ...current.keys()])].map(Number).sort((a, b) => a - b);
  const groupOf = new Map<number, number>();
  let seen = 0;
  for (const b of bins) {
    groupOf.set(b, nb === 0 ? 0 : Math.min(groups - 1, Math.floor((seen / nb) * groups)));
    seen += baseline.get(String(b)) ?? 0;
  }
  const merge = (c: Counts) => {
    const out = new Map<string, number>();
    for (const [bin, n] of c) {
      const g = String(groupOf.get(Number(bin)) ?? 0);
      out.set(g, (out.get(g) ?? 0) + n);
    }
    return out;
  };
  return { baseline: merge(baseline), current: merge(current) };
}
