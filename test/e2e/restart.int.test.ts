import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeProtobufExportResponse } from '../../src/ingest/otlp/otlp-answers.ts';
import { exportRequest, jsonSpan, llmCall, postJson, postProtobuf, str, toProtobuf, type LlmCall } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, tempDataDir, type ServerUnderTest } from '../helpers/server.ts';

// What a 200 promises survives the process: a clean stop (SIGTERM), a stop right after the
// acknowledgements, and a kill -9. Each case restarts `promptline serve` on the same data directory.

const dirs: string[] = [];
const running: ServerUnderTest[] = [];

async function start(dataDir: string, env?: Record<string, string>): Promise<ServerUnderTest> {
  const s = await startServer({ dataDir, ...(env ? { env } : {}) });
  running.push(s);
  return s;
}

function newDataDir(): string {
  const d = tempDataDir('promptline-restart-');
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const s of running) await s.kill();
  for (const d of dirs) removeDir(d);
});

interface Sent {
  calls: LlmCall[];
  /** Span ids sent per trace id (every span of the request, LLM call or not). */
  spansByTrace: Map<string, string[]>;
}

/**
 * Sends `requests` export requests, alternating OTLP/JSON and OTLP/protobuf, each one trace of a
 * parent agent step (carrying the prompt) and an LLM call child (carrying model and response id),
 * and waits for every acknowledgement.
 */
async function sendTraces(url: string, requests: number, tag: string): Promise<Sent> {
  const sent: Sent = { calls: [], spansByTrace: new Map() };
  await Promise.all(
    Array.from({ length: requests }, async (_, i) => {
      const { call, span: child } = llmCall({ promptName: `${tag}-prompt-${i % 3}`, promptVersion: String(1 + (i % 4)) });
      const parent = jsonSpan({
        traceId: call.traceId,
        name: 'agent step',
        attributes: [str('gen_ai.prompt.name', call.promptName), str('gen_ai.prompt.version', call.promptVersion), str('session.id', `${tag}-session-${i}`)],
      });
      child.parentSpanId = parent.spanId;
      // The LLM call carries the prompt as well, so the parent's arrival order does not matter.
      const req = exportRequest([child, parent]);
      if (i % 2 === 0) {
        const res = await postJson(url, req);
        expect(res.status, `JSON request ${i}`).toBe(200);
        expect(await res.json()).toEqual({});
      } else {
        const res = await postProtobuf(url, toProtobuf(req));
        expect(res.status, `protobuf request ${i}`).toBe(200);
        expect(decodeProtobufExportResponse(new Uint8Array(await res.arrayBuffer()))).toEqual({ rejectedSpans: 0, errorMessage: '' });
      }
      sent.calls.push(call);
      sent.spansByTrace.set(call.traceId, [child.spanId, parent.spanId]);
    }),
  );
  return sent;
}

const answerOf = (url: string, call: LlmCall) => eventually(() => provenance(url, { response_id: call.responseId }), `response ${call.responseId}`);

async function allAnswers(url: string, calls: LlmCall[]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const call of calls) {
    const answer = await answerOf(url, call);
    expect(answer).toMatchObject({
      responseId: call.responseId,
      traceId: call.traceId,
      spanId: call.spanId,
      prompt: { name: call.promptName, version: Number(call.promptVersion) },
      model: { provider: 'openai', name: call.model },
      app: { name: 'e2e-app', version: '2.3.4' },
    });
    out.set(call.responseId, answer);
  }
  return out;
}

interface TraceDetail {
  traceId: string;
  spans: Array<{ spanId: string; lineage: { responseId: string | null } }>;
}

