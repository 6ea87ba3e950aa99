import type {
  EvaluationRow,
  EvaluationSummary,
  ImpactCursor,
  ImpactFacts,
  ImpactFilter,
  ImpactItem,
  ImpactWindow,
  LineageRollupRound,
  SignalBin,
  SignalTarget,
  SpanAnalytics,
  TimelineRow,
  TimelineScope,
  VersionStats,
} from '../span-analytics.ts';
import type { ResponseFacets, ResponseFilter, ResponseListItem, ResponsePosition } from '../response-list.ts';
import type { ClickHouseExecutor, QueryParams } from './executor.ts';
import { ClickHouseResponseList } from './clickhouse-response-list.ts';
import { toIso } from './clickhouse-span-store.ts';
import { nanosToDateTime64 } from './span-rows.ts';
import { lineageTimeline } from './clickhouse-lineage-timeline.ts';
import { rollLineageMinutes } from './clickhouse-lineage-rollup.ts';
import { evaluationHistograms, signalHistograms, targetTimes } from './clickhouse-signals.ts';

// Impact, evaluations and comparisons in ClickHouse SQL.
//
// A span may have several rows (a newer revision after a late parent fixed its lineage). Reads use
// FINAL so that each span counts once, at its latest revision. The filters go to PREWHERE and the
// skip indexes select granules before the merge: a time window prunes partitions, a prompt or a
// dataset reads a small part of the table. That is exact for what fixups nearly always do — fill a
// lineage a span did not have ('' → X) — and for spans whose parts have merged. Where a fixup
// replaced one inherited value by another (X → Y: a nearer ancestor with another prompt arrived
// late), an impact query for X can still count that span until its parts merge. Exact mode
// (use_skip_indexes_if_final_exact_mode) would remove that window, at the cost of reading every
// granule whose key range overlaps a selected one: with random trace ids, the whole table.

// A "response" is a span with a response id; where a trace has none (Langfuse sends none), each
// model call (a span that named a model itself) counts once.

/** ClickHouse DateTime64 text for a Date (UTC). */
export const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

function predicate(f: ImpactFilter): { sql: string; params: QueryParams } {
  switch (f.kind) {
    case 'promptVersion':
      return { sql: 'PromptName = {f_name:String} AND PromptVersion = {f_version:String}', params: { f_name: f.name, f_version: f.version } };
    case 'aliasMove':
      // Responses of the versions the move pointed to, while it was in force, from apps that asked
      // for this alias (or did not say which alias they asked for).
      return {
        sql:
          "PromptName = {f_name:String} AND PromptVersion IN {f_versions:Array(String)} AND (PromptAlias = {f_alias:String} OR PromptAlias = '')" +
          ' AND Timestamp >= {f_from:DateTime64(3)}' +
          (f.to ? ' AND Timestamp < {f_to:DateTime64(3)}' : ''),
        params: { f_name: f.name, f_versions: f.versions, f_alias: f.alias, f_from: chTime(f.from), ...(f.to ? { f_to: chTime(f.to) } : {}) },
      };
    case 'dataset':
      return { sql: 'has(DatasetIds, {f_dataset:String})', params: { f_dataset: f.id } };
    case 'model':
      return f.provider
        ? { sql: 'ModelName = {f_model:String} AND ModelProvider = {f_provider:String}', params: { f_model: f.name, f_provider: f.provider } }
        : { sql: 'ModelName = {f_model:String}', params: { f_model: f.name } };
    case 'appVersion':
      return { sql: 'AppName = {f_app:String} AND AppVersion = {f_app_version:String}', params: { f_app: f.name, f_app_version: f.version } };
  }
}

const RESPONSE_COLUMNS =
  'TraceId, SpanId, Timestamp, PromptName, PromptVersion, PromptAlias, ModelProvider, ModelName, ResponseId, DatasetIds, ' +
  'AppName, AppVersion, ConversationId, ServiceName, LineageOwnMask, Duration, StatusCode';

/** Read settings for FINAL with filters before the merge (see the note at the top). */
// Partitions may be pruned before the merge: every revision of a span has the span's Timestamp,
// so all of them are in the same daily partition.
const FINAL_SETTINGS =
  'SETTINGS use_skip_indexes_if_final = 1, use_skip_indexes_if_final_exact_mode = 0, optimize_move_to_prewhere_if_final = 1, defer_partition_pruning_after_final = 0';

