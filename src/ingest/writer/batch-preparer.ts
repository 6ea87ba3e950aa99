import type { EdgeObservation } from '../../domain/graph.ts';
import type { OwnLineage } from '../../domain/lineage.ts';
import type { DecodedSpan } from '../../domain/span.ts';
import type { LineageFixup } from '../../domain/stored-span.ts';
import type { EvaluationRow } from '../../storage/span-analytics.ts';
import type { EncodedSpans, SpanEncoder } from '../../storage/span-store.ts';
import { evaluationEdges, evaluationsOf } from '../evaluations.ts';
import { edgesOfBatch } from '../graph-edges.ts';
import { LineageResolver, type ResolvedBatch, type StoredNodeLoader } from '../lineage-resolver.ts';
import { readOwnLineage } from '../normalizer.ts';
import { RegistrationMarker, type ClassifyPrompt } from './registration.ts';
import { STORE_CALLS, type StoreCall } from './store-retry.ts';
import type { DecodedRecord } from './write-queue.ts';

// What a batch needs before the stores take it, project by project: its spans' lineage resolved
// (over what earlier batches stored), prompts classified, evaluations and graph edges collected,
// and its rows encoded. A batch rewrites at most maxFixupsPerBatch stored rows whose inherited
// lineage changed; the rest are rewritten by settlement steps between batches, each as bounded
// (prepareSettlement). It runs in the writer's preparation thread (prepare-worker.ts): what it
// returns is plain data and bytes, and the stores are reached through `load` and `classify`.

/** A project's part of a prepared batch, as it crosses back to the writer. */
export interface PreparedProject {
  projectId: string;
  /** New spans (each a row of `encoded`). */
  spans: number;
  fixups: LineageFixup[];
  evaluations: EvaluationRow[];
  edges: EdgeObservation[];
  encoded: EncodedSpans;
}

export interface PreparedParts {
  projects: PreparedProject[];
  prepareMs: number;
}

/** Runs a store call for the preparer; failures come out as the writer's retry made them. */
export type PreparerCall = <T>(call: StoreCall, fn: () => Promise<T>) => Promise<T>;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class BatchPreparer {
  private readonly call: PreparerCall;
  private readonly encode: SpanEncoder;
  private readonly registration: RegistrationMarker | null;
  private readonly collectEvaluations: boolean;
  private readonly resolver: LineageResolver;
  private readonly maxFixupsPerBatch: number;

  constructor(o: {
    load: StoredNodeLoader;
    classify: ClassifyPrompt | null;
    encode: SpanEncoder;
    call: PreparerCall;
    collectEvaluations: boolean;
    resolverCacheBytes: number;
    maxFixupsPerBatch: number;
  }) {
    this.call = o.call;
    this.encode = o.encode;
    this.registration = o.classify ? new RegistrationMarker(o.classify) : null;
    this.collectEvaluations = o.collectEvaluations;
    this.maxFixupsPerBatch = o.maxFixupsPerBatch;
    this.resolver = new LineageResolver({ load: o.load, maxCachedBytes: o.resolverCacheBytes });
  }

  /** Traces with stored rows still to rewrite (a settlement step's work). */
  get unsettledTraces(): number {
    return this.resolver.unsettledTraces;
  }

  /** From here on the resolver takes the batch's spans as stored (until `forget`). */
  async prepare(records: ReadonlyArray<DecodedRecord | null>): Promise<PreparedParts> {
    const t0 = performance.now();
    const byProject = new Map<string, Array<{ span: DecodedSpan; own: OwnLineage }>>();
    for (const decoded of records) {
      if (!decoded) continue;
      let list = byProject.get(decoded.projectId);
      if (!list) byProject.set(decoded.projectId, (list = []));
      for (const span of decoded.export.spans) list.push({ span, own: readOwnLineage(span) });
    }
    const projects: PreparedProject[] = [];
    let fixupBudget = this.maxFixupsPerBatch;
    for (const [projectId, items] of byProject) {
      const resolved = await this.call(STORE_CALLS.resolveLineage, () => this.resolver.resolve(projectId, items, fixupBudget));
      fixupBudget -= resolved.fixups.length;
      projects.push(await this.project(projectId, resolved));
      await yieldToEventLoop();
    }
    return { projects, prepareMs: performance.now() - t0 };
  }

  /**
   * The next settlement step: at most maxFixupsPerBatch stored rows of unsettled traces, taken in
   * turn (resolver.settle), as a batch with fixups only; null when every trace is settled.
   */
  async prepareSettlement(): Promise<{ batch: PreparedParts; traces: Array<{ projectId: string; traceIds: string[] }> } | null> {
    const t0 = performance.now();
    const step = this.resolver.settle(this.maxFixupsPerBatch);
    if (step.length === 0) return null;
    const traces = step.map(({ projectId, fixups }) => ({ projectId, traceIds: [...new Set(fixups.map((f) => f.traceId))] }));
    const projects: PreparedProject[] = [];
    try {
      for (const { projectId, fixups } of step) projects.push(await this.project(projectId, { spans: [], fixups }));
    } catch (err) {
      // The resolver took these rewrites as made: it must compare with the store again instead.
      this.forgetTraces(traces);
      throw err;
    }
    return { batch: { projects, prepareMs: performance.now() - t0 }, traces };
  }

  /** These traces' rewrites or spans did not reach the store: the next span of each loads what is there and compares again. */
  forgetTraces(traces: ReadonlyArray<{ projectId: string; traceIds: Iterable<string> }>): void {
    for (const { projectId, traceIds } of traces) this.resolver.forget(projectId, traceIds);
  }

  private async project(projectId: string, resolved: ResolvedBatch): Promise<PreparedProject> {
    const registration = this.registration;
    if (registration) await this.call(STORE_CALLS.classifyPrompts, () => registration.mark(projectId, resolved));
    const evaluations = this.collectEvaluations ? evaluationsOf(resolved.spans) : [];
    const edges = [...edgesOfBatch(resolved), ...evaluationEdges(evaluations)];
    const encoded = await this.call(STORE_CALLS.stageSpans, () => this.encode(projectId, resolved.spans));
    return { projectId, spans: resolved.spans.length, fixups: resolved.fixups, evaluations, edges, encoded };
  }
}
