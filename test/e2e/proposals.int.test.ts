import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { neo4jFromEnv } from '../helpers/neo4j.ts';
import { exportRequest, llmCall, postJson } from '../helpers/otlp-payloads.ts';
import { eventually, removeDir, type ServerUnderTest } from '../helpers/server.ts';

// Review and promote against `promptline serve` run as in production (keys on): who may propose,
// review and merge; policies of protected aliases that name what a merge misses; admin overrides
// recorded as such; a staged rollout that advances only after the responses its policy asks for;
// the compliance report that shows the review behind a response produced under a merged
// proposal, and not behind one produced before; two merges racing on one alias.

const ROOT = resolve(import.meta.dirname, '../..');
const neo4j = neo4jFromEnv();
const backends: Array<{ backend: string; env: Record<string, string> }> = [{ backend: 'SQLite', env: {} }];
if (neo4j.settings) backends.push({ backend: 'Neo4j', env: { NEO4J_URL: neo4j.settings.url, NEO4J_USER: neo4j.settings.user, NEO4J_PASSWORD: neo4j.settings.password } });
else describe('review and promote on Neo4j', () => it.skip(`skipped: ${neo4j.skipReason}`, () => {}));

describe.each(backends)('review and promote on $backend', ({ env }) => {
  const tag = randomBytes(3).toString('hex');
  let server: ServerUnderTest;
  // An admin of a project of this test's own: servers that share the run's Neo4j share its
  // projects, and the policies set here must not reach another test's production alias.
  let ADMIN: string;
  const keys: Record<string, string> = {};

  const call = async (key: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
  };
  const ok = async (key: string, method: string, path: string, body?: unknown, status = 200) => {
    const r = await call(key, method, path, body);
    expect(r.status, r.text).toBe(status);
    return r.body;
  };
  const newPrompt = async (name: string, aliases: string[]) => {
    await ok(ADMIN, 'POST', `/v1/prompts/${name}/versions`, { template: 'Answer {{question}} in detail.', commitMessage: 'first' }, 201);
    // Set before the policies exist, as a direct move.
    for (const alias of aliases) await ok(ADMIN, 'PUT', `/v1/prompts/${name}/aliases/${alias}`, { version: 1, reason: 'first release' });
  };
  const propose = (key: string, name: string, move: object, text = `Answer {{question}} in two sentences. ${randomBytes(2).toString('hex')}`) =>
    ok(key, 'POST', `/v1/prompts/${name}/proposals`, { template: text, title: `Shorter answers for ${name}`, description: 'Users skim.', move }, 201);
  const review = (key: string, name: string, id: string, verdict: string, message = '') => call(key, 'POST', `/v1/prompts/${name}/proposals/${id}/reviews`, { verdict, message });
  const merge = (key: string, name: string, id: string, body: object = {}) => call(key, 'POST', `/v1/prompts/${name}/proposals/${id}/merge`, body);
  const evaluate = (name: string, version: number, runId: string, scores: number[], datasetId = 'golden-v3') =>
    ok(ADMIN, 'POST', '/v1/evaluations', { runId, scorer: 'helpfulness', prompt: `prompts:/${name}/${version}`, datasetId, results: scores.map((score) => ({ score })) }, 201);
  const respond = async (name: string, version: number, responseId = `resp-${randomBytes(6).toString('hex')}`) => {
    const { span } = llmCall({ promptName: name, promptVersion: String(version), responseId });
    const r = await postJson(server.url, exportRequest([span]), { authorization: `Bearer ${ADMIN}` });
    expect(r.status).toBe(200);
    return responseId;
  };

  beforeAll(async () => {
    let instanceAdmin: string;
    ({ server, admin: instanceAdmin } = await startServerWithAdmin({ env: { ...env, PROMPTLINE_PROTECTED_ALIASES: 'production,stable,guarded' } }));
    ADMIN = (await ok(instanceAdmin, 'POST', '/v1/keys', { role: 'admin', project: `proposals-${tag}`, name: `admin ${tag}` }, 201)).key;
    const roles: Array<[string, string]> = [
      ['proposer', 'proposer'],
      ['reviewer', 'edit'],
      ['reviewer2', 'edit'],
      ['reader', 'read'],
    ];
    for (const [label, role] of roles) {
      keys[label] = (await ok(ADMIN, 'POST', '/v1/keys', { role, name: `${label} ${tag}` }, 201)).key;
    }
    // Every prompt of the tests, its aliases set while they were still ordinary moves.
    await newPrompt(`faq-${tag}`, ['production']);
    await newPrompt(`own-${tag}`, ['production']);
    await newPrompt(`gate-${tag}`, ['production']);
    await newPrompt(`override-${tag}`, ['production']);
    await newPrompt(`staged-${tag}`, ['stable']);
    await newPrompt(`report-${tag}`, ['production']);
    await newPrompt(`race-${tag}`, ['staging']);
    await newPrompt(`cli-${tag}`, ['staging']);
    await newPrompt(`noreg-${tag}`, ['guarded']);
    // production: two approvals from edit or admin, and helpfulness on golden-v3 of at least 0.8.
    await ok(ADMIN, 'PUT', '/v1/alias-policies/production', { approvals: { count: 2, roles: ['edit', 'admin'] }, evaluations: [{ dataset: 'golden-v3', scorer: 'helpfulness', minScore: 0.8 }] });
    // guarded: one approval, and helpfulness on golden-v3 no worse than the version it replaces.
    await ok(ADMIN, 'PUT', '/v1/alias-policies/guarded', { approvals: { count: 1, roles: ['edit'] }, evaluations: [{ dataset: 'golden-v3', scorer: 'helpfulness', noRegression: true }] });
    // stable: one approval, and a staged split that serves 3 responses of the candidate a step.
    await ok(ADMIN, 'PUT', '/v1/alias-policies/stable', { approvals: { count: 1, roles: ['edit'] }, rollout: { minResponses: 3 } });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('lets a proposer propose and comment, but not register outside a proposal, approve, merge or set policies', async () => {
    const name = `faq-${tag}`;
    const refusedRegistration = await call(keys.proposer!, 'POST', `/v1/prompts/${name}/versions`, { template: 'sneaky', commitMessage: 'outside a proposal' });
    expect(refusedRegistration.status).toBe(403);
    const p = await propose(keys.proposer!, name, { alias: 'production' });
    expect(p).toMatchObject({ state: 'open', author: expect.stringContaining(`proposer ${tag}`), candidate: { version: 2 }, baseVersion: 1, request: { alias: 'production', steps: null } });
    // The candidate is an ordinary immutable version, marked by its proposal.
    const v2 = await ok(keys.reader!, 'GET', `/v1/prompts/${name}/versions/2`);
    expect(v2.tags).toEqual([`proposal:${p.id}`]);
    const view = await ok(keys.reader!, 'GET', `/v1/prompts/${name}/proposals/${p.id}`);
    expect(view).toMatchObject({ current: { version: 1, split: null }, diff: { from: 1, to: 2 }, policy: { approvals: { count: 2 } } });
    expect(view.diff.unified).toContain('+Answer {{question}} in two sentences.');
    expect((await review(keys.proposer!, name, p.id, 'comment', 'please look')).status).toBe(200);
    const approve = await review(keys.proposer!, name, p.id, 'approve');
    expect(approve.status).toBe(403);
    expect(approve.body.error.message).toMatch(/may not approve proposals: it needs one of the roles edit, admin/);
    expect((await merge(keys.proposer!, name, p.id)).status).toBe(403);
    expect((await call(keys.proposer!, 'PUT', '/v1/alias-policies/production', { approvals: { count: 0 } })).status).toBe(403);
    const listed = await ok(keys.proposer!, 'GET', `/v1/prompts/${name}/proposals`);
    expect(listed.proposals.map((x: { id: string }) => x.id)).toEqual([p.id]);
  });

  it('never lets an author approve their own proposal', async () => {
    const name = `own-${tag}`;
    const p = await propose(keys.reviewer!, name, { alias: 'production' });
    const own = await review(keys.reviewer!, name, p.id, 'approve');
    expect(own.status).toBe(403);
    expect(own.body.error.message).toMatch(/an author never approves their own proposal/);
    expect((await ok(keys.reader!, 'GET', `/v1/prompts/${name}/proposals/${p.id}`)).approvals).toEqual([]);
  });

  it('refuses a merge naming the approvals and evaluations missing; merges when the policy holds and records the proposal on the move; a direct move is refused unless an admin overrides', async () => {
    const name = `gate-${tag}`;
    const p = await propose(keys.proposer!, name, { alias: 'production' });
    await review(keys.reviewer!, name, p.id, 'approve', 'reads well');
    const one = await merge(keys.reviewer!, name, p.id);
    expect(one.status).toBe(422);
    expect(one.body.error.message).toContain('needs 2 approvals from edit or admin, has 1');
    expect(one.body.error.message).toContain(`evaluation helpfulness on dataset golden-v3: no results for v${p.candidate.version}`);

    await review(keys.reviewer2!, name, p.id, 'approve');
    await evaluate(name, p.candidate.version, 'run-low', [0.7, 0.72, 0.71]);
    const low = await merge(keys.reviewer!, name, p.id);
    expect(low.status).toBe(422);
    expect(low.body.error.message).not.toContain('approvals');
    expect(low.body.error.message).toContain('evaluation helpfulness on dataset golden-v3: mean 0.71 < 0.80');

    await evaluate(name, p.candidate.version, 'run-high', [0.85, 0.9, 0.95]);
    const merged = await merge(keys.reviewer!, name, p.id);
    expect(merged.status, merged.text).toBe(200);
    expect(merged.body.proposal.state).toBe('merged');
    expect(merged.body.move).toMatchObject({ to: { version: p.candidate.version, split: null }, governance: { proposal: p.id, step: 1, steps: 1, override: null } });
    expect(merged.body.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
    const history = await ok(keys.reader!, 'GET', `/v1/prompts/${name}/aliases/production/history`);
    expect(history.moves.at(-1).governance).toEqual({ proposal: p.id, step: 1, steps: 1, override: null });
    const shown = await ok(keys.reader!, 'GET', `/v1/prompts/${name}/proposals/${p.id}`);
    expect(shown.events.map((e: { kind: string; to: string }) => `${e.kind}:${e.to}`)).toEqual(['opened:open', 'approve:approved', 'approve:approved', 'merged:merged']);
    expect(shown.events.at(-1).merge).toMatchObject({ policy: { approvals: { count: 2 } }, override: null });

    // No way around it: a direct move of the protected alias points at proposals…
    const direct = await call(keys.reviewer!, 'PUT', `/v1/prompts/${name}/aliases/production`, { version: 1, reason: 'just do it' });
    expect(direct.status).toBe(403);
    const promoter = (await ok(ADMIN, 'POST', '/v1/keys', { role: 'edit', promote: true, name: `promoter ${tag}` }, 201)).key as string;
    const promoted = await call(promoter, 'PUT', `/v1/prompts/${name}/aliases/production`, { version: 1, reason: 'just do it' });
    expect(promoted.status).toBe(403);
    expect(promoted.body.error.message).toMatch(/protected by a policy: move it through a proposal \(POST \/v1\/prompts\/.+\/proposals/);
    // …unless an admin overrides, which the move and the audit log record as such.
    const overridden = await ok(ADMIN, 'PUT', `/v1/prompts/${name}/aliases/production`, { version: 1, reason: 'incident', override: 'incident 7: v2 leaks internal notes' });
    expect(overridden.governance).toEqual({ proposal: null, step: null, steps: null, override: 'incident 7: v2 leaks internal notes' });
    const audit = await ok(ADMIN, 'GET', `/v1/audit?target=${encodeURIComponent(`prompts:/${name}@production`)}`);
    expect(audit.entries.find((e: { after: { seq: number } }) => e.after.seq === overridden.seq).after.governance.override).toBe('incident 7: v2 leaks internal notes');
    // Rollback stays instant and needs no proposal.
    const back = await ok(ADMIN, 'POST', `/v1/prompts/${name}/aliases/production/rollback`, { reason: 'undo the override' });
    expect(back).toMatchObject({ rollback: true, to: { version: p.candidate.version } });
  });

  it("refuses a candidate that scores significantly worse than the alias's version on the gate's dataset, whatever the other datasets say; merges one that does not", async () => {
    const name = `noreg-${tag}`;
    // v1, on guarded: high on golden-v3, low on an unrelated set (mixed, the two would average 0.61).
    await evaluate(name, 1, 'v1-golden', [0.9, 0.91, 0.92, 0.93, 0.9, 0.91]);
    await evaluate(name, 1, 'v1-other', [0.3, 0.31, 0.29, 0.3, 0.31, 0.3], 'smalltalk-v1');
    const worse = await propose(keys.proposer!, name, { alias: 'guarded' });
    await review(keys.reviewer!, name, worse.id, 'approve');
    await evaluate(name, worse.candidate.version, 'worse-golden', [0.6, 0.61, 0.62, 0.6, 0.61, 0.62]);
    const refused = await merge(keys.reviewer!, name, worse.id);
    expect(refused.status, refused.text).toBe(422);
    expect(refused.body.error.message).toContain('evaluation helpfulness on dataset golden-v3: a significant regression against v1 (mean 0.61 vs 0.91 of v1');
    // The proposal says beforehand what a merge would check, as the merge judges it.
    const open = await ok(keys.reader!, 'GET', `/v1/prompts/${name}/proposals/${worse.id}`);
    expect(open.state).toBe('approved');
    expect(open.nextStep).toMatchObject({ step: 1, steps: 1, aliasMoved: false });
    expect(open.nextStep.checks.map((c: { gate: string; ok: boolean }) => `${c.gate}:${c.ok}`)).toEqual(['approvals:true', 'evaluation helpfulness on dataset golden-v3:false']);

    const same = await propose(keys.proposer!, name, { alias: 'guarded' });
    await review(keys.reviewer!, name, same.id, 'approve');
    await evaluate(name, same.candidate.version, 'same-golden', [0.9, 0.92, 0.91, 0.93, 0.91, 0.9]);
    const merged = await merge(keys.reviewer!, name, same.id);
    expect(merged.status, merged.text).toBe(200);
    // guarded moved under the first proposal: it says so, and its merge is refused 409.
    expect((await ok(keys.reader!, 'GET', `/v1/prompts/${name}/proposals/${worse.id}`)).nextStep.aliasMoved).toBe(true);
    const gate = merged.body.checks.find((c: { gate: string }) => c.gate === 'evaluation helpfulness on dataset golden-v3');
    expect(gate).toMatchObject({ ok: true });
    expect(gate.detail).toMatch(/no significant regression against v1 \(mean 0\.91 vs 0\.91 of v1, confidence /);
  });

  it('records an admin override of a policy that does not hold, on the move, the proposal and in the audit log', async () => {
    const name = `override-${tag}`;
    const p = await propose(keys.proposer!, name, { alias: 'production' });
    expect((await merge(keys.reviewer!, name, p.id, { override: { reason: 'I say so' } })).status).toBe(403);
    const r = await merge(ADMIN, name, p.id, { override: { reason: 'hotfix for a legal request' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.move.governance).toEqual({ proposal: p.id, step: 1, steps: 1, override: 'hotfix for a legal request' });
    expect(r.body.proposal.events.at(-1).merge.override).toBe('hotfix for a legal request');
    expect(r.body.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { gate: string }) => c.gate)).toEqual(['approvals', 'evaluation helpfulness on dataset golden-v3']);
    const audit = await ok(ADMIN, 'GET', '/v1/audit?action=proposal.merge.override');
    expect(audit.entries.some((e: { target: string; after: { override: string } }) => e.target === `prompts:/${name}/proposals/${p.id}` && e.after.override === 'hotfix for a legal request')).toBe(true);
  });

  it('stages a rollout 10 % → 50 % → 100 %, each step only after the policy’s responses, and the history shows each step with the proposal', async () => {
    const name = `staged-${tag}`;
    const p = await propose(keys.proposer!, name, { alias: 'stable', steps: [10, 50, 100] });
    const candidate = p.candidate.version as number;
    await review(keys.reviewer!, name, p.id, 'approve');
    const first = await merge(keys.reviewer!, name, p.id);
    expect(first.status, first.text).toBe(200);
    expect(first.body.move.to.split.arms).toEqual([{ version: 1, weight: 90 }, { version: candidate, weight: 10 }]);
    const early = await merge(keys.reviewer!, name, p.id);
    expect(early.status).toBe(422);
    expect(early.body.error.message).toMatch(new RegExp(`the split at 10 % has 0 responses of v${candidate} since .+, needs 3 before the next step`));
    for (let i = 0; i < 3; i++) await respond(name, candidate);
    const second = await eventually(async () => {
      const r = await merge(keys.reviewer!, name, p.id);
      if (r.status === 422) return undefined;
      return r;
    }, 'the second step once 3 responses are stored');
    expect(second.status, second.text).toBe(200);
    expect(second.body.move.to.split.arms).toEqual([{ version: 1, weight: 50 }, { version: candidate, weight: 50 }]);
    // Responses of the first step do not count for the second.
    expect((await merge(keys.reviewer!, name, p.id)).body.error.message).toContain('the split at 50 % has 0 responses');
    for (let i = 0; i < 3; i++) await respond(name, candidate);
    const third = await eventually(async () => {
      const r = await merge(keys.reviewer!, name, p.id);
      return r.status === 422 ? undefined : r;
    }, 'the full move once 3 more responses are stored');
    expect(third.status, third.text).toBe(200);
    expect(third.body.proposal).toMatchObject({ state: 'merged', rollout: { steps: 3, done: 3 } });
    const history = await ok(keys.reader!, 'GET', `/v1/prompts/${name}/aliases/stable/history`);
    expect(history.moves.map((m: { governance: unknown; to: { version: number | null } }) => [m.governance, m.to.version])).toEqual([
      [null, 1],
      [{ proposal: p.id, step: 1, steps: 3, override: null }, null],
      [{ proposal: p.id, step: 2, steps: 3, override: null }, null],
      [{ proposal: p.id, step: 3, steps: 3, override: null }, candidate],
    ]);
  }, 120_000);

  it('puts the proposal, approvals, gate results and policy in the report of a response produced under it, and not of one produced before', async () => {
    const name = `report-${tag}`;
    const p = await propose(keys.proposer!, name, { alias: 'production' });
    const v = p.candidate.version as number;
    await review(keys.reviewer!, name, p.id, 'approve');
    await review(keys.reviewer2!, name, p.id, 'approve');
    await evaluate(name, v, 'run-report', [0.9, 0.8, 0.85]);
    const before = await respond(name, v);
    await new Promise((r) => setTimeout(r, 20));
    expect((await merge(keys.reviewer!, name, p.id)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
    const after = await respond(name, v);
    const report = (responseId: string) =>
      eventually(async () => {
        const r = await call(ADMIN, 'GET', `/v1/reports/compliance?response_id=${responseId}&format=json`);
        return r.status === 200 ? r.body : undefined;
      }, `the report of ${responseId}`);
    const under = await report(after);
    const section = under.sections.find((s: { heading: string }) => s.heading.startsWith(`Proposal ${p.id}`));
    expect(section, JSON.stringify(under.sections.map((s: { heading: string }) => s.heading))).toBeDefined();
    const facts = Object.fromEntries(section.facts);
    expect(facts).toMatchObject({ Title: p.title, Author: expect.stringContaining(`proposer ${tag}`), 'State at the time of the response': 'merged', Override: 'none' });
    const table = (caption: string) => section.tables.find((t: { caption: string }) => t.caption === caption).rows as string[][];
    expect(table('Approvals standing').map((r) => r[0])).toEqual([expect.stringContaining(`reviewer ${tag}`), expect.stringContaining(`reviewer2 ${tag}`)]);
    expect(table('Policy checks at each merge step')).toContainEqual(['1 of 1', expect.any(String), `v${v}`, 'evaluation helpfulness on dataset golden-v3', 'passed', expect.stringContaining('mean 0.85 ≥ 0.80')]);
    expect(table('Policy in force at each merge step')[0]![2]).toContain('2 approval(s) from edit, admin; helpfulness on golden-v3 ≥ 0.8');
    expect(table('Transitions and reviews').map((r) => r[4])).toEqual(['opened', 'approve', 'approve', 'merged']);

    const earlier = await report(before);
    expect(earlier.sections.some((s: { heading: string }) => s.heading.startsWith('Proposal '))).toBe(false);
  }, 90_000);

  it('lets one of two concurrent merges on one alias win and tells the other the alias moved under it', async () => {
    const name = `race-${tag}`;
    const a = await propose(keys.proposer!, name, { alias: 'staging' }, 'Candidate A {{question}}');
    const b = await propose(keys.proposer!, name, { alias: 'staging' }, 'Candidate B {{question}}');
    for (const p of [a, b]) expect((await review(keys.reviewer!, name, p.id, 'approve')).status).toBe(200);
    const [ra, rb] = await Promise.all([merge(keys.reviewer!, name, a.id), merge(keys.reviewer2!, name, b.id)]);
    expect([ra.status, rb.status].sort()).toEqual([200, 409]);
    const lost = ra.status === 409 ? ra : rb;
    expect(lost.body.error.message).toMatch(/^the alias moved under it: alias staging of .+ was at move 1 when proposal pr_[0-9a-f]{12} last saw it and is at move 2 now/);
    const won = ra.status === 200 ? a : b;
    expect((await ok(keys.reader!, 'GET', `/v1/prompts/${name}/aliases/staging`)).target).toEqual({ version: won.candidate.version, split: null });
    expect((await ok(keys.reader!, 'GET', `/v1/prompts/${name}/aliases/staging/history`)).moves).toHaveLength(2);
  });

  it('proposes, reviews, merges and lists from the command line', async () => {
    const name = `cli-${tag}`;
    const cli = (key: string, args: string[]) =>
      new Promise<{ code: number | null; out: string }>((res) => {
        const child = spawn(process.execPath, [join(ROOT, 'src/cli.ts'), ...args], { env: { ...process.env, PROMPTLINE_URL: server.url, PROMPTLINE_API_KEY: key } });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.once('exit', (code) => res({ code, out }));
      });
    const opened = await cli(keys.proposer!, ['propose', name, '--text', 'Be brief about {{question}}.', '--title', 'Brevity', '--alias', 'staging', '--version-from-candidate']);
    expect(opened.code, opened.out).toBe(0);
    const id = /opened (pr_[0-9a-f]{12}) open: /.exec(opened.out)![1]!;
    expect((await cli(keys.proposer!, ['review', name, id, '--approve', '-m', 'me'])).out).toMatch(/may not approve proposals/);
    expect((await cli(keys.reviewer!, ['review', name, id, '--approve', '-m', 'fine'])).out).toContain(`${id} approved`);
    const merged = await cli(keys.reviewer!, ['merge', name, id]);
    expect(merged.code, merged.out).toBe(0);
    expect(merged.out).toContain('staging: v1 → v2 (move 2)');
    expect((await cli(keys.reader!, ['proposals', 'list', name])).out).toMatch(new RegExp(`${id}\\s+merged\\s+v2\\s+staging`));
    const shown = await cli(keys.reader!, ['proposals', 'show', name, id]);
    expect(shown.out).toContain('approved → merged');
  }, 60_000);
});
