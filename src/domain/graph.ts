// The lineage graph holds entities and the edges between them, not one node per span.
// Per-response facts stay in the span store; the graph says which entities touched which.

export const ENTITY_KINDS = ['Prompt', 'PromptVersion', 'Alias', 'AliasMove', 'Model', 'Dataset', 'App', 'AppVersion', 'EvalRun', 'Actor', 'OptimizerRun'] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];

export const EDGE_KINDS = [
  'HAS_VERSION', // Prompt -> PromptVersion, App -> AppVersion
  'RESOLVED_TO', // Alias -> PromptVersion: the alias an app asked for, and the version it got
  'USED_BY', // PromptVersion -> AppVersion, Dataset -> AppVersion
  'RAN_ON', // PromptVersion -> Model
  'CALLS', // AppVersion -> Model
  'FEEDS', // Dataset -> PromptVersion
  'DERIVED_FROM', // PromptVersion -> the PromptVersion it was registered from, and those its origin names
  'POINTS_TO', // Alias -> PromptVersion: where the registry says the alias points (or pointed)
  'MOVED', // AliasMove -> Alias
  'MOVED_TO', // AliasMove -> PromptVersion
  'MOVED_FROM', // AliasMove -> PromptVersion
  'MADE', // Actor -> PromptVersion, Actor -> AliasMove
  'EVALUATED', // EvalRun -> PromptVersion
  'EVALUATED_ON', // EvalRun -> Dataset
  'PRODUCED_BY', // PromptVersion -> the OptimizerRun that produced it
  'TRAINED_ON', // OptimizerRun -> Dataset
  'STARTED_FROM', // OptimizerRun -> the PromptVersions it started from (the version's derivedFrom)
] as const;
export type EdgeKind = (typeof EDGE_KINDS)[number];

/** An entity is named by its kind and the parts that identify it (e.g. prompt name and version). */
export interface EntityRef {
  kind: EntityKind;
  parts: readonly string[];
}

export interface Entity extends EntityRef {
  firstSeen: Date;
  lastSeen: Date;
}

/** "from -rel-> to was seen between these times"; writing the same observation twice changes nothing. */
export interface EdgeObservation {
  from: EntityRef;
  rel: EdgeKind;
  to: EntityRef;
  firstSeenMs: number;
  lastSeenMs: number;
}

export interface Edge {
  from: EntityRef;
  rel: EdgeKind;
  to: EntityRef;
  firstSeen: Date;
  lastSeen: Date;
}

/** A stable text key for an entity's identifying parts; parts may hold any character. */
export function entityKey(parts: readonly string[]): string {
  return JSON.stringify(parts);
}

export const entity = (kind: EntityKind, ...parts: string[]): EntityRef => ({ kind, parts });
