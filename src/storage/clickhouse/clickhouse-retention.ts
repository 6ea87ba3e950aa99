import { PROJECT_NAME } from '../../domain/governance.ts';
import { MAX_SPAN_DAYS } from '../../domain/retention.ts';
import type { SpanRetentionStore, TraceRowsDeleted } from '../span-store.ts';
import type { ClickHouseExecutor } from './executor.ts';
import { markMinutesChanged, minutesOfTraces } from './clickhouse-lineage-rollup.ts';

// How long the span tables keep a project's rows, and deletion requests, on ClickHouse SQL (either
// executor). Every table that holds rows made from spans takes part: the spans, the trace-id
// lookup, the response index with its lineage, the evaluations, the response list and the traces
// with a response id (migration 5 gave each a project and a time; migration 8 the index its lineage).
//
// Retention is the tables' own TTL, one rule a project: `<time> + toIntervalDay(N) WHERE ProjectId
// = '<project>'`. ClickHouse deletes expired rows at merges (and at once in the background
// mutation each change starts), so no job of ours runs. A change is an ALTER … MODIFY TTL, never
// a rebuild; it is made only where a table's rules differ from the wanted ones, so that the
// re-application at every start costs nothing when nothing changed.

/** Each table of span rows, with the time its rows' retention counts from (a DateTime). */
const SPAN_TABLES: ReadonlyArray<{ table: string; time: string }> = [
  { table: 'otel_traces', time: 'toDateTime(Timestamp)' },
  // A trace's lookup row outlives its earliest span: the trace is known as long as any of it is kept.
  { table: 'otel_traces_trace_id_ts', time: 'End' },
  { table: 'promptline_response_lineage', time: 'toDateTime(Timestamp)' },
  { table: 'promptline_evaluations', time: 'toDateTime(Timestamp)' },
  { table: 'promptline_response_list', time: 'toDateTime(Timestamp)' },
  { table: 'promptline_response_traces', time: 'toDateTime(Timestamp)' },
];

/** The tables a deletion request removes rows from, in the order it does. */
export const SPAN_ROW_TABLES: readonly string[] = SPAN_TABLES.map((t) => t.table);

/**
 * The per-minute lineage rollup and its bookkeeping (migration 7): kept as long as the spans they
 * sum. A deletion request does not delete from them: it marks the minutes it empties as changed,
 * so that they are read from the spans until rolled up again without the deleted traces.
 */
const ROLLUP_TABLES: ReadonlyArray<{ table: string; time: string }> = [
  { table: 'promptline_lineage_minute', time: 'Minute' },
  { table: 'promptline_lineage_minute_state', time: 'Minute' },
  { table: 'promptline_minutes_changed', time: 'Minute' },
];

/** Every table a project's retention rule is on. */
export const RETAINED_TABLES: readonly string[] = [...SPAN_TABLES, ...ROLLUP_TABLES].map((t) => t.table);

/** Trace ids per deletion statement: `TraceId IN {list}` stays bounded. */
const DELETE_CHUNK = 1_000;

/**
 * A project's rule as SQL text. DDL takes no query parameters, so this is the one place where a
 * value is written into SQL: the project name and the number of days are checked again right
 * here, whatever checked them before, so that nothing but a name PROJECT_NAME allows (letters,
 * digits, ".", "_", "-": nothing that can end the quoted string) and a whole number of days can
 * reach the statement.
 */
function ttlRule(time: string, project: string, days: number): string {
  if (!PROJECT_NAME.test(project)) throw new Error(`retention: ${JSON.stringify(project)} is not a project name`);
  if (!Number.isInteger(days) || days < 1 || days > MAX_SPAN_DAYS) throw new Error(`retention: ${days} is not a number of days from 1 to ${MAX_SPAN_DAYS}`);
  return `${time} + toIntervalDay(${days}) WHERE ProjectId = '${project}'`;
}

export class ClickHouseRetention implements SpanRetentionStore {
  private readonly exec: ClickHouseExecutor;

  constructor(exec: ClickHouseExecutor) {
    this.exec = exec;
  }

  async applySpanRetention(rules: ReadonlyMap<string, number>): Promise<void> {
    const projects = [...rules.keys()].sort();
    const current = new Map(
      (await this.exec.query<{ name: string; engine_full: string }>('SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND name IN {tables:Array(String)}', { tables: RETAINED_TABLES })).map((r) => [r.name, r.engine_full]),
    );
    for (const { table, time } of [...SPAN_TABLES, ...ROLLUP_TABLES]) {
      const engine = current.get(table) ?? '';
      if (projects.length === 0) {
        if (ttlOf(engine) !== null) await this.exec.command(`ALTER TABLE ${table} REMOVE TTL`);
        continue;
      }
      const wanted = await this.canonical(table, projects.map((p) => ttlRule(time, p, rules.get(p)!)).join(', '));
      if (ttlOf(engine) !== wanted) await this.exec.command(`ALTER TABLE ${table} MODIFY TTL ${wanted}`);
    }
  }

  /** The rules as the engine writes them back in the table's definition, to compare with what it holds. */
  private async canonical(table: string, rules: string): Promise<string> {
    const [row] = await this.exec.query<{ f: string }>('SELECT formatQuerySingleLine({q:String}) AS f', { q: `ALTER TABLE ${table} MODIFY TTL ${rules}` });
    const m = /MODIFY TTL (.*)\)$/.exec(row?.f ?? '');
    return m ? m[1]! : rules;
  }

  async traceIdsOfConversation(projectId: string, conversationId: string): Promise<string[]> {
    // Every revision counts: a span that ever belonged to the conversation is part of the request.
    const rows = await this.exec.query<{ TraceId: string }>(
      'SELECT DISTINCT TraceId FROM otel_traces WHERE ProjectId = {project:String} AND ConversationId = {conversationId:String} ORDER BY TraceId',
      { project: projectId, conversationId },
    );
    return rows.map((r) => r.TraceId);
  }

  /**
   * Counts, then deletes, table by table. ALTER TABLE … DELETE rewrites the parts that hold the
   * rows, so they are gone from disk too (a lightweight DELETE would only hide them until a
   * merge), and mutations_sync makes the answer wait until they are.
   */
  async deleteTraces(projectId: string, traceIds: readonly string[]): Promise<TraceRowsDeleted> {
    const deleted = new Map<string, number>(SPAN_ROW_TABLES.map((t) => [t, 0]));
    for (let i = 0; i < traceIds.length; i += DELETE_CHUNK) {
      const params = { project: projectId, traceIds: traceIds.slice(i, i + DELETE_CHUNK) };
      // The rollup's minutes of these traces are marked after their rows are gone (a roll between would count them again).
      const minutes = await minutesOfTraces(this.exec, projectId, params.traceIds);
      for (const table of SPAN_ROW_TABLES) {
        const where = 'ProjectId = {project:String} AND TraceId IN {traceIds:Array(String)}';
        const [row] = await this.exec.query<{ n: string }>(`SELECT count() AS n FROM ${table} WHERE ${where}`, params);
        const n = Number(row?.n ?? 0);
        if (n === 0) continue;
        await this.exec.command(`ALTER TABLE ${table} DELETE WHERE ${where} SETTINGS mutations_sync = 2`, params);
        deleted.set(table, deleted.get(table)! + n);
      }
      await markMinutesChanged(this.exec, projectId, minutes);
    }
    return deleted;
  }
}

/** The TTL part of a table's engine definition, or null when it has none. */
function ttlOf(engineFull: string): string | null {
  const m = / TTL (.*?)(?: SETTINGS .*)?$/.exec(engineFull);
  return m ? m[1]! : null;
}
