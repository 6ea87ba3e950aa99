import type { EdgeObservation } from '../../domain/graph.ts';
import type { OwnLineage } from '../../domain/lineage.ts';
import type { DecodedSpan } from '../../domain/span.ts';
import type { EvaluationRow } from '../../storage/span-analytics.ts';
import type { SpanSink, StagedSpans } from '../../storage/span-store.ts';
import { evaluationEdges, evaluationsOf } from '../evaluations.ts';
import { edgesOfBatch } from '../graph-edges.ts';
import { LineageResolver, type ResolvedBatch } from '../lineage-resolver.ts';
import { readOwnLineage } from '../normalizer.ts';
import type { BatchRecord } from './batch.ts';
import type { RegistrationMarker } from './registration.ts';
import { STORE_CALLS, type StoreRetry } from './store-retry.ts';

// What a batch needs before the stores take it, project by project: its spans' lineage resolved
// (over what earlier batches stored), prompts classified, evaluations and graph edges collected,
// and its spans staged in the span store. A batch rewrites at most maxFixupsPerBatch stored rows
// whose inherited lineage changed; the rest are rewritten by settlement steps between batches,
// each as bounded (prepareSettlement).

interface PreparedProject {
  projectId: string;
  resolved: ResolvedBatch;
  evaluations: EvaluationRow[];
  edges: EdgeObservation[];
  spans: StagedSpans;
}

export interface PreparedBatch {
  records: number;
  projects: PreparedProject[];
  prepareMs: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class BatchPreparer {
  private readonly sink: SpanSink;
  private readonly retry: StoreRetry;
  private readonly registration: RegistrationMarker | null;
  private readonly collectEvaluations: boolean;
  private readonly resolver: LineageResolver;
  private readonly maxFixupsPerBatch: number;

  constructor(o: {
    sink: SpanSink;
    retry: StoreRetry;
    registration: RegistrationMarker | null;
    collectEvaluations: boolean;
    resolverCacheBytes: number;
    maxFixupsPerBatch: number;
  }) {
    this.sink = o.sink;
    this.retry = o.retry;
    this.registration = o.registration;
    this.collectEvaluations = o.collectEvaluations;
    this.maxFixupsPerBatch = o.maxFixupsPerBatch;
    this.resolver = new LineageResolver({ load: (p, ids) => o.sink.loadStoredNodes(p, ids), maxCachedBytes: o.resolverCacheBytes });
  }

  /** Traces with stored rows still to rewrite (a settlement step's work). */
  get unsettledTraces(): number {
    return this.resolver.unsettledTraces;
  }

  /** From here on the resolver takes the batch's spans as stored (until `forget`); `attempts` as in StoreRetry.call. */
  async prepare(records: readonly BatchRecord[], attempts: number): Promise<PreparedBatch> {
    const t0 = performance.now();
    const byProject = new Map<string, Array<{ span: DecodedSpan; own: OwnLineage }>>();
    for (const { decoded } of records) {
      if (!decoded) continue;
      let list = byProject.get(decoded.projectId);
      if (!list) byProject.set(decoded.projectId, (list = []));
      for (const span of decoded.export.spans) list.push({ span, own: readOwnLineage(span) });
      if (records.length > 1) await yieldToEventLoop();
    }
    const projects: PreparedProject[] = [];
    let fixupBudget = this.maxFixupsPerBatch;
    for (const [projectId, items] of byProject) {
      const resolved = await this.retry.call(STORE_CALLS.resolveLineage, () => this.resolver.resolve(projectId, items, fixupBudget), attempts);
      fixupBudget -= resolved.fixups.length;
      projects.push(await this.project(projectId, resolved, attempts));
    }
    return { records: records.length, projects, prepareMs: performance.now() - t0 };
  }

  /**
   * The next settlement step: at most maxFixupsPerBatch stored rows of unsettled traces, taken in
   * turn (resolver.settle), as a batch with fixups only; null when every trace is settled.
   */
  async prepareSettlement(attempts: number): Promise<{ batch: PreparedBatch; traces: Array<{ projectId: string; traceIds: string[] }> } | null> {
    const t0 = performance.now();
    const step = this.resolver.settle(this.maxFixupsPerBatch);
    if (step.length === 0) return null;
    const traces = step.map(({ projectId, fixups }) => ({ projectId, traceIds: [...new Set(fixups.map((f) => f.traceId))] }));
    const projects: PreparedProject[] = [];
    try {
      for (const { projectId, fixups } of step) projects.push(await this.project(projectId, { spans: [], fixups }, attempts));
    } catch (err) {
      // The resolver took these rewrites as made: it must compare with the store again instead.
      this.forgetTraces(traces);
      throw err;
    }
    return { batch: { records: 0, projects, prepareMs: performance.now() - t0 }, traces };
  }

  /** These traces' rewrites did not reach the store: the next span of each loads what is there and compares again. */
  forgetTraces(traces: ReadonlyArray<{ projectId: string; traceIds: string[] }>): void {
    for (const { projectId, traceIds } of traces) this.resolver.forget(projectId, traceIds);
  }

  private async project(projectId: string, resolved: ResolvedBatch, attempts: number): Promise<PreparedProject> {
    const registration = this.registration;
    if (registration) await this.retry.call(STORE_CALLS.classifyPrompts, () => registration.mark(projectId, resolved), attempts);
    const evaluations = this.collectEvaluations ? evaluationsOf(resolved.spans) : [];
    const edges = [...edgesOfBatch(resolved), ...evaluationEdges(evaluations)];
    const spans = await this.retry.call(STORE_CALLS.stageSpans, () => this.sink.stageSpans(projectId, resolved.spans), attempts);
    return { projectId, resolved, evaluations, edges, spans };
  }

  /** These records' spans did not reach the stores after all: the next batch of their traces reads back what really is there. */
  forget(records: readonly BatchRecord[]): void {
    for (const { decoded } of records) if (decoded) this.resolver.forget(decoded.projectId, decoded.export.spans.map((s) => s.traceId));
  }
}
