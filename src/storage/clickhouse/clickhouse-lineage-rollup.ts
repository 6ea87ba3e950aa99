import type { LineageRollupRound } from '../span-analytics.ts';
import type { ClickHouseExecutor } from './executor.ts';

// The per-minute rollup of the response list by lineage value (migration 7), kept by a scheduled
// query rather than a materialized view: a late parent writes a new revision of a span with other
// lineage, and a view would count the span once more under its new values. So every insert into
// the response list marks its minutes as changed (promptline_minutes_changed, by a view that only
// records times), and a roll reads the changed minutes under FINAL — each span at its latest
// revision — and writes them as a new generation. A minute is read from the rollup only when its
// newest generation began after its last change (by CHANGE_MARGIN_MS, for an insert still being
// committed when the roll began to read; so a minute is rolled once its last change is that old);
// every other minute is read from the response list itself.

/**
 * An insert whose rows were marked less than this before a roll began may not have been visible to
 * it: its minute counts as changed. So a minute is rolled up once its last change is this old.
 */
export const CHANGE_MARGIN_MS = 5_000;

/** A minute is rolled up once it has been over for this long (the current minute changes all the time). */
const CLOSED_AFTER_MS = 60_000;

/** Minutes a roll reads in one statement (one day). */
const RANGE_MINUTES = 1_440;

const MINUTE_MS = 60_000;

/**
 * Responses in the minutes between two runs of changed minutes up to which the runs are rolled in
 * one statement (the minutes between rolled again, unchanged): a statement's fixed cost (a part
 * written to each of two tables) is worth about this many rows read. Without it, sparse traffic
 * (a response every few minutes) stored before the rollup existed took two statements a minute.
 */
const GAP_RESPONSES = 20_000;

/** ClickHouse DateTime text (seconds) for a Date (UTC). */
export const chMinute = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');

/** The moments what-changed reads, as aggregates of response-list rows. */
export const RESPONSE_MOMENTS = `count() AS n, countIf(StatusCode = 'Error') AS errors,
       count() AS latN, sum(Duration / 1e6) AS latSum, sum(pow(Duration / 1e6, 2)) AS latSq,
       countIf(InputTokens >= 0) AS inN, sumIf(toFloat64(InputTokens), InputTokens >= 0) AS inSum, sumIf(pow(toFloat64(InputTokens), 2), InputTokens >= 0) AS inSq,
       countIf(OutputTokens >= 0) AS outN, sumIf(toFloat64(OutputTokens), OutputTokens >= 0) AS outSum, sumIf(pow(toFloat64(OutputTokens), 2), OutputTokens >= 0) AS outSq,
       min(Timestamp) AS first, max(Timestamp) AS last`;

/** The same moments as columns of a rollup row (migration 7; first and last since migration 9). */
export const ROLLUP_MOMENTS = 'n, errors, latN, latSum, latSq, inN, inSum, inSq, outN, outSum, outSq, first, last';

/** The lineage columns of a rollup row (ROLLUP_KEY and Datasets), and how each is read from a response-list row (LIST_KEY). */
export const ROLLUP_KEY = 'AppName, AppVersion, PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName';
export const LIST_KEY = `${ROLLUP_KEY}, CAST(arraySort(DatasetIds), 'Array(LowCardinality(String))') AS Datasets`;

export const FINAL_SETTINGS = 'do_not_merge_across_partitions_select_final = 1';

/** 64-bit numbers arrive as JSON strings. */
type Count = number | string;

/** The closed minutes (`c`) changed since their newest generation (`s.g`, 0 when none), by project. */
const UNROLLED = `FROM (SELECT ProjectId, Minute, max(ChangedAt) AS ChangedAt FROM promptline_minutes_changed WHERE Minute < {closed:DateTime} GROUP BY ProjectId, Minute) AS c
     LEFT JOIN (SELECT ProjectId, Minute, max(Generation) AS g FROM promptline_lineage_minute_state WHERE Minute < {closed:DateTime} GROUP BY ProjectId, Minute) AS s
       ON c.ProjectId = s.ProjectId AND c.Minute = s.Minute
     WHERE s.g < c.ChangedAt + {margin:UInt64}`;

