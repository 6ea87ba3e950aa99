import type { DecodedSpan } from '../domain/span.ts';
import { OWN_APP, OWN_CONVERSATION, OWN_DATASETS, OWN_MODEL, OWN_PROMPT, type LineageFixup, type ResolvedSpan, type StoredNode } from '../domain/stored-span.ts';
import { sameResolved, type AppRef, type OwnLineage, type ResolvedLineage } from '../domain/lineage.ts';

// Lineage set on a parent span (an agent step) applies to its descendants in the same trace.
//
// Spans do not arrive in tree order: an SDK exports a span when it ends, so a child (the LLM call)
// usually reaches the collector before its parent (the agent step that carried the prompt), often
// in an earlier request. The resolver keeps the shape and lineage of recent traces in a bounded
// cache; when a parent arrives after its descendants were stored, it recomputes them and returns
// "fixups": new revisions of those rows that the span store writes over the old ones. On a cache
// miss (a restart, an evicted or an old trace) it loads the trace's stored nodes first, so the
// answer does not depend on arrival order or on the process that received the spans.

export type Inheritable = Pick<OwnLineage, 'prompt' | 'model' | 'responseId' | 'datasetIds' | 'app' | 'conversationId'>;

export interface ResolvedBatch {
  spans: ResolvedSpan[];
  fixups: LineageFixup[];
}

/** Loads the stored nodes of the given traces (those not in the cache). */
export type StoredNodeLoader = (projectId: string, traceIds: string[]) => Promise<StoredNode[]>;

interface Node {
  spanId: string;
  parentSpanId: string;
  own: Inheritable;
  resolved: ResolvedLineage | null;
  revision: number;
  /** True once a row for it is in the store (from an earlier batch or loaded from it). */
  stored: boolean;
  startMs: number;
}

interface TraceState {
  nodes: Map<string, Node>;
}

export function ownMaskOf(own: Inheritable): number {
  return (
    (own.prompt ? OWN_PROMPT : 0) |
    (own.model ? OWN_MODEL : 0) |
    (own.datasetIds.length > 0 ? OWN_DATASETS : 0) |
    (own.conversationId ? OWN_CONVERSATION : 0) |
    (own.app.name || own.app.version ? OWN_APP : 0)
  );
}

function ownFromStored(n: StoredNode): Inheritable {
  const r = n.resolved;
  return {
    prompt: n.ownMask & OWN_PROMPT ? r.prompt : null,
    model: n.ownMask & OWN_MODEL ? r.model : null,
    responseId: r.responseId,
    datasetIds: n.ownMask & OWN_DATASETS ? r.datasetIds : [],
    app: n.ownMask & OWN_APP ? r.app : { name: '', version: '' },
    conversationId: n.ownMask & OWN_CONVERSATION ? r.conversationId : '',
  };
}

/** A span's own lineage over what it inherits from its parent's resolved lineage. */
export function inherit(spanId: string, own: Inheritable, parent: ResolvedLineage | null): ResolvedLineage {
  return {
    prompt: own.prompt ?? parent?.prompt ?? null,
    promptSpanId: own.prompt ? spanId : parent?.prompt ? parent.promptSpanId : '',
    model: own.model ?? parent?.model ?? null,
    responseId: own.responseId,
    datasetIds: own.datasetIds.length > 0 ? own.datasetIds : (parent?.datasetIds ?? []),
    app: inheritApp(own.app, parent?.app),
    conversationId: own.conversationId || (parent?.conversationId ?? ''),
  };
}

/**
 * A span's resource usually names its app (service.name). Where it does not, the app an ancestor
 * named (gen_ai.agent.name on an invoke_agent span, say) applies, as prompts do.
 */
function inheritApp(own: AppRef, parent: AppRef | undefined): AppRef {
  if (!parent || (own.name && own.version)) return own;
  if (!own.name && !own.version) return parent;
  if (!own.name) return { name: parent.name, version: own.version };
  return own.name === parent.name ? { name: own.name, version: parent.version } : own;
}

const cacheKey = (projectId: string, traceId: string) => `${projectId}\u0000${traceId}`;

export class LineageResolver {
  private readonly traces = new Map<string, TraceState>();
  private cachedNodes = 0;
  private readonly maxCachedNodes: number;
  private readonly load: StoredNodeLoader;

  constructor(opts: { load: StoredNodeLoader; maxCachedNodes?: number }) {
    this.load = opts.load;
    this.maxCachedNodes = opts.maxCachedNodes ?? 200_000;
  }

  /** Drops what the cache holds of these traces; the next batch of them loads from the store. */
  forget(projectId: string, traceIds: Iterable<string>): void {
    for (const traceId of traceIds) {
      const key = cacheKey(projectId, traceId);
      const state = this.traces.get(key);
      if (!state) continue;
      this.cachedNodes -= state.nodes.size;
      this.traces.delete(key);
    }
  }

  get cachedNodeCount(): number {
    return this.cachedNodes;
  }

