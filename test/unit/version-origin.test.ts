import { describe, expect, it } from 'vitest';
import { originFromFlags } from '../../src/cli/origin.ts';
import { UsageError } from '../../src/cli/http.ts';
import { describeOrigin, normalizeOrigin } from '../../src/domain/origin.ts';
import { entity } from '../../src/domain/graph.ts';
import { originEdges } from '../../src/registry/origin.ts';

describe('a version origin', () => {
  it('is stored in one form: sources once each, absent details null, nothing said is null', () => {
    expect(normalizeOrigin({ derivedFrom: [{ name: 'a', version: 1 }, { name: 'a', version: 1 }, { name: 'b', version: 2 }], optimizer: { name: 'gepa', runId: 'r1' } })).toEqual({
      derivedFrom: [{ name: 'a', version: 1 }, { name: 'b', version: 2 }],
      optimizer: { name: 'gepa', runId: 'r1', dataset: null, scorer: null, score: null },
    });
    expect(normalizeOrigin({})).toBeNull();
    expect(normalizeOrigin(undefined)).toBeNull();
    expect(describeOrigin(normalizeOrigin({ optimizer: { name: 'gepa', runId: 'r1', dataset: 'd', score: 0 } }))).toBe('by gepa run r1 on dataset d (score 0)');
  });

  it('adds the graph edges that lead from a dataset to the versions trained on it', () => {
    const v = entity('PromptVersion', 'a', '3');
    const edges = originEdges(v, { derivedFrom: [{ name: 'a', version: 2 }], optimizer: { name: 'gepa', runId: 'r1', dataset: 'golden', scorer: null, score: null } }, 5);
    expect(edges.map((e) => `${e.from.kind}(${e.from.parts.join('/')}) ${e.rel} ${e.to.kind}(${e.to.parts.join('/')})`)).toEqual([
      'PromptVersion(a/3) DERIVED_FROM PromptVersion(a/2)',
      'PromptVersion(a/3) PRODUCED_BY OptimizerRun(gepa/r1)',
      'OptimizerRun(gepa/r1) TRAINED_ON Dataset(golden)',
      'OptimizerRun(gepa/r1) STARTED_FROM PromptVersion(a/2)',
    ]);
    expect(originEdges(v, null, 5)).toEqual([]);
  });

  it('comes from the command line flags, or a usage error says what is missing', () => {
    expect(originFromFlags({ 'derived-from': ['a:2,b:v1', 'c:3'], optimizer: 'dspy.MIPROv2', 'optimizer-run': 'r', 'optimizer-score': '0.5' }, '')).toEqual({
      derivedFrom: [{ name: 'a', version: 2 }, { name: 'b', version: 1 }, { name: 'c', version: 3 }],
      optimizer: { name: 'dspy.MIPROv2', runId: 'r', score: 0.5 },
    });
    expect(originFromFlags({}, '')).toBeUndefined();
    expect(() => originFromFlags({ 'derived-from': ['a'] }, '')).toThrow(UsageError);
    expect(() => originFromFlags({ optimizer: 'gepa' }, '')).toThrow(/--optimizer-run/);
    expect(() => originFromFlags({ 'optimizer-dataset': 'd' }, '')).toThrow(/give --optimizer/);
    expect(() => originFromFlags({ optimizer: 'gepa', 'optimizer-run': 'r', 'optimizer-score': 'high' }, '')).toThrow(/must be a number/);
  });
});
