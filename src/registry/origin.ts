import { entity, type EdgeKind, type EdgeObservation, type EntityRef } from '../domain/graph.ts';
import type { VersionOrigin } from '../domain/origin.ts';

// The lineage graph edges a version's origin adds at its registration:
//   version -DERIVED_FROM-> each version it names
//   version -PRODUCED_BY-> OptimizerRun (optimizer name, run id)
//   OptimizerRun -TRAINED_ON-> Dataset, the same Dataset entity spans name
//   OptimizerRun -STARTED_FROM-> each version it names (the run's seeds)
// so that a walk in from a dataset reaches the versions an optimizer made from it, and a walk in
// from a version reaches those derived from it, directly or through a run it seeded.

/** The relations a walk follows (inbound) to find what came from a version or a dataset. */
export const DERIVATION_RELS: readonly EdgeKind[] = ['DERIVED_FROM', 'PRODUCED_BY', 'STARTED_FROM', 'TRAINED_ON'];

function optimizerRunRef(run: { name: string; runId: string }): EntityRef {
  return entity('OptimizerRun', run.name, run.runId);
}

export function originEdges(version: EntityRef, origin: VersionOrigin | null | undefined, atMs: number): EdgeObservation[] {
  if (!origin) return [];
  const edge = (from: EntityRef, rel: EdgeKind, to: EntityRef): EdgeObservation => ({ from, rel, to, firstSeenMs: atMs, lastSeenMs: atMs });
  const sources = origin.derivedFrom.map((r) => entity('PromptVersion', r.name, String(r.version)));
  const edges = sources.map((s) => edge(version, 'DERIVED_FROM', s));
  if (origin.optimizer) {
    const run = optimizerRunRef(origin.optimizer);
    edges.push(edge(version, 'PRODUCED_BY', run));
    if (origin.optimizer.dataset !== null) edges.push(edge(run, 'TRAINED_ON', entity('Dataset', origin.optimizer.dataset)));
    for (const s of sources) edges.push(edge(run, 'STARTED_FROM', s));
  }
  return edges;
}
