import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Where a version came from: v2 of a prompt is registered as produced by an optimizer run trained
// on a dataset, from v1 and a version of another prompt; responses of v2 arrive over OTLP. Impact
// from the dataset names v2 (and v3, derived from it) with the path through the run, counting
// their responses; the compliance report of a v2 response shows the run, its hostile name as text.
// On SQLite and on Neo4j, through a real server (and the CLI).

const ROOT = resolve(import.meta.dirname, '../..');
const neo4j = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'SQLite', env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else describe('optimization lineage on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));

const HOSTILE = 'gepa <script>alert(1)</script> *bold* [x](http://evil.example) | `tick`';

describe.each(backends)('optimization lineage on $backend', ({ env }) => {
  let server: ServerUnderTest;
  const tag = randomBytes(3).toString('hex');
  const prompt = `answer-${tag}`;
  const other = `tone-${tag}`;
  // Neo4j may be shared by runs: the dataset is this run's own.
  const dataset = `golden-2026-10-${tag}`;
  const runId = `mipro-${tag}`;
  const kv = (key: string, value: string | number) => (typeof value === 'number' ? { key, value: { intValue: String(value) } } : { key, value: { stringValue: value } });
  const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
  };
  const register = (name: string, template: string, extra: object = {}) => call('POST', `/v1/prompts/${name}/versions`, { template, commitMessage: `${template} registered`, ...extra });

  function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((res, rej) => {
      const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: { ...process.env, PROMPTLINE_URL: server.url }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', rej);
      child.once('close', (code) => res({ code, stdout, stderr }));
    });
  }

  /** A response of `version` of the prompt (no dataset on the span: the optimizer's dataset reaches it through the registry). */
  const response = (version: number, i: number) => ({
    resource: { attributes: [kv('service.name', 'support-bot'), kv('service.version', '3.0.0')] },
    scopeSpans: [
      {
        spans: [
          {
            traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), name: 'chat', kind: 3, startTimeUnixNano: ns(Date.now() + i), endTimeUnixNano: ns(Date.now() + i + 300), status: { code: 1 },
            attributes: [kv('gen_ai.prompt.name', prompt), kv('gen_ai.prompt.version', version), kv('gen_ai.response.id', `r-${tag}-${version}-${i}`), kv('gen_ai.response.model', 'gpt-4o')],
          },
        ],
      },
    ],
  });

  beforeAll(async () => {
    server = await startServer({ env });
    expect((await register(prompt, 'v1: {{q}}')).status).toBe(201);
    expect((await register(other, 'Be kind.')).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('registers a version with what produced it, keeps it with the version and in the audit entry, and refuses versions that do not exist', async () => {
    const origin = { derivedFrom: [{ name: prompt, version: 1 }, { name: other, version: 1 }], optimizer: { name: HOSTILE, runId, dataset, scorer: 'exact_match', score: 0.91 } };
    const v2 = await register(prompt, 'v2: {{q}}', { origin });
    expect(v2.status).toBe(201);
    expect(v2.body).toMatchObject({ version: 2, baseVersion: 1, origin });
    expect((await call('GET', `/v1/prompts/${prompt}/versions/2`)).body.origin).toEqual(origin);
    expect((await call('GET', `/v1/prompts/${prompt}/versions/1`)).body.origin).toBeNull();
    // v3 is derived from v2 the ordinary way (the latest before it).
    expect((await register(prompt, 'v3: {{q}}')).body).toMatchObject({ version: 3, baseVersion: 2, origin: null });

    const audit = await call('GET', `/v1/audit?target=${encodeURIComponent(`prompts:/${prompt}/2`)}`);
    expect(audit.status).toBe(200);
    expect(audit.body.entries.map((e: { action: string; after: { origin?: unknown } }) => [e.action, e.after.origin])).toEqual([['prompt.register', origin]]);

    const unknown = await register(prompt, 'from nowhere', { origin: { derivedFrom: [{ name: other, version: 7 }] } });
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain(`${other} version 7 is not registered`);
    const noRun = await register(prompt, 'half a run', { origin: { optimizer: { name: 'gepa' } } });
    expect(noRun.status).toBe(400);
    expect(noRun.text).toMatch(/runId/);
    expect((await call('GET', `/v1/prompts/${prompt}/versions/latest`)).body.version).toBe(3);
    // Versions stay immutable, origin and all.
    expect((await call('PUT', `/v1/prompts/${prompt}/versions/2`, { origin: {} })).status).toBe(405);
  });

  it('answers impact from the dataset with the versions its optimizer run produced, the path through the run, and their responses', async () => {
    const resourceSpans = [...Array.from({ length: 6 }, (_, i) => response(2, i)), ...Array.from({ length: 3 }, (_, i) => response(1, 100 + i))];
    expect((await call('POST', '/v1/traces', { resourceSpans })).status).toBe(200);
    await eventually(async () => {
      const r = await call('GET', '/readyz');
      return r.body.writer.queuedRecords === 0 && r.body.spool.pendingRecords === 0 ? true : undefined;
    }, 'ingest');

    const a = await call('GET', `/v1/impact?dataset=${dataset}`);
    expect(a.status).toBe(200);
    expect(a.body.responses.count).toBe(0); // no span names the dataset: the registry does
    const derived = a.body.derivedVersions.map((d: { name: string; version: string; depth: number; count: number }) => [d.name, d.version, d.depth, d.count]);
    expect(derived).toEqual([[prompt, '2', 2, 6], [prompt, '3', 3, 0]]);
    const steps = (d: { path: Array<{ from: { kind: string; parts: string[] }; rel: string; to: { kind: string; parts: string[] } }> }) => d.path.map((s) => `${s.from.kind}(${s.from.parts.join('/')}) ${s.rel} ${s.to.kind}(${s.to.parts.join('/')})`);
    expect(steps(a.body.derivedVersions[0])).toEqual([`OptimizerRun(${HOSTILE}/${runId}) TRAINED_ON Dataset(${dataset})`, `PromptVersion(${prompt}/2) PRODUCED_BY OptimizerRun(${HOSTILE}/${runId})`]);

    // From v1, and from the other prompt's version it was also derived from.
    const fromV1 = await call('GET', `/v1/impact?prompt=${prompt}&version=1`);
    expect(fromV1.body.derivedVersions.map((d: { version: string; depth: number; count: number }) => [d.version, d.depth, d.count])).toEqual([['2', 1, 6], ['3', 2, 0]]);
    const fromOther = await call('GET', `/v1/impact?prompt=${other}&version=1`);
    expect(fromOther.status).toBe(200);
    expect(fromOther.body.derivedVersions.map((d: { name: string; version: string; depth: number }) => [d.name, d.version, d.depth])).toEqual([[prompt, '2', 1], [prompt, '3', 2]]);
  });

  it('shows the optimizer run behind a response in its compliance report, its name as text in markdown and html', async () => {
    const responseId = `r-${tag}-2-3`;
    const json = await call('GET', `/v1/reports/compliance?response_id=${responseId}`);
    expect(json.status).toBe(200);
    const section = json.body.sections.find((s: { heading: string }) => s.heading === `Where ${prompt} v2 came from`);
    expect(section.facts).toEqual([
      ['Derived from', `${prompt} v1, ${other} v1`],
      ['Optimizer', HOSTILE],
      ['Optimizer run', runId],
      ['Trained on dataset', dataset],
      ['Scorer', 'exact_match'],
      ['Score', '0.91'],
    ]);
    // A v1 response: v1 said nothing of its origin.
    const v1 = await call('GET', `/v1/reports/compliance?response_id=r-${tag}-1-100`);
    expect(v1.body.sections.map((s: { heading: string }) => s.heading)).not.toContain(`Where ${prompt} v1 came from`);

    const md = await call('GET', `/v1/reports/compliance?response_id=${responseId}&format=markdown`);
    expect(md.text).toContain(`| Optimizer run | ${runId} |`);
    expect(md.text).toContain('| Optimizer | gepa &lt;script&gt;alert\\(1\\)&lt;/script&gt; \\*bold\\* \\[x\\]\\(http\\://evil.example\\) \\| \\`tick\\` |');
    expect(md.text).not.toContain('<script>');
    const html = await call('GET', `/v1/reports/compliance?response_id=${responseId}&format=html`);
    expect(html.text).toContain('<th>Optimizer</th><td>gepa &lt;script&gt;alert(1)&lt;/script&gt; *bold* [x](http://evil.example) | `tick`</td>');
    expect(html.text).not.toMatch(/<script|<(link|img)\b|src=|href=/);

    // The prompt version's own report says the same.
    const pv = await call('GET', `/v1/reports/compliance?prompt=${prompt}&version=2`);
    expect(pv.body.sections.find((s: { heading: string }) => s.heading === `Where ${prompt} v2 came from`).facts).toEqual(section.facts);
  });

  it('registers an origin from the command line, and prompts get shows it', async () => {
    const reg = await cli(['prompts', 'register', prompt, '--text', 'v4: {{q}}', '-m', 'from the CLI', '--derived-from', `${prompt}:2,${other}:v1`, '--optimizer', 'dspy.MIPROv2', '--optimizer-run', `cli-${tag}`, '--optimizer-dataset', dataset, '--optimizer-scorer', 'f1', '--optimizer-score', '0.5', '--json']);
    expect(reg.code, reg.stderr).toBe(0);
    expect(JSON.parse(reg.stdout).origin).toEqual({ derivedFrom: [{ name: prompt, version: 2 }, { name: other, version: 1 }], optimizer: { name: 'dspy.MIPROv2', runId: `cli-${tag}`, dataset, scorer: 'f1', score: 0.5 } });
    const got = await cli(['prompts', 'get', `${prompt}/4`]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain(`origin: derived from ${prompt} v2, ${other} v1; by dspy.MIPROv2 run cli-${tag} on dataset ${dataset} (scorer f1, score 0.5)`);
    const bad = await cli(['prompts', 'register', prompt, '--text', 'x', '-m', 'm', '--optimizer', 'gepa']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--optimizer-run');
  });
});
