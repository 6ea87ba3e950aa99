// The response list (GET /v1/responses) on the in-process ClickHouse engine at N spans: the first
// page newest first, unfiltered and with typical filters, the next page, the exact count and the
// facets, each repeated, p50 and p95 (after two warm-up runs).
//
// Spans are written through the span store adapter (ClickHouseSpanStore: the same rows, tables
// and materialized views ingest writes), made in JavaScript rather than decoded from OTLP. Agent
// traces of 4 spans spread over the last 7 days, oldest first as they would arrive, in batches
// of 20,000: an invoke_agent root with the prompt version, alias, datasets and conversation (in
// ops-agent it names its model itself, as agent frameworks do); two model calls with a response
// id (none in one app of four, which sends no response ids: its model calls are the responses);
// a tool call. 4 apps, 5 prompts × 5 versions, 3 models of 2 providers, 4 datasets, 2 % errors;
// a second project holds a tenth of the traces; 1 % of the traces get a lineage fixup (a late
// parent), which writes second revisions of their spans.
//
// --schema-before loads the same spans into the schema before the response list (migrations 1–3,
// rows written as the span store wrote them then) and stops there: the load time to compare with.
//
//   node --conditions=@promptline/source bench/response-list.ts --spans 1000000 [--runs 20] [--keep DIR] [--schema-before]
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ResolvedLineage } from '../src/domain/lineage.ts';
import type { DecodedSpan } from '../src/domain/span.ts';
import type { LineageFixup, ResolvedSpan } from '../src/domain/stored-span.ts';
import { OWN_APP, OWN_CONVERSATION, OWN_DATASETS, OWN_MODEL, OWN_PROMPT } from '../src/domain/stored-span.ts';
import { ChdbExecutor } from '../src/storage/clickhouse/chdb-executor.ts';
import { ClickHouseSpanAnalytics } from '../src/storage/clickhouse/clickhouse-span-analytics.ts';
import { ClickHouseSpanStore } from '../src/storage/clickhouse/clickhouse-span-store.ts';
import { migrate, MIGRATIONS } from '../src/storage/clickhouse/migrations.ts';
import { encodeSpanRowsSliced, SPAN_COLUMNS, SPAN_ROWS_FORMAT } from '../src/storage/clickhouse/span-rows.ts';
import type { ResponseFilter } from '../src/storage/response-list.ts';
import { removeDir, tempDataDir } from '../test/helpers/server.ts';

const { values: args } = parseArgs({ options: { spans: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '20' }, keep: { type: 'string' }, 'schema-before': { type: 'boolean', default: false } } });
const BEFORE = args['schema-before'];
const SPANS = Number(args.spans);
const RUNS = Number(args.runs);
const BATCH = 20_000;
const SPANS_PER_TRACE = 4;
const DAYS = 7;

const APPS = [
  { name: 'support-bot', version: '1.4.0', responseIds: true, agentModel: false },
  { name: 'support-bot', version: '1.5.0', responseIds: true, agentModel: false },
  { name: 'ops-agent', version: '0.9.0', responseIds: true, agentModel: true },
  { name: 'notes-app', version: '2.1.0', responseIds: false, agentModel: false },
];
const PROMPTS = ['support-answer', 'triage', 'summarize', 'escalate', 'classify'];
const MODELS = [
  { provider: 'openai', name: 'gpt-4o' },
  { provider: 'openai', name: 'gpt-4.1-mini' },
  { provider: 'anthropic', name: 'claude-sonnet-4' },
];
const DATASETS = ['kb-2026-10', 'faq-v3', 'returns', 'catalog'];

