import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity } from '../../src/domain/graph.ts';
import type { LineageGraph } from '../../src/storage/lineage-graph.ts';
import { Neo4jLineageGraph } from '../../src/storage/neo4j/neo4j-lineage-graph.ts';
import { SqliteLineageGraph } from '../../src/storage/sqlite/sqlite-lineage-graph.ts';
import { hashTemplate } from '../../src/domain/prompt.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { exportRequest, jsonSpan, str } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// The prompt registry through its HTTP API, on the embedded stores and with Neo4j.

const neo4j = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'SQLite', env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else {
  console.log(`registry on Neo4j: skipped: ${neo4j.skipReason}`);
  describe('the prompt registry on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));
}

describe.each(backends)('the prompt registry on $backend', ({ backend, env }) => {
  let server: ServerUnderTest;
  const name = `support-answer-${randomUUID().slice(0, 8)}`;
  const pause = () => new Promise((r) => setTimeout(r, 10));

  beforeAll(async () => {
    server = await startServer({ env });
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  const register = (template: unknown, commitMessage = 'a change', prompt = name, extra: object = {}) => call('POST', `/v1/prompts/${prompt}/versions`, { template, commitMessage, ...extra });
  const move = (alias: string, body: object, prompt = name) => call('PUT', `/v1/prompts/${prompt}/aliases/${alias}`, body);

  it('registers versions 1, 2, 3 with their template hash, commit message and author, and lists them', async () => {
    const v1 = await register('Answer the customer: {{question}}', 'first draft');
    expect(v1.status).toBe(201);
    expect(v1.headers.get('location')).toBe(`/v1/prompts/${name}/versions/1`);
    expect(v1.body).toMatchObject({ name, version: 1, uri: `prompts:/${name}/1`, templateHash: hashTemplate({ type: 'text', text: 'Answer the customer: {{question}}' }), commitMessage: 'first draft', author: 'local development (no auth)', variables: ['question'], baseVersion: null });
    const v2 = await register('Answer briefly and kindly: {{question}}', 'shorter');
    const v3 = await register({ messages: [{ role: 'system', content: 'You are the support agent of {{shop}}.' }, { role: 'user', content: '{{question}}' }] }, 'as chat', name, { tags: ['chat'] });
    expect([v2.body.version, v3.body.version, v3.body.baseVersion]).toEqual([2, 3, 2]);
    expect((await call('GET', `/v1/prompts/${name}/versions/latest`)).body.version).toBe(3);
    expect((await call('GET', `/v1/prompts/${name}/versions/2`)).body.template).toEqual({ type: 'text', text: 'Answer briefly and kindly: {{question}}' });
    const list = await call('GET', `/v1/prompts/${name}/versions?limit=2`);
    expect(list.body.total).toBe(3);
    expect(list.body.versions.map((v: { version: number }) => v.version)).toEqual([3, 2]);
    // The list is paged by name; the run's other tests share the project, so page until it is found.
    const listed: string[] = [];
    for (let offset = 0; !listed.includes(name); offset += 500) {
      const page = (await call('GET', `/v1/prompts?limit=500&offset=${offset}`)).body.prompts.map((p: { name: string }) => p.name) as string[];
      if (page.length === 0) break;
      listed.push(...page);
    }
    expect(listed).toContain(name);
  });

  it('gives twenty parallel registrations distinct, gapless version numbers', async () => {
    const prompt = `parallel-${randomUUID().slice(0, 8)}`;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => register(`template ${i}`, `commit ${i}`, prompt)));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(answers.map((a) => a.body.version).sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('refuses to change or delete a version', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const r = await call(method, `/v1/prompts/${name}/versions/1`, { template: 'rewritten', commitMessage: 'x' });
      expect(r.status, method).toBe(405);
      expect(r.body.error.message).toMatch(/immutable/);
    }
    expect((await call('GET', `/v1/prompts/${name}/versions/1`)).body.template.text).toBe('Answer the customer: {{question}}');
  });

  it('moves an alias, answers where it pointed before, at and between moves, and keeps the history', async () => {
    const m1 = await move('production', { version: 1, reason: 'first release' });
    expect(m1.status).toBe(200);
    await pause();
    const m2 = await move('production', { version: 2, reason: 'shorter answers test well' });
    await pause();
    expect(m2.body).toMatchObject({ seq: 2, from: { version: 1 }, to: { version: 2 }, actor: 'local development (no auth)', rollback: false });
    const at = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
    const t1 = Date.parse(m1.body.at);
    const t2 = Date.parse(m2.body.at);
    const before = await call('GET', `/v1/prompts/${name}/aliases/production?at=${at(t1 - 1000)}`);
    expect(before.status).toBe(404);
    expect(before.body.error.message).toMatch(/did not exist at/);
    expect((await call('GET', `/v1/prompts/${name}/aliases/production?at=${at(t1)}`)).body.target.version).toBe(1);
    if (t2 > t1) expect((await call('GET', `/v1/prompts/${name}/aliases/production?at=${at(t2 - 1)}`)).body.target.version).toBe(1);
    expect((await call('GET', `/v1/prompts/${name}/aliases/production?at=${at(t2)}`)).body.target.version).toBe(2);
    expect((await call('GET', `/v1/prompts/${name}/aliases/production`)).body).toMatchObject({ target: { version: 2 }, resolved: { version: 2, assignment: null } });

    const rollback = await call('POST', `/v1/prompts/${name}/aliases/production/rollback`, { reason: 'complaints about tone' });
    expect(rollback.body).toMatchObject({ seq: 3, from: { version: 2 }, to: { version: 1 }, rollback: true, reason: 'complaints about tone' });
    const history = await call('GET', `/v1/prompts/${name}/aliases/production/history`);
    expect(history.body.moves.map((m: { seq: number; to: { version: number }; rollback: boolean }) => [m.seq, m.to.version, m.rollback])).toEqual([
      [1, 1, false],
      [2, 2, false],
      [3, 1, true],
    ]);
  });

  it('splits an alias over versions and assigns each key the same version every time', async () => {
    const set = await move('canary', { split: [{ version: 2, weight: 90 }, { version: 3, weight: 10 }], reason: 'try chat at 10 %' });
    expect(set.status).toBe(200);
    const splitId = set.body.to.split.id as string;
    const seen = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const a = await call('GET', `/v1/prompts/${name}/aliases/canary?key=user-${i}`);
      const again = await call('GET', `/v1/prompts/resolve?uri=${encodeURIComponent(`prompts:/${name}@canary`)}&key=user-${i}`);
      expect(again.body.version.version).toBe(a.body.resolved.version);
      expect(a.body.resolved.assignment).toEqual({ splitId, version: a.body.resolved.version, key: `user-${i}` });
      seen.set(a.body.resolved.version, (seen.get(a.body.resolved.version) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([2, 3]);
    const noKey = await call('GET', `/v1/prompts/resolve?uri=${encodeURIComponent(`prompts:/${name}@canary`)}`);
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.message).toMatch(/give a key/);
  });

  it('resolves prompts:/name/3, prompts:/name@production and prompts:/name@latest', async () => {
    const r = (uri: string) => call('GET', `/v1/prompts/resolve?uri=${encodeURIComponent(uri)}`);
    expect((await r(`prompts:/${name}/3`)).body).toMatchObject({ alias: null, version: { version: 3 } });
    expect((await r(`prompts:/${name}@production`)).body).toMatchObject({ alias: 'production', version: { version: 1 } });
    expect((await r(`prompts:/${name}@latest`)).body.version.version).toBe(3);
    expect((await r(`prompts:/${name}/99`)).status).toBe(404);
    expect((await r(`prompts:/${name}@nowhere`)).status).toBe(404);
    expect((await r(`${name}@production`)).status).toBe(400);
  });

  it('renders a version with its variables and names a missing one; diffs text and chat versions', async () => {
    const ok = await call('POST', `/v1/prompts/${name}/versions/3/render`, { variables: { shop: 'Books & Co', question: 'Where is order 4711?' } });
    expect(ok.body.rendered).toEqual({ type: 'chat', messages: [{ role: 'system', content: 'You are the support agent of Books & Co.' }, { role: 'user', content: 'Where is order 4711?' }] });
    const missing = await call('POST', `/v1/prompts/${name}/versions/3/render`, { variables: { question: 'q' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toBe('the template needs the variable "shop", which was not given');
    const d = await call('GET', `/v1/prompts/${name}/diff?from=1&to=2`);
    expect(d.body).toMatchObject({ from: 1, to: 2, type: 'text', added: 1, removed: 1 });
    expect(d.body.unified).toContain('-Answer the customer: {{question}}');
    expect(d.body.unified).toContain('+Answer briefly and kindly: {{question}}');
    const chatPrompt = `chat-${randomUUID().slice(0, 8)}`;
    await register({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: '{{q}}' }] }, 'one', chatPrompt);
    await register({ messages: [{ role: 'system', content: 'Be brief and kind.' }, { role: 'user', content: '{{q}}' }, { role: 'assistant', content: 'Sure.' }] }, 'two', chatPrompt);
    const cd = await call('GET', `/v1/prompts/${chatPrompt}/diff?from=1&to=2`);
    expect(cd.body.type).toBe('chat');
    expect(cd.body.messages.map((m: { change: string }) => m.change)).toEqual(['changed', 'same', 'added']);
  });

  it('answers bad input with a clear 4xx and changes nothing', async () => {
    const versionsBefore = (await call('GET', `/v1/prompts/${name}/versions`)).body.total;
    const historyBefore = (await call('GET', `/v1/prompts/${name}/aliases/production/history`)).body.moves.length;
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, RegExp]> = [
      ['unknown prompt', call('GET', '/v1/prompts/no-such-prompt/versions/1'), 404, /no version 1/],
      ['unknown version', call('GET', `/v1/prompts/${name}/versions/42`), 404, /no version 42/],
      ['invalid prompt name', register('x', 'm', 'bad%20name!'), 400, /prompt name/],
      ['invalid alias name', move('Prod!', { version: 1, reason: 'r' }), 400, /alias/],
      ['the reserved alias latest', move('latest', { version: 1, reason: 'r' }), 400, /reserved/],
      ['an empty template', register('   '), 400, /template is empty/],
      ['an oversize template', register('x'.repeat(256 * 1024 + 1)), 400, /longer than/],
      ['a body over 2 MB', register('x'.repeat(3 * 1024 * 1024)), 413, /too large/],
      ['no commit message', call('POST', `/v1/prompts/${name}/versions`, { template: 'x' }), 400, /commitMessage/],
      ['malformed JSON', call('POST', `/v1/prompts/${name}/versions`, '{"template": '), 400, /JSON|Unexpected/i],
      ['split weights not adding up to 100', move('production', { split: [{ version: 1, weight: 60 }, { version: 2, weight: 30 }], reason: 'r' }), 400, /add up to 100/],
      ['a split of one version', move('production', { split: [{ version: 1, weight: 100 }], reason: 'r' }), 400, /at least two/],
      ['a split over an unknown version', move('production', { split: [{ version: 1, weight: 50 }, { version: 77, weight: 50 }], reason: 'r' }), 404, /no version 77/],
      ['a move to an unknown version', move('production', { version: 77, reason: 'r' }), 404, /no version 77/],
      ['a move without a reason', move('production', { version: 2 }), 400, /reason/],
      ['a stale expectSeq', move('production', { version: 2, reason: 'r', expectSeq: 1 }), 409, /moved meanwhile/],
      ['an alias on an unknown prompt', move('production', { version: 1, reason: 'r' }, 'no-such-prompt'), 404, /no versions/],
      ['a bad time', call('GET', `/v1/prompts/${name}/aliases/production?at=yesterday`), 400, /ISO-8601/],
      ['a derived version from nowhere', register('x', 'm', name, { baseVersion: 99 }), 404, /no version 99/],
    ];
    for (const [what, pending, status, message] of cases) {
      const r = await pending;
      expect(r.status, what).toBe(status);
      expect(r.body?.error?.message, what).toMatch(message);
    }
    expect((await call('GET', `/v1/prompts/${name}/versions`)).body.total).toBe(versionsBefore);
    expect((await call('GET', `/v1/prompts/${name}/aliases/production/history`)).body.moves.length).toBe(historyBefore);
  });

  it('says in provenance whether the prompt a response used is registered, sent with another template, or unknown', async () => {
    const registeredHash = hashTemplate({ type: 'text', text: 'Answer briefly and kindly: {{question}}' });
    const spanFor = (version: string, hash: string, responseId: string) =>
      jsonSpan({ attributes: [str('gen_ai.prompt.name', name), str('gen_ai.prompt.version', version), str('promptline.prompt.hash', hash), str('gen_ai.response.id', responseId), str('gen_ai.response.model', 'gpt-4o')] });
    const ids = { ok: `ok-${randomUUID()}`, edited: `edited-${randomUUID()}`, unknown: `unknown-${randomUUID()}` };
    const res = await call('POST', '/v1/traces', exportRequest([spanFor('2', registeredHash, ids.ok), spanFor('2', 'f'.repeat(64), ids.edited), spanFor('9', registeredHash, ids.unknown)]));
    expect(res.status).toBe(200);
    const ok = await eventually(() => provenance(server.url, { response_id: ids.ok }), 'the registered response');
    expect(ok.prompt).toMatchObject({ name, version: 2, registered: true, registration: 'registered', commitMessage: 'shorter', author: 'local development (no auth)' });
    const edited = await eventually(() => provenance(server.url, { response_id: ids.edited }), 'the edited response');
    expect(edited.prompt).toMatchObject({ registered: false, registration: 'template_mismatch', commitMessage: 'shorter' });
    const unknown = await eventually(() => provenance(server.url, { response_id: ids.unknown }), 'the unknown response');
    expect(unknown.prompt).toMatchObject({ registered: false, registration: 'unregistered', commitMessage: null });
  });

  it('puts versions, aliases and their moves in the lineage graph', async () => {
    let graph: LineageGraph;
    if (backend === 'Neo4j') graph = await Neo4jLineageGraph.connect(neo4j.settings!);
    else graph = new SqliteLineageGraph(join(server.dataDir, 'lineage.sqlite'));
    try {
      const versions = await graph.edgesOf('default', entity('Prompt', name), 'out');
      // Registered versions, and (once its span is written) the unregistered version 9 a response was seen with.
      expect(versions.filter((e) => e.rel === 'HAS_VERSION').map((e) => e.to.parts[1])).toEqual(expect.arrayContaining(['1', '2', '3']));
      expect((await graph.edgesOf('default', entity('PromptVersion', name, '3'), 'out')).map((e) => `${e.rel}:${e.to.parts.join('/')}`)).toContain(`DERIVED_FROM:${name}/2`);
      const rollback = await graph.edgesOf('default', entity('AliasMove', name, 'production', '3'), 'out');
      expect(rollback.map((e) => `${e.rel}:${e.to.kind}:${e.to.parts.at(-1)}`).sort()).toEqual(['MOVED:Alias:production', 'MOVED_FROM:PromptVersion:2', 'MOVED_TO:PromptVersion:1']);
      const split = await graph.edgesOf('default', entity('AliasMove', name, 'canary', '1'), 'out');
      expect(split.filter((e) => e.rel === 'MOVED_TO').map((e) => e.to.parts[1]).sort()).toEqual(['2', '3']);
    } finally {
      await graph.close();
    }
  });
});
