import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// An Anthropic Messages API fake on loopback: POST /v1/messages, answered as JSON or, with
// `stream: true`, as the server-sent events the real API sends (message_start,
// content_block_start/delta/stop, message_delta, message_stop), with `msg_…` ids, dated model
// snapshots and token usage shaped like the real API's. No network, no key: any key is accepted.

export interface FakeAnthropic {
  /** Base URL for the Anthropic SDK's `baseURL` (the SDK adds /v1/messages). */
  baseURL: string;
  /** Every request body received, in order. */
  requests: Array<{ path: string; body: any }>;
  close(): Promise<void>;
}

export interface FakeAnthropicOptions {
  port?: number;
  /** The assistant's text for a request; by default a short answer naming the last user words. */
  reply?: (lastUserText: string) => string;
}

const SNAPSHOTS: Record<string, string> = {
  'claude-sonnet-4-5': 'claude-sonnet-4-5-20250929',
  'claude-haiku-4-5': 'claude-haiku-4-5-20251001',
  'claude-opus-4-1': 'claude-opus-4-1-20250805',
};
const snapshotOf = (model: string) => SNAPSHOTS[model] ?? model;
const base62 = (n: number) => [...randomBytes(n)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62]).join('');
/** About four characters a token, as for English text. */
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));
const textOf = (content: unknown): string =>
  typeof content === 'string' ? content : Array.isArray(content) ? content.map((p: any) => (typeof p === 'string' ? p : (p?.text ?? ''))).join(' ') : '';
const defaultReply = (last: string) => `Here is what I found about "${last.slice(0, 80)}".`;

function message(body: any, reply: (s: string) => string) {
  const messages: any[] = Array.isArray(body.messages) ? body.messages : [];
  const promptText = [textOf(body.system), ...messages.map((m) => textOf(m.content))].join('\n');
  const lastUser = textOf([...messages].reverse().find((m) => m.role === 'user')?.content);
  const text = reply(lastUser);
  return {
    id: `msg_01${base62(22)}`,
    type: 'message',
    role: 'assistant',
    model: snapshotOf(String(body.model)),
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: tokens(promptText), cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: tokens(text), service_tier: 'standard' },
  };
}

/** The message as the real API streams it: the usage of message_start, then the final output count in message_delta. */
function streamMessage(res: ServerResponse, msg: ReturnType<typeof message>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': `req_01${base62(22)}` });
  const send = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  send('message_start', { message: { ...msg, content: [], stop_reason: null, usage: { ...msg.usage, output_tokens: 1 } } });
  send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  send('ping', {});
  for (const word of msg.content[0]!.text.split(/(?<= )/)) send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: word } });
  send('content_block_stop', { index: 0 });
  send('message_delta', { delta: { stop_reason: msg.stop_reason, stop_sequence: null }, usage: { output_tokens: msg.usage.output_tokens } });
  send('message_stop', {});
  res.end();
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

export async function startFakeAnthropic(opts: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const reply = opts.reply ?? defaultReply;
  const requests: FakeAnthropic['requests'] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const answer = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_01${base62(22)}` });
      res.end(JSON.stringify(body));
    };
    readJson(req).then(
      (body) => {
        requests.push({ path, body });
        if (req.method === 'POST' && path === '/v1/messages') {
          if (typeof body.model !== 'string' || !Array.isArray(body.messages) || typeof body.max_tokens !== 'number') {
            return answer(400, { type: 'error', error: { type: 'invalid_request_error', message: 'model, messages and max_tokens are required' } });
          }
          const msg = message(body, reply);
          return body.stream === true ? streamMessage(res, msg) : answer(200, msg);
        }
        answer(404, { type: 'error', error: { type: 'not_found_error', message: `Not found: ${req.method} ${path}` } });
      },
      () => answer(400, { type: 'error', error: { type: 'invalid_request_error', message: 'the request body is not valid JSON' } }),
    );
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
