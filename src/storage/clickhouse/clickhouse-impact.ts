import type { CountedFirstLast, ImpactCursor, ImpactFacts, ImpactFilter, ImpactItem, ImpactWindow, VersionCount, VersionStats } from '../span-analytics.ts';
import type { ClickHouseExecutor, QueryParams } from './executor.ts';
import { lineageMinutes } from './clickhouse-lineage-timeline.ts';
import { toIso } from './clickhouse-span-store.ts';

// Impact and version statistics in ClickHouse SQL, on what ingest keeps per response rather than on
// otel_traces: counts, the histogram and the affected apps, versions, models and datasets from the
// per-minute lineage rollup (completed by the response list where a minute is open or changed since
// its roll; clickhouse-lineage-timeline.ts), so their cost grows with the minutes of the window, not
// with the target's traffic. What the rollup does not keep — services, conversations, the responses
// themselves, latency quantiles — is read from promptline_response_list (ordered by project and
// time), only over the time the rollup says the target had responses: the first page of responses
// reads just the newest buckets that hold a page. Each span counts once, at its latest revision
// (FINAL, filters after it), and a response is what the list holds with Excluded = 0 (migration 4).

/** ClickHouse DateTime64 text for a Date (UTC). */
const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');
/** ClickHouse DateTime64(9) text for an ISO time with up to nine decimals. */
const chTime9 = (iso: string) => iso.replace('T', ' ').replace('Z', '');

const LIST_FINAL = 'SETTINGS do_not_merge_across_partitions_select_final = 1, optimize_move_to_prewhere_if_final = 0';

/** 64-bit numbers arrive as JSON strings. */
type Count = number | string;

/** The target as a condition on the lineage columns the rollup and the list share, and the part of time it covers. */
interface Target {
  where: string;
  params: QueryParams;
  /** Response-list column names: the list has DatasetIds where the rollup has its sorted copy, Datasets. */
  listWhere: string;
  from: Date | null;
  to: Date | null;
}

function target(f: ImpactFilter): Target {
  switch (f.kind) {
    case 'promptVersion': {
      const where = 'PromptName = {f_name:String} AND PromptVersion = {f_version:String}';
      return { where, listWhere: where, params: { f_name: f.name, f_version: f.version }, from: null, to: null };
    }
    case 'aliasMove': {
      // Responses of the versions the move pointed to, while it was in force, from apps that asked
      // for this alias (or did not say which alias they asked for).
      const where = "PromptName = {f_name:String} AND PromptVersion IN {f_versions:Array(String)} AND (PromptAlias = {f_alias:String} OR PromptAlias = '')";
      return { where, listWhere: where, params: { f_name: f.name, f_versions: f.versions, f_alias: f.alias }, from: f.from, to: f.to };
    }
    case 'dataset':
      return { where: 'has(Datasets, {f_dataset:String})', listWhere: 'has(DatasetIds, {f_dataset:String})', params: { f_dataset: f.id }, from: null, to: null };
    case 'model': {
      const where = f.provider ? 'ModelName = {f_model:String} AND ModelProvider = {f_provider:String}' : 'ModelName = {f_model:String}';
      return { where, listWhere: where, params: f.provider ? { f_model: f.name, f_provider: f.provider } : { f_model: f.name }, from: null, to: null };
    }
    case 'appVersion': {
      const where = 'AppName = {f_app:String} AND AppVersion = {f_app_version:String}';
      return { where, listWhere: where, params: { f_app: f.name, f_app_version: f.version }, from: null, to: null };
    }
  }
}

/** The window cut to the time the target covers (an alias move's time in force). */
function within(w: { from: Date; to: Date }, t: Target): { from: Date; to: Date } {
  const from = t.from && t.from > w.from ? t.from : w.from;
  const to = t.to && t.to < w.to ? t.to : w.to;
  return { from, to };
}

