import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Comparing two prompt versions, evaluation results carried on spans, and the compliance report
// for a response — through the HTTP API of a real server.

describe('comparing versions, evaluations on spans, and compliance reports', () => {
  let server: ServerUnderTest;
  const tag = randomBytes(3).toString('hex');
  const prompt = `answer-${tag}`;
  const kv = (key: string, value: string | number) => (typeof value === 'number' ? { key, value: { intValue: String(value) } } : { key, value: { stringValue: value } });
  const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
  };

  /** One response of `version`: an error when `error`, with a latency, tokens and an evaluation event. */
  function response(i: number, version: number, opts: { error: boolean; latencyMs: number; score: number }) {
    const traceId = randomBytes(16).toString('hex');
    const t = Date.now() + i; // after the alias move made in beforeAll
    return {
      resource: { attributes: [kv('service.name', 'support-bot'), kv('service.version', '2.0.0')] },
      scopeSpans: [
        {
          spans: [
            {
              traceId, spanId: randomBytes(8).toString('hex'), name: 'chat', kind: 3, startTimeUnixNano: ns(t), endTimeUnixNano: ns(t + opts.latencyMs),
              status: opts.error ? { code: 2, message: 'upstream timeout' } : { code: 1 },
              attributes: [kv('gen_ai.prompt.name', prompt), kv('gen_ai.prompt.version', version), kv('promptline.prompt.alias', 'production'), kv('gen_ai.response.id', `r-${tag}-${version}-${i}`), kv('gen_ai.response.model', 'gpt-4o'), kv('gen_ai.usage.input_tokens', 100), kv('gen_ai.usage.output_tokens', 20), kv('gen_ai.data_source.id', `kb-${tag}`)],
              events: [{ timeUnixNano: ns(t + opts.latencyMs), name: 'gen_ai.evaluation.result', attributes: [kv('gen_ai.evaluation.name', 'helpfulness'), { key: 'gen_ai.evaluation.score.value', value: { doubleValue: opts.score } }, kv('promptline.evaluation.run.id', `online-${tag}`)] }],
            },
          ],
        },
      ],
    };
  }

  beforeAll(async () => {
    server = await startServer();
    for (const v of [1, 2]) expect((await call('POST', `/v1/prompts/${prompt}/versions`, { template: `v${v}: {{q}}`, commitMessage: v === 1 ? 'first' : 'clearer instructions' })).status).toBe(201);
    await new Promise((r) => setTimeout(r, 20));
    expect((await call('PUT', `/v1/prompts/${prompt}/aliases/production`, { version: 2, reason: 'roll out clearer instructions' })).status).toBe(200);
    // Version 1: 30 % errors, slow, lower scores. Version 2: 3 % errors, faster, higher scores.
    const resourceSpans = [];
    for (let i = 0; i < 200; i++) resourceSpans.push(response(i, 1, { error: i % 10 < 3, latencyMs: 900 + (i % 7) * 10, score: 0.5 + (i % 5) * 0.05 }));
    for (let i = 0; i < 200; i++) resourceSpans.push(response(1000 + i, 2, { error: i % 33 === 0, latencyMs: 600 + (i % 7) * 10, score: 0.7 + (i % 5) * 0.05 }));
    expect((await call('POST', '/v1/traces', { resourceSpans })).status).toBe(200);
    await eventually(async () => {
      const r = await call('GET', '/readyz');
      return r.body.writer.queuedRecords === 0 && r.body.spool.pendingRecords === 0 ? true : undefined;
    }, 'ingest');
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('compares two versions with intervals and says which is better and how sure', async () => {
    const r = await call('GET', `/v1/prompts/${prompt}/compare?a=1&b=2`);
    expect(r.status).toBe(200);
    const c = r.body;
    expect(c.a).toMatchObject({ version: 1, responses: 200, errorRate: { value: 0.3 } });
    expect(c.b.responses).toBe(200);
    expect(c.b.errorRate.value).toBeCloseTo(7 / 200, 5);
    expect(c.a.errorRate.ci95[0]).toBeLessThan(0.3);
    expect(c.a.errorRate.ci95[1]).toBeGreaterThan(0.3);
    expect(c.a.latencyMs.p50).toBeGreaterThan(c.b.latencyMs.p50);
    expect(c.a.tokens).toMatchObject({ input: 20000, output: 4000, meanTotal: 120 });
    expect(c.a.scores[0]).toMatchObject({ scorer: 'helpfulness', n: 200 });
    expect(c.a.scores[0].mean).toBeCloseTo(0.6, 5);
    expect(c.b.scores[0].mean).toBeCloseTo(0.8, 5);
    expect(c.verdicts.find((v: { metric: string }) => v.metric === 'errorRate')).toMatchObject({ better: 'b' });
    expect(c.verdicts.find((v: { metric: string }) => v.metric === 'score:helpfulness')).toMatchObject({ better: 'b' });
    expect(c.overall.better).toBe('b');
    expect(c.overall.confidence).toBeGreaterThan(0.99);
  });

  it('does not call a version better on no difference', async () => {
    const same = await call('GET', `/v1/prompts/${prompt}/compare?a=2&b=2`);
    expect(same.body.overall.better).toBeNull();
    expect((await call('GET', `/v1/prompts/${prompt}/compare?a=1&b=9`)).status).toBe(404);
  });

  it('takes evaluation results carried by span events into the impact answer', async () => {
    const impact = await call('GET', `/v1/impact?prompt=${prompt}&version=2`);
    expect(impact.body.evaluations).toEqual([expect.objectContaining({ runId: `online-${tag}`, scorer: 'helpfulness', results: 200, datasets: [`kb-${tag}`] })]);
  });

  it('writes a compliance report for a response in json, markdown and html, with a content hash anyone can check', async () => {
    const responseId = `r-${tag}-2-1005`;
    const json = await call('GET', `/v1/reports/compliance?response_id=${responseId}`);
    expect(json.status).toBe(200);
    const report = json.body;
    const { contentHash, ...rest } = report;
    const canonical = (v: unknown): string =>
      Array.isArray(v) ? `[${v.map(canonical).join(',')}]` : v !== null && typeof v === 'object' ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}` : JSON.stringify(v);
    expect(createHash('sha256').update(canonical(rest)).digest('hex')).toBe(contentHash);
    expect(json.headers.get('x-content-hash')).toBe(contentHash);
    const headings = report.sections.map((s: { heading: string }) => s.heading);
    expect(headings).toEqual(['Response', 'Trace', 'App version', 'Prompt version', 'Alias "production" at the time of the response', 'Datasets', 'Evaluation evidence', 'Model']);
    const promptSection = report.sections[3];
    expect(promptSection.facts).toEqual(expect.arrayContaining([['Commit message', 'clearer instructions'], ['Author', 'local development (no auth)'], ['Registry', 'registered']]));
    expect(report.sections[4].facts[0]).toEqual(['Pointed to', 'v2']);
    expect(report.sections[6].tables[0].rows).toEqual([[`online-${tag}`, 'helpfulness', expect.any(String), '—']]);
    expect(report.auditEntries.map((e: { action: string }) => e.action)).toEqual(['registered prompt version', 'moved alias production']);

    const md = await call('GET', `/v1/reports/compliance?response_id=${responseId}&format=markdown`);
    expect(md.headers.get('content-type')).toMatch(/text\/markdown/);
    expect(md.text).toContain(`# Decision chain for response ${responseId}`);
    expect(md.text).toContain('| Commit message | clearer instructions |');
    const html = await call('GET', `/v1/reports/compliance?response_id=${responseId}&format=html`);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(html.text).toMatch(/^<!doctype html>/);
    expect(html.text).toContain('@media print');
    expect(html.text).not.toMatch(/<(script|link|img)\b|src=|href=/); // self-contained
  });

  it('writes reports for a prompt version and an app version, and refuses an unknown subject', async () => {
    const pv = await call('GET', `/v1/reports/compliance?prompt=${prompt}&version=2&format=json`);
    expect(pv.body.title).toBe(`Decision record for prompt ${prompt} version 2`);
    expect(pv.body.sections[2].facts[0]).toEqual(['Responses', '200']);
    const app = await call('GET', '/v1/reports/compliance?app=support-bot&app_version=2.0.0');
    expect(app.status).toBe(200);
    expect((await call('GET', '/v1/reports/compliance?response_id=never')).status).toBe(404);
    expect((await call('GET', '/v1/reports/compliance')).status).toBe(400);
  });
});
