import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { eventually, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// Impact answers checked against ground truth. The test generates a known world — 3 prompts × 5
// versions, an alias moved at known times, 2 datasets, 2 models, 3 app versions — sends it as OTLP,
// computes every expected answer itself from what it generated, and compares. The same suite runs
// with the lineage graph on SQLite and on Neo4j.

const neo4j = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'SQLite', env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else describe('impact on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));

/** A seeded PRNG (mulberry32): the same world every run. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Response {
  responseId: string;
  traceId: string;
  ts: number; // ms
  prompt: string;
  version: number;
  alias: string;
  datasets: string[];
  model: string;
  app: string;
  appVersion: string;
  conversation: string;
}

const PROMPTS = ['triage', 'answer', 'summarize'];
const DATASETS = ['kb-2026-10', 'faq-v3'];
const MODELS = ['gpt-4o', 'claude-sonnet-4'];
const APPS: Array<[string, string]> = [['support-bot', '1.4.0'], ['support-bot', '1.5.0'], ['ops-agent', '0.9.0']];

describe.each(backends)('impact analysis on $backend, against ground truth', ({ env }) => {
  let server: ServerUnderTest;
  const tag = randomBytes(3).toString('hex');
  const name = (p: string) => `${p}-${tag}`;
  const world: Response[] = [];
  const moves: Array<{ seq: number; at: number; version: number }> = [];

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    server = await startServer({ env });
    for (const p of PROMPTS) for (let v = 1; v <= 5; v++) expect((await call('POST', `/v1/prompts/${name(p)}/versions`, { template: `${p} v${v}: {{input}}`, commitMessage: `${p} change ${v}` })).status).toBe(201);
    // production of "answer" moves 1 → 2 → 3 → split(3: 50, 4: 50), at known times.
    const targets: object[] = [{ version: 1 }, { version: 2 }, { version: 3 }, { split: [{ version: 3, weight: 50 }, { version: 4, weight: 50 }] }];
    for (const t of targets) {
      const m = await call('PUT', `/v1/prompts/${name('answer')}/aliases/production`, { ...t, reason: 'rollout' });
      moves.push({ seq: m.body.seq, at: Date.parse(m.body.at), version: (t as { version?: number }).version ?? 0 });
      await new Promise((r) => setTimeout(r, 250));
    }

    // 400 responses spread from 0.5 s before the first move to 0.5 s after the last.
    const random = rng(42);
    const start = moves[0]!.at - 500;
    const end = moves.at(-1)!.at + 500;
    const spans: object[][] = [];
    for (let i = 0; i < 400; i++) {
      const ts = Math.floor(start + ((end - start) * i) / 400);
      const prompt = PROMPTS[Math.floor(random() * 3)]!;
      let alias = '';
      let version = 1 + Math.floor(random() * 5);
      if (prompt === 'answer' && random() < 0.7) {
        // The app asked for production and got what it pointed to at that time.
        const m = [...moves].reverse().find((x) => x.at <= ts);
        if (m) {
          alias = 'production';
          version = m.version || (random() < 0.5 ? 3 : 4);
        }
      }
      const datasets = DATASETS.filter(() => random() < 0.5);
      const [app, appVersion] = APPS[Math.floor(random() * 3)]!;
      const r: Response = {
        responseId: `resp-${tag}-${i}`,
        traceId: randomBytes(16).toString('hex'),
        ts,
        prompt,
        version,
        alias,
        datasets,
        model: MODELS[i % 2]!,
        app,
        appVersion,
        conversation: `conv-${i % 37}`,
      };
      world.push(r);
      const stepId = randomBytes(8).toString('hex');
      const ns = (ms: number) => (BigInt(ms) * 1_000_000n).toString();
      const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
      spans.push([
        {
          resource: { attributes: [kv('service.name', app), kv('service.version', appVersion)] },
          span: {
            traceId: r.traceId, spanId: stepId, name: 'invoke_agent', kind: 1, startTimeUnixNano: ns(ts), endTimeUnixNano: ns(ts + 5),
            attributes: [kv('gen_ai.prompt.name', name(prompt)), kv('gen_ai.prompt.version', String(version)), ...(alias ? [kv('promptline.prompt.alias', alias)] : []), kv('gen_ai.conversation.id', r.conversation), ...(datasets.length ? [{ key: 'promptline.dataset.ids', value: { arrayValue: { values: datasets.map((d) => ({ stringValue: `${d}-${tag}` })) } } }] : [])],
          },
        },
        {
          resource: { attributes: [kv('service.name', app), kv('service.version', appVersion)] },
          span: {
            traceId: r.traceId, spanId: randomBytes(8).toString('hex'), parentSpanId: stepId, name: 'chat', kind: 3, startTimeUnixNano: ns(ts), endTimeUnixNano: ns(ts + 4),
            attributes: [kv('gen_ai.provider.name', 'vendor'), kv('gen_ai.response.model', `${r.model}-${tag}`), kv('gen_ai.response.id', r.responseId)],
          },
        },
      ]);
    }
    // Children are sent before their parents in half the traces, as SDKs do.
    const requests = [];
    for (let i = 0; i < spans.length; i += 50) {
      const chunk = spans.slice(i, i + 50).flatMap((pair, j) => (j % 2 === 0 ? [pair[1], pair[0]] : pair)) as Array<{ resource: object; span: object }>;
      requests.push({ resourceSpans: chunk.map((c) => ({ resource: c.resource, scopeSpans: [{ spans: [c.span] }] })) });
    }
    for (const body of requests) expect((await call('POST', '/v1/traces', body)).status).toBe(200);
    // Evaluation evidence for triage v2 on one dataset.
    expect((await call('POST', '/v1/evaluations', { runId: `run-${tag}`, scorer: 'accuracy', prompt: `prompts:/${name('triage')}/2`, datasetId: `kb-2026-10-${tag}`, results: [{ score: 1 }, { score: 0 }, { score: 1 }, { score: 1 }] })).status).toBe(201);
    await eventually(async () => {
      const r = await call('GET', '/readyz');
      return r.body.writer.queuedRecords === 0 && r.body.spool.pendingRecords === 0 ? true : undefined;
    }, 'ingest to finish');
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  /** What the test expects: counts by the same groupings the API answers with. */
  function truth(selected: Response[]) {
    const group = (key: (r: Response) => string) => {
      const m = new Map<string, number>();
      for (const r of selected) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
      return Object.fromEntries([...m].sort());
    };
    return {
      count: selected.length,
      apps: group((r) => `${r.app}@${r.appVersion}`),
      versions: group((r) => `${name(r.prompt)}@${r.version}`),
      models: group((r) => `${r.model}-${tag}`),
      datasets: Object.fromEntries(DATASETS.map((d) => [`${d}-${tag}`, selected.filter((r) => r.datasets.includes(d)).length] as const).filter(([, n]) => n > 0).sort()),
      conversations: new Set(selected.map((r) => r.conversation)).size,
      first: selected.length ? Math.min(...selected.map((r) => r.ts)) : null,
      last: selected.length ? Math.max(...selected.map((r) => r.ts)) : null,
      ids: selected.map((r) => r.responseId).sort(),
    };
  }

  /** The API's answer in the same shape, following the cursor through every page. */
  async function answer(query: string) {
    const first = await call('GET', `/v1/impact?${query}&limit=70`);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const a = first.body;
    const ids: string[] = a.responses.items.map((i: { responseId: string }) => i.responseId);
    let cursor = a.responses.nextCursor;
    while (cursor) {
      const page = await call('GET', `/v1/impact?${query}&limit=70&cursor=${cursor}`);
      ids.push(...page.body.responses.items.map((i: { responseId: string }) => i.responseId));
      cursor = page.body.responses.nextCursor;
    }
    const obj = (rows: Array<{ count: number }>, key: (r: any) => string) => Object.fromEntries(rows.map((r) => [key(r), r.count]).sort());
    return {
      raw: a,
      shaped: {
        count: a.responses.count,
        apps: obj(a.apps, (r) => `${r.name}@${r.version}`),
        versions: obj(a.promptVersions, (r) => `${r.name}@${r.version}`),
        models: obj(a.models, (r) => r.name),
        datasets: obj(a.datasets, (r) => r.id),
        conversations: a.conversations.count,
        first: a.firstSeen ? Math.round(Date.parse(a.firstSeen)) : null,
        last: a.lastSeen ? Math.round(Date.parse(a.lastSeen)) : null,
        ids: ids.sort(),
      },
    };
  }

  it('answers for every prompt version exactly what was generated', async () => {
    for (const p of PROMPTS) {
      for (let v = 1; v <= 5; v++) {
        const expected = truth(world.filter((r) => r.prompt === p && r.version === v));
        if (expected.count === 0) continue;
        const { shaped, raw } = await answer(`prompt=${name(p)}&version=${v}`);
        expect(shaped, `${p} v${v}`).toEqual(expected);
        expect(raw.responses.histogram.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(expected.count);
        expect(raw.target).toMatchObject({ kind: 'promptVersion', name: name(p), version: v, registered: true, commitMessage: `${p} change ${v}` });
        // Each app version is connected to the prompt version through the graph: PromptVersion -USED_BY-> AppVersion.
        for (const app of raw.apps) expect(app, `${p} v${v} ${app.name}@${app.version}`).toMatchObject({ via: 'graph', path: [{ from: { kind: 'PromptVersion' }, rel: 'USED_BY', to: { kind: 'AppVersion', parts: [app.name, app.version] } }] });
      }
    }
  });

  it('answers for each alias move: the responses served through it from the move until the next', async () => {
    for (const [i, m] of moves.entries()) {
      const until = moves[i + 1]?.at ?? Infinity;
      const versions = m.version ? [m.version] : [3, 4];
      const expected = truth(world.filter((r) => r.prompt === 'answer' && versions.includes(r.version) && (r.alias === 'production' || r.alias === '') && r.ts >= m.at && r.ts < until));
      const { shaped, raw } = await answer(`prompt=${name('answer')}&alias=production&move=${m.seq}`);
      expect(shaped, `move ${m.seq}`).toEqual(expected);
      expect(raw.target).toMatchObject({ kind: 'aliasMove', alias: 'production', move: { seq: m.seq }, versions });
    }
  });

  it('answers for each dataset, model and app version', async () => {
    for (const d of DATASETS) expect((await answer(`dataset=${d}-${tag}`)).shaped, d).toEqual(truth(world.filter((r) => r.datasets.includes(d))));
    for (const m of MODELS) expect((await answer(`model=${m}-${tag}&provider=vendor`)).shaped, m).toEqual(truth(world.filter((r) => r.model === m)));
    for (const [app, version] of APPS) {
      const a = await answer(`app=${app}&app_version=${version}`);
      // Every app version in this world also carries other tests' data, so the app version filter
      // is checked on this test's prompts only.
      const mine = Object.fromEntries(Object.entries(a.shaped.versions).filter(([k]) => k.includes(tag)));
      expect(mine, `${app}@${version}`).toEqual(truth(world.filter((r) => r.app === app && r.appVersion === version)).versions);
    }
  });

  it('lists the versions derived from a version, the evaluation runs behind it, and the path to each', async () => {
    const a = (await answer(`prompt=${name('triage')}&version=2`)).raw;
    expect(a.derivedVersions.map((d: { version: string; depth: number }) => [d.version, d.depth])).toEqual([['3', 1], ['4', 2], ['5', 3]]);
    expect(a.derivedVersions[1].path.map((s: { rel: string }) => s.rel)).toEqual(['DERIVED_FROM', 'DERIVED_FROM']);
    expect(a.evaluations).toEqual([expect.objectContaining({ runId: `run-${tag}`, scorer: 'accuracy', results: 4, meanScore: 0.75, datasets: [`kb-2026-10-${tag}`], via: 'graph' })]);
  });

  it('refuses a query without exactly one starting point, and answers 404 for something never seen', async () => {
    expect((await call('GET', '/v1/impact')).status).toBe(400);
    expect((await call('GET', `/v1/impact?prompt=${name('triage')}`)).status).toBe(400);
    expect((await call('GET', `/v1/impact?dataset=x&model=y`)).status).toBe(400);
    expect((await call('GET', `/v1/impact?dataset=never-seen-${tag}`)).status).toBe(404);
    expect((await call('GET', `/v1/impact?prompt=${name('answer')}&alias=production&move=99`)).status).toBe(404);
    expect((await call('GET', `/v1/impact?dataset=faq-v3-${tag}&cursor=not-a-cursor`)).status).toBe(400);
  });
});
