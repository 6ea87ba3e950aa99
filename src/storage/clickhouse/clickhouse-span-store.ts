import type { LineageFixup, ResolvedSpan, StoredNode } from '../../domain/stored-span.ts';
import type { ResolvedLineage } from '../../domain/lineage.ts';
import type { PingResult } from '../lifecycle.ts';
import type { SpanLineage, SpanQueries, SpanSink, StagedSpans, StoredRegistration, StoredSpanDetail } from '../span-store.ts';
import type { ClickHouseExecutor } from './executor.ts';
import { migrate } from './migrations.ts';
import { encodeSpanRowsSliced, SPAN_COLUMNS, SPAN_ROWS_FORMAT } from './span-rows.ts';

// The span store on ClickHouse SQL, for any executor (the in-process engine or a server).
// Every value is a typed query parameter.

const LINEAGE_SELECT = `
  TraceId, SpanId, ParentSpanId, SpanName, ServiceName,
  toString(Timestamp) AS Ts, toString(Duration) AS Dur,
  PromptName, PromptVersion, PromptAlias, PromptTemplateHash, PromptSpanId, PromptRegistration,
  ModelProvider, ModelName, ResponseId, DatasetIds, AppName, AppVersion, ConversationId,
  LineageOwnMask, LineageRevision, toString(toUnixTimestamp64Milli(Timestamp)) AS StartMs`;

interface LineageRow {
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  SpanName: string;
  ServiceName: string;
  Ts: string;
  Dur: string;
  PromptName: string;
  PromptVersion: string;
  PromptAlias: string;
  PromptTemplateHash: string;
  PromptSpanId: string;
  PromptRegistration: string;
  ModelProvider: string;
  ModelName: string;
  ResponseId: string;
  DatasetIds: string[];
  AppName: string;
  AppVersion: string;
  ConversationId: string;
  LineageOwnMask: number;
  LineageRevision: number;
  StartMs: string;
}

/** ClickHouse's "YYYY-MM-DD hh:mm:ss.nnnnnnnnn" (UTC) as ISO-8601. */
export function toIso(ts: string): string {
  return ts.replace(' ', 'T') + 'Z';
}

function lineageOf(r: LineageRow): ResolvedLineage {
  const hasPrompt = r.PromptName !== '' || r.PromptTemplateHash !== '';
  const hasModel = r.ModelName !== '' || r.ModelProvider !== '';
  return {
    prompt: hasPrompt ? { name: r.PromptName, version: r.PromptVersion, alias: r.PromptAlias, templateHash: r.PromptTemplateHash } : null,
    promptSpanId: r.PromptSpanId,
    model: hasModel ? { name: r.ModelName, provider: r.ModelProvider } : null,
    responseId: r.ResponseId,
    datasetIds: r.DatasetIds,
    app: { name: r.AppName, version: r.AppVersion },
    conversationId: r.ConversationId,
  };
}

const REGISTRATIONS = new Set<string>(['registered', 'template_mismatch', 'unregistered']);

function registrationOf(r: LineageRow): StoredRegistration {
  return REGISTRATIONS.has(r.PromptRegistration) ? (r.PromptRegistration as StoredRegistration) : '';
}

function toSpanLineage(r: LineageRow): SpanLineage {
  return {
    traceId: r.TraceId,
    spanId: r.SpanId,
    parentSpanId: r.ParentSpanId,
    spanName: r.SpanName,
    serviceName: r.ServiceName,
    timestamp: toIso(r.Ts),
    durationNs: r.Dur,
    lineage: lineageOf(r),
    registration: registrationOf(r),
  };
}

const toMap = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));

const FIXUP_STRUCTURE =
  'TraceId String, SpanId String, PromptName String, PromptVersion String, PromptAlias String, PromptTemplateHash String, ' +
  'PromptSpanId String, PromptRegistration String, ModelProvider String, ModelName String, DatasetIds Array(String), AppName String, AppVersion String, ConversationId String, ' +
  'LineageOwnMask UInt8, LineageRevision UInt32';

const FIXED_COLUMNS = new Set([
  'PromptName', 'PromptVersion', 'PromptAlias', 'PromptTemplateHash', 'PromptSpanId', 'PromptRegistration', 'ModelProvider', 'ModelName',
  'DatasetIds', 'AppName', 'AppVersion', 'ConversationId', 'LineageOwnMask', 'LineageRevision',
]);

