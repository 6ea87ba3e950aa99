import Anthropic from '@anthropic-ai/sdk';
import * as anthropicModule from '@anthropic-ai/sdk';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../examples/agent/fake-anthropic.ts';
import { register, withLineage, type PromptlineHandle } from '../src/index.ts';

// The Anthropic SDK, auto-instrumented by register() (OpenInference's instrumentation and our
// stream watch), calling a fake Messages API on loopback.

let fake: FakeAnthropic;
let client: Anthropic;
const diagErrors: string[] = [];
const ask = (content: string) => ({ model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user' as const, content }] });

beforeAll(async () => {
  fake = await startFakeAnthropic();
  client = new Anthropic({ baseURL: fake.baseURL, apiKey: 'sk-ant-test', maxRetries: 0 });
  diag.setLogger({ error: (m) => diagErrors.push(m), warn() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.ERROR);
});
afterAll(async () => {
  diag.disable();
  await fake.close();
});

describe('register() with the Anthropic SDK', () => {
  let handle: PromptlineHandle;
  const exporter = new InMemorySpanExporter();
  const spans = async () => {
    await handle.forceFlush();
    return exporter.getFinishedSpans();
  };
  const llmSpans = async () => (await spans()).filter((s) => s.attributes['openinference.span.kind'] === 'LLM');
  /** OpenInference ends a streamed call's span once its half of the stream is read. */
  const oneLlmSpan = () =>
    vi.waitFor(async () => {
      const found = await llmSpans();
      expect(found).toHaveLength(1);
      return found[0]!;
    });

  beforeAll(() => {
    handle = register({ serviceName: 'support-bot', serviceVersion: '1.4.2', exporter, anthropic: { module: anthropicModule }, openai: false, langchain: false, batch: { scheduledDelayMillis: 10 } });
  });
  afterAll(() => handle.shutdown());
  afterEach(() => exporter.reset());

  it('makes a Messages call a GenAI span: provider, request and response model, msg_ response id, token usage', async () => {
    const message = await client.messages.create(ask('Where is my order?'));
    expect(message.id).toMatch(/^msg_01/);
    const span = await oneLlmSpan();
    expect(span.name).toBe('Anthropic Messages');
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
      'gen_ai.response.id': message.id,
      'gen_ai.usage.input_tokens': message.usage.input_tokens,
      'gen_ai.usage.output_tokens': message.usage.output_tokens,
    });
    expect(span.resource.attributes).toMatchObject({ 'service.name': 'support-bot', 'service.version': '1.4.2' });
  });

  it('carries the lineage on the model call', async () => {
    const message = await withLineage({ prompt: { name: 'support-answer', version: 3, alias: 'production', templateHash: 'abc' }, datasets: ['kb-2026-11'], app: { name: 'support-bot', version: '1.4.2' } }, () => client.messages.create(ask('hi')));
    const span = await oneLlmSpan();
    expect(span.attributes).toMatchObject({
      'gen_ai.prompt.name': 'support-answer',
      'gen_ai.prompt.version': 3,
      'promptline.prompt.alias': 'production',
      'promptline.prompt.hash': 'abc',
      'promptline.dataset.ids': ['kb-2026-11'],
      'gen_ai.agent.name': 'support-bot',
      'gen_ai.response.id': message.id,
    });
  });

  it('gives a streamed call (stream: true) its response id, answering model and usage, and the app every event', async () => {
    const stream = await withLineage({ prompt: { name: 'support-answer', version: 4 } }, () => client.messages.create({ ...ask('Stream the refund policy.'), stream: true }));
    let id = '';
    let model = '';
    let text = '';
    let input = 0;
    let output = 0;
    for await (const event of stream) {
      if (event.type === 'message_start') [id, model, input] = [event.message.id, event.message.model, event.message.usage.input_tokens];
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') output = event.usage.output_tokens;
    }
    expect(id).toMatch(/^msg_01/);
    expect(text).toContain('Stream the refund policy.');
    const span = await oneLlmSpan();
    expect(span.attributes).toMatchObject({
      'gen_ai.response.id': id,
      'gen_ai.response.model': model,
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.usage.input_tokens': input,
      'gen_ai.usage.output_tokens': output,
      'gen_ai.prompt.name': 'support-answer',
      'gen_ai.prompt.version': 4,
    });
  });

  it("keeps the SDK's own API intact: withResponse(), tee() and controller of a stream, the messages.stream() helper", async () => {
    const { data, response } = await client.messages.create(ask('x')).withResponse();
    expect([data.type, response.status]).toEqual(['message', 200]);

    const stream = await client.messages.create({ ...ask('stream please'), stream: true });
    expect(typeof stream.controller.abort).toBe('function');
    const [left] = stream.tee();
    let text = '';
    for await (const event of left) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    expect(text).toContain('stream please');

    const helper = client.messages.stream(ask('helper'));
    const deltas: string[] = [];
    helper.on('text', (delta) => deltas.push(delta));
    const final = await helper.finalMessage();
    expect(final.id).toMatch(/^msg_01/);
    expect(deltas.join('')).toBe(final.content[0]!.type === 'text' ? final.content[0]!.text : '');
    expect(await helper.finalText()).toContain('helper');

    await vi.waitFor(async () => expect((await llmSpans()).length).toBe(3));
    const helperSpan = (await llmSpans()).find((s) => s.attributes['gen_ai.response.id'] === final.id);
    expect(helperSpan?.attributes).toMatchObject({ 'gen_ai.response.model': 'claude-sonnet-4-5-20250929', 'gen_ai.usage.output_tokens': final.usage.output_tokens });
  });

  it("records the API's error on the span and hands the app the SDK's own error", async () => {
    const bad = new Anthropic({ baseURL: `${fake.baseURL}/nowhere`, apiKey: 'sk-ant-test', maxRetries: 0 });
    const err = await bad.messages.create(ask('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    const span = await oneLlmSpan();
    expect(span.status.code).toBe(2);
    expect(span.attributes['gen_ai.request.model']).toBe('claude-sonnet-4-5');
    expect(span.attributes['gen_ai.response.id']).toBeUndefined();
  });

  it("leaves the SDK's own span (anthropic.messages.create) in place, with the lineage too", async () => {
    const message = await withLineage({ prompt: { name: 'triage', version: 1 } }, () => client.messages.create(ask('x')));
    await oneLlmSpan();
    const own = (await spans()).find((s) => s.name === 'anthropic.messages.create');
    expect(own?.attributes).toMatchObject({ 'gen_ai.response.id': message.id, 'gen_ai.prompt.name': 'triage' });
  });
});

describe('register() twice', () => {
  it('keeps the first handle instrumenting after a second one shuts down, and restores the SDK after both', async () => {
    const proto = Anthropic.Messages.prototype;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- compared, never called
    const before = proto.create;
    const first = new InMemorySpanExporter();
    const a = register({ exporter: first, anthropic: { module: anthropicModule }, openai: false, langchain: false, batch: { scheduledDelayMillis: 10 } });
    const b = register({ exporter: new InMemorySpanExporter(), anthropic: { module: anthropicModule }, openai: false, langchain: false, setGlobal: false });
    await b.shutdown();
    const message = await client.messages.create(ask('x'));
    await a.forceFlush();
    expect(first.getFinishedSpans().find((s) => s.name === 'Anthropic Messages')?.attributes['gen_ai.response.id']).toBe(message.id);
    await a.shutdown();
    // Only our stream watch stays under where OpenInference's patch was, and only once.
    expect((proto.create as { __wrapped?: boolean }).__wrapped).toBeUndefined();
    expect(proto.create === before || (proto.create as { name?: string }).name === 'wrapped').toBe(true);
  });
});

describe('register() finding the Anthropic SDK by itself', () => {
  it('instruments the ES module build the app imports, and nothing with anthropic: false', async () => {
    const exporter = new InMemorySpanExporter();
    const handle = register({ exporter, batch: { scheduledDelayMillis: 10 } });
    try {
      const message = await client.messages.create(ask('x'));
      await handle.forceFlush();
      const span = exporter.getFinishedSpans().find((s) => s.attributes['openinference.span.kind'] === 'LLM');
      expect(span?.attributes['gen_ai.response.id']).toBe(message.id);
    } finally {
      await handle.shutdown();
    }
    const off = new InMemorySpanExporter();
    const h = register({ exporter: off, anthropic: false, batch: { scheduledDelayMillis: 10 } });
    try {
      await client.messages.create(ask('x'));
      await h.forceFlush();
      expect(off.getFinishedSpans().filter((s) => s.attributes['openinference.span.kind'] === 'LLM')).toEqual([]);
    } finally {
      await h.shutdown();
    }
    expect(diagErrors).toEqual([]);
  });
});
