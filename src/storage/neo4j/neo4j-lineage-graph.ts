import neo4j, { type ManagedTransaction } from 'neo4j-driver';
import { EDGE_KINDS, ENTITY_KINDS, entityKey, type Edge, type EdgeKind, type EdgeObservation, type Entity, type EntityKind, type EntityRef } from '../../domain/graph.ts';
import { BadRequestError } from '../../common/errors.ts';
import type { LineageGraph, WalkHit, WalkOptions } from '../lineage-graph.ts';
import { MAX_WALK_DEPTH } from '../lineage-graph.ts';
import type { PingResult } from '../lifecycle.ts';
import { Neo4jSessions } from './neo4j-sessions.ts';

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

const num = (v: unknown): number => (neo4j.isInt(v) ? (v as { toNumber(): number }).toNumber() : Number(v));
const toEntity = (n: NodeValue): Entity => ({ kind: n.kind as EntityKind, parts: n.parts, firstSeen: new Date(num(n.firstSeen)), lastSeen: new Date(num(n.lastSeen)) });
const refOf = (n: NodeValue): EntityRef => ({ kind: n.kind as EntityKind, parts: n.parts });

export interface Neo4jGraphOptions {
  url: string;
  user: string;
  password: string;
  /** A Neo4j database name; the server's default when not given. */
  database?: string;
}

export class Neo4jLineageGraph implements LineageGraph {
  readonly backend: string;
  private readonly db: Neo4jSessions;

  private constructor(db: Neo4jSessions, opts: Neo4jGraphOptions) {
    this.db = db;
    this.backend = `neo4j (${opts.url})`;
  }

  /** Connects and checks the server answers and takes the credentials; a clear ConfigError if not. */
  static async connect(opts: Neo4jGraphOptions): Promise<Neo4jLineageGraph> {
    // The writer retries with backoff itself and keeps the data in the spool meanwhile, so the
    // driver gives up early and lets an outage show in /readyz within seconds.
    return new Neo4jLineageGraph(await Neo4jSessions.connect(opts, 3_000), opts);
  }

  private write<T>(what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.db.write(what, work);
  }

  private read<T>(what: string, work: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    return this.db.read(what, work);
  }

  async migrate(): Promise<void> {
    await this.write('creating constraints', async (tx) => {
      await tx.run('CREATE CONSTRAINT promptline_entity_identity IF NOT EXISTS FOR (n:Entity) REQUIRE (n.project, n.kind, n.key) IS UNIQUE');
    });
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
        first: neo4j.int(Math.trunc(e.firstSeenMs)),
        last: neo4j.int(Math.trunc(e.lastSeenMs)),
      });
    }
    // One transaction: a batch's edges land together or not at all, and a retry repeats them whole.
    await this.write('recording edges', async (tx) => {
      for (const g of groups.values()) {
        const cypher = mergeEdgesCypher(g.fromKind, g.rel, g.toKind);
        for (let i = 0; i < g.rows.length; i += ROWS_PER_STATEMENT) {
          await tx.run(cypher, { project: projectId, fromKind: g.fromKind, toKind: g.toKind, rows: g.rows.slice(i, i + ROWS_PER_STATEMENT) });
        }
      }
    });
  }

  async getEntity(projectId: string, ref: EntityRef): Promise<Entity | null> {
    return this.read('reading an entity', async (tx) => {
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
    return this.read('reading edges', async (tx) => {
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
          firstSeen: new Date(num(rec.get('first'))),
          lastSeen: new Date(num(rec.get('last'))),
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
    return this.read('walking the graph', async (tx) => {
      const res = await tx.run(
        `MATCH (s:Entity {project: $project, kind: $kind, key: $key})
         MATCH p = SHORTEST 1 (s)(()${step}()){1,${opts.maxDepth}}(x:Entity)
         WHERE x <> s
         RETURN x {.kind, .parts, .firstSeen, .lastSeen} AS x, length(p) AS depth,
                [n IN nodes(p) | n {.kind, .parts, .firstSeen, .lastSeen}] AS ns,
                [e IN relationships(p) | {rel: type(e), first: e.firstSeen, last: e.lastSeen}] AS es
         ORDER BY depth, x.kind, x.key
         LIMIT $limit`,
        { project: projectId, kind: start.kind, key: entityKey(start.parts), rels, limit: neo4j.int(opts.limit ?? 10_000) },
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
            firstSeen: new Date(num(e.first)),
            lastSeen: new Date(num(e.last)),
          };
        });
        return { entity: toEntity(rec.get('x') as NodeValue), depth: num(rec.get('depth')), path };
      });
    });
  }

  ping(): Promise<PingResult> {
    return this.db.ping();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
