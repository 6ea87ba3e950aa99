import { createHash, randomUUID } from 'node:crypto';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { context, SpanKind, trace, type Span } from '@opentelemetry/api';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';
import { registerOtelGlobals, withTracing, type OtlpEncoding, type Tracing } from '../helpers/otel.ts';

// Real OpenTelemetry SDK spans, exported over real OTLP/HTTP (protobuf and JSON) to a real
// `promptline serve`, for every attribute convention the collector reads lineage from; then the
// provenance API must name the prompt version, model and app behind each response.

// The same tests run on the embedded stores and with the lineage graph on a real Neo4j server.
const neo4jSetting = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'the embedded stores', env: {} }];
if (neo4jSetting.settings) {
  const n = neo4jSetting.settings;
  backends.push({ backend: 'Neo4j for the lineage graph', env: { NEO4J_URL: n.url, NEO4J_USER: n.user, NEO4J_PASSWORD: n.password } });
} else {
  describe('provenance with the lineage graph on Neo4j', () => {
    it.skip(`skipped: ${neo4jSetting.skipReason}`, () => {});
  });
}

let server: ServerUnderTest;
let unregisterOtel: () => void;

beforeAll(() => {
  unregisterOtel = registerOtelGlobals();
});

afterAll(() => {
  unregisterOtel?.();
});

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const unique = (prefix: string) => `${prefix}-${randomUUID()}`;

/** The provenance record, once the asynchronous writer has stored it. */
function provenanceOf(query: Record<string, string>) {
  return eventually(() => provenance(server.url, query), `provenance of ${JSON.stringify(query)}`);
}

/** The provenance record once it satisfies `ready` (a late parent rewrites a stored child). */
function provenanceWhen(query: Record<string, string>, ready: (p: any) => boolean, what: string) {
  return eventually(async () => {
    const p = await provenance(server.url, query);
    return p !== undefined && ready(p) ? p : undefined;
  }, what);
}

/** Lets other pending async work run (so concurrent agent runs really interleave). */
const yieldToOthers = () => new Promise<void>((resolve) => setImmediate(resolve));

const ids = (span: Span) => span.spanContext();

