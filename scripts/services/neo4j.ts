import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j from 'neo4j-driver';

// A real Neo4j 5.26 LTS Community server on loopback, for tests and contributors, with no Docker:
// its jars come from Maven Central (org.neo4j:neo4j) and run on the machine's Java 17. The jars
// are cached in ~/.cache/promptline (or $PROMPTLINE_CACHE_DIR) and fetched once with Maven.

export const NEO4J_VERSION = '5.26.24';

function cacheDir(): string {
  return process.env.PROMPTLINE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'promptline');
}

function has(cmd: string): boolean {
  try {
    execFileSync(cmd, ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    try {
      execFileSync(cmd, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }
}

/** Why a local Neo4j cannot be started here, or null when it can. */
export function whyNoLocalNeo4j(): string | null {
  if (!has('java')) return 'no Java on PATH (Neo4j 5.26 needs Java 17: apt-get install openjdk-17-jre-headless)';
  if (!existsSync(join(libDir(), '.complete')) && !has('mvn')) return 'the Neo4j jars are not cached and there is no Maven to fetch them (apt-get install maven)';
  return null;
}

function libDir(): string {
  return join(cacheDir(), `neo4j-${NEO4J_VERSION}`, 'lib');
}

/** The server's jars, fetched from Maven Central on first use. */
function ensureNeo4jJars(log: (line: string) => void = () => {}): string {
  const lib = libDir();
  if (existsSync(join(lib, '.complete'))) return lib;
  log(`fetching Neo4j ${NEO4J_VERSION} jars from Maven Central into ${lib} (once)…`);
  const work = mkdtempSync(join(tmpdir(), 'neo4j-pom-'));
  try {
    writeFileSync(
      join(work, 'pom.xml'),
      `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.promptline</groupId><artifactId>neo4j-server-jars</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>org.neo4j</groupId><artifactId>neo4j</artifactId><version>${NEO4J_VERSION}</version></dependency></dependencies>
</project>\n`,
    );
    rmSync(lib, { recursive: true, force: true });
    mkdirSync(lib, { recursive: true });
    execFileSync('mvn', ['-q', '-B', '-f', join(work, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (!readdirSync(lib).some((f) => f.startsWith(`neo4j-${NEO4J_VERSION}`))) throw new Error('Maven did not bring the Neo4j jars');
    writeFileSync(join(lib, '.complete'), new Date().toISOString());
    return lib;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface LocalNeo4jOptions {
  /** The server's home: configuration, data, logs. Reused across starts (data persists). */
  home: string;
  boltPort: number;
  /** The password for user neo4j; on a home that already has data, the one set when it was made. */
  password?: string;
  heapMb?: number;
  /** Keep running after this process exits (services:up). */
  detached?: boolean;
  log?: (line: string) => void;
}

const PASSWORD_FILE = 'promptline-password';
const PID_FILE = 'promptline-neo4j.pid';

export class LocalNeo4j {
  readonly home: string;
  readonly boltPort: number;
  readonly user = 'neo4j';
  readonly password: string;
  private readonly opts: LocalNeo4jOptions;
  private child: ChildProcess | null = null;

  constructor(opts: LocalNeo4jOptions) {
    this.opts = opts;
    this.home = opts.home;
    this.boltPort = opts.boltPort;
    const pwFile = join(opts.home, PASSWORD_FILE);
    this.password = existsSync(pwFile) ? readFileSync(pwFile, 'utf8').trim() : (opts.password ?? randomBytes(12).toString('hex'));
  }

  get url(): string {
    return `bolt://127.0.0.1:${this.boltPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid ?? readPid(this.home);
  }

  private writeConfig(): void {
    for (const d of ['conf', 'data', 'logs', 'run', 'plugins', 'import']) mkdirSync(join(this.home, d), { recursive: true });
    const heap = this.opts.heapMb ?? 512;
    writeFileSync(
      join(this.home, 'conf', 'neo4j.conf'),
      [
        'server.default_listen_address=127.0.0.1',
        `server.bolt.listen_address=127.0.0.1:${this.boltPort}`,
        'server.bolt.advertised_address=127.0.0.1',
        'server.http.enabled=false',
        'server.https.enabled=false',
        'dbms.security.auth_enabled=true',
        'dbms.usage_report.enabled=false',
        `server.memory.heap.initial_size=${Math.min(256, heap)}m`,
        `server.memory.heap.max_size=${heap}m`,
        'server.memory.pagecache.size=128m',
        `server.directories.data=${join(this.home, 'data')}`,
        `server.directories.logs=${join(this.home, 'logs')}`,
        `server.directories.run=${join(this.home, 'run')}`,
        `server.directories.plugins=${join(this.home, 'plugins')}`,
        `server.directories.import=${join(this.home, 'import')}`,
        '',
      ].join('\n'),
    );
  }

  /** Starts the server and waits until Bolt takes the credentials. */
  async start(timeoutMs = 180_000): Promise<void> {
    const lib = ensureNeo4jJars(this.opts.log);
    this.writeConfig();
    const env = { ...process.env, NEO4J_HOME: this.home, NEO4J_CONF: join(this.home, 'conf') };
    const classpath = `${lib}/*`;
    const pwFile = join(this.home, PASSWORD_FILE);
    if (!existsSync(pwFile)) {
      execFileSync('java', ['-cp', classpath, 'org.neo4j.cli.AdminTool', 'dbms', 'set-initial-password', this.password], { env, stdio: 'ignore' });
      writeFileSync(pwFile, this.password, { mode: 0o600 });
    }
    const out = openSync(join(this.home, 'logs', 'console.log'), 'a');
    const heap = this.opts.heapMb ?? 512;
    this.child = spawn(
      'java',
      [`-Xmx${heap}m`, '-XX:+UseG1GC', '-cp', classpath, 'org.neo4j.server.CommunityEntryPoint', `--home-dir=${this.home}`, `--config-dir=${join(this.home, 'conf')}`],
      { env, stdio: ['ignore', out, out], detached: this.opts.detached ?? false },
    );
    closeSync(out);
    writeFileSync(join(this.home, PID_FILE), String(this.child.pid));
    if (this.opts.detached) this.child.unref();
    const exited = new Promise<number | null>((r) => this.child!.once('exit', (code) => r(code)));
    const ready = this.waitForBolt(timeoutMs);
    const result = await Promise.race([ready.then(() => 'ready' as const), exited.then((code) => code)]);
    if (result !== 'ready') {
      throw new Error(`Neo4j exited with ${result} while starting; see ${join(this.home, 'logs')}`);
    }
  }

  private async waitForBolt(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const driver = neo4j.driver(this.url, neo4j.auth.basic(this.user, this.password), { connectionTimeout: 2_000 });
    try {
      for (;;) {
        try {
          await driver.executeQuery('RETURN 1');
          return;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`Neo4j did not answer on ${this.url} within ${timeoutMs} ms: ${(err as Error).message}`, { cause: err });
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      await driver.close();
    }
  }

  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`) and waits until it is gone. */
  async stop(graceMs = 60_000): Promise<void> {
    const pid = this.pid;
    if (!pid || !alive(pid)) return cleanupPid(this.home);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (alive(pid)) {
      if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
    }
    this.child = null;
    cleanupPid(this.home);
  }

  /** Kill -9: the server gets no chance to close anything. */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (!pid || !alive(pid)) return;
    process.kill(pid, 'SIGKILL');
    while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
    this.child = null;
    cleanupPid(this.home);
  }
}

function readPid(home: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(home, PID_FILE), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function cleanupPid(home: string): void {
  rmSync(join(home, PID_FILE), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie child still answers signal 0; /proc tells whether it has exited.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** A running local Neo4j recorded in a home directory, if any. */
export function runningIn(home: string): number | undefined {
  const pid = readPid(home);
  return pid && alive(pid) ? pid : undefined;
}
