import { entity, entityKey, type Edge, type EntityRef } from '../domain/graph.ts';
import type { AliasMove } from '../domain/prompt.ts';
import { BadRequestError, NotFoundError } from '../common/errors.ts';
import type { RegistryService } from '../registry/registry-service.ts';
import { DERIVATION_RELS } from '../registry/origin.ts';
import { parsePromptUri } from '../registry/uri.ts';
import type { LineageGraph, WalkHit } from '../storage/lineage-graph.ts';
import type { EvaluationSummary, ImpactCursor, ImpactFilter, ImpactWindow, SpanAnalytics } from '../storage/span-analytics.ts';

// What else did it touch? An impact query starts from a prompt version, an alias move (from the
// move until the next one), a dataset, a model or an app version. The span store counts and lists
// the affected responses and groups them by app, service, conversation, prompt version, model and
// dataset; the lineage graph, walked a bounded number of hops, names the path that connects each
// affected entity to the start, and the versions derived from it (from a dataset: those optimizer
// runs trained on it produced).

export interface ImpactQuery {
  prompt?: string | undefined;
  version?: number | undefined;
  alias?: string | undefined;
  move?: number | undefined;
  dataset?: string | undefined;
  model?: string | undefined;
  provider?: string | undefined;
  app?: string | undefined;
  appVersion?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
  bucketSeconds?: number | undefined;
}

export interface PathStep {
  from: { kind: string; parts: readonly string[] };
  rel: string;
  to: { kind: string; parts: readonly string[] };
}

/** How an affected entity is connected to the start: graph edges, or (when the graph has no path) the responses themselves. */
export interface Connection {
  via: 'graph' | 'responses';
  path: PathStep[];
}

export type ImpactTarget =
  | { kind: 'promptVersion'; name: string; version: number | string; registered: boolean; commitMessage: string | null; author: string | null }
  | { kind: 'aliasMove'; name: string; alias: string; move: ReturnType<typeof moveView>; until: string | null; versions: number[] }
  | { kind: 'dataset'; id: string }
  | { kind: 'model'; name: string; provider: string | null }
  | { kind: 'appVersion'; name: string; version: string };

const MAX_WALK = 4;
/** Derived versions whose responses an impact answer counts (one span-store query each). */
const MAX_COUNTED = 25;
const BUCKETS = [60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400];

export function moveView(m: AliasMove) {
  return { seq: m.seq, at: m.at.toISOString(), actor: m.actor, reason: m.reason, from: m.from, to: m.to, rollback: m.rollback };
}

export function encodeCursor(c: ImpactCursor): string {
  return Buffer.from(JSON.stringify([c.timestamp, c.traceId, c.spanId])).toString('base64url');
}

/** The times a span store's DateTime64(9) holds (nanoseconds since 1970 in 64 bits), to the millisecond. */
export const SPAN_TIME_RANGE = Object.freeze({ min: '1900-01-01T00:00:00.000Z', max: '2262-04-11T23:47:16.854Z' });
const MIN_MS = Date.parse(SPAN_TIME_RANGE.min);
const MAX_MS = Date.parse(SPAN_TIME_RANGE.max);

/** Whether a time (milliseconds since 1970) is one the span store can compare with. */
export function inSpanTimeRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= MIN_MS && ms <= MAX_MS;
}

// A stored span's time as the store answers it: UTC, seconds, and up to nine digits of fraction.
const CURSOR_TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$/;

/** Whether a cursor's time is a real UTC time (no 2026-02-30, no 25:00) in the span store's range. */
function validCursorTime(t: string): boolean {
  const m = CURSOR_TIME.exec(t);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  const real = date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === sec;
  return real && inSpanTimeRange(date.getTime());
}

export function decodeCursor(s: string): ImpactCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const [timestamp, traceId, spanId] = Array.isArray(parsed) && parsed.length === 3 ? (parsed as unknown[]) : [];
  if (typeof traceId !== 'string' || typeof spanId !== 'string' || !/^[0-9a-f]{32}$/.test(traceId) || !/^[0-9a-f]{16}$/.test(spanId)) {
    throw new BadRequestError('cursor: the cursor is not one this server gave out');
  }
  if (typeof timestamp !== 'string' || !validCursorTime(timestamp)) {
    throw new BadRequestError(`cursor: the cursor's time is not a UTC time between ${SPAN_TIME_RANGE.min} and ${SPAN_TIME_RANGE.max}; it is not one this server gave out`);
  }
  return { timestamp, traceId, spanId };
}

export class ImpactService {
  private readonly analytics: SpanAnalytics;
  private readonly graph: LineageGraph;
  private readonly registry: RegistryService;

  constructor(deps: { analytics: SpanAnalytics; graph: LineageGraph; registry: RegistryService }) {
    this.analytics = deps.analytics;
    this.graph = deps.graph;
    this.registry = deps.registry;
  }

