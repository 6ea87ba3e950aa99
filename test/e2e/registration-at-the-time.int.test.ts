import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportRequest, jsonSpan, str } from '../helpers/otlp-payloads.ts';
import { eventually, provenance, removeDir, startServer, type ServerUnderTest } from '../helpers/server.ts';

// True at the time: provenance and every format of the compliance report say whether a response's
// prompt version was registered when the response was produced. A version registered afterwards
// (after an incident, or replayed from the spool after the registration) is said to be registered
// later, at its time, and its commit message, author and template are not presented as behind the
// response.

describe('registration at the time of the response', () => {
  let server: ServerUnderTest;
  const tag = randomBytes(3).toString('hex');
  const AUTHOR = 'local development (no auth)';

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, text, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
  };
  const register = async (prompt: string, template: string, commitMessage: string) => {
    const r = await call('POST', `/v1/prompts/${prompt}/versions`, { template, commitMessage });
    expect(r.status).toBe(201);
    return r.body as { version: number; createdAt: string };
  };

  /** A model call of version 1 of `prompt` that started `agoMs` before now, with the response id `responseId`. */
  const send = async (prompt: string, responseId: string, agoMs: number) => {
    const span = jsonSpan({ attributes: [str('gen_ai.prompt.name', prompt), str('gen_ai.prompt.version', '1'), str('gen_ai.response.id', responseId), str('gen_ai.response.model', 'gpt-4o')] });
    const start = BigInt(Date.now() - agoMs) * 1_000_000n;
    span.startTimeUnixNano = start.toString();
    span.endTimeUnixNano = (start + 250_000_000n).toString();
    expect((await call('POST', '/v1/traces', exportRequest([span]))).status).toBe(200);
    return eventually(() => provenance(server.url, { response_id: responseId }), `provenance of ${responseId}`);
  };
  const report = async (responseId: string) => ({
    json: (await call('GET', `/v1/reports/compliance?response_id=${responseId}`)).body as { sections: Array<{ heading: string; facts: Array<[string, string]>; block?: string }>; auditEntries: Array<{ action: string }> },
    markdown: (await call('GET', `/v1/reports/compliance?response_id=${responseId}&format=markdown`)).text,
    html: (await call('GET', `/v1/reports/compliance?response_id=${responseId}&format=html`)).text,
  });
  const promptFacts = (r: Awaited<ReturnType<typeof report>>['json']) => new Map(r.sections.find((s) => s.heading === 'Prompt version')!.facts);

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
    if (server) removeDir(server.dataDir);
  });

  it('presents the commit message, author and template of a version registered before the response', async () => {
    const prompt = `before-${tag}`;
    const v = await register(prompt, 'Answer politely: {{question}}', 'reviewed by legal, LR-9');
    const p = await send(prompt, `r-before-${tag}`, 0);
    expect(p.prompt).toEqual(expect.objectContaining({ registered: true, registration: 'registered', registeredAt: v.createdAt, commitMessage: 'reviewed by legal, LR-9', author: AUTHOR }));

    const r = await report(`r-before-${tag}`);
    const facts = promptFacts(r.json);
    expect([facts.get('Registry'), facts.get('Commit message'), facts.get('Author'), facts.get('Registered at')]).toEqual(['registered', 'reviewed by legal, LR-9', AUTHOR, v.createdAt]);
    expect(r.json.sections.find((s) => s.heading === 'Prompt version')!.block).toBe('Answer politely: {{question}}');
    expect(r.json.auditEntries.map((e) => e.action)).toEqual(['registered prompt version']);
    for (const text of [r.markdown, r.html]) {
      expect(text).toContain('reviewed by legal, LR-9');
      expect(text).toContain('Answer politely: {{question}}');
    }
  });

  it('says a version registered after the response was registered later, at its time, and shows nothing of it as behind the response', async () => {
    const prompt = `later-${tag}`;
    const responseId = `r-later-${tag}`;
    const commitMessage = 'registered after incident INC-77';
    const template = 'Template written after the incident: {{question}}';
    // The response was produced ten minutes ago, with a version no one had registered.
    const then = await send(prompt, responseId, 10 * 60_000);
    expect(then.prompt).toEqual(expect.objectContaining({ registered: false, registration: 'unregistered', registeredAt: null, commitMessage: null, author: null }));
    const v = await register(prompt, template, commitMessage);

    const p = await provenance(server.url, { response_id: responseId });
    expect(p.prompt).toEqual(expect.objectContaining({ name: prompt, version: 1, registered: false, registration: 'registered_later', registeredAt: v.createdAt, commitMessage: null, author: null }));
    const trace = (await call('GET', `/v1/traces/${p.traceId}`)).body as { spans: Array<{ lineage: { prompt: unknown } }> };
    expect(trace.spans[0]!.lineage.prompt).toEqual(p.prompt);

    const r = await report(responseId);
    const facts = promptFacts(r.json);
    expect(facts.get('Registry')).toBe(`not registered when the response was produced; registered later, at ${v.createdAt}`);
    expect([facts.get('Commit message'), facts.get('Author'), facts.get('Registered at'), facts.get('Template hash (registered)')]).toEqual(['—', '—', '—', '—']);
    expect(r.json.sections.find((s) => s.heading === 'Prompt version')!.block).toBeUndefined();
    expect(r.json.auditEntries).toEqual([]);
    const json = JSON.stringify(r.json);
    for (const [format, text] of [['json', json], ['markdown', r.markdown], ['html', r.html]] as const) {
      expect(text, format).toContain(`registered later, at ${v.createdAt}`);
      expect(text, format).not.toContain('INC-77');
      expect(text, format).not.toContain('Template written after the incident');
      expect(text, format).not.toContain('local development');
    }
  });

  it('says registered later for a response from before the registration that is stored after it', async () => {
    // A span sent late (replayed from a spool, or from an app whose clock runs behind): the writer
    // finds the version registered, but the response started before it was.
    const prompt = `replayed-${tag}`;
    const v = await register(prompt, 'Answer: {{question}}', 'first version');
    const p = await send(prompt, `r-replayed-${tag}`, 10 * 60_000);
    expect(p.prompt).toEqual(expect.objectContaining({ registered: false, registration: 'registered_later', registeredAt: v.createdAt, commitMessage: null, author: null }));
    const r = await report(`r-replayed-${tag}`);
    expect(promptFacts(r.json).get('Registry')).toBe(`not registered when the response was produced; registered later, at ${v.createdAt}`);
    for (const text of [JSON.stringify(r.json), r.markdown, r.html]) expect(text).not.toContain('first version');
  });
});
