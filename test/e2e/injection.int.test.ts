import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity } from '../../src/domain/graph.ts';
import type { LineageGraph } from '../../src/storage/lineage-graph.ts';
import { Neo4jLineageGraph } from '../../src/storage/neo4j/neo4j-lineage-graph.ts';
import { SqliteLineageGraph } from '../../src/storage/sqlite/sqlite-lineage-graph.ts';
import { encodeProtobuf } from '../helpers/otlp-fuzz.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { postJson, postProtobuf, spanId, traceId } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Values that would break a query built by string concatenation — quotes, backslashes, SQL, Cypher,
// ClickHouse query-parameter syntax, template braces, control characters, right-to-left and emoji
// text — sent as span attributes over OTLP and as registry input over the API. Every one is data:
// stored and answered verbatim, or (for the registry's restricted names) refused with 400; the
// server keeps working and earlier data is intact. On the embedded stores and, where a Neo4j
// server is configured, with the lineage graph and the registry on Neo4j.

/** [label, value]. No value starts or ends with whitespace: the collector trims attribute values. */
const NASTY: ReadonlyArray<readonly [string, string]> = [
  ['single quotes', "O'Brien's 'prompt'"],
  ['double quotes', 'say "hi" and ""'],
  ['backticks', 'run `rm -rf /` `now`'],
  ['backslashes', 'C:\\path\\to\\n \\\\ \\u0000 \\x27 end\\'],
  ['SQL', "'); DROP TABLE otel_traces; --"],
  ['SQL tautology', "x' OR '1'='1' /*"],
  ['Cypher', '}) DETACH DELETE n //'],
  ['Cypher parameter', '$param'],
  ['Cypher with quotes', "'}) MATCH (n) DETACH DELETE n WITH 1 AS x MERGE (m {name: 'pwned'}) //"],
  ['template braces', '{{x}}'],
  ['ClickHouse parameter', '{p:String}'],
  ['ClickHouse parameter in SQL', "{project:String}' OR 1=1 --"],
  ['control characters', 'a\u0001b\u0007c\u001b[31md\te\r\nf\u007fg\u0085h\u2028i'],
  ['right-to-left', '\u202Egnp.exe\u202C שלום مرحبا'],
  ['emoji', '🧪 👩‍👩‍👧‍👦 🏳️‍🌈 prompt'],
  ['everything', `'"\`\\ $x {{y}} {z:String} }) // ; -- \u0007 🧪 \u202E`],
  ['percent and URL syntax', '100% %s %n %2F ../../etc/passwd?x=1&y=2#frag'],
  ['JSON', '{"a":[1,{"b":"c"}]}'],
];

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });

interface Planted {
  label: string;
  nasty: string;
  encoding: 'json' | 'protobuf';
  traceId: string;
  spanId: string;
  responseId: string;
}

/** One resourceSpans entry whose every lineage field (and a key, a name, an event) is `nasty`. */
function nastyResourceSpans(p: Planted) {
  const start = BigInt(Date.now()) * 1_000_000n;
  return {
    resource: { attributes: [kv('service.name', p.nasty), kv('service.version', p.nasty)] },
    scopeSpans: [
      {
        scope: { name: 'injection', version: '1' },
        spans: [
          {
            traceId: p.traceId,
            spanId: p.spanId,
            name: p.nasty,
            kind: 3,
            startTimeUnixNano: start.toString(),
            endTimeUnixNano: (start + 1_000_000n).toString(),
            attributes: [
              kv('gen_ai.prompt.name', p.nasty),
              kv('gen_ai.prompt.version', p.nasty),
              kv('promptline.prompt.alias', p.nasty),
              kv('llm.prompt_template.template', p.nasty),
              kv('gen_ai.response.id', p.responseId),
              kv('gen_ai.response.model', p.nasty),
              kv('gen_ai.system', p.nasty),
              { key: 'promptline.dataset.ids', value: { arrayValue: { values: [{ stringValue: p.nasty }, { stringValue: `ds ${p.nasty}` }] } } },
              kv('gen_ai.conversation.id', p.nasty),
              kv(p.nasty, p.nasty),
            ],
            events: [{ timeUnixNano: start.toString(), name: p.nasty, attributes: [kv(p.nasty, p.nasty)] }],
            status: { code: 2, message: p.nasty },
          },
        ],
      },
    ],
  };
}

