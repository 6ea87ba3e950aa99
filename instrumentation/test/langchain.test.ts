import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as callbackManager from '@langchain/core/callbacks/manager';
import type { AIMessage, AIMessageChunk } from '@langchain/core/messages';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { ChatOpenAI } from '@langchain/openai';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../examples/agent/fake-openai.ts';
import { hashTemplate, loadPrompt, register, withLineage, type PromptlineHandle, type PromptTemplate } from '../src/index.ts';

// LangChain.js, auto-instrumented by register() through OpenInference's LangChain instrumentation:
// a ChatPromptTemplate | ChatOpenAI chain against the OpenAI-compatible fake on loopback.

let fake: FakeOpenAI;
let registry: Server;
let registryUrl: string;
const diagErrors: string[] = [];
// eslint-disable-next-line @typescript-eslint/unbound-method -- compared, never called
const pristineConfigure = callbackManager.CallbackManager._configureSync;

const model = () => new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', maxRetries: 0, configuration: { baseURL: fake.baseURL } });
const chain = () => ChatPromptTemplate.fromMessages([['system', 'Answer from {facts}.'], ['human', '{question}']]).pipe(model());
/** The provider's response id LangChain gives the app: on the message, and in its response_metadata. */
const idOf = (m: AIMessage | AIMessageChunk) => (m.response_metadata?.id as string | undefined) ?? m.id;

/** A chat template as the registry serves it, `{{variable}}` in mustache style. */
const TEMPLATE: PromptTemplate = { type: 'chat', messages: [{ role: 'system', content: 'Answer from {{facts}}.' }, { role: 'user', content: '{{question}}' }] };

beforeAll(async () => {
  fake = await startFakeOpenAI();
  registry = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ uri: 'prompts:/support-answer@production', alias: 'production', assignment: null, version: { name: 'support-answer', version: 7, template: TEMPLATE, templateHash: hashTemplate(TEMPLATE), variables: ['facts', 'question'] } }));
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
  diag.setLogger({ error: (m) => diagErrors.push(m), warn() {}, info() {}, debug() {}, verbose() {} }, DiagLogLevel.ERROR);
});
afterAll(async () => {
  diag.disable();
  await fake.close();
  registry.closeAllConnections();
  await new Promise<void>((r) => registry.close(() => r()));
});