/** The responses matching `pred` in the window, each span at its latest revision, as the CTE `resp`. */
function responsesCte(pred: string, extraColumns = ''): string {
  return `
  resp AS (
    SELECT * FROM (
      SELECT ${RESPONSE_COLUMNS}${extraColumns ? `, ${extraColumns}` : ''}, max(ResponseId != '') OVER (PARTITION BY TraceId) AS TraceHasResponseId
      FROM otel_traces FINAL
      WHERE ProjectId = {project:String} AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)} AND (${pred})
    )
    WHERE ResponseId != '' OR (bitAnd(LineageOwnMask, 2) != 0 AND NOT TraceHasResponseId)
  )`;
}

interface Grouped {
  /** grouping() is a UInt64: a string in JSON, as every 64-bit integer here. */
  g: string;
  AppName: string;
  AppVersion: string;
  ServiceName: string;
  Bucket: string;
  PromptName: string;
  PromptVersion: string;
  ModelProvider: string;
  ModelName: string;
  n: string;
  first: string;
  last: string;
}

// grouping() bits, most significant first: AppName, AppVersion, ServiceName, Bucket, PromptName,
// PromptVersion, ModelProvider, ModelName. A bit is 1 where the column is NOT in the set's key.
const ALL = 0b11111111;
const SET_APPS = ALL & ~0b11000000;
const SET_SERVICES = ALL & ~0b00100000;
const SET_BUCKETS = ALL & ~0b00010000;
const SET_VERSIONS = ALL & ~0b00001100;
const SET_MODELS = ALL & ~0b00000011;

const seen = (r: { n: string; first: string; last: string }) => ({ count: Number(r.n), firstSeen: toIso(r.first), lastSeen: toIso(r.last) });

export class ClickHouseSpanAnalytics implements SpanAnalytics {
  private readonly exec: ClickHouseExecutor;
  private readonly responses: ClickHouseResponseList;

  constructor(exec: ClickHouseExecutor) {
    this.exec = exec;
    this.responses = new ClickHouseResponseList(exec);
  }

  listResponses(projectId: string, filter: ResponseFilter, page: { limit: number; after: ResponsePosition | null }): Promise<ResponseListItem[]> {
    return this.responses.listResponses(projectId, filter, page);
  }

  countResponses(projectId: string, filter: ResponseFilter): Promise<number> {
    return this.responses.countResponses(projectId, filter);
  }

  responseFacets(projectId: string, filter: ResponseFilter, top: number): Promise<ResponseFacets> {
    return this.responses.responseFacets(projectId, filter, top);
  }

  private params(projectId: string, filter: ImpactFilter, w: ImpactWindow): { pred: string; params: QueryParams } {
    const p = predicate(filter);
    return { pred: p.sql, params: { ...p.params, project: projectId, from: chTime(w.from), to: chTime(w.to), bucket: Math.max(1, Math.round(w.bucketSeconds)) } };
  }