interface KeyRow {
  Bucket: string;
  AppName: string;
  AppVersion: string;
  PromptName: string;
  PromptVersion: string;
  ModelProvider: string;
  ModelName: string;
  Datasets: string[];
  n: Count;
  first: string;
  last: string;
}

/** Counts with the first and last time seen, summed over rows. */
class Tally {
  private readonly byKey = new Map<string, { parts: string[]; count: number; first: string; last: string }>();

  add(parts: string[], n: number, first: string, last: string) {
    const key = JSON.stringify(parts);
    const had = this.byKey.get(key);
    if (!had) this.byKey.set(key, { parts, count: n, first, last });
    else {
      had.count += n;
      if (first < had.first) had.first = first;
      if (last > had.last) had.last = last;
    }
  }

  rows(): Array<{ parts: string[] } & CountedFirstLast> {
    return [...this.byKey.values()]
      .map((e) => ({ parts: e.parts, count: e.count, firstSeen: toIso(e.first), lastSeen: toIso(e.last) }))
      .sort((a, b) => b.count - a.count || (a.parts.join('\u0000') < b.parts.join('\u0000') ? -1 : 1));
  }
}

export class ClickHouseImpact {
  private readonly exec: ClickHouseExecutor;

  constructor(exec: ClickHouseExecutor) {
    this.exec = exec;
  }

  /** The target's responses per histogram bucket and lineage key, from the rollup and the list. */
  private async keyRows(projectId: string, t: Target, w: { from: Date; to: Date }, bucketSeconds: number, opts: { rollup?: boolean }): Promise<KeyRow[]> {
    const params: QueryParams = { ...t.params, bucket: bucketSeconds };
    const source = await lineageMinutes(this.exec, projectId, { where: t.where, params }, w, { bucketSeconds, ...opts });
    if (source === null) return [];
    return this.exec.query<KeyRow>(
      `SELECT toString(toStartOfInterval(Minute, toIntervalSecond({bucket:UInt32}))) AS Bucket, AppName, AppVersion, PromptName, PromptVersion, ModelProvider, ModelName,
              CAST(Datasets, 'Array(String)') AS Datasets, sum(n) AS n, toString(min(first)) AS first, toString(max(last)) AS last
       FROM (${source})
       GROUP BY Bucket, AppName, AppVersion, PromptName, PromptVersion, ModelProvider, ModelName, Datasets`,
      params,
    );
  }

  async impactFacts(projectId: string, filter: ImpactFilter, w: ImpactWindow, opts: { rollup?: boolean } = {}): Promise<ImpactFacts> {
    const t = target(filter);
    const win = within(w, t);
    const bucket = Math.max(1, Math.round(w.bucketSeconds));
    const rows = await this.keyRows(projectId, t, win, bucket, opts);
    const total = new Tally();
    const buckets = new Map<string, number>();
    const apps = new Tally();
    const versions = new Tally();
    const models = new Tally();
    const datasets = new Tally();
    for (const r of rows) {
      const n = Number(r.n);
      total.add([], n, r.first, r.last);
      buckets.set(r.Bucket, (buckets.get(r.Bucket) ?? 0) + n);
      apps.add([r.AppName, r.AppVersion], n, r.first, r.last);
      if (r.PromptName !== '') versions.add([r.PromptName, r.PromptVersion], n, r.first, r.last);
      if (r.ModelName !== '') models.add([r.ModelProvider, r.ModelName], n, r.first, r.last);
      for (const id of new Set(r.Datasets)) datasets.add([id], n, r.first, r.last);
    }
    const all = total.rows()[0];
    const [services, conversations] = all ? await this.servicesAndConversations(projectId, t, all) : [[], { count: 0, top: [] }];
    return {
      responses: all?.count ?? 0,
      firstSeen: all?.firstSeen ?? null,
      lastSeen: all?.lastSeen ?? null,
      histogram: [...buckets]
        .map(([start, count]) => ({ start: toIso(start.includes('.') ? start : `${start}.000`), count }))
        .sort((a, b) => a.start.localeCompare(b.start)),
      apps: apps.rows().map(({ parts: [name, version], ...c }) => ({ name: name!, version: version!, ...c })),
      services,
      promptVersions: versions.rows().map(({ parts: [name, version], ...c }) => ({ name: name!, version: version!, ...c })),
      models: models.rows().map(({ parts: [provider, name], ...c }) => ({ provider: provider!, name: name!, ...c })),
      datasets: datasets
        .rows()
        .slice(0, 1000)
        .map(({ parts: [id], ...c }) => ({ id: id!, ...c })),
      conversations,
    };
  }

