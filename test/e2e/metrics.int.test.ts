import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawGrpcExporter, type RawGrpcExporter } from '../helpers/grpc.ts';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { exportRequest, jsonSpan, llmCall, postJson, postProtobuf, str, toProtobuf, uniqueId } from '../helpers/otlp-payloads.ts';
import { eventually, removeDir, type ServerUnderTest } from '../helpers/server.ts';

// GET /metrics on a real `promptline serve`, read with a Prometheus text-format parser: the
// counters move by exactly what was sent over OTLP/HTTP and OTLP/gRPC, refusals and failed keys
// are counted by reason, API latency is labelled by the declared route, and only a key whose role
// may read metrics reads them.

let server: ServerUnderTest;
let admin: string;
const keys: Record<'metrics' | 'ingest' | 'read', string> = { metrics: '', ingest: '', read: '' };
let grpc: RawGrpcExporter;

beforeAll(async () => {
  ({ server, admin } = await startServerWithAdmin());
  for (const role of ['metrics', 'ingest', 'read'] as const) {
    const res = await fetch(`${server.url}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ role, name: `metrics test ${role}` }) });
    expect(res.status).toBe(201);
    keys[role] = ((await res.json()) as { key: string }).key;
  }
  grpc = rawGrpcExporter(server.grpcAddress);
}, 120_000);

afterAll(async () => {
  grpc?.close();
  if (!server) return;
  const code = await server.stop();
  removeDir(server.dataDir);
  expect(code).toBe(0);
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** One scrape: the exposition as text, and parsed. */
interface Scrape {
  text: string;
  families: PrometheusFamily[];
}

async function scrape(key = keys.metrics): Promise<Scrape> {
  const res = await fetch(`${server.url}/metrics`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, families: parsePrometheusTextFormat(text) };
}

const matches = (labels: Record<string, string> | undefined, want: Record<string, string>) => Object.entries(want).every(([k, v]) => labels?.[k] === v);

/** The sum of a counter's or gauge's samples whose labels include `labels`; 0 when there are none. */
function value({ families }: Scrape, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  return (family?.metrics ?? []).filter((m) => matches(m.labels, labels)).reduce((sum, m) => sum + Number(m.value), 0);
}

/**
 * A histogram's observation count over the series whose labels include `labels`. The parser folds
 * the series of a labelled histogram into one, so its `_count` samples are read as a counter of their own.
 */
function observations({ text }: Scrape, name: string, labels: Record<string, string>): number {
  const counts = text.split('\n').filter((line) => line.startsWith(`${name}_count{`));
  return value({ text, families: parsePrometheusTextFormat(`# TYPE ${name}_count counter\n${counts.join('\n')}\n`) }, `${name}_count`, labels);
}

/** The values a histogram's series take for one label. */
function labelValues({ text }: Scrape, name: string, label: string): string[] {
  const counts = text.split('\n').filter((line) => line.startsWith(`${name}_count{`));
  const family = parsePrometheusTextFormat(`# TYPE ${name}_count counter\n${counts.join('\n')}\n`)[0];
  return (family?.metrics ?? []).map((m) => m.labels?.[label] ?? '');
}

describe('GET /metrics', () => {
  it('is Prometheus text with the service, spool, writer and process figures', async () => {
    const { families } = await scrape();
    const names = new Set(families.map((f) => f.name));
    for (const name of [
      'promptline_spans_received_total',
      'promptline_spans_acknowledged_total',
      'promptline_spans_refused_total',
      'promptline_otlp_requests_refused_total',
      'promptline_spans_stored_total',
      'promptline_spool_bytes',
      'promptline_spool_records',
      'promptline_writer_lag_seconds',
      'promptline_dead_letters_total',
      'promptline_store_call_duration_seconds',
      'promptline_store_call_failures_total',
      'promptline_http_request_duration_seconds',
      'promptline_auth_failures_total',
      'promptline_rate_limited_total',
      'promptline_process_cpu_user_seconds_total',
    ]) {
      expect(names, name).toContain(name);
    }
    expect(families.find((f) => f.name === 'promptline_spool_bytes')?.type).toBe('GAUGE');
    expect(families.find((f) => f.name === 'promptline_spans_stored_total')?.type).toBe('COUNTER');
  });

  it('counts spans received, acknowledged and stored by exactly what was sent over OTLP/HTTP and OTLP/gRPC', async () => {
    const before = await scrape();
    const json = exportRequest([llmCall().span, llmCall().span, llmCall().span]);
    expect((await postJson(server.url, json, bearer(keys.ingest))).status).toBe(200);
    const protobuf = toProtobuf(exportRequest([llmCall().span, llmCall().span]));
    expect((await postProtobuf(server.url, protobuf, bearer(keys.ingest))).status).toBe(200);
    const overGrpc = await grpc.export(toProtobuf(exportRequest([llmCall().span, llmCall().span, llmCall().span, llmCall().span])), bearer(keys.ingest));
    expect(overGrpc).toMatchObject({ ok: true, rejectedSpans: 0 });

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(moved('promptline_spans_received_total', { transport: 'http' })).toBe(5);
    expect(moved('promptline_spans_acknowledged_total', { transport: 'http' })).toBe(5);
    expect(moved('promptline_spans_received_total', { transport: 'grpc' })).toBe(4);
    expect(moved('promptline_spans_acknowledged_total', { transport: 'grpc' })).toBe(4);
    const stored = value(before, 'promptline_spans_stored_total') + 9;
    const caughtUp = await eventually(async () => {
      const now = await scrape();
      return value(now, 'promptline_spans_stored_total') >= stored ? now : undefined;
    }, 'the writer to store the spans');
    expect(value(caughtUp, 'promptline_spans_stored_total')).toBe(stored);
    expect(observations(caughtUp, 'promptline_store_call_duration_seconds', { store: 'spans', operation: 'insert' })).toBeGreaterThan(0);
    expect(observations(caughtUp, 'promptline_store_call_duration_seconds', { store: 'graph', operation: 'record_edges' })).toBeGreaterThan(0);
  });

  it('counts a span refused alone as invalid_span, and its good neighbour as acknowledged', async () => {
    const before = await scrape();
    const bad = jsonSpan({ traceId: 'abcdef', attributes: [str('gen_ai.response.id', uniqueId('bad'))] });
    const res = await postJson(server.url, exportRequest([llmCall().span, bad]), bearer(keys.ingest));
    expect(res.status).toBe(200);
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(moved('promptline_spans_received_total', { transport: 'http' })).toBe(2);
    expect(moved('promptline_spans_acknowledged_total', { transport: 'http' })).toBe(1);
    expect(moved('promptline_spans_refused_total', { transport: 'http', reason: 'invalid_span' })).toBe(1);
  });

  it('counts malformed exports as refused requests with reason malformed, over both transports', async () => {
    const before = await scrape();
    expect((await postJson(server.url, '{"resourceSpans": [', bearer(keys.ingest))).status).toBe(400);
    expect((await postProtobuf(server.url, Uint8Array.from([0x0a, 0xff, 0xff, 0xff]), bearer(keys.ingest))).status).toBe(400);
    expect(await grpc.export(Uint8Array.from([0x0a, 0xff, 0xff, 0xff]), bearer(keys.ingest))).toMatchObject({ ok: false });
    const after = await scrape();
    const moved = (labels: Record<string, string>) => value(after, 'promptline_otlp_requests_refused_total', labels) - value(before, 'promptline_otlp_requests_refused_total', labels);
    expect(moved({ transport: 'http', reason: 'malformed' })).toBe(2);
    expect(moved({ transport: 'grpc', reason: 'malformed' })).toBe(1);
    expect(value(after, 'promptline_spans_received_total') - value(before, 'promptline_spans_received_total')).toBe(0);
  });

  it('counts failed keys by reason, for the API and both receivers', async () => {
    const before = await scrape();
    const wrong = `pl_${'0'.repeat(16)}_${'x'.repeat(43)}`;
    expect((await fetch(`${server.url}/v1/audit`, { headers: bearer(wrong) })).status).toBe(401);
    expect((await fetch(`${server.url}/v1/audit`)).status).toBe(401);
    expect((await postJson(server.url, exportRequest([llmCall().span]), { authorization: 'Basic abc' })).status).toBe(401);
    expect(await grpc.export(toProtobuf(exportRequest([llmCall().span])), bearer(`${keys.ingest}x`))).toMatchObject({ ok: false });
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(moved('promptline_auth_failures_total', { reason: 'invalid_key' })).toBe(2);
    expect(moved('promptline_auth_failures_total', { reason: 'missing_key' })).toBe(1);
    expect(moved('promptline_auth_failures_total', { reason: 'malformed_header' })).toBe(1);
    expect(moved('promptline_otlp_requests_refused_total', { transport: 'http', reason: 'unauthenticated' })).toBe(1);
    expect(moved('promptline_otlp_requests_refused_total', { transport: 'grpc', reason: 'unauthenticated' })).toBe(1);
  });

  it('labels API latency by the declared route and status, never the raw URL', async () => {
    const name = uniqueId('metrics-probe');
    const before = await scrape();
    const res = await fetch(`${server.url}/v1/prompts/${name}/versions`, { headers: bearer(keys.read) });
    const status = String(res.status);
    expect((await fetch(`${server.url}/no/such/${name}`, { headers: bearer(keys.read) })).status).toBe(404);
    const after = await scrape();
    const route = { method: 'GET', route: '/v1/prompts/{name}/versions', status };
    const seconds = 'promptline_http_request_duration_seconds';
    expect(observations(after, seconds, route) - observations(before, seconds, route)).toBe(1);
    const unmatched = { method: 'GET', route: 'unmatched', status: '404' };
    expect(observations(after, seconds, unmatched) - observations(before, seconds, unmatched)).toBe(1);
    const routes = labelValues(after, seconds, 'route');
    expect(routes.filter((r) => r.includes(name))).toEqual([]);
    expect(routes).toContain('/metrics');
  });

  it('is read with a metrics or admin key only; a metrics key reads nothing else', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: bearer(keys.read) })).status).toBe(403);
    expect((await fetch(`${server.url}/metrics`, { headers: bearer(keys.ingest) })).status).toBe(403);
    expect((await fetch(`${server.url}/metrics`, { headers: bearer(admin) })).status).toBe(200);
    for (const path of ['/v1/audit', '/v1/keys', '/v1/responses', `/v1/prompts/${uniqueId('p')}/versions`]) {
      expect((await fetch(`${server.url}${path}`, { headers: bearer(keys.metrics) })).status, path).toBe(403);
    }
    expect((await postJson(server.url, exportRequest([llmCall().span]), bearer(keys.metrics))).status).toBe(403);
  });
});
