import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// The part of Langfuse's public API that its Python SDK needs here, on loopback: GET
// /api/public/v2/prompts/{name}?version=N answers a text prompt of that name and version (the
// shape of Langfuse's Prompt_Text), and POST /api/public/otel/v1/traces, where the SDK's own
// exporter sends its spans, accepts and drops them (Promptline gets them from the standard OTLP
// exporter the case adds). Any basic-auth key pair is accepted.

export interface FakeLangfuse {
  baseURL: string;
  /** GET paths of prompt fetches, in order. */
  promptFetches: string[];
  /** How many OTLP requests the SDK's own exporter sent. */
  droppedTraceRequests(): number;
  close(): Promise<void>;
}

export async function startFakeLangfuse(template: string): Promise<FakeLangfuse> {
  const promptFetches: string[] = [];
  let dropped = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    req.resume();
    req.on('end', () => {
      const prompt = /^\/api\/public\/v2\/prompts\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && prompt) {
        promptFetches.push(`${url.pathname}${url.search}`);
        const version = Number(url.searchParams.get('version') ?? '1');
        const body = { type: 'text', name: decodeURIComponent(prompt[1]!), version, prompt: template, config: {}, labels: ['production'], tags: [], commitMessage: null };
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(body));
      }
      if (req.method === 'POST' && url.pathname === '/api/public/otel/v1/traces') {
        dropped++;
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        return res.end();
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `no fake for ${req.method} ${url.pathname}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}`,
    promptFetches,
    droppedTraceRequests: () => dropped,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
