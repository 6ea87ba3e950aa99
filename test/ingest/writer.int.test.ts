import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RECORD_JSON, RECORD_PROTOBUF, Spool } from '../../src/ingest/spool.ts';
import { SpanWriter, type WriterOptions } from '../../src/ingest/writer.ts';
import { decodeJsonExport } from '../../src/ingest/otlp/decode-json.ts';
import { StoreError } from '../../src/common/errors.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { ChdbExecutor } from '../../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanStore } from '../../src/storage/clickhouse/clickhouse-span-store.ts';
import type { EncodedSpans, SpanSink, StagedSpans } from '../../src/storage/span-store.ts';
import { SqliteLineageGraph } from '../../src/storage/sqlite/sqlite-lineage-graph.ts';
import { exportRequest, jsonSpan, llmCall, spanId as newSpanId, toProtobuf, traceId as newTraceId } from '../helpers/otlp-payloads.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

// The writer between the spool and the real stores (the ClickHouse engine and SQLite), with
// faults injected in front of the span store: an outage is waited out, and data the store
// refuses for good is set aside without holding up what comes after it.

/** The real span store, with a switch that makes its writes fail. */
class FaultySpanStore {
  outageLeft = 0;
  poison = '';
  /** Stored-node lookups (the preparation's store calls) fail as in an outage while set. */
  loadOutage = false;
  /** The encoder module the writer's preparation thread is to use instead of the store's. */
  encoderModule = '';
  refusals = 0;
  /** The number of rows of each applyFixups call that reached the real store. */
  readonly fixupCalls: number[] = [];
  /** The spans of each span write, as it began. */
  readonly writes: number[] = [];
  /** While set, span writes and stored-node lookups wait for it. */
  writeGate: Promise<void> | null = null;
  loadGate: Promise<void> | null = null;
  loadsWaiting = 0;
  readonly inner: SpanSink;
  constructor(inner: SpanSink) {
    this.inner = inner;
  }
  wrap(): SpanSink {
    return new Proxy(this.inner, {
      get: (target, prop, receiver) => {
        if (prop === 'stageEncoded') {
          return (project: string, encoded: EncodedSpans): StagedSpans => {
            const staged = target.stageEncoded(project, encoded);
            // The rows as the preparation thread encoded them: a poisoned span's attribute is in its row.
            const poisoned = this.poison !== '' && Buffer.from(encoded.rows.buffer, encoded.rows.byteOffset, encoded.rows.byteLength).includes(this.poison);
            return {
              write: async (token) => {
                this.writes.push(encoded.spans);
                if (this.writeGate) await this.writeGate;
                if (this.outageLeft > 0) {
                  this.outageLeft--;
                  throw new StoreError('clickhouse', 'connection refused (injected outage)', true);
                }
                if (poisoned) {
                  this.refusals++;
                  throw new StoreError('clickhouse', 'cannot parse input (injected refusal)', false);
                }
                return staged.write(token);
              },
            };
          };
        }
        if (prop === 'encoderModule' && this.encoderModule) return this.encoderModule;
        if (prop === 'loadStoredNodes') {
          return async (project: string, traceIds: string[]) => {
            if (this.loadGate) {
              this.loadsWaiting++;
              await this.loadGate;
            }
            if (this.loadOutage) return Promise.reject(new StoreError('clickhouse', 'connection refused (injected outage)', true));
            return target.loadStoredNodes(project, traceIds);
          };
        }
        if (prop === 'applyFixups') {
          return (project: string, fixups: Parameters<SpanSink['applyFixups']>[1], token: string) => {
            if (fixups.length > 0) this.fixupCalls.push(fixups.length);
            return target.applyFixups(project, fixups, token);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }
}

/** A value no other span carries: the rows holding it are refused. */
const POISON = 'injected-poison-7b1c';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

/** What the receiver hands the writer with a JSON request it spooled. */
function jsonAttachment(body: Buffer) {
  return { projectId: 'default', raw: body, spans: decodeJsonExport(body).spans.length, receivedAtMs: Date.now(), kind: 'json' as const };
}

async function setup(opts: { retry?: WriterOptions['retry']; writer?: Partial<WriterOptions>; encoderModule?: (dir: string) => string } = {}) {
  const dir = tempDataDir('writer-test-');
  dirs.push(dir);
  const exec = new ChdbExecutor(join(dir, 'clickhouse'));
  const real = new ClickHouseSpanStore(exec);
  await real.migrate();
  const graph = new SqliteLineageGraph(join(dir, 'lineage.sqlite'));
  await graph.migrate();
  const faults = new FaultySpanStore(real);
  if (opts.encoderModule) faults.encoderModule = opts.encoderModule(dir);
  // onDurable runs only for records appended (by send, below): by then the writer is assigned.
  const spool = await Spool.open({
    dir: join(dir, 'spool'),
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: 1024 * 1024,
    logger: silentLogger,
    onDurable: (pos, att) => writer.enqueue(pos, att as never),
  });
  const writer = new SpanWriter({
    spool,
    spans: faults.wrap(),
    graph,
    logger: silentLogger,
    batchMaxSpans: 1000,
    flushIntervalMs: 5,
    retry: opts.retry ?? { initialMs: 5, maxMs: 20 },
    deadLetterDir: join(dir, 'dead-letter'),
    ...opts.writer,
  });
  writer.start();
  const send = async (spans: object[]) => {
    const body = Buffer.from(JSON.stringify(exportRequest(spans as never)));
    await spool.append(RECORD_JSON, 'default', body, jsonAttachment(body));
  };
  return { dir, exec, real, graph, spool, writer, faults, send };
}

describe('the writer drains the spool into the stores', () => {
  it('prepares the next batch ahead of the write under way only once a whole batch waits, so a moderate rate is written in whole batches', async () => {
    const t = await setup({ writer: { batchMaxSpans: 3 } });
    const gate = () => {
      let open!: () => void;
      return { promise: new Promise<void>((r) => (open = r)), open: () => open() };
    };
    const calls = Array.from({ length: 4 }, (_, i) => llmCall({ promptName: `whole-batches-${i}` }));
    // The first batch is being prepared (its stored-node lookup held) when the second record arrives.
    const loads = gate();
    t.faults.loadGate = loads.promise;
    await t.send([calls[0]!.span]);
    while (t.faults.loadsWaiting === 0) await new Promise((r) => setTimeout(r, 5));
    await t.send([calls[1]!.span]);
    // The first batch's write is held while two more records arrive: three are waiting, a whole batch.
    const writes = gate();
    t.faults.writeGate = writes.promise;
    t.faults.loadGate = null;
    loads.open();
    while (t.faults.writes.length === 0) await new Promise((r) => setTimeout(r, 5));
    await t.send([calls[2]!.span]);
    await t.send([calls[3]!.span]);
    t.faults.writeGate = null;
    writes.open();
    await t.writer.whenIdle();
    // Not 1, 1, 2: the record waiting when the first write began was not prepared alone.
    expect(t.faults.writes).toEqual([1, 3]);
    for (const c of calls) expect(await t.real.findByResponseId('default', c.call.responseId)).toHaveLength(1);
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
  });

  it('waits out an outage and then writes everything, with nothing set aside', async () => {
    const t = await setup();
    t.faults.outageLeft = 5;
    const calls = [llmCall({ promptName: 'outage' }), llmCall({ promptName: 'outage' })];
    for (const c of calls) await t.send([c.span]);
    await t.writer.whenIdle();
    for (const c of calls) expect(await t.real.findByResponseId('default', c.call.responseId)).toHaveLength(1);
    expect(t.writer.stats()).toMatchObject({ deadLettered: 0, failedAttempts: 5, lastError: null });
    expect(t.spool.stats().pendingRecords).toBe(0);
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
  });

  it('stops within its timeout during an outage, however long the backoff, and leaves the batch in the spool', async () => {
    // A backoff of ten minutes: a stop that sat it out would overrun the test's timeout and fail it.
    const t = await setup({ retry: { initialMs: 600_000, maxMs: 600_000 } });
    t.faults.outageLeft = Infinity;
    await t.send([llmCall({ promptName: 'outage-at-stop' }).span]);
    while (t.writer.stats().failedAttempts === 0) await new Promise((r) => setTimeout(r, 5));
    expect(await t.writer.stop(50)).toEqual({ drained: false });
    expect(t.spool.stats().pendingRecords).toBe(1);
    await t.spool.close();
    await t.real.close();
  });

  it('sets a refused record aside whole, stores its other spans and everything after it, and moves on', async () => {
    const t = await setup();
    t.faults.poison = POISON;
    const before = llmCall({ promptName: 'before' });
    const bad = llmCall({ promptName: 'poisoned' });
    const sibling = llmCall({ promptName: 'sibling-of-poisoned' });
    const after = llmCall({ promptName: 'after' });
    (bad.span.attributes as Array<{ key: string; value: { stringValue: string } }>).push({ key: 'poison', value: { stringValue: POISON } });
    await t.send([before.span]);
    await t.send([bad.span, sibling.span]);
    await t.send([after.span]);
    await t.writer.whenIdle();

    for (const c of [before, sibling, after]) expect(await t.real.findByResponseId('default', c.call.responseId), c.call.promptName).toHaveLength(1);
    expect(await t.real.findByResponseId('default', bad.call.responseId)).toHaveLength(0);
    expect(t.writer.stats().deadLettered).toBe(1);
    const files = readdirSync(join(t.dir, 'dead-letter'));
    const payload = files.find((f) => f.endsWith('.otlp.json'))!;
    const reason = files.find((f) => f.endsWith('.reason.json'))!;
    expect(readFileSync(join(t.dir, 'dead-letter', payload), 'utf8')).toContain(bad.call.responseId);
    expect(JSON.parse(readFileSync(join(t.dir, 'dead-letter', reason), 'utf8'))).toMatchObject({ projectId: 'default', reason: /injected refusal/ });
    // Whole requests, as received: their owner's only.
    expect(statSync(join(t.dir, 'dead-letter')).mode & 0o777).toBe(0o700);
    for (const f of files) expect(statSync(join(t.dir, 'dead-letter', f)).mode & 0o777, f).toBe(0o600);
    expect(t.spool.stats().pendingRecords).toBe(0);
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
    expect(existsSync(join(t.dir, 'spool'))).toBe(true);
  });

  it('keeps the lineage a late parent brings when its batch is split around a refused record', async () => {
    const t = await setup();
    t.faults.poison = POISON;
    const child = llmCall({ promptName: 'child-own' });
    // The child carries no prompt; its parent, sent later, does.
    const parentId = 'aaaaaaaaaaaaaaaa';
    (child.span as { parentSpanId?: string }).parentSpanId = parentId;
    (child.span.attributes as Array<{ key: string }>).splice(0, child.span.attributes.length, ...child.span.attributes.filter((a) => !a.key.startsWith('gen_ai.prompt.')));
    await t.send([child.span]);
    await t.writer.whenIdle();
    expect((await t.real.findByResponseId('default', child.call.responseId))[0]!.lineage.prompt).toBeNull();

    const parent = llmCall({ traceId: child.call.traceId, spanId: parentId, promptName: 'from-the-parent' });
    const bad = llmCall({ promptName: 'poisoned' });
    (bad.span.attributes as Array<{ key: string; value: { stringValue: string } }>).push({ key: 'poison', value: { stringValue: POISON } });
    // One batch: the parent's record and a refused one.
    const body = (spans: object[]) => Buffer.from(JSON.stringify(exportRequest(spans as never)));
    const b1 = body([parent.span]);
    const b2 = body([bad.span]);
    await Promise.all([
      t.spool.append(RECORD_JSON, 'default', b1, jsonAttachment(b1)),
      t.spool.append(RECORD_JSON, 'default', b2, jsonAttachment(b2)),
    ]);
    await t.writer.whenIdle();
    expect(t.faults.refusals).toBeGreaterThan(0);
    const [fixed] = await t.real.findByResponseId('default', child.call.responseId);
    expect(fixed!.lineage.prompt?.name).toBe('from-the-parent');
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
  });

  it('rewrites a late parent’s descendants at most a budget of rows a write, until all of them have its lineage', async () => {
    const t = await setup({ writer: { maxFixupsPerBatch: 200 } });
    const trace = newTraceId();
    const root = newSpanId();
    const children = Array.from({ length: 1_000 }, () => jsonSpan({ traceId: trace, parentSpanId: root, attributes: [] }));
    for (let i = 0; i < children.length; i += 250) await t.send(children.slice(i, i + 250));
    await t.writer.whenIdle();
    expect(t.faults.fixupCalls).toEqual([]);

    await t.send([jsonSpan({ traceId: trace, spanId: root, attributes: [{ key: 'gen_ai.prompt.name', value: { stringValue: 'late-root' } }] })]);
    // A span of another trace, sent behind it, is stored too.
    const other = llmCall({ promptName: 'behind-the-rewrite' });
    await t.send([other.span]);
    await t.writer.whenIdle();

    expect(Math.max(...t.faults.fixupCalls)).toBeLessThanOrEqual(200);
    expect(t.faults.fixupCalls.reduce((a, b) => a + b, 0)).toBe(1_000);
    const stored = await t.real.findByTraceId('default', trace);
    expect(stored).toHaveLength(1_001);
    expect(stored.filter((s) => s.lineage.prompt?.name === 'late-root')).toHaveLength(1_001);
    expect(stored.filter((s) => s.spanId !== root).every((s) => s.lineage.promptSpanId === root)).toBe(true);
    expect(await t.real.findByResponseId('default', other.call.responseId)).toHaveLength(1);
    expect(t.writer.stats()).toMatchObject({ fixups: 1_000, unsettledTraces: 0, deadLettered: 0 });
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
  });

  it('waits longer when ClickHouse says it has too many parts, says so in its stats, and writes everything once it has merged', async () => {
    const t = await setup({ retry: { initialMs: 5, maxMs: 20, backPressureMs: 50, backPressureMaxMs: 200 } });
    const first = llmCall({ promptName: 'before-too-many-parts' });
    await t.send([first.span]);
    await t.writer.whenIdle();
    // Merges stopped, and one part a partition at most: the next insert is refused with TOO_MANY_PARTS (252).
    await t.exec.command('SYSTEM STOP MERGES otel_traces');
    await t.exec.command('ALTER TABLE otel_traces MODIFY SETTING parts_to_throw_insert = 1');
    const held = llmCall({ promptName: 'held-by-too-many-parts' });
    await t.send([held.span]);
    while (t.writer.stats().backPressureWaits < 3) await new Promise((r) => setTimeout(r, 20));
    const during = t.writer.stats();
    expect(during.backPressure).toMatch(/write spans: .*Too many parts.*waiting \d+ ms before the next attempt/s);
    expect(during.deadLettered).toBe(0);
    expect(await t.real.findByResponseId('default', held.call.responseId)).toHaveLength(0);
    // At most one attempt per back-pressure wait (50, 100, 200, 200 … ms), not one every few ms.
    expect(during.failedAttempts).toBeLessThanOrEqual(during.backPressureWaits + 1);

    await t.exec.command('ALTER TABLE otel_traces MODIFY SETTING parts_to_throw_insert = 3000');
    await t.exec.command('SYSTEM START MERGES otel_traces');
    await t.writer.whenIdle();
    expect(await t.real.findByResponseId('default', held.call.responseId)).toHaveLength(1);
    expect(t.writer.stats()).toMatchObject({ backPressure: null, lastError: null, deadLettered: 0 });
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
  });

  it('judges a spooled request’s span times by when it was received, however long it waited', async () => {
    const t = await setup({ writer: { spanTimeWindow: { maxAgeMs: 86_400_000, maxFutureMs: 3_600_000 } } });
    const receivedAtMs = Date.now() - 10 * 86_400_000;
    const at = (msBeforeReceipt: number) => {
      const c = llmCall({ promptName: `received-${msBeforeReceipt}` });
      const start = BigInt(receivedAtMs - msBeforeReceipt) * 1_000_000n;
      c.span.startTimeUnixNano = start.toString();
      c.span.endTimeUnixNano = (start + 1_000n).toString();
      return c;
    };
    // An hour before its receipt (in the window then, ten days old now), and two days before (out of it then).
    const inWindow = at(3_600_000);
    const tooOld = at(2 * 86_400_000);
    // Read back from the spool (nothing handed over in memory), as after a restart.
    await t.spool.append(RECORD_PROTOBUF, 'default', toProtobuf(exportRequest([inWindow.span, tooOld.span])), undefined, receivedAtMs);
    await t.writer.whenIdle();
    expect(await t.real.findByResponseId('default', inWindow.call.responseId)).toHaveLength(1);
    expect(await t.real.findByResponseId('default', tooOld.call.responseId)).toHaveLength(0);
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
  });

  it('writes a batch once when its preparation thread dies under it: a new thread prepares it again', async () => {
    const dying = new URL('../helpers/dying-encoder.ts', import.meta.url);
    const t = await setup({ encoderModule: (dir) => `${dying.href}?marker=${encodeURIComponent(join(dir, 'died'))}` });
    const calls = Array.from({ length: 3 }, (_, i) => llmCall({ promptName: `thread-died-${i}` }));
    for (const c of calls) await t.send([c.span]);
    await t.writer.whenIdle();
    expect(existsSync(join(t.dir, 'died'))).toBe(true);
    for (const c of calls) expect(await t.real.findByResponseId('default', c.call.responseId), c.call.promptName).toHaveLength(1);
    const rows = await t.exec.query<{ n: string }>('SELECT count() AS n FROM otel_traces');
    expect(Number(rows[0]?.n)).toBe(calls.length);
    expect(t.writer.stats()).toMatchObject({ deadLettered: 0, writtenSpans: calls.length });
    expect(t.spool.stats().pendingRecords).toBe(0);
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
  });

  it('stores the other spans of a record whose preparation is refused (a prompt the registry will not classify), and sets the record aside', async () => {
    const t = await setup({
      writer: {
        classifyPrompt: async (_project, prompt) => {
          if (prompt.name === 'unclassifiable') throw new Error('the registry refuses this prompt (injected)');
          return 'unregistered';
        },
      },
    });
    const bad = llmCall({ promptName: 'unclassifiable' });
    const sibling = llmCall({ promptName: 'sibling-of-unclassifiable' });
    const after = llmCall({ promptName: 'after-unclassifiable' });
    await t.send([bad.span, sibling.span]);
    await t.send([after.span]);
    await t.writer.whenIdle();
    for (const c of [sibling, after]) expect(await t.real.findByResponseId('default', c.call.responseId), c.call.promptName).toHaveLength(1);
    expect(await t.real.findByResponseId('default', bad.call.responseId)).toHaveLength(0);
    expect(t.writer.stats().deadLettered).toBe(1);
    expect(t.spool.stats().pendingRecords).toBe(0);
    await t.writer.stop();
    await t.spool.close();
    await t.real.close();
  });

  it('stops within its timeout while a batch is being prepared through an outage, and leaves it in the spool', async () => {
    const t = await setup({ retry: { initialMs: 600_000, maxMs: 600_000 } });
    t.faults.loadOutage = true;
    await t.send([llmCall({ promptName: 'outage-while-preparing' }).span]);
    while (t.writer.stats().failedAttempts === 0) await new Promise((r) => setTimeout(r, 5));
    expect(await t.writer.stop(50)).toEqual({ drained: false });
    expect(t.spool.stats().pendingRecords).toBe(1);
    await t.spool.close();
    await t.real.close();
  });
});
