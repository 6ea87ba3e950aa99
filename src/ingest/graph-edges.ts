import { entity, entityKey, type EdgeKind, type EdgeObservation, type EntityRef } from '../domain/graph.ts';
import type { ResolvedLineage } from '../domain/lineage.ts';
import type { ResolvedBatch } from './lineage-resolver.ts';

// The entities and edges one span's resolved lineage reveals. A batch repeats the same edges
// many times (every span of an app version names it), so they are folded before writing.

/** A prompt version is named by its number; an unnumbered prompt by its template hash. */
export function promptVersionRef(name: string, version: string, templateHash: string): EntityRef | null {
  if (!name) return null;
  if (version) return entity('PromptVersion', name, version);
  if (templateHash) return entity('PromptVersion', name, `sha256:${templateHash}`);
  return null;
}

export function edgesOfSpan(l: ResolvedLineage, seenAtMs: number, emit: (from: EntityRef, rel: EdgeKind, to: EntityRef, atMs: number) => void): void {
  const pv = l.prompt ? promptVersionRef(l.prompt.name, l.prompt.version, l.prompt.templateHash) : null;
  const appVersion = l.app.name ? entity('AppVersion', l.app.name, l.app.version) : null;
  const model = l.model?.name ? entity('Model', l.model.provider, l.model.name) : null;
  if (pv && l.prompt) {
    emit(entity('Prompt', l.prompt.name), 'HAS_VERSION', pv, seenAtMs);
    if (l.prompt.alias) emit(entity('Alias', l.prompt.name, l.prompt.alias), 'RESOLVED_TO', pv, seenAtMs);
    if (appVersion) emit(pv, 'USED_BY', appVersion, seenAtMs);
    if (model) emit(pv, 'RAN_ON', model, seenAtMs);
    for (const d of l.datasetIds) emit(entity('Dataset', d), 'FEEDS', pv, seenAtMs);
  }
  if (appVersion) {
    if (pv || model || l.datasetIds.length > 0) emit(entity('App', l.app.name), 'HAS_VERSION', appVersion, seenAtMs);
    if (model) emit(appVersion, 'CALLS', model, seenAtMs);
    for (const d of l.datasetIds) emit(entity('Dataset', d), 'USED_BY', appVersion, seenAtMs);
  }
}

/** The fields of a lineage that decide its edges, as one string (each length-prefixed: no two lineages share one). */
function lineageKey(l: ResolvedLineage): string {
  const f = (s: string) => `${s.length}:${s}`;
  const p = l.prompt;
  const m = l.model;
  let k = p ? `P${f(p.name)}${f(p.version)}${f(p.alias)}${f(p.templateHash)}` : '-';
  k += m ? `M${f(m.provider)}${f(m.name)}` : '-';
  k += `A${f(l.app.name)}${f(l.app.version)}D${l.datasetIds.length}`;
  for (const d of l.datasetIds) k += f(d);
  return k;
}

/** Folds repeated edges of a batch into one observation each, with the earliest and latest time. */
export class EdgeCollector {
  private readonly edges = new Map<string, EdgeObservation>();
  /** The observations each distinct lineage touches: a batch has thousands of spans and a few lineages. */
  private readonly byLineage = new Map<string, EdgeObservation[]>();

  add(l: ResolvedLineage, seenAtMs: number): void {
    const lk = lineageKey(l);
    const known = this.byLineage.get(lk);
    if (known) {
      for (const e of known) {
        if (seenAtMs < e.firstSeenMs) e.firstSeenMs = seenAtMs;
        if (seenAtMs > e.lastSeenMs) e.lastSeenMs = seenAtMs;
      }
      return;
    }
    const touched: EdgeObservation[] = [];
    edgesOfSpan(l, seenAtMs, (from, rel, to, at) => {
      const key = `${from.kind}${entityKey(from.parts)}${rel}${to.kind}${entityKey(to.parts)}`;
      let e = this.edges.get(key);
      if (!e) this.edges.set(key, (e = { from, rel, to, firstSeenMs: at, lastSeenMs: at }));
      else {
        if (at < e.firstSeenMs) e.firstSeenMs = at;
        if (at > e.lastSeenMs) e.lastSeenMs = at;
      }
      touched.push(e);
    });
    this.byLineage.set(lk, touched);
  }

  toList(): EdgeObservation[] {
    return [...this.edges.values()];
  }
}

/** The edges a resolved batch reveals, its fixed spans' new lineage included, each observation folded. */
export function edgesOfBatch(resolved: ResolvedBatch): EdgeObservation[] {
  const edges = new EdgeCollector();
  for (const s of resolved.spans) edges.add(s.resolved, Number(s.span.startTimeUnixNano / 1_000_000n));
  for (const f of resolved.fixups) edges.add(f.resolved, f.startMs);
  return edges.toList();
}
