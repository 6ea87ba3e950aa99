import type { ResponseList } from './response-list.ts';

// Questions asked of many spans at once: what a prompt version, an alias move, a dataset, a
// model or an app version touched; evaluation results; how two versions compare; the list of
// responses, newest first (response-list.ts). Answered by the span store's engine (ClickHouse
// SQL); the graph says how the affected entities connect.

/** What an impact query starts from, as a filter over each response's resolved lineage. */
export type ImpactFilter =
  | { kind: 'promptVersion'; name: string; version: string }
  | { kind: 'aliasMove'; name: string; alias: string; versions: string[]; from: Date; to: Date | null }
  | { kind: 'dataset'; id: string }
  | { kind: 'model'; name: string; provider?: string | undefined }
  | { kind: 'appVersion'; name: string; version: string };

export interface ImpactWindow {
  from: Date;
  to: Date;
  /** Histogram bucket, seconds. */
  bucketSeconds: number;
}

export interface CountedFirstLast {
  count: number;
  firstSeen: string;
  lastSeen: string;
}

export interface ImpactFacts {
  responses: number;
  firstSeen: string | null;
  lastSeen: string | null;
  histogram: Array<{ start: string; count: number }>;
  apps: Array<{ name: string; version: string } & CountedFirstLast>;
  services: Array<{ name: string } & CountedFirstLast>;
  promptVersions: Array<{ name: string; version: string } & CountedFirstLast>;
  models: Array<{ provider: string; name: string } & CountedFirstLast>;
  datasets: Array<{ id: string } & CountedFirstLast>;
  conversations: { count: number; top: Array<{ id: string; responses: number }> };
}

export interface ImpactItem {
  responseId: string | null;
  traceId: string;
  spanId: string;
  timestamp: string;
  prompt: { name: string; version: string; alias: string } | null;
  model: { provider: string; name: string } | null;
  app: { name: string; version: string };
  service: string;
  conversationId: string | null;
  datasets: string[];
}

/** A position in the newest-first list of responses: the last item of the previous page. */
export interface ImpactCursor {
  timestamp: string;
  traceId: string;
  spanId: string;
}

export interface EvaluationRow {
  runId: string;
  scorer: string;
  score: number | null;
  label: string;
  promptName: string;
  promptVersion: string;
  datasetId: string;
  modelName: string;
  appName: string;
  appVersion: string;
  responseId: string;
  traceId: string;
  spanId: string;
  /** The dataset item or case evaluated, when the result names one. */
  itemId: string;
  timestampNs: bigint;
  source: 'span' | 'event' | 'api';
}

export interface EvaluationSummary {
  runId: string;
  scorer: string;
  results: number;
  meanScore: number | null;
  promptVersions: Array<{ name: string; version: string }>;
  datasets: string[];
  firstSeen: string;
  lastSeen: string;
}

