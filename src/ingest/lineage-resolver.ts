import type { DecodedSpan } from '../domain/span.ts';
import { OWN_APP, OWN_CONVERSATION, OWN_DATASETS, OWN_MODEL, OWN_PROMPT, type LineageFixup, type ResolvedSpan, type StoredNode } from '../domain/stored-span.ts';
import { sameResolved, type AppRef, type OwnLineage, type PromptRef, type ResolvedLineage } from '../domain/lineage.ts';

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
  /** What its stored row holds (or will, once its batch is written). */
  resolved: ResolvedLineage | null;
  revision: number;
  /** True once a row for it is in the store (from an earlier batch or loaded from it). */
  stored: boolean;
  startMs: number;
  /** What it is counted as in the cache's byte budget (nodeBytes). */
  bytes: number;
}

interface TraceState {
  nodes: Map<string, Node>;
  bytes: number;
}

// The cache's byte budget counts an estimate of what each node holds: two bytes a character of every
// id and name in its own and its resolved lineage (shared strings counted each time), and a fixed
// amount for the node, its ids and its entries.
const NODE_BYTES = 320;
const textBytes = (s: string): number => 2 * s.length;

function lineageBytes(l: Inheritable | ResolvedLineage | null): number {
  if (l === null) return 0;
  let n = textBytes(l.responseId) + textBytes(l.conversationId) + textBytes(l.app.name) + textBytes(l.app.version);
  if (l.prompt) n += textBytes(l.prompt.name) + textBytes(l.prompt.version) + textBytes(l.prompt.alias) + textBytes(l.prompt.templateHash);
  if (l.model) n += textBytes(l.model.name) + textBytes(l.model.provider);
  for (const d of l.datasetIds) n += textBytes(d);
  return n;
}

const nodeBytes = (own: Inheritable, resolved: ResolvedLineage | null): number => NODE_BYTES + lineageBytes(own) + lineageBytes(resolved);

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

/**
 * One prompt's fields completed from another's: each field the first lacks is taken from the
 * second, unless the two disagree on a field both have (then they are two different prompts, and
 * nothing is mixed). OpenInference puts the version (and template) on the LLM span and the app the
 * name (prompt.id) on a parent span: together they name one prompt version.
 */
export function completePrompt(own: PromptRef, other: PromptRef | null | undefined): PromptRef {
  if (!other || disagree(own, other)) return own;
  return {
    name: own.name || other.name,
    version: own.version || other.version,
    alias: own.alias || other.alias,
    templateHash: own.templateHash || other.templateHash,
  };
}

const PROMPT_FIELDS = ['name', 'version', 'alias', 'templateHash'] as const;
const disagree = (a: PromptRef, b: PromptRef): boolean => PROMPT_FIELDS.some((f) => a[f] !== '' && b[f] !== '' && a[f] !== b[f]);

/**
 * The prompt a span's siblings name, when exactly one is named among them: LangChain runs the
 * prompt template as a span of its own beside the LLM call, so the LLM span's version finds its
 * template (and name, where the template span has one) there.
 */
export function siblingPrompt(siblings: readonly { own: Inheritable }[]): PromptRef | null {
  let found: PromptRef | null = null;
  for (const s of siblings) {
    const p = s.own.prompt;
    if (!p || (!p.name && !p.templateHash)) continue;
    if (found && (found.name !== p.name || found.templateHash !== p.templateHash)) return null;
    found ??= p;
  }
  return found;
}

function inheritPrompt(own: PromptRef | null, parent: PromptRef | null, sibling: PromptRef | null): PromptRef | null {
  if (!own) return parent;
  // A prompt that disagrees with its ancestors' is another prompt: it takes nothing from the trace.
  if (parent && disagree(own, parent)) return own;
  return completePrompt(completePrompt(own, parent), sibling);
}

/**
 * A span's own lineage over what it inherits from its parent's resolved lineage. A prompt is
 * inherited field by field (completePrompt), from its ancestors first, then from the one prompt
 * its siblings name (siblingPrompt).
 */
