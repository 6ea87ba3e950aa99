import { readFileSync } from 'node:fs';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerOtelGlobals, withTracing } from '../helpers/otel.ts';
import { launchBrowser, openPage, signIn, type BrowserUnderTest, type ConsolePage } from '../helpers/browser.ts';
import { HOSTILE, startConsoleFixture, type ConsoleFixture } from './fixture.ts';

// Investigating a response: finding it in the list, its trace and the lineage each span
// inherited, its messages, its provenance, the alias as it stood then, and its compliance report.

let fx: ConsoleFixture;
let b: BrowserUnderTest;
/** A trace whose messages come in the other conventions: OpenInference, the older GenAI events, and JSON that does not parse. */
let conventionsTrace = '';

/** Sends the conventions trace with the SDK and waits until it is stored. */
async function sendConventionsTrace(): Promise<string> {
  const stopGlobals = registerOtelGlobals();
  let traceId = '';
  try {
    await withTracing({ encoding: 'protobuf', url: fx.url, headers: { authorization: `Bearer ${fx.keys.ingest}` }, resource: { 'service.name': 'triage-bot', 'service.version': '0.9.1' } }, async (t) => {
      const root = t.tracer.startSpan('agent run', {
        attributes: { 'promptline.prompt.name': 'triage', 'promptline.prompt.version': 3, 'promptline.prompt.alias': 'canary', 'promptline.prompt.split_id': 'split-canary-7' },
      });
      const ctx = trace.setSpan(context.active(), root);
      const oi = t.tracer.startSpan(
        'openinference llm',
        {
          attributes: {
            'openinference.span.kind': 'LLM',
            'llm.model_name': 'claude-test',
            'llm.provider': 'anthropic',
            'gen_ai.response.id': 'resp-openinference',
            'llm.input_messages.0.message.role': 'system',
            'llm.input_messages.0.message.content': 'Be terse.',
            'llm.input_messages.1.message.role': 'user',
            'llm.input_messages.1.message.content': 'Weather in Paris?',
            'llm.input_messages.2.message.role': 'tool',
            'llm.input_messages.2.message.content': '18 degrees',
            'llm.input_messages.2.message.tool_call_id': 'call_1',
            'llm.output_messages.0.message.role': 'assistant',
            'llm.output_messages.0.message.tool_calls.0.tool_call.id': 'call_2',
            'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'get_weather',
            'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"city":"Paris"}',
          },
        },
        ctx,
      );
      oi.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
      oi.end();
      const ev = t.tracer.startSpan('events llm', { attributes: { 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.id': 'resp-events' } }, ctx);
      ev.addEvent('gen_ai.user.message', { content: 'Hello from an event' });
      ev.addEvent('gen_ai.choice', { index: 0, finish_reason: 'stop', message: JSON.stringify({ role: 'assistant', content: 'Hi from a choice' }) });
      ev.end();
      const broken = t.tracer.startSpan('broken messages', { attributes: { 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.input.messages': '[{not json' } }, ctx);
      broken.end();
      root.end();
      traceId = root.spanContext().traceId;
      await t.flush();
    });
  } finally {
    stopGlobals();
  }
  for (let i = 0; ; i++) {
    const res = await fetch(`${fx.url}/v1/traces/${traceId}`, { headers: { authorization: `Bearer ${fx.keys.read}` } });
    if (res.status === 200 && ((await res.json()) as { spans: unknown[] }).spans.length === 4) return traceId;
    if (i > 300) throw new Error(`trace ${traceId} was not stored`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  fx = await startConsoleFixture();
  conventionsTrace = await sendConventionsTrace();
  b = await launchBrowser();
});

afterAll(async () => {
  await b?.close();
  await fx?.stop();
});

/** Waits for a value the page reaches after loads (the default of one second is short on a busy machine). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });

const pathAndQuery = (p: ConsolePage) => {
  const u = new URL(p.page.url());
  return { path: u.pathname, query: u.searchParams };
};

/** The response ids the list shows, in order. */
const listedIds = (p: ConsolePage) => p.page.locator('table.responses tbody tr td:nth-child(2)').allTextContents();

/** Waits until the list has settled (no load in flight) and answers its count line. */
async function settledCount(p: ConsolePage): Promise<string> {
  await p.page.locator('.investigate-list[aria-busy="false"]').waitFor();
  return (await p.page.locator('.investigate-list .count').textContent()) ?? '';
}

/** Nothing hostile ran in this page, no inline script was added, and every link is one of our own paths. */
async function expectInert(p: ConsolePage): Promise<void> {
  expect(await p.page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
  expect(await p.page.locator('script:not([src]), img, iframe, object, embed').count()).toBe(0);
  const hrefs = await p.page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
  expect(hrefs.filter((h) => !h.startsWith('/') || h.startsWith('//'))).toEqual(['#main']);
}

/** A new tab. Its first look at the session, with no key stored yet, is answered 401 (keys are on): expected. */
async function newTab(): Promise<ConsolePage> {
  const p = await openPage(b);
  p.allowFailure('/v1/session', 401);
  return p;
}

describe('investigate', () => {
  it('finds a response by prompt version and by response id, and the filters are the address', async () => {
    const p = await newTab();
    await signIn(p, fx.url, fx.keys.read);
    await p.page.getByRole('heading', { name: 'Responses', level: 1 }).waitFor();
    await poll(() => listedIds(p)).toContain(fx.responses.v1);

    await p.page.getByLabel('Prompt', { exact: true }).fill(fx.prompt);
    await p.page.getByLabel('Version', { exact: true }).fill('2');
    await poll(() => pathAndQuery(p).query.get('version')).toBe('2');
    expect(pathAndQuery(p).query.get('prompt')).toBe(fx.prompt);
    // The v2 response listed, v1's and the other prompt's not (polled as one: the list before the filter had all three).
    await poll(async () => {
      const listed = await listedIds(p);
      return listed.includes(fx.responses.v2) && !listed.includes(fx.responses.v1) && !listed.includes(fx.responses.hostile);
    }).toBe(true);
    const ids = await listedIds(p);
    // The count is the list's: every row listed, and said in words.
    expect(await settledCount(p)).toBe(`${ids.length} ${ids.length === 1 ? 'response' : 'responses'}`);

    const row = p.page.locator('table.responses tbody tr', { hasText: fx.responses.v2 });
    expect(await row.getByRole('link', { name: fx.responses.v2, exact: true }).getAttribute('href')).toBe(`/responses/${fx.responses.v2}`);
    expect(await row.getByRole('link', { name: `${fx.prompt}@2` }).getAttribute('href')).toBe(`/prompts/${fx.prompt}/versions/2`);
    expect(await row.getByRole('link', { name: /^Trace/ }).getAttribute('href')).toMatch(new RegExp(`^/traces/${fx.traces.v2}\\?span=[0-9a-f]{16}$`));
    await poll(() => row.textContent()).toContain('registered');
    // The filters offer the values the matching responses carry.
    await poll(() => p.page.locator('#facet-prompt option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value))).toContain(fx.prompt);
    await p.screenshot('investigate-responses');

    // Errors only: the failed turn, not the v2 answer.
    await p.page.getByLabel('Status').selectOption('error');
    await poll(() => listedIds(p)).toEqual(['chatcmpl-failed']);
    expect(pathAndQuery(p).query.get('status')).toBe('error');
    expect(await p.page.locator('table.responses tbody tr').first().textContent()).toContain('error: upstream timed out');
    await p.page.getByLabel('Status').selectOption('');
    await poll(() => listedIds(p)).toContain(fx.responses.v2);

    // A relative range, then pinned to absolute times for a link that shows the same list later.
    await p.page.getByRole('button', { name: 'Last 1 h' }).click();
    await poll(() => pathAndQuery(p).query.get('range')).toBe('1h');
    await poll(() => listedIds(p)).toContain(fx.responses.v2);
    await p.page.getByRole('button', { name: 'Pin times' }).click();
    await poll(() => pathAndQuery(p).query.get('from')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(pathAndQuery(p).query.get('range')).toBeNull();
    expect(await p.page.getByLabel('From').inputValue()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d$/);
    await poll(() => listedIds(p)).toContain(fx.responses.v2);

    // By response id: the other filters cleared, the id typed.
    await p.page.getByRole('link', { name: 'Clear filters' }).click();
    await poll(() => p.page.url()).toBe(`${fx.url}/responses`);
    await p.page.getByLabel('Response id').fill(fx.responses.v1);
    await poll(() => pathAndQuery(p).query.get('response_id')).toBe(fx.responses.v1);
    await poll(() => listedIds(p)).toEqual([fx.responses.v1]);
    expect(await settledCount(p)).toBe('1 response');

    // Nothing found: the empty state says what to do.
    await p.page.getByLabel('Response id').fill('chatcmpl-no-such-response');
    await poll(() => p.page.locator('.empty').textContent()).toContain('No responses match these filters');
    expect(await settledCount(p)).toBe('0 responses');

    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('opens a deep link in a fresh tab on the same filtered list', async () => {
    const p = await newTab();
    await signIn(p, fx.url, fx.keys.read, `/responses?prompt=${fx.prompt}&version=1`);
    await p.page.getByRole('heading', { name: 'Responses', level: 1 }).waitFor();
    expect(pathAndQuery(p).path).toBe('/responses');
    expect(pathAndQuery(p).query.get('version')).toBe('1');
    await poll(() => listedIds(p)).toContain(fx.responses.v1);
    expect(await listedIds(p)).not.toContain(fx.responses.v2);
    expect(await p.page.getByLabel('Prompt', { exact: true }).inputValue()).toBe(fx.prompt);
    expect(await p.page.getByLabel('Version', { exact: true }).inputValue()).toBe('1');
    const ids = await listedIds(p);
    expect(await settledCount(p)).toBe(`${ids.length} ${ids.length === 1 ? 'response' : 'responses'}`);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('pages through the list by cursor', async () => {
    const p = await newTab();
    await signIn(p, fx.url, fx.keys.read, '/responses?limit=2');
    await poll(() => listedIds(p).then((ids) => ids.length)).toBe(2);
    const first = await listedIds(p);
    const total = Number((await settledCount(p)).replace(/\D/g, ''));
    expect(total).toBeGreaterThan(2);
    expect(await p.page.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);
    await p.page.getByRole('button', { name: 'Next page' }).click();
    await poll(() => pathAndQuery(p).query.get('cursor')).toBeTruthy();
    await poll(async () => (await listedIds(p)).some((id) => first.includes(id))).toBe(false);
    const second = await listedIds(p);
    // The count is of everything that matches, on every page.
    expect(await settledCount(p)).toBe(`${total} responses · page 2`);
    await p.page.getByRole('button', { name: 'Previous page' }).click();
    await poll(() => listedIds(p)).toEqual(first);
    expect(pathAndQuery(p).query.get('cursor')).toBeNull();
    await p.page.getByRole('button', { name: 'Next page' }).click();
    await poll(() => listedIds(p)).toEqual(second);
    await p.page.getByRole('button', { name: 'First page' }).click();
    await poll(() => listedIds(p)).toEqual(first);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it("shows a trace's waterfall, the lineage a span inherited and its messages as a chat", async () => {
    const p = await newTab();
    await signIn(p, fx.url, fx.keys.read, `/responses?response_id=${fx.responses.v2}`);
    await poll(() => listedIds(p)).toEqual([fx.responses.v2]);
    await p.page.getByRole('link', { name: /^Trace/ }).click();
    await p.page.getByRole('heading', { name: `Trace ${fx.traces.v2}`, level: 1 }).waitFor();

    const waterfall = p.page.getByRole('group', { name: 'Spans of the trace' });
    const agent = waterfall.getByRole('button', { name: /^support turn/ });
    const call = waterfall.getByRole('button', { name: /chat gpt-4o-mini/ });
    // The link named the model call's span: it is selected.
    await poll(() => call.getAttribute('aria-pressed')).toBe('true');
    expect(await agent.getAttribute('aria-pressed')).toBe('false');

    // Select the agent span, then the model call again: the address follows.
    await agent.click();
    await poll(() => agent.getAttribute('aria-pressed')).toBe('true');
    const agentId = pathAndQuery(p).query.get('span');
    expect(agentId).toMatch(/^[0-9a-f]{16}$/);
    await poll(() => p.page.locator('.span-detail .inherited').textContent()).toBe('set on this span');
    await call.click();
    await poll(() => call.getAttribute('aria-pressed')).toBe('true');
    const callId = pathAndQuery(p).query.get('span');
    expect(callId).not.toBe(agentId);

    // The model call's prompt came from its parent.
    const lineage = p.page.getByRole('region', { name: 'Lineage', exact: true });
    expect(await lineage.getByRole('link', { name: `${fx.prompt}@2` }).getAttribute('href')).toBe(`/prompts/${fx.prompt}/versions/2`);
    await poll(() => lineage.locator('.inherited').textContent()).toBe('inherited from support turn');
    expect(await lineage.textContent()).toContain('production');
    expect(await lineage.textContent()).toContain('gpt-4o-mini-2024-07-18');
    expect(await lineage.getByRole('link', { name: fx.responses.v2 }).getAttribute('href')).toBe(`/responses/${fx.responses.v2}`);
    expect(await lineage.getByRole('link', { name: 'faq-2026' }).getAttribute('href')).toBe('/responses?dataset=faq-2026');

    // Its messages, as a chat.
    const chat = p.page.getByRole('region', { name: 'Messages', exact: true });
    expect(await chat.getByRole('article', { name: 'system message' }).textContent()).toContain('You are a support agent.');
    expect(await chat.getByRole('article', { name: 'user message' }).textContent()).toContain('How do I reset my password?');
    expect(await chat.getByRole('article', { name: 'assistant message' }).textContent()).toContain('Open Settings, then Security.');
    // Attributes, sorted by key.
    const keys = await p.page.getByRole('table', { name: 'Span attributes' }).locator('tbody th').allTextContents();
    expect(keys).toContain('gen_ai.response.id');
    expect(keys).toEqual([...keys].sort());
    await p.screenshot('investigate-trace');

    // "inherited from" selects the span it names.
    await lineage.getByRole('button', { name: 'support turn' }).click();
    await poll(() => pathAndQuery(p).query.get('span')).toBe(agentId);
    // The arrow keys move the selection.
    await agent.focus();
    await p.page.keyboard.press('ArrowDown');
    await poll(() => pathAndQuery(p).query.get('span')).toBe(callId);

    // A pasted link with span= opens the same span.
    await p.page.goto(`${fx.url}/traces/${fx.traces.v2}?span=${agentId}`);
    await poll(() => agent.getAttribute('aria-pressed')).toBe('true');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('reads messages in the other conventions, defensively, and shows errors and splits', async () => {
    const p = await newTab();
    await signIn(p, fx.url, fx.keys.read, `/traces/${conventionsTrace}`);
    const waterfall = p.page.getByRole('group', { name: 'Spans of the trace' });
    const oi = waterfall.getByRole('button', { name: /^openinference llm/ });
    await oi.waitFor();
    // An error span says so in its row.
    expect(await oi.locator('.badge.error').textContent()).toBe('error');
    await oi.click();
    await poll(() => oi.getAttribute('aria-pressed')).toBe('true');
    expect(await p.page.locator('.span-detail').getByText('error: rate limited').count()).toBe(1);

    const lineage = p.page.getByRole('region', { name: 'Lineage', exact: true });
    expect(await lineage.getByRole('link', { name: 'triage@3' }).getAttribute('href')).toBe('/prompts/triage/versions/3');
    expect(await lineage.locator('.inherited').textContent()).toBe('inherited from agent run');
    expect(await lineage.textContent()).toContain('split-canary-7');
    expect(await lineage.textContent()).toContain('unregistered');
    expect(await lineage.textContent()).toContain('anthropic / claude-test');

    // OpenInference's flattened messages, with a tool call and a tool's answer.
    const chat = p.page.getByRole('region', { name: 'Messages', exact: true });
    expect(await chat.getByRole('article', { name: 'system message' }).textContent()).toContain('Be terse.');
    expect(await chat.getByRole('article', { name: 'user message' }).textContent()).toContain('Weather in Paris?');
    const tool = await chat.getByRole('article', { name: 'tool message' }).textContent();
    expect(tool).toContain('tool result');
    expect(tool).toContain('18 degrees');
    const call = await chat.getByRole('article', { name: 'assistant message' }).textContent();
    expect(call).toContain('tool call get_weather');
    expect(call).toContain('"city": "Paris"');

    // The older GenAI events.
    await waterfall.getByRole('button', { name: /^events llm/ }).click();
    await poll(() => chat.getByRole('article', { name: 'user message' }).textContent()).toContain('Hello from an event');
    expect(await chat.getByRole('article', { name: 'assistant message' }).textContent()).toContain('Hi from a choice');
    expect(await p.page.getByRole('region', { name: 'Events', exact: true }).textContent()).toContain('gen_ai.choice');

    // JSON that does not parse is shown as sent.
    await waterfall.getByRole('button', { name: /^broken messages/ }).click();
    await poll(() => chat.locator('.unreadable').textContent()).toContain('gen_ai.input.messages is not JSON; as sent:');
    expect(await chat.locator('.unreadable pre').textContent()).toBe('[{not json');
    await p.screenshot('investigate-trace-conventions');

    // Its response page: an unregistered prompt, and an alias the registry never had (its history answers 404, said in words).
    p.allowFailure('/v1/prompts/triage/aliases/canary/history', 404);
    await p.page.goto(`${fx.url}/responses/resp-openinference`);
    const alias = p.page.getByRole('region', { name: 'Alias canary at the time of the response', exact: true });
    await poll(() => alias.textContent()).toContain('The registry has no alias canary for triage');
    expect(await alias.getByRole('alert').count()).toBe(0);
    expect(await p.page.getByRole('region', { name: 'Provenance', exact: true }).textContent()).toContain('unregistered');
    await p.page.getByRole('region', { name: 'Decision chain for response resp-openinference' }).waitFor();
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('shows a response page with its provenance, the alias then, and its compliance report with downloads', async () => {
    const p = await newTab();
    await signIn(p, fx.url, fx.keys.read, `/responses/${fx.responses.v2}`);
    await p.page.getByRole('heading', { name: `Response ${fx.responses.v2}`, level: 1 }).waitFor();
    const prov = p.page.getByRole('region', { name: 'Provenance', exact: true });
    await prov.waitFor();
    expect(await prov.getByRole('link', { name: `${fx.prompt}@2` }).getAttribute('href')).toBe(`/prompts/${fx.prompt}/versions/2`);
    expect(await prov.getByRole('link', { name: 'responses of this version' }).getAttribute('href')).toBe(`/responses?prompt=${fx.prompt}&version=2`);
    expect(await prov.getByRole('link', { name: 'support-bot 1.4.0' }).getAttribute('href')).toBe('/responses?app=support-bot&app_version=1.4.0');
    expect(await p.page.getByRole('link', { name: 'Open the trace' }).getAttribute('href')).toMatch(new RegExp(`^/traces/${fx.traces.v2}\\?span=`));
    expect(await prov.textContent()).toContain('registered');

    // Production had moved to v2 before this response: move 2 in force.
    const alias = p.page.getByRole('region', { name: 'Alias production at the time of the response', exact: true });
    await poll(() => alias.locator('.alias-then').textContent()).toContain('pointed at v2 at that time');
    expect(await alias.locator('li[aria-current="true"]').textContent()).toContain('Move 2');

    // The compliance report, in the page.
    const report = p.page.getByRole('region', { name: `Decision chain for response ${fx.responses.v2}` });
    await report.waitFor();
    expect(await report.locator('.report-hash code').textContent()).toMatch(/^[0-9a-f]{64}$/);
    expect(await report.getByRole('heading', { name: 'Prompt version' }).count()).toBe(1);
    expect(await report.textContent()).toContain('cite the docs');
    await p.screenshot('investigate-response');

    // The Markdown download is the report, with the response id in it.
    const [download] = await Promise.all([p.page.waitForEvent('download'), report.getByRole('button', { name: 'Download Markdown' }).click()]);
    expect(download.suggestedFilename()).toBe(`compliance-${fx.responses.v2}.md`);
    const text = readFileSync(await download.path(), 'utf8');
    expect(text).toContain(`# Decision chain for response ${fx.responses.v2}`);
    expect(text).toMatch(/Content hash \(sha256 of the report's canonical JSON\): `[0-9a-f]{64}`/);
    const [json] = await Promise.all([p.page.waitForEvent('download'), report.getByRole('button', { name: 'Download JSON' }).click()]);
    expect(json.suggestedFilename()).toBe(`compliance-${fx.responses.v2}.json`);
    expect(JSON.parse(readFileSync(await json.path(), 'utf8')).subject).toEqual({ responseId: fx.responses.v2 });

    // The v1 response was produced while production still pointed at v1; move 2 came after it.
    await p.page.goto(`${fx.url}/responses/${fx.responses.v1}`);
    const aliasThen = p.page.getByRole('region', { name: 'Alias production at the time of the response', exact: true });
    await poll(() => aliasThen.locator('.alias-then').textContent()).toContain('pointed at v1 at that time');
    expect(await aliasThen.locator('li[aria-current="true"]').textContent()).toContain('Move 1');
    expect(await aliasThen.locator('li.after').textContent()).toContain('after the response');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('says so when no response has the id', async () => {
    const p = await newTab();
    p.allowFailure('/v1/provenance?response_id=chatcmpl-never-sent', 404);
    await signIn(p, fx.url, fx.keys.read, '/responses/chatcmpl-never-sent');
    await poll(() => p.page.getByRole('alert').textContent()).toContain('No response with id “chatcmpl-never-sent” has been received');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('shows hostile span names, attributes and messages as text', async () => {
    const p = await newTab();
    await signIn(p, fx.url, fx.keys.read, `/responses?prompt=${fx.hostilePrompt}`);
    await poll(() => listedIds(p)).toContain(fx.responses.hostile);
    await p.page.locator('table.responses').getByText(HOSTILE.img, { exact: false }).first().waitFor();
    await expectInert(p);

    await p.page.goto(`${fx.url}/traces/${fx.traces.hostile}`);
    const waterfall = p.page.getByRole('group', { name: 'Spans of the trace' });
    await waterfall.getByText(HOSTILE.script, { exact: false }).waitFor();
    // The root span: a hostile attribute key and value, as text.
    await waterfall.getByRole('button', { name: HOSTILE.script }).click();
    const attrs = p.page.getByRole('table', { name: 'Span attributes' });
    await attrs.getByText(HOSTILE.img, { exact: false }).waitFor();
    await attrs.getByText(HOSTILE.link, { exact: false }).waitFor();
    // The model call: hostile messages, as text.
    await waterfall.getByRole('button', { name: HOSTILE.img }).click();
    const chat = p.page.getByRole('region', { name: 'Messages', exact: true });
    expect(await chat.getByRole('article', { name: 'user message' }).textContent()).toContain(`${HOSTILE.img} ${HOSTILE.script}`);
    expect(await chat.getByRole('article', { name: 'assistant message' }).textContent()).toContain(`[click](${HOSTILE.link})`);
    expect(await p.page.locator('.inherited').textContent()).toBe(`inherited from ${HOSTILE.script}`);
    await p.screenshot('investigate-trace-hostile');
    await expectInert(p);

    await p.page.goto(`${fx.url}/responses/${fx.responses.hostile}`);
    const report = p.page.getByRole('region', { name: `Decision chain for response ${fx.responses.hostile}` });
    await report.waitFor();
    await report.getByText(HOSTILE.script, { exact: false }).first().waitFor();

    await expectInert(p);
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});