/** A seeded PRNG (mulberry32): the same data every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(7);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const loadBefore = loadavg().map((l) => +l.toFixed(2));
const dir = args.keep ?? tempDataDir('bench-responses-');
const exec = new ChdbExecutor(join(dir, 'clickhouse'));
const store = new ClickHouseSpanStore(exec);
const analytics = new ClickHouseSpanAnalytics(exec);
if (BEFORE) await migrate(exec, MIGRATIONS.filter((m) => m.version < 4));
else await store.migrate();

const end = Date.now();
const start = end - DAYS * 86_400_000;
const traces = Math.floor(SPANS / SPANS_PER_TRACE);
const msPerTrace = (end - start) / traces;
const resources = new Map(APPS.map((a) => [a, { attributes: new Map<string, string>([['service.name', a.name], ['service.version', a.version]]) }]));
const scope = { name: '@promptline/instrumentation', version: '0.1.0' };

interface Made {
  project: string;
  spans: ResolvedSpan[];
  fixups: LineageFixup[];
}

/** One agent trace: root, two model calls, a tool call. */
function trace(i: number, out: Made[]): void {
  const project = i % 10 === 9 ? 'other' : 'default';
  const app = pick(APPS);
  const prompt = { name: pick(PROMPTS), version: String(1 + Math.floor(random() * 5)), alias: random() < 0.7 ? 'production' : '', templateHash: '' };
  const model = pick(MODELS);
  const datasets = DATASETS.filter(() => random() < 0.3);
  const conversation = `conv-${Math.floor(random() * 20_000)}`;
  const traceId = hex(16);
  const rootId = hex(8);
  const t0 = BigInt(Math.floor(start + i * msPerTrace)) * 1_000_000n;
  const appRef = { name: app.name, version: app.version };
  const resolved = (own: Partial<ResolvedLineage>): ResolvedLineage => ({ prompt, promptSpanId: rootId, model: app.agentModel ? model : null, responseId: '', datasetIds: datasets, app: appRef, conversationId: conversation, ...own });
  const span = (spanId: string, parent: string, name: string, kind: number, offsetMs: number, durationMs: number, attributes: Array<[string, string]>, error: boolean): DecodedSpan => ({
    traceId, spanId, parentSpanId: parent, traceState: '', name, kind,
    startTimeUnixNano: t0 + BigInt(offsetMs) * 1_000_000n,
    endTimeUnixNano: t0 + BigInt(offsetMs + durationMs) * 1_000_000n,
    attributes: new Map(attributes), events: [], links: [],
    statusCode: error ? 2 : 0, statusMessage: error ? 'upstream timeout' : '',
    resource: resources.get(app)!, scope,
  });
  const spans: ResolvedSpan[] = [];
  const rootAttrs: Array<[string, string]> = [['gen_ai.operation.name', 'invoke_agent'], ['gen_ai.prompt.name', prompt.name], ['gen_ai.prompt.version', prompt.version], ['gen_ai.conversation.id', conversation]];
  if (app.agentModel) rootAttrs.push(['gen_ai.request.model', model.name], ['gen_ai.provider.name', model.provider]);
  const rootOwn = { prompt, model: app.agentModel ? model : null, responseId: '', datasetIds: datasets, app: appRef, conversationId: conversation, evaluation: null };
  spans.push({
    span: span(rootId, '', `invoke_agent ${app.name}`, 1, 0, 2400, rootAttrs, random() < 0.02),
    own: rootOwn,
    resolved: resolved({}),
    ownMask: OWN_PROMPT | OWN_DATASETS | OWN_CONVERSATION | OWN_APP | (app.agentModel ? OWN_MODEL : 0),
    revision: 0,
    registration: 'unregistered',
  });
  for (let c = 0; c < 2; c++) {
    const responseId = app.responseIds ? `chatcmpl-${hex(10)}` : '';
    const attrs: Array<[string, string]> = [['gen_ai.operation.name', 'chat'], ['gen_ai.provider.name', model.provider], ['gen_ai.request.model', model.name], ['gen_ai.usage.input_tokens', String(700 + Math.floor(random() * 300))], ['gen_ai.usage.output_tokens', String(80 + Math.floor(random() * 200))]];
    if (responseId) attrs.push(['gen_ai.response.id', responseId]);
    spans.push({
      span: span(hex(8), rootId, `chat ${model.name}`, 3, 100 + c * 1100, 900, attrs, random() < 0.02),
      own: { prompt: null, model, responseId, datasetIds: [], app: appRef, conversationId: '', evaluation: null },
      resolved: resolved({ model, responseId }),
      ownMask: OWN_MODEL | OWN_APP,
      revision: 0,
      registration: 'unregistered',
    });
  }
  spans.push({
    span: span(hex(8), rootId, 'execute_tool lookup_order', 1, 1050, 40, [['gen_ai.operation.name', 'execute_tool'], ['gen_ai.tool.name', 'lookup_order']], false),
    own: { prompt: null, model: null, responseId: '', datasetIds: [], app: appRef, conversationId: '', evaluation: null },
    resolved: resolved({}),
    ownMask: OWN_APP,
    revision: 0,
    registration: 'unregistered',
  });
  // A late parent: the model calls' inherited lineage is written again, as revision 1.
  const fixups: LineageFixup[] =
    i % 100 === 42
      ? spans.slice(1, 3).map((s) => ({ traceId, spanId: s.span.spanId, resolved: { ...s.resolved, conversationId: `${conversation}-late` }, ownMask: s.ownMask, revision: 1, startMs: Number(s.span.startTimeUnixNano / 1_000_000n), registration: 'unregistered' }))
      : [];
  let bucket = out.find((m) => m.project === project);
  if (!bucket) out.push((bucket = { project, spans: [], fixups: [] }));
  bucket.spans.push(...spans);
  bucket.fixups.push(...fixups);
}

