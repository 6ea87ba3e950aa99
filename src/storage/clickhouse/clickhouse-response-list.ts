import type { ResponseFacets, ResponseFilter, ResponseList, ResponseListItem, ResponsePosition, ResponseStatus } from '../response-list.ts';
import type { ClickHouseExecutor, QueryParams } from './executor.ts';
import { toIso } from './clickhouse-span-store.ts';

// The response list in ClickHouse SQL, on promptline_response_list (migration 4): the responses'
// rows in time order, each span once at its latest version under FINAL. Every value is a typed
// query parameter.

const chTime = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');
const STATUS_CODES: Record<ResponseStatus, string> = { error: 'Error', ok: 'Ok', unset: 'Unset' };
const STATUS_NAMES: Record<string, ResponseStatus> = { Error: 'error', Ok: 'ok', Unset: 'unset' };
const REGISTRATIONS = new Set(['registered', 'unregistered', 'template_mismatch']);

function where(projectId: string, f: ResponseFilter): { sql: string; params: QueryParams } {
  const c = ['ProjectId = {project:String}', 'Timestamp >= {from:DateTime64(3)}', 'Timestamp < {to:DateTime64(3)}'];
  const params: QueryParams = { project: projectId, from: chTime(f.from), to: chTime(f.to) };
  const eq = (column: string, param: string, value: string | undefined) => {
    if (value === undefined) return;
    c.push(`${column} = {${param}:String}`);
    params[param] = value;
  };
  eq('AppName', 'f_app', f.app);
  eq('AppVersion', 'f_app_version', f.appVersion);
  eq('PromptName', 'f_prompt', f.prompt);
  eq('PromptVersion', 'f_version', f.version);
  eq('PromptAlias', 'f_alias', f.alias);
  eq('ModelName', 'f_model', f.model);
  eq('ModelProvider', 'f_provider', f.provider);
  eq('ConversationId', 'f_conversation', f.conversation);
  eq('StatusCode', 'f_status', f.status && STATUS_CODES[f.status]);
  eq('PromptRegistration', 'f_registration', f.registration);
  eq('ResponseId', 'f_response_id', f.responseId);
  eq('TraceId', 'f_trace_id', f.traceId);
  if (f.dataset !== undefined) {
    c.push('has(DatasetIds, {f_dataset:String})');
    params.f_dataset = f.dataset;
  }
  if (f.nameContains !== undefined) {
    c.push('positionCaseInsensitiveUTF8(SpanName, {f_q:String}) > 0');
    params.f_q = f.nameContains;
  }
  return { sql: c.join(' AND '), params };
}

const LIST = 'promptline_response_list';

// Filters apply after FINAL, to each span's latest revision only: a span whose inherited lineage a
// fixup changed from X to Y is never listed under X. Exact mode keeps that true where a skip index
// left out the granule of the latest revision. On a table in time order both cost little: parts
// overlap only where spans arrived late. Every revision of a span is in the span's daily
// partition, so FINAL need not merge across partitions.
const FINAL_SETTINGS =
  'SETTINGS do_not_merge_across_partitions_select_final = 1, optimize_move_to_prewhere_if_final = 0, use_skip_indexes_if_final = 1, use_skip_indexes_if_final_exact_mode = 1';

/** The rows that are responses: not model calls in a trace with a response id (see migration 4). */
const RESPONSES = 'Excluded = 0';

interface ItemRow {
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  Ts: string;
  DurationMs: number;
  SpanName: string;
  ServiceName: string;
  StatusCode: string;
  StatusMessage: string;
  ResponseId: string;
  PromptName: string;
  PromptVersion: string;
  PromptAlias: string;
  PromptRegistration: string;
  ModelProvider: string;
  ModelName: string;
  AppName: string;
  AppVersion: string;
  DatasetIds: string[];
  ConversationId: string;
}

const ITEM_COLUMNS = `TraceId, SpanId, ParentSpanId, toString(Timestamp) AS Ts, Duration / 1e6 AS DurationMs, SpanName, ServiceName, StatusCode, StatusMessage,
  ResponseId, PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, AppName, AppVersion, DatasetIds, ConversationId`;

function toItem(r: ItemRow): ResponseListItem {
  return {
    responseId: r.ResponseId || null,
    traceId: r.TraceId,
    spanId: r.SpanId,
    parentSpanId: r.ParentSpanId || null,
    timestamp: toIso(r.Ts),
    durationMs: r.DurationMs,
    spanName: r.SpanName,
    serviceName: r.ServiceName,
    status: { code: STATUS_NAMES[r.StatusCode] ?? 'unset', message: r.StatusMessage },
    prompt: r.PromptName ? { name: r.PromptName, version: r.PromptVersion, alias: r.PromptAlias } : null,
    registration: r.PromptName && REGISTRATIONS.has(r.PromptRegistration) ? (r.PromptRegistration as ResponseListItem['registration']) : null,
    model: r.ModelName || r.ModelProvider ? { provider: r.ModelProvider, name: r.ModelName } : null,
    app: { name: r.AppName, version: r.AppVersion },
    datasets: r.DatasetIds,
    conversationId: r.ConversationId || null,
  };
}

/** How much further back than a page the first step of listResponses looks, and again after a short page. */
const REACH = [2, 16];