describe.each(backends)('on $backend', ({ env }) => {
beforeAll(async () => {
  server = await startServer({ env });
});

afterAll(async () => {
  if (server) {
    await server.stop();
    removeDir(server.dataDir);
  }
});

describe.each<{ encoding: OtlpEncoding }>([{ encoding: 'protobuf' }, { encoding: 'json' }])('OTLP/HTTP $encoding export', ({ encoding }) => {
  const tracing = (resource: Record<string, string> | undefined, fn: (t: Tracing) => Promise<void>) =>
    withTracing({ encoding, url: server.url, ...(resource ? { resource } : {}) }, fn);

  describe('reads lineage from each attribute convention', () => {
    it('OTel GenAI: gen_ai.prompt.*, response and request model, provider, conversation, and the agent as the app when the SDK names no service', async () => {
      const promptName = unique('support-answer');
      const responseId = unique('chatcmpl');
      const conversationId = unique('conv');
      // No resource: the SDK's default resource names the service "unknown_service:…".
      await tracing(undefined, async (t) => {
        const span = t.tracer.startSpan('chat gpt-4o', {
          kind: SpanKind.CLIENT,
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': 'gpt-4o',
            'gen_ai.response.model': 'gpt-4o-2024-08-06',
            'gen_ai.response.id': responseId,
            'gen_ai.prompt.name': promptName,
            'gen_ai.prompt.version': 3,
            'gen_ai.conversation.id': conversationId,
            'gen_ai.agent.name': 'support-bot',
            'gen_ai.agent.version': '2.4.1',
            'gen_ai.usage.input_tokens': 812,
            'gen_ai.usage.output_tokens': 95,
          },
        });
        span.end();
        await t.flush();

        const p = await provenanceOf({ response_id: responseId });
        expect(p).toMatchObject({
          responseId,
          traceId: ids(span).traceId,
          spanId: ids(span).spanId,
          spanName: 'chat gpt-4o',
          prompt: { name: promptName, version: 3, alias: null, templateHash: null, registered: false },
          promptSpanId: ids(span).spanId,
          model: { provider: 'openai', name: 'gpt-4o-2024-08-06' },
          datasets: [],
          app: { name: 'support-bot', version: '2.4.1' },
          conversationId,
        });

        // The premise of the app assertion: the span really carried the SDK's placeholder service name.
        const detail = (await (await fetch(`${server.url}/v1/traces/${ids(span).traceId}`)).json()) as { spans: Array<{ resourceAttributes: Record<string, string> }> };
        expect(detail.spans[0]?.resourceAttributes['service.name']).toMatch(/^unknown_service/);
      });
    });

    it('promptline.*: name, version, alias, template hash, response id and dataset ids, with the app from the resource', async () => {
      const promptName = unique('refund-policy');
      const responseId = unique('resp');
      const hash = sha256Hex(`You are a refunds assistant ${promptName}`);
      const datasets = [unique('golden-set'), unique('regression-set')];
      await tracing({ 'service.name': 'refunds-api', 'service.version': '1.8.0' }, async (t) => {
        const span = t.tracer.startSpan('llm.call', {
          kind: SpanKind.CLIENT,
          attributes: {
            'promptline.prompt.name': promptName,
            'promptline.prompt.version': '12',
            'promptline.prompt.alias': 'production',
            'promptline.prompt.hash': hash.toUpperCase(),
            'promptline.response.id': responseId,
            'promptline.dataset.ids': datasets,
            'gen_ai.request.model': 'claude-sonnet-4-5',
            'gen_ai.provider.name': 'anthropic',
          },
        });
        span.end();
        await t.flush();

        const p = await provenanceOf({ response_id: responseId });
        expect(p).toMatchObject({
          responseId,
          spanId: ids(span).spanId,
          prompt: { name: promptName, version: 12, alias: 'production', templateHash: hash },
          model: { provider: 'anthropic', name: 'claude-sonnet-4-5' },
          datasets: datasets.map((id) => ({ id })),
          app: { name: 'refunds-api', version: '1.8.0' },
        });
      });
    });

    it('OpenInference: the response id inside the output.value JSON, prompt.id, the template version and the sha256 of the template', async () => {
      const promptName = unique('triage');
      const responseId = unique('chatcmpl');
      const template = `Classify the ticket {ticket} for ${promptName} into one of {labels}.`;
      await tracing({ 'service.name': 'triage-service', 'service.version': '0.9.3' }, async (t) => {
        const span = t.tracer.startSpan('ChatCompletion', {
          attributes: {
            'openinference.span.kind': 'LLM',
            'llm.model_name': 'gpt-4o-mini',
            'llm.provider': 'openai',
            'llm.system': 'openai',
            'prompt.id': promptName,
            'llm.prompt_template.template': template,
            'llm.prompt_template.version': 'v4',
            'llm.prompt_template.variables': JSON.stringify({ ticket: 'printer on fire', labels: 'hw,sw' }),
            'input.value': JSON.stringify({ messages: [{ role: 'user', content: 'printer on fire' }] }),
            'input.mime_type': 'application/json',
            'output.value': JSON.stringify({
              id: responseId,
              object: 'chat.completion',
              model: 'gpt-4o-mini-2024-07-18',
              choices: [{ index: 0, message: { role: 'assistant', content: 'hw' }, finish_reason: 'stop' }],
            }),
            'output.mime_type': 'application/json',
          },
        });
        span.end();
        await t.flush();

        const p = await provenanceOf({ response_id: responseId });
        expect(p).toMatchObject({
          responseId,
          spanId: ids(span).spanId,
          prompt: { name: promptName, version: 4, templateHash: sha256Hex(template) },
          model: { provider: 'openai', name: 'gpt-4o-mini' },
          app: { name: 'triage-service', version: '0.9.3' },
        });
      });
    });

    it('Langfuse: a generation without a response id is found by its span id and by its trace id', async () => {
      const promptName = unique('summarize');
      await tracing({ 'service.name': 'digest-worker' }, async (t) => {
        const span = t.tracer.startSpan('summarize-thread', {
          attributes: {
            'langfuse.observation.type': 'generation',
            'langfuse.observation.prompt.name': promptName,
            'langfuse.observation.prompt.version': 7,
            'langfuse.observation.model.name': 'mistral-large-latest',
            'langfuse.release': 'digest-2025.11.2',
          },
        });
        span.end();
        await t.flush();

        const expected = {
          responseId: null,
          traceId: ids(span).traceId,
          spanId: ids(span).spanId,
          prompt: { name: promptName, version: 7 },
          promptSpanId: ids(span).spanId,
          // Langfuse names the model but not its provider.
          model: { provider: null, name: 'mistral-large-latest' },
          app: { name: 'digest-worker', version: 'digest-2025.11.2' },
        };
        expect(await provenanceOf({ span_id: ids(span).spanId })).toMatchObject(expected);
        const byTrace = await provenanceOf({ trace_id: ids(span).traceId });
        expect(byTrace).toMatchObject(expected);
        expect(byTrace.spans).toMatchObject([expected]);
      });
    });

    it('MLflow: the first entry of mlflow.linkedPrompts, mlflow.llm.model and mlflow.modelId as the app version', async () => {
      const promptName = unique('qa-prompt');
      await tracing({ 'service.name': 'mlflow-qa-agent' }, async (t) => {
        const span = t.tracer.startSpan('ChatOpenAI', {
          attributes: {
            'mlflow.spanType': '"CHAT_MODEL"',
            'mlflow.linkedPrompts': JSON.stringify([
              { name: promptName, version: '2' },
              { name: `${promptName}-fallback`, version: '9' },
            ]),
            'mlflow.llm.model': 'gpt-4.1',
            'mlflow.modelId': 'm-5a1c0e7d',
          },
        });
        span.end();
        await t.flush();

        const p = await provenanceOf({ span_id: ids(span).spanId });
        expect(p).toMatchObject({
          spanId: ids(span).spanId,
          prompt: { name: promptName, version: 2 },
          model: { name: 'gpt-4.1' },
          app: { name: 'mlflow-qa-agent', version: 'm-5a1c0e7d' },
        });
      });
    });

    it('Traceloop: traceloop.prompt.key and version, the sha256 of traceloop.prompt.template, and the gen_ai model, provider and response id', async () => {
      const promptName = unique('onboarding-email');
      const responseId = unique('chatcmpl');
      const template = `Write a welcome email for {{name}} (${promptName}).`;
      await tracing({ 'service.name': 'mailer', 'service.version': '5.0.0' }, async (t) => {
        const span = t.tracer.startSpan('openai.chat', {
          kind: SpanKind.CLIENT,
          attributes: {
            'llm.request.type': 'chat',
            'gen_ai.system': 'openai',
            'gen_ai.request.model': 'gpt-4o',
            'gen_ai.response.model': 'gpt-4o-2024-11-20',
            'gen_ai.response.id': responseId,
            'traceloop.prompt.managed': true,
            'traceloop.prompt.key': promptName,
            'traceloop.prompt.version': 5,
            'traceloop.prompt.version_hash': 'a1b2c3',
            'traceloop.prompt.template': template,
          },
        });
        span.end();
        await t.flush();

        const p = await provenanceOf({ response_id: responseId });
        expect(p).toMatchObject({
          responseId,
          spanId: ids(span).spanId,
          prompt: { name: promptName, version: 5, templateHash: sha256Hex(template) },
          model: { provider: 'openai', name: 'gpt-4o-2024-11-20' },
          app: { name: 'mailer', version: '5.0.0' },
        });
      });
    });

    it('Vercel AI SDK v7: the prompt on the ai.streamText ancestor, the response id and model on its ai.streamText.doStream child', async () => {
      const promptName = unique('shopping-assistant');
      const responseId = unique('resp');
      await tracing({ 'service.name': 'storefront', 'service.version': '3.2.0' }, async (t) => {
        let outer!: Span;
        let doStream!: Span;
        await t.tracer.startActiveSpan(
          'ai.streamText',
          {
            attributes: {
              'operation.name': 'ai.streamText',
              'ai.operationId': 'ai.streamText',
              'ai.model.provider': 'openai.responses',
              'ai.model.id': 'gpt-5-mini',
              'ai.settings.context.promptName': promptName,
              'ai.settings.context.promptVersion': '8',
            },
          },
          async (span) => {
            outer = span;
            await yieldToOthers();
            doStream = t.tracer.startSpan('ai.streamText.doStream', {
              attributes: {
                'operation.name': 'ai.streamText.doStream',
                'ai.operationId': 'ai.streamText.doStream',
                'ai.model.provider': 'openai.responses',
                'ai.model.id': 'gpt-5-mini',
              },
            });
            await yieldToOthers();
            doStream.setAttributes({ 'ai.response.id': responseId, 'ai.response.model': 'gpt-5-mini-2025-08-07', 'ai.response.finishReason': 'stop' });
            doStream.end();
            span.end();
          },
        );
        expect(ids(doStream).traceId).toBe(ids(outer).traceId);
        await t.flush();

        const p = await provenanceOf({ response_id: responseId });
        expect(p).toMatchObject({
          responseId,
          spanId: ids(doStream).spanId,
          spanName: 'ai.streamText.doStream',
          prompt: { name: promptName, version: 8 },
          promptSpanId: ids(outer).spanId,
          model: { provider: 'openai.responses', name: 'gpt-5-mini-2025-08-07' },
          app: { name: 'storefront', version: '3.2.0' },
        });

        // By trace id: the answer is the response (the doStream span), not the ai.streamText wrapper
        // that also names a model, even when both start in the same millisecond; both are listed.
        const byTrace = await provenanceOf({ trace_id: ids(outer).traceId });
        expect(byTrace).toMatchObject({ responseId, spanId: ids(doStream).spanId });
        const bySpan = new Map<string, any>(byTrace.spans.map((s: { spanId: string }) => [s.spanId, s]));
        expect([...bySpan.keys()].sort()).toEqual([ids(outer).spanId, ids(doStream).spanId].sort());
        expect(bySpan.get(ids(outer).spanId)).toMatchObject({ responseId: null, prompt: { name: promptName, version: 8 }, promptSpanId: ids(outer).spanId });
        expect(bySpan.get(ids(doStream).spanId)).toMatchObject({ responseId, prompt: { name: promptName, version: 8 }, promptSpanId: ids(outer).spanId });
      });
    });

    it('Vercel AI SDK v6: ai.telemetry.metadata.promptName and promptVersion on the generateText span, ai.response.* on doGenerate', async () => {
      const promptName = unique('faq');
      const responseId = unique('msg');
      await tracing({ 'service.name': 'docs-site', 'service.version': '2025.12.1' }, async (t) => {
        const outer = t.tracer.startSpan('ai.generateText', {
          attributes: {
            'ai.model.provider': 'anthropic.messages',
            'ai.model.id': 'claude-haiku-4-5',
            'ai.telemetry.metadata.promptName': promptName,
            'ai.telemetry.metadata.promptVersion': 6,
          },
        });
        const inner = t.tracer.startSpan(
          'ai.generateText.doGenerate',
          {
            attributes: {
              'ai.model.provider': 'anthropic.messages',
              'ai.model.id': 'claude-haiku-4-5',
              'ai.response.id': responseId,
              'ai.response.model': 'claude-haiku-4-5-20251001',
            },
          },
          trace.setSpan(context.active(), outer),
        );
        inner.end();
        outer.end();
        await t.flush();

        const p = await provenanceOf({ response_id: responseId });
        expect(p).toMatchObject({
          spanId: ids(inner).spanId,
          prompt: { name: promptName, version: 6 },
          promptSpanId: ids(outer).spanId,
          model: { provider: 'anthropic.messages', name: 'claude-haiku-4-5-20251001' },
          app: { name: 'docs-site', version: '2025.12.1' },
        });
      });
    });
  });

  describe('lineage on an agent step applies to the LLM calls beneath it', () => {
    /** The agent step carries the prompt; the LLM call beneath it carries the model and response id. */
    function agentStepAttributes(promptName: string, version: number) {
      return { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner', 'gen_ai.prompt.name': promptName, 'gen_ai.prompt.version': version };
    }
    function llmCallAttributes(responseId: string) {
      return { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.id': responseId };
    }

    it('a child LLM span inherits the prompt of its agent-step parent exported in the same request', async () => {
      const promptName = unique('planner-prompt');
      const responseId = unique('chatcmpl');
      await tracing({ 'service.name': 'agents', 'service.version': '1.0.0' }, async (t) => {
        const { parent, child } = await t.tracer.startActiveSpan('invoke_agent planner', { attributes: agentStepAttributes(promptName, 4) }, async (parent) => {
          await yieldToOthers();
          const child = t.tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: llmCallAttributes(responseId) });
          child.end();
          parent.end();
          return { parent, child };
        });
        await t.flush();
        expect(t.requests()).toBe(1);

        const p = await provenanceOf({ response_id: responseId });
        expect(p).toMatchObject({
          spanId: ids(child).spanId,
          traceId: ids(parent).traceId,
          prompt: { name: promptName, version: 4 },
          promptSpanId: ids(parent).spanId,
          model: { provider: 'openai', name: 'gpt-4o' },
          app: { name: 'agents', version: '1.0.0' },
        });
      });
    });

    it('a child LLM span takes the app from gen_ai.agent.* on its invoke_agent parent when the SDK names no service', async () => {
      const promptName = unique('planner-prompt');
      const responseId = unique('chatcmpl');
      await tracing(undefined, async (t) => {
        const child = await t.tracer.startActiveSpan(
          'invoke_agent planner',
          { attributes: { ...agentStepAttributes(promptName, 2), 'gen_ai.agent.version': '3.1.0' } },
          async (parent) => {
            const c = t.tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: llmCallAttributes(responseId) });
            c.end();
            await t.flush(); // the child reaches the server first, in a request of its own
            parent.end();
            return c;
          },
        );
        await t.flush();
        const p = await provenanceWhen({ response_id: responseId }, (x) => x.app.name !== null, 'the child to take the agent as its app');
        expect(p).toMatchObject({ spanId: ids(child).spanId, prompt: { name: promptName, version: 2 }, app: { name: 'planner', version: '3.1.0' } });
      });
    });

    it('a child LLM span exported and stored before its parent gains the parent prompt when the parent arrives in a later request', async () => {
      const promptName = unique('late-parent-prompt');
      const responseId = unique('chatcmpl');
      await tracing({ 'service.name': 'agents', 'service.version': '1.0.0' }, async (t) => {
        const parent = t.tracer.startSpan('invoke_agent planner', { attributes: agentStepAttributes(promptName, 11) });
        const child = t.tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: llmCallAttributes(responseId) }, trace.setSpan(context.active(), parent));

        // As with BatchSpanProcessor in an app: the child ends first and leaves alone.
        child.end();
        await t.flush();
        const before = await provenanceOf({ response_id: responseId });
        expect(before).toMatchObject({ spanId: ids(child).spanId, prompt: null, promptSpanId: null, model: { provider: 'openai', name: 'gpt-4o' } });

        parent.end();
        await t.flush();
        expect(t.requests()).toBe(2);

        const after = await provenanceWhen({ response_id: responseId }, (p) => p.prompt !== null, `the prompt of ${responseId} after its parent arrived`);
        expect(after).toMatchObject({
          responseId,
          spanId: ids(child).spanId,
          prompt: { name: promptName, version: 11 },
          promptSpanId: ids(parent).spanId,
          model: { provider: 'openai', name: 'gpt-4o' },
          app: { name: 'agents', version: '1.0.0' },
        });
        // The same answer by span id: the stored child row itself was rewritten.
        expect(await provenanceOf({ span_id: ids(child).spanId })).toMatchObject({ prompt: { name: promptName, version: 11 }, promptSpanId: ids(parent).spanId });
      });
    });

    it('two agent runs in parallel in one process, with different prompts, do not mix their lineage', async () => {
      const runs = [
        { promptName: unique('run-a-prompt'), version: 1, responseIds: [unique('a1'), unique('a2')] },
        { promptName: unique('run-b-prompt'), version: 2, responseIds: [unique('b1'), unique('b2')] },
      ];
      await tracing({ 'service.name': 'agents', 'service.version': '1.0.0' }, async (t) => {
        let bothStarted!: () => void;
        const started = new Promise<void>((resolve) => (bothStarted = resolve));
        let running = 0;
        const agentRun = (run: (typeof runs)[number]) =>
          t.tracer.startActiveSpan('invoke_agent planner', { attributes: agentStepAttributes(run.promptName, run.version) }, async (parent) => {
            if (++running === runs.length) bothStarted();
            await started; // both agent steps are active now
            const calls: Span[] = [];
            for (const responseId of run.responseIds) {
              await yieldToOthers();
              const call = t.tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, attributes: llmCallAttributes(responseId) });
              await yieldToOthers();
              call.end();
              calls.push(call);
            }
            parent.end();
            return { parent, calls };
          });
        const results = await Promise.all(runs.map(agentRun));
        await t.flush();

        const [a, b] = results;
        expect(ids(a!.parent).traceId).not.toBe(ids(b!.parent).traceId);
        for (const [i, run] of runs.entries()) {
          const { parent, calls } = results[i]!;
          for (const [j, responseId] of run.responseIds.entries()) {
            const p = await provenanceOf({ response_id: responseId });
            expect(p, `response ${responseId} of run ${i}`).toMatchObject({
              traceId: ids(parent).traceId,
              spanId: ids(calls[j]!).spanId,
              prompt: { name: run.promptName, version: run.version },
              promptSpanId: ids(parent).spanId,
            });
          }
        }
      });
    });
  });
});
});