/** Runs of consecutive minutes (epoch seconds, each a multiple of 60), as [first, end). */
export function minuteRuns(minutes: readonly number[], maxLength = Number.POSITIVE_INFINITY): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const m of [...minutes].sort((a, b) => a - b)) {
    const last = runs.at(-1);
    if (last && last[1] === m && (last[1] - last[0]) / 60 < maxLength) last[1] = m + 60;
    else if (!last || last[1] <= m) runs.push([m, m + 60]);
  }
  return runs;
}

/**
 * Runs of changed minutes joined across the minutes between them while those hold at most
 * `budget` responses in all (`responsesIn(first, end)`) and a run spans at most `maxLength` minutes.
 * Where only the length parts two runs, the second begins where the first ends (when it can), so
 * that the minutes rolled up stay one stretch: reads then take it in one range, not one a day.
 */
export function joinRuns(runs: ReadonlyArray<[number, number]>, responsesIn: (first: number, end: number) => number, maxLength: number, budget = GAP_RESPONSES): Array<[number, number]> {
  const joined: Array<[number, number]> = [];
  for (const [first, end] of runs) {
    const last = joined.at(-1);
    if (last && responsesIn(last[1], first) <= budget) {
      if ((end - last[0]) / 60 <= maxLength) {
        last[1] = end;
        continue;
      }
      if ((end - last[1]) / 60 <= maxLength) {
        joined.push([last[1], end]);
        continue;
      }
    }
    joined.push([first, end]);
  }
  return joined;
}

/** Runs grouped where each begins less than `gapSeconds` after the one before it ends. */
function stretches(runs: ReadonlyArray<[number, number]>, gapSeconds: number): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  for (const run of runs) {
    const last = out.at(-1);
    if (last && run[0] - last.at(-1)![1] < gapSeconds) last.push(run);
    else out.push([run]);
  }
  return out;
}

/**
 * Responses a project's rolled-up minutes in [first, end) hold (an upper bound: every generation
 * not yet merged away counts), by minute (epoch seconds); minutes never rolled up hold none that
 * a roll has not seen changed.
 */
async function rolledResponses(exec: ClickHouseExecutor, project: string, first: number, end: number): Promise<Map<number, number>> {
  const rows = await exec.query<{ m: Count; n: Count }>(
    `SELECT toUInt32(Minute) AS m, sum(n) AS n FROM promptline_lineage_minute
     WHERE ProjectId = {project:String} AND Minute >= toDateTime({first:UInt32}) AND Minute < toDateTime({end:UInt32})
     GROUP BY Minute`,
    { project, first, end },
  );
  return new Map(rows.map((r) => [Number(r.m), Number(r.n)]));
}

/**
 * Rolls up changed minutes, oldest first, up to `maxMinutes`: each run of consecutive minutes of a
 * project in one statement. Returns what it rolled and how many changed minutes are left.
 */
