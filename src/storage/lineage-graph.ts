import type { Edge, EdgeKind, EdgeObservation, Entity, EntityRef } from '../domain/graph.ts';
import type { StoreLifecycle } from './lifecycle.ts';

// The lineage graph port. Adapters: SQLite (embedded, node:sqlite) and Neo4j. Writes are
// idempotent upserts keyed by entity identity; every traversal has a depth bound.

export interface WalkOptions {
  direction: 'out' | 'in';
  /** Hard upper bound on hops; adapters refuse more than MAX_WALK_DEPTH. */
  maxDepth: number;
  rels?: readonly EdgeKind[];
  /** At most this many entities are returned. */
  limit?: number;
}

export const MAX_WALK_DEPTH = 6;

/** An entity reached by a walk, with the edges that led to it from the start. */
export interface WalkHit {
  entity: Entity;
  depth: number;
  path: Edge[];
}

export interface LineageGraph extends StoreLifecycle {
  recordEdges(projectId: string, edges: readonly EdgeObservation[]): Promise<void>;
  getEntity(projectId: string, ref: EntityRef): Promise<Entity | null>;
  edgesOf(projectId: string, ref: EntityRef, direction: 'out' | 'in'): Promise<Edge[]>;
  walk(projectId: string, start: EntityRef, opts: WalkOptions): Promise<WalkHit[]>;
}