  async impact(projectId: string, q: ImpactQuery) {
    const { filter, target, start, window } = await this.resolveTarget(projectId, q);
    const from = window.from;
    const to = window.to;
    if (from >= to) throw new BadRequestError('from must be before to');
    const bucketSeconds = q.bucketSeconds ?? pickBucket(from, to);
    const w = { from, to, bucketSeconds };
    const after = q.cursor ? decodeCursor(q.cursor) : null;
    // The first page of responses reads only the newest buckets of the histogram that hold it.
    const factsAndItems = this.analytics.impactFacts(projectId, filter, w).then(async (f) => [f, await this.analytics.impactItems(projectId, filter, w, { limit: q.limit + 1, after }, f.histogram)] as const);
    const [[facts, items], evaluations, out, inbound, derived] = await Promise.all([
      factsAndItems,
      this.analytics.evaluationsFor(projectId, filter, w),
      start ? this.graph.walk(projectId, start, { direction: 'out', maxDepth: MAX_WALK, limit: 5000 }) : Promise.resolve([]),
      start ? this.graph.walk(projectId, start, { direction: 'in', maxDepth: MAX_WALK, limit: 5000 }) : Promise.resolve([]),
      start && (start.kind === 'PromptVersion' || start.kind === 'AliasMove' || start.kind === 'Dataset') ? this.derivedVersions(projectId, start, w) : Promise.resolve([]),
    ]);
    if (facts.responses === 0 && out.length === 0 && inbound.length === 0 && evaluations.length === 0 && !('registered' in target && target.registered) && target.kind !== 'aliasMove') {
      throw new NotFoundError(`nothing has been seen of ${describe(target)}`);
    }
    const paths = new Map<string, WalkHit>();
    for (const hit of [...out, ...inbound]) {
      const key = `${hit.entity.kind}${entityKey(hit.entity.parts)}`;
      const had = paths.get(key);
      if (!had || hit.depth < had.depth) paths.set(key, hit);
    }
    const connect = (ref: EntityRef | null): Connection => {
      const hit = ref ? paths.get(`${ref.kind}${entityKey(ref.parts)}`) : undefined;
      if (hit) return { via: 'graph', path: hit.path.map(step) };
      return { via: 'responses', path: [] };
    };
    const page = items.slice(0, q.limit);
    const last = page.at(-1);
    return {
      target,
      window: { from: from.toISOString(), to: to.toISOString() },
      responses: {
        count: facts.responses,
        bucketSeconds,
        histogram: facts.histogram,
        items: page,
        nextCursor: items.length > q.limit && last ? encodeCursor({ timestamp: last.timestamp, traceId: last.traceId, spanId: last.spanId }) : null,
      },
      apps: facts.apps.map((a) => ({ ...a, ...connect(entity('AppVersion', a.name, a.version)) })),
      services: facts.services.map((s) => ({ ...s, via: 'responses' as const, path: [] })),
      conversations: facts.conversations,
      promptVersions: facts.promptVersions.map((p) => ({ ...p, ...connect(entity('PromptVersion', p.name, p.version)) })),
      models: facts.models.map((m) => ({ ...m, ...connect(entity('Model', m.provider, m.name)) })),
      datasets: facts.datasets.map((d) => ({ ...d, ...connect(entity('Dataset', d.id)) })),
      evaluations: evaluations.map((e: EvaluationSummary) => ({ ...e, ...connect(entity('EvalRun', e.runId)) })),
      derivedVersions: derived,
      firstSeen: facts.firstSeen,
      lastSeen: facts.lastSeen,
    };
  }

  /**
   * Versions registered from this one, directly, through others, or through an optimizer run it
   * seeded; from a dataset, the versions optimizer runs trained on it produced, and theirs (bounded).
   * The nearest MAX_COUNTED have their own responses in the window counted.
   */
  private async derivedVersions(projectId: string, start: EntityRef, w: ImpactWindow) {
    const roots: EntityRef[] = start.kind === 'AliasMove' ? (await this.graph.edgesOf(projectId, start, 'out')).filter((e) => e.rel === 'MOVED_TO').map((e) => e.to) : [start];
    const found: Array<{ name: string; version: string; depth: number; via: 'graph'; path: PathStep[] }> = [];
    for (const root of roots) {
      for (const hit of await this.graph.walk(projectId, root, { direction: 'in', maxDepth: MAX_WALK, rels: DERIVATION_RELS, limit: 1000 })) {
        if (hit.entity.kind !== 'PromptVersion') continue;
        found.push({ name: hit.entity.parts[0]!, version: hit.entity.parts[1]!, depth: hit.depth, via: 'graph', path: hit.path.map(step) });
      }
    }
    found.sort((a, b) => a.depth - b.depth || a.name.localeCompare(b.name) || Number(a.version) - Number(b.version));
    // The nearest MAX_COUNTED, counted in one read per prompt.
    const counted = found.slice(0, MAX_COUNTED);
    const counts = new Map<string, { count: number; firstSeen: string | null; lastSeen: string | null }>();
    for (const name of new Set(counted.map((d) => d.name))) {
      const versions = [...new Set(counted.filter((d) => d.name === name).map((d) => d.version))];
      for (const c of await this.analytics.versionCounts(projectId, name, versions, w)) counts.set(`${name}\u0000${c.version}`, c);
    }
    return found.map((d, i) => {
      const c = i < MAX_COUNTED ? counts.get(`${d.name}\u0000${d.version}`) : undefined;
      return { ...d, count: c ? c.count : null, firstSeen: c?.firstSeen ?? null, lastSeen: c?.lastSeen ?? null };
    });
  }