export async function rollLineageMinutes(exec: ClickHouseExecutor, now: Date, maxMinutes = 10 * RANGE_MINUTES): Promise<LineageRollupRound> {
  const closed = chMinute(new Date(Math.floor((now.getTime() - CLOSED_AFTER_MS) / MINUTE_MS) * MINUTE_MS));
  // Every changed minute counts as pending; those changed long enough ago (settled) are rolled up now.
  const changed = await exec.query<{ p: string; m: Count; g: Count; total: Count }>(
    `SELECT p, m, g, total FROM (
     SELECT c.ProjectId AS p, toUInt32(c.Minute) AS m, s.g AS g, c.ChangedAt + {margin:UInt64} <= {settled:UInt64} AS settled, count() OVER () AS total
     ${UNROLLED})
     WHERE settled
     ORDER BY m, p
     LIMIT {limit:UInt32}
     SETTINGS join_use_nulls = 0`,
    { closed, margin: CHANGE_MARGIN_MS, settled: Date.now(), limit: maxMinutes },
  );
  const byProject = new Map<string, { minutes: number[]; rolledBefore: Set<number> }>();
  for (const r of changed) {
    const e = byProject.get(r.p) ?? { minutes: [], rolledBefore: new Set<number>() };
    e.minutes.push(Number(r.m));
    if (Number(r.g) > 0) e.rolledBefore.add(Number(r.m));
    byProject.set(r.p, e);
  }
  let rolled = 0;
  for (const [project, { minutes, rolledBefore }] of byProject) {
    // Runs close together are rolled as one, the unchanged minutes between them again (those
    // rolled before count as such, so that keys they no longer have are deleted below). Only runs
    // less than a statement's range apart can join: the rollup is read for those stretches only.
    const runs: Array<[number, number]> = [];
    for (const stretch of stretches(minuteRuns(minutes, RANGE_MINUTES), RANGE_MINUTES * 60)) {
      if (stretch.length === 1) {
        runs.push(stretch[0]!);
        continue;
      }
      const between = await rolledResponses(exec, project, stretch[0]![0], stretch.at(-1)![1]);
      for (const m of between.keys()) rolledBefore.add(m);
      const responsesIn = (a: number, b: number) => {
        let n = 0;
        for (let m = a; m < b && n <= GAP_RESPONSES; m += 60) n += between.get(m) ?? 0;
        return n;
      };
      runs.push(...joinRuns(stretch, responsesIn, RANGE_MINUTES));
    }
    for (const [first, end] of runs) {
      // The generation is taken before the read: a change marked after it makes the minute changed again.
      const generation = Date.now();
      const range = { project, from: chMinute(new Date(first * 1000)), to: chMinute(new Date(end * 1000)), generation };
      await exec.command(
        `INSERT INTO promptline_lineage_minute (ProjectId, Minute, Generation, ${ROLLUP_KEY}, Datasets, ${ROLLUP_MOMENTS})
         SELECT ProjectId, toStartOfMinute(Timestamp) AS Minute, {generation:UInt64} AS Generation, ${LIST_KEY}, ${RESPONSE_MOMENTS}
         FROM promptline_response_list FINAL
         WHERE ProjectId = {project:String} AND Timestamp >= {from:DateTime} AND Timestamp < {to:DateTime} AND Excluded = 0
         GROUP BY ProjectId, Minute, ${ROLLUP_KEY}, Datasets
         SETTINGS ${FINAL_SETTINGS}, throw_on_max_partitions_per_insert_block = 0`,
        range,
      );
      // The minutes' generation is recorded after their rows: a roll cut short leaves the older generation the one that is read.
      await exec.command(
        `INSERT INTO promptline_lineage_minute_state
         SELECT {project:String}, toDateTime({first:UInt32}) + toIntervalMinute(number), {generation:UInt64} FROM numbers({count:UInt32})
         SETTINGS throw_on_max_partitions_per_insert_block = 0`,
        { project, first, generation, count: (end - first) / 60 },
      );
      // Keys that only an older generation of these minutes had (a span's lineage revised, a trace
      // deleted) are deleted; keys the new generation has too are replaced at merges.
      let again = false;
      for (let m = first; m < end && !again; m += 60) again = rolledBefore.has(m);
      if (again) {
        const inRange = 'ProjectId = {project:String} AND Minute >= {from:DateTime} AND Minute < {to:DateTime}';
        const [left] = await exec.query<{ n: Count }>(
          `SELECT count() AS n FROM promptline_lineage_minute
           WHERE ${inRange} AND Generation < {generation:UInt64}
             AND (Minute, ${ROLLUP_KEY}, Datasets) NOT IN (SELECT Minute, ${ROLLUP_KEY}, Datasets FROM promptline_lineage_minute WHERE ${inRange} AND Generation = {generation:UInt64})`,
          range,
        );
        if (Number(left?.n ?? 0) > 0) await exec.command(`ALTER TABLE promptline_lineage_minute DELETE WHERE ${inRange} AND Generation < {generation:UInt64}`, range);
      }
    }
    rolled += minutes.length;
  }
  // When no minute was settled, no row came back: the pending ones are counted apart.
  const total = changed.length > 0 ? Number(changed[0]!.total) : await pendingMinutes(exec, closed);
  return { minutes: rolled, pending: Math.max(0, total - rolled) };
}