  async impactFacts(projectId: string, filter: ImpactFilter, w: ImpactWindow): Promise<ImpactFacts> {
    const { pred, params } = this.params(projectId, filter, w);
    const [grouped, datasets, conversations] = await Promise.all([
      this.exec.query<Grouped>(
        `WITH ${responsesCte(pred)}
         SELECT grouping(AppName, AppVersion, ServiceName, Bucket, PromptName, PromptVersion, ModelProvider, ModelName) AS g,
                AppName, AppVersion, ServiceName, toString(Bucket) AS Bucket, PromptName, PromptVersion, ModelProvider, ModelName,
                count() AS n, toString(min(Timestamp)) AS first, toString(max(Timestamp)) AS last
         FROM (SELECT *, toStartOfInterval(Timestamp, toIntervalSecond({bucket:UInt32})) AS Bucket FROM resp)
         GROUP BY GROUPING SETS ((AppName, AppVersion), (ServiceName), (Bucket), (PromptName, PromptVersion), (ModelProvider, ModelName), ())
         ${FINAL_SETTINGS}`,
        params,
      ),
      this.exec.query<{ id: string; n: string; first: string; last: string }>(
        `WITH ${responsesCte(pred)}
         SELECT arrayJoin(DatasetIds) AS id, count() AS n, toString(min(Timestamp)) AS first, toString(max(Timestamp)) AS last
         FROM resp GROUP BY id ORDER BY n DESC, id LIMIT 1000
         ${FINAL_SETTINGS}`,
        params,
      ),
      this.exec.query<{ total: string; top: Array<[string, string]> }>(
        `WITH ${responsesCte(pred)}
         SELECT uniqExact(ConversationId) AS total,
                arraySlice(arraySort(x -> (-x.2, x.1), groupArray((ConversationId, n))), 1, 50) AS top
         FROM (SELECT ConversationId, count() AS n FROM resp WHERE ConversationId != '' GROUP BY ConversationId)
         ${FINAL_SETTINGS}`,
        params,
      ),
    ]);
    const total = grouped.find((r) => Number(r.g) === ALL);
    const rows = (set: number) => grouped.filter((r) => Number(r.g) === set);
    const count = Number(total?.n ?? 0);
    return {
      responses: count,
      firstSeen: count > 0 ? toIso(total!.first) : null,
      lastSeen: count > 0 ? toIso(total!.last) : null,
      histogram: rows(SET_BUCKETS)
        .map((r) => ({ start: toIso(r.Bucket.includes('.') ? r.Bucket : `${r.Bucket}.000`), count: Number(r.n) }))
        .sort((a, b) => a.start.localeCompare(b.start)),
      apps: rows(SET_APPS).map((r) => ({ name: r.AppName, version: r.AppVersion, ...seen(r) })).sort(byCount),
      services: rows(SET_SERVICES).map((r) => ({ name: r.ServiceName, ...seen(r) })).sort(byCount),
      promptVersions: rows(SET_VERSIONS).filter((r) => r.PromptName !== '').map((r) => ({ name: r.PromptName, version: r.PromptVersion, ...seen(r) })).sort(byCount),
      models: rows(SET_MODELS).filter((r) => r.ModelName !== '').map((r) => ({ provider: r.ModelProvider, name: r.ModelName, ...seen(r) })).sort(byCount),
      datasets: datasets.map((r) => ({ id: r.id, ...seen(r) })),
      conversations: {
        count: Number(conversations[0]?.total ?? 0),
        top: (conversations[0]?.top ?? []).map(([id, n]) => ({ id, responses: Number(n) })),
      },
    };
  }

  /** The plan of the responses read, with the indexes it uses (EXPLAIN indexes = 1): for operators and tests. */
  async explainResponses(projectId: string, filter: ImpactFilter, w: ImpactWindow): Promise<string> {
    const { pred, params } = this.params(projectId, filter, w);
    const rows = await this.exec.query<{ explain: string }>(`EXPLAIN indexes = 1 WITH ${responsesCte(pred)} SELECT count() FROM resp ${FINAL_SETTINGS}`, params);
    return rows.map((r) => r.explain).join('\n');
  }

  async impactItems(projectId: string, filter: ImpactFilter, w: ImpactWindow, page: { limit: number; after: ImpactCursor | null }): Promise<ImpactItem[]> {
    const { pred, params } = this.params(projectId, filter, w);
    const after = page.after
      ? 'WHERE (Timestamp, TraceId, SpanId) < ({c_ts:DateTime64(9)}, {c_trace:String}, {c_span:String})'
      : '';
    const rows = await this.exec.query<{
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
    }>(
      `WITH ${responsesCte(pred)}
       SELECT TraceId, SpanId, toString(Timestamp) AS Ts, ResponseId, PromptName, PromptVersion, PromptAlias, ModelProvider, ModelName,
              AppName, AppVersion, ServiceName, ConversationId, DatasetIds
       FROM resp ${after}
       ORDER BY Timestamp DESC, TraceId DESC, SpanId DESC
       LIMIT {limit:UInt32}
       ${FINAL_SETTINGS}`,
      {
        ...params,
        limit: page.limit,
        ...(page.after ? { c_ts: page.after.timestamp.replace('T', ' ').replace('Z', ''), c_trace: page.after.traceId, c_span: page.after.spanId } : {}),
      },
    );
    return rows.map((r) => ({
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
    }));
  }

