import { BadRequestError } from '../common/errors.ts';

// Where a prompt version came from, as its registration says: the versions it was derived from
// (of this prompt or others), and the optimizer run that produced it (DSPy's MIPROv2, GEPA, …),
// with the dataset it was trained on and how it scored. Stored with the version, immutable like it,
// so that a dataset found bad later leads to every version an optimizer made from it.

export interface VersionRef {
  name: string;
  version: number;
}

export interface OptimizerRun {
  /** The optimizer, e.g. "dspy.MIPROv2" or "gepa". */
  name: string;
  runId: string;
  /** The id of the dataset it was trained on: the same ids spans carry (promptline.dataset.ids). */
  dataset: string | null;
  scorer: string | null;
  score: number | null;
}

export interface VersionOrigin {
  derivedFrom: VersionRef[];
  optimizer: OptimizerRun | null;
}

/** An origin as given (optional parts absent), in its one stored form; null when it says nothing. */
export function normalizeOrigin(o: { derivedFrom?: VersionRef[] | undefined; optimizer?: Partial<OptimizerRun> & { name: string; runId: string } | undefined } | null | undefined): VersionOrigin | null {
  if (!o) return null;
  const seen = new Set<string>();
  const derivedFrom: VersionRef[] = [];
  for (const r of o.derivedFrom ?? []) {
    const key = JSON.stringify([r.name, r.version]);
    if (seen.has(key)) continue;
    seen.add(key);
    derivedFrom.push({ name: r.name, version: r.version });
  }
  const optimizer = o.optimizer
    ? { name: o.optimizer.name, runId: o.optimizer.runId, dataset: o.optimizer.dataset ?? null, scorer: o.optimizer.scorer ?? null, score: o.optimizer.score ?? null }
    : null;
  return derivedFrom.length === 0 && optimizer === null ? null : { derivedFrom, optimizer };
}

/** The refusal of a registration whose origin names versions that do not exist; the same on every store. */
export function unknownSourcesError(missing: readonly VersionRef[]): BadRequestError {
  const named = missing.map((r) => `${r.name} version ${r.version}`).join(', ');
  return new BadRequestError(`origin.derivedFrom: ${named} ${missing.length === 1 ? 'is' : 'are'} not registered: a version can only be derived from registered versions`);
}

/** One line for people: "derived from a v2, b v1; by gepa run r-17 on dataset d (scorer exact, score 0.91)". */
export function describeOrigin(o: VersionOrigin | null | undefined): string {
  if (!o) return '';
  const parts: string[] = [];
  if (o.derivedFrom.length > 0) parts.push(`derived from ${o.derivedFrom.map((r) => `${r.name} v${r.version}`).join(', ')}`);
  const run = o.optimizer;
  if (run) {
    const details = [run.scorer !== null ? `scorer ${run.scorer}` : '', run.score !== null ? `score ${run.score}` : ''].filter(Boolean);
    parts.push(`by ${run.name} run ${run.runId}${run.dataset !== null ? ` on dataset ${run.dataset}` : ''}${details.length > 0 ? ` (${details.join(', ')})` : ''}`);
  }
  return parts.join('; ');
}
