// The few statistics a comparison of two prompt versions needs. Normal approximations throughout:
// they are honest for the sample sizes where a comparison means something (tens of responses or
// more), and every answer carries its sample size so a reader can judge.

export function mean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

export function sampleVariance(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs)!;
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return s / (xs.length - 1);
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 through erf; error below 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

const Z95 = 1.959963984540054;

/** Mean with a 95 % interval (normal approximation). */
export function meanInterval(xs: readonly number[]): { mean: number | null; ci95: [number, number] | null; n: number } {
  const m = mean(xs);
  const v = sampleVariance(xs);
  if (m === null) return { mean: null, ci95: null, n: 0 };
  if (v === null) return { mean: m, ci95: null, n: xs.length };
  const half = Z95 * Math.sqrt(v / xs.length);
  return { mean: m, ci95: [m - half, m + half], n: xs.length };
}

/** A proportion with its 95 % Wilson interval. */
export function proportionInterval(successes: number, n: number): { value: number | null; ci95: [number, number] | null; n: number } {
  if (n === 0) return { value: null, ci95: null, n };
  const p = successes / n;
  const z2 = Z95 * Z95;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { value: p, ci95: [Math.max(0, centre - half), Math.min(1, centre + half)], n };
}

/** Welch's test of two means (normal approximation): the difference b − a and the confidence that it is not zero. */
export function compareMeans(a: readonly number[], b: readonly number[]): { difference: number; confidence: number } | null {
  const va = sampleVariance(a);
  const vb = sampleVariance(b);
  if (va === null || vb === null) return null;
  const se = Math.sqrt(va / a.length + vb / b.length);
  const d = mean(b)! - mean(a)!;
  if (se === 0) return { difference: d, confidence: d === 0 ? 0 : 1 };
  return { difference: d, confidence: 1 - 2 * (1 - normalCdf(Math.abs(d / se))) };
}

/** Two-proportion z-test: the difference b − a and the confidence that it is not zero. */
export function compareProportions(xa: number, na: number, xb: number, nb: number): { difference: number; confidence: number } | null {
  if (na === 0 || nb === 0) return null;
  const pa = xa / na;
  const pb = xb / nb;
  const pooled = (xa + xb) / (na + nb);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb));
  if (se === 0) return { difference: pb - pa, confidence: 0 };
  return { difference: pb - pa, confidence: 1 - 2 * (1 - normalCdf(Math.abs((pb - pa) / se))) };
}
