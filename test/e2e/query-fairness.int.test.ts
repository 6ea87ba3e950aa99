import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { exportRequest, jsonSpan, llmCall, postJson, postProtobuf, str, toProtobuf, uniqueId } from '../helpers/otlp-payloads.ts';
import { removeDir, type ServerUnderTest } from '../helpers/server.ts';

// One tenant's heavy queries cannot starve another's cheap ones: a project may have only a few
// requests that scan many spans in flight (PROMPTLINE_SCANS_PER_PROJECT; past it, 429), and the
// span store serves lookups (provenance, traces) before scans (impact, compare, the response list)
// and projects in turn. And every key's OTLP exports are rate limited.

const BOUND_MS = 5_000;
const HEAVY_SPANS = 30_000;

async function timed(fn: () => Promise<Response>): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  const res = await fn();
  const body = await res.text();
  return { status: res.status, ms: performance.now() - t0, body };
}

// With a budget of 2 the flood is mostly refused; with a budget as large as the flood every scan is
// queued in the store, and the lanes alone keep the other project's lookup quick.
describe.each([{ budget: 2 }, { budget: 30 }])('queries of one project while another floods the store with scans (scan budget $budget)', ({ budget }) => {
  let server: ServerUnderTest;
  let admin: string;
  const keys: Record<string, string> = {};
  const bResponse = uniqueId('chatcmpl-b');

  const call = (key: string, path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    ({ server, admin } = await startServerWithAdmin({ env: { PROMPTLINE_SCANS_PER_PROJECT: String(budget), PROMPTLINE_QUERY_QUEUE_PER_PROJECT: '1000' } }));
    for (const [name, role, project] of [
      ['aIngest', 'ingest', 'tenant-a'],
      ['aRead', 'read', 'tenant-a'],
      ['bIngest', 'ingest', 'tenant-b'],
      ['bRead', 'read', 'tenant-b'],
    ] as const) {
      const res = await fetch(`${server.url}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ role, project, name }) });
      expect(res.status).toBe(201);
      keys[name] = ((await res.json()) as { key: string }).key;
    }
    // Tenant A: enough spans of one prompt version that each impact query scans for a while.
    for (let sent = 0; sent < HEAVY_SPANS; sent += 10_000) {
      const spans = Array.from({ length: 10_000 }, (_, i) =>
        jsonSpan({ name: 'chat', attributes: [str('gen_ai.prompt.name', 'heavy'), str('gen_ai.prompt.version', '1'), str('gen_ai.response.model', 'gpt-4o'), str('gen_ai.response.id', `heavy-${sent + i}`), str('gen_ai.conversation.id', `c-${(sent + i) % 500}`)] }),
      );
      const res = await postProtobuf(server.url, toProtobuf(exportRequest(spans)), { authorization: `Bearer ${keys.aIngest!}` });
      expect(res.status).toBe(200);
    }
    const b = llmCall({ responseId: bResponse });
    expect((await postJson(server.url, exportRequest([b.span]), { authorization: `Bearer ${keys.bIngest!}` })).status).toBe(200);
    // Stored: B's response answers, and A's impact counts every span.
    for (let i = 0; ; i++) {
      const p = await call(keys.bRead!, `/v1/provenance?response_id=${bResponse}`);
      const a = (await (await call(keys.aRead!, '/v1/impact?prompt=heavy&version=1&limit=1')).json()) as { responses?: { count: number } };
      if (p.status === 200 && a.responses?.count === HEAVY_SPANS) break;
      if (i > 600) throw new Error(`the data was not stored: provenance ${p.status}, impact ${JSON.stringify(a)}\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    removeDir(server?.dataDir ?? '');
  });

  it('keeps /healthz, OTLP and the other project’s provenance answering, and refuses what is over the budget with 429', async () => {
    const single = await timed(() => call(keys.aRead!, '/v1/impact?prompt=heavy&version=1'));
    expect(single.status).toBe(200);
    // 30 impact queries at once from tenant A's read key (each a scan of every span of A).
    const flood = Array.from({ length: 30 }, () => timed(() => call(keys.aRead!, '/v1/impact?prompt=heavy&version=1')));
    await new Promise((r) => setTimeout(r, 50));
    const health = await timed(() => fetch(`${server.url}/healthz`));
    const provenance = await timed(() => call(keys.bRead!, `/v1/provenance?response_id=${bResponse}`));
    const otlp = await timed(() => postJson(server.url, exportRequest([llmCall().span]), { authorization: `Bearer ${keys.bIngest!}` }));
    const answers = await Promise.all(flood);
    const summary = `one impact query alone: ${single.ms.toFixed(0)} ms; healthz ${health.ms.toFixed(0)} ms, provenance ${provenance.ms.toFixed(0)} ms, OTLP ${otlp.ms.toFixed(0)} ms during the flood; flood answers ${answers.map((a) => a.status).join(',')}`;
    console.log(summary);
    expect(health.status).toBe(200);
    expect(provenance.status, provenance.body).toBe(200);
    expect(JSON.parse(provenance.body).responseId).toBe(bResponse);
    expect(otlp.status).toBe(200);
    expect(health.ms, summary).toBeLessThan(BOUND_MS);
    expect(provenance.ms, summary).toBeLessThan(BOUND_MS);
    expect(otlp.ms, summary).toBeLessThan(BOUND_MS);
    // The flood itself: answered, or told clearly to come back later.
    expect(answers.every((a) => a.status === 200 || a.status === 429), summary).toBe(true);
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 200).length, summary).toBeGreaterThanOrEqual(budget);
    if (budget < answers.length) {
      expect(refused.length, summary).toBe(answers.length - budget);
      expect(JSON.parse(refused[0]!.body).error.message).toContain(`project tenant-a has ${budget} requests over many spans`);
    }
  });
});

describe('OTLP exports per key', () => {
  let server: ServerUnderTest;
  let admin: string;
  beforeAll(async () => {
    ({ server, admin } = await startServerWithAdmin({ env: { PROMPTLINE_INGEST_RATE_PER_SECOND: '1', PROMPTLINE_INGEST_RATE_BURST: '3' } }));
  });
  afterAll(async () => {
    await server?.stop();
    removeDir(server?.dataDir ?? '');
  });

  const ingestKey = async (name: string) => {
    const res = await fetch(`${server.url}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ role: 'ingest', name }) });
    return ((await res.json()) as { key: string }).key;
  };

  it('are limited per key with 429, Retry-After and an OTLP status, and another key is still served', async () => {
    const flooding = await ingestKey('flooding exporter');
    const other = await ingestKey('another exporter');
    const statuses: number[] = [];
    let refused: Response | null = null;
    for (let i = 0; i < 8; i++) {
      const res = await postJson(server.url, exportRequest([llmCall().span]), { authorization: `Bearer ${flooding}` });
      statuses.push(res.status);
      if (res.status === 429 && !refused) refused = res;
      else await res.arrayBuffer();
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(refused, statuses.join(',')).not.toBeNull();
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // OTLP exporters read a google.rpc.Status in the request's encoding.
    const status = (await refused!.json()) as { code: number; message: string };
    expect(status.code).toBe(8);
    expect(status.message).toContain('OTLP requests a second');
    expect((await postJson(server.url, exportRequest([llmCall().span]), { authorization: `Bearer ${other}` })).status).toBe(200);
  });
});
