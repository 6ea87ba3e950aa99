import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, removeDir } from '../helpers/server.ts';

// `npm pack` of the service, installed globally into a temporary prefix as a user would
// (npm install -g ./promptline-<version>.tgz, dependencies from the configured registry through
// the user's npm cache), then run from a folder outside the checkout with the machine's own `node`
// first on PATH: `version`, `serve` with the embedded stores, and a client command against it.

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const INSTALL_TIMEOUT_MS = 900_000;

/** PATH as a user's shell has it: no node_modules/.bin of the checkout (npm scripts and Vitest put it first). */
const userPath = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir && !dir.includes('node_modules'));
/** The first `node` on that PATH: on this project's machines Node 20, older than the CLI needs. */
const machineNode = userPath.map((dir) => join(dir, 'node')).find((file) => existsSync(file) && statSync(file).isFile());

let work: string;
let prefix: string;
let elsewhere: string;
let files: string[];
let installSeconds: number;

/** The environment of a user's shell with the installed package's bin folder on PATH, and no store servers. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: [join(prefix, 'bin'), ...userPath].join(delimiter), ...extra };
  for (const k of ['NEO4J_URL', 'NEO4J_USER', 'NEO4J_PASSWORD', 'CLICKHOUSE_URL', 'PROMPTLINE_URL', 'PROMPTLINE_API_KEY', 'PROMPTLINE_DEV_NO_AUTH', 'NODE_OPTIONS', 'GLIBC_TUNABLES']) if (!(k in extra)) delete env[k];
  return env;
}

/** The installed command, as npm linked it into the prefix's bin folder (first on the PATH of userEnv). */
const command = () => join(prefix, 'bin/promptline');
const promptline = (args: string[], env: NodeJS.ProcessEnv) => run(command(), args, { cwd: elsewhere, env, timeout: 60_000 });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'promptline-global-'));
  prefix = join(work, 'prefix');
  elsewhere = join(work, 'elsewhere');
  mkdirSync(elsewhere);
  const npmOptions = { maxBuffer: 64 * 1024 * 1024, timeout: INSTALL_TIMEOUT_MS };
  // `npm pack` runs prepack: build:console, then build:cli. Here build:cli alone: the console was
  // built before the run (pretest), and rebuilding it would empty console/dist under the tests that
  // serve it meanwhile.
  if (!existsSync(join(ROOT, 'console/dist/index.html'))) await run('npm', ['run', 'build:console'], { ...npmOptions, cwd: ROOT });
  await run('npm', ['run', 'build:cli'], { ...npmOptions, cwd: ROOT });
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work, '--loglevel=error'], { ...npmOptions, cwd: ROOT });
  const packed = (JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
  files = packed.files.map((f) => f.path);
  const started = performance.now();
  await run('npm', ['install', '--global', '--prefix', prefix, join(work, packed.filename), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { ...npmOptions, cwd: elsewhere, env: userEnv() });
  installSeconds = Math.round((performance.now() - started) / 1000);
  console.log(`npm install -g of ${packed.filename}: ${installSeconds} s`);
}, INSTALL_TIMEOUT_MS * 2);

afterAll(() => {
  if (work) removeDir(work);
});

describe('the packed service, installed globally', () => {
  it('holds the compiled CLI, the built console and the launcher, and no TypeScript sources or tests', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'bin/promptline', 'dist/cli.js', 'dist/server.js', 'dist/ingest/otlp/otlp-trace.descriptor.json', 'console/dist/index.html']));
    expect(files.filter((f) => !/^(bin|dist|console\/dist)\//.test(f) && !['package.json', 'README.md', 'LICENSE'].includes(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
  });

  it("runs `promptline version` from another folder, whatever the machine's node", async () => {
    expect(machineNode, 'a node on PATH outside the checkout').toBeDefined();
    const { stdout: nodeVersion } = await run('node', ['--version'], { cwd: elsewhere, env: userEnv() });
    console.log(`node on PATH: ${machineNode} ${nodeVersion.trim()}`);
    const { stdout } = await promptline(['version'], userEnv());
    expect(stdout).toBe(`${VERSION}\n`);
  });

  it('serves from another folder with the embedded stores, answers a client command, and stops on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = join(work, 'data');
    const child = spawn(command(), ['serve'], { cwd: elsewhere, env: userEnv({ PORT: String(port), HOST: '127.0.0.1', PROMPTLINE_GRPC_PORT: 'off', PROMPTLINE_DATA_DIR: dataDir }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`promptline serve did not start in 60 s:\n${out}`)), 60_000);
        // The bootstrap key's block comes after "ready in": wait for its closing line.
        child.stdout.on('data', () => {
          if (out.includes('create keys for apps and people')) {
            clearTimeout(timer);
            res();
          }
        });
        void exited.then((code) => {
          clearTimeout(timer);
          rej(new Error(`promptline serve exited with ${code} before it was ready:\n${out}`));
        });
      });
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      const key = /store it now:\s+(\S+)/.exec(out)?.[1];
      expect(url, out).toBe(`http://127.0.0.1:${port}`);
      expect(key, out).toBeDefined();
      expect(out).toContain(`data       ${dataDir}  (spans: clickhouse (embedded, chdb); lineage graph: sqlite (embedded))`);
      // The launcher exec'd the installed copy's compiled CLI on the Node installed with it.
      if (existsSync(`/proc/${child.pid}/cmdline`)) {
        const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
        const installed = join(prefix, 'lib/node_modules/promptline');
        expect(cmdline.slice(0, 3)).toEqual([join(installed, `node_modules/node-linux-${process.arch}/bin/node`), join(installed, 'dist/cli.js'), 'serve']);
        // …with malloc's threshold for mapping large blocks fixed, so freed request bodies and rows leave RSS.
        expect(readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0')).toContain('GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576');
      }

      const client = userEnv({ PROMPTLINE_URL: url!, PROMPTLINE_API_KEY: key! });
      const registered = await promptline(['prompts', 'register', 'global-install', '--text', 'Hello {{who}}', '-m', 'from the global install'], client);
      expect(registered.stdout).toMatch(/^registered prompts:\/global-install\/1 /);
      const listed = JSON.parse((await promptline(['prompts', 'list', '--json'], client)).stdout) as { prompts: Array<{ name: string; latestVersion: number }> };
      expect(listed.prompts).toEqual([expect.objectContaining({ name: 'global-install', latestVersion: 1 })]);
      await expect(promptline(['prompts', 'list'], userEnv({ PROMPTLINE_URL: url! }))).rejects.toMatchObject({ code: 1 });

      // The console is in the package, served at / on the same port.
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Promptline</title>');

      child.kill('SIGTERM');
      expect(await exited, out).toBe(0);
      expect(out).toContain('SIGTERM: stopping');
      expect(out).toMatch(/stopped\n$/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
