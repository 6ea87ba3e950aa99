import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// Runs `promptline serve` as a child process, as a user would: its own port, its own data
// directory, stopped with a signal. The ClickHouse engine allows one data directory per process,
// so every server under test is a process of its own.

const ROOT = resolve(import.meta.dirname, '../..');

export interface ServerUnderTest {
  url: string;
  port: number;
  /** The OTLP/gRPC receiver's port (a free one of its own unless the test asks for one). */
  grpcPort: number;
  /** host:port of the OTLP/gRPC receiver, as a grpc-js client takes it. */
  grpcAddress: string;
  /** http://host:port of the OTLP/gRPC receiver, as the OpenTelemetry gRPC exporter takes it. */
  grpcUrl: string;
  dataDir: string;
  process: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Kill -9: no chance to flush anything. */
  kill(): Promise<void>;
}

/**
 * The first port of the kernel's ephemeral range: the ports outgoing connections take their local
 * ports from. A port handed out below it cannot be taken by a connection the tests open meanwhile
 * (to Neo4j, to another server under test) before the server that is to listen on it does.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const PORT_RANGE = { low: 10_000, high: ephemeralLow() };

function listenable(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** A port free now, drawn at random below the ephemeral range (test files run side by side draw apart). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * (PORT_RANGE.high - PORT_RANGE.low));
    if (await listenable(port)) return port;
  }
  throw new Error(`no free port found between ${PORT_RANGE.low} and ${PORT_RANGE.high}`);
}

export function tempDataDir(prefix = 'promptline-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `promptline serve`. Tests of other features run it with authentication off
 * (PROMPTLINE_DEV_NO_AUTH, loopback only); `auth: true` runs it as in production, with keys.
 */
type ServerOptions = { dataDir?: string; port?: number; grpcPort?: number; env?: Record<string, string>; auth?: boolean };

export async function startServer(opts: ServerOptions = {}): Promise<ServerUnderTest> {
  const dataDir = opts.dataDir ?? tempDataDir();
  // A port drawn here may still be taken by another process before the server listens on it (the
  // server refuses a busy port before it touches the data directory): then it starts again on
  // other ports. Ports the test chose are the test's to keep.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts, dataDir);
    } catch (err) {
      const busy = err instanceof Error && /is in use by another process/.test(err.message);
      if (!busy || attempt >= 3 || (opts.port !== undefined && opts.grpcPort !== undefined)) throw err;
    }
  }
}

async function launch(opts: ServerOptions, dataDir: string): Promise<ServerUnderTest> {
  const port = opts.port ?? (await freePort());
  // Never the default 4317: servers of tests running side by side would take each other's.
  const grpcPort = opts.grpcPort ?? (await freePort());
  // process.execPath is the Node that runs the tests (24, from the npm registry). Server backends
  // are used only where a test asks for them in `env`: the run's NEO4J_URL is not inherited.
  const inherited = { ...process.env };
  for (const k of ['NEO4J_URL', 'NEO4J_USER', 'NEO4J_PASSWORD', 'CLICKHOUSE_URL']) delete inherited[k];
  const child = spawn(process.execPath, ['--conditions=@promptline/source', join(ROOT, 'src/cli.ts'), 'serve'], {
    cwd: ROOT,
    env: { ...inherited, PORT: String(port), PROMPTLINE_GRPC_PORT: String(grpcPort), HOST: '127.0.0.1', PROMPTLINE_DATA_DIR: dataDir, PROMPTLINE_FLUSH_INTERVAL_MS: '20', PROMPTLINE_DEV_NO_AUTH: opts.auth ? '' : '1', PROMPTLINE_RATE_LIMIT_PER_SECOND: '100000', PROMPTLINE_RATE_LIMIT_BURST: '100000', PROMPTLINE_INGEST_RATE_PER_SECOND: '100000', PROMPTLINE_INGEST_RATE_BURST: '100000', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`promptline serve did not start in 60 s:\n${out}`)), 60_000);
    const check = () => {
      if (out.includes('ready in')) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`promptline serve exited with ${code} before it was ready:\n${out}`));
    });
  });
  // A server that ends while its test still uses it says why, in the test's output.
  let stopping = false;
  void exited.then((code) => {
    if (!stopping) process.stderr.write(`promptline serve (port ${port}) exited unexpectedly with ${code}:\n${out.slice(-20_000)}\n`);
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    grpcPort,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    dataDir,
    process: child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      stopping = true;
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
    async kill() {
      stopping = true;
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls `fn` until it returns a value other than undefined (the writer is asynchronous by design). */
export async function eventually<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.toString() : JSON.stringify(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET /v1/provenance?key=value; undefined while it answers 404 (not written yet). */
export async function provenance(url: string, query: Record<string, string>): Promise<any> {
  const res = await fetch(`${url}/v1/provenance?${new URLSearchParams(query)}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`provenance answered ${res.status}: ${await res.text()}`);
  return res.json();
}
