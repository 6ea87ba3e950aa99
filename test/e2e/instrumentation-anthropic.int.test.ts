import Anthropic from '@anthropic-ai/sdk';
import * as anthropicModule from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../examples/agent/fake-anthropic.ts';
import { loadPrompt, register } from '../../instrumentation/src/index.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// The Anthropic SDK instrumented by @promptline/instrumentation, its spans sent over OTLP to a real
// `promptline serve`: the provenance of a Messages response, by its msg_ id, names the prompt
// version and the model, streamed or not.

const API_KEY = 'pl-e2e-anthropic-admin-key-0123456789';
const auth = { authorization: `Bearer ${API_KEY}` };

let server: ServerUnderTest;
let fake: FakeAnthropic;

beforeAll(async () => {
  [server, fake] = await Promise.all([startServer({ env: { PROMPTLINE_API_KEY: API_KEY } }), startFakeAnthropic()]);
});
afterAll(async () => {
  await fake?.close();
  if (server) {
    await server.stop();
    removeDir(server.dataDir);
  }
});

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json', ...auth }, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

describe('the Anthropic SDK → promptline serve', () => {
  it('answers the provenance of a msg_ response id with the prompt version and the answering model', async () => {
    const v1 = await api('POST', '/v1/prompts/claude-answer/versions', { template: { messages: [{ role: 'system', content: 'Answer from {{facts}}.' }, { role: 'user', content: '{{question}}' }] }, commitMessage: 'claude: answer from facts' });
    await api('PUT', '/v1/prompts/claude-answer/aliases/production', { version: v1.version, reason: 'first' });

    const handle = register({ endpoint: server.url, apiKey: API_KEY, serviceName: 'claude-agent', serviceVersion: '2.0.0', anthropic: { module: anthropicModule }, openai: false, langchain: false });
    const client = new Anthropic({ baseURL: fake.baseURL, apiKey: 'sk-ant-test', maxRetries: 0 });
    let plain: Anthropic.Message;
    let streamed: Anthropic.Message;
    try {
      const prompt = await loadPrompt('prompts:/claude-answer@production');
      const [system, ...messages] = prompt.messages({ facts: 'the order record', question: 'Where is order A-10023?' });
      const body = { model: 'claude-sonnet-4-5', max_tokens: 256, system: system!.content, messages: messages.map((m) => ({ role: 'user' as const, content: m.content })) };
      plain = await prompt.run(() => client.messages.create(body));
      streamed = await prompt.run(() => client.messages.stream(body).finalMessage());
    } finally {
      await handle.shutdown();
    }

    for (const message of [plain, streamed]) {
      expect(message.id).toMatch(/^msg_01/);
      const p = await eventually(() => provenance(server.url, { response_id: message.id }), `provenance of ${message.id}`);
      expect(p).toMatchObject({
        responseId: message.id,
        prompt: { name: 'claude-answer', version: v1.version, alias: 'production', templateHash: v1.templateHash, registered: true, commitMessage: 'claude: answer from facts' },
        model: { provider: 'anthropic', name: 'claude-sonnet-4-5-20250929' },
        app: { name: 'claude-agent', version: '2.0.0' },
      });
    }
  });
});
