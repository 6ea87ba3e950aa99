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
  VersionCount,
  VersionStats,
} from '../span-analytics.ts';
import type { ResponseFacets, ResponseFilter, ResponseListItem, ResponsePosition } from '../response-list.ts';
import type { ClickHouseExecutor, QueryParams } from './executor.ts';
import { ClickHouseImpact } from './clickhouse-impact.ts';
import { ClickHouseResponseList } from './clickhouse-response-list.ts';
import { toIso } from './clickhouse-span-store.ts';
import { nanosToDateTime64 } from './span-rows.ts';
import { lineageTimeline } from './clickhouse-lineage-timeline.ts';
import { rollLineageMinutes } from './clickhouse-lineage-rollup.ts';
import { evaluationHistograms, signalHistograms, targetTimes } from './clickhouse-signals.ts';

// Impact, evaluations and comparisons in ClickHouse SQL. Impact and version statistics read what
// ingest keeps per response (clickhouse-impact.ts); evaluations read promptline_evaluations.

/** ClickHouse DateTime64 text for a Date (UTC). */
export const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');

/** The parameters of an impact target, as the evaluations' conditions name them. */
function targetParams(f: ImpactFilter): QueryParams {
  switch (f.kind) {
    case 'promptVersion':
      return { f_name: f.name, f_version: f.version };
    case 'aliasMove':
      return { f_name: f.name, f_versions: f.versions, f_alias: f.alias, f_from: chTime(f.from), ...(f.to ? { f_to: chTime(f.to) } : {}) };
    case 'dataset':
      return { f_dataset: f.id };
    case 'model':
      return f.provider ? { f_model: f.name, f_provider: f.provider } : { f_model: f.name };
    case 'appVersion':
      return { f_app: f.name, f_app_version: f.version };
  }
}

export class ClickHouseSpanAnalytics implements SpanAnalytics {
  private readonly exec: ClickHouseExecutor;
  private readonly responses: ClickHouseResponseList;
  private readonly impact: ClickHouseImpact;

  constructor(exec: ClickHouseExecutor) {
    this.exec = exec;
    this.responses = new ClickHouseResponseList(exec);
    this.impact = new ClickHouseImpact(exec);
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

  private params(projectId: string, filter: ImpactFilter, w: ImpactWindow): { params: QueryParams } {
    return { params: { ...targetParams(filter), project: projectId, from: chTime(w.from), to: chTime(w.to) } };
  }

  impactFacts(projectId: string, filter: ImpactFilter, w: ImpactWindow): Promise<ImpactFacts> {
    return this.impact.impactFacts(projectId, filter, w);
  }

  impactItems(projectId: string, filter: ImpactFilter, w: ImpactWindow, page: { limit: number; after: ImpactCursor | null }, histogram?: ReadonlyArray<{ start: string; count: number }>): Promise<ImpactItem[]> {
    return this.impact.impactItems(projectId, filter, w, page, histogram);
  }

  versionCounts(projectId: string, name: string, versions: readonly string[], w: ImpactWindow): Promise<VersionCount[]> {
    return this.impact.versionCounts(projectId, name, versions, w);
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
    const params = { project: projectId, f_name: name, f_version: version, from: chTime(w.from), to: chTime(w.to) };
    const [stats, scores] = await Promise.all([
      this.impact.versionStats(projectId, name, version, w),
      this.exec.query<{ Scorer: string; values: number[] }>(
      `SELECT Scorer, groupArray(100000)(assumeNotNull(Score)) AS values
       FROM promptline_evaluations FINAL
       WHERE ProjectId = {project:String} AND PromptName = {f_name:String} AND PromptVersion = {f_version:String}
         AND Score IS NOT NULL AND Timestamp >= {from:DateTime64(3)} AND Timestamp < {to:DateTime64(3)}
       GROUP BY Scorer ORDER BY Scorer`,
        params,
      ),
    ]);
    return { ...stats, scores: scores.map((sc) => ({ scorer: sc.Scorer, values: sc.values.map(Number) })) };
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