describe('register() with LangChain.js', () => {
  let handle: PromptlineHandle;
  const exporter = new InMemorySpanExporter();
  const spans = async () => {
    await handle.forceFlush();
    return exporter.getFinishedSpans();
  };
  const llmSpans = async () => (await spans()).filter((s) => s.attributes['openinference.span.kind'] === 'LLM');

  beforeAll(() => {
    handle = register({ endpoint: registryUrl, exporter, langchain: { callbackManager }, openai: false, anthropic: false, batch: { scheduledDelayMillis: 10 } });
  });
  afterAll(() => handle.shutdown());
  afterEach(() => exporter.reset());

  it('gives the chain a span per run, and the chat model span the GenAI names and the lineage', async () => {
    const answer = await withLineage({ prompt: { name: 'support-answer', version: 3, alias: 'production' }, datasets: ['kb-2026-11'] }, () =>
      chain().invoke({ facts: 'the order record', question: 'Where is my order?' }),
    );
    expect(answer.content).toContain('Where is my order?');
    const id = idOf(answer);
    expect(id).toMatch(/^chatcmpl-/);
    // Flushed at once, without waiting: the spans ended before invoke() resolved (the handler is awaited).
    const all = await spans();
    expect(all.map((s) => s.name).sort()).toEqual(['ChatOpenAI', 'ChatPromptTemplate', 'RunnableSequence']);
    const [llm] = await llmSpans();
    expect(llm!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.id': id,
      'gen_ai.prompt.name': 'support-answer',
      'gen_ai.prompt.version': 3,
      'promptline.prompt.alias': 'production',
      'promptline.dataset.ids': ['kb-2026-11'],
    });
    expect(llm!.attributes['gen_ai.usage.input_tokens']).toBe(answer.usage_metadata?.input_tokens);
    expect(llm!.attributes['gen_ai.usage.output_tokens']).toBe(answer.usage_metadata?.output_tokens);
  });

  it('carries the lineage of a loaded prompt run() onto the LLM span', async () => {
    const prompt = await loadPrompt('prompts:/support-answer@production');
    const template = ChatPromptTemplate.fromMessages(
      prompt.template.type === 'chat' ? prompt.template.messages.map((m) => [m.role === 'user' ? 'human' : m.role, m.content] as [string, string]) : [],
      { templateFormat: 'mustache' },
    );
    const answer = await prompt.run(() => template.pipe(model()).invoke({ facts: 'the order record', question: 'Refund?' }));
    const [llm] = await llmSpans();
    expect(llm!.attributes).toMatchObject({ 'gen_ai.prompt.name': 'support-answer', 'gen_ai.prompt.version': 7, 'promptline.prompt.hash': prompt.templateHash, 'gen_ai.response.id': idOf(answer) });
  });

  it('streams: the app gets every chunk, and the span the response id and lineage', async () => {
    const chunks: AIMessageChunk[] = [];
    await withLineage({ prompt: { name: 'support-answer', version: 5 } }, async () => {
      for await (const chunk of await chain().stream({ facts: 'the order record', question: 'Stream the refund policy.' })) chunks.push(chunk);
    });
    const text = chunks.map((c) => c.text).join('');
    expect(text).toContain('Stream the refund policy.');
    const [llm] = await llmSpans();
    expect(llm!.attributes).toMatchObject({ 'gen_ai.prompt.name': 'support-answer', 'gen_ai.prompt.version': 5, 'gen_ai.request.model': 'gpt-4o-mini' });
    const ids = new Set(chunks.map((c) => idOf(c)).filter((x) => typeof x === 'string' && x.startsWith('chatcmpl-')));
    expect(ids.size).toBe(1);
    expect(llm!.attributes['gen_ai.response.id']).toBe([...ids][0]);
  });

  it('batches: every answer, and an LLM span with the lineage for each', async () => {
    const answers = await withLineage({ prompt: { name: 'support-answer', version: 6 } }, () => chain().batch([{ facts: 'f', question: 'one' }, { facts: 'f', question: 'two' }]));
    expect(answers.map((a) => a.text)).toEqual([expect.stringContaining('one'), expect.stringContaining('two')]);
    const llm = await llmSpans();
    expect(llm.map((s) => s.attributes['gen_ai.response.id']).sort()).toEqual(answers.map(idOf).sort());
    for (const s of llm) expect(s.attributes['gen_ai.prompt.version']).toBe(6);
  });

  it('keeps parallel chains apart: each LLM span has the lineage of its own task', async () => {
    const run = (name: string, i: number) =>
      withLineage({ prompt: { name, version: i } }, async () => {
        const answer = await chain().invoke({ facts: 'f', question: `${name} ${i}` });
        return { id: idOf(answer), name, version: i };
      });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => run(i % 2 === 0 ? 'even-prompt' : 'odd-prompt', i)));
    const byId = new Map<string, ReadableSpan>((await llmSpans()).map((s) => [s.attributes['gen_ai.response.id'] as string, s]));
    for (const r of results) expect(byId.get(r.id!)?.attributes).toMatchObject({ 'gen_ai.prompt.name': r.name, 'gen_ai.prompt.version': r.version });
    // and each chain is a trace of its own
    const traces = new Set((await spans()).map((s) => s.spanContext().traceId));
    expect(traces.size).toBe(12);
  });
});

describe('register() finding @langchain/core by itself', () => {
  it('instruments the ES module build the app imports, alongside the OpenAI SDK underneath', async () => {
    const exporter = new InMemorySpanExporter();
    const handle = register({ exporter, batch: { scheduledDelayMillis: 10 } });
    try {
      const answer = await withLineage({ prompt: { name: 'auto', version: 1 } }, () => chain().invoke({ facts: 'f', question: 'q' }));
      await handle.forceFlush();
      const llm = exporter.getFinishedSpans().filter((s) => s.attributes['gen_ai.response.id'] === idOf(answer));
      // LangChain's span and the OpenAI SDK's, both with the lineage.
      expect(llm.map((s) => s.name).sort()).toEqual(['ChatOpenAI', 'OpenAI Chat Completions']);
      for (const s of llm) expect(s.attributes['gen_ai.prompt.name']).toBe('auto');
    } finally {
      await handle.shutdown();
    }
    // After shutdown LangChain's callback manager is as it was: no tracer of a stopped provider is added any more.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- compared, never called
    expect(callbackManager.CallbackManager._configureSync).toBe(pristineConfigure);
    expect(diagErrors).toEqual([]);
  });
});