  /** Resolves one batch of a project's spans; fixups name rows stored earlier that must change. */
  async resolve(projectId: string, batch: Array<{ span: DecodedSpan; own: OwnLineage }>): Promise<ResolvedBatch> {
    const byTrace = new Map<string, Array<{ span: DecodedSpan; own: OwnLineage }>>();
    for (const item of batch) {
      let list = byTrace.get(item.span.traceId);
      if (!list) byTrace.set(item.span.traceId, (list = []));
      list.push(item);
    }

    const missing = [...byTrace.keys()].filter((t) => !this.traces.has(cacheKey(projectId, t)));
    if (missing.length > 0) {
      const stored = await this.load(projectId, missing);
      for (const traceId of missing) this.traces.set(cacheKey(projectId, traceId), { nodes: new Map() });
      for (const s of stored) {
        const state = this.traces.get(cacheKey(projectId, s.traceId));
        if (!state || state.nodes.has(s.spanId)) continue;
        state.nodes.set(s.spanId, { spanId: s.spanId, parentSpanId: s.parentSpanId, own: ownFromStored(s), resolved: s.resolved, revision: s.revision, stored: true, startMs: s.startMs });
        this.cachedNodes++;
      }
    }

    const out: ResolvedBatch = { spans: [], fixups: [] };
    for (const [traceId, items] of byTrace) {
      const state = this.touch(cacheKey(projectId, traceId));
      const fresh = new Map<string, { span: DecodedSpan; own: OwnLineage; revision: number }>();
      for (const item of items) {
        const previous = state.nodes.get(item.span.spanId);
        // A span sent again (a replay or a client retry) is written again as a newer revision.
        const revision = previous ? previous.revision + 1 : 0;
        if (!previous) this.cachedNodes++;
        state.nodes.set(item.span.spanId, { spanId: item.span.spanId, parentSpanId: item.span.parentSpanId, own: item.own, resolved: null, revision, stored: false, startMs: Number(item.span.startTimeUnixNano / 1_000_000n) });
        fresh.set(item.span.spanId, { ...item, revision });
      }
      this.recompute(traceId, state, fresh, out);
    }
    this.evict();
    return out;
  }

  /** Resolves every node of the trace from its roots down, and reports what changed. */
  private recompute(traceId: string, state: TraceState, fresh: Map<string, { span: DecodedSpan; own: OwnLineage; revision: number }>, out: ResolvedBatch): void {
    const children = new Map<string, Node[]>();
    const roots: Node[] = [];
    for (const node of state.nodes.values()) {
      const parent = node.parentSpanId ? state.nodes.get(node.parentSpanId) : undefined;
      // A parent not (yet) seen makes its child a root for now; the child is fixed when it arrives.
      if (!parent || parent === node) roots.push(node);
      else {
        let list = children.get(parent.spanId);
        if (!list) children.set(parent.spanId, (list = []));
        list.push(node);
      }
    }
    const visited = new Set<string>();
    const stack: Array<{ node: Node; parent: ResolvedLineage | null }> = roots.map((node) => ({ node, parent: null }));
    while (stack.length > 0) {
      const { node, parent } = stack.pop()!;
      if (visited.has(node.spanId)) continue; // a cycle from hostile parent ids
      visited.add(node.spanId);
      const next = inherit(node.spanId, node.own, parent);
      const incoming = fresh.get(node.spanId);
      if (incoming) {
        out.spans.push({ span: incoming.span, own: incoming.own, resolved: next, ownMask: ownMaskOf(incoming.own), revision: incoming.revision });
        node.stored = true;
      } else if (node.stored && node.resolved && !sameResolved(node.resolved, next)) {
        node.revision += 1;
        out.fixups.push({ traceId, spanId: node.spanId, resolved: next, ownMask: ownMaskOf(node.own), revision: node.revision, startMs: node.startMs });
      }
      node.resolved = next;
      for (const child of children.get(node.spanId) ?? []) stack.push({ node: child, parent: next });
    }
    // Nodes on a parent cycle are unreachable from any root: resolve them from their own lineage.
    for (const [spanId, incoming] of fresh) {
      if (visited.has(spanId)) continue;
      const node = state.nodes.get(spanId)!;
      node.resolved = inherit(spanId, node.own, null);
      node.stored = true;
      out.spans.push({ span: incoming.span, own: incoming.own, resolved: node.resolved, ownMask: ownMaskOf(incoming.own), revision: incoming.revision });
    }
  }

  private touch(key: string): TraceState {
    const state = this.traces.get(key)!;
    this.traces.delete(key);
    this.traces.set(key, state);
    return state;
  }

  /** Drops the least recently touched traces once the cache holds more nodes than allowed. */
  private evict(): void {
    for (const [key, state] of this.traces) {
      if (this.cachedNodes <= this.maxCachedNodes) break;
      this.traces.delete(key);
      this.cachedNodes -= state.nodes.size;
    }
  }
}
