import type { ImpactWindow, LineageDimension, TimelineRow, TimelineScope } from '../span-analytics.ts';
import type { ClickHouseExecutor, QueryParams } from './executor.ts';
import { FINAL_SETTINGS, LIST_KEY, RESPONSE_MOMENTS, ROLLUP_KEY, ROLLUP_MOMENTS, rolledUpRuns } from './clickhouse-lineage-rollup.ts';

// The lineage timeline "what changed" reads: the responses of a window by time bucket and by each
// lineage value, with their error counts, latencies and token counts as moments, each response
// counted once per dimension. Whole minutes rolled up since they last changed are read from the
// per-minute rollup (clickhouse-lineage-rollup.ts); the rest of the window — its open tail, its
// partial first and last minutes, minutes changed since their roll — from promptline_response_list
// (ordered by project and time, so a range reads only itself), each span at its latest revision
// (FINAL). Both give rows per minute and lineage key, summed into buckets of whole minutes.

/** ClickHouse DateTime64 text for a Date (UTC). */
const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/** Each dimension and how its value is read from a row of lineage keys (an array of strings). */
const DIMENSIONS: Record<LineageDimension, string> = {
  promptVersion: '[toString(PromptName), toString(PromptVersion)]',
  registration: '[toString(PromptRegistration)]',
  model: '[toString(ModelProvider), toString(ModelName)]',
  datasets: "CAST(Datasets, 'Array(String)')",
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

/** Ranges of time the response list is read for, at most this many (the rest of the gaps between them are read from the list too). */
const MAX_LIST_RANGES = 32;

/** Windows shorter than this are read from the response list alone. */
const ROLLUP_FROM_MS = 2 * 3_600_000;

export async function lineageTimeline(exec: ClickHouseExecutor, projectId: string, scope: TimelineScope, w: ImpactWindow, opts: { rollup?: boolean } = {}): Promise<TimelineRow[]> {
  const bucket = Math.max(1, Math.round(w.bucketSeconds));
  const params: QueryParams = { project: projectId, bucket };
  const scopeWhere: string[] = [];
  if (scope.app !== undefined) {
    scopeWhere.push('AppName = {app:String}');
    params.app = scope.app;
  }
  if (scope.prompt !== undefined) {
    scopeWhere.push('PromptName = {prompt:String}');
    params.prompt = scope.prompt;
  }
  const source = await lineageMinutes(exec, projectId, { where: scopeWhere.join(' AND '), params }, w, { ...opts, bucketSeconds: bucket });
  if (source === null) return [];
  // Per minute and lineage key (the rollup's rows, the list's rows in the same shape), then per bucket and lineage value.
  const rows = await exec.query<Row>(
    `SELECT toUInt32(toStartOfInterval(Minute, toIntervalSecond({bucket:UInt32}))) AS b, d.1 AS dim, d.2 AS val,
       sum(n) AS n, sum(errors) AS errors, sum(latN) AS latN, sum(latSum) AS latSum, sum(latSq) AS latSq,
       sum(inN) AS inN, sum(inSum) AS inSum, sum(inSq) AS inSq, sum(outN) AS outN, sum(outSum) AS outSum, sum(outSq) AS outSq
     FROM (${source})
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

/** A condition on lineage columns both the rollup and the response list have (`Datasets` is the sorted dataset ids), with its parameters. */
export interface LineageWhere {
  where: string;
  params: QueryParams;
}

/**
 * The responses of [from, to) that match `lineage`, as rows per minute and lineage key (the
 * rollup's columns, RESPONSE_MOMENTS and each row's first and last Timestamp): whole minutes
 * rolled up since their last change from the rollup, the rest from the response list under FINAL.
 * The rollup is read only when buckets are whole minutes and the window is long enough to gain;
 * otherwise the list's rows are grouped by the bucket itself. Adds its parameters to
 * `lineage.params`; null when there is nothing to read.
 */
export async function lineageMinutes(exec: ClickHouseExecutor, projectId: string, lineage: LineageWhere, w: { from: Date; to: Date }, opts: { rollup?: boolean; bucketSeconds: number }): Promise<string | null> {
  if (w.to.getTime() <= w.from.getTime()) return null;
  const params = lineage.params;
  params.project = projectId;
  const bucket = Math.max(1, Math.round(opts.bucketSeconds));
  const and = lineage.where ? `AND (${lineage.where})` : '';
  const useRollup = (opts.rollup ?? true) && bucket % 60 === 0 && w.to.getTime() - w.from.getTime() >= ROLLUP_FROM_MS;
  const rolled = useRollup ? await rolledUpRuns(exec, projectId, w.from, w.to) : [];
  const { listRanges, rollupRuns } = splitWindow(w.from, w.to, rolled);
  const parts: string[] = [];
  if (rollupRuns.length > 0) {
    const runs = rollupRuns.map(([a, b], i) => {
      params[`ra${i}`] = a;
      params[`rb${i}`] = b;
      return `(Minute >= toDateTime({ra${i}:UInt32}) AND Minute < toDateTime({rb${i}:UInt32}))`;
    });
    params.rollFrom = rollupRuns[0]![0];
    params.rollTo = rollupRuns.at(-1)![1];
    parts.push(`SELECT Minute, ${ROLLUP_KEY}, Datasets, ${ROLLUP_MOMENTS}
       FROM promptline_lineage_minute
       WHERE ProjectId = {project:String} AND (${runs.join(' OR ')}) ${and}
         AND (Minute, Generation) IN (
           SELECT Minute, max(Generation) FROM promptline_lineage_minute_state
           WHERE ProjectId = {project:String} AND Minute >= toDateTime({rollFrom:UInt32}) AND Minute < toDateTime({rollTo:UInt32}) GROUP BY Minute)`);
  }
  if (listRanges.length > 0) {
    const ranges = listRanges.map(([a, b], i) => {
      params[`la${i}`] = chTime(a);
      params[`lb${i}`] = chTime(b);
      return `(Timestamp >= {la${i}:DateTime64(3)} AND Timestamp < {lb${i}:DateTime64(3)})`;
    });
    params.grain = bucket % 60 === 0 ? 60 : bucket;
    parts.push(`SELECT toDateTime(toStartOfInterval(Timestamp, toIntervalSecond({grain:UInt32}))) AS Minute, ${LIST_KEY}, ${RESPONSE_MOMENTS}
       FROM promptline_response_list FINAL
       WHERE ProjectId = {project:String} AND (${ranges.join(' OR ')}) ${and} AND Excluded = 0
       GROUP BY Minute, ${ROLLUP_KEY}, Datasets
       SETTINGS ${FINAL_SETTINGS}`);
  }
  return parts.length === 0 ? null : parts.join('\n       UNION ALL\n       ');
}

/**
 * The window as runs of rolled-up minutes (epoch seconds) and ranges of time for the list. When the
 * list would need more than MAX_LIST_RANGES ranges, the shortest runs of rolled-up minutes between
 * them are read from the list instead.
 */
export function splitWindow(from: Date, to: Date, rolled: ReadonlyArray<readonly [number, number]>): { listRanges: Array<[Date, Date]>; rollupRuns: Array<[number, number]> } {
  let runs = rolled.filter(([a, b]) => a * 1000 >= from.getTime() && b * 1000 <= to.getTime()).map(([a, b]): [number, number] => [a, b]);
  while (runs.length > MAX_LIST_RANGES) {
    let shortest = 0;
    for (let i = 1; i < runs.length; i++) if (runs[i]![1] - runs[i]![0] < runs[shortest]![1] - runs[shortest]![0]) shortest = i;
    runs = runs.filter((_, i) => i !== shortest);
  }
  const listRanges: Array<[Date, Date]> = [];
  let at = from.getTime();
  for (const [a, b] of runs) {
    if (a * 1000 > at) listRanges.push([new Date(at), new Date(a * 1000)]);
    at = b * 1000;
  }
  if (to.getTime() > at) listRanges.push([new Date(at), to]);
  return { listRanges, rollupRuns: runs };
}
