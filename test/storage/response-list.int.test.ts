import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DecodedSpan } from '../../src/domain/span.ts';
import { LineageResolver } from '../../src/ingest/lineage-resolver.ts';
import { readOwnLineage } from '../../src/ingest/normalizer.ts';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanAnalytics } from '../../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import { migrate, MIGRATIONS } from '../../src/storage/clickhouse/migrations.ts';
import { encodeSpanRowsSliced, SPAN_COLUMNS, SPAN_ROWS_FORMAT } from '../../src/storage/clickhouse/span-rows.ts';
import { createSpan, newTraceId } from '../helpers/factories.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The response list's table on the engine: filled from the spans stored before it existed (its
// migration), and keeping a model call in a trace with a response id out of the list through the
// new revisions a late parent writes.

const WINDOW = { from: new Date(Date.now() - 86_400_000), to: new Date(Date.now() + 3_600_000) };

describe('the response list table', () => {
  let dir = '';
  let exec: ChdbExecutor;
  afterEach(async () => {
    await exec?.close();
    if (dir) removeDir(dir);
  });

  const open = () => {
    dir = tempDataDir('response-list-');
    exec = new ChdbExecutor(join(dir, 'clickhouse'));
    const store = new ClickHouseSpanStore(exec);
    return { store, analytics: new ClickHouseSpanAnalytics(exec), resolver: new LineageResolver({ load: (p, ids) => store.loadStoredNodes(p, ids) }) };
  };
  const listed = async (analytics: ClickHouseSpanAnalytics, project = 'default') => {
    const items = await analytics.listResponses(project, WINDOW, { limit: 100, after: null });
    expect(await analytics.countResponses(project, WINDOW)).toBe(items.length);
    return items.map((i) => i.spanName).sort();
  };

  /** An agent span that names its model, its model call with a response id; a model call of a trace without; a response alone. */
  function world() {
    const mixed = newTraceId();
    const agent = createSpan({ traceId: mixed, name: 'invoke_agent', kind: 1, attrs: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.prompt.name': 'triage', 'gen_ai.prompt.version': 1 } });
    const chat = createSpan({ traceId: mixed, parentSpanId: agent.spanId, name: 'chat mixed', attrs: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.id': 'resp-mixed' } });
    const langfuse = createSpan({ name: 'generation', attrs: { 'langfuse.observation.model.name': 'claude-sonnet-4' } });
    const plain = createSpan({ name: 'chat plain', attrs: { 'gen_ai.response.model': 'gpt-4o', 'gen_ai.response.id': 'resp-plain' } });
    return [agent, chat, langfuse, plain];
  }

  it('is filled at its migration from the spans stored before, model calls of traces with a response id left out', async () => {
    const { analytics, resolver } = open();
    await migrate(exec, MIGRATIONS.filter((m) => m.version < 4));
    for (const project of ['default', 'other']) {
      const out = await resolver.resolve(project, world().map((span) => ({ span, own: readOwnLineage(span) })));
      await exec.insertJsonEachRow('otel_traces', await encodeSpanRowsSliced(project, out.spans), { format: SPAN_ROWS_FORMAT, columns: SPAN_COLUMNS });
    }
    expect(await migrate(exec)).toEqual(MIGRATIONS.filter((m) => m.version >= 4).map((m) => m.version));
    expect(await listed(analytics)).toEqual(['chat mixed', 'chat plain', 'generation']);
    expect(await listed(analytics, 'other')).toEqual(['chat mixed', 'chat plain', 'generation']);
    // Applied again, nothing changes and nothing is listed twice.
    await migrate(exec, [MIGRATIONS.find((m) => m.version === 4)!]);
    expect(await listed(analytics)).toEqual(['chat mixed', 'chat plain', 'generation']);
  });

  it('keeps a model call out through the revisions a late parent writes', async () => {
    const { store, analytics, resolver } = open();
    await store.migrate();
    const traceId = newTraceId();
    const root = createSpan({ traceId, name: 'root', kind: 1, attrs: { 'gen_ai.prompt.name': 'triage', 'gen_ai.prompt.version': 2, 'gen_ai.conversation.id': 'conv-late' } });
    const agent = createSpan({ traceId, parentSpanId: root.spanId, name: 'invoke_agent', kind: 1, attrs: { 'gen_ai.request.model': 'gpt-4o' } });
    const chat = createSpan({ traceId, parentSpanId: agent.spanId, name: 'chat', attrs: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.id': 'resp-late' } });
    let token = 0;
    const ingest = async (spans: DecodedSpan[]) => {
      const out = await resolver.resolve('default', spans.map((span) => ({ span, own: readOwnLineage(span) })));
      await (await store.stageSpans('default', out.spans)).write(`t${++token}`);
      await store.applyFixups('default', out.fixups);
      return out;
    };
    await ingest([agent, chat]);
    expect(await listed(analytics)).toEqual(['chat']);
    const late = await ingest([root]);
    expect(late.fixups.map((f) => f.spanId).sort()).toEqual([agent.spanId, chat.spanId].sort());
    expect(await listed(analytics)).toEqual(['chat']);
    const [item] = await analytics.listResponses('default', { ...WINDOW, conversation: 'conv-late' }, { limit: 10, after: null });
    expect(item).toMatchObject({ spanName: 'chat', prompt: { name: 'triage', version: '2' }, conversationId: 'conv-late' });
  });
});