async function traceDetail(url: string, traceId: string): Promise<TraceDetail | undefined> {
  const res = await fetch(`${url}/v1/traces/${traceId}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET /v1/traces/${traceId} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as TraceDetail;
}

/** Every sent span is stored exactly once: each trace answers with each of its span ids once. */
async function expectEachSpanOnce(url: string, sent: Sent): Promise<void> {
  for (const [traceId, spanIds] of sent.spansByTrace) {
    const detail = await eventually(
      async () => {
        const d = await traceDetail(url, traceId);
        return d && d.spans.length >= spanIds.length ? d : undefined;
      },
      `both spans of trace ${traceId}`,
    );
    expect(detail.spans.map((s) => s.spanId).sort(), `spans of trace ${traceId}`).toEqual([...spanIds].sort());
  }
  for (const call of sent.calls) {
    const detail = (await traceDetail(url, call.traceId))!;
    expect(detail.spans.filter((s) => s.lineage.responseId === call.responseId), `rows for ${call.responseId}`).toHaveLength(1);
  }
}

describe('restarting promptline serve on the same data directory', () => {
  it('answers the same provenance after a clean SIGTERM stop as before it', async () => {
    const dataDir = newDataDir();
    const first = await start(dataDir);
    const sent = await sendTraces(first.url, 8, 'clean');
    const before = await allAnswers(first.url, sent.calls);
    const byTraceBefore = await Promise.all(sent.calls.map((c) => provenance(first.url, { trace_id: c.traceId })));
    const bySpanBefore = await Promise.all(sent.calls.map((c) => provenance(first.url, { span_id: c.spanId })));

    expect(await first.stop()).toBe(0);
    expect(first.output()).toContain('stopped');

    const second = await start(dataDir);
    for (const call of sent.calls) expect(await provenance(second.url, { response_id: call.responseId })).toEqual(before.get(call.responseId));
    expect(await Promise.all(sent.calls.map((c) => provenance(second.url, { trace_id: c.traceId })))).toEqual(byTraceBefore);
    expect(await Promise.all(sent.calls.map((c) => provenance(second.url, { span_id: c.spanId })))).toEqual(bySpanBefore);
    await expectEachSpanOnce(second.url, sent);
    expect(await second.stop()).toBe(0);
  });

  it('keeps every acknowledged span when SIGTERM arrives right after the acknowledgements', async () => {
    const dataDir = newDataDir();
    const first = await start(dataDir);
    const sent = await sendTraces(first.url, 12, 'sigterm');
    expect(await first.stop()).toBe(0);
    // Shutdown says what it is writing and how far it got.
    expect(first.output()).toMatch(/SIGTERM: stopping\n {2}no new requests; finishing those in flight\n(?: {2}stopping [^\n]+\n(?: {4}[^\n]+\n)*)* {2}writing what is held to the stores: \d+ request\(s\), \d+ span\(s\)\n(?: {4}\d+ span\(s\) written, \d+ to go\n)*[\s\S]*? {2}written: \d+ span\(s\); the stores have everything\n {2}closing the stores\nstopped\n/);

    const second = await start(dataDir);
    await allAnswers(second.url, sent.calls);
    await expectEachSpanOnce(second.url, sent);
    expect(await second.stop()).toBe(0);
  });

  it('keeps every acknowledged span exactly once after kill -9 right after the acknowledgements', async () => {
    const dataDir = newDataDir();
    // The writer flushes at 12 spans, or after a minute: the first 6 requests (12 spans) reach the
    // stores at once, the last 5 (10 spans) are still only in the spool when the process dies.
    const first = await start(dataDir, { PROMPTLINE_BATCH_MAX_SPANS: '12', PROMPTLINE_FLUSH_INTERVAL_MS: '60000' });
    const early = await sendTraces(first.url, 6, 'kill-early');
    await allAnswers(first.url, early.calls);
    const late = await sendTraces(first.url, 5, 'kill-late');
    await first.kill();

    const second = await start(dataDir);
    expect(second.output()).toContain('spool: replaying requests not yet in the stores');
    const sent: Sent = { calls: [...early.calls, ...late.calls], spansByTrace: new Map([...early.spansByTrace, ...late.spansByTrace]) };
    await allAnswers(second.url, sent.calls);
    await expectEachSpanOnce(second.url, sent);

    // A second crash and restart loses nothing and duplicates nothing either.
    await second.kill();
    const third = await start(dataDir);
    await allAnswers(third.url, sent.calls);
    await expectEachSpanOnce(third.url, sent);
    expect(await third.stop()).toBe(0);
  });

  it('does not duplicate spans when a request already in the stores is replayed from the spool', async () => {
    // A crash between the store write and the spool checkpoint, made deterministic: requests are
    // acknowledged and left in the spool (kill -9 before any flush), the spool is copied, a restart
    // writes them to the stores one request per batch, and the copy of the spool is put back.
    const dataDir = newDataDir();
    const spoolDir = join(dataDir, 'spool');
    const first = await start(dataDir, { PROMPTLINE_FLUSH_INTERVAL_MS: '60000' });
    const sent = await sendTraces(first.url, 6, 'replayed');
    await first.kill();
    const snapshot = newDataDir();
    cpSync(spoolDir, snapshot, { recursive: true });

    const second = await start(dataDir, { PROMPTLINE_BATCH_MAX_SPANS: '2' });
    const before = await allAnswers(second.url, sent.calls);
    await expectEachSpanOnce(second.url, sent);
    expect(await second.stop()).toBe(0);

    rmSync(spoolDir, { recursive: true, force: true });
    cpSync(snapshot, spoolDir, { recursive: true });
    const third = await start(dataDir);
    expect(third.output()).toContain('spool: replaying requests not yet in the stores');
    // The replay is written once the writer is idle again; then the answers are as before.
    await eventually(async () => {
      const ready = (await (await fetch(`${third.url}/readyz`)).json()) as { spool: { pendingRecords: number }; writer: { writtenSpans: number } };
      return ready.spool.pendingRecords === 0 && ready.writer.writtenSpans > 0 ? true : undefined;
    }, 'the replayed spool to be written');
    for (const call of sent.calls) expect(await provenance(third.url, { response_id: call.responseId })).toEqual(before.get(call.responseId));
    await expectEachSpanOnce(third.url, sent);
    expect(await third.stop()).toBe(0);
  });
});
