import { describe, expect, it } from 'vitest';
import { templateHash } from '../../src/ingest/conventions.ts';
import { normalizeVersion, readOwnLineage } from '../../src/ingest/normalizer.ts';
import { createSpan } from '../helpers/factories.ts';

describe('the normalizer reads every convention into one lineage record', () => {
  it('reads OpenTelemetry GenAI attributes', () => {
    const l = readOwnLineage(
      createSpan({
        attrs: {
          'gen_ai.prompt.name': 'support-answer',
          'gen_ai.prompt.version': 3,
          'gen_ai.response.model': 'gpt-4o-2024-08-06',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.provider.name': 'openai',
          'gen_ai.response.id': 'chatcmpl-1',
          'gen_ai.data_source.id': 'kb-2024-10',
          'gen_ai.conversation.id': 'conv-9',
        },
      }),
    );
    expect(l.prompt).toEqual({ name: 'support-answer', version: '3', alias: '', templateHash: '' });
    expect(l.model).toEqual({ name: 'gpt-4o-2024-08-06', provider: 'openai' });
    expect(l.responseId).toBe('chatcmpl-1');
    expect(l.datasetIds).toEqual(['kb-2024-10']);
    expect(l.conversationId).toBe('conv-9');
    expect(l.app).toEqual({ name: 'support-bot', version: '1.4.2' });
  });

  it('reads promptline.* attributes, with alias, hash and dataset lists', () => {
    const l = readOwnLineage(
      createSpan({
        attrs: {
          'promptline.prompt.name': 'triage',
          'promptline.prompt.version': '7',
          'promptline.prompt.alias': 'production',
          'promptline.prompt.hash': 'ABCDEF',
          'promptline.dataset.ids': ['faq-v2', 'tickets-q3'],
          'promptline.response.id': 'resp-1',
        },
      }),
    );
    expect(l.prompt).toEqual({ name: 'triage', version: '7', alias: 'production', templateHash: 'abcdef' });
    expect(l.datasetIds).toEqual(['faq-v2', 'tickets-q3']);
    expect(l.responseId).toBe('resp-1');
  });

  it('reads OpenInference: prompt.id, template version, template hash, and the response id inside output.value', () => {
    const template = 'You are a helpful agent. Question: {{question}}';
    const l = readOwnLineage(
      createSpan({
        attrs: {
          'openinference.span.kind': 'LLM',
          'prompt.id': 'qa-prompt',
          'llm.prompt_template.template': template,
          'llm.prompt_template.version': 'v2',
          'llm.model_name': 'claude-sonnet-4',
          'llm.provider': 'anthropic',
          'output.value': JSON.stringify({ id: 'msg_01XYZ', type: 'message', content: [] }),
          'output.mime_type': 'application/json',
        },
      }),
    );
    expect(l.prompt).toEqual({ name: 'qa-prompt', version: '2', alias: '', templateHash: templateHash(template) });
    expect(l.model).toEqual({ name: 'claude-sonnet-4', provider: 'anthropic' });
    expect(l.responseId).toBe('msg_01XYZ');
  });

  it('reads Langfuse attributes, which carry no response id', () => {
    const l = readOwnLineage(
      createSpan({
        attrs: {
          'langfuse.observation.prompt.name': 'summarize',
          'langfuse.observation.prompt.version': 4,
          'langfuse.observation.model.name': 'gpt-4.1-mini',
          'langfuse.session.id': 'sess-1',
          'langfuse.experiment.dataset.id': 'ds-eval',
          'langfuse.release': '2026.11.1',
        },
        resourceAttrs: { 'service.name': 'unknown_service:node' },
      }),
    );
    expect(l.prompt?.name).toBe('summarize');
    expect(l.prompt?.version).toBe('4');
    expect(l.model?.name).toBe('gpt-4.1-mini');
    expect(l.responseId).toBe('');
    expect(l.conversationId).toBe('sess-1');
    expect(l.datasetIds).toEqual(['ds-eval']);
    expect(l.app).toEqual({ name: '', version: '2026.11.1' });
  });

  it('reads MLflow linked prompts from their JSON list', () => {
    const l = readOwnLineage(
      createSpan({ attrs: { 'mlflow.linkedPrompts': JSON.stringify([{ name: 'qa', version: '5' }, { name: 'other', version: '1' }]), 'mlflow.llm.model': 'gpt-4o' } }),
    );
    expect(l.prompt).toMatchObject({ name: 'qa', version: '5' });
    expect(l.model?.name).toBe('gpt-4o');
  });

  it('reads MLflow as it exports over OTLP: every value JSON-encoded, the linked prompts JSON of JSON, the response id inside the outputs', () => {
    const completion = { id: 'chatcmpl-mlf1', object: 'chat.completion', model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }] };
    const root = readOwnLineage(createSpan({ attrs: { 'mlflow.linkedPrompts': JSON.stringify(JSON.stringify([{ name: 'qa', version: '2' }])), 'mlflow.spanType': '"CHAIN"' } }));
    expect(root.prompt).toMatchObject({ name: 'qa', version: '2' });
    const llm = readOwnLineage(
      createSpan({ attrs: { 'mlflow.llm.model': JSON.stringify('gpt-4o-mini-2024-07-18'), 'mlflow.spanType': '"CHAT_MODEL"', 'mlflow.spanOutputs': JSON.stringify(completion), 'mlflow.modelId': '"m-123"' }, resourceAttrs: {} }),
    );
    expect(llm.model?.name).toBe('gpt-4o-mini-2024-07-18');
    expect(llm.responseId).toBe('chatcmpl-mlf1');
    expect(llm.app.version).toBe('m-123');
    // Outputs that are not a chat completion are the app's data: an `id` there names no response.
    const chain = readOwnLineage(createSpan({ attrs: { 'mlflow.spanOutputs': JSON.stringify({ id: 'order-7', total: 3 }) } }));
    expect(chain.responseId).toBe('');
  });

  it('finds LangChain’s response id in output.value’s llm_output (OpenInference), and keeps a version that names no prompt', () => {
    const l = readOwnLineage(
      createSpan({ attrs: { 'openinference.span.kind': 'LLM', 'llm.prompt_template.version': '4', 'output.value': JSON.stringify({ generations: [[{ text: 'x' }]], llm_output: { id: 'chatcmpl-lc1', model_name: 'gpt-4o' } }) } }),
    );
    expect(l.responseId).toBe('chatcmpl-lc1');
    expect(l.prompt).toEqual({ name: '', version: '4', alias: '', templateHash: '' });
    // LangChain.js (ChatOpenAI) puts the provider's id on the message; LangChain's own run ids are not response ids.
    const generation = (kwargs: object) => readOwnLineage(createSpan({ attrs: { 'output.value': JSON.stringify({ generations: [[{ text: 'x', message: { lc: 1, kwargs } }]] }) } })).responseId;
    expect(generation({ id: 'chatcmpl-js1', content: 'x' })).toBe('chatcmpl-js1');
    expect(generation({ id: 'lc_run--1f2e', response_metadata: { id: 'chatcmpl-py1' } })).toBe('chatcmpl-py1');
    expect(generation({ id: 'run-1234' })).toBe('');
    expect(generation({ id: 'lc_run--5678' })).toBe('');
  });

  it('reads Traceloop prompt key, version and template', () => {
    const l = readOwnLineage(
      createSpan({ attrs: { 'traceloop.prompt.key': 'joke', 'traceloop.prompt.version': 2, 'traceloop.prompt.template': 'Tell a joke about {{x}}', 'gen_ai.system': 'openai' } }),
    );
    expect(l.prompt).toEqual({ name: 'joke', version: '2', alias: '', templateHash: templateHash('Tell a joke about {{x}}') });
    expect(l.model).toEqual({ name: '', provider: 'openai' });
  });

  it('reads the Vercel AI SDK metadata of v6 and v7', () => {
    const v6 = readOwnLineage(createSpan({ attrs: { 'ai.telemetry.metadata.promptName': 'plan', 'ai.telemetry.metadata.promptVersion': '3', 'ai.model.id': 'gpt-4o', 'ai.response.id': 'r6' } }));
    const v7 = readOwnLineage(createSpan({ attrs: { 'ai.settings.context.promptName': 'plan', 'ai.settings.context.promptVersion': 4, 'ai.response.model': 'gpt-4o-mini', 'ai.response.id': 'r7' } }));
    expect([v6.prompt?.name, v6.prompt?.version, v6.model?.name, v6.responseId]).toEqual(['plan', '3', 'gpt-4o', 'r6']);
    expect([v7.prompt?.name, v7.prompt?.version, v7.model?.name, v7.responseId]).toEqual(['plan', '4', 'gpt-4o-mini', 'r7']);
  });

  it('takes the first convention present when several are', () => {
    const l = readOwnLineage(createSpan({ attrs: { 'traceloop.prompt.key': 'second', 'gen_ai.prompt.name': 'first', 'gen_ai.request.model': 'req', 'gen_ai.response.model': 'resp' } }));
    expect(l.prompt?.name).toBe('first');
    expect(l.model?.name).toBe('resp');
  });

  it('takes the app from gen_ai.agent.* when the resource names no service', () => {
    const l = readOwnLineage(createSpan({ attrs: { 'gen_ai.agent.name': 'planner', 'gen_ai.agent.version': '2.0.0' }, resourceAttrs: { 'service.name': 'unknown_service:node' } }));
    expect(l.app).toEqual({ name: 'planner', version: '2.0.0' });
  });

  it('has no prompt when a span names none, and ignores free-text output.value', () => {
    const l = readOwnLineage(createSpan({ attrs: { 'output.value': 'just text {not json' } }));
    expect(l.prompt).toBeNull();
    expect(l.responseId).toBe('');
  });

  it('treats attribute keys such as __proto__ as data', () => {
    const span = createSpan();
    span.attributes = new Map([
      ['__proto__', 'x'],
      ['constructor', 'y'],
      ['gen_ai.prompt.name', '__proto__'],
    ]);
    const l = readOwnLineage(span);
    expect(l.prompt?.name).toBe('__proto__');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('normalizes versions sent as int, "v3" or 3.0', () => {
    expect(['3', 'v3', 'V3', '3.0', '03', 'beta-1'].map(normalizeVersion)).toEqual(['3', '3', '3', '3', '3', 'beta-1']);
  });
});
