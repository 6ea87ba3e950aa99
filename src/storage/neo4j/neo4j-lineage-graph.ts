import { EDGE_KINDS, ENTITY_KINDS, entityKey, type Edge, type EdgeKind, type EdgeObservation, type Entity, type EntityKind, type EntityRef } from '../../domain/graph.ts';
import { BadRequestError } from '../../common/errors.ts';
import type { LineageGraph, WalkHit, WalkOptions } from '../lineage-graph.ts';
import { MAX_WALK_DEPTH } from '../lineage-graph.ts';
import { Neo4jSessions, type Neo4jConnectionOptions } from './neo4j-sessions.ts';
import { Neo4jStore, type Neo4jSchema, type Neo4jStoreOptions } from './neo4j-store.ts';
import { toDate, toInt, toNumber } from './neo4j-values.ts';

// The lineage graph on Neo4j. Every entity is an :Entity node unique by (project, kind, key), with
// its kind as a second label for people reading the graph; edges are typed relationships. Writes
// are batched UNWIND + MERGE against the uniqueness constraint; walks have a depth bound.
//
// Values are always parameters. Labels, relationship types and the walk's depth cannot be in
// Cypher; they come only from the fixed lists in domain/graph.ts and a checked integer.

const KINDS = new Set<string>(ENTITY_KINDS);
const RELS = new Set<string>(EDGE_KINDS);
const ROWS_PER_STATEMENT = 5_000;

function label(kind: string): string {
  if (!KINDS.has(kind)) throw new Error(`unknown entity kind ${kind}`);
  return kind;
}

function relType(rel: string): string {
  if (!RELS.has(rel)) throw new Error(`unknown edge kind ${rel}`);
  return rel;
}

const keepEarliest = (v: string, p: string) => `${v}.firstSeen = CASE WHEN ${p}.first < ${v}.firstSeen THEN ${p}.first ELSE ${v}.firstSeen END`;
const keepLatest = (v: string, p: string) => `${v}.lastSeen = CASE WHEN ${p}.last > ${v}.lastSeen THEN ${p}.last ELSE ${v}.lastSeen END`;

function mergeEdgesCypher(fromKind: string, rel: string, toKind: string): string {
  return `
    UNWIND $rows AS e
    MERGE (a:Entity {project: $project, kind: $fromKind, key: e.fromKey})
      ON CREATE SET a.parts = e.fromParts, a.firstSeen = e.first, a.lastSeen = e.last
      ON MATCH SET ${keepEarliest('a', 'e')}, ${keepLatest('a', 'e')}
    SET a:${label(fromKind)}
    MERGE (b:Entity {project: $project, kind: $toKind, key: e.toKey})
      ON CREATE SET b.parts = e.toParts, b.firstSeen = e.first, b.lastSeen = e.last
      ON MATCH SET ${keepEarliest('b', 'e')}, ${keepLatest('b', 'e')}
    SET b:${label(toKind)}
    MERGE (a)-[r:${relType(rel)}]->(b)
      ON CREATE SET r.firstSeen = e.first, r.lastSeen = e.last
      ON MATCH SET ${keepEarliest('r', 'e')}, ${keepLatest('r', 'e')}`;
}

interface NodeValue {
  kind: string;
  parts: string[];
  firstSeen: number;
  lastSeen: number;
}

const toEntity = (n: NodeValue): Entity => ({ kind: n.kind as EntityKind, parts: n.parts, firstSeen: toDate(n.firstSeen), lastSeen: toDate(n.lastSeen) });
const refOf = (n: NodeValue): EntityRef => ({ kind: n.kind as EntityKind, parts: n.parts });

const SCHEMA: Neo4jSchema = {
  what: 'creating constraints',
  statements: ['CREATE CONSTRAINT promptline_entity_identity IF NOT EXISTS FOR (n:Entity) REQUIRE (n.project, n.kind, n.key) IS UNIQUE'],
  // The writer retries with backoff itself and keeps the data in the spool meanwhile, so a
  // transaction gives up early and lets an outage show in /readyz within seconds.
  maxRetryMs: 3_000,
};

export class Neo4jLineageGraph extends Neo4jStore implements LineageGraph {
  constructor(sessions: Neo4jSessions, opts: Neo4jStoreOptions = {}) {
    super(sessions, SCHEMA, opts);
  }

  /** On a driver of its own, closed with the graph. */
  static async connect(opts: Neo4jConnectionOptions): Promise<Neo4jLineageGraph> {
    return new Neo4jLineageGraph(await Neo4jSessions.connect(opts), { closesSessions: true });
  }

