import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// An OpenAI-compatible fake on loopback: POST /v1/chat/completions and POST /v1/responses, with
// ids, dated model snapshots and token usage shaped like the real API's. When the request offers
// tools and no tool result has come back yet, it asks for the first tool, so an agent loop runs
// through a real tool call. No network, no key: any bearer token is accepted.

export interface FakeOpenAI {
  /** Base URL for the OpenAI SDK's `baseURL` (ends in /v1). */
  baseURL: string;
  /** Every request body received, in order. */
  requests: Array<{ path: string; body: any }>;
  close(): Promise<void>;
}

export interface FakeOpenAIOptions {
  port?: number;
  /** The assistant's text for a request; by default a short answer naming the last user words. */
  reply?: (lastUserText: string) => string;
}

const SNAPSHOTS: Record<string, string> = {
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
};
const snapshotOf = (model: string) => SNAPSHOTS[model] ?? model;
const base62 = (n: number) => [...randomBytes(n)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62]).join('');
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
/** About four characters a token, as for English text. */
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));
const textOf = (content: unknown): string =>
  typeof content === 'string' ? content : Array.isArray(content) ? content.map((p: any) => (typeof p === 'string' ? p : (p?.text ?? ''))).join(' ') : '';
const defaultReply = (last: string) => `Here is what I found about "${last.slice(0, 80)}".`;

function chatCompletion(body: any, reply: (s: string) => string) {
  const messages: any[] = Array.isArray(body.messages) ? body.messages : [];
  const promptText = messages.map((m) => textOf(m.content)).join('\n');
  const lastUser = textOf([...messages].reverse().find((m) => m.role === 'user')?.content);
  const tool = Array.isArray(body.tools) && body.tools.length > 0 && !messages.some((m) => m.role === 'tool') ? body.tools[0] : null;
  const message = tool
    ? { role: 'assistant', content: null, refusal: null, annotations: [], tool_calls: [{ id: `call_${base62(24)}`, type: 'function', function: { name: tool.function?.name ?? 'tool', arguments: JSON.stringify({ query: lastUser.slice(0, 200) }) } }] }
    : { role: 'assistant', content: reply(lastUser), refusal: null, annotations: [] };
  const promptTokens = tokens(promptText);
  const completionTokens = tokens(message.content ?? JSON.stringify(message.tool_calls));
  return {
    id: `chatcmpl-${base62(29)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: snapshotOf(String(body.model)),
    choices: [{ index: 0, message, logprobs: null, finish_reason: tool ? 'tool_calls' : 'stop' }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: `fp_${hex(5)}`,
  };
}

function response(body: any, reply: (s: string) => string) {
  const input: any[] = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : [];
  const promptText = [textOf(body.instructions), ...input.map((i) => textOf(i.content ?? i.output))].join('\n');
  const lastUser = textOf([...input].reverse().find((i) => i.role === 'user')?.content);
  const tool = Array.isArray(body.tools) && body.tools.length > 0 && !input.some((i) => i.type === 'function_call_output') ? body.tools[0] : null;
  const item = tool
    ? { type: 'function_call', id: `fc_${hex(24)}`, call_id: `call_${base62(24)}`, name: tool.name ?? 'tool', arguments: JSON.stringify({ query: lastUser.slice(0, 200) }), status: 'completed' }
    : { type: 'message', id: `msg_${hex(24)}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: reply(lastUser), annotations: [], logprobs: [] }] };
  const inputTokens = tokens(promptText);
  const outputTokens = tokens(JSON.stringify(item));
  const created = Math.floor(Date.now() / 1000);
  return {
    id: `resp_${hex(24)}`,
    object: 'response',
    created_at: created,
    completed_at: created,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: snapshotOf(String(body.model)),
    output: [item],
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    temperature: body.temperature ?? 1,
    tool_choice: 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    usage: { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: outputTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: inputTokens + outputTokens },
    metadata: {},
  };
}

/** Chat completion chunks as server-sent events, the last one carrying usage (stream_options.include_usage). */
function streamChat(res: ServerResponse, completion: ReturnType<typeof chatCompletion>, includeUsage: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': `req_${hex(16)}` });
  const head = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model, system_fingerprint: completion.system_fingerprint, service_tier: 'default' };
  const choice = completion.choices[0]!;
  const send = (o: object) => res.write(`data: ${JSON.stringify({ ...head, ...o })}\n\n`);
  send({ choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }] });
  for (const word of (choice.message.content ?? '').split(/(?<= )/)) send({ choices: [{ index: 0, delta: { content: word }, logprobs: null, finish_reason: null }] });
  send({ choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: choice.finish_reason }] });
  if (includeUsage) send({ choices: [], usage: completion.usage });
  res.end('data: [DONE]\n\n');
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const reply = opts.reply ?? defaultReply;
  const requests: FakeOpenAI['requests'] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const answer = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${hex(16)}` });
      res.end(JSON.stringify(body));
    };
    readJson(req).then(
      (body) => {
        requests.push({ path, body });
        if (req.method === 'POST' && path === '/v1/chat/completions') {
          const completion = chatCompletion(body, reply);
          return body.stream ? streamChat(res, completion, body.stream_options?.include_usage === true) : answer(200, completion);
        }
        if (req.method === 'POST' && path === '/v1/responses') return answer(200, response(body, reply));
        answer(404, { error: { message: `Unknown request URL: ${req.method} ${path}.`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
      },
      () => answer(400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null } }),
    );
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Run on its own: `node examples/agent/fake-openai.ts [port]` serves until stopped.
if (import.meta.main) {
  const fake = await startFakeOpenAI({ port: Number(process.argv[2] ?? 0) });
  console.log(`fake OpenAI API on ${fake.baseURL}`);
}
