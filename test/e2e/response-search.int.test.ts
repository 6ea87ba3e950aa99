import { randomBytes } from 'node:crypto';
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { registerOtelGlobals, withTracing, type Tracing } from '../helpers/otel.ts';
import { eventually, removeDir, type ServerUnderTest } from '../helpers/server.ts';

// The response list against ground truth. A known world of agent traces is sent with the real
// OpenTelemetry SDK into one project, and spans with the very same ids into another; every filter,
// the order, the pages, the count and the facets are compared with what the test itself expects.
// Spans that arrive late (a parent after its child; a model-naming agent span before or after the
// response of its trace) are listed once, as they end up. Then who is calling (/v1/session) and
// the project an instance admin switches to (X-Promptline-Project).

const neo4j = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'SQLite', env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else describe('response search on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));

interface Expected {
  responseId: string | null;
  traceId: string;
  spanId: string;
  ms: number;
  app: string;
  appVersion: string;
  prompt: string;
  version: string;
  alias: string;
  registration: 'registered' | 'unregistered' | 'template_mismatch';
  model: string;
  provider: string;
  datasets: string[];
  conversation: string;
  status: 'error' | 'ok' | 'unset';
  spanName: string;
}

interface Item {
  responseId: string | null;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  timestamp: string;
  durationMs: number;
  spanName: string;
  serviceName: string;
  status: { code: string; message: string };
  prompt: { name: string; version: string; alias: string } | null;
  registration: string | null;
  model: { provider: string; name: string } | null;
  app: { name: string; version: string };
  datasets: string[];
  conversationId: string | null;
}

const APPS = [
  { name: 'support-bot', version: '1.4.0', responseIds: true, agentModel: false },
  { name: 'support-bot', version: '1.5.0', responseIds: true, agentModel: false },
  // Its agent span names the model itself, as agent frameworks do: a model call, not a response.
  { name: 'ops-agent', version: '0.9.0', responseIds: true, agentModel: true },
  // Sends no response ids (as Langfuse does): its model calls are the responses.
  { name: 'notes-app', version: '2.0.0', responseIds: false, agentModel: false },
] as const;
const MODELS = [
  { provider: 'anthropic', name: 'claude-sonnet-4' },
  { provider: 'openai', name: 'gpt-4o' },
];
const TRACES = 24;

describe.each(backends)('the response list on $backend', ({ env }) => {
  let server: ServerUnderTest;
  let admin: string;
  const tag = randomBytes(3).toString('hex');
  const A = `search-a-${tag}`;
  const B = `search-b-${tag}`;
  const keys = { ingestA: '', ingestB: '', readA: '', readB: '' };
  const world: Expected[] = [];
  const base = Date.now() - 3 * 3_600_000;
  let unglobal: () => void;

  const call = async (key: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${key}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const makeKey = async (role: string, project: string) => {
    const r = await call(admin, '/v1/keys', { method: 'POST', body: { role, project, name: `search ${role} ${project}` } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.key as string;
  };
  /** GET /v1/responses in project A with a read key of A. */
  const list = async (query: string, key = keys.readA) => {
    const r = await call(key, `/v1/responses?${query}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as { items: Item[]; nextCursor: string | null; count: number; window: { from: string; to: string } };
  };
  /** Every item of a query, following the cursor. */
  const all = async (query: string, limit = 7, key = keys.readA) => {
    const pages: Item[][] = [];
    let page = await list(`${query}&limit=${limit}`, key);
    const counts = [page.count];
    pages.push(page.items);
    while (page.nextCursor) {
      page = await list(`${query}&limit=${limit}&cursor=${page.nextCursor}`, key);
      pages.push(page.items);
      counts.push(page.count);
    }
    return { items: pages.flat(), pages, counts };
  };
  const ids = (items: ReadonlyArray<{ traceId: string; spanId: string }>) => items.map((i) => `${i.traceId}/${i.spanId}`);
  /** What the list must answer: the expected responses, newest first. */
  const newestFirst = (xs: Expected[]) =>
    [...xs].sort((a, b) => b.ms - a.ms || (a.traceId < b.traceId ? 1 : a.traceId > b.traceId ? -1 : a.spanId < b.spanId ? 1 : -1));

  const withApp = <T>(app: (typeof APPS)[number], key: string, fn: (t: Tracing) => Promise<T>) =>
    withTracing({ encoding: 'protobuf', url: server.url, resource: { 'service.name': app.name, 'service.version': app.version }, headers: { authorization: `Bearer ${key}` } }, fn);
  const child = (tracer: Tracer, parent: Span, name: string, attributes: Record<string, string>, startMs: number) =>
    tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: startMs, attributes }, trace.setSpan(context.active(), parent));

  beforeAll(async () => {
    unglobal = registerOtelGlobals();
    ({ server, admin } = await startServerWithAdmin({ env }));
    keys.ingestA = await makeKey('ingest', A);
    keys.ingestB = await makeKey('ingest', B);
    keys.readA = await makeKey('read', A);
    keys.readB = await makeKey('read', B);
    // The registry of A, through the project header of an instance admin.
    for (const [prompt, n] of [['triage', 2], ['answer', 2]] as const) {
      for (let v = 1; v <= n; v++) {
        const r = await call(admin, `/v1/prompts/${prompt}-${tag}/versions`, { method: 'POST', headers: { 'X-Promptline-Project': A }, body: { template: `${prompt} v${v}: {{q}}`, commitMessage: `v${v}` } });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      }
    }

    for (const app of APPS) {
      await withApp(app, keys.ingestA, async (t) => {
        const { tracer } = t;
        const flush = () => t.flush();
        for (let i = 0; i < TRACES; i++) {
          if (APPS[i % APPS.length] !== app) continue;
          const ms = base + i * 1000;
          const prompt = ['triage', 'answer', 'draft'][i % 3]!;
          const version = String(1 + (i % 2));
          const alias = i % 3 === 0 ? 'production' : '';
          const mismatch = prompt === 'answer' && i % 4 === 1;
          const datasets = i % 4 === 1 ? [`kb-${tag}`] : i % 4 === 2 ? [`kb-${tag}`, `faq-${tag}`] : [];
          const conversation = `conv-${tag}-${i % 5}`;
          const model = MODELS[i % 2]!;
          const status = i % 7 === 0 ? 'error' : i % 7 === 1 ? 'ok' : 'unset';
          const rootAttrs: Record<string, string | string[]> = {
            'gen_ai.operation.name': 'invoke_agent',
            'gen_ai.prompt.name': `${prompt}-${tag}`,
            'gen_ai.prompt.version': version,
            'gen_ai.conversation.id': conversation,
          };
          if (alias) rootAttrs['promptline.prompt.alias'] = alias;
          if (mismatch) rootAttrs['promptline.prompt.hash'] = 'ab'.repeat(32);
          if (datasets.length) rootAttrs['promptline.dataset.ids'] = datasets;
          if (app.agentModel) Object.assign(rootAttrs, { 'gen_ai.request.model': model.name, 'gen_ai.provider.name': model.provider });
          const root = tracer.startSpan(`invoke_agent ${app.name}`, { kind: SpanKind.INTERNAL, startTime: ms - 5, attributes: rootAttrs });
          const responseId = app.responseIds ? `chatcmpl-${tag}-${i}` : null;
          const spanName = `chat ${model.name}`;
          const chat = child(tracer, root, spanName, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': model.name, 'gen_ai.provider.name': model.provider, ...(responseId ? { 'gen_ai.response.id': responseId } : {}) }, ms);
          if (status === 'error') chat.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream timeout' });
          if (status === 'ok') chat.setStatus({ code: SpanStatusCode.OK });
          chat.end(ms + 400);
          root.end(ms + 450);
          world.push({
            responseId, traceId: chat.spanContext().traceId, spanId: chat.spanContext().spanId, ms, app: app.name, appVersion: app.version,
            prompt: `${prompt}-${tag}`, version, alias, registration: prompt === 'draft' ? 'unregistered' : mismatch ? 'template_mismatch' : 'registered',
            model: model.name, provider: model.provider, datasets, conversation, status, spanName,
          });
        }
        await flush();
      });
    }

    // Project B: spans with the very ids of some of A's, and others, all newer than A's.
    const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
    const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();
    const copies = world.slice(0, 4).map((w, j) => ({
      traceId: w.traceId, spanId: w.spanId, name: w.spanName, kind: 3, startTimeUnixNano: ns(base + 100_000 + j), endTimeUnixNano: ns(base + 100_100 + j),
      attributes: [kv('gen_ai.prompt.name', `b-only-${tag}`), kv('gen_ai.prompt.version', '1'), kv('gen_ai.request.model', w.model), ...(w.responseId ? [kv('gen_ai.response.id', w.responseId)] : [])],
    }));
    const r = await fetch(`${server.url}/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.ingestB}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [kv('service.name', `b-app-${tag}`)] }, scopeSpans: [{ spans: copies }] }] }),
    });
    expect(r.status).toBe(200);

    await eventually(async () => ((await list('')).count === TRACES ? true : undefined), 'project A to be stored', 60_000);
    await eventually(async () => ((await list('', keys.readB)).count === copies.length ? true : undefined), 'project B to be stored', 60_000);
  }, 240_000);

  afterAll(async () => {
    unglobal?.();
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('lists every response once, newest first, across pages, with the count on every page', async () => {
    const { items, pages, counts } = await all('');
    expect(ids(items)).toEqual(ids(newestFirst(world)));
    expect(pages.length).toBe(Math.ceil(TRACES / 7));
    expect(pages.slice(0, -1).every((p) => p.length === 7)).toBe(true);
    expect(new Set(counts)).toEqual(new Set([TRACES]));
    // Model calls of the agent spans that named their model are not responses; notes-app's are.
    expect(items.some((i) => i.spanName.startsWith('invoke_agent'))).toBe(false);
    expect(items.filter((i) => i.responseId === null).length).toBe(world.filter((w) => w.app === 'notes-app').length);
  });

  it('answers each item as it was sent', async () => {
    const { items } = await all('', 200);
    for (const w of world) {
      const item = items.find((i) => i.spanId === w.spanId)!;
      expect(item, w.spanId).toEqual({
        responseId: w.responseId,
        traceId: w.traceId,
        spanId: w.spanId,
        parentSpanId: expect.stringMatching(/^[0-9a-f]{16}$/),
        timestamp: new Date(w.ms).toISOString().replace('Z', '000000Z'),
        durationMs: 400,
        spanName: w.spanName,
        serviceName: w.app,
        status: { code: w.status, message: w.status === 'error' ? 'upstream timeout' : '' },
        prompt: { name: w.prompt, version: w.version, alias: w.alias },
        registration: w.registration,
        model: { provider: w.provider, name: w.model },
        app: { name: w.app, version: w.appVersion },
        datasets: w.datasets,
        conversationId: w.conversation,
      });
    }
  });

  it('narrows the list by every filter, exactly', async () => {
    const w0 = world[5]!;
    const cases: Array<[string, (w: Expected) => boolean]> = [
      ['app=support-bot', (w) => w.app === 'support-bot'],
      ['app_version=1.5.0', (w) => w.appVersion === '1.5.0'],
      ['app=support-bot&app_version=1.4.0', (w) => w.app === 'support-bot' && w.appVersion === '1.4.0'],
      [`prompt=triage-${tag}`, (w) => w.prompt === `triage-${tag}`],
      [`prompt=answer-${tag}&version=2`, (w) => w.prompt === `answer-${tag}` && w.version === '2'],
      ['version=1', (w) => w.version === '1'],
      ['alias=production', (w) => w.alias === 'production'],
      ['model=gpt-4o', (w) => w.model === 'gpt-4o'],
      ['provider=anthropic', (w) => w.provider === 'anthropic'],
      [`dataset=kb-${tag}`, (w) => w.datasets.includes(`kb-${tag}`)],
      [`dataset=faq-${tag}`, (w) => w.datasets.includes(`faq-${tag}`)],
      [`conversation=conv-${tag}-3`, (w) => w.conversation === `conv-${tag}-3`],
      ['status=error', (w) => w.status === 'error'],
      ['status=ok', (w) => w.status === 'ok'],
      ['status=unset', (w) => w.status === 'unset'],
      ['registration=registered', (w) => w.registration === 'registered'],
      ['registration=unregistered', (w) => w.registration === 'unregistered'],
      ['registration=template_mismatch', (w) => w.registration === 'template_mismatch'],
      ['q=CHAT%20GPT', (w) => w.spanName.includes('gpt')],
      ['q=sonnet', (w) => w.spanName.includes('sonnet')],
      [`response_id=chatcmpl-${tag}-5`, (w) => w.responseId === `chatcmpl-${tag}-5`],
      [`trace_id=${w0.traceId.toUpperCase()}`, (w) => w.traceId === w0.traceId],
      [`from=${new Date(base + 5_500).toISOString()}&to=${new Date(base + 12_000).toISOString()}`, (w) => w.ms >= base + 5_500 && w.ms < base + 12_000],
      ['model=gpt-4o&status=unset&app=support-bot', (w) => w.model === 'gpt-4o' && w.status === 'unset' && w.app === 'support-bot'],
      ['app=no-such-app', () => false],
    ];
    for (const [query, keep] of cases) {
      const expected = newestFirst(world.filter(keep));
      expect(expected.length < TRACES, query).toBe(true);
      const { items, counts } = await all(query, 4);
      expect(ids(items), query).toEqual(ids(expected));
      expect(counts[0], query).toBe(expected.length);
    }
  });

  it('offers the values of the matching responses as facets, most frequent first, with counts', async () => {
    const r = await call(keys.readA, '/v1/responses/facets?model=gpt-4o');
    expect(r.status).toBe(200);
    const mine = world.filter((w) => w.model === 'gpt-4o');
    const tally = (values: string[]) => {
      const m = new Map<string, number>();
      for (const v of values) if (v !== '') m.set(v, (m.get(v) ?? 0) + 1);
      return [...m].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1));
    };
    expect(r.body).toEqual({
      apps: tally(mine.map((w) => w.app)),
      appVersions: tally(mine.map((w) => w.appVersion)),
      prompts: tally(mine.map((w) => w.prompt)),
      promptVersions: tally(mine.map((w) => w.version)),
      aliases: tally(mine.map((w) => w.alias)),
      models: [{ value: 'gpt-4o', count: mine.length }],
      providers: [{ value: 'openai', count: mine.length }],
      datasets: tally(mine.flatMap((w) => w.datasets)),
      window: expect.objectContaining({ from: expect.any(String), to: expect.any(String) }),
    });
  });

  it('never answers another project’s spans, even under the same ids', async () => {
    const { items } = await all('', 200);
    expect(items.some((i) => i.prompt?.name === `b-only-${tag}` || i.app.name === `b-app-${tag}`)).toBe(false);
    for (const w of world.slice(0, 4)) expect((await list(`trace_id=${w.traceId}`)).items.map((i) => i.prompt?.name)).toEqual([w.prompt]);
    const b = await all('', 200, keys.readB);
    expect(b.items.map((i) => i.prompt?.name)).toEqual(Array(4).fill(`b-only-${tag}`));
    expect(ids(b.items).sort()).toEqual(ids(world.slice(0, 4)).sort());
    const facets = await call(keys.readB, '/v1/responses/facets');
    expect(facets.body.prompts).toEqual([{ value: `b-only-${tag}`, count: 4 }]);
  });

  it('lists a response whose parent arrived late once, with the lineage it inherits', async () => {
    const app = APPS[1];
    const ms = base + 60_000;
    let spanId = '';
    await withApp(app, keys.ingestA, async (t) => {
      const { tracer } = t;
      const flush = () => t.flush();
      const root = tracer.startSpan(`invoke_agent ${app.name}`, { startTime: ms - 5, attributes: { 'gen_ai.prompt.name': `triage-${tag}`, 'gen_ai.prompt.version': '2', 'gen_ai.conversation.id': `late-${tag}` } });
      const chat = child(tracer, root, 'chat late', { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.provider.name': 'openai', 'gen_ai.response.id': `late-${tag}` }, ms);
      spanId = chat.spanContext().spanId;
      chat.end(ms + 100);
      await flush();
      const before = await eventually(async () => (await list(`response_id=late-${tag}`)).items[0], 'the child alone');
      expect(before.prompt).toBeNull();
      root.end(ms + 200);
      await flush();
    });
    await eventually(async () => ((await list(`response_id=late-${tag}`)).items[0]?.prompt ? true : undefined), 'the inherited lineage');
    const { items } = await all('', 200);
    const mine = items.filter((i) => i.spanId === spanId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ prompt: { name: `triage-${tag}`, version: '2' }, conversationId: `late-${tag}`, registration: 'registered' });
    expect(ids((await list(`conversation=late-${tag}`)).items)).toEqual([`${mine[0]!.traceId}/${spanId}`]);
    expect((await list(`prompt=triage-${tag}&version=2`)).items.filter((i) => i.spanId === spanId)).toHaveLength(1);
  });

  it('leaves out an agent span that named its model once its trace has a response id, whichever arrives first', async () => {
    const app = APPS[2];
    for (const [n, agentFirst] of [[1, true], [2, false]] as const) {
      const ms = base + 70_000 + n * 1000;
      const conversation = `mixed-${tag}-${n}`;
      await withApp(app, keys.ingestA, async (t) => {
        const { tracer } = t;
        const flush = () => t.flush();
        const root = tracer.startSpan('invoke_agent mixed', { startTime: ms, attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.conversation.id': conversation } });
        const chat = child(tracer, root, 'chat mixed', { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.id': `mixed-${tag}-${n}` }, ms + 10);
        const first = agentFirst ? root : chat;
        const second = agentFirst ? chat : root;
        first.end(ms + 100);
        await flush();
        if (agentFirst) {
          // Alone, the agent span is a model call in a trace without response ids: a response.
          const alone = await eventually(async () => (await list(`conversation=${conversation}`)).items[0], `the agent span of ${conversation}`);
          expect(alone).toMatchObject({ responseId: null, spanName: 'invoke_agent mixed' });
        } else {
          await eventually(async () => (await list(`response_id=mixed-${tag}-${n}`)).items[0], `the response of ${conversation}`);
        }
        second.end(ms + 200);
        await flush();
        await eventually(async () => {
          const r = await list(`conversation=${conversation}`);
          return r.count === 1 && r.items.length === 1 && r.items[0]!.responseId === `mixed-${tag}-${n}` ? true : undefined;
        }, `the response of ${conversation} alone`);
      });
    }
  });

  it('refuses bad input with a message that names it', async () => {
    const bad: Array<[string, RegExp]> = [
      ['status=broken', /status/],
      ['registration=maybe', /registration/],
      ['cursor=not-a-cursor', /cursor/],
      [`cursor=${Buffer.from(JSON.stringify(['2026-02-30T00:00:00Z', 'a'.repeat(32), 'b'.repeat(16)])).toString('base64url')}`, /cursor/],
      ['limit=0', /limit/],
      ['limit=500', /limit/],
      ['limit=ten', /limit/],
      [`from=${new Date(base + 10_000).toISOString()}&to=${new Date(base).toISOString()}`, /from must be before to/],
      ['from=1800-01-01T00:00:00Z', /from: must be between/],
      ['to=2300-01-01T00:00:00Z', /to: must be between/],
      ['from=yesterday', /from/],
      ['trace_id=xyz', /trace_id/],
      ['q=', /q/],
      ['colour=red', /colour|unrecognized/i],
    ];
    for (const [query, message] of bad) {
      for (const path of ['/v1/responses', '/v1/responses/facets']) {
        if (path.endsWith('facets') && /^(cursor|limit)=/.test(query)) continue;
        const r = await call(keys.readA, `${path}?${query}`);
        expect(r.status, `${path}?${query}`).toBe(400);
        expect(r.body.error.message, `${path}?${query}`).toMatch(message);
      }
    }
    // Ingest and prompt keys may not list responses.
    expect((await call(keys.ingestA, '/v1/responses')).status).toBe(403);
  });

  it('says who is calling: role, permissions, projects', async () => {
    const reader = await call(keys.readA, '/v1/session');
    expect(reader.status).toBe(200);
    expect(reader.body).toMatchObject({ role: 'read', promote: false, instanceAdmin: false, project: A, activeProject: A, permissions: ['prompts', 'read'], projects: [A] });
    expect(reader.body.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect((await call(keys.ingestB, '/v1/session')).body).toMatchObject({ role: 'ingest', project: B, permissions: ['ingest'], projects: [B] });
    const boss = await call(admin, '/v1/session');
    expect(boss.body).toMatchObject({ role: 'admin', instanceAdmin: true, project: 'default', activeProject: 'default', permissions: ['ingest', 'prompts', 'read', 'edit', 'promote', 'admin', 'metrics', 'propose'] });
    const projects = boss.body.projects as string[];
    expect(projects).toEqual([...projects].sort());
    expect(projects).toEqual(expect.arrayContaining(['default', A, B]));
    expect((await call(keys.readA, '/v1/session', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('lets an instance admin switch projects with X-Promptline-Project, and no other key', async () => {
    const inB = await call(admin, '/v1/responses?limit=200', { headers: { 'X-Promptline-Project': B } });
    expect(inB.status).toBe(200);
    expect(inB.body.items.map((i: Item) => i.prompt?.name)).toEqual(Array(4).fill(`b-only-${tag}`));
    expect((await call(admin, '/v1/session', { headers: { 'X-Promptline-Project': B } })).body).toMatchObject({ project: 'default', activeProject: B });
    // Every route: the registry, impact and the keys of the project named.
    expect((await call(admin, '/v1/prompts', { headers: { 'X-Promptline-Project': A } })).body.prompts.map((p: { name: string }) => p.name)).toEqual([`answer-${tag}`, `triage-${tag}`]);
    expect((await call(admin, `/v1/impact?prompt=b-only-${tag}&version=1`, { headers: { 'X-Promptline-Project': B } })).body.responses.count).toBe(4);
    const keysOfB = await call(admin, '/v1/keys', { headers: { 'X-Promptline-Project': B } });
    expect(keysOfB.body.keys.map((k: { project: string }) => k.project)).toEqual([B, B]);
    // ?project= of the admin routes still names the project, over the header.
    const keysOfA = await call(admin, `/v1/keys?project=${A}`, { headers: { 'X-Promptline-Project': B } });
    expect(new Set(keysOfA.body.keys.map((k: { project: string }) => k.project))).toEqual(new Set([A]));

    const refused = await call(keys.readA, '/v1/responses', { headers: { 'X-Promptline-Project': B } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(new RegExp(`may not act in project ${B}.*only an instance admin key`));
    const own = await call(keys.readA, '/v1/responses?limit=1', { headers: { 'X-Promptline-Project': A } });
    expect(own.status).toBe(200);
    expect(own.body.count).toBeGreaterThanOrEqual(TRACES);
    for (const name of ['a/b', '', '-x', 'x'.repeat(65)]) {
      const malformed = await call(admin, '/v1/responses', { headers: { 'X-Promptline-Project': name } });
      expect(malformed.status, JSON.stringify(name)).toBe(400);
      expect(malformed.body.error.message).toMatch(/X-Promptline-Project: a project is/);
    }
    // Spans are stored in the sending key's project: naming another is refused, not ignored.
    const otlp = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'X-Promptline-Project': B }, body: '{"resourceSpans":[]}' });
    expect(otlp.status).toBe(400);
  });
});
