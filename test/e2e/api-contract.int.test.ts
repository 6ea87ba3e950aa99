import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provenanceAnswer, readyAnswer, traceAnswer, errorAnswer } from '../../src/api/schemas.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';
import { newSpanId, newTraceId } from '../helpers/factories.ts';

// The OpenAPI document is a valid OpenAPI 3.1 document, and what the server answers matches the
// schemas it was generated from.

describe('the API answers as its OpenAPI document says', () => {
  let server: ServerUnderTest;
  const traceId = newTraceId();
  const stepId = newSpanId();
  const llmId = newSpanId();
  const responseId = `chatcmpl-${traceId.slice(0, 10)}`;

  beforeAll(async () => {
    server = await startServer();
    const now = (BigInt(Date.now()) * 1_000_000n).toString();
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'support-bot' } }, { key: 'service.version', value: { stringValue: '1.4.2' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId, spanId: stepId, name: 'agent.step', kind: 1, startTimeUnixNano: now, endTimeUnixNano: now,
                  attributes: [
                    { key: 'gen_ai.prompt.name', value: { stringValue: 'support-answer' } },
                    { key: 'gen_ai.prompt.version', value: { intValue: '3' } },
                    { key: 'promptline.dataset.ids', value: { arrayValue: { values: [{ stringValue: 'kb-1' }] } } },
                  ],
                },
                {
                  traceId, spanId: llmId, parentSpanId: stepId, name: 'chat gpt-4o', kind: 3, startTimeUnixNano: now, endTimeUnixNano: now,
                  attributes: [
                    { key: 'gen_ai.response.model', value: { stringValue: 'gpt-4o' } },
                    { key: 'gen_ai.response.id', value: { stringValue: responseId } },
                  ],
                  events: [{ timeUnixNano: now, name: 'gen_ai.choice', attributes: [{ key: 'index', value: { intValue: 0 } }] }],
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    await eventually(() => provenance(server.url, { response_id: responseId }), 'the response to be written');
  });

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('serves a valid OpenAPI 3.1 document covering every route', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/openapi.json', '/readyz', '/v1/provenance', '/v1/traces', '/v1/traces/{traceId}', '/v1/prompts', '/v1/prompts/{name}/versions', '/v1/prompts/{name}/aliases/{alias}', '/v1/prompts/{name}/aliases/{alias}/history']));
  });

  it('answers provenance by response, span and trace in the documented shape', async () => {
    const byResponse = provenanceAnswer.parse(await provenance(server.url, { response_id: responseId }));
    expect(byResponse).toMatchObject({ spanId: llmId, prompt: { name: 'support-answer', version: 3 }, datasets: [{ id: 'kb-1' }] });
    const bySpan = provenanceAnswer.parse(await provenance(server.url, { span_id: llmId.toUpperCase() }));
    expect(bySpan.responseId).toBe(responseId);
    const byTrace = provenanceAnswer.parse(await provenance(server.url, { trace_id: traceId }));
    expect(byTrace.spanId).toBe(llmId);
    expect(byTrace.spans?.map((s) => s.spanId).sort()).toEqual([stepId, llmId].sort());
  });

  it('answers a trace in the documented shape', async () => {
    const res = await fetch(`${server.url}/v1/traces/${traceId}`);
    const trace = traceAnswer.parse(await res.json());
    expect(trace.spans).toHaveLength(2);
    expect(trace.spans.find((s) => s.spanId === llmId)!.events[0]).toMatchObject({ name: 'gen_ai.choice', attributes: { index: '0' } });
  });

  it('answers readiness in the documented shape', async () => {
    // The writer counts a batch once the graph has it too, a moment after the span store.
    const ready = await eventually(async () => {
      const r = readyAnswer.parse(await (await fetch(`${server.url}/readyz`)).json());
      return (r.writer?.writtenSpans ?? 0) >= 2 ? r : undefined; // details: with auth off the caller is an instance admin
    }, 'the writer to count the spans');
    expect(ready.status).toBe('ready');
    expect(ready.spool?.pendingRecords).toBe(0);
  });

  it('answers errors as { error: { code, message } } with the right status', async () => {
    const cases: Array<[string, number]> = [
      ['/v1/provenance', 400],
      ['/v1/provenance?trace_id=xyz', 400],
      [`/v1/provenance?response_id=a&span_id=${llmId}`, 400],
      ['/v1/provenance?response_id=never-seen', 404],
      ['/v1/traces/not-a-trace-id', 400],
      [`/v1/traces/${newTraceId()}`, 404],
      ['/v1/nothing-here', 404],
    ];
    for (const [path, status] of cases) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(status);
      const body = errorAnswer.parse(await res.json());
      expect(body.error.message.length, path).toBeGreaterThan(5);
    }
  });
});