const t0 = performance.now();
const phases = { generate: 0, encode: 0, insert: 0, fixups: 0 };
const timed = async <T>(phase: keyof typeof phases, fn: () => Promise<T> | T): Promise<T> => {
  const s = performance.now();
  const r = await fn();
  phases[phase] += performance.now() - s;
  return r;
};
let written = 0;
for (let i = 0, batch = 0; i < traces; batch++) {
  const made: Made[] = [];
  await timed('generate', () => {
    for (let n = 0; n < BATCH / SPANS_PER_TRACE && i < traces; n++, i++) trace(i, made);
  });
  for (const m of made) {
    if (BEFORE) {
      const rows = await timed('encode', () => encodeSpanRowsSliced(m.project, m.spans));
      await timed('insert', () => exec.insertJsonEachRow('otel_traces', rows, { dedupToken: `bench-${batch}-${m.project}`, settings: { throw_on_max_partitions_per_insert_block: 0 }, format: SPAN_ROWS_FORMAT, columns: SPAN_COLUMNS }));
    } else {
      const staged = await timed('encode', () => store.stageSpans(m.project, m.spans));
      await timed('insert', () => staged.write(`bench-${batch}-${m.project}`));
    }
    // Before the response list, the fixups of model calls without a response id are left out (the store would exclude them again in a table not there).
    await timed('fixups', () => store.applyFixups(m.project, BEFORE ? m.fixups.filter((f) => f.resolved.responseId) : m.fixups));
    written += m.spans.length;
  }
  if (batch % 50 === 49) console.error(`${written.toLocaleString('en-US')} spans written, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
const loadSeconds = (performance.now() - t0) / 1000;

const [shape] = await exec.query<{ parts: string; rows: string; listParts: string }>(
  `SELECT (SELECT count() FROM system.parts WHERE active AND table = 'otel_traces') AS parts,
          (SELECT count() FROM otel_traces) AS rows,
          (SELECT count() FROM system.parts WHERE active AND table = 'promptline_response_list') AS listParts`,
);

const window = { from: new Date(end - DAYS * 86_400_000), to: new Date(end + 3_600_000) };
const cases: Array<{ name: string; filter: ResponseFilter }> = [
  { name: 'unfiltered', filter: { ...window } },
  { name: 'app=support-bot', filter: { ...window, app: 'support-bot' } },
  { name: 'prompt=triage&version=3', filter: { ...window, prompt: 'triage', version: '3' } },
  { name: 'model=claude-sonnet-4&status=error', filter: { ...window, model: 'claude-sonnet-4', status: 'error' } },
];

function percentiles(times: number[]) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)) };
}

async function time<T>(fn: () => Promise<T>): Promise<{ p50: number; p95: number; last: T }> {
  const times: number[] = [];
  let last!: T;
  for (let i = 0; i < RUNS + 2; i++) {
    const s = performance.now();
    last = await fn();
    if (i >= 2) times.push(performance.now() - s);
  }
  return { ...percentiles(times), last };
}

const results: Array<Record<string, unknown>> = [];
for (const c of BEFORE ? [] : cases) {
  const page = await time(() => analytics.listResponses('default', c.filter, { limit: 51, after: null }));
  const last = page.last.at(-2);
  const next = last ? await time(() => analytics.listResponses('default', c.filter, { limit: 51, after: { timestamp: last.timestamp, traceId: last.traceId, spanId: last.spanId } })) : null;
  const count = await time(() => analytics.countResponses('default', c.filter));
  // What GET /v1/responses waits for: the page and the count, in parallel.
  const answer = await time(() => Promise.all([analytics.listResponses('default', c.filter, { limit: 51, after: null }), analytics.countResponses('default', c.filter)]));
  const facets = await time(() => analytics.responseFacets('default', c.filter, 50));
  const row = { case: c.name, firstPage: { p50: page.p50, p95: page.p95 }, nextPage: next && { p50: next.p50, p95: next.p95 }, count: { p50: count.p50, p95: count.p95 }, pageAndCount: { p50: answer.p50, p95: answer.p95 }, facets: { p50: facets.p50, p95: facets.p95 }, matching: count.last };
  results.push(row);
  console.error(JSON.stringify(row));
}

await exec.close();
if (!args.keep) removeDir(dir);
console.log(
  JSON.stringify(
    {
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), loadBefore },
      command: `node --conditions=@promptline/source bench/response-list.ts --spans ${SPANS} --runs ${RUNS}${BEFORE ? ' --schema-before' : ''}`,
      spans: written,
      storedRows: Number(shape?.rows ?? 0),
      parts: Number(shape?.parts ?? 0),
      schema: BEFORE ? 'before the response list (migrations 1-3)' : 'with the response list (migration 4)',
      responseListParts: Number(shape?.listParts ?? 0),
      loadSeconds: +loadSeconds.toFixed(1),
      loadPhasesSeconds: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, +(v / 1000).toFixed(1)])),
      runs: RUNS,
      results,
    },
    null,
    2,
  ),
);