function expectedRecord(p: Planted) {
  return {
    responseId: p.responseId,
    traceId: p.traceId,
    spanId: p.spanId,
    spanName: p.nasty,
    prompt: { name: p.nasty, version: p.nasty, alias: p.nasty, templateHash: sha256(p.nasty), registered: false, registration: 'unregistered', commitMessage: null, author: null },
    promptSpanId: p.spanId,
    model: { provider: p.nasty, name: p.nasty },
    datasets: [{ id: p.nasty }, { id: `ds ${p.nasty}` }],
    app: { name: p.nasty, version: p.nasty },
    conversationId: p.nasty,
  };
}

const neo4j = neo4jFromEnv();
const EMBEDDED = 'the embedded stores';
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: EMBEDDED, env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else {
  console.log(`injection on Neo4j: skipped: ${neo4j.skipReason}`);
  describe('hostile strings on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));
}

describe.each(backends)('hostile strings on $backend', ({ backend, env }) => {
  let server: ServerUnderTest;
  const run = randomUUID().slice(0, 8);
  const prompt = `injection-${run}`;
  const control = `control-${run}`;
  const planted: Planted[] = NASTY.flatMap(([label, nasty]) =>
    (['json', 'protobuf'] as const).map((encoding) => ({ label, nasty, encoding, traceId: traceId(), spanId: spanId(), responseId: encoding === 'json' ? nasty : `${nasty} (protobuf)` })),
  );

  beforeAll(async () => {
    server = await startServer({ env });
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const enc = encodeURIComponent;

  describe('over OTLP', () => {
    it('takes spans whose names, keys and lineage attributes are hostile strings, in JSON and protobuf', async () => {
      // A registered control prompt first: it must be intact at the end.
      expect((await call('POST', `/v1/prompts/${control}/versions`, { template: 'Control {{q}}', commitMessage: 'control' })).status).toBe(201);
      const json = { resourceSpans: planted.filter((p) => p.encoding === 'json').map(nastyResourceSpans) };
      const protobuf = { resourceSpans: planted.filter((p) => p.encoding === 'protobuf').map(nastyResourceSpans) };
      const a = await postJson(server.url, json);
      expect(a.status).toBe(200);
      expect(await a.json()).toEqual({});
      const b = await postProtobuf(server.url, encodeProtobuf(protobuf));
      expect(b.status).toBe(200);
    });

    it('answers /v1/provenance by response id with every hostile value verbatim', async () => {
      for (const p of planted) {
        const answer = await eventually(() => provenance(server.url, { response_id: p.responseId }), `${p.label} (${p.encoding})`);
        expect(answer, `${p.label} (${p.encoding})`).toMatchObject(expectedRecord(p));
      }
    });

    it('answers /v1/provenance by trace id with every hostile value verbatim', async () => {
      for (const p of planted) {
        const answer = await provenance(server.url, { trace_id: p.traceId });
        expect(answer, `${p.label} (${p.encoding})`).toMatchObject({ ...expectedRecord(p), spans: [expectedRecord(p)] });
      }
    });

    it('answers /v1/traces/{traceId} with hostile names, keys, values, events and status verbatim', async () => {
      for (const p of planted) {
        const what = `${p.label} (${p.encoding})`;
        const res = await fetch(`${server.url}/v1/traces/${p.traceId}`);
        expect(res.status, what).toBe(200);
        const detail = (await res.json()) as { spans: Array<Record<string, any>> };
        expect(detail.spans, what).toHaveLength(1);
        const span = detail.spans[0]!;
        expect(span, what).toMatchObject({ traceId: p.traceId, spanId: p.spanId, name: p.nasty, serviceName: p.nasty, status: { code: 'Error', message: p.nasty }, lineage: expectedRecord(p) });
        expect(Object.entries(span.attributes as Record<string, string>).filter(([k]) => k === p.nasty), what).toEqual([[p.nasty, p.nasty]]);
        expect(span.attributes['gen_ai.prompt.name'], what).toBe(p.nasty);
        expect(span.attributes['gen_ai.response.id'], what).toBe(p.responseId);
        expect(JSON.parse(span.attributes['promptline.dataset.ids']), what).toEqual([p.nasty, `ds ${p.nasty}`]);
        expect(span.resourceAttributes, what).toMatchObject({ 'service.name': p.nasty, 'service.version': p.nasty });
        expect(span.events, what).toEqual([expect.objectContaining({ name: p.nasty, attributes: { [p.nasty]: p.nasty } })]);
      }
    });

    it('records hostile prompt, model, dataset and app names as lineage graph entities, verbatim', async () => {
      const graph: LineageGraph = backend === EMBEDDED ? new SqliteLineageGraph(join(server.dataDir, 'lineage.sqlite')) : await Neo4jLineageGraph.connect(neo4j.settings!);
      try {
        for (const [label, nasty] of NASTY) {
          const edges = await eventually(async () => {
            const e = await graph.edgesOf('default', entity('Prompt', nasty), 'out');
            return e.length > 0 ? e : undefined;
          }, `the graph edges of ${label}`);
          // Containment, not equality: a Neo4j server keeps the graph of earlier runs.
          expect(edges.map((e) => [e.rel, e.to.kind, ...e.to.parts]), label).toContainEqual(['HAS_VERSION', 'PromptVersion', nasty, nasty]);
          const version = await graph.edgesOf('default', entity('PromptVersion', nasty, nasty), 'out');
          expect(version.map((e) => `${e.rel} ${e.to.kind} ${JSON.stringify(e.to.parts)}`), label).toEqual(
            expect.arrayContaining([`RAN_ON Model ${JSON.stringify([nasty, nasty])}`, `USED_BY AppVersion ${JSON.stringify([nasty, nasty])}`]),
          );
          const feeds = await graph.edgesOf('default', entity('Dataset', nasty), 'out');
          expect(feeds.map((e) => `${e.rel} ${e.to.kind} ${JSON.stringify(e.to.parts)}`), label).toEqual(
            expect.arrayContaining([`FEEDS PromptVersion ${JSON.stringify([nasty, nasty])}`, `USED_BY AppVersion ${JSON.stringify([nasty, nasty])}`]),
          );
        }
      } finally {
        await graph.close();
      }
    });

    it('gives a child that arrived first the hostile prompt of its parent that arrived later', async () => {
      // The late parent rewrites its stored child (a lineage fixup, a query of its own).
      const pairs = NASTY.map(([label, nasty]) => ({ label, nasty, trace: traceId(), parent: spanId(), child: spanId(), responseId: `child of ${nasty} ${run}` }));
      const start = BigInt(Date.now()) * 1_000_000n;
      const span = (trace: string, id: string, parent: string, attributes: unknown[]) => ({ traceId: trace, spanId: id, ...(parent ? { parentSpanId: parent } : {}), name: 'step', kind: 1, startTimeUnixNano: start.toString(), endTimeUnixNano: (start + 5n).toString(), attributes });
      const resource = { attributes: [kv('service.name', 'injection-app')] };
      const children = pairs.map((p) => span(p.trace, p.child, p.parent, [kv('gen_ai.response.id', p.responseId), kv('gen_ai.request.model', 'gpt-4o')]));
      expect((await postJson(server.url, { resourceSpans: [{ resource, scopeSpans: [{ spans: children }] }] })).status).toBe(200);
      for (const p of pairs) await eventually(() => provenance(server.url, { response_id: p.responseId }), `the child of ${p.label}`);
      const parents = pairs.map((p) => span(p.trace, p.parent, '', [kv('gen_ai.prompt.name', p.nasty), kv('gen_ai.prompt.version', p.nasty), kv('promptline.dataset.ids', `ds ${p.label}`)]));
      expect((await postProtobuf(server.url, encodeProtobuf({ resourceSpans: [{ resource, scopeSpans: [{ spans: parents }] }] }))).status).toBe(200);
      for (const p of pairs) {
        const answer = await eventually(async () => {
          const a = await provenance(server.url, { response_id: p.responseId });
          return a?.prompt ? a : undefined;
        }, `the inherited prompt of ${p.label}`);
        expect(answer, p.label).toMatchObject({ responseId: p.responseId, spanId: p.child, prompt: { name: p.nasty, version: p.nasty }, promptSpanId: p.parent, datasets: [{ id: `ds ${p.label}` }] });
      }
    });
  });

  describe('through the registry API', () => {
    it('refuses prompt names outside its restricted alphabet with 400, in every route', async () => {
      expect((await call('POST', `/v1/prompts/${prompt}/versions`, { template: 'Base {{x}}', commitMessage: 'base' })).status).toBe(201);
      for (const [label, nasty] of NASTY) {
        const name = enc(nasty);
        const answers = [
          await call('POST', `/v1/prompts/${name}/versions`, { template: 't', commitMessage: 'm' }),
          await call('GET', `/v1/prompts/${name}/versions`),
          await call('GET', `/v1/prompts/${name}/versions/1`),
          await call('POST', `/v1/prompts/${name}/versions/1/render`, { variables: {} }),
          await call('GET', `/v1/prompts/${name}/diff?from=1&to=2`),
          await call('GET', `/v1/prompts/${name}/aliases`),
          await call('PUT', `/v1/prompts/${name}/aliases/canary`, { version: 1, reason: 'r' }),
          await call('GET', `/v1/prompts/resolve?uri=${enc(`prompts:/${nasty}/1`)}`),
        ];
        for (const [k, a] of answers.entries()) {
          expect(a.status, `${label}, route ${k}`).toBe(400);
          expect(a.body?.error?.code, `${label}, route ${k}`).toBe('bad_request');
        }
        expect(answers[0]!.body.error.message, label).toMatch(/prompt name/);
      }
    });

    it('refuses hostile aliases and versions with 400', async () => {
      for (const [label, nasty] of NASTY) {
        const answers = [
          await call('PUT', `/v1/prompts/${prompt}/aliases/${enc(nasty)}`, { version: 1, reason: 'r' }),
          await call('GET', `/v1/prompts/${prompt}/aliases/${enc(nasty)}`),
          await call('GET', `/v1/prompts/${prompt}/aliases/${enc(nasty)}/history`),
          await call('POST', `/v1/prompts/${prompt}/aliases/${enc(nasty)}/rollback`, { reason: 'r' }),
          await call('GET', `/v1/prompts/${prompt}/versions/${enc(nasty)}`),
          await call('POST', `/v1/prompts/${prompt}/versions/${enc(nasty)}/render`, { variables: {} }),
          await call('GET', `/v1/prompts/${prompt}/diff?from=${enc(nasty)}&to=1`),
          await call('GET', `/v1/prompts/resolve?uri=${enc(`prompts:/${prompt}@${nasty}`)}`),
        ];
        for (const [k, a] of answers.entries()) expect(a.status, `${label}, route ${k}`).toBe(400);
      }
    });

    it('stores hostile templates, commit messages and tags verbatim and answers them back', async () => {
      for (const [label, nasty] of NASTY) {
        const tag = nasty.slice(0, 64);
        const text = `${nasty} {{x}}`;
        const created = await call('POST', `/v1/prompts/${prompt}/versions`, { template: text, commitMessage: nasty, tags: [tag, 'plain'] });
        expect(created.status, label).toBe(201);
        expect(created.body, label).toMatchObject({ name: prompt, template: { type: 'text', text }, commitMessage: nasty, tags: [tag, 'plain'] });
        expect(created.body.variables, label).toContain('x');
        const read = await call('GET', `/v1/prompts/${prompt}/versions/${created.body.version}`);
        expect(read.body, label).toMatchObject({ template: { type: 'text', text }, commitMessage: nasty, tags: [tag, 'plain'], templateHash: created.body.templateHash });
        const chat = await call('POST', `/v1/prompts/${prompt}/versions`, { template: { messages: [{ role: 'system', content: nasty }, { role: 'user', content: '{{x}}' }] }, commitMessage: `chat: ${nasty}` });
        expect(chat.status, label).toBe(201);
        expect((await call('GET', `/v1/prompts/${prompt}/versions/${chat.body.version}`)).body.template, label).toEqual({ type: 'chat', messages: [{ role: 'system', content: nasty }, { role: 'user', content: '{{x}}' }] });
      }
      const list = await call('GET', `/v1/prompts/${prompt}/versions?limit=500`);
      expect(list.body.total).toBe(1 + 2 * NASTY.length);
      expect(list.body.versions.map((v: { commitMessage: string }) => v.commitMessage)).toEqual(
        expect.arrayContaining(NASTY.flatMap(([, nasty]) => [nasty, `chat: ${nasty}`])),
      );
    });

    it('renders hostile variable values verbatim: no second expansion, no replacement patterns', async () => {
      for (const [label, nasty] of NASTY) {
        const value = `${nasty} $& $1 $$ $\` $' {{x}}`;
        // "__proto__" as a variable name too: JSON.parse makes it an own property, as a server would.
        const variables = JSON.parse(`{"__proto__": ${JSON.stringify(nasty)}}`) as Record<string, string>;
        variables.x = value;
        const r = await call('POST', `/v1/prompts/${prompt}/versions/1/render`, { variables });
        expect(r.status, label).toBe(200);
        expect(r.body.rendered, label).toEqual({ type: 'text', text: `Base ${value}` });
      }
    });

    it('stores hostile alias move and rollback reasons verbatim', async () => {
      const reasons: string[] = [];
      for (const [label, nasty] of NASTY) {
        const moved = await call('PUT', `/v1/prompts/${prompt}/aliases/canary`, { version: reasons.length % 2 === 0 ? 2 : 3, reason: nasty });
        expect(moved.status, label).toBe(200);
        expect(moved.body.reason, label).toBe(nasty);
        reasons.push(nasty);
      }
      const rollback = await call('POST', `/v1/prompts/${prompt}/aliases/canary/rollback`, { reason: NASTY[4]![1] });
      expect(rollback.status).toBe(200);
      expect(rollback.body).toMatchObject({ rollback: true, reason: NASTY[4]![1] });
      reasons.push(NASTY[4]![1]);
      const history = await call('GET', `/v1/prompts/${prompt}/aliases/canary/history`);
      expect(history.body.moves.map((m: { reason: string }) => m.reason)).toEqual(reasons);
      expect((await call('GET', `/v1/prompts/${prompt}/aliases/canary`)).body.since.reason).toBe(NASTY[4]![1]);
    });

    it('assigns hostile split keys and answers them back verbatim', async () => {
      const split = await call('PUT', `/v1/prompts/${prompt}/aliases/ab-test`, { split: [{ version: 2, weight: 50 }, { version: 3, weight: 50 }], reason: NASTY[6]![1] });
      expect(split.status).toBe(200);
      const splitId = split.body.to.split.id as string;
      for (const [label, nasty] of NASTY) {
        const state = await call('GET', `/v1/prompts/${prompt}/aliases/ab-test?key=${enc(nasty)}`);
        expect(state.status, label).toBe(200);
        expect(state.body.resolved.assignment, label).toEqual({ splitId, version: state.body.resolved.version, key: nasty });
        const resolved = await call('GET', `/v1/prompts/resolve?uri=${enc(`prompts:/${prompt}@ab-test`)}&key=${enc(nasty)}`);
        expect(resolved.status, label).toBe(200);
        expect(resolved.body.assignment, label).toEqual({ splitId, version: state.body.resolved.version, key: nasty });
        expect(resolved.body.version.version, label).toBe(state.body.resolved.version);
      }
    });

    it('takes prompt names that are valid yet read like SQL or Cypher, and keeps them apart', async () => {
      for (const name of [`DROP-TABLE--otel_traces-${run}`, `n.name--${run}`, `x_OR_1_1-${run}`]) {
        const r = await call('POST', `/v1/prompts/${name}/versions`, { template: `for ${name}`, commitMessage: 'looks like SQL' });
        expect(r.status, name).toBe(201);
        expect(r.body.version, name).toBe(1);
        expect((await call('GET', `/v1/prompts/${name}/versions/latest`)).body.template.text, name).toBe(`for ${name}`);
      }
    });
  });

  describe('afterwards', () => {
    it('still answers, with the stores ready and the earlier data intact', async () => {
      expect((await call('GET', '/healthz')).status).toBe(200);
      const ready = await call('GET', '/readyz');
      expect(ready.body.status).toBe('ready');
      for (const store of Object.values(ready.body.stores as Record<string, { ok: boolean }>)) expect(store.ok).toBe(true);
      // The spans: still there, still verbatim (a DROP TABLE or DETACH DELETE would show here).
      for (const p of planted) expect(await provenance(server.url, { response_id: p.responseId }), p.label).toMatchObject(expectedRecord(p));
      // The registry: the control prompt and every version and move.
      const controlVersion = await call('GET', `/v1/prompts/${control}/versions/1`);
      expect(controlVersion.body).toMatchObject({ name: control, version: 1, template: { type: 'text', text: 'Control {{q}}' }, commitMessage: 'control' });
      expect((await call('GET', `/v1/prompts/${prompt}/versions`)).body.total).toBe(1 + 2 * NASTY.length);
      expect((await call('GET', `/v1/prompts/${prompt}/aliases/canary/history`)).body.moves).toHaveLength(NASTY.length + 1);
      expect((await call('GET', `/v1/prompts/${control}/versions`)).body.total).toBe(1);
      // New data is still taken.
      const fresh = { label: 'fresh', nasty: `fresh ${run}`, encoding: 'json' as const, traceId: traceId(), spanId: spanId(), responseId: `fresh-${run}` };
      expect((await postJson(server.url, { resourceSpans: [nastyResourceSpans(fresh)] })).status).toBe(200);
      expect(await eventually(() => provenance(server.url, { response_id: fresh.responseId }), 'a fresh span')).toMatchObject(expectedRecord(fresh));
    });
  });
});