  /** Services and conversations, from the list between the target's first and last response in the window. */
  private async servicesAndConversations(projectId: string, t: Target, seen: CountedFirstLast): Promise<[ImpactFacts['services'], ImpactFacts['conversations']]> {
    const params: QueryParams = { ...t.params, project: projectId, first: chTime9(seen.firstSeen), last: chTime9(seen.lastSeen) };
    const cond = `ProjectId = {project:String} AND Timestamp >= {first:DateTime64(9)} AND Timestamp <= {last:DateTime64(9)} AND (${t.listWhere}) AND Excluded = 0`;
    const [services, conversations] = await Promise.all([
      this.exec.query<{ ServiceName: string; n: Count; first: string; last: string }>(
        `SELECT ServiceName, count() AS n, toString(min(Timestamp)) AS first, toString(max(Timestamp)) AS last
         FROM promptline_response_list FINAL WHERE ${cond} GROUP BY ServiceName ${LIST_FINAL}`,
        params,
      ),
      this.exec.query<{ total: Count; top: Array<[string, Count]> }>(
        `SELECT uniqExact(ConversationId) AS total, arraySlice(arraySort(x -> (-x.2, x.1), groupArray((ConversationId, n))), 1, 50) AS top
         FROM (SELECT ConversationId, count() AS n FROM promptline_response_list FINAL WHERE ${cond} AND ConversationId != '' GROUP BY ConversationId ${LIST_FINAL})`,
        params,
      ),
    ]);
    return [
      services.map((r) => ({ name: r.ServiceName, count: Number(r.n), firstSeen: toIso(r.first), lastSeen: toIso(r.last) })).sort((a, b) => b.count - a.count || a.name.localeCompare(b.name)),
      { count: Number(conversations[0]?.total ?? 0), top: (conversations[0]?.top ?? []).map(([id, n]) => ({ id, responses: Number(n) })) },
    ];
  }

  /**
   * A page of the target's responses, newest first. With the histogram of the same window (from
   * impactFacts), only the newest buckets before the cursor that hold a page are read; without it,
   * or where those buckets hold fewer rows than they counted, the whole window before the cursor.
   */
  async impactItems(
    projectId: string,
    filter: ImpactFilter,
    w: ImpactWindow,
    page: { limit: number; after: ImpactCursor | null },
    histogram?: ReadonlyArray<{ start: string; count: number }>,
  ): Promise<ImpactItem[]> {
    const t = target(filter);
    const win = within(w, t);
    if (win.to <= win.from) return [];
    const params: QueryParams = { ...t.params, project: projectId, from: chTime(win.from), to: chTime(win.to), limit: page.limit };
    let cond = `ProjectId = {project:String} AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)} AND (${t.listWhere})`;
    if (page.after) {
      cond += ' AND Timestamp <= {c_ts:DateTime64(9)} AND (Timestamp, TraceId, SpanId) < ({c_ts:DateTime64(9)}, {c_trace:String}, {c_span:String})';
      Object.assign(params, { c_ts: chTime9(page.after.timestamp), c_trace: page.after.traceId, c_span: page.after.spanId });
    }
    // With the histogram: the newest buckets that hold a page, then (if they held less than they
    // counted: rows revised or added since) the whole window before the cursor.
    const steps: Array<{ from: Date | null; to: Date | null }> = [{ from: null, to: null }];
    if (histogram) {
      const narrow = newestBucketsHolding(histogram, page.limit, page.after?.timestamp ?? null, Math.max(1, Math.round(w.bucketSeconds)));
      if (narrow.from || narrow.to) steps.unshift(narrow);
    }
    for (const [i, step] of steps.entries()) {
      const extra = (step.from && step.from > win.from ? ' AND Timestamp >= {since:DateTime64(3)}' : '') + (step.to && step.to < win.to ? ' AND Timestamp < {until:DateTime64(3)}' : '');
      const rows = await this.exec.query<ItemRow>(
        `SELECT TraceId, SpanId, toString(Timestamp) AS Ts, ResponseId, PromptName, PromptVersion, PromptAlias, ModelProvider, ModelName,
                AppName, AppVersion, ServiceName, ConversationId, DatasetIds
         FROM promptline_response_list FINAL
         WHERE ${cond}${extra} AND Excluded = 0
         ORDER BY Timestamp DESC, TraceId DESC, SpanId DESC
         LIMIT {limit:UInt32}
         ${LIST_FINAL}`,
        { ...params, ...(step.from ? { since: chTime(step.from) } : {}), ...(step.to ? { until: chTime(step.to) } : {}) },
      );
      if (rows.length === page.limit || i === steps.length - 1) return rows.map(toItem);
    }
    throw new Error('unreachable: the last read is of the whole window');
  }