const FIXUP_SQL = `
  INSERT INTO otel_traces (${SPAN_COLUMNS.map((c) => '`' + c + '`').join(', ')})
  SELECT ${SPAN_COLUMNS.map((c) => (FIXED_COLUMNS.has(c) ? `f.${c}` : `t.\`${c}\``)).join(', ')}
  FROM otel_traces AS t FINAL
  INNER JOIN format(JSONEachRow, '${FIXUP_STRUCTURE}', {rows:String}) AS f
    ON t.TraceId = f.TraceId AND t.SpanId = f.SpanId
  WHERE t.ProjectId = {project:String} AND t.TraceId IN {traceIds:Array(String)}
  SETTINGS throw_on_max_partitions_per_insert_block = 0`;

// A batch may hold spans of many days (a backfill); each day is a partition, and ClickHouse
// refuses by default more than 100 partitions in one insert.
const INSERT_SETTINGS = { throw_on_max_partitions_per_insert_block: 0 };

/** Trace ids per lookup in loadStoredNodes. */
const LOAD_CHUNK = 5_000;

const NOTHING_TO_WRITE: StagedSpans = { write: async () => undefined };

export class ClickHouseSpanStore implements SpanSink, SpanQueries {
  readonly backend: string;
  private readonly exec: ClickHouseExecutor;

  constructor(exec: ClickHouseExecutor) {
    this.exec = exec;
    this.backend = exec.name;
  }

  async migrate(): Promise<void> {
    await migrate(this.exec);
  }

  /** Encodes the rows in slices that let the event loop in: the receiver shares it. */
  async stageSpans(projectId: string, spans: readonly ResolvedSpan[]): Promise<StagedSpans> {
    if (spans.length === 0) return NOTHING_TO_WRITE;
    const rows = await encodeSpanRowsSliced(projectId, spans);
    return {
      write: (batchToken) => this.exec.insertJsonEachRow('otel_traces', rows, { dedupToken: batchToken, settings: INSERT_SETTINGS, format: SPAN_ROWS_FORMAT, columns: SPAN_COLUMNS }),
    };
  }

  async applyFixups(projectId: string, fixups: readonly LineageFixup[]): Promise<void> {
    if (fixups.length === 0) return;
    const rows = fixups
      .map((f) =>
        JSON.stringify({
          TraceId: f.traceId,
          SpanId: f.spanId,
          PromptName: f.resolved.prompt?.name ?? '',
          PromptVersion: f.resolved.prompt?.version ?? '',
          PromptAlias: f.resolved.prompt?.alias ?? '',
          PromptTemplateHash: f.resolved.prompt?.templateHash ?? '',
          PromptSpanId: f.resolved.promptSpanId,
          PromptRegistration: f.resolved.prompt ? (f.registration ?? '') : '',
          ModelProvider: f.resolved.model?.provider ?? '',
          ModelName: f.resolved.model?.name ?? '',
          DatasetIds: f.resolved.datasetIds,
          AppName: f.resolved.app.name,
          AppVersion: f.resolved.app.version,
          ConversationId: f.resolved.conversationId,
          LineageOwnMask: f.ownMask,
          LineageRevision: f.revision,
        }),
      )
      .join('\n');
    const traceIds = [...new Set(fixups.map((f) => f.traceId))];
    await this.exec.command(FIXUP_SQL, { rows, project: projectId, traceIds });
  }

  /**
   * The writer asks this for every trace its cache does not hold, which is every new trace: a
   * batch names a thousand or more, spread over the whole key range, and reading otel_traces for
   * them reads most of its granules (~0.4 s of CPU a batch at 1 M spans, growing with the table).
   * The trace-id table (one narrow row per trace and insert) says first which of them exist at
   * all — usually none — for a few percent of that.
   */
  async loadStoredNodes(projectId: string, traceIds: readonly string[]): Promise<StoredNode[]> {
    const nodes: StoredNode[] = [];
    // The cost of `TraceId IN {list}` grows superlinearly with the list (70,000 stored one-span
    // traces: 53 s in one query, 1.3 s in chunks of 5,000, in-process engine), and one large
    // request would stall the writer and every read behind it; the chunks run one after another.
    for (let i = 0; i < traceIds.length; i += LOAD_CHUNK) for (const n of await this.loadStoredChunk(projectId, traceIds.slice(i, i + LOAD_CHUNK))) nodes.push(n);
    return nodes;
  }

  private async loadStoredChunk(projectId: string, traceIds: readonly string[]): Promise<StoredNode[]> {
    const existing = await this.exec.query<{ TraceId: string }>(
      'SELECT DISTINCT TraceId FROM otel_traces_trace_id_ts WHERE TraceId IN {traceIds:Array(String)}',
      { traceIds },
    );
    if (existing.length === 0) return [];
    const rows = await this.exec.query<LineageRow>(
      `SELECT ${LINEAGE_SELECT} FROM otel_traces FINAL
       WHERE ProjectId = {project:String} AND TraceId IN {traceIds:Array(String)}`,
      { project: projectId, traceIds: existing.map((r) => r.TraceId) },
    );
    return rows.map((r) => ({
      traceId: r.TraceId,
      spanId: r.SpanId,
      parentSpanId: r.ParentSpanId,
      resolved: lineageOf(r),
      ownMask: r.LineageOwnMask,
      revision: r.LineageRevision,
      startMs: Number(r.StartMs),
    }));
  }

  /**
   * Two primary-key reads: the response index (ordered by response id) names the spans, then
   * otel_traces is read by (ProjectId, TraceId, SpanId). One query with a subquery is many times
   * slower under FINAL. Every revision of a span has the same trace, span and response id, so the
   * bloom filters on them find them all, and FINAL needs no exact-mode expansion: without it, the
   * read is one granule; with it, one granule of every part (a day's partition each), 5× slower.
   */
  async findByResponseId(projectId: string, responseId: string): Promise<SpanLineage[]> {
    const refs = await this.exec.query<{ TraceId: string; SpanId: string }>(
      `SELECT DISTINCT TraceId, SpanId FROM promptline_responses
       WHERE ProjectId = {project:String} AND ResponseId = {responseId:String}
       LIMIT 1000`,
      { project: projectId, responseId },
    );
    if (refs.length === 0) return [];
    const rows = await this.exec.query<LineageRow>(
      `SELECT ${LINEAGE_SELECT} FROM otel_traces FINAL
       WHERE ProjectId = {project:String}
         AND TraceId IN {traceIds:Array(String)} AND SpanId IN {spanIds:Array(String)}
         AND ResponseId = {responseId:String}
       ORDER BY Timestamp
       SETTINGS use_skip_indexes_if_final_exact_mode = 0`,
      { project: projectId, responseId, traceIds: [...new Set(refs.map((r) => r.TraceId))], spanIds: [...new Set(refs.map((r) => r.SpanId))] },
    );
    return rows.map(toSpanLineage);
  }

  async findBySpanId(projectId: string, spanId: string): Promise<SpanLineage[]> {
    // Every revision of a span has the same SpanId, so the bloom filter on it finds them all and
    // FINAL needs no exact-mode expansion of the granules it reads.
    const rows = await this.exec.query<LineageRow>(
      `SELECT ${LINEAGE_SELECT} FROM otel_traces FINAL
       WHERE ProjectId = {project:String} AND SpanId = {spanId:String}
       SETTINGS use_skip_indexes_if_final_exact_mode = 0`,
      { project: projectId, spanId },
    );
    return rows.map(toSpanLineage);
  }

  async findByTraceId(projectId: string, traceId: string): Promise<SpanLineage[]> {
    const rows = await this.exec.query<LineageRow>(
      `SELECT ${LINEAGE_SELECT} FROM otel_traces FINAL
       WHERE ProjectId = {project:String} AND TraceId = {traceId:String}
       ORDER BY Timestamp, SpanId`,
      { project: projectId, traceId },
    );
    return rows.map(toSpanLineage);
  }

  async getTraceDetail(projectId: string, traceId: string): Promise<StoredSpanDetail[]> {
    const rows = await this.exec.query<
      LineageRow & {
        SpanKind: string;
        StatusCode: string;
        StatusMessage: string;
        ScopeName: string;
        ScopeVersion: string;
        SpanAttributes: Record<string, string>;
        ResourceAttributes: Record<string, string>;
        EventTimes: string[];
        EventNames: string[];
        EventAttributes: Array<Record<string, string>>;
      }
    >(
      `SELECT ${LINEAGE_SELECT}, SpanKind, StatusCode, StatusMessage, ScopeName, ScopeVersion,
              SpanAttributes, ResourceAttributes,
              arrayMap(x -> toString(x), Events.Timestamp) AS EventTimes, Events.Name AS EventNames,
              Events.Attributes AS EventAttributes
       FROM otel_traces FINAL
       WHERE ProjectId = {project:String} AND TraceId = {traceId:String}
       ORDER BY Timestamp, SpanId`,
      { project: projectId, traceId },
    );
    return rows.map((r) => ({
      ...toSpanLineage(r),
      spanKind: r.SpanKind,
      statusCode: r.StatusCode,
      statusMessage: r.StatusMessage,
      scopeName: r.ScopeName,
      scopeVersion: r.ScopeVersion,
      attributes: toMap(r.SpanAttributes),
      resourceAttributes: toMap(r.ResourceAttributes),
      events: r.EventNames.map((name, i) => ({ timestamp: toIso(r.EventTimes[i] ?? ''), name, attributes: toMap(r.EventAttributes[i] ?? {}) })),
    }));
  }

  ping(): Promise<PingResult> {
    return this.exec.ping();
  }

  close(): Promise<void> {
    return this.exec.close();
  }
}