  async writeEvaluations(projectId: string, rows: readonly EvaluationRow[], token: string): Promise<void> {
    if (rows.length === 0) return;
    const body = rows
      .map((r) =>
        JSON.stringify({
          ProjectId: projectId,
          RunId: r.runId,
          Scorer: r.scorer,
          Score: r.score,
          Label: r.label,
          PromptName: r.promptName,
          PromptVersion: r.promptVersion,
          DatasetId: r.datasetId,
          ModelName: r.modelName,
          AppName: r.appName,
          AppVersion: r.appVersion,
          ResponseId: r.responseId,
          TraceId: r.traceId,
          SpanId: r.spanId,
          ItemId: r.itemId,
          Timestamp: nanosToDateTime64(r.timestampNs),
          Source: r.source,
        }),
      )
      .join('\n');
    await this.exec.insertJsonEachRow('promptline_evaluations', Buffer.from(body + '\n'), { dedupToken: token, settings: { throw_on_max_partitions_per_insert_block: 0 } });
  }

  async evaluationsFor(projectId: string, filter: ImpactFilter, w: ImpactWindow): Promise<EvaluationSummary[]> {
    const cond =
      filter.kind === 'promptVersion'
        ? 'PromptName = {f_name:String} AND PromptVersion = {f_version:String}'
        : filter.kind === 'aliasMove'
          ? 'PromptName = {f_name:String} AND PromptVersion IN {f_versions:Array(String)} AND Timestamp >= {f_from:DateTime64(3)}' + (filter.to ? ' AND Timestamp < {f_to:DateTime64(3)}' : '')
          : filter.kind === 'dataset'
            ? 'DatasetId = {f_dataset:String}'
            : filter.kind === 'model'
              ? 'ModelName = {f_model:String}'
              : 'AppName = {f_app:String} AND AppVersion = {f_app_version:String}';
    const { params } = this.params(projectId, filter, w);
    const rows = await this.exec.query<{ RunId: string; Scorer: string; n: string; mean: number | null; versions: Array<[string, string]>; datasets: string[]; first: string; last: string }>(
      `SELECT RunId, Scorer, count() AS n, avgOrNull(Score) AS mean,
              arraySort(groupUniqArray((PromptName, PromptVersion))) AS versions, arraySort(groupUniqArrayIf(DatasetId, DatasetId != '')) AS datasets,
              toString(min(Timestamp)) AS first, toString(max(Timestamp)) AS last
       FROM promptline_evaluations FINAL
       WHERE ProjectId = {project:String} AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)} AND ${cond}
       GROUP BY RunId, Scorer ORDER BY last DESC LIMIT 1000`,
      params,
    );
    return rows.map((r) => ({
      runId: r.RunId,
      scorer: r.Scorer,
      results: Number(r.n),
      meanScore: r.mean,
      promptVersions: r.versions.filter(([n]) => n !== '').map(([name, version]) => ({ name, version })),
      datasets: r.datasets,
      firstSeen: toIso(r.first),
      lastSeen: toIso(r.last),
    }));
  }

  async evaluationsOfResponse(projectId: string, traceId: string, spanId: string, responseId: string): Promise<EvaluationRow[]> {
    const rows = await this.exec.query<Record<string, string | number | null>>(
      `SELECT RunId, Scorer, Score, Label, PromptName, PromptVersion, DatasetId, ModelName, AppName, AppVersion, ResponseId, TraceId, SpanId, ItemId,
              toString(toUnixTimestamp64Nano(Timestamp)) AS Ns, Source
       FROM promptline_evaluations FINAL
       WHERE ProjectId = {project:String} AND ((TraceId = {trace:String} AND SpanId = {span:String}) OR (ResponseId != '' AND ResponseId = {response:String}))
       ORDER BY Timestamp`,
      { project: projectId, trace: traceId, span: spanId, response: responseId },
    );
    return rows.map((r) => ({
      runId: String(r.RunId),
      scorer: String(r.Scorer),
      score: r.Score === null ? null : Number(r.Score),
      label: String(r.Label),
      promptName: String(r.PromptName),
      promptVersion: String(r.PromptVersion),
      datasetId: String(r.DatasetId),
      modelName: String(r.ModelName),
      appName: String(r.AppName),
      appVersion: String(r.AppVersion),
      responseId: String(r.ResponseId),
      traceId: String(r.TraceId),
      spanId: String(r.SpanId),
      itemId: String(r.ItemId),
      timestampNs: BigInt(String(r.Ns)),
      source: String(r.Source) as EvaluationRow['source'],
    }));
  }