export function inherit(spanId: string, own: Inheritable, parent: ResolvedLineage | null, sibling: PromptRef | null = null): ResolvedLineage {
  return {
    prompt: inheritPrompt(own.prompt, parent?.prompt ?? null, sibling),
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
const keyParts = (key: string): [string, string] => {
  const at = key.lastIndexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
};

/** Fixups a project's stored rows need, from a step that settles traces left unsettled. */
export interface ProjectFixups {
  projectId: string;
  fixups: LineageFixup[];
}

/**
 * The cache holds at most `maxCachedNodes` nodes and `maxCachedBytes` bytes of them (an estimate,
 * nodeBytes): past either, the least recently touched traces are dropped, and a trace dropped is
 * loaded from the store again when its next span arrives.
 *
 * A late span can change the lineage of every stored descendant. One resolve rewrites at most
 * `fixupBudget` stored rows: the rest of a trace keeps, for now, the lineage it has in the store,
 * and the trace stays unsettled; `settle` rewrites the next rows of unsettled traces, a bounded
 * step at a time, taking them in turn, until each matches its ancestors. A trace dropped from the
 * cache before it is settled is settled when its next span arrives (its stored rows are loaded
 * and compared again).
 */
export class LineageResolver {
  private readonly traces = new Map<string, TraceState>();
  private cachedNodes = 0;
  private cachedBytes = 0;
  private readonly maxCachedNodes: number;
  private readonly maxCachedBytes: number;
  private readonly load: StoredNodeLoader;
  /** Traces with rows still to rewrite, in the order settle takes them up. */
  private readonly unsettled = new Set<string>();

  constructor(opts: { load: StoredNodeLoader; maxCachedNodes?: number; maxCachedBytes?: number }) {
    this.load = opts.load;
    this.maxCachedNodes = opts.maxCachedNodes ?? 200_000;
    this.maxCachedBytes = opts.maxCachedBytes ?? 64 * 1024 * 1024;
  }

  /** Drops what the cache holds of these traces; the next batch of them loads from the store. */
  forget(projectId: string, traceIds: Iterable<string>): void {
    for (const traceId of traceIds) this.drop(cacheKey(projectId, traceId));
  }

  get cachedNodeCount(): number {
    return this.cachedNodes;
  }

  get cachedByteCount(): number {
    return this.cachedBytes;
  }

  /** Traces whose stored rows are not all rewritten yet (settle does the rest). */
  get unsettledTraces(): number {
    return this.unsettled.size;
  }

  /**
   * Resolves one batch of a project's spans; fixups name rows stored earlier that must change, at
   * most `fixupBudget` of them (the rest are left to `settle`).
   */
  async resolve(projectId: string, batch: Array<{ span: DecodedSpan; own: OwnLineage }>, fixupBudget = Infinity): Promise<ResolvedBatch> {
    const byTrace = new Map<string, Array<{ span: DecodedSpan; own: OwnLineage }>>();
    for (const item of batch) {
      let list = byTrace.get(item.span.traceId);
      if (!list) byTrace.set(item.span.traceId, (list = []));
      list.push(item);
    }

    const missing = [...byTrace.keys()].filter((t) => !this.traces.has(cacheKey(projectId, t)));
    if (missing.length > 0) {
      const stored = await this.load(projectId, missing);
      for (const traceId of missing) this.traces.set(cacheKey(projectId, traceId), { nodes: new Map(), bytes: 0 });
      for (const s of stored) {
        const state = this.traces.get(cacheKey(projectId, s.traceId));
        if (!state || state.nodes.has(s.spanId)) continue;
        const own = ownFromStored(s);
        this.add(state, { spanId: s.spanId, parentSpanId: s.parentSpanId, own, resolved: s.resolved, revision: s.revision, stored: true, startMs: s.startMs, bytes: nodeBytes(own, s.resolved) });
      }
    }

    const out: ResolvedBatch = { spans: [], fixups: [] };
    const budget = { left: fixupBudget };
    for (const [traceId, items] of byTrace) {
      const key = cacheKey(projectId, traceId);
      const state = this.touch(key);
      const fresh = new Map<string, { span: DecodedSpan; own: OwnLineage; revision: number }>();
      for (const item of items) {
        const previous = state.nodes.get(item.span.spanId);
        // A span sent again (a replay or a client retry) is written again as a newer revision.
        const revision = previous ? previous.revision + 1 : 0;
        if (previous) this.remove(state, previous);
        this.add(state, { spanId: item.span.spanId, parentSpanId: item.span.parentSpanId, own: item.own, resolved: null, revision, stored: false, startMs: Number(item.span.startTimeUnixNano / 1_000_000n), bytes: nodeBytes(item.own, null) });
        fresh.set(item.span.spanId, { ...item, revision });
      }
      if (this.recompute(traceId, state, fresh, out, budget)) this.unsettled.add(key);
    }
    this.evict();
    return out;
  }

  /**
   * One bounded step over the unsettled traces: at most `fixupBudget` rows rewritten in all, the
   * traces taken in turn (one left unsettled goes to the back), grouped by project.
   */
  settle(fixupBudget: number): ProjectFixups[] {
    const byProject = new Map<string, LineageFixup[]>();
    const budget = { left: fixupBudget };
    for (const key of [...this.unsettled]) {
      if (budget.left <= 0) break;
      this.unsettled.delete(key);
      const state = this.traces.get(key);
      if (!state) continue;
      const [projectId, traceId] = keyParts(key);
      const out: ResolvedBatch = { spans: [], fixups: [] };
      if (this.recompute(traceId, state, new Map(), out, budget)) this.unsettled.add(key);
      if (out.fixups.length === 0) continue;
      let list = byProject.get(projectId);
      if (!list) byProject.set(projectId, (list = []));
      for (const f of out.fixups) list.push(f);
    }
    return [...byProject].map(([projectId, fixups]) => ({ projectId, fixups }));
  }

  /**
   * Resolves every node of the trace from its roots down, and reports what changed: the batch's
   * spans, and fixups of stored rows while the budget lasts. Answers whether stored rows were left
   * unrewritten for want of budget.
   */
  private recompute(
    traceId: string,
    state: TraceState,
    fresh: Map<string, { span: DecodedSpan; own: OwnLineage; revision: number }>,
    out: ResolvedBatch,
    budget: { left: number },
  ): boolean {
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
    let deferred = false;
    const visited = new Set<string>();
    const stack: Array<{ node: Node; parent: ResolvedLineage | null; sibling: PromptRef | null }> = roots.map((node) => ({ node, parent: null, sibling: null }));
    while (stack.length > 0) {
      const { node, parent, sibling } = stack.pop()!;
      if (visited.has(node.spanId)) continue; // a cycle from hostile parent ids
      visited.add(node.spanId);
      const next = inherit(node.spanId, node.own, parent, sibling);
      const incoming = fresh.get(node.spanId);
      if (incoming) {
        out.spans.push({ span: incoming.span, own: incoming.own, resolved: next, ownMask: ownMaskOf(incoming.own), revision: incoming.revision });
        node.stored = true;
        this.setResolved(state, node, next);
      } else if (node.stored && node.resolved && !sameResolved(node.resolved, next)) {
        if (budget.left > 0) {
          budget.left--;
          node.revision += 1;
          out.fixups.push({ traceId, spanId: node.spanId, resolved: next, ownMask: ownMaskOf(node.own), revision: node.revision, startMs: node.startMs });
          this.setResolved(state, node, next);
        } else {
          // Past the budget: the row keeps what it has, and the node says so, until a later step.
          deferred = true;
        }
      } else this.setResolved(state, node, next);
      // Descendants inherit what the node should have, rewritten yet or not.
      const kids = children.get(node.spanId) ?? [];
      const named = kids.length > 1 ? siblingPrompt(kids) : null;
      for (const child of kids) stack.push({ node: child, parent: next, sibling: named });
    }
    // Nodes on a parent cycle are unreachable from any root: resolve them from their own lineage.
    for (const [spanId, incoming] of fresh) {
      if (visited.has(spanId)) continue;
      const node = state.nodes.get(spanId)!;
      this.setResolved(state, node, inherit(spanId, node.own, null));
      node.stored = true;
      out.spans.push({ span: incoming.span, own: incoming.own, resolved: node.resolved!, ownMask: ownMaskOf(incoming.own), revision: incoming.revision });
    }
    return deferred;
  }

  private add(state: TraceState, node: Node): void {
    state.nodes.set(node.spanId, node);
    state.bytes += node.bytes;
    this.cachedNodes++;
    this.cachedBytes += node.bytes;
  }

  private remove(state: TraceState, node: Node): void {
    state.nodes.delete(node.spanId);
    state.bytes -= node.bytes;
    this.cachedNodes--;
    this.cachedBytes -= node.bytes;
  }

  private setResolved(state: TraceState, node: Node, resolved: ResolvedLineage): void {
    node.resolved = resolved;
    const bytes = nodeBytes(node.own, resolved);
    state.bytes += bytes - node.bytes;
    this.cachedBytes += bytes - node.bytes;
    node.bytes = bytes;
  }

  private drop(key: string): void {
    const state = this.traces.get(key);
    if (!state) return;
    this.cachedNodes -= state.nodes.size;
    this.cachedBytes -= state.bytes;
    this.traces.delete(key);
    this.unsettled.delete(key);
  }

  private touch(key: string): TraceState {
    const state = this.traces.get(key)!;
    this.traces.delete(key);
    this.traces.set(key, state);
    return state;
  }

  /** Drops the least recently touched traces once the cache holds more nodes, or more bytes, than allowed. */
  private evict(): void {
    for (const key of this.traces.keys()) {
      if (this.cachedNodes <= this.maxCachedNodes && this.cachedBytes <= this.maxCachedBytes) break;
      this.drop(key);
    }
  }
}
