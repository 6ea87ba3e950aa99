import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { exportRequest, jsonSpan, postJson, str, uniqueId } from '../helpers/otlp-payloads.ts';
import { removeDir, type ServerUnderTest } from '../helpers/server.ts';

// Mixed hostile and normal traffic from several keys and projects for a while, then: every span a
// normal client had acknowledged is stored, the process never restarted, and no hostile request
// was answered 500. Light by default (20 s, in every run); PROMPTLINE_TEST_HEAVY=1 makes it the
// 10-minute soak (PROMPTLINE_SOAK_SECONDS to choose another length).

const HEAVY = process.env.PROMPTLINE_TEST_HEAVY === '1';
const SECONDS = Number(process.env.PROMPTLINE_SOAK_SECONDS ?? (HEAVY ? 600 : 20));
const PROJECTS = ['soak-a', 'soak-b', 'soak-c'];

describe(`soak: ${SECONDS} s of mixed hostile and normal traffic`, () => {
  let server: ServerUnderTest;
  let admin: string;
  const ingest = new Map<string, string>();
  const read = new Map<string, string>();

  const makeKey = async (role: string, project: string) => {
    const res = await fetch(`${server.url}/v1/keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ role, project, name: `${role} ${project}` }) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  };

  beforeAll(async () => {
    ({ server, admin } = await startServerWithAdmin({ env: { PROMPTLINE_SCANS_PER_PROJECT: '2' } }));
    for (const p of PROJECTS) {
      ingest.set(p, await makeKey('ingest', p));
      read.set(p, await makeKey('read', p));
    }
    // A prompt with a large template, for diffs and renders that must be refused, not computed.
    const big = Array.from({ length: 3_000 }, (_, i) => `line ${i} {{a}}`).join('\n');
    const other = Array.from({ length: 3_000 }, (_, i) => `other ${i} {{a}}`).join('\n');
    for (const template of [big, other]) {
      const res = await fetch(`${server.url}/v1/prompts/big/versions`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ template, commitMessage: 'big' }) });
      expect(res.status).toBe(201);
    }
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    removeDir(server?.dataDir ?? '');
  });

  it('stores every acknowledged span and never restarts or answers 500', async () => {
    const pid = server.process.pid;
    const deadline = Date.now() + SECONDS * 1000;
    const acked = new Map<string, number>(PROJECTS.map((p) => [p, 0]));
    const statuses = new Map<string, number[]>();
    const note = (kind: string, status: number) => {
      const list = statuses.get(kind) ?? [];
      list.push(status);
      statuses.set(kind, list);
    };

    const normal = async (project: string) => {
      while (Date.now() < deadline) {
        const spans = Array.from({ length: 50 }, () => jsonSpan({ attributes: [str('gen_ai.prompt.name', 'soak'), str('gen_ai.prompt.version', '1'), str('gen_ai.response.model', 'gpt-4o'), str('gen_ai.response.id', uniqueId('soak'))] }));
        const res = await postJson(server.url, exportRequest(spans), { authorization: `Bearer ${ingest.get(project)!}` });
        await res.arrayBuffer();
        note('normal ingest', res.status);
        if (res.status === 200) acked.set(project, acked.get(project)! + spans.length);
        else if (res.status === 429 || res.status === 503) await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
        const p = await fetch(`${server.url}/v1/provenance?response_id=nope`, { headers: { authorization: `Bearer ${read.get(project)!}` } });
        await p.arrayBuffer();
        note('normal provenance', p.status);
      }
    };

    const hostile = async () => {
      const attacks: Array<() => Promise<[string, Response]>> = [
        async () => ['impact flood', await fetch(`${server.url}/v1/impact?prompt=soak&version=1`, { headers: { authorization: `Bearer ${read.get('soak-a')!}` } })],
        async () => ['wrong key', await fetch(`${server.url}/v1/prompts`, { headers: { authorization: `Bearer pl_wrong_${uniqueId('k')}` } })],
        async () => ['huge diff', await fetch(`${server.url}/v1/prompts/big/diff?from=1&to=2`, { headers: { authorization: `Bearer ${admin}` } })],
        async () => ['render bomb', await fetch(`${server.url}/v1/prompts/big/versions/1/render`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ variables: { a: 'x'.repeat(4096) } }) })],
        async () => ['malformed OTLP', await postJson(server.url, '{"resourceSpans": [', { authorization: `Bearer ${ingest.get('soak-b')!}` })],
        async () => {
          // Spans far in the past (partition spray) and lineage values far over their bounds.
          const spans = [jsonSpan({ attributes: [str('gen_ai.prompt.name', 'x'.repeat(100_000))] })];
          const old = jsonSpan();
          old.startTimeUnixNano = '946684800000000000';
          old.endTimeUnixNano = '946684801000000000';
          return ['out-of-bounds spans', await postJson(server.url, exportRequest([...spans, old]), { authorization: `Bearer ${ingest.get('soak-c')!}` })];
        },
        async () => ['bad time range', await fetch(`${server.url}/v1/impact?prompt=soak&version=1&from=0001-01-01T00:00:00Z`, { headers: { authorization: `Bearer ${read.get('soak-b')!}` } })],
      ];
      // Each attack in a loop of its own, so a slow one (a scan) does not hold back the quick ones.
      await Promise.all(
        attacks.map(async (attack) => {
          while (Date.now() < deadline) {
            const [kind, res] = await attack();
            await res.arrayBuffer();
            note(kind, res.status);
            if (res.status === 429) await new Promise((r) => setTimeout(r, 200));
          }
        }),
      );
    };

    await Promise.all([...PROJECTS.map((p) => normal(p)), hostile()]);
    const summary = [...statuses].map(([k, v]) => `${k}: ${v.length} requests, statuses ${[...new Set(v)].sort().join('/')}`).join('\n');
    console.log(`soak of ${SECONDS} s:\n${summary}\nacknowledged spans: ${[...acked].map(([p, n]) => `${p} ${n}`).join(', ')}`);

    expect(server.process.exitCode, server.output().slice(-2000)).toBeNull();
    expect(server.process.pid).toBe(pid);
    for (const [kind, list] of statuses) expect(list.filter((s) => s >= 500 && s !== 503), `${kind}\n${summary}`).toEqual([]);
    for (const p of PROJECTS) expect(acked.get(p), `${p} had nothing acknowledged\n${summary}`).toBeGreaterThan(0);

    // Every acknowledged span is stored, exactly once (the writer drains; wait for it).
    for (const p of PROJECTS) {
      let count = -1;
      for (let i = 0; i < 600 && count !== acked.get(p); i++) {
        const res = await fetch(`${server.url}/v1/impact?prompt=soak&version=1&limit=1`, { headers: { authorization: `Bearer ${read.get(p)!}` } });
        if (res.status === 200) count = ((await res.json()) as { responses: { count: number } }).responses.count;
        else await res.arrayBuffer();
        if (count !== acked.get(p)) await new Promise((r) => setTimeout(r, 200));
      }
      expect(count, `${p}: stored ${count}, acknowledged ${acked.get(p)}`).toBe(acked.get(p));
    }
  }, (SECONDS + 300) * 1000);
});