  async recordEdges(projectId: string, edges: readonly EdgeObservation[]): Promise<void> {
    if (edges.length === 0) return;
    const groups = new Map<string, { fromKind: string; rel: string; toKind: string; rows: object[] }>();
    for (const e of edges) {
      const g = `${e.from.kind}|${e.rel}|${e.to.kind}`;
      let group = groups.get(g);
      if (!group) groups.set(g, (group = { fromKind: e.from.kind, rel: e.rel, toKind: e.to.kind, rows: [] }));
      group.rows.push({
        fromKey: entityKey(e.from.parts),
        fromParts: [...e.from.parts],
        toKey: entityKey(e.to.parts),
        toParts: [...e.to.parts],
        // Integers, not the floats the driver makes of plain numbers.
        first: toInt(Math.trunc(e.firstSeenMs)),
        last: toInt(Math.trunc(e.lastSeenMs)),
      });
    }
    // One transaction: a batch's edges land together or not at all, and a retry repeats them whole.
    await this.db.write('recording edges', async (tx) => {
      for (const g of groups.values()) {
        const cypher = mergeEdgesCypher(g.fromKind, g.rel, g.toKind);
        for (let i = 0; i < g.rows.length; i += ROWS_PER_STATEMENT) {
          await tx.run(cypher, { project: projectId, fromKind: g.fromKind, toKind: g.toKind, rows: g.rows.slice(i, i + ROWS_PER_STATEMENT) });
        }
      }
    });
  }

  async getEntity(projectId: string, ref: EntityRef): Promise<Entity | null> {
    return this.db.read('reading an entity', async (tx) => {
      const r = await tx.run(
        'MATCH (n:Entity {project: $project, kind: $kind, key: $key}) RETURN n {.kind, .parts, .firstSeen, .lastSeen} AS n',
        { project: projectId, kind: ref.kind, key: entityKey(ref.parts) },
      );
      const n = r.records[0]?.get('n') as NodeValue | undefined;
      return n ? toEntity(n) : null;
    });
  }

  async edgesOf(projectId: string, ref: EntityRef, direction: 'out' | 'in'): Promise<Edge[]> {
    const pattern = direction === 'out' ? '(s)-[r]->(o:Entity)' : '(s)<-[r]-(o:Entity)';
    return this.db.read('reading edges', async (tx) => {
      const res = await tx.run(
        `MATCH (s:Entity {project: $project, kind: $kind, key: $key})
         MATCH ${pattern}
         RETURN s {.kind, .parts, .firstSeen, .lastSeen} AS s, type(r) AS rel, r.firstSeen AS first, r.lastSeen AS last,
                o {.kind, .parts, .firstSeen, .lastSeen} AS o
         ORDER BY rel, o.kind, o.key`,
        { project: projectId, kind: ref.kind, key: entityKey(ref.parts) },
      );
      return res.records.map((rec) => {
        const s = rec.get('s') as NodeValue;
        const o = rec.get('o') as NodeValue;
        return {
          from: direction === 'out' ? refOf(s) : refOf(o),
          rel: rec.get('rel') as EdgeKind,
          to: direction === 'out' ? refOf(o) : refOf(s),
          firstSeen: toDate(rec.get('first')),
          lastSeen: toDate(rec.get('last')),
        };
      });
    });
  }

  async walk(projectId: string, start: EntityRef, opts: WalkOptions): Promise<WalkHit[]> {
    if (!Number.isInteger(opts.maxDepth) || opts.maxDepth < 1 || opts.maxDepth > MAX_WALK_DEPTH) {
      throw new BadRequestError(`walk depth must be between 1 and ${MAX_WALK_DEPTH}`);
    }
    const rels = opts.rels && opts.rels.length > 0 ? opts.rels.map(relType) : null;
    const step = opts.direction === 'out' ? `-[r WHERE $rels IS NULL OR type(r) IN $rels]->` : `<-[r WHERE $rels IS NULL OR type(r) IN $rels]-`;
    return this.db.read('walking the graph', async (tx) => {
      const res = await tx.run(
        `MATCH (s:Entity {project: $project, kind: $kind, key: $key})
         MATCH p = SHORTEST 1 (s)(()${step}()){1,${opts.maxDepth}}(x:Entity)
         WHERE x <> s
         RETURN x {.kind, .parts, .firstSeen, .lastSeen} AS x, length(p) AS depth,
                [n IN nodes(p) | n {.kind, .parts, .firstSeen, .lastSeen}] AS ns,
                [e IN relationships(p) | {rel: type(e), first: e.firstSeen, last: e.lastSeen}] AS es
         ORDER BY depth, x.kind, x.key
         LIMIT $limit`,
        { project: projectId, kind: start.kind, key: entityKey(start.parts), rels, limit: toInt(opts.limit ?? 10_000) },
      );
      return res.records.map((rec) => {
        const ns = rec.get('ns') as NodeValue[];
        const es = rec.get('es') as Array<{ rel: string; first: number; last: number }>;
        const path: Edge[] = es.map((e, i) => {
          const near = refOf(ns[i]!);
          const far = refOf(ns[i + 1]!);
          return {
            from: opts.direction === 'out' ? near : far,
            rel: e.rel as EdgeKind,
            to: opts.direction === 'out' ? far : near,
            firstSeen: toDate(e.first),
            lastSeen: toDate(e.last),
          };
        });
        return { entity: toEntity(rec.get('x') as NodeValue), depth: toNumber(rec.get('depth')), path };
      });
    });
  }
}
