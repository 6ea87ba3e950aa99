import { diag, DiagLogLevel, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import OpenAI from 'openai';
import * as openaiModule from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../examples/agent/fake-openai.ts';
import { loadPrompt, PromptlineSpanProcessor, register, withLineage, type PromptlineHandle } from '../src/index.ts';

// The OpenAI SDK, auto-instrumented by register(), calling an OpenAI-compatible fake on loopback.

let fake: FakeOpenAI;
let client: OpenAI;
const diagErrors: string[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI();
  client = new OpenAI({ baseURL: fake.baseURL, apiKey: 'sk-test', maxRetries: 0 });
  diag.setLogger({ error: (m) => diagErrors.push(m), warn() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.ERROR);
});
afterAll(async () => {
  diag.disable();
  await fake.close();
});

describe('register() with the OpenAI SDK', () => {
  let handle: PromptlineHandle;
  const exporter = new InMemorySpanExporter();
  const spans = async () => {
    await handle.forceFlush();
    return exporter.getFinishedSpans();
  };
  const llmSpans = async () => (await spans()).filter((s) => s.attributes['openinference.span.kind'] === 'LLM');

  beforeAll(() => {
    handle = register({ serviceName: 'support-bot', serviceVersion: '1.4.2', exporter, openai: { module: openaiModule }, batch: { scheduledDelayMillis: 10 } });
  });
  afterAll(() => handle.shutdown());
  afterEach(() => exporter.reset());

  it('makes a chat completion a GenAI span: request and response model, response id, token usage, provider', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Where is my order?' }] });
    const [span] = await llmSpans();
    expect(span!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.id': completion.id,
      'gen_ai.usage.input_tokens': completion.usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': completion.usage!.completion_tokens,
      'llm.model_name': 'gpt-4o-mini-2024-07-18',
    });
    expect(span!.resource.attributes).toMatchObject({ 'service.name': 'support-bot', 'service.version': '1.4.2' });
  });

  it('gives a streamed chat completion its response id, answering model and usage, and the app every chunk', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Stream the refund policy.' }], stream: true, stream_options: { include_usage: true } });
    const ids = new Set<string>();
    let text = '';
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(ids.size).toBe(1);
    expect(text).toContain('Stream the refund policy.');
    expect(usage).toBeDefined();
    // OpenInference ends the span once its half of the stream is read, after the app's half.
    const ended = async () => vi.waitFor(async () => {
      const found = await llmSpans();
      expect(found).toHaveLength(1);
      return found[0]!;
    });
    const span = await ended();
    expect(span.attributes).toMatchObject({
      'gen_ai.response.id': [...ids][0],
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': usage!.completion_tokens,
      'gen_ai.request.model': 'gpt-4o-mini',
    });
    // Without include_usage the stream has no usage to give, and the id is still there.
    exporter.reset();
    const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'again' }], stream: true });
    let id = '';
    for await (const chunk of plain) id = chunk.id;
    const plainSpan = await ended();
    expect(plainSpan.attributes['gen_ai.response.id']).toBe(id);
    expect(plainSpan.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });

  it('makes a Responses API call a GenAI span too', async () => {
    const response = await client.responses.create({ model: 'gpt-4o', input: 'Summarise the refund policy.' });
    const [span] = await llmSpans();
    expect(span!.attributes).toMatchObject({
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': response.id,
      'gen_ai.usage.input_tokens': response.usage!.input_tokens,
      'gen_ai.usage.output_tokens': response.usage!.output_tokens,
    });
  });

  it('stamps the lineage of a loaded prompt on the model call', async () => {
    await withLineage({ prompt: { name: 'support-answer', version: 3, alias: 'production', templateHash: 'abc' }, datasets: ['kb-2026-11'], app: { name: 'support-bot', version: '1.4.2' } }, () =>
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    );
    const [span] = await llmSpans();
    expect(span!.attributes).toMatchObject({ 'gen_ai.prompt.name': 'support-answer', 'gen_ai.prompt.version': 3, 'promptline.prompt.alias': 'production', 'promptline.prompt.hash': 'abc', 'promptline.dataset.ids': ['kb-2026-11'], 'gen_ai.agent.name': 'support-bot' });
  });

  it("keeps the SDK's own API intact: withResponse(), streams with tee() and controller, the stream helper", async () => {
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    expect([data.object, response.status]).toEqual(['chat.completion', 200]);
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'stream please' }], stream: true });
    expect(typeof stream.controller.abort).toBe('function');
    const [left] = stream.tee();
    let text = '';
    for await (const chunk of left) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toContain('stream please');
    const final = await client.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'y' }] }).finalChatCompletion();
    expect(final.id).toMatch(/^chatcmpl-/);
    expect((await llmSpans()).length).toBeGreaterThanOrEqual(3);
  });

  it("records the API's error on the span and hands the app the SDK's own error", async () => {
    const bad = new OpenAI({ baseURL: `${fake.baseURL}/nowhere`, apiKey: 'sk-test', maxRetries: 0 });
    const err = await bad.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    const [span] = await llmSpans();
    expect(span!.status.code).toBe(2);
    expect(span!.attributes['gen_ai.request.model']).toBe('gpt-4o');
    expect(span!.attributes['gen_ai.response.id']).toBeUndefined();
  });

  it('gives loadPrompt the endpoint register() was given', async () => {
    // Nothing listens on the discard port: the fallback is served, so the endpoint was used.
    const h = register({ endpoint: 'http://127.0.0.1:9', exporter: new InMemorySpanExporter(), openai: false, setGlobal: false });
    const p = await loadPrompt('prompts:/never-loaded@production', { fallback: 'hi' });
    expect(p.source).toBe('fallback');
    await h.shutdown();
  });
});