  async versionStats(projectId: string, name: string, version: string, w: ImpactWindow): Promise<VersionStats> {
    const filter: ImpactFilter = { kind: 'promptVersion', name, version };
    const { pred, params } = this.params(projectId, filter, w);
    const [stats] = await this.exec.query<{
      n: string;
      errors: string;
      p50: number | null;
      p95: number | null;
      mean: number | null;
      sd: number | null;
      input: string;
      output: string;
      meanTotal: number | null;
      first: string;
      last: string;
    }>(
      `WITH ${responsesCte(pred, 'SpanAttributes')}
       SELECT count() AS n, countIf(StatusCode = 'Error') AS errors,
              quantileExactOrNull(0.5)(Duration / 1e6) AS p50, quantileExactOrNull(0.95)(Duration / 1e6) AS p95,
              avgOrNull(Duration / 1e6) AS mean, if(count() > 1, stddevSamp(Duration / 1e6), NULL) AS sd,
              sum(tokensIn) AS input, sum(tokensOut) AS output, avgOrNull(tokensIn + tokensOut) AS meanTotal,
              toString(min(Timestamp)) AS first, toString(max(Timestamp)) AS last
       FROM (
         SELECT *,
           toUInt64OrZero(coalesce(nullIf(SpanAttributes['gen_ai.usage.input_tokens'], ''), SpanAttributes['llm.token_count.prompt'])) AS tokensIn,
           toUInt64OrZero(coalesce(nullIf(SpanAttributes['gen_ai.usage.output_tokens'], ''), SpanAttributes['llm.token_count.completion'])) AS tokensOut
         FROM resp)
       ${FINAL_SETTINGS}`,
      params,
    );
    const scores = await this.exec.query<{ Scorer: string; values: number[] }>(
      `SELECT Scorer, groupArray(100000)(assumeNotNull(Score)) AS values
       FROM promptline_evaluations FINAL
       WHERE ProjectId = {project:String} AND PromptName = {f_name:String} AND PromptVersion = {f_version:String}
         AND Score IS NOT NULL AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)}
       GROUP BY Scorer ORDER BY Scorer`,
      params,
    );
    const n = Number(stats?.n ?? 0);
    return {
      version,
      responses: n,
      errors: Number(stats?.errors ?? 0),
      latencyMs: { p50: stats?.p50 ?? null, p95: stats?.p95 ?? null, mean: stats?.mean ?? null, sd: stats?.sd ?? null },
      tokens: { input: Number(stats?.input ?? 0), output: Number(stats?.output ?? 0), meanTotal: stats?.meanTotal ?? null },
      scores: scores.map((s) => ({ scorer: s.Scorer, values: s.values.map(Number) })),
      firstSeen: n > 0 ? toIso(stats!.first) : null,
      lastSeen: n > 0 ? toIso(stats!.last) : null,
    };
  }

  async evaluationScores(projectId: string, name: string, version: string, scorer: string, dataset: string, w: { from: Date; to: Date }): Promise<number[]> {
    const [row] = await this.exec.query<{ values: number[] }>(
      `SELECT groupArray(100000)(assumeNotNull(Score)) AS values
       FROM promptline_evaluations FINAL
       WHERE ProjectId = {project:String} AND PromptName = {name:String} AND PromptVersion = {version:String}
         AND Scorer = {scorer:String} AND DatasetId = {dataset:String}
         AND Score IS NOT NULL AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)}`,
      { project: projectId, name, version, scorer, dataset, from: chTime(w.from), to: chTime(w.to) },
    );
    return (row?.values ?? []).map(Number);
  }

  lineageTimeline(projectId: string, scope: TimelineScope, window: ImpactWindow): Promise<TimelineRow[]> {
    return lineageTimeline(this.exec, projectId, scope, window);
  }

  rollUpLineage(now: Date): Promise<LineageRollupRound> {
    return rollLineageMinutes(this.exec, now);
  }

  signalHistograms(projectId: string, target: SignalTarget, window: { from: Date; to: Date }): Promise<SignalBin[]> {
    return signalHistograms(this.exec, projectId, target, window);
  }

  evaluationHistograms(projectId: string, target: SignalTarget, window: { from: Date; to: Date }): Promise<SignalBin[]> {
    return evaluationHistograms(this.exec, projectId, target, window);
  }

  targetTimes(projectId: string, target: SignalTarget) {
    return targetTimes(this.exec, projectId, target);
  }
}

const byCount = (a: { count: number }, b: { count: number }) => b.count - a.count;