  /** The plan of a first page's read (EXPLAIN indexes = 1), for operators and tests. */
  async explainItems(projectId: string, filter: ImpactFilter, w: ImpactWindow, histogram: ReadonlyArray<{ start: string; count: number }>, limit: number): Promise<string> {
    const t = target(filter);
    const win = within(w, t);
    const narrow = newestBucketsHolding(histogram, limit, null, Math.max(1, Math.round(w.bucketSeconds)));
    const rows = await this.exec.query<{ explain: string }>(
      `EXPLAIN indexes = 1 SELECT TraceId FROM promptline_response_list FINAL
       WHERE ProjectId = {project:String} AND Timestamp >= {since:DateTime64(3)} AND Timestamp < {to:DateTime64(3)} AND (${t.listWhere}) AND Excluded = 0
       ORDER BY Timestamp DESC LIMIT {limit:UInt32} ${LIST_FINAL}`,
      { ...t.params, project: projectId, since: chTime(narrow.from ?? win.from), to: chTime(narrow.to ?? win.to), limit },
    );
    return rows.map((r) => r.explain).join('\n');
  }

  /** Responses of each version in the window, with the first and last seen (from the rollup and the list). */
  async versionCounts(projectId: string, name: string, versions: readonly string[], w: ImpactWindow): Promise<VersionCount[]> {
    if (versions.length === 0) return [];
    const t: Target = { where: 'PromptName = {f_name:String} AND PromptVersion IN {f_versions:Array(String)}', listWhere: '', params: { f_name: name, f_versions: [...versions] }, from: null, to: null };
    const bucket = Math.max(60, Math.round(w.bucketSeconds / 60) * 60);
    const counts = new Tally();
    for (const r of await this.keyRows(projectId, t, w, bucket, {})) counts.add([r.PromptVersion], Number(r.n), r.first, r.last);
    const byVersion = new Map(counts.rows().map((r) => [r.parts[0]!, r]));
    return versions.map((version) => {
      const c = byVersion.get(version);
      return { name, version, count: c?.count ?? 0, firstSeen: c?.firstSeen ?? null, lastSeen: c?.lastSeen ?? null };
    });
  }

