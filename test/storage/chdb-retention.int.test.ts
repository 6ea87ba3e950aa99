import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseRetention, RETAINED_TABLES, SPAN_ROW_TABLES } from '../../src/storage/clickhouse/clickhouse-retention.ts';
import { migrate, MIGRATIONS } from '../../src/storage/clickhouse/migrations.ts';
import { newTraceId } from '../helpers/factories.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// Retention rules and deletions on the in-process engine, and the migration that gave every table
// of span rows a project and a time, from a store written before it.

describe('span retention on the ClickHouse engine in-process (chdb)', () => {
  const dir = tempDataDir('chdb-retention-');
  let exec: ChdbExecutor;
  let retention: ClickHouseRetention;
  const [oldA, newA, oldB] = [newTraceId(), newTraceId(), newTraceId()];

  const insertSpan = (project: string, trace: string, daysAgo: number) =>
    exec.command(
      `INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ProjectId, ResponseId, ConversationId)
       VALUES (now64(9) - toIntervalDay({days:UInt32}), {trace:String}, 'aaaaaaaaaaaaaaaa', {project:String}, {response:String}, 'c1')`,
      { days: daysAgo, trace, project, response: `resp-${trace}` },
    );
  const engineOf = async (table: string) => (await exec.query<{ engine_full: string }>('SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}', { table }))[0]!.engine_full;
  const mutations = async () => Number((await exec.query<{ n: string }>('SELECT count() AS n FROM system.mutations WHERE database = currentDatabase()'))[0]!.n);

  beforeAll(async () => {
    exec = new ChdbExecutor(join(dir, 'clickhouse'));
    // A store from before migration 5: its lookup rows have no project, its response traces no time.
    await migrate(exec, MIGRATIONS.filter((m) => m.version < 5));
    await insertSpan('a', oldA, 10);
    await insertSpan('a', newA, 0);
    await insertSpan('b', oldB, 10);
    expect(await migrate(exec)).toEqual(MIGRATIONS.filter((m) => m.version >= 5).map((m) => m.version));
    retention = new ClickHouseRetention(exec);
  }, 120_000);

  afterAll(async () => {
    await exec?.close();
    removeDir(dir);
  });

  it('gives the rows written before migration 5 their project and time', async () => {
    expect(await exec.query('SELECT ProjectId, TraceId FROM otel_traces_trace_id_ts ORDER BY ProjectId, TraceId')).toEqual(
      [
        { ProjectId: 'a', TraceId: oldA },
        { ProjectId: 'a', TraceId: newA },
        { ProjectId: 'b', TraceId: oldB },
      ].sort((x, y) => (x.ProjectId + x.TraceId).localeCompare(y.ProjectId + y.TraceId)),
    );
    const times = await exec.query<{ TraceId: string; old: number }>('SELECT TraceId, Timestamp < now64(9) - toIntervalDay(5) AS old FROM promptline_response_traces FINAL ORDER BY TraceId');
    expect(new Map(times.map((r) => [r.TraceId, r.old]))).toEqual(new Map([[oldA, 1], [newA, 0], [oldB, 1]]));
  });

  it("expires a project's old rows in every table, and no other project's", async () => {
    await retention.applySpanRetention(new Map([['a', 3]]));
    for (const table of RETAINED_TABLES) {
      expect(await engineOf(table), table).toContain("toIntervalDay(3) WHERE ProjectId = 'a'");
      await exec.command(`ALTER TABLE ${table} MATERIALIZE TTL SETTINGS mutations_sync = 2`);
    }
    for (const table of ['otel_traces', 'otel_traces_trace_id_ts', 'promptline_response_lineage', 'promptline_response_traces']) {
      const left = await exec.query<{ TraceId: string }>(`SELECT DISTINCT TraceId FROM ${table} ORDER BY TraceId`);
      expect(left.map((r) => r.TraceId).sort(), table).toEqual([newA, oldB].sort());
    }
  });

  it('changes nothing when the rules are the same, and removes them when none is left', async () => {
    const before = await mutations();
    await retention.applySpanRetention(new Map([['a', 3]]));
    expect(await mutations()).toBe(before);
    await retention.applySpanRetention(new Map([['b', 30], ['a', 3]]));
    expect(await engineOf('otel_traces')).toMatch(/toIntervalDay\(3\) WHERE ProjectId = 'a', .*toIntervalDay\(30\) WHERE ProjectId = 'b'/);
    await retention.applySpanRetention(new Map());
    for (const table of RETAINED_TABLES) expect(await engineOf(table), table).not.toContain(' TTL ');
    await retention.applySpanRetention(new Map());
  });

  it('writes no rule for a name that is not a project name or a number of days that is not one', async () => {
    await expect(retention.applySpanRetention(new Map([["a' OR 1 = 1 OR ProjectId = '", 3]]))).rejects.toThrow(/not a project name/);
    await expect(retention.applySpanRetention(new Map([['a', 1.5]]))).rejects.toThrow(/not a number of days/);
    expect(await engineOf('otel_traces')).not.toContain(' TTL ');
  });

  it("deletes a trace's rows in one project only, and finds a conversation's traces", async () => {
    const shared = newTraceId();
    await insertSpan('a', shared, 0);
    await insertSpan('b', shared, 0);
    expect(await retention.traceIdsOfConversation('a', 'c1')).toEqual([newA, shared].sort());
    const deleted = await retention.deleteTraces('a', [shared]);
    expect([...deleted.keys()]).toEqual(SPAN_ROW_TABLES);
    expect(deleted.get('otel_traces')).toBe(1);
    expect(deleted.get('promptline_response_lineage')).toBe(1);
    expect(deleted.get('promptline_evaluations')).toBe(0);
    for (const table of SPAN_ROW_TABLES) {
      const rows = await exec.query<{ ProjectId: string }>(`SELECT ProjectId FROM ${table} WHERE TraceId = {t:String}`, { t: shared });
      expect(rows.every((r) => r.ProjectId === 'b'), table).toBe(true);
    }
    expect((await exec.query('SELECT 1 FROM otel_traces WHERE TraceId = {t:String}', { t: shared })).length).toBe(1);
    expect([...(await retention.deleteTraces('a', [shared])).values()].every((n) => n === 0)).toBe(true);
  });
});