describe('register({ tracerProvider }) on an SDK the app already has', () => {
  it('attaches the lineage processor in front of the app processors and instruments OpenAI against that provider', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const handle = register({ tracerProvider: provider, openai: { module: openaiModule } });
    try {
      const completion = await withLineage({ prompt: { name: 'triage', version: 1 } }, () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }));
      const span = exporter.getFinishedSpans().find((s: ReadableSpan) => s.attributes['gen_ai.response.id'] === completion.id);
      expect(span?.attributes).toMatchObject({ 'gen_ai.prompt.name': 'triage', 'gen_ai.response.model': 'gpt-4o-2024-08-06' });
    } finally {
      await handle.shutdown();
      await provider.shutdown();
    }
  });

  it('does not attach twice', () => {
    const provider = new TracerProvider({ spanProcessors: [new PromptlineSpanProcessor()] });
    register({ tracerProvider: provider, openai: false });
    const list = (provider as unknown as { _activeSpanProcessor: { _spanProcessors: unknown[] } })._activeSpanProcessor._spanProcessors;
    expect(list.filter((p) => p instanceof PromptlineSpanProcessor)).toHaveLength(1);
  });
});

describe('never breaking the host app', () => {
  it('turns a register() that fails inside into a working no-op handle, reported through diag', async () => {
    diagErrors.length = 0;
    const hostile = { get endpoint(): string { throw new Error('config getter exploded'); } };
    const handle = register(hostile);
    await handle.forceFlush();
    await handle.shutdown();
    expect(diagErrors.join('\n')).toMatch(/register\(\) failed: the app runs without Promptline tracing/);
  });

  it('finds the openai module by itself when not given one', async () => {
    const exporter = new InMemorySpanExporter();
    const handle = register({ exporter, batch: { scheduledDelayMillis: 10 } });
    try {
      const c = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
      await handle.forceFlush();
      expect(exporter.getFinishedSpans().map((s) => s.attributes['gen_ai.response.id'])).toContain(c.id);
      expect(trace.getTracerProvider()).toBeDefined();
    } finally {
      await handle.shutdown();
    }
  });
});
