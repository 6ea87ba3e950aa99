import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// No client can hold the server's descriptors or memory: connections per address are capped, a
// silent connection is closed, and bodies still being read count against the receiver's budget.
// 127.0.0.2 and 127.0.0.3 are loopback on Linux: sockets from them count apart from fetch's (127.0.0.1).

const KiB = 1024;
const MiB = 1024 * KiB;
const PER_CLIENT = 20;

interface RawSocket {
  socket: Socket;
  received: () => string;
  closed: () => boolean;
  whenClosed: Promise<void>;
}

async function rawSocket(port: number, localAddress: string): Promise<RawSocket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  let data = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('error', () => {
    // the server closing a refused socket may reset it: the close is what is asserted
  });
  const whenClosed = new Promise<void>((r) =>
    socket.once('close', () => {
      closed = true;
      r();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed: () => closed, whenClosed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const postEmpty = (url: string) => fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans":[]}' });

describe('connection and in-flight limits', () => {
  let server: ServerUnderTest;
  const sockets: RawSocket[] = [];

  beforeAll(async () => {
    server = await startServer({ env: { PROMPTLINE_MAX_CONNECTIONS_PER_CLIENT: String(PER_CLIENT), PROMPTLINE_RECEIVER_MAX_INFLIGHT_BYTES: String(MiB) } });
  });

  afterAll(async () => {
    for (const s of sockets) s.socket.destroy();
    if (!server) return;
    const code = await server.stop();
    removeDir(server.dataDir);
    expect(code).toBe(0);
  });

  it('answers connections from one address past its cap with 429 and closes them, while others are served', async () => {
    const opened: RawSocket[] = [];
    for (let i = 0; i < PER_CLIENT + 5; i++) opened.push(await rawSocket(server.port, '127.0.0.2'));
    sockets.push(...opened);
    await eventually(async () => (opened.filter((s) => s.closed()).length >= 5 ? true : undefined), 'the refused sockets to close', 10_000);
    await sleep(300);
    const refused = opened.filter((s) => s.closed());
    expect(refused).toHaveLength(5);
    for (const s of refused) {
      expect(s.received()).toMatch(/^HTTP\/1\.1 429 /);
      expect(s.received()).toMatch(/\r\nRetry-After: \d+\r\n/i);
    }
    // The ones within the cap are still open, and other addresses are served.
    expect(opened.filter((s) => !s.closed())).toHaveLength(PER_CLIENT);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    // Closing them gives the address its connections back.
    for (const s of opened) s.socket.destroy();
    await Promise.all(opened.map((s) => s.whenClosed));
    await eventually(async () => {
      const s = await rawSocket(server.port, '127.0.0.2');
      sockets.push(s);
      s.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      await s.whenClosed;
      return /^HTTP\/1\.1 200 /.test(s.received()) ? true : undefined;
    }, 'a new connection from the address to be served', 10_000);
  });

  it('counts bodies still being read against the in-flight budget, and gives the bytes back when they are aborted', async () => {
    expect((await postEmpty(server.url)).status).toBe(200);
    // Two uploads that send most of their body and stall: 1.4 MiB held, over the 1 MiB budget.
    const stalled: RawSocket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await rawSocket(server.port, '127.0.0.3');
      stalled.push(s);
      sockets.push(s);
      s.socket.write(`POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${MiB}\r\n\r\n`);
      s.socket.write('{"resourceSpans":[' + ' '.repeat(700 * KiB));
    }
    const busy = await eventually(async () => {
      const res = await postEmpty(server.url);
      await res.arrayBuffer();
      return res.status === 429 ? res : undefined;
    }, 'a new request to be refused while others are mid-upload', 20_000);
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
    // The stalled uploads are still waiting for the rest of their bodies: not answered, not closed.
    for (const s of stalled) {
      expect(s.closed()).toBe(false);
      expect(s.received()).toBe('');
    }

    for (const s of stalled) s.socket.destroy();
    await Promise.all(stalled.map((s) => s.whenClosed));
    await eventually(async () => {
      const res = await postEmpty(server.url);
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    }, 'the budget to be given back', 20_000);
  });
});

describe('idle connections', () => {
  let server: ServerUnderTest;
  const sockets: RawSocket[] = [];

  beforeAll(async () => {
    server = await startServer({ env: { PROMPTLINE_IDLE_TIMEOUT_MS: '500' } });
  });

  afterAll(async () => {
    for (const s of sockets) s.socket.destroy();
    if (!server) return;
    const code = await server.stop();
    removeDir(server.dataDir);
    expect(code).toBe(0);
  });

  it('closes a connection that never sends anything', { timeout: 30_000 }, async () => {
    const s = await rawSocket(server.port, '127.0.0.1');
    sockets.push(s);
    await s.whenClosed;
    expect(s.received()).toBe('');
  });

  it('closes a kept-alive connection once it sits idle after an answer', { timeout: 30_000 }, async () => {
    const s = await rawSocket(server.port, '127.0.0.1');
    sockets.push(s);
    s.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await s.whenClosed;
    expect(s.received()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('still serves new requests', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
