import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { SPAN_ROW_TABLES } from '../../src/storage/clickhouse/clickhouse-retention.ts';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { exportRequest, postJson, spanId, str, traceId, uniqueId, type JsonKeyValue, type JsonSpan } from '../helpers/otlp-payloads.ts';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Per-project span retention and deletion requests, against a server run as in production
// (authentication on, SQLite beside the embedded ClickHouse engine; the settings' store is held to
// the same contract on Neo4j by test/contract/governance.contract.ts). Spans arrive over OTLP;
// what is left in each span table is read from the engine's files once the server has stopped.

const ROOT = resolve(import.meta.dirname, '../..');
const DAY_MS = 86_400_000;
const tag = randomBytes(3).toString('hex');
const A = `ret-a-${tag}`;
const B = `ret-b-${tag}`;
/** Text only the spans carry: no audit entry may hold it. */
const SECRET = `the user's medical history ${tag}`;

/** One span that fills every span table: a response id, a prompt, a model, an evaluation, a conversation. */
function genAiSpan(trace: string, atMs: number, conversation: string): JsonSpan {
  const start = BigInt(atMs) * 1_000_000n;
  const attributes: JsonKeyValue[] = [
    str('gen_ai.system', 'openai'),
    str('gen_ai.response.model', 'gpt-4o'),
    str('gen_ai.response.id', uniqueId('chatcmpl')),
    str('gen_ai.prompt.name', 'support-answer'),
    str('gen_ai.prompt.version', '3'),
    str('gen_ai.conversation.id', conversation),
    str('gen_ai.evaluation.name', 'helpfulness'),
    { key: 'gen_ai.evaluation.score.value', value: { doubleValue: 0.8 } },
    str('gen_ai.input.messages', SECRET),
  ];
  return { traceId: trace, spanId: spanId(), name: 'chat gpt-4o', kind: 3, startTimeUnixNano: start.toString(), endTimeUnixNano: (start + 250_000_000n).toString(), attributes };
}

const runCli = (url: string, key: string, args: string[]) =>
  new Promise<{ code: number | null; out: string }>((res) => {
    const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { env: { ...process.env, PROMPTLINE_URL: url, PROMPTLINE_API_KEY: key } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => res({ code, out }));
  });

