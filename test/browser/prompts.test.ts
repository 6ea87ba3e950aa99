import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage, signIn, type BrowserUnderTest, type ConsolePage } from '../helpers/browser.ts';
import { HOSTILE, startConsoleFixture, type ConsoleFixture } from './fixture.ts';

// The prompt views: the list, a prompt's versions, diff and aliases, a version with rendering and
// its numbers, and two versions compared. Read and changed in a real browser with the fixture's
// keys; the server stays the authority, and its refusals are shown as it words them.

let fx: ConsoleFixture;
let b: BrowserUnderTest;

/** A prompt this file registers versions of through the editor, so support-reply stays as the fixture made it. */
const NOTES = 'release-notes';

async function call(method: string, path: string, body?: unknown, key = fx.keys.admin): Promise<any> {
  const res = await fetch(`${fx.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

beforeAll(async () => {
  fx = await startConsoleFixture();
  await call('POST', `/v1/prompts/${NOTES}/versions`, { template: 'Summarise the release of {{product}} for {{audience}}.', commitMessage: 'first draft' });
  // Evaluation scores, so that the comparison has something to decide on: version 2 scores higher.
  const scores = (base: number) => Array.from({ length: 20 }, (_, i) => ({ score: base + (i % 5) * 0.02, itemId: `case-${i}` }));
  await call('POST', '/v1/evaluations', { runId: 'helpfulness-v1', scorer: 'helpfulness', prompt: `prompts:/${fx.prompt}/1`, results: scores(0.5) });
  await call('POST', '/v1/evaluations', { runId: 'helpfulness-v2', scorer: 'helpfulness', prompt: `prompts:/${fx.prompt}/2`, results: scores(0.8) });
  b = await launchBrowser();
});

afterAll(async () => {
  await b?.close();
  await fx?.stop();
});

async function as(key: string, path: string): Promise<ConsolePage> {
  const p = await openPage(b);
  // Opened without a key, the console first asks the server whether it needs one: that 401 is the answer.
  p.allowFailure('/v1/session', 401);
  await signIn(p, fx.url, key, path);
  return p;
}

function query(p: ConsolePage): URLSearchParams {
  return new URL(p.page.url()).searchParams;
}

describe('prompts list', () => {
  it('shows support-reply with its latest version and aliases, links to it, and filters by name in the URL', async () => {
    const p = await as(fx.keys.read, '/prompts');
    await p.page.getByRole('heading', { name: 'Prompts', level: 1 }).waitFor();
    const row = p.page.getByRole('row').filter({ has: p.page.getByRole('link', { name: fx.prompt, exact: true }) });
    await row.waitFor();
    expect(await row.getByRole('link', { name: fx.prompt, exact: true }).getAttribute('href')).toBe(`/prompts/${fx.prompt}`);
    expect(await row.getByRole('link', { name: 'v2' }).getAttribute('href')).toBe(`/prompts/${fx.prompt}/versions/2`);
    expect((await row.getByRole('cell').allTextContents()).map((t) => t.trim())).toContain('2');
    expect(await row.getByRole('link', { name: 'production' }).getAttribute('href')).toBe(`/prompts/${fx.prompt}?tab=aliases&alias=production`);
    await row.getByRole('link', { name: 'staging' }).waitFor();
    await p.screenshot('prompts-list');

    await p.page.getByLabel('Filter by name').fill('hostile');
    await expect.poll(() => query(p).get('q')).toBe('hostile');
    await p.page.getByRole('link', { name: fx.hostilePrompt }).waitFor();
    expect(await p.page.getByRole('link', { name: fx.prompt, exact: true }).count()).toBe(0);
    // A pasted link lands on the same filtered list.
    await p.page.goto(`${fx.url}/prompts?q=support`);
    await p.page.getByRole('link', { name: fx.prompt, exact: true }).waitFor();
    expect(await p.page.getByLabel('Filter by name').inputValue()).toBe('support');
    expect(await p.page.getByRole('link', { name: fx.hostilePrompt }).count()).toBe(0);

    await p.page.getByRole('link', { name: fx.prompt, exact: true }).click();
    await p.page.getByRole('heading', { name: fx.prompt, level: 1 }).waitFor();
    expect(new URL(p.page.url()).pathname).toBe(`/prompts/${fx.prompt}`);
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});

describe('prompt page', () => {
  it('lists the versions with message, author, tags, hash and links', async () => {
    const p = await as(fx.keys.edit, `/prompts/${fx.prompt}`);
    const table = p.page.getByRole('table', { name: 'Versions' });
    await table.waitFor();
    const v1 = table.getByRole('row', { name: /^v1 / });
    const v2 = table.getByRole('row', { name: /^v2 / });
    expect(await v1.textContent()).toContain('first version');
    expect(await v1.textContent()).toContain('baseline');
    expect(await v2.textContent()).toContain('cite the docs');
    const version = await call('GET', `/v1/prompts/${fx.prompt}/versions/2`);
    // The hash short, the whole of it on hover; the author as the registry recorded it.
    const hash = v2.locator('code');
    expect(await hash.textContent()).toBe(version.templateHash.slice(0, 12));
    expect(await hash.getAttribute('title')).toBe(version.templateHash);
    expect(await v2.textContent()).toContain(version.author);
    expect(await v2.getByRole('link', { name: 'v2', exact: true }).first().getAttribute('href')).toBe(`/prompts/${fx.prompt}/versions/2`);
    expect(await v2.getByRole('link', { name: 'Diff v1 → v2' }).getAttribute('href')).toBe(`/prompts/${fx.prompt}?tab=diff&from=1&to=2`);
    await p.screenshot('prompt-versions');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('diffs two versions side by side: the removed line on the left, the added line on the right', async () => {
    const p = await as(fx.keys.read, `/prompts/${fx.prompt}?tab=diff`);
    await p.page.getByLabel('From version').selectOption('1');
    await p.page.getByLabel('To version').selectOption('2');
    await expect.poll(() => [query(p).get('tab'), query(p).get('from'), query(p).get('to')]).toEqual(['diff', '1', '2']);
    const diff = p.page.getByRole('table', { name: 'Side-by-side diff of v1 and v2' });
    await diff.waitFor();
    expect(await diff.getByRole('columnheader').allTextContents()).toEqual(['Version 1', 'Version 2']);
    // Each row is [left, right]: the old line stands on the left as removed, the new one on the right as added.
    const removed = diff.locator('.cell.left.del').filter({ hasText: 'You are a support agent for {{product}}.' });
    const added = diff.locator('.cell.right.add').filter({ hasText: 'You are a friendly support agent for {{product}}.' });
    await removed.waitFor();
    await added.waitFor();
    expect(await diff.locator('.cell.right').filter({ hasText: 'You are a support agent for {{product}}.' }).count()).toBe(0);
    expect(await diff.locator('.cell.left').filter({ hasText: 'friendly' }).count()).toBe(0);
    await diff.locator('.cell.right.add').filter({ hasText: 'Answer briefly and cite the docs.' }).waitFor();
    expect(await p.page.locator('.diff-summary').textContent()).toContain('−2 removed');
    await p.screenshot('prompt-diff');

    // The same view from a pasted link; the other way round swaps the columns.
    await p.page.goto(`${fx.url}/prompts/${fx.prompt}?tab=diff&from=2&to=1`);
    await p.page.getByRole('table', { name: 'Side-by-side diff of v2 and v1' }).locator('.cell.left.del').filter({ hasText: 'friendly' }).waitFor();
    expect(await p.page.getByLabel('From version').inputValue()).toBe('2');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('moves an alias with the edit key and shows the move in the timeline', async () => {
    const p = await as(fx.keys.edit, `/prompts/${fx.prompt}?tab=aliases&alias=staging`);
    const form = p.page.getByRole('form', { name: 'Move staging' });
    await form.waitFor();
    await form.getByLabel('Version').selectOption('1');
    await form.getByLabel('Reason for the move').fill('back to the baseline while docs are reviewed');
    await form.getByRole('button', { name: 'Move' }).click();
    await expect.poll(() => form.getByRole('status').textContent()).toContain('Moved staging to version 1');

    const timeline = p.page.getByRole('list', { name: 'Moves of staging' });
    const newest = timeline.getByRole('listitem').first();
    await expect.poll(() => newest.textContent()).toContain('back to the baseline while docs are reviewed');
    const text = (await newest.textContent())!;
    expect(text).toContain('v2 → v1');
    expect(text).toContain('by editor');
    expect(await timeline.getByRole('listitem').count()).toBe(2);
    // The alias list shows where staging points now.
    const row = p.page.getByRole('table', { name: 'Aliases' }).getByRole('row').filter({ has: p.page.getByRole('link', { name: 'staging', exact: true }) });
    await expect.poll(() => row.getByRole('cell').nth(1).textContent()).toBe('v1');
    expect(await row.textContent()).toContain('editor');
    // The server agrees.
    const history = await call('GET', `/v1/prompts/${fx.prompt}/aliases/staging/history`);
    expect(history.moves.at(-1)).toMatchObject({ from: { version: 2 }, to: { version: 1 }, reason: 'back to the baseline while docs are reviewed' });
    expect(history.moves.at(-1).actor).toContain('editor');
    await p.screenshot('prompt-aliases-edit');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('shows the server refusing the edit key a move of the protected alias production', async () => {
    const p = await as(fx.keys.edit, `/prompts/${fx.prompt}?tab=aliases&alias=production`);
    p.allowFailure(`/v1/prompts/${fx.prompt}/aliases/production`, 403);
    const form = p.page.getByRole('form', { name: 'Move production' });
    await form.getByLabel('Version').selectOption('1');
    await form.getByLabel('Reason for the move').fill('try the baseline again');
    await form.getByRole('button', { name: 'Move' }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor();
    const message = (await alert.textContent())!;
    expect(message).toContain('403');
    expect(message).toContain('may not move the protected alias production');
    expect(message).toContain('promote');
    // Nothing moved.
    expect((await call('GET', `/v1/prompts/${fx.prompt}/aliases/production`)).target.version).toBe(2);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('answers where an alias pointed at a time, from the form and from a pasted link', async () => {
    const p = await as(fx.keys.read, `/prompts/${fx.prompt}?tab=aliases`);
    // production is selected when the URL names no alias.
    await p.page.getByRole('heading', { name: 'Alias production' }).waitFor();
    const history = await call('GET', `/v1/prompts/${fx.prompt}/aliases/production/history`);
    expect(history.moves.map((m: any) => m.to.version)).toEqual([1, 2]);

    const now = new Date(Date.now() + 1000).toISOString().slice(0, 19);
    await p.page.getByLabel('Time (your time zone)').fill(now);
    await p.page.getByRole('button', { name: 'Look up' }).click();
    await expect.poll(() => query(p).get('at')).toBe(`${now}.000Z`);
    const answer = p.page.locator('.alias-at');
    await expect.poll(() => answer.textContent()).toContain('production pointed at v2');
    expect(await answer.textContent()).toContain('the docs version did better');

    const between = new Date(Date.parse(history.moves[0].at) + 1).toISOString();
    await p.page.goto(`${fx.url}/prompts/${fx.prompt}?tab=aliases&alias=production&at=${between}`);
    await expect.poll(() => p.page.locator('.alias-at').textContent()).toContain('production pointed at v1');
    expect(await p.page.locator('.alias-at').textContent()).toContain('first release');
    await p.screenshot('prompt-aliases');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('offers a read key nothing that changes things, and the server refuses the change anyway', async () => {
    const p = await as(fx.keys.read, `/prompts/${fx.prompt}`);
    const changing = /register|move|roll back|split|create alias|new alias/i;
    for (const tab of ['versions', 'diff', 'aliases']) {
      await p.page.goto(`${fx.url}/prompts/${fx.prompt}?tab=${tab}`);
      await p.page.getByRole('heading', { name: fx.prompt, level: 1 }).waitFor();
      if (tab === 'versions') await p.page.getByRole('table', { name: 'Versions' }).waitFor();
      if (tab === 'diff') await p.page.getByRole('table', { name: /Side-by-side diff/ }).waitFor();
      if (tab === 'aliases') await p.page.getByRole('list', { name: 'Moves of production' }).waitFor();
      expect(await p.page.getByRole('button', { name: changing }).count()).toBe(0);
      expect(await p.page.getByRole('form', { name: changing }).count()).toBe(0);
      expect(await p.page.getByText(changing).and(p.page.locator('summary')).count()).toBe(0);
      expect(await p.page.locator('textarea').count()).toBe(0);
    }
    p.allowFailure(`/v1/prompts/${fx.prompt}/aliases/staging`, 403);
    const status = await p.page.evaluate(() =>
      fetch('/v1/prompts/support-reply/aliases/staging', {
        method: 'PUT',
        headers: { authorization: `Bearer ${sessionStorage.getItem('promptline.key') ?? ''}`, 'content-type': 'application/json' },
        body: JSON.stringify({ version: 1, reason: 'x' }),
      }).then((r) => r.status),
    );
    expect(status).toBe(403);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('creates an alias, splits it between two versions and rolls it back, each move in the timeline', async () => {
    const p = await as(fx.keys.edit, `/prompts/${fx.prompt}?tab=aliases`);
    await p.page.getByText('New alias', { exact: true }).click();
    const create = p.page.getByRole('form', { name: 'Create an alias' });
    await create.getByLabel('Alias name').fill('canary');
    await create.getByLabel('Points at version').selectOption('1');
    await create.getByLabel('Reason for the new alias').fill('a place to try versions');
    await create.getByRole('button', { name: 'Create alias' }).click();
    await expect.poll(() => query(p).get('alias')).toBe('canary');
    await p.page.getByRole('heading', { name: 'Alias canary' }).waitFor();

    const split = p.page.getByRole('form', { name: 'Split canary' });
    await split.getByLabel('Version of arm 1').selectOption('1');
    await split.getByLabel('Weight of arm 1 (%)').fill('70');
    await split.getByLabel('Version of arm 2').selectOption('2');
    await split.getByLabel('Weight of arm 2 (%)').fill('30');
    await split.getByLabel('Reason for the split').fill('send some traffic to the docs version');
    await split.getByRole('button', { name: 'Set split' }).click();
    await expect.poll(() => split.getByRole('status').textContent()).toContain('v1 70 %, v2 30 %');
    const timeline = p.page.getByRole('list', { name: 'Moves of canary' });
    await expect.poll(() => timeline.getByRole('listitem').first().textContent()).toContain('v1 → split v1 70 % · v2 30 %');

    const rollback = p.page.getByRole('form', { name: 'Roll back canary' });
    await rollback.getByLabel('Reason for the rollback').fill('the split confused the dashboards');
    await rollback.getByRole('button', { name: 'Roll back' }).click();
    await expect.poll(() => rollback.getByRole('status').textContent()).toContain('Rolled canary back to version 1');
    await expect.poll(() => timeline.getByRole('listitem').count()).toBe(3);
    const newest = (await timeline.getByRole('listitem').first().textContent())!;
    expect(newest).toContain('rollback');
    expect(newest).toContain('split v1 70 % · v2 30 % → v1');
    expect(newest).toContain('the split confused the dashboards');
    const row = p.page.getByRole('table', { name: 'Aliases' }).getByRole('row').filter({ has: p.page.getByRole('link', { name: 'canary', exact: true }) });
    await expect.poll(() => row.getByRole('cell').nth(1).textContent()).toBe('v1');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('registers new versions through the editor, text and then chat, and lands on each', async () => {
    const p = await as(fx.keys.edit, `/prompts/${NOTES}`);
    await p.page.getByRole('button', { name: 'Register a new version' }).click();
    const editor = p.page.getByRole('form', { name: 'Register a new version' });
    const template = editor.getByLabel('Template', { exact: true });
    // The editor starts from the newest version.
    expect(await template.inputValue()).toBe('Summarise the release of {{product}} for {{audience}}.');
    await template.fill('Summarise the release of {{product}} for {{audience}} in three bullet points.');
    await editor.getByLabel('Commit message').fill('three bullets');
    await editor.getByLabel('Tags (comma-separated)').fill('short, bullets');
    await editor.getByRole('button', { name: 'Register version' }).click();
    await p.page.getByRole('heading', { name: `${NOTES} · version 2`, level: 1 }).waitFor();
    expect(new URL(p.page.url()).pathname).toBe(`/prompts/${NOTES}/versions/2`);
    await p.page.getByText('three bullets').first().waitFor();
    await p.page.getByText('in three bullet points.').waitFor();

    // A chat template: messages with roles, added and removed.
    await p.page.goto(`${fx.url}/prompts/${NOTES}`);
    await p.page.getByRole('button', { name: 'Register a new version' }).click();
    await editor.getByLabel('Template type').selectOption('chat');
    expect(await editor.getByLabel('Content of message 1').inputValue()).toBe('Summarise the release of {{product}} for {{audience}} in three bullet points.');
    await editor.getByRole('button', { name: 'Add message' }).click();
    await editor.getByRole('button', { name: 'Add message' }).click();
    await editor.getByRole('button', { name: 'Remove message 3' }).click();
    await editor.getByLabel('Role of message 2').selectOption('user');
    await editor.getByLabel('Content of message 2').fill('The changes: {{changes}}');
    await editor.getByLabel('Commit message').fill('as chat');
    await editor.getByRole('button', { name: 'Register version' }).click();
    await p.page.getByRole('heading', { name: `${NOTES} · version 3`, level: 1 }).waitFor();
    const registered = await call('GET', `/v1/prompts/${NOTES}/versions/3`);
    expect(registered.template).toEqual({
      type: 'chat',
      messages: [
        { role: 'system', content: 'Summarise the release of {{product}} for {{audience}} in three bullet points.' },
        { role: 'user', content: 'The changes: {{changes}}' },
      ],
    });
    expect((await call('GET', `/v1/prompts/${NOTES}/versions/2`)).tags).toEqual(['short', 'bullets']);
    await p.page.getByText('The changes: {{changes}}').first().waitFor();

    // From text to chat: the diff shows the messages as the chat's blocks, the new one added on the right.
    await p.page.getByRole('link', { name: 'Diff with v2' }).click();
    await expect.poll(() => [query(p).get('tab'), query(p).get('from'), query(p).get('to')]).toEqual(['diff', '2', '3']);
    const diff = p.page.getByRole('table', { name: 'Side-by-side diff of v2 and v3' });
    await diff.locator('.cell.right.add').filter({ hasText: '[user]' }).waitFor();
    await diff.locator('.cell.right.add').filter({ hasText: 'The changes: {{changes}}' }).waitFor();
    await p.page.getByText('one is a text template, the other a chat template').waitFor();
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('shows an editor refusal in words: an empty chat message is the server’s 400', async () => {
    const p = await as(fx.keys.edit, `/prompts/${NOTES}`);
    p.allowFailure(`/v1/prompts/${NOTES}/versions`, 400);
    await p.page.getByRole('button', { name: 'Register a new version' }).click();
    const editor = p.page.getByRole('form', { name: 'Register a new version' });
    await editor.getByLabel('Template type').selectOption('text');
    await editor.getByLabel('Template', { exact: true }).fill('   ');
    await editor.getByLabel('Commit message').fill('blank');
    // The form's own check would stop a blank template only when it is empty; spaces reach the server.
    await editor.getByRole('button', { name: 'Register version' }).click();
    await expect.poll(() => editor.getByRole('alert').textContent()).toContain('the template is empty');
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});

describe('version page', () => {
  it('shows the template and its facts, renders it with variables, and links its numbers to its responses', async () => {
    const p = await as(fx.keys.read, `/prompts/${fx.prompt}/versions/1`);
    await p.page.getByRole('heading', { name: `${fx.prompt} · version 1`, level: 1 }).waitFor();
    const version = await call('GET', `/v1/prompts/${fx.prompt}/versions/1`);
    await p.page.getByText(version.templateHash).waitFor();
    await p.page.getByText('first version').waitFor();
    await p.page.getByText(`prompts:/${fx.prompt}/1`).waitFor();
    expect(await p.page.getByLabel('Template', { exact: true }).textContent()).toBe('You are a support agent for {{product}}.\nAnswer briefly.');

    await p.page.getByLabel('product').fill('Acme Cloud');
    await p.page.getByRole('button', { name: 'Render' }).click();
    await expect.poll(() => p.page.getByLabel('Rendered template').textContent()).toBe('You are a support agent for Acme Cloud.\nAnswer briefly.');

    const numbers = p.page.getByRole('table', { name: 'Version 1 in numbers' });
    await numbers.waitFor();
    const responses = numbers.getByRole('row', { name: /^Responses/ }).getByRole('link');
    expect(await responses.textContent()).toBe('1');
    const href = new URL((await responses.getAttribute('href'))!, fx.url);
    expect(href.pathname).toBe('/responses');
    expect(href.searchParams.get('prompt')).toBe(fx.prompt);
    expect(href.searchParams.get('version')).toBe('1');
    expect(href.searchParams.get('from')).toMatch(/^\d{4}-\d\d-\d\dT/);
    const errors = new URL((await numbers.getByRole('row', { name: /^Error rate/ }).getByRole('link').getAttribute('href'))!, fx.url);
    expect(errors.searchParams.get('status')).toBe('error');
    expect(errors.searchParams.get('version')).toBe('1');
    await numbers.getByRole('row', { name: /^Score: helpfulness/ }).waitFor();
    await p.page.getByRole('figure').filter({ hasText: 'Responses over time (1 in all)' }).waitFor();

    // The time range is in the URL.
    await p.page.getByLabel('Time range').selectOption('30d');
    await expect.poll(() => query(p).get('range')).toBe('30d');
    await p.screenshot('version-page');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('shows the version’s error rate from its failed response', async () => {
    const p = await as(fx.keys.read, `/prompts/${fx.prompt}/versions/2?range=24h`);
    const numbers = p.page.getByRole('table', { name: 'Version 2 in numbers' });
    await numbers.waitFor();
    const compared = await call('GET', `/v1/prompts/${fx.prompt}/compare?a=2&b=2`);
    expect(compared.a.errorRate.value).toBeGreaterThan(0);
    expect(await numbers.getByRole('row', { name: /^Responses/ }).getByRole('link').textContent()).toBe(String(compared.a.responses));
    expect(await numbers.getByRole('row', { name: /^Error rate/ }).getByRole('link').textContent()).toBe(`${(compared.a.errorRate.value * 100).toFixed(1)} %`);
    expect(await p.page.getByLabel('Time range').inputValue()).toBe('24h');
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});

describe('hostile text', () => {
  it('shows the hostile template and commit message as text, and runs none of it', async () => {
    const p = await as(fx.keys.edit, `/prompts/${fx.hostilePrompt}`);
    const table = p.page.getByRole('table', { name: 'Versions' });
    await table.getByText(HOSTILE.script, { exact: false }).waitFor();
    await table.getByText(HOSTILE.img, { exact: false }).waitFor();
    await table.getByText(HOSTILE.link, { exact: false }).waitFor();

    await p.page.goto(`${fx.url}/prompts/${fx.hostilePrompt}/versions/1`);
    await p.page.getByLabel('Template', { exact: true }).getByText(HOSTILE.script, { exact: false }).waitFor();
    await p.page.getByLabel('Template', { exact: true }).getByText(HOSTILE.img, { exact: false }).waitFor();
    await p.page.getByText(`[see](${HOSTILE.link})`, { exact: false }).first().waitFor();
    await p.page.getByRole('button', { name: 'Render' }).click();
    await p.page.getByLabel('Rendered template').getByText(HOSTILE.script, { exact: false }).waitFor();

    // The register editor holds the hostile template as a value, not as markup.
    await p.page.goto(`${fx.url}/prompts/${fx.hostilePrompt}`);
    await p.page.getByRole('button', { name: 'Register a new version' }).click();
    expect(await p.page.getByLabel('Template', { exact: true }).inputValue()).toContain(HOSTILE.script);

    expect(await p.page.evaluate(() => (globalThis as { __pwned?: string }).__pwned)).toBeUndefined();
    expect(await p.page.locator('a[href^="javascript" i]').count()).toBe(0);
    expect(await p.page.locator('img').count()).toBe(0);
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});

describe('compare', () => {
  it('shows two versions’ numbers, charts and the verdict in words; versions in the URL', async () => {
    const p = await as(fx.keys.read, `/prompts/${fx.prompt}/compare?a=1&b=2`);
    await p.page.getByRole('heading', { name: `Compare versions of ${fx.prompt}`, level: 1 }).waitFor();
    const verdict = p.page.getByRole('status', { name: 'Verdict' });
    await expect.poll(() => verdict.textContent()).toContain('Version 2 is better than version 1 on score “helpfulness”');
    const answer = await call('GET', `/v1/prompts/${fx.prompt}/compare?a=1&b=2`);
    expect(answer.overall.better).toBe('b');

    const numbers = p.page.getByRole('table', { name: 'The two versions in numbers' });
    expect(await numbers.getByRole('columnheader').allTextContents()).toEqual(['Metric', 'Version 1', 'Version 2']);
    const responses = numbers.getByRole('row', { name: /^Responses/ }).getByRole('link');
    expect(await responses.allTextContents()).toEqual([String(answer.a.responses), String(answer.b.responses)]);
    const hrefs = (await responses.evaluateAll((as) => as.map((a) => a.getAttribute('href')))) as string[];
    expect(hrefs).toEqual([`/responses?prompt=${fx.prompt}&version=1`, `/responses?prompt=${fx.prompt}&version=2`]);
    const score = numbers.getByRole('row', { name: /^Score: helpfulness/ });
    expect(await score.textContent()).toContain(answer.b.scores[0].mean.toFixed(2).slice(0, 3));
    expect(await score.textContent()).toContain('95 % interval');
    await p.page.getByRole('figure').filter({ hasText: 'Latency (ms)' }).waitFor();
    await p.page.getByRole('figure').filter({ hasText: 'Mean evaluation score per scorer' }).waitFor();
    await p.page.getByRole('table', { name: 'Per metric' }).getByRole('row', { name: /helpfulness/ }).waitFor();
    await p.screenshot('compare');

    await p.page.getByLabel('Version A').selectOption('2');
    await expect.poll(() => [query(p).get('a'), query(p).get('b')]).toEqual(['2', '2']);
    await expect.poll(() => verdict.textContent()).toContain('compared with itself');
    await p.page.getByLabel('Time range').selectOption('7d');
    await expect.poll(() => query(p).get('range')).toBe('7d');
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});

