import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { registerOtelGlobals, withTracing } from '../helpers/otel.ts';
import { removeDir, type ServerUnderTest } from '../helpers/server.ts';

// One `promptline serve` (keys on, embedded stores) filled the way users fill it: prompts
// registered and aliases moved over the API, spans sent by the real OpenTelemetry SDK over
// OTLP/HTTP with an ingest key. The console's tests read it through a real browser.

/** Text that would run if any view set it as HTML or followed it as a link. */
export const HOSTILE = {
  script: '<script>window.__pwned = "script"</script>',
  img: '<img src=x onerror="window.__pwned = \'img\'">',
  link: 'javascript:window.__pwned = "link"',
};

export interface ConsoleFixture {
  server: ServerUnderTest;
  url: string;
  keys: { admin: string; read: string; edit: string; ingest: string };
  prompt: string;
  hostilePrompt: string;
  /** Response ids: v2 (production now), v1 (production before), the hostile one. */
  responses: { v2: string; v1: string; hostile: string };
  traces: { v2: string; v1: string; hostile: string };
  /** When production was moved from version 1 to version 2. */
  productionMovedAt: string;
  stop(): Promise<void>;
}

async function call(url: string, key: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function startConsoleFixture(): Promise<ConsoleFixture> {
  const { server, admin } = await startServerWithAdmin();
  const url = server.url;
  const key = async (role: string, name: string, extra: Record<string, unknown> = {}) => ((await call(url, admin, 'POST', '/v1/keys', { role, name, ...extra })) as { key: string }).key;
  const keys = { admin, read: await key('read', 'reader'), edit: await key('edit', 'editor'), ingest: await key('ingest', 'support-bot ingest') };

  const prompt = 'support-reply';
  await call(url, admin, 'POST', `/v1/prompts/${prompt}/versions`, { template: 'You are a support agent for {{product}}.\nAnswer briefly.', commitMessage: 'first version', tags: ['baseline'] });
  await call(url, admin, 'POST', `/v1/prompts/${prompt}/versions`, { template: 'You are a friendly support agent for {{product}}.\nAnswer briefly and cite the docs.', commitMessage: 'cite the docs' });
  await call(url, admin, 'PUT', `/v1/prompts/${prompt}/aliases/production`, { version: 1, reason: 'first release' });
  await call(url, admin, 'PUT', `/v1/prompts/${prompt}/aliases/staging`, { version: 2, reason: 'try the docs version' });

  const hostilePrompt = 'hostile-prompt';
  await call(url, admin, 'POST', `/v1/prompts/${hostilePrompt}/versions`, {
    template: `${HOSTILE.script}\n${HOSTILE.img}\n[docs](${HOSTILE.link})`,
    commitMessage: `${HOSTILE.img} [see](${HOSTILE.link}) ${HOSTILE.script}`,
  });

  const stopGlobals = registerOtelGlobals();
  const ids = { v1: 'chatcmpl-support-v1', v2: 'chatcmpl-support-v2', hostile: 'chatcmpl-hostile' };
  const traces = { v1: '', v2: '', hostile: '' };
  let productionMovedAt = '';
  try {
    await withTracing({ encoding: 'protobuf', url, headers: { authorization: `Bearer ${keys.ingest}` }, resource: { 'service.name': 'support-bot', 'service.version': '1.4.0' } }, async (t) => {
      const answer = (version: number, responseId: string, names: { agent: string; call: string }, extra: Record<string, string> = {}, messages?: { user: string; assistant: string }) => {
        const agent = t.tracer.startSpan(names.agent, {
          kind: SpanKind.INTERNAL,
          attributes: { 'promptline.prompt.name': prompt, 'promptline.prompt.version': version, 'promptline.prompt.alias': 'production', 'gen_ai.conversation.id': `conv-${version}`, 'promptline.dataset.ids': ['faq-2026'] },
        });
        const ctx = trace.setSpan(context.active(), agent);
        const llm = t.tracer.startSpan(
          names.call,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              'gen_ai.operation.name': 'chat',
              'gen_ai.provider.name': 'openai',
              'gen_ai.request.model': 'gpt-4o-mini',
              'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
              'gen_ai.response.id': responseId,
              'gen_ai.usage.input_tokens': 42,
              'gen_ai.usage.output_tokens': 17,
              'gen_ai.input.messages': JSON.stringify([
                { role: 'system', parts: [{ type: 'text', content: 'You are a support agent.' }] },
                { role: 'user', parts: [{ type: 'text', content: messages?.user ?? 'How do I reset my password?' }] },
              ]),
              'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: messages?.assistant ?? 'Open Settings, then Security.' }], finish_reason: 'stop' }]),
              ...extra,
            },
          },
          ctx,
        );
        llm.end();
        agent.end();
        return agent.spanContext().traceId;
      };
      traces.v1 = answer(1, ids.v1, { agent: 'support turn', call: 'chat gpt-4o-mini' });
      await t.flush();
      await call(url, admin, 'PUT', `/v1/prompts/${prompt}/aliases/production`, { version: 2, reason: 'the docs version did better' });
      productionMovedAt = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 20));
      traces.v2 = answer(2, ids.v2, { agent: 'support turn', call: 'chat gpt-4o-mini' });
      const failed = t.tracer.startSpan('support turn (failed)', { attributes: { 'promptline.prompt.name': prompt, 'promptline.prompt.version': 2, 'gen_ai.response.model': 'gpt-4o-mini', 'gen_ai.response.id': 'chatcmpl-failed' } });
      failed.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream timed out' });
      failed.end();
      // Hostile text in every place a stranger can put it: span name, attribute key and value, messages.
      const hostileAgent = t.tracer.startSpan(HOSTILE.script, { attributes: { 'promptline.prompt.name': hostilePrompt, 'promptline.prompt.version': 1, [HOSTILE.img]: HOSTILE.link } });
      const hctx = trace.setSpan(context.active(), hostileAgent);
      const hcall = t.tracer.startSpan(
        HOSTILE.img,
        {
          attributes: {
            'gen_ai.response.model': 'gpt-4o-mini',
            'gen_ai.response.id': ids.hostile,
            'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: `${HOSTILE.img} ${HOSTILE.script}` }] }]),
            'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: `[click](${HOSTILE.link})` }] }]),
            'link.url': HOSTILE.link,
          },
        },
        hctx,
      );
      hcall.end();
      hostileAgent.end();
      traces.hostile = hostileAgent.spanContext().traceId;
      await t.flush();
    });
  } finally {
    stopGlobals();
  }

  // Acknowledged is durable; stored is a moment later. Wait until every response answers.
  for (const id of Object.values(ids)) {
    for (let i = 0; ; i++) {
      const res = await fetch(`${url}/v1/provenance?response_id=${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${admin}` } });
      if (res.status === 200) break;
      if (i > 300) throw new Error(`response ${id} was not stored: ${res.status}\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  return {
    server,
    url,
    keys,
    prompt,
    hostilePrompt,
    responses: ids,
    traces,
    productionMovedAt,
    async stop() {
      await server.stop();
      removeDir(server.dataDir);
    },
  };
}