export class ClickHouseResponseList implements ResponseList {
  private readonly exec: ClickHouseExecutor;

  constructor(exec: ClickHouseExecutor) {
    this.exec = exec;
  }

  /**
   * Newest first in up to three steps. FINAL cannot read the table backwards in order: over a whole
   * window it reads and sorts every matching row. So the time of the row some pages back is found
   * first without FINAL (a read in reverse key order that stops there), and the page is read under
   * FINAL from that time on. Where revisions or model calls of traces with a response id thin that
   * range below a page, it looks further back, then over the whole window: the answer is the same.
   */
  async listResponses(projectId: string, f: ResponseFilter, page: { limit: number; after: ResponsePosition | null }): Promise<ResponseListItem[]> {
    const base = where(projectId, f);
    let cond = base.sql;
    const params: QueryParams = { ...base.params, limit: page.limit };
    if (page.after) {
      cond += ' AND Timestamp <= {c_ts:DateTime64(9)} AND (Timestamp, TraceId, SpanId) < ({c_ts:DateTime64(9)}, {c_trace:String}, {c_span:String})';
      Object.assign(params, { c_ts: chTime64(page.after.timestamp), c_trace: page.after.traceId, c_span: page.after.spanId });
    }
    for (const reach of [...REACH, null]) {
      let since = '';
      if (reach !== null) {
        const [edge] = await this.exec.query<{ ts: string }>(
          `SELECT toString(Timestamp) AS ts FROM ${LIST} WHERE ${cond} ORDER BY Timestamp DESC LIMIT 1 OFFSET {skip:UInt32}`,
          { ...params, skip: page.limit * reach - 1 },
        );
        // Fewer rows than that in the whole window: one read of all of them.
        if (edge) {
          since = ' AND Timestamp >= {since:DateTime64(9)}';
          params.since = edge.ts;
        }
      }
      const rows = await this.exec.query<ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM ${LIST} FINAL
         WHERE ${cond}${since} AND ${RESPONSES}
         ORDER BY Timestamp DESC, TraceId DESC, SpanId DESC LIMIT {limit:UInt32}
         ${FINAL_SETTINGS}`,
        params,
      );
      if (rows.length === page.limit || since === '') return rows.map(toItem);
    }
    throw new Error('unreachable: the last step reads the whole window');
  }

  async countResponses(projectId: string, f: ResponseFilter): Promise<number> {
    const { sql, params } = where(projectId, f);
    const [r] = await this.exec.query<{ n: string }>(`SELECT count() AS n FROM ${LIST} FINAL WHERE ${sql} AND ${RESPONSES} ${FINAL_SETTINGS}`, params);
    return Number(r?.n ?? 0);
  }

  async responseFacets(projectId: string, f: ResponseFilter, top: number): Promise<ResponseFacets> {
    const { sql, params } = where(projectId, f);
    const matching = `SELECT AppName, AppVersion, PromptName, PromptVersion, PromptAlias, ModelName, ModelProvider, DatasetIds FROM ${LIST} FINAL WHERE ${sql} AND ${RESPONSES}`;
    return facets(this.exec, matching, { ...params, top }, FINAL_SETTINGS);
  }
}

/** A cursor's ISO time as ClickHouse DateTime64(9) text. */
const chTime64 = (iso: string) => iso.replace('T', ' ').replace('Z', '');

const FACET_COLUMNS = [
  ['apps', 'AppName'],
  ['appVersions', 'AppVersion'],
  ['prompts', 'PromptName'],
  ['promptVersions', 'PromptVersion'],
  ['aliases', 'PromptAlias'],
  ['models', 'ModelName'],
  ['providers', 'ModelProvider'],
] as const;

/** Two queries: the scalar facets in one pass (grouping sets), the datasets (an array each) in another. */
async function facets(exec: ClickHouseExecutor, matching: string, params: QueryParams, settings: string): Promise<ResponseFacets> {
  const columns = FACET_COLUMNS.map(([, c]) => c);
  const [scalar, datasets] = await Promise.all([
    exec.query<Record<string, string> & { g: string; n: string }>(
      `SELECT grouping(${columns.join(', ')}) AS g, ${columns.join(', ')}, count() AS n
       FROM (${matching})
       GROUP BY GROUPING SETS (${columns.map((c) => `(${c})`).join(', ')})
       ${settings}`,
      params,
    ),
    exec.query<{ value: string; n: string }>(
      `SELECT arrayJoin(DatasetIds) AS value, count() AS n FROM (${matching}) GROUP BY value ORDER BY n DESC, value LIMIT {top:UInt32} ${settings}`,
      params,
    ),
  ]);
  const top = Number(params.top);
  const out = {} as ResponseFacets;
  FACET_COLUMNS.forEach(([facet, column], i) => {
    // grouping() has a bit a column, most significant first: 0 where the column is in the set's key.
    const bit = 1 << (columns.length - 1 - i);
    out[facet] = scalar
      .filter((r) => (Number(r.g) & bit) === 0 && r[column] !== '')
      .map((r) => ({ value: r[column]!, count: Number(r.n) }))
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
      .slice(0, top);
  });
  out.datasets = datasets.filter((r) => r.value !== '').map((r) => ({ value: r.value, count: Number(r.n) }));
  return out;
}
