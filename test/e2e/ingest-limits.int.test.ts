import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtobufExportResponse } from '../../src/ingest/otlp/otlp-answers.ts';
import { MAX_DATASET_IDS, MAX_LINEAGE_VALUE_CHARS } from '../../src/ingest/otlp/span-rules.ts';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { exportRequest, jsonSpan, llmCall, spanId, str, toProtobuf, traceId, type JsonSpan } from '../helpers/otlp-payloads.ts';
import { eventually, removeDir, type ServerUnderTest } from '../helpers/server.ts';

// What one project's ingest key can make the server do, bounded: lineage values over their bounds,
// spans a day apart over years (a partition each), and a late parent over thousands of stored
// descendants sent again and again. Each attack runs against a real `promptline serve` with keys;
// the attacker gets a partial success naming what was refused, and while the attack runs another
// project's /healthz, OTLP post and provenance lookup keep answering within ANSWER_WITHIN_MS and
// the server's memory stays under RSS_BOUND_BYTES. (Scaled to CI: the fixup budget is 500 rows a
// batch here, 10,000 by default.)

/** A generous bound for an answer to another project while an attack runs (two shared cores). */
const ANSWER_WITHIN_MS = 5_000;
/** The server's resident memory, the embedded ClickHouse engine included. */
const RSS_BOUND_BYTES = 2 * 1024 * 1024 * 1024;
const FIXUP_BUDGET = 500;
const DAY_MS = 86_400_000;

let server: ServerUnderTest;
let admin: string;
const tag = randomBytes(3).toString('hex');
const keys = { attacker: '', victim: '' };

