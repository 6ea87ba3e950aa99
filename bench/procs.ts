import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { LoadConfig, LoadResult, SecondStats } from './loadgen.ts';

// Processes the suite starts: `promptline serve` as a user runs it, the baseline server, the load
// generator and the one-shot helpers. Everything listens on loopback and is stopped by its pid.

export const ROOT = resolve(import.meta.dirname, '..');

async function freePort(): Promise<number> {
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

export interface Served {
  url: string;
  pid: number;
  child: ChildProcess;
  output(): string;
  /** SIGTERM (the server drains what it holds), then the exit code; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts a Node program that prints `readyText` on stdout once it listens. */
async function startProgram(args: string[], env: Record<string, string>, readyText: string, port: number, execArgv: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [...execArgv, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${args.join(' ')} did not start in 120 s:\n${out}`)), 120_000);
    const check = () => {
      if (out.includes(readyText)) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        res();
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`${args.join(' ')} exited with ${code} before it was ready:\n${out}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    child,
    output: () => out,
    async stop(graceMs = 120_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** `promptline serve` with its defaults, authentication on, an ingest-capable bootstrap key. */
export async function startPromptline(opts: { dataDir: string; apiKey: string; env?: Record<string, string>; cpuProfDir?: string; nodeArgs?: string[] }): Promise<Served> {
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    PROMPTLINE_GRPC_PORT: String(await freePort()),
    HOST: '127.0.0.1',
    PROMPTLINE_DATA_DIR: opts.dataDir,
    PROMPTLINE_API_KEY: opts.apiKey,
    PROMPTLINE_LOG_LEVEL: 'warn',
    // The API is rate limited per key; the lookups below make more calls a second than the default allows.
    PROMPTLINE_RATE_LIMIT_PER_SECOND: '100000',
    PROMPTLINE_RATE_LIMIT_BURST: '100000',
    // What bin/promptline (and so `npm start`) sets for `serve`; `--env GLIBC_TUNABLES=` measures without it.
    GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? 'glibc.malloc.mmap_threshold=1048576',
    ...opts.env,
  };
  for (const k of ['NEO4J_URL', 'NEO4J_USER', 'NEO4J_PASSWORD', 'CLICKHOUSE_URL', 'PROMPTLINE_DEV_NO_AUTH']) if (!(k in env)) env[k] = '';
  const nodeArgs = ['--conditions=@promptline/source', ...(opts.nodeArgs ?? []), ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [])];
  return startProgram([join(ROOT, 'src/cli.ts'), 'serve'], env, 'ready in', port, nodeArgs);
}

export async function startBaseline(opts: { dataDir: string; env?: Record<string, string> }): Promise<Served> {
  const port = await freePort();
  return startProgram([join(ROOT, 'bench/baseline-server.ts')], { PORT: String(port), BASELINE_DATA_DIR: opts.dataDir, ...opts.env }, 'baseline ready', port);
}

/** Resident set size of a process, bytes (0 once it is gone). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Resident memory of a process by kind of mapping, MiB, from /proc/PID/smaps. The kinds are told
 * apart by what maps them (checked against V8's own heap figures and the engine's purge):
 * - V8 heap pages are mapped one 256 KiB page at a time, so they are the anonymous mappings under 1 MiB;
 * - the engine's allocator (jemalloc, inside libchdb.so) maps extents that grow past 64 MiB, a size
 *   malloc's arenas never reach (their heaps are at most 64 MiB);
 * - malloc's main arena is `[heap]`: buffers Node allocates on the main thread (request bodies, rows);
 * - anonymous mappings of 1-64 MiB are malloc's other threads' arenas, blocks it maps one by one, and
 *   thread stacks.
 * A block malloc maps for itself over 64 MiB would count as the engine's: the split between those two
 * is approximate, the total exact.
 */
export function memoryMapOf(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  let kind = '';
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return kinds;
  }
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const mib = (parseInt(m[2]!, 16) - parseInt(m[1]!, 16)) / 2 ** 20;
      const name = m[3]!.trim();
      if (name.includes('libchdb')) kind = "engine's code (libchdb.so)";
      else if (name === '[heap]') kind = "malloc's main arena";
      else if (name.startsWith('/')) kind = 'other mapped files';
      else if (name) kind = 'other';
      else if (mib < 1) kind = 'V8 heaps';
      else if (mib > 64) kind = "engine's allocator";
      else kind = "malloc's thread arenas, large buffers, stacks";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && kind) kinds[kind] = (kinds[kind] ?? 0) + Number(rss[1]) / 1024;
  }
  return Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, Math.round(v)]));
}

/** CPU time (user + system) a process has used, ms. */
export function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** Runs the load generator in a process of its own and returns its result. */
export function runLoadgen(cfg: LoadConfig, onSecond?: (s: SecondStats) => void): Promise<LoadResult & { pid: number }> {
  return new Promise((res, rej) => {
    const child = fork(join(ROOT, 'bench/loadgen.ts'), [JSON.stringify(cfg)], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: LoadResult | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), cfg.durationMs + 180_000);
    child.on('message', (m: { type: string; second?: SecondStats; result?: LoadResult }) => {
      if (m.type === 'second' && m.second) onSecond?.(m.second);
      if (m.type === 'result') result = m.result;
    });
    child.once('exit', (code) => {
      clearTimeout(guard);
      if (result) res({ ...result, pid: child.pid! });
      else rej(new Error(`the load generator exited with ${code} and no result`));
    });
  });
}

/** Runs a one-shot bench script in a process of its own (the ClickHouse engine allows one data directory per process) and returns its JSON. */
export function runScript<T>(script: string, args: string[], timeoutMs: number): Promise<T> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(ROOT, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(guard);
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        res(JSON.parse(last) as T);
      } catch (err) {
        rej(new Error(`${script} failed (${(err as Error).message}):\n${out.slice(-4000)}`));
      }
    });
  });
}

/** CPU ms per thread group of a process, from /proc/PID/task/*\/stat. */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * 10;
      const group = threadGroup(name);
      out.set(group, (out.get(group) ?? 0) + ms);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

export function threadGroup(name: string): string {
  if (name === 'MainThread' || name === 'node') return 'JavaScript main thread';
  // The writer's worker thread (src/ingest/writer/prepare-worker.ts), named so; Linux keeps 15 characters.
  if (name.startsWith('promptline-pre')) return "writer's preparation thread (decoding, lineage, row encoding)";
  if (name.startsWith('V8Worker') || name.startsWith('V8 ')) return 'V8 helpers (GC, compiler)';
  if (name.startsWith('libuv-worker')) return 'libuv pool (chdb insert and query calls, fsync)';
  if (name.startsWith('MergeMutate') || name.startsWith('BgSchPool') || name.startsWith('BgMBSchPool') || name.startsWith('Merge')) return 'ClickHouse merges and background';
  return 'ClickHouse insert and query pipelines';
}

export function cpuDiff(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) > 0) out[k] = v - (a.get(k) ?? 0);
  return out;
}
