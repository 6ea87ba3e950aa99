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
import type { StoreRetry } from './store-retry.ts';

// What a batch needs before the stores take it, project by project: its spans' lineage resolved
// (over what earlier batches stored), prompts classified, evaluations and graph edges collected,
// and its spans staged in the span store.

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

  constructor(o: { sink: SpanSink; retry: StoreRetry; registration: RegistrationMarker | null; collectEvaluations: boolean }) {
    this.sink = o.sink;
    this.retry = o.retry;
    this.registration = o.registration;
    this.collectEvaluations = o.collectEvaluations;
    this.resolver = new LineageResolver({ load: (p, ids) => o.sink.loadStoredNodes(p, ids) });
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
    for (const [projectId, items] of byProject) {
      const resolved = await this.retry.call('resolve lineage', () => this.resolver.resolve(projectId, items), attempts);
      const registration = this.registration;
      if (registration) await this.retry.call('classify prompts', () => registration.mark(projectId, resolved), attempts);
      const evaluations = this.collectEvaluations ? evaluationsOf(resolved.spans) : [];
      const edges = [...edgesOfBatch(resolved), ...evaluationEdges(evaluations)];
      const spans = await this.retry.call('stage spans', () => this.sink.stageSpans(projectId, resolved.spans), attempts);
      projects.push({ projectId, resolved, evaluations, edges, spans });
    }
    return { records: records.length, projects, prepareMs: performance.now() - t0 };
  }

  /** These records' spans did not reach the stores after all: the next batch of their traces reads back what really is there. */
  forget(records: readonly BatchRecord[]): void {
    for (const { decoded } of records) if (decoded) this.resolver.forget(decoded.projectId, decoded.export.spans.map((s) => s.traceId));
  }
}
