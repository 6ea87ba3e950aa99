import type { ResolvedSpan } from '../domain/stored-span.ts';
import type { EvaluationRow } from '../storage/span-analytics.ts';
import { attrToString, type AttrMap } from '../domain/span.ts';
import { entity, type EdgeObservation } from '../domain/graph.ts';
import { promptVersionRef } from './graph-edges.ts';

// Evaluation results that arrive as spans or span events (OpenTelemetry GenAI: gen_ai.evaluation.*).
// A result belongs to the prompt version, datasets, model and app of the span it is on, or of the
// response it names. Its run is promptline.evaluation.run.id (or gen_ai.evaluation.run.id) when
// given, else the trace: an evaluation harness usually runs one trace per run.

export const EVALUATION_EVENT_NAMES = new Set(['gen_ai.evaluation.result', 'gen_ai.evaluation']);
const RUN_KEYS = ['promptline.evaluation.run.id', 'gen_ai.evaluation.run.id'];
const ITEM_KEYS = ['promptline.evaluation.item.id', 'gen_ai.evaluation.item.id', 'langfuse.experiment.item.id'];

const str = (m: AttrMap, key: string) => {
  const v = m.get(key);
  return v === undefined || v === null ? '' : attrToString(v).trim();
};
const first = (m: AttrMap, keys: string[]) => keys.map((k) => str(m, k)).find((v) => v !== '') ?? '';

function fromAttributes(s: ResolvedSpan, attrs: AttrMap, timeNs: bigint, source: 'span' | 'event'): EvaluationRow[] {
  const scorer = str(attrs, 'gen_ai.evaluation.name');
  if (!scorer) return [];
  const raw = str(attrs, 'gen_ai.evaluation.score.value');
  const score = raw === '' || Number.isNaN(Number(raw)) ? null : Number(raw);
  const l = s.resolved;
  const datasets = l.datasetIds.length > 0 ? l.datasetIds : [''];
  return datasets.map((datasetId) => ({
    runId: first(attrs, RUN_KEYS) || first(s.span.attributes, RUN_KEYS) || s.span.traceId,
    scorer,
    score,
    label: str(attrs, 'gen_ai.evaluation.score.label'),
    promptName: l.prompt?.name ?? '',
    promptVersion: l.prompt?.version ?? '',
    datasetId,
    modelName: l.model?.name ?? '',
    appName: l.app.name,
    appVersion: l.app.version,
    responseId: str(attrs, 'gen_ai.response.id') || l.responseId,
    traceId: s.span.traceId,
    spanId: s.span.spanId,
    itemId: first(attrs, ITEM_KEYS) || first(s.span.attributes, ITEM_KEYS),
    timestampNs: timeNs,
    source,
  }));
}

export function evaluationsOf(spans: readonly ResolvedSpan[]): EvaluationRow[] {
  const rows: EvaluationRow[] = [];
  for (const s of spans) {
    rows.push(...fromAttributes(s, s.span.attributes, s.span.startTimeUnixNano, 'span'));
    for (const e of s.span.events) if (EVALUATION_EVENT_NAMES.has(e.name)) rows.push(...fromAttributes(s, e.attributes, e.timeUnixNano, 'event'));
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
