import { entityKey, type Edge, type EdgeKind, type EdgeObservation, type Entity, type EntityKind, type EntityRef } from '../../domain/graph.ts';
import { BadRequestError } from '../../common/errors.ts';
import type { LineageGraph, WalkHit, WalkOptions } from '../lineage-graph.ts';
import { MAX_WALK_DEPTH } from '../lineage-graph.ts';
import { SqliteStore } from './sqlite-store.ts';

// The lineage graph in one SQLite file (node:sqlite). Entities are unique by (project, kind, key);
// an edge by (source, relation, target); both keep first and last seen.

const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE entities (
       id INTEGER PRIMARY KEY,
       project TEXT NOT NULL,
       kind TEXT NOT NULL,
       key TEXT NOT NULL,
       first_seen INTEGER NOT NULL,
       last_seen INTEGER NOT NULL,
       UNIQUE (project, kind, key)
     )`,
    `CREATE TABLE edges (
       src INTEGER NOT NULL REFERENCES entities(id),
       rel TEXT NOT NULL,
       dst INTEGER NOT NULL REFERENCES entities(id),
       first_seen INTEGER NOT NULL,
       last_seen INTEGER NOT NULL,
       PRIMARY KEY (src, rel, dst)
     ) WITHOUT ROWID`,
    `CREATE INDEX edges_by_dst ON edges (dst, rel, src)`,
  ],
];

interface StepRow {
  from_id: number;
  rel: string;
  e_first: number;
  e_last: number;
  a_kind: string;
  a_key: string;
  a_first: number;
  a_last: number;
  b_id: number;
  b_kind: string;
  b_key: string;
  b_first: number;
  b_last: number;
}

interface EntityRow {
  id: number;
  kind: string;
  key: string;
  first_seen: number;
  last_seen: number;
}

const toEntity = (r: EntityRow): Entity => ({
  kind: r.kind as EntityKind,
  parts: JSON.parse(r.key) as string[],
  firstSeen: new Date(r.first_seen),
  lastSeen: new Date(r.last_seen),
});

const ref = (e: Entity): EntityRef => ({ kind: e.kind, parts: e.parts });

export class SqliteLineageGraph extends SqliteStore implements LineageGraph {
  constructor(file: string) {
    super(file, MIGRATIONS);
  }

  async recordEdges(projectId: string, edges: readonly EdgeObservation[]): Promise<void> {
    if (edges.length === 0) return;
    const upsertEntity = this.db.prepare(
      `INSERT INTO entities (project, kind, key, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (project, kind, key) DO UPDATE SET
         first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)
       RETURNING id`,
    );
    const upsertEdge = this.db.prepare(
      `INSERT INTO edges (src, rel, dst, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (src, rel, dst) DO UPDATE SET
         first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`,
    );
    this.run('recording edges', () =>
      this.transaction(() => {
        for (const e of edges) {
          const first = Math.trunc(e.firstSeenMs);
          const last = Math.trunc(e.lastSeenMs);
          const src = upsertEntity.get(projectId, e.from.kind, entityKey(e.from.parts), first, last) as { id: number };
          const dst = upsertEntity.get(projectId, e.to.kind, entityKey(e.to.parts), first, last) as { id: number };
          upsertEdge.run(src.id, e.rel, dst.id, first, last);
        }
      }),
    );
  }

  async getEntity(projectId: string, r: EntityRef): Promise<Entity | null> {
    const row = this.db
      .prepare('SELECT id, kind, key, first_seen, last_seen FROM entities WHERE project = ? AND kind = ? AND key = ?')
      .get(projectId, r.kind, entityKey(r.parts)) as EntityRow | undefined;
    return row ? toEntity(row) : null;
  }

  async edgesOf(projectId: string, r: EntityRef, direction: 'out' | 'in'): Promise<Edge[]> {
    const start = this.entityId(projectId, r);
    if (start === undefined) return [];
    return this.step([start], direction, undefined).map((s) => s.edge);
  }

  async walk(projectId: string, start: EntityRef, opts: WalkOptions): Promise<WalkHit[]> {
    if (opts.maxDepth < 1 || opts.maxDepth > MAX_WALK_DEPTH) throw new BadRequestError(`walk depth must be between 1 and ${MAX_WALK_DEPTH}`);
    const startId = this.entityId(projectId, start);
    if (startId === undefined) return [];
    const limit = opts.limit ?? 10_000;
    const seen = new Set<number>([startId]);
    const paths = new Map<number, Edge[]>([[startId, []]]);
    const hits: WalkHit[] = [];
    let frontier = [startId];
    for (let depth = 1; depth <= opts.maxDepth && frontier.length > 0 && hits.length < limit; depth++) {
      const next: number[] = [];
      for (const s of this.step(frontier, opts.direction, opts.rels)) {
        if (seen.has(s.otherId)) continue;
        seen.add(s.otherId);
        const path = [...(paths.get(s.fromId) ?? []), s.edge];
        paths.set(s.otherId, path);
        hits.push({ entity: s.other, depth, path });
        next.push(s.otherId);
        if (hits.length >= limit) break;
      }
      frontier = next;
    }
    return hits;
  }

  /** One hop from a set of entities: the edges and the entities at their other ends. */
  private step(ids: number[], direction: 'out' | 'in', rels: readonly EdgeKind[] | undefined) {
    const near = direction === 'out' ? 'src' : 'dst';
    const far = direction === 'out' ? 'dst' : 'src';
    const relFilter = rels && rels.length > 0 ? `AND e.rel IN (${rels.map(() => '?').join(',')})` : '';
    const out: Array<{ fromId: number; otherId: number; other: Entity; edge: Edge }> = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const rows = this.db
        .prepare(
          `SELECT e.${near} AS from_id, e.rel, e.first_seen AS e_first, e.last_seen AS e_last,
                  a.kind AS a_kind, a.key AS a_key, a.first_seen AS a_first, a.last_seen AS a_last,
                  b.id AS b_id, b.kind AS b_kind, b.key AS b_key, b.first_seen AS b_first, b.last_seen AS b_last
           FROM edges e
           JOIN entities a ON a.id = e.${near}
           JOIN entities b ON b.id = e.${far}
           WHERE e.${near} IN (${chunk.map(() => '?').join(',')}) ${relFilter}
           ORDER BY e.${near}, e.rel, b.kind, b.key`,
        )
        .all(...chunk, ...(rels ?? [])) as unknown as StepRow[];
      for (const row of rows) {
        const self = toEntity({ id: row.from_id, kind: row.a_kind, key: row.a_key, first_seen: row.a_first, last_seen: row.a_last });
        const other = toEntity({ id: row.b_id, kind: row.b_kind, key: row.b_key, first_seen: row.b_first, last_seen: row.b_last });
        const edge: Edge = {
          from: direction === 'out' ? ref(self) : ref(other),
          rel: row.rel as EdgeKind,
          to: direction === 'out' ? ref(other) : ref(self),
          firstSeen: new Date(row.e_first),
          lastSeen: new Date(row.e_last),
        };
        out.push({ fromId: row.from_id, otherId: row.b_id, other, edge });
      }
    }
    return out;
  }

  private entityId(projectId: string, r: EntityRef): number | undefined {
    const row = this.db.prepare('SELECT id FROM entities WHERE project = ? AND kind = ? AND key = ?').get(projectId, r.kind, entityKey(r.parts)) as
      | { id: number }
      | undefined;
    return row?.id;
  }
}