  /** A version's responses in the window with their latency quantiles and token counts (from the list). */
  async versionStats(projectId: string, name: string, version: string, w: ImpactWindow): Promise<Omit<VersionStats, 'scores'>> {
    const [stats] = await this.exec.query<{
      n: Count;
      errors: Count;
      p50: number | null;
      p95: number | null;
      mean: number | null;
      sd: number | null;
      input: Count;
      output: Count;
      meanTotal: number | null;
      first: string;
      last: string;
    }>(
      `SELECT count() AS n, countIf(StatusCode = 'Error') AS errors,
              quantileExactOrNull(0.5)(Duration / 1e6) AS p50, quantileExactOrNull(0.95)(Duration / 1e6) AS p95,
              avgOrNull(Duration / 1e6) AS mean, if(count() > 1, stddevSamp(Duration / 1e6), NULL) AS sd,
              sum(greatest(InputTokens, 0)) AS input, sum(greatest(OutputTokens, 0)) AS output, avgOrNull(greatest(InputTokens, 0) + greatest(OutputTokens, 0)) AS meanTotal,
              toString(min(Timestamp)) AS first, toString(max(Timestamp)) AS last
       FROM promptline_response_list FINAL
       WHERE ProjectId = {project:String} AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)}
         AND PromptName = {name:String} AND PromptVersion = {version:String} AND Excluded = 0
       ${LIST_FINAL}`,
      { project: projectId, from: chTime(w.from), to: chTime(w.to), name, version },
    );
    const n = Number(stats?.n ?? 0);
    return {
      version,
      responses: n,
      errors: Number(stats?.errors ?? 0),
      latencyMs: { p50: stats?.p50 ?? null, p95: stats?.p95 ?? null, mean: stats?.mean ?? null, sd: stats?.sd ?? null },
      tokens: { input: Number(stats?.input ?? 0), output: Number(stats?.output ?? 0), meanTotal: stats?.meanTotal ?? null },
      firstSeen: n > 0 ? toIso(stats!.first) : null,
      lastSeen: n > 0 ? toIso(stats!.last) : null,
    };
  }
}

/**
 * The start of the newest buckets of a histogram, before the cursor's time (an ISO time; null for
 * the end of the window), that hold at least `rows` responses; null when the whole window is to be
 * read. The cursor's own bucket is read but not counted: some of its rows may come after the cursor.
 */
function newestBucketsHolding(
  histogram: ReadonlyArray<{ start: string; count: number }>,
  rows: number,
  before: string | null,
  bucketSeconds: number,
): { from: Date | null; to: Date | null } {
  const newestFirst = histogram
    .filter((b) => b.count > 0)
    .map((b) => ({ ms: Date.parse(b.start), count: b.count }))
    .sort((a, b) => b.ms - a.ms);
  const beforeMs = before === null ? null : Date.parse(before.replace(/(\.\d{3})\d+/, '$1'));
  const older = newestFirst.filter((b) => beforeMs === null || b.ms <= beforeMs);
  // Nothing after the end of the newest bucket that has responses (before the cursor) is read.
  const to = older[0] ? new Date(older[0].ms + bucketSeconds * 1000) : null;
  const cursorBucket = beforeMs === null ? null : (older[0]?.ms ?? null);
  let held = 0;
  for (const b of older) {
    if (b.ms !== cursorBucket) held += b.count;
    if (held >= rows) return { from: new Date(b.ms), to };
  }
  return { from: null, to };
}

interface ItemRow {
  TraceId: string;
  SpanId: string;
  Ts: string;
  ResponseId: string;
  PromptName: string;
  PromptVersion: string;
  PromptAlias: string;
  ModelProvider: string;
  ModelName: string;
  AppName: string;
  AppVersion: string;
  ServiceName: string;
  ConversationId: string;
  DatasetIds: string[];
}

function toItem(r: ItemRow): ImpactItem {
  return {
    responseId: r.ResponseId || null,
    traceId: r.TraceId,
    spanId: r.SpanId,
    timestamp: toIso(r.Ts),
    prompt: r.PromptName ? { name: r.PromptName, version: r.PromptVersion, alias: r.PromptAlias } : null,
    model: r.ModelName || r.ModelProvider ? { provider: r.ModelProvider, name: r.ModelName } : null,
    app: { name: r.AppName, version: r.AppVersion },
    service: r.ServiceName,
    conversationId: r.ConversationId || null,
    datasets: r.DatasetIds,
  };
}
