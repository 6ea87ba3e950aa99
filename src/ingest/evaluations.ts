import type { ResolvedSpan } from '../domain/stored-span.ts';
import type { EvaluationRow } from '../storage/span-analytics.ts';
import type { AttrMap } from '../domain/span.ts';
import { entity, type EdgeObservation } from '../domain/graph.ts';
import * as c from './conventions.ts';
import { promptVersionRef } from './graph-edges.ts';

// Evaluation results that arrive as spans or span events (OpenTelemetry GenAI: gen_ai.evaluation.*).
// A result belongs to the prompt version, datasets, model and app of the span it is on, or of the
// response it names. Its run is the run id it carries (conventions.ts) when given, else the trace:
// an evaluation harness usually runs one trace per run.

function fromAttributes(s: ResolvedSpan, attrs: AttrMap, timeNs: bigint, source: 'span' | 'event'): EvaluationRow[] {
  const scorer = c.firstString(attrs, [c.EVALUATION_NAME_KEY]);
  if (!scorer) return [];
  const score = c.evaluationScore(attrs);
  const l = s.resolved;
  const datasets = l.datasetIds.length > 0 ? l.datasetIds : [''];
  return datasets.map((datasetId) => ({
    runId: c.firstString(attrs, c.EVALUATION_RUN_KEYS) || c.firstString(s.span.attributes, c.EVALUATION_RUN_KEYS) || s.span.traceId,
    scorer,
    score,
    label: c.firstString(attrs, [c.EVALUATION_LABEL_KEY]),
    promptName: l.prompt?.name ?? '',
    promptVersion: l.prompt?.version ?? '',
    datasetId,
    modelName: l.model?.name ?? '',
    appName: l.app.name,
    appVersion: l.app.version,
    responseId: c.firstString(attrs, [c.EVALUATED_RESPONSE_ID_KEY]) || l.responseId,
    traceId: s.span.traceId,
    spanId: s.span.spanId,
    itemId: c.firstString(attrs, c.EVALUATION_ITEM_KEYS) || c.firstString(s.span.attributes, c.EVALUATION_ITEM_KEYS),
    timestampNs: timeNs,
    source,
  }));
}

export function evaluationsOf(spans: readonly ResolvedSpan[]): EvaluationRow[] {
  const rows: EvaluationRow[] = [];
  for (const s of spans) {
    rows.push(...fromAttributes(s, s.span.attributes, s.span.startTimeUnixNano, 'span'));
    for (const e of s.span.events) if (c.EVALUATION_EVENT_NAMES.has(e.name)) rows.push(...fromAttributes(s, e.attributes, e.timeUnixNano, 'event'));
  }
  return rows;
}

/** The graph edges of evaluation results: the run evaluated a prompt version, on a dataset. */
export function evaluationEdges(rows: readonly EvaluationRow[]): EdgeObservation[] {
  const edges = new Map<string, EdgeObservation>();
  const add = (e: EdgeObservation) => {
    const key = JSON.stringify([e.from, e.rel, e.to]);
    const had = edges.get(key);
    if (!had) edges.set(key, e);
    else {
      had.firstSeenMs = Math.min(had.firstSeenMs, e.firstSeenMs);
      had.lastSeenMs = Math.max(had.lastSeenMs, e.lastSeenMs);
    }
  };
  for (const r of rows) {
    const at = Number(r.timestampNs / 1_000_000n);
    const run = entity('EvalRun', r.runId);
    const pv = promptVersionRef(r.promptName, r.promptVersion, '');
    if (pv) add({ from: run, rel: 'EVALUATED', to: pv, firstSeenMs: at, lastSeenMs: at });
    if (r.datasetId) add({ from: run, rel: 'EVALUATED_ON', to: entity('Dataset', r.datasetId), firstSeenMs: at, lastSeenMs: at });
  }
  return [...edges.values()];
}