async function pendingMinutes(exec: ClickHouseExecutor, closed: string): Promise<number> {
  const [row] = await exec.query<{ n: Count }>(
    `SELECT count() AS n
     ${UNROLLED}
     SETTINGS join_use_nulls = 0`,
    { closed, margin: CHANGE_MARGIN_MS },
  );
  return Number(row?.n ?? 0);
}

/** The minutes of a project in [{from}, {to}) that a read may take from the rollup: rolled up since they last changed. */
const ROLLED_UP = `SELECT toUInt32(s.Minute) AS m
     FROM (SELECT Minute, max(Generation) AS g FROM promptline_lineage_minute_state WHERE ProjectId = {project:String} AND Minute >= {from:DateTime} AND Minute < {to:DateTime} GROUP BY Minute) AS s
     LEFT JOIN (SELECT Minute, max(ChangedAt) AS c FROM promptline_minutes_changed WHERE ProjectId = {project:String} AND Minute >= {from:DateTime} AND Minute < {to:DateTime} GROUP BY Minute) AS c
       ON s.Minute = c.Minute
     WHERE s.g >= c.c + {margin:UInt64}`;

function wholeMinutes(projectId: string, from: Date, to: Date) {
  const first = Math.ceil(from.getTime() / MINUTE_MS) * 60;
  const end = Math.floor(to.getTime() / MINUTE_MS) * 60;
  return end <= first ? null : { project: projectId, from: chMinute(new Date(first * 1000)), to: chMinute(new Date(end * 1000)), margin: CHANGE_MARGIN_MS };
}

/** Of the whole minutes in [from, to), those a read may take from the rollup (epoch seconds). */
export async function rolledUpMinutes(exec: ClickHouseExecutor, projectId: string, from: Date, to: Date): Promise<number[]> {
  const params = wholeMinutes(projectId, from, to);
  if (!params) return [];
  const rows = await exec.query<{ m: Count }>(`${ROLLED_UP} ORDER BY m SETTINGS join_use_nulls = 0`, params);
  return rows.map((r) => Number(r.m));
}

/** The same minutes as runs of consecutive ones, [first, end) in epoch seconds, found by the engine (a week is ten thousand minutes, but few runs). */
export async function rolledUpRuns(exec: ClickHouseExecutor, projectId: string, from: Date, to: Date): Promise<Array<[number, number]>> {
  const params = wholeMinutes(projectId, from, to);
  if (!params) return [];
  const rows = await exec.query<{ a: Count; b: Count }>(
    `SELECT min(m) AS a, max(m) + 60 AS b
     FROM (SELECT m, toInt64(m) - 60 * toInt64(row_number() OVER (ORDER BY m)) AS run FROM (${ROLLED_UP}))
     GROUP BY run ORDER BY a
     SETTINGS join_use_nulls = 0`,
    params,
  );
  return rows.map((r) => [Number(r.a), Number(r.b)]);
}

/** The minutes (epoch seconds) the given traces' responses fall in: a deletion request reads them before it deletes. */
export async function minutesOfTraces(exec: ClickHouseExecutor, projectId: string, traceIds: readonly string[]): Promise<number[]> {
  const rows = await exec.query<{ m: Count }>(
    'SELECT DISTINCT toUInt32(toStartOfMinute(Timestamp)) AS m FROM promptline_response_list WHERE ProjectId = {project:String} AND TraceId IN {traceIds:Array(String)} ORDER BY m',
    { project: projectId, traceIds: [...traceIds] },
  );
  return rows.map((r) => Number(r.m));
}

/** Marks minutes as changed now (after a deletion request removed rows of them), so that they are read from the list until rolled up again. */
export async function markMinutesChanged(exec: ClickHouseExecutor, projectId: string, minutes: readonly number[]): Promise<void> {
  if (minutes.length === 0) return;
  await exec.command(
    `INSERT INTO promptline_minutes_changed
     SELECT {project:String}, toDateTime(m), toUInt64(toUnixTimestamp64Milli(now64(3))) FROM (SELECT arrayJoin({minutes:Array(UInt32)}) AS m)
     SETTINGS throw_on_max_partitions_per_insert_block = 0`,
    { project: projectId, minutes: [...minutes] },
  );
}
