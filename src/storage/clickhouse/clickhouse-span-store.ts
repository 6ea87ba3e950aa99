import { OWN_MODEL, type LineageFixup, type ResolvedSpan, type StoredNode } from '../../domain/stored-span.ts';
import type { ResolvedLineage } from '../../domain/lineage.ts';
import type { PingResult } from '../lifecycle.ts';
import type { EncodedSpans, SpanLineage, SpanQueries, SpanSink, StagedSpans, StoredRegistration, StoredSpanDetail } from '../span-store.ts';
import type { ClickHouseExecutor } from './executor.ts';
import { migrate, RESPONSE_LINEAGE_FIELDS } from './migrations.ts';
import { encodeSpans, modelCallsFrom, type EncodedModelCalls, type ModelCalls } from './span-encoder.ts';
import { SPAN_COLUMNS, SPAN_ROWS_FORMAT } from './span-rows.ts';

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

/** A row of the response index: the key columns, and the rest packed in `Lineage` (migration 10). */
interface PackedLineageRow {
  TraceId: string;
  SpanId: string;
  ResponseId: string;
  Ts: string;
  StartMs: string;
  LineageRevision: number;
  Lineage: string;
}

function unpackLineage(r: PackedLineageRow): LineageRow {
  const values = JSON.parse(r.Lineage) as unknown[];
  const row: Record<string, unknown> = { TraceId: r.TraceId, SpanId: r.SpanId, ResponseId: r.ResponseId, Ts: r.Ts, StartMs: r.StartMs, LineageRevision: r.LineageRevision };
  RESPONSE_LINEAGE_FIELDS.forEach(([name], i) => {
    row[name] = values[i];
  });
  return row as unknown as LineageRow;
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
/** Rows (and so trace ids, at most) per statement of applyFixups. */
const FIXUP_CHUNK = 5_000;

const NOTHING_TO_WRITE: StagedSpans = { write: async () => undefined };

// The response list (promptline_response_list, migration 4) holds every span that named its model
// without a response id; one in a trace with a response id is a model call of that response, not
// a response, and is excluded there by a newer version of its row. Either span may arrive first,
// in one batch or in different ones; the view that fills the list sees one insert at a time, so
// the store writes the exclusion after each insert, for the traces of the batch that need it.

const LIST_COLUMNS =
  'ProjectId, Timestamp, TraceId, SpanId, ParentSpanId, SpanName, ServiceName, Duration, StatusCode, StatusMessage, PromptName, PromptVersion, PromptAlias, ' +
  'PromptRegistration, ModelProvider, ModelName, ResponseId, HasResponseId, DatasetIds, AppName, AppVersion, ConversationId, LineageRevision';

/** The latest rows of model calls matching `cond`, in traces with a response id, written again as excluded. */
const excludeSql = (cond: string) => `
  SELECT ${LIST_COLUMNS}, 1, LineageRevision * 2 + 1
  FROM promptline_response_list FINAL
  WHERE ProjectId = {project:String} AND HasResponseId = 0 AND Excluded = 0 AND ${cond}`;
const EXCLUDE_INSERT = `INSERT INTO promptline_response_list (${LIST_COLUMNS}, Excluded, ListVersion)`;
// Conditions apply to the latest row of each span (see clickhouse-response-list.ts).
const EXCLUDE_SETTINGS =
  'SETTINGS do_not_merge_across_partitions_select_final = 1, optimize_move_to_prewhere_if_final = 0, use_skip_indexes_if_final = 1, use_skip_indexes_if_final_exact_mode = 1';
const IN_RESPONSE_TRACES = 'TraceId IN (SELECT TraceId FROM promptline_response_traces WHERE ProjectId = {project:String} AND TraceId IN {traces:Array(String)})';

export class ClickHouseSpanStore implements SpanSink, SpanQueries {
  readonly backend: string;
  private readonly exec: ClickHouseExecutor;
  private readonly holdsModelCalls = new Set<string>();
  private readonly holdsResponseIds = new Set<string>();

  constructor(exec: ClickHouseExecutor) {
    this.exec = exec;
    this.backend = exec.name;
  }

  async migrate(): Promise<void> {
    await migrate(this.exec);
  }

  /** The module the writer's preparation thread encodes batches with (span-encoder.ts). */
  readonly encoderModule = new URL('./span-encoder.ts', import.meta.url).href;

  /** Encodes here, on the calling thread: what the writer does in its preparation thread with encoderModule. */
  async stageSpans(projectId: string, spans: readonly ResolvedSpan[]): Promise<StagedSpans> {
    return this.stageEncoded(projectId, await encodeSpans(projectId, spans));
  }

  stageEncoded(projectId: string, encoded: EncodedSpans): StagedSpans {
    if (encoded.spans === 0) return NOTHING_TO_WRITE;
    const calls = modelCallsFrom(encoded.facts as EncodedModelCalls);
    const rows = Buffer.from(encoded.rows.buffer, encoded.rows.byteOffset, encoded.rows.byteLength);
    return {
      write: async (batchToken) => {
        const stored = await this.storedBefore(projectId, calls);
        await this.exec.insertJsonEachRow('otel_traces', rows, { dedupToken: batchToken, settings: INSERT_SETTINGS, format: SPAN_ROWS_FORMAT, columns: SPAN_COLUMNS });
        await this.excludeModelCalls(projectId, calls, stored);
      },
    };
  }

  /**
   * The traces of a batch stored before it whose model calls may be excluded now: a model call
   * stored earlier in a trace that has a response id in this batch, or a model call in this batch
   * in a trace whose response id came earlier. Only asked where the project holds the other kind:
   * a project that sends no model calls without a response id (or no response ids) pays nothing.
   */
  private async storedBefore(projectId: string, calls: ModelCalls): Promise<string[]> {
    const candidates = new Set<string>();
    if (calls.responseTraces.size > 0 && (await this.holds(projectId, 'model calls'))) for (const t of calls.responseTraces) candidates.add(t);
    if (calls.modelCallTraces.size > 0 && (await this.holds(projectId, 'response ids'))) for (const t of calls.modelCallTraces) candidates.add(t);
    if (candidates.size === 0) return [];
    const list = [...candidates];
    const stored: string[] = [];
    for (let i = 0; i < list.length; i += LOAD_CHUNK) {
      const rows = await this.exec.query<{ TraceId: string }>('SELECT DISTINCT TraceId FROM otel_traces_trace_id_ts WHERE TraceId IN {traceIds:Array(String)}', { traceIds: list.slice(i, i + LOAD_CHUNK) });
      for (const r of rows) stored.push(r.TraceId);
    }
    return stored;
  }

  /** Whether the project's response list holds model calls without a response id, or response ids (once true, always). */
  private async holds(projectId: string, what: 'model calls' | 'response ids'): Promise<boolean> {
    const known = what === 'model calls' ? this.holdsModelCalls : this.holdsResponseIds;
    if (known.has(projectId)) return true;
    const sql =
      what === 'model calls'
        ? 'SELECT 1 AS x FROM promptline_response_list WHERE ProjectId = {project:String} AND HasResponseId = 0 LIMIT 1'
        : 'SELECT 1 AS x FROM promptline_response_traces WHERE ProjectId = {project:String} LIMIT 1';
    const found = (await this.exec.query<{ x: number }>(sql, { project: projectId })).length > 0;
    if (found) known.add(projectId);
    return found;
  }

  private async excludeModelCalls(projectId: string, calls: ModelCalls, stored: readonly string[]): Promise<void> {
    const parts: string[] = [];
    const params: Record<string, unknown> = { project: projectId };
    if (calls.inBatch.spans.length > 0) {
      // Any model call of these traces is to be excluded: the pairs need not be matched exactly.
      parts.push(excludeSql('Timestamp >= {from:DateTime64(9)} AND Timestamp <= {to:DateTime64(9)} AND TraceId IN {batchTraces:Array(String)} AND SpanId IN {batchSpans:Array(String)}'));
      Object.assign(params, { from: calls.from, to: calls.to, batchTraces: calls.inBatch.traces, batchSpans: calls.inBatch.spans });
    }
    if (stored.length > 0) {
      parts.push(excludeSql(`TraceId IN {traces:Array(String)} AND ${IN_RESPONSE_TRACES}`));
      params.traces = stored;
    }
    if (parts.length === 0) return;
    await this.exec.command(`${EXCLUDE_INSERT} ${parts.join(' UNION ALL ')} ${EXCLUDE_SETTINGS}`, params);
  }

  /**
   * Rewrites the rows FIXUP_CHUNK at a time, one statement after another: a statement's
   * `TraceId IN {list}` and its JSON rows stay bounded however many rows a batch fixes (the writer
   * bounds those too: PROMPTLINE_MAX_FIXUPS_PER_BATCH).
   */
  async applyFixups(projectId: string, fixups: readonly LineageFixup[]): Promise<void> {
    for (let i = 0; i < fixups.length; i += FIXUP_CHUNK) await this.applyFixupChunk(projectId, fixups.slice(i, i + FIXUP_CHUNK));
  }

  private async applyFixupChunk(projectId: string, fixups: readonly LineageFixup[]): Promise<void> {
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
    // A new revision of an excluded model call is a row that is not: exclude it again.
    const calls = [...new Set(fixups.filter((f) => !f.resolved.responseId && f.ownMask & OWN_MODEL).map((f) => f.traceId))];
    if (calls.length > 0) await this.exec.command(`${EXCLUDE_INSERT} ${excludeSql(`TraceId IN {traces:Array(String)} AND ${IN_RESPONSE_TRACES}`)} ${EXCLUDE_SETTINGS}`, { project: projectId, traces: calls });
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
   * One primary-key read of the response index, which carries each response's lineage at its
   * latest revision (migration 8): ordered by (ProjectId, ResponseId), unpartitioned, so a lookup
   * reads one granule of each of its few parts, whatever otel_traces holds; and of each granule
   * seven columns, the lineage it answers with being packed in one (migration 10).
   */
  async findByResponseId(projectId: string, responseId: string): Promise<SpanLineage[]> {
    const rows = await this.exec.query<PackedLineageRow>(
      `SELECT TraceId, SpanId, ResponseId, toString(Timestamp) AS Ts, toString(toUnixTimestamp64Milli(Timestamp)) AS StartMs,
         LineageRevision, Lineage
       FROM promptline_response_lineage FINAL
       WHERE ProjectId = {project:String} AND ResponseId = {responseId:String}
       ORDER BY Timestamp
       LIMIT 1000`,
      { project: projectId, responseId },
    );
    return rows.map((r) => toSpanLineage(unpackLineage(r)));
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