describe('span retention and deletion requests', () => {
  let server: ServerUnderTest;
  let bootstrap: string;
  let admin: string;
  const keys: Record<string, string> = {};
  // Old spans are 10 days old: inside the receiver's default window (PROMPTLINE_MAX_SPAN_AGE, 30 days), past A's retention of 3.
  const now = Date.now();
  const old = now - 10 * DAY_MS;
  const traces = {
    oldA: traceId(),
    recentA: traceId(),
    deletedA: traceId(),
    keptA: traceId(),
    conv1A: traceId(),
    conv2A: traceId(),
    oldB: traceId(),
    recentB: traceId(),
  };
  const conversation = `conv-${tag}`;

  const call = async (key: string | null, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const res = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const stored = (key: string, trace: string) => eventually(async () => ((await call(key, 'GET', `/v1/traces/${trace}`)).status === 200 ? true : undefined), `trace ${trace}`);

  beforeAll(async () => {
    ({ server, bootstrap, admin } = await startServerWithAdmin());
    for (const [label, role, project] of [['adminA', 'admin', A], ['readA', 'read', A], ['adminB', 'admin', B], ['readB', 'read', B]] as const) {
      const r = await call(admin, 'POST', '/v1/keys', { role, project, name: `${label} ${tag}` });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      keys[label] = r.body.key as string;
    }
    const sendAs = async (key: string, spans: JsonSpan[]) => expect((await postJson(server.url, exportRequest(spans), { authorization: `Bearer ${key}` })).status).toBe(200);
    await sendAs(keys.adminA!, [
      genAiSpan(traces.oldA, old, `other-${tag}`),
      genAiSpan(traces.recentA, now, `other-${tag}`),
      genAiSpan(traces.deletedA, now, `other-${tag}`),
      genAiSpan(traces.keptA, now, `other-${tag}`),
      genAiSpan(traces.conv1A, now, conversation),
      genAiSpan(traces.conv2A, now - DAY_MS, conversation),
    ]);
    await sendAs(keys.adminB!, [genAiSpan(traces.oldB, old, conversation), genAiSpan(traces.recentB, now, conversation)]);
    for (const t of [traces.oldA, traces.recentA, traces.deletedA, traces.keptA, traces.conv1A, traces.conv2A]) await stored(keys.adminA!, t);
    for (const t of [traces.oldB, traces.recentB]) await stored(keys.adminB!, t);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('keeps spans unlimited by default, the registry, aliases, proposals, keys, audit log and lineage graph forever, and says so in readyz', async () => {
    const kept = { spans: 'unlimited', registry: 'forever', aliases: 'forever', proposals: 'forever', keys: 'forever', audit: 'forever', lineageGraph: 'forever' };
    expect((await call(keys.readA!, 'GET', '/v1/retention')).body).toEqual({ project: A, spanDays: null, changedAt: null, changedBy: null, kept });
    expect((await call(keys.readA!, 'GET', '/readyz')).body.retention).toEqual(kept);
  });

  it('lets only an admin of the project set its retention, audits the change, and tells no other project', async () => {
    expect((await call(keys.readA!, 'PUT', '/v1/retention', { spanDays: 3 })).status).toBe(403);
    expect((await call(keys.adminA!, 'PUT', '/v1/retention', { spanDays: 0 })).status).toBe(400);
    expect((await call(keys.adminA!, 'PUT', '/v1/retention', { spanDays: 2.5 })).status).toBe(400);
    expect((await call(keys.adminA!, 'PUT', '/v1/retention', {})).status).toBe(400);
    const set = await call(keys.adminA!, 'PUT', '/v1/retention', { spanDays: 3 });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toMatchObject({ project: A, spanDays: 3, kept: { spans: '3 days' } });
    expect((await call(keys.readA!, 'GET', '/v1/retention')).body).toMatchObject({ spanDays: 3, changedBy: expect.stringContaining(`adminA ${tag}`) });
    expect((await call(keys.readA!, 'GET', '/readyz')).body.retention.spans).toBe('3 days');
    // Another project's keys see their own project's, and nothing of A's.
    expect((await call(keys.readB!, 'GET', '/readyz')).body.retention.spans).toBe('unlimited');
    expect((await call(keys.readB!, 'GET', '/v1/retention')).body).toMatchObject({ project: B, spanDays: null });
    const audit = (await call(keys.adminA!, 'GET', '/v1/audit?action=retention.set')).body.entries;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ project: A, action: 'retention.set', target: `retention:${A}`, before: null, after: { spanDays: 3 } });
    expect((await call(keys.adminB!, 'GET', '/v1/audit?action=retention.set')).body.entries).toEqual([]);
  });

  it('deletes a trace for an admin of its project only, and audits it once, without its content', async () => {
    expect((await call(keys.readA!, 'DELETE', `/v1/traces/${traces.deletedA}`)).status).toBe(403);
    // To another project's admin, A's trace does not exist.
    expect((await call(keys.adminB!, 'DELETE', `/v1/traces/${traces.deletedA}`)).status).toBe(404);
    expect((await call(keys.adminA!, 'DELETE', `/v1/traces/${traceId()}`)).status).toBe(404);
    expect((await call(keys.adminA!, 'DELETE', '/v1/traces/not-a-trace-id')).status).toBe(400);
    const del = await call(keys.adminA!, 'DELETE', `/v1/traces/${traces.deletedA.toUpperCase()}`);
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body.traceIds).toEqual([traces.deletedA]);
    // One row in each table (one span, one response, one evaluation…).
    expect(del.body.tables).toEqual(Object.fromEntries(SPAN_ROW_TABLES.map((t) => [t, expect.any(Number)])));
    for (const t of SPAN_ROW_TABLES) expect(del.body.tables[t], t).toBeGreaterThanOrEqual(1);
    expect(del.body.rowsDeleted).toBe(Object.values(del.body.tables as Record<string, number>).reduce((a, n) => a + n, 0));
    expect((await call(keys.adminA!, 'GET', `/v1/traces/${traces.deletedA}`)).status).toBe(404);
    expect((await call(keys.adminA!, 'GET', `/v1/traces/${traces.keptA}`)).status).toBe(200);
    expect((await call(keys.adminA!, 'DELETE', `/v1/traces/${traces.deletedA}`)).status).toBe(404);
    const audit = (await call(keys.adminA!, 'GET', '/v1/audit?action=trace.delete')).body.entries;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ project: A, action: 'trace.delete', target: `trace:${traces.deletedA}`, before: null, after: { traceIds: [traces.deletedA], rowsDeleted: del.body.rowsDeleted } });
    const text = JSON.stringify(audit[0]);
    for (const content of [SECRET, 'support-answer', 'gpt-4o', 'chatcmpl', 'helpfulness']) expect(text).not.toContain(content);
  });

  it('deletes a trace acknowledged a moment ago, still on its way from the spool, and stores what arrives after', async () => {
    const fresh = traceId();
    const send = () => postJson(server.url, exportRequest([genAiSpan(fresh, Date.now(), `other-${tag}`)]), { authorization: `Bearer ${keys.adminA!}` });
    expect((await send()).status).toBe(200);
    const del = await call(keys.adminA!, 'DELETE', `/v1/traces/${fresh}`);
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body.tables.otel_traces).toBe(1);
    expect((await call(keys.adminA!, 'GET', `/v1/traces/${fresh}`)).status).toBe(404);
    // A span of the trace sent after the request is new data: stored again.
    expect((await send()).status).toBe(200);
    await stored(keys.adminA!, fresh);
    expect((await call(keys.adminA!, 'DELETE', `/v1/traces/${fresh}`)).status).toBe(200);
  });

  it('deletes every trace of a conversation within the project, and only those', async () => {
    expect((await call(keys.readA!, 'DELETE', `/v1/conversations/${conversation}`)).status).toBe(403);
    expect((await call(keys.adminA!, 'DELETE', `/v1/conversations/no-such-${tag}`)).status).toBe(404);
    const del = await call(keys.adminA!, 'DELETE', `/v1/conversations/${conversation}`);
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body.traceIds).toEqual([traces.conv1A, traces.conv2A].sort());
    expect((await call(keys.adminA!, 'GET', `/v1/traces/${traces.conv1A}`)).status).toBe(404);
    // B's traces of a conversation of the same id are B's.
    expect((await call(keys.adminB!, 'GET', `/v1/traces/${traces.recentB}`)).status).toBe(200);
    const audit = (await call(keys.adminA!, 'GET', '/v1/audit?action=conversation.delete')).body.entries;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ target: `conversation:${conversation}`, after: { traceIds: del.body.traceIds, rowsDeleted: del.body.rowsDeleted } });
  });

  it('has CLI commands for both, with the documented exit codes', async () => {
    const show = await runCli(server.url, keys.readA!, ['retention']);
    expect(show.code, show.out).toBe(0);
    expect(show.out).toContain(`project ${A}: spans 3 days`);
    expect(show.out).toContain('; kept forever: registry, aliases, proposals, keys, audit log and lineage graph\n');
    expect((await runCli(server.url, keys.readA!, ['retention', '--days', '7'])).code).toBe(1);
    expect((await runCli(server.url, keys.adminA!, ['retention', '--days', 'soon'])).code).toBe(2);
    expect((await runCli(server.url, keys.adminA!, ['delete', 'trace', 'xyz'])).code).toBe(2);
    const missing = await runCli(server.url, keys.adminA!, ['delete', 'trace', traceId()]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('no trace');
    expect((await runCli(server.url, keys.adminA!, ['delete', 'conversation', `none-${tag}`])).code).toBe(1);
  });

  it("expires A's old spans from every table and keeps A's recent ones and all of B's, and re-applies the rules at start", async () => {
    await server.stop();
    const exec = new ChdbExecutor(join(server.dataDir, 'clickhouse'));
    try {
      for (const table of SPAN_ROW_TABLES) {
        const [t] = await exec.query<{ engine_full: string }>('SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}', { table });
        expect(t?.engine_full, table).toContain(`toIntervalDay(3) WHERE ProjectId = '${A}'`);
        expect(t?.engine_full, table).not.toContain(B);
        // TTL deletes at merges: force them.
        await exec.command(`ALTER TABLE ${table} MATERIALIZE TTL SETTINGS mutations_sync = 2`);
      }
      const rows = async (project: string, trace: string) => {
        const counts: Record<string, number> = {};
        for (const table of SPAN_ROW_TABLES) {
          const [r] = await exec.query<{ n: string }>(`SELECT count() AS n FROM ${table} WHERE ProjectId = {project:String} AND TraceId = {trace:String}`, { project, trace });
          counts[table] = Number(r?.n ?? 0);
        }
        return counts;
      };
      const none = Object.fromEntries(SPAN_ROW_TABLES.map((t) => [t, 0]));
      expect(await rows(A, traces.oldA)).toEqual(none);
      expect(await rows(A, traces.deletedA)).toEqual(none);
      expect(await rows(A, traces.conv1A)).toEqual(none);
      expect(await rows(A, traces.conv2A)).toEqual(none);
      for (const [project, trace] of [[A, traces.recentA], [A, traces.keptA], [B, traces.oldB], [B, traces.recentB]] as const) {
        const counts = await rows(project, trace);
        for (const table of SPAN_ROW_TABLES) expect(counts[table], `${table}: ${trace}`).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await exec.close();
    }
    // Started again on the same data: the rules are applied from the stored setting (unchanged, so no ALTER), and still said.
    server = await startServer({ dataDir: server.dataDir, auth: true, env: { PROMPTLINE_API_KEY: bootstrap } });
    expect((await call(keys.readA!, 'GET', '/v1/retention')).body.spanDays).toBe(3);
    expect((await call(keys.adminA!, 'GET', `/v1/traces/${traces.recentA}`)).status).toBe(200);
    expect((await call(keys.adminA!, 'GET', `/v1/traces/${traces.oldA}`)).status).toBe(404);
    const unlimited = await call(keys.adminA!, 'PUT', '/v1/retention', { spanDays: null });
    expect(unlimited.body).toMatchObject({ spanDays: null, kept: { spans: 'unlimited' } });
    expect((await call(keys.adminA!, 'GET', '/v1/audit?action=retention.set')).body.entries.map((e: any) => [e.before, e.after])).toEqual([
      [{ spanDays: 3 }, { spanDays: null }],
      [null, { spanDays: 3 }],
    ]);
  });
});