beforeAll(async () => {
  const started = await startServerWithAdmin({
    env: { PROMPTLINE_MAX_FIXUPS_PER_BATCH: String(FIXUP_BUDGET), PROMPTLINE_LOG_LEVEL: 'debug', PROMPTLINE_INGEST_RATE_PER_SECOND: '100000', PROMPTLINE_INGEST_RATE_BURST: '100000' },
  });
  server = started.server;
  admin = started.admin;
  for (const who of ['attacker', 'victim'] as const) {
    const res = await fetch(`${server.url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'admin', project: `${who}-${tag}`, name: who }),
    });
    expect(res.status).toBe(201);
    keys[who] = ((await res.json()) as { key: string }).key;
  }
});

afterAll(async () => {
  if (!server) return;
  await server.stop();
  removeDir(server.dataDir);
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

async function postJson(key: string, body: unknown) {
  const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { ...auth(key), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as { partialSuccess?: { rejectedSpans: string; errorMessage: string } };
  return { status: res.status, rejected: Number(json.partialSuccess?.rejectedSpans ?? 0), message: json.partialSuccess?.errorMessage ?? '' };
}

async function postProtobuf(key: string, body: Parameters<typeof toProtobuf>[0]) {
  const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { ...auth(key), 'content-type': 'application/x-protobuf' }, body: toProtobuf(body) });
  const answer = decodeProtobufExportResponse(new Uint8Array(await res.arrayBuffer()));
  return { status: res.status, rejected: answer.rejectedSpans, message: answer.errorMessage };
}

async function provenanceOf(key: string, query: Record<string, string>): Promise<any> {
  const res = await fetch(`${server.url}/v1/provenance?${new URLSearchParams(query)}`, { headers: auth(key) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`provenance answered ${res.status}: ${await res.text()}`);
  return res.json();
}

interface WriterFigures {
  queuedRecords: number;
  queuedSpans: number;
  unsettledTraces: number;
  fixups: number;
  deadLettered: number;
}

async function readiness(): Promise<{ spool: { pendingRecords: number }; writer: WriterFigures }> {
  const res = await fetch(`${server.url}/readyz`, { headers: auth(admin) });
  return (await res.json()) as never;
}

const writer = async () => (await readiness()).writer;

/** Everything acknowledged is in the stores (none queued, none being written), and no stored row waits for a rewrite. */
const settled = () =>
  eventually(async () => {
    const r = await readiness();
    return r.spool.pendingRecords === 0 && r.writer.queuedSpans === 0 && r.writer.unsettledTraces === 0 ? r.writer : undefined;
  }, 'the writer to settle', 120_000);

const rssBytes = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.process.pid}/status`, 'utf8'))![1]) * 1024;

const timed = async <T>(what: string, f: () => Promise<T>): Promise<{ what: string; ms: number; ok: boolean }> => {
  const t0 = performance.now();
  const ok = await f().then(Boolean, () => false);
  return { what, ms: Math.round(performance.now() - t0), ok };
};

/**
 * Runs `attack` while the victim project checks, again and again, that /healthz answers, that a
 * normal OTLP post is taken, and that a provenance lookup of a response stored before answers;
 * returns the attack's result once both are done, after checking every probe and the memory.
 */
async function whileVictimIsServed<T>(attack: () => Promise<T>): Promise<T> {
  const before = llmCall({ promptName: `victim-${tag}` });
  expect((await postJson(keys.victim, exportRequest([before.span]))).status).toBe(200);
  await eventually(() => provenanceOf(keys.victim, { response_id: before.call.responseId }), 'the victim’s earlier response');

  let done = false;
  const probes: Array<{ what: string; ms: number; ok: boolean }> = [];
  const posted: string[] = [];
  let rss = 0;
  const probing = (async () => {
    while (!done || probes.length < 3) {
      const call = llmCall({ promptName: `victim-${tag}` });
      posted.push(call.call.responseId);
      probes.push(
        ...(await Promise.all([
          timed('GET /healthz', async () => (await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(30_000) })).status === 200),
          timed('POST /v1/traces (another project)', async () => {
            const r = await postJson(keys.victim, exportRequest([call.span]));
            return r.status === 200 && r.rejected === 0;
          }),
          timed('GET /v1/provenance (another project)', async () => (await provenanceOf(keys.victim, { response_id: before.call.responseId }))?.prompt?.name === `victim-${tag}`),
        ])),
      );
      rss = Math.max(rss, rssBytes());
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  let result: T;
  try {
    result = await attack();
  } finally {
    done = true;
    await probing;
  }
  console.log(`while the attack ran: ${probes.length} answers to another project, slowest ${Math.max(...probes.map((p) => p.ms))} ms; server memory at most ${Math.round(rss / 2 ** 20)} MiB`);
  expect(probes.filter((p) => !p.ok)).toEqual([]);
  expect(probes.filter((p) => p.ms > ANSWER_WITHIN_MS)).toEqual([]);
  expect(rss).toBeGreaterThan(0);
  expect(rss).toBeLessThan(RSS_BOUND_BYTES);
  // What the victim sent meanwhile is stored.
  for (const id of posted) await eventually(() => provenanceOf(keys.victim, { response_id: id }), `the victim’s response ${id}`, 60_000);
  return result;
}

const over = (n: number) => 'v'.repeat(n);

describe('one project cannot make the server keep, rewrite or partition without bound', () => {
  it('refuses spans with lineage values over their bounds as a partial success naming the field, and stores the others', async () => {
    const kept: string[] = [];
    const bad = (i: number): JsonSpan => {
      const s = jsonSpan();
      if (i % 3 === 0) s.attributes = [str('gen_ai.prompt.name', over(64 * 1024))];
      else if (i % 3 === 1) s.attributes = [str('promptline.dataset.ids', Array.from({ length: 2_000 }, (_, k) => `kb-${k}`).join(','))];
      else s.attributes = [str('gen_ai.response.id', over(16 * 1024))];
      return s;
    };
    const request = (n: number) => {
      const spans: JsonSpan[] = [];
      for (let i = 0; i < 150; i++) spans.push(bad(i));
      for (let i = 0; i < 10; i++) {
        const c = llmCall({ promptName: `attacker-${tag}-${n}` });
        kept.push(c.call.responseId);
        spans.push(c.span);
      }
      return exportRequest(spans);
    };
    const answers = await whileVictimIsServed(() => Promise.all(Array.from({ length: 8 }, (_, n) => (n % 2 === 0 ? postJson(keys.attacker, request(n)) : postProtobuf(keys.attacker, request(n))))));
    for (const a of answers) {
      expect(a).toMatchObject({ status: 200, rejected: 150 });
      expect(a.message).toContain(`gen_ai.prompt.name is over ${MAX_LINEAGE_VALUE_CHARS} characters`);
      expect(a.message).toContain(`promptline.dataset.ids names more than ${MAX_DATASET_IDS} dataset ids`);
      expect(a.message).toContain(`gen_ai.response.id is over ${MAX_LINEAGE_VALUE_CHARS} characters`);
    }
    // A resource naming an over-long service refuses every span under it.
    const underResource = await postJson(keys.attacker, exportRequest([jsonSpan(), jsonSpan()], [str('service.name', over(300))]));
    expect(underResource).toMatchObject({ status: 200, rejected: 2, message: expect.stringContaining('service.name is over 256 characters') });
    for (const id of kept) await eventually(() => provenanceOf(keys.attacker, { response_id: id }), `the attacker’s good span ${id}`);
  });

  it('refuses span start times outside the window (30 days back, 1 day ahead) as a partial success, and stores the spans in it', async () => {
    const now = Date.now();
    // 2,000 spans a day apart, from 47 hours ahead back over five years: 31 of them in the window.
    const request = () => {
      const spans = Array.from({ length: 2_000 }, (_, i) => {
        const s = jsonSpan();
        const start = BigInt(now + 2 * DAY_MS - i * DAY_MS - 3_600_000) * 1_000_000n;
        s.startTimeUnixNano = start.toString();
        s.endTimeUnixNano = (start + 1_000n).toString();
        return s;
      });
      return { spans, body: exportRequest(spans) };
    };
    const sent = Array.from({ length: 6 }, request);
    const answers = await whileVictimIsServed(() => Promise.all(sent.map((r, n) => (n % 2 === 0 ? postJson(keys.attacker, r.body) : postProtobuf(keys.attacker, r.body)))));
    for (const a of answers) {
      expect(a).toMatchObject({ status: 200, rejected: 2_000 - 31 });
      expect(a.message).toContain('span start times must be at most 30 days before the request arrives (PROMPTLINE_MAX_SPAN_AGE)');
      expect(a.message).toContain('span start times must be at most 1 day after the request arrives (PROMPTLINE_MAX_SPAN_FUTURE)');
    }
    const { spans } = sent[0]!;
    const trace = async (id: string) => (await fetch(`${server.url}/v1/traces/${id}`, { headers: auth(keys.attacker) })).status;
    await eventually(async () => ((await trace(spans[1]!.traceId)) === 200 && (await trace(spans[31]!.traceId)) === 200 ? true : undefined), 'the spans in the window');
    await settled();
    expect([await trace(spans[0]!.traceId), await trace(spans[32]!.traceId), await trace(spans[1_999]!.traceId)]).toEqual([404, 404, 404]);
  });

  it('rewrites a late parent’s thousands of stored descendants in bounded steps, however often the parent is sent again', async () => {
    const trace = traceId();
    const root = spanId();
    const children = Array.from({ length: 6_000 }, () => jsonSpan({ traceId: trace, parentSpanId: root, attributes: [] }));
    for (let i = 0; i < children.length; i += 1_000) expect((await postJson(keys.attacker, exportRequest(children.slice(i, i + 1_000)))).status).toBe(200);
    await settled();
    const before = (await writer()).fixups;
    const logBefore = server.output().length;

    // The parent, sent five times with five prompts: each time every descendant's lineage changes.
    const versions = [1, 2, 3, 4, 5];
    await whileVictimIsServed(async () => {
      for (const v of versions) {
        const parent = jsonSpan({ traceId: trace, spanId: root, attributes: [str('gen_ai.prompt.name', `late-${tag}`), str('gen_ai.prompt.version', String(v))] });
        expect(await postJson(keys.attacker, exportRequest([parent]))).toMatchObject({ status: 200, rejected: 0 });
      }
      return settled();
    });

    // Every descendant ends with the last prompt…
    const answer = await provenanceOf(keys.attacker, { trace_id: trace });
    const lineage = (answer.spans as Array<{ spanId: string; prompt: { name: string; version: number } | null; promptSpanId: string | null }>).filter((s) => s.spanId !== root);
    expect(lineage).toHaveLength(children.length);
    expect(lineage.filter((s) => s.prompt?.name === `late-${tag}` && s.prompt.version === 5 && s.promptSpanId === root)).toHaveLength(children.length);
    // …each write to the span store rewrote at most the budget…
    const written = server
      .output()
      .slice(logBefore)
      .split('\n')
      .filter((l) => l.includes('"msg":"writer: batch written"'))
      .map((l) => (JSON.parse(l) as { fixups: number }).fixups);
    expect(written.length).toBeGreaterThan(0);
    console.log(`rows rewritten per write to the span store: ${written.filter((n) => n > 0).join(', ')}`);
    expect(Math.max(...written)).toBeLessThanOrEqual(FIXUP_BUDGET);
    // …and no more rows were rewritten than the sends changed (some sends may land in one batch).
    const rewritten = (await writer()).fixups - before;
    expect(rewritten).toBeGreaterThanOrEqual(children.length);
    expect(rewritten).toBeLessThanOrEqual(children.length * versions.length);
    expect((await writer()).deadLettered).toBe(0);
  });
});