export interface VersionCount {
  name: string;
  version: string;
  count: number;
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface VersionStats {
  version: string;
  responses: number;
  errors: number;
  latencyMs: { p50: number | null; p95: number | null; mean: number | null; sd: number | null };
  tokens: { input: number; output: number; meanTotal: number | null };
  /** Per scorer: the scores, for intervals and tests computed above the store. */
  scores: Array<{ scorer: string; values: number[] }>;
  firstSeen: string | null;
  lastSeen: string | null;
}

/**
 * What a timeline splits responses by: the lineage values whose changes "what changed" weighs, each
 * of one cause (prompt, model, data, app). A value is its parts: [name, version] for a prompt
 * version or an app version, [provider, name] for a model, the sorted dataset ids, [registration].
 */
export const LINEAGE_DIMENSIONS = ['promptVersion', 'registration', 'model', 'datasets', 'appVersion'] as const;
export type LineageDimension = (typeof LINEAGE_DIMENSIONS)[number];

/** Count, sum and sum of squares of a measure: enough for means, variances and their differences. */
export interface Moments {
  n: number;
  sum: number;
  sumSquares: number;
}

/** The responses of one time bucket with one lineage value, and their measures. */
export interface TimelineRow {
  bucket: Date;
  dimension: LineageDimension;
  value: string[];
  responses: number;
  errors: number;
  latencyMs: Moments;
  /** Only the responses that report token counts. */
  inputTokens: Moments;
  outputTokens: Moments;
}

/** Which responses a timeline covers: a project's, optionally one app's or those of one prompt. */
export interface TimelineScope {
  app?: string;
  prompt?: string;
}

/** The signals drift compares, per prompt version or alias. */
export const RESPONSE_SIGNALS = ['latency_ms', 'input_tokens', 'output_tokens', 'error_rate', 'finish_reason', 'tool_call_rate', 'registration'] as const;

/**
 * The continuous signals' fine bins: bin b holds values from 2^(b/8) − 1 up to the next edge (an
 * eighth of an octave, about 9 % wide); evaluation scores are binned by hundredths.
 */
export const logBinEdge = (bin: number) => 2 ** (bin / 8) - 1;
export const scoreBinEdge = (bin: number) => bin / 100;

/** Whose responses: a prompt version, or the responses served through an alias (whatever version). */
export type SignalTarget = { prompt: string; version: string; alias?: undefined } | { prompt: string; alias: string; version?: undefined };

/** One bin of one signal's histogram in a window: a fine bin's index for continuous signals, else a category. */
export interface SignalBin {
  signal: string;
  bin: string;
  count: number;
}

/**
 * No lifecycle of its own (see StoreLifecycle): it runs on the span store's engine, which the span
 * store migrates, checks and closes.
 */
/** One round of the lineage rollup: the minutes rolled up, and the changed minutes left for the next round. */
export interface LineageRollupRound {
  minutes: number;
  pending: number;
}

export interface SpanAnalytics extends ResponseList {
  impactFacts(projectId: string, filter: ImpactFilter, window: ImpactWindow): Promise<ImpactFacts>;
  /** A page of the target's responses, newest first; with the window's histogram (from impactFacts) a first page reads only the newest buckets that hold it. */
  impactItems(projectId: string, filter: ImpactFilter, window: ImpactWindow, page: { limit: number; after: ImpactCursor | null }, histogram?: ReadonlyArray<{ start: string; count: number }>): Promise<ImpactItem[]>;
  writeEvaluations(projectId: string, rows: readonly EvaluationRow[], token: string): Promise<void>;
  evaluationsFor(projectId: string, filter: ImpactFilter, window: ImpactWindow): Promise<EvaluationSummary[]>;
  evaluationsOfResponse(projectId: string, traceId: string, spanId: string, responseId: string): Promise<EvaluationRow[]>;
  versionStats(projectId: string, name: string, version: string, window: ImpactWindow): Promise<VersionStats>;
  /** Responses of each of a prompt's versions in the window, with the first and last seen. */
  versionCounts(projectId: string, name: string, versions: readonly string[], window: ImpactWindow): Promise<VersionCount[]>;
  /** The scores one scorer gave a prompt version's results on one dataset, in the window (each result at its latest revision). */
  evaluationScores(projectId: string, name: string, version: string, scorer: string, dataset: string, window: { from: Date; to: Date }): Promise<number[]>;
  /** The scope's responses in the window by time bucket and lineage value (every dimension), oldest first. */
  lineageTimeline(projectId: string, scope: TimelineScope, window: ImpactWindow): Promise<TimelineRow[]>;
  /** Rolls up the minutes of every project that changed since their last roll (a scheduled round; what-changed reads the rest from the spans). */
  rollUpLineage(now: Date): Promise<LineageRollupRound>;
  /** The target's responses in the window as histograms of every response signal. */
  signalHistograms(projectId: string, target: SignalTarget, window: { from: Date; to: Date }): Promise<SignalBin[]>;
  /** The target version's evaluation results in the window: `score:SCORER` (score bins) and `label:SCORER` (labels). */
  evaluationHistograms(projectId: string, target: SignalTarget, window: { from: Date; to: Date }): Promise<SignalBin[]>;
  /** When the target's first response, and its first and last evaluation result, were stored. */
  targetTimes(projectId: string, target: SignalTarget): Promise<{ firstResponse: Date | null; evaluations: { from: Date; to: Date } | null }>;
}
