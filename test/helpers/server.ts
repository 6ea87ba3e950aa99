import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
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
export async function startServer(opts: { dataDir?: string; port?: number; grpcPort?: number; env?: Record<string, string>; auth?: boolean } = {}): Promise<ServerUnderTest> {
  const dataDir = opts.dataDir ?? tempDataDir();
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
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
    async kill() {
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
