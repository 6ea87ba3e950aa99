import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecodedSpan } from '../../src/domain/span.ts';
import { LineageResolver } from '../../src/ingest/lineage-resolver.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import { migrate, MIGRATIONS } from '../../src/storage/clickhouse/migrations.ts';
import { createSpan, newTraceId } from '../helpers/factories.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The response index provenance reads (promptline_response_lineage): since migration 10 it packs
// the lineage it answers with into one column. What was indexed before is rebuilt, with every
// late parent's revision, and answers as the spans themselves do.

const PROJECT = 'default';

function call(traceId: string, parentSpanId: string, n: number, prompt: boolean): DecodedSpan {
  return createSpan({
    traceId,
    parentSpanId,
    attrs: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.id': `resp-${traceId}-${n}`,
      'gen_ai.conversation.id': `conv-${n % 3}`,
      ...(prompt ? { 'gen_ai.prompt.name': 'answer', 'gen_ai.prompt.version': 3, 'promptline.dataset.ids': ['kb-1', 'kb"2\\é'] } : {}),
    },
  });
}

function agent(traceId: string): DecodedSpan {
  return createSpan({ traceId, name: 'invoke_agent', kind: 1, attrs: { 'gen_ai.prompt.name': 'late-prompt', 'gen_ai.prompt.version': 9, 'promptline.dataset.ids': ['late-ds'] } });
}

describe('the response index', () => {
  const dir = tempDataDir('response-index-');
  let exec: ChdbExecutor;
  let store: ClickHouseSpanStore;
  let resolver: LineageResolver;
  const responses: Array<{ id: string; spanId: string }> = [];

  const ingest = async (spans: DecodedSpan[], token: string) => {
    const out = await resolver.resolve(PROJECT, spans.map((span) => ({ span, own: readOwnLineage(span) })));
    await (await store.stageSpans(PROJECT, out.spans)).write(token);
    await store.applyFixups(PROJECT, out.fixups);
    for (const s of spans) {
      const id = readOwnLineage(s).responseId;
      if (id) responses.push({ id, spanId: s.spanId });
    }
  };

  /** What provenance answers for a response, beside the span's own lineage in otel_traces. */
  const agrees = async () => {
    for (const r of responses) {
      const indexed = await store.findByResponseId(PROJECT, r.id);
      expect(indexed).toHaveLength(1);
      expect(indexed).toEqual(await store.findBySpanId(PROJECT, r.spanId));
    }
  };

  beforeAll(async () => {
    exec = new ChdbExecutor(join(dir, 'clickhouse'));
    store = new ClickHouseSpanStore(exec);
    resolver = new LineageResolver({ load: (p, ids) => store.loadStoredNodes(p, ids) });
    await migrate(exec, MIGRATIONS.filter((m) => m.version < 10));
    // Calls with their own prompt, and calls whose parent (with a prompt and a dataset) arrives
    // later: the index then holds two revisions of each, and must answer with the later one.
    const late = newTraceId();
    const parent = agent(late);
    await ingest([call(newTraceId(), '', 1, true), call(newTraceId(), '', 2, true), call(late, parent.spanId, 3, false), call(late, parent.spanId, 4, false)], 't1');
    await ingest([parent], 't2');
  }, 120_000);

  afterAll(async () => {
    await exec?.close();
    removeDir(dir);
  });

  it('rebuilds what was indexed before migration 10, each response at its latest revision', async () => {
    const before = await exec.query<{ n: string }>('SELECT count() AS n FROM promptline_response_lineage');
    expect(Number(before[0]!.n)).toBeGreaterThan(4);
    expect(await migrate(exec)).toEqual([10]);
    const columns = await exec.query<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'promptline_response_lineage' ORDER BY position");
    expect(columns.map((c) => c.name)).toEqual(['ProjectId', 'ResponseId', 'TraceId', 'SpanId', 'Timestamp', 'LineageRevision', 'Lineage']);
    await agrees();
    const late = await store.findByResponseId(PROJECT, responses[2]!.id);
    expect(late[0]!.lineage.prompt).toMatchObject({ name: 'late-prompt', version: '9' });
    expect(late[0]!.lineage.datasetIds).toEqual(['late-ds']);
    const own = await store.findByResponseId(PROJECT, responses[0]!.id);
    expect(own[0]!.lineage.datasetIds).toEqual(['kb-1', 'kb"2\\é']);
    expect(own[0]!.lineage.conversationId).toBe('conv-1');
  });

  it('indexes what arrives after it, late parents included', async () => {
    const late = newTraceId();
    const parent = agent(late);
    await ingest([call(late, parent.spanId, 5, false), call(newTraceId(), '', 6, true)], 't3');
    await ingest([parent], 't4');
    await agrees();
    expect((await store.findByResponseId(PROJECT, responses.at(-3)!.id))[0]!.lineage.prompt?.name).toBe('late-prompt');
  });

  it('starts over when a start stopped half-way through the migration', async () => {
    const m10 = MIGRATIONS.find((m) => m.version === 10)!;
    // Stopped after the swap, before the old table was dropped: the next start runs it again.
    await exec.command('DROP VIEW IF EXISTS promptline_response_lineage_mv');
    for (const sql of m10.statements) await exec.command(sql);
    await agrees();
    const left = await exec.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'promptline_response_lineage%' ORDER BY name");
    expect(left.map((t) => t.name)).toEqual(['promptline_response_lineage', 'promptline_response_lineage_mv']);
  });
});
