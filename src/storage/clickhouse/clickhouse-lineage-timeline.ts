import type { ImpactWindow, LineageDimension, TimelineRow, TimelineScope } from '../span-analytics.ts';
import type { ClickHouseExecutor, QueryParams } from './executor.ts';

// The lineage timeline "what changed" reads: the responses of a window by time bucket and by each
// lineage value, with their error counts, latencies and token counts as moments. One pass over the
// window of promptline_response_list (ordered by project and time, so a window reads only itself),
// each span at its latest revision (FINAL), each response counted once per dimension.

/** ClickHouse DateTime64 text for a Date (UTC). */
const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

const FINAL_SETTINGS = 'SETTINGS do_not_merge_across_partitions_select_final = 1';

/** Each dimension and how its value is read from a response row (an array of strings). */
const DIMENSIONS: Record<LineageDimension, string> = {
  promptVersion: '[toString(PromptName), toString(PromptVersion)]',
  registration: '[toString(PromptRegistration)]',
  model: '[toString(ModelProvider), toString(ModelName)]',
  datasets: "CAST(arraySort(DatasetIds), 'Array(String)')",
  appVersion: '[toString(AppName), toString(AppVersion)]',
};

const DIMENSION_ARRAY = `[${Object.entries(DIMENSIONS)
  .map(([name, value]) => `('${name}', ${value})`)
  .join(', ')}]`;

/** 64-bit counts arrive as JSON strings. */
type Count = number | string;

interface Row {
  b: Count;
  dim: LineageDimension;
  val: string[];
  n: Count;
  errors: Count;
  latN: Count;
  latSum: number;
  latSq: number;
  inN: Count;
  inSum: number;
  inSq: number;
  outN: Count;
  outSum: number;
  outSq: number;
}

export async function lineageTimeline(exec: ClickHouseExecutor, projectId: string, scope: TimelineScope, w: ImpactWindow): Promise<TimelineRow[]> {
  const params: QueryParams = { project: projectId, from: chTime(w.from), to: chTime(w.to), bucket: Math.max(1, Math.round(w.bucketSeconds)) };
  const where = ['ProjectId = {project:String}', 'Timestamp >= {from:DateTime64(3)}', 'Timestamp < {to:DateTime64(3)}'];
  if (scope.app !== undefined) {
    where.push('AppName = {app:String}');
    params.app = scope.app;
  }
  if (scope.prompt !== undefined) {
    where.push('PromptName = {prompt:String}');
    params.prompt = scope.prompt;
  }
  const rows = await exec.query<Row>(
    `SELECT toUInt32(toStartOfInterval(Timestamp, toIntervalSecond({bucket:UInt32}))) AS b, d.1 AS dim, d.2 AS val,
       count() AS n, countIf(StatusCode = 'Error') AS errors,
       count() AS latN, sum(Duration / 1e6) AS latSum, sum(pow(Duration / 1e6, 2)) AS latSq,
       countIf(InputTokens >= 0) AS inN, sumIf(toFloat64(InputTokens), InputTokens >= 0) AS inSum, sumIf(pow(toFloat64(InputTokens), 2), InputTokens >= 0) AS inSq,
       countIf(OutputTokens >= 0) AS outN, sumIf(toFloat64(OutputTokens), OutputTokens >= 0) AS outSum, sumIf(pow(toFloat64(OutputTokens), 2), OutputTokens >= 0) AS outSq
     FROM (
       SELECT Timestamp, StatusCode, Duration, InputTokens, OutputTokens, PromptName, PromptVersion, PromptRegistration, ModelProvider, ModelName, DatasetIds, AppName, AppVersion
       FROM promptline_response_list FINAL
       WHERE ${where.join(' AND ')} AND Excluded = 0
       ${FINAL_SETTINGS}
     )
     ARRAY JOIN ${DIMENSION_ARRAY} AS d
     GROUP BY b, dim, val
     ORDER BY b, dim, val`,
    params,
  );
  const moments = (n: Count, sum: number, sumSquares: number) => ({ n: Number(n), sum, sumSquares });
  return rows.map((r) => ({
    bucket: new Date(Number(r.b) * 1000),
    dimension: r.dim,
    value: r.val,
    responses: Number(r.n),
    errors: Number(r.errors),
    latencyMs: moments(r.latN, r.latSum, r.latSq),
    inputTokens: moments(r.inN, r.inSum, r.inSq),
    outputTokens: moments(r.outN, r.outSum, r.outSq),
  }));
}
