import { describe, expect, it } from 'vitest';
import { chiSquareSurvival, chiSquareTest, kolmogorovSurvival, ksTest, psi, quantile, regroup } from '../../src/impact/drift-stats.ts';

// Drift is only as good as its statistics: each is checked against values known in closed form or
// from the published tables of the distributions.

const counts = (o: Record<string, number>) => new Map(Object.entries(o));

describe('drift statistics', () => {
  it('chi-square tail: exp(-x/2) for two degrees of freedom, and the table critical values', () => {
    for (const x of [0.5, 1, 5, 20, 60]) expect(chiSquareSurvival(x, 2)).toBeCloseTo(Math.exp(-x / 2), 12);
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 10);
    expect(chiSquareSurvival(9.487729036781154, 4)).toBeCloseTo(0.05, 10);
    expect(chiSquareSurvival(23.20925115895436, 10)).toBeCloseTo(0.01, 10);
    expect(chiSquareSurvival(124.342, 100)).toBeCloseTo(0.05, 4);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });

  it('Kolmogorov tail: the critical values of the two-sample test', () => {
    expect(kolmogorovSurvival(1.3580986393225505)).toBeCloseTo(0.05, 6);
    expect(kolmogorovSurvival(1.6276236115189997)).toBeCloseTo(0.01, 6);
    expect(kolmogorovSurvival(0.1)).toBe(1);
    expect(kolmogorovSurvival(5)).toBeLessThan(1e-20);
  });

  it('PSI: zero for the same shares, the textbook value for a shift', () => {
    expect(psi(counts({ a: 50, b: 50 }), counts({ a: 5, b: 5 }))).toBe(0);
    expect(psi(counts({ a: 50, b: 50 }), counts({ a: 25, b: 75 }))).toBeCloseTo(0.25 * Math.log(2) + 0.25 * Math.log(1.5), 12);
  });

  it("chi-square test of two windows' counts", () => {
    const t = chiSquareTest(counts({ ok: 50, error: 50 }), counts({ ok: 70, error: 30 }));
    expect(t.df).toBe(1);
    expect(t.statistic).toBeCloseTo(25 / 3, 10);
    expect(t.pValue).toBeCloseTo(0.003892, 5);
    expect(chiSquareTest(counts({ ok: 10 }), counts({ ok: 30 }))).toEqual({ statistic: 0, df: 0, pValue: 1 });
  });

  it('KS over shared bins: nothing for the same histogram, everything for disjoint ones', () => {
    const a = counts({ 1: 30, 2: 40, 3: 30 });
    expect(ksTest(a, counts({ 1: 3, 2: 4, 3: 3 }))).toEqual({ statistic: 0, pValue: 1 });
    const apart = ksTest(counts({ 1: 100 }), counts({ 9: 100 }));
    expect(apart.statistic).toBe(1);
    expect(apart.pValue).toBeLessThan(1e-20);
    // Half the mass moved one bin up: D = 0.5.
    expect(ksTest(counts({ 1: 50, 2: 50 }), counts({ 2: 50, 3: 50 })).statistic).toBe(0.5);
  });

  it('quantiles interpolate within a bin, and regrouping keeps ten groups of equal baseline mass', () => {
    const uniform = counts(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(i), 10])));
    expect(quantile(uniform, 0.5, (b) => b * 10)).toBeCloseTo(50, 10);
    expect(quantile(uniform, 0.9, (b) => b * 10)).toBeCloseTo(90, 10);
    expect(quantile(new Map(), 0.5, (b) => b)).toBeNull();
    const fine = counts(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [String(i), 1])));
    const g = regroup(fine, counts({ 0: 5, 99: 5 }));
    expect([...g.baseline.values()]).toEqual(Array(10).fill(10));
    expect(Object.fromEntries(g.current)).toEqual({ 0: 5, 9: 5 });
  });
});
