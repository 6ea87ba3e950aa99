import type { Logger } from '../../common/logger.ts';
import type { LineageGraph } from '../../storage/lineage-graph.ts';
import type { SpanAnalytics } from '../../storage/span-analytics.ts';
import type { SpanSink } from '../../storage/span-store.ts';
import type { PreparedBatch } from './batch.ts';
import { STORE_CALLS, type StoreCall, type StoreRetry } from './store-retry.ts';
import type { WriterCounters } from './writer-stats.ts';

// Writes a prepared batch to the stores, project by project: spans, lineage fixups, evaluation
// results, graph edges, each call retried through StoreRetry. Every write carries a token derived
// from the batch's, so a batch written again after a failure or a crash is stored once.

export class StoreWriteStep {
  private readonly sink: SpanSink;
  private readonly graph: LineageGraph;
  private readonly analytics: SpanAnalytics | undefined;
  private readonly retry: StoreRetry;
  private readonly counters: WriterCounters;
  private readonly logger: Logger;

  constructor(o: { sink: SpanSink; graph: LineageGraph; analytics: SpanAnalytics | undefined; retry: StoreRetry; counters: WriterCounters; logger: Logger }) {
    this.sink = o.sink;
    this.graph = o.graph;
    this.analytics = o.analytics;
    this.retry = o.retry;
    this.counters = o.counters;
    this.logger = o.logger;
  }

  /** `spansUnderWay` is called once the span store has the batch's first spans in hand (or there are none). */
  async write(batch: PreparedBatch, token: string, attempts: number, spansUnderWay?: () => void): Promise<void> {
    let written = 0;
    let fixups = 0;
    const t0 = performance.now();
    const ms: Record<string, number> = { spans: 0, fixups: 0, edges: 0 };
    const timed = async <T>(phase: string, call: StoreCall, fn: () => Promise<T>): Promise<T> => {
      const start = performance.now();
      try {
        return await this.retry.call(call, fn, attempts);
      } finally {
        ms[phase]! += performance.now() - start;
      }
    };
    let first = true;
    for (const { projectId, spanCount, fixups: projectFixups, evaluations, edges, spans } of batch.projects) {
      const writing = timed('spans', STORE_CALLS.writeSpans, () => spans.write(`${projectId}/${token}`));
      if (first) {
        first = false;
        spansUnderWay?.();
      }
      await writing;
      await timed('fixups', STORE_CALLS.applyFixups, () => this.sink.applyFixups(projectId, projectFixups, `${projectId}/${token}/fix`));
      if (evaluations.length > 0) await timed('spans', STORE_CALLS.writeEvaluations, () => this.analytics!.writeEvaluations(projectId, evaluations, `${projectId}/${token}/eval`));
      await timed('edges', STORE_CALLS.recordEdges, () => this.graph.recordEdges(projectId, edges));
      written += spanCount;
      fixups += projectFixups.length;
      this.counters.fixups += projectFixups.length;
    }
    if (first) spansUnderWay?.();
    this.counters.writtenSpans += written;
    this.logger.debug('writer: batch written', {
      records: batch.records,
      spans: written,
      fixups,
      prepareMs: Math.round(batch.prepareMs),
      totalMs: Math.round(performance.now() - t0),
      ...Object.fromEntries(Object.entries(ms).map(([k, v]) => [`${k}Ms`, Math.round(v)])),
    });
  }
}