  private async resolveTarget(projectId: string, q: ImpactQuery): Promise<{ filter: ImpactFilter; target: ImpactTarget; start: EntityRef | null; window: { from: Date; to: Date } }> {
    const from = q.from ?? new Date(0);
    const to = q.to ?? new Date(Date.now() + 3_600_000);
    const given = [q.prompt !== undefined, q.dataset !== undefined, q.model !== undefined, q.app !== undefined].filter(Boolean).length;
    if (given !== 1) throw new BadRequestError('start from exactly one of prompt (with version or alias), dataset, model, or app (with app_version)');

    if (q.prompt !== undefined) {
      let name = q.prompt;
      let version = q.version;
      let alias = q.alias;
      if (name.startsWith('prompts:/')) {
        const ref = parsePromptUri(name);
        name = ref.name;
        if (ref.version !== undefined) version = ref.version;
        else alias = ref.alias;
      }
      if ((version === undefined) === (alias === undefined)) throw new BadRequestError('with prompt, give either version or alias');
      if (alias === 'latest') version = (await this.registry.getVersion(projectId, name, 'latest')).version;
      if (version !== undefined) {
        const status = await this.registry.registrationStatus(projectId, { name, version: String(version), templateHash: '' });
        return {
          filter: { kind: 'promptVersion', name, version: String(version) },
          target: { kind: 'promptVersion', name, version, registered: status.status === 'registered', commitMessage: status.version?.commitMessage ?? null, author: status.version?.author ?? null },
          start: entity('PromptVersion', name, String(version)),
          window: { from, to },
        };
      }
      const history = await this.registry.aliasHistory(projectId, name, alias!);
      const index = q.move === undefined ? history.length - 1 : history.findIndex((m) => m.seq === q.move);
      if (index < 0) throw new NotFoundError(`alias ${alias} of prompt ${name} has no move ${q.move}`);
      const move = history[index]!;
      const next = history[index + 1];
      const versions = move.to.split ? move.to.split.arms.map((a) => a.version) : [move.to.version];
      const moveFrom = new Date(Math.max(move.at.getTime(), from.getTime()));
      const moveTo = next ? new Date(Math.min(next.at.getTime(), to.getTime())) : to;
      return {
        filter: { kind: 'aliasMove', name, alias: alias!, versions: versions.map(String), from: move.at, to: next?.at ?? null },
        target: { kind: 'aliasMove', name, alias: alias!, move: moveView(move), until: next ? next.at.toISOString() : null, versions },
        start: entity('AliasMove', name, alias!, String(move.seq)),
        window: { from: moveFrom, to: moveTo > moveFrom ? moveTo : new Date(moveFrom.getTime() + 1) },
      };
    }
    if (q.dataset !== undefined) return { filter: { kind: 'dataset', id: q.dataset }, target: { kind: 'dataset', id: q.dataset }, start: entity('Dataset', q.dataset), window: { from, to } };
    if (q.model !== undefined) {
      return {
        filter: { kind: 'model', name: q.model, provider: q.provider },
        target: { kind: 'model', name: q.model, provider: q.provider ?? null },
        start: q.provider !== undefined ? entity('Model', q.provider, q.model) : null,
        window: { from, to },
      };
    }
    if (q.appVersion === undefined) throw new BadRequestError('with app, give app_version');
    return { filter: { kind: 'appVersion', name: q.app!, version: q.appVersion }, target: { kind: 'appVersion', name: q.app!, version: q.appVersion }, start: entity('AppVersion', q.app!, q.appVersion), window: { from, to } };
  }
}

function step(e: Edge): PathStep {
  return { from: { kind: e.from.kind, parts: e.from.parts }, rel: e.rel, to: { kind: e.to.kind, parts: e.to.parts } };
}

function describe(t: ImpactTarget): string {
  switch (t.kind) {
    case 'promptVersion':
      return `prompt ${t.name} version ${t.version}`;
    case 'aliasMove':
      return `alias ${t.alias} of ${t.name}`;
    case 'dataset':
      return `dataset ${t.id}`;
    case 'model':
      return `model ${t.provider ? `${t.provider}/` : ''}${t.name}`;
    case 'appVersion':
      return `app ${t.name} version ${t.version}`;
  }
}

/** About 60 buckets over the window, at a round size. */
function pickBucket(from: Date, to: Date): number {
  const span = Math.max(1, (to.getTime() - from.getTime()) / 1000);
  if (from.getTime() === 0) return 3600;
  return BUCKETS.find((b) => span / b <= 120) ?? 30 * 86400;
}

