import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage as openTab, signIn, type BrowserUnderTest, type ConsolePage } from '../helpers/browser.ts';
import { HOSTILE, startConsoleFixture, type ConsoleFixture } from './fixture.ts';

// The impact view (from an alias move, from a prompt version) and the audit log, read in a real
// browser from a server the fixture filled over the API and the OpenTelemetry SDK.

let fx: ConsoleFixture;
let b: BrowserUnderTest;

beforeAll(async () => {
  fx = await startConsoleFixture();
  b = await launchBrowser();
});

afterAll(async () => {
  await b?.close();
  await fx?.stop();
});

/** Waits for what a page shows after it loads something: two browsers and servers share two cores. */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });

/** A new tab. Its first look at the session, with no key stored yet, is answered 401 (keys are on): expected. */
async function openPage(browser: BrowserUnderTest): Promise<ConsolePage> {
  const p = await openTab(browser);
  p.allowFailure('/v1/session', 401);
  return p;
}

async function apiGet(path: string, key = fx.keys.admin): Promise<any> {
  const res = await fetch(`${fx.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return res.json();
}

describe('impact', () => {
  it('from the alias move production 1 → 2 counts the responses produced under it', async () => {
    // What the fixture sent after it moved production to version 2: the v2 answer (its model call
    // carries the response id and inherits alias production) and the failed turn (version 2, no
    // alias named). The v1 answer came before the move.
    const sentUnderTheMove = [fx.responses.v2, 'chatcmpl-failed'];
    const answer = await apiGet(`/v1/impact?prompt=${fx.prompt}&alias=production`);
    expect(answer.target.move.seq).toBe(2);
    expect(answer.target.move.from.version).toBe(1);
    expect(answer.target.move.to.version).toBe(2);
    expect(answer.responses.count).toBe(sentUnderTheMove.length);
    expect(answer.responses.items.map((i: any) => i.responseId).sort()).toEqual([...sentUnderTheMove].sort());

    const p = await openPage(b);
    await signIn(p, fx.url, fx.keys.admin, '/impact');
    await p.page.getByRole('heading', { name: 'Impact', level: 1 }).waitFor();
    // Through the form, as a reader would: it puts the starting point in the URL.
    await p.page.getByRole('combobox', { name: 'Start from', exact: true }).selectOption('alias');
    await p.page.getByLabel('Prompt', { exact: true }).fill(fx.prompt);
    await p.page.getByRole('combobox', { name: 'Alias', exact: true }).selectOption('production');
    await poll(() => p.page.getByRole('combobox', { name: 'Move', exact: true }).locator('option').count()).toBe(3);
    await p.page.getByRole('combobox', { name: 'Move', exact: true }).selectOption('2');
    await p.page.getByRole('button', { name: 'Show impact' }).click();
    await poll(() => new URL(p.page.url()).searchParams.get('alias')).toBe('production');
    const url = new URL(p.page.url());
    expect(url.pathname).toBe('/impact');
    expect(url.searchParams.get('prompt')).toBe(fx.prompt);
    expect(url.searchParams.get('move')).toBe('2');

    await p.page.locator('.impact-count').waitFor();
    const shown = Number((await p.page.locator('.impact-count').textContent())!.replace(/,/g, ''));
    expect(shown).toBe(answer.responses.count);
    expect(shown).toBeGreaterThan(0);
    await poll(() => p.page.locator('.impact-total').textContent()).toContain(`${sentUnderTheMove.length} affected responses`);
    // The move itself, the histogram and each affected entity with the path that connects it.
    await p.page.getByText('the docs version did better').first().waitFor();
    expect(await p.page.getByRole('img', { name: /Affected responses per/ }).count()).toBe(1);
    const apps = p.page.getByRole('region', { name: /^Apps/ });
    await apps.getByRole('cell', { name: 'support-bot', exact: true }).waitFor();
    expect(await apps.locator('.impact-path').textContent()).toContain('USED_BY');
    const versions = p.page.getByRole('region', { name: /^Prompt versions/ });
    expect(await versions.locator('.impact-path').first().textContent()).toContain('MOVED_TO');
    expect(await p.page.getByRole('region', { name: /^Conversations/ }).getByRole('link', { name: 'conv-2' }).getAttribute('href')).toBe('/responses?conversation=conv-2');
    // Every response it counted is listed, each linking to its page.
    const items = p.page.getByRole('region', { name: /^Responses/ });
    for (const id of sentUnderTheMove) expect(await items.getByRole('link', { name: id, exact: true }).getAttribute('href')).toBe(`/responses/${id}`);
    // The response list, filtered to the move's version and window.
    const list = new URL((await p.page.getByRole('link', { name: /in the response list/ }).getAttribute('href'))!, fx.url);
    expect(list.pathname).toBe('/responses');
    expect(list.searchParams.get('prompt')).toBe(fx.prompt);
    expect(list.searchParams.get('version')).toBe('2');
    expect(list.searchParams.get('from')).toBe(answer.window.from);
    await p.screenshot('impact-alias-move');

    // The same URL pasted into a new tab lands on the same answer.
    const again = await openPage(b);
    await signIn(again, fx.url, fx.keys.admin, `${url.pathname}${url.search}`);
    await poll(() => again.page.locator('.impact-count').textContent()).toBe(String(answer.responses.count));
    expect(await again.page.getByRole('combobox', { name: 'Start from', exact: true }).inputValue()).toBe('alias');
    expect(again.problems()).toEqual([]);
    await again.close();

    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('from prompt version 1 shows its response and links to the response list filtered to it', async () => {
    const answer = await apiGet(`/v1/impact?prompt=${fx.prompt}&version=1`);
    expect(answer.responses.count).toBe(1);
    const p = await openPage(b);
    await signIn(p, fx.url, fx.keys.read, `/impact?prompt=${fx.prompt}&version=1`);
    await p.page.locator('.impact-count').waitFor();
    expect(await p.page.locator('.impact-total').textContent()).toContain('1 affected response');
    expect(await p.page.getByRole('link', { name: fx.responses.v1, exact: true }).getAttribute('href')).toBe(`/responses/${fx.responses.v1}`);
    const list = (await p.page.getByRole('link', { name: /in the response list/ }).getAttribute('href'))!;
    expect(list.startsWith(`/responses?prompt=${fx.prompt}&version=1`)).toBe(true);
    // The form shows the URL's starting point.
    expect(await p.page.getByRole('combobox', { name: 'Start from', exact: true }).inputValue()).toBe('version');
    expect(await p.page.getByLabel('Version', { exact: true }).inputValue()).toBe('1');
    // The app it reached, through the graph edge that says so.
    const apps = p.page.getByRole('region', { name: /^Apps/ });
    expect(await apps.locator('.impact-path').textContent()).toBe('prompt version support-reply v1 —USED_BY→ app version support-bot 1.4.0');
    await p.screenshot('impact-version');
    // Following the link opens the response list with the same query.
    await p.page.getByRole('link', { name: /in the response list/ }).click();
    await poll(() => new URL(p.page.url()).pathname).toBe('/responses');
    expect(new URL(p.page.url()).searchParams.get('version')).toBe('1');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('says so when nothing has been seen of the starting point', async () => {
    const p = await openPage(b);
    p.allowFailure('/v1/impact', 404);
    await signIn(p, fx.url, fx.keys.admin, '/impact?dataset=never-used');
    await poll(() => p.page.getByRole('alert').textContent()).toContain('nothing has been seen of dataset never-used');
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});

describe('audit', () => {
  it('shows an admin the entries the fixture made, with their actors, and that the chain verifies', async () => {
    const log = await apiGet('/v1/audit?limit=50');
    const p = await openPage(b);
    await signIn(p, fx.url, fx.keys.admin, '/audit');
    const status = p.page.getByRole('region', { name: /^Chain/ });
    await poll(() => status.getByRole('heading').textContent()).toContain('verified');
    const verify = await apiGet('/v1/audit/verify');
    expect(verify.ok).toBe(true);
    expect(await status.textContent()).toContain(verify.head.hash);
    const rows = p.page.locator('table.audit tbody tr');
    await poll(() => rows.count()).toBe(log.entries.length);
    // Newest first: the last alias move leads.
    expect(await rows.first().textContent()).toContain('alias.move');
    expect(await rows.first().textContent()).toContain('prompts:/support-reply@production');
    const table = (await p.page.locator('table.audit').textContent())!;
    for (const name of ['reader', 'editor', 'support-bot ingest']) expect(table).toContain(name);
    expect(table).toContain('prompts:/support-reply@staging');
    expect(table).toContain('test instance admin [key ');
    expect(await p.page.getByRole('cell', { name: 'key.create' }).count()).toBeGreaterThanOrEqual(4);
    // The hostile commit message of the hostile prompt is text, and ran nothing.
    await p.page.getByText(HOSTILE.img, { exact: false }).first().waitFor();
    expect(await p.page.evaluate(() => (globalThis as any).__pwned)).toBeUndefined();
    await p.screenshot('audit');

    // Filtered by action, in the URL.
    await p.page.getByLabel('Action', { exact: true }).fill('alias.move');
    await p.page.getByLabel('Action', { exact: true }).press('Enter');
    await poll(() => new URL(p.page.url()).searchParams.get('action')).toBe('alias.move');
    const moves = log.entries.filter((e: any) => e.action === 'alias.move').length;
    await poll(() => rows.count()).toBe(moves);
    expect(moves).toBe(3);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('tells a read key it needs an admin key, without calling the audit API', async () => {
    const p = await openPage(b);
    const calls: string[] = [];
    p.page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/v1/audit')) calls.push(r.url());
    });
    await signIn(p, fx.url, fx.keys.read, '/audit');
    await p.page.getByText('The audit log needs an admin key.').waitFor();
    expect(await p.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).count()).toBe(0);
    expect(calls).toEqual([]);
    await p.screenshot('audit-read-key');
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});
