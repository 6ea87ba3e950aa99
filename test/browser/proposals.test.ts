import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerWithAdmin } from '../helpers/admin-key.ts';
import { launchBrowser, openPage as openTab, signIn, type BrowserUnderTest, type ConsolePage } from '../helpers/browser.ts';
import { removeDir, type ServerUnderTest } from '../helpers/server.ts';
import { HOSTILE } from './fixture.ts';

// Review and promote in the console, against a server of its own (keys on, production protected):
// a proposer opens a proposal through the form, with a hostile title; an editor (another person)
// approves it; production's policy asks for two approvals, so the editor's merge is refused and
// the page shows the server's message naming what is missing; after an admin's approval the merge
// goes through and production points to the candidate. A read key sees the proposal but no review
// or merge control; an admin may merge a second proposal over the policy with a reason.

const PROMPT = 'faq-answer';
const TITLE = `Shorter answers ${HOSTILE.img} ${HOSTILE.script}`;
const DESCRIPTION = `Users skim.\n[docs](${HOSTILE.link}) ${HOSTILE.img}`;
const CANDIDATE = 'Answer {{question}} in two sentences.\nLink the docs page.';

let server: ServerUnderTest;
let b: BrowserUnderTest;
const keys = { admin: '', proposer: '', edit: '', read: '' };
/** The proposal's address in the console, once the first test opened it. */
let proposalUrl = '';
let proposalId = '';

const poll = <T>(fn: () => T | Promise<T>, timeout = 15_000) => expect.poll(fn, { timeout });

async function call(method: string, path: string, key = keys.admin, body?: unknown): Promise<any> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? null : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A new tab. Its first look at the session, with no key stored yet, is answered 401 (keys are on): expected. */
async function openPage(): Promise<ConsolePage> {
  const p = await openTab(b);
  p.allowFailure('/v1/session', 401);
  return p;
}

/** Form controls a screen reader could not name: each needs a label. Runs in the page (no DOM types here). */
const unlabeled = (p: ConsolePage) =>
  p.page.evaluate(() => {
    const { document } = globalThis as any;
    return [...document.querySelectorAll('main input, main select, main textarea')].filter((el: any) => !((el.labels?.length ?? 0) > 0 || el.getAttribute('aria-label'))).map((el: any) => String(el.outerHTML));
  });

const pwned = (p: ConsolePage) => p.page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned);
const stateBadge = (p: ConsolePage) => p.page.locator('.facts .badge.state');
/** The entries of the history, not the checks listed inside a merge entry. */
const historyEntries = (p: ConsolePage) => p.page.getByRole('list', { name: 'History' }).locator(':scope > li');
const production = async () => ((await call('GET', `/v1/prompts/${PROMPT}/aliases/production`)) as { target: { version: number | null } }).target.version;

beforeAll(async () => {
  const started = await startServerWithAdmin();
  server = started.server;
  keys.admin = started.admin;
  const key = async (role: string, name: string) => ((await call('POST', '/v1/keys', keys.admin, { role, name })) as { key: string }).key;
  keys.proposer = await key('proposer', 'pat (product)');
  keys.edit = await key('edit', 'erin (engineer)');
  keys.read = await key('read', 'rita (on call)');
  await call('POST', `/v1/prompts/${PROMPT}/versions`, keys.admin, { template: 'Answer {{question}} in detail.', commitMessage: 'first version' });
  // Set while production is still an ordinary protected alias; from now on it moves under its policy.
  await call('PUT', `/v1/prompts/${PROMPT}/aliases/production`, keys.admin, { version: 1, reason: 'first release' });
  await call('PUT', '/v1/alias-policies/production', keys.admin, { approvals: { count: 2, roles: ['edit', 'admin'] } });
  b = await launchBrowser();
}, 180_000);

afterAll(async () => {
  await b?.close();
  await server?.stop();
  if (server) removeDir(server.dataDir);
});

describe('proposals', () => {
  it('a proposer opens a proposal through the form, from the prompt page; its hostile title stays text', async () => {
    const p = await openPage();
    await signIn(p, server.url, keys.proposer, `/prompts/${PROMPT}`);
    await p.page.getByRole('link', { name: 'Proposals', exact: true }).click();
    await poll(() => new URL(p.page.url()).pathname).toBe(`/prompts/${PROMPT}/proposals`);
    await p.page.getByText('No proposals.').waitFor();
    await p.page.getByRole('button', { name: 'Propose a change' }).click();

    const form = p.page.getByRole('form', { name: 'Propose a change' });
    await form.getByLabel('Title').fill(TITLE);
    await form.getByLabel('Description').fill(DESCRIPTION);
    await form.getByLabel('Template', { exact: true }).fill(CANDIDATE);
    expect(await form.getByRole('combobox', { name: 'Alias to move' }).inputValue()).toBe('production');
    expect(await form.getByRole('combobox', { name: 'Base version' }).inputValue()).toBe('');
    expect(await unlabeled(p)).toEqual([]);
    await form.getByRole('button', { name: 'Open proposal' }).click();

    await poll(() => new URL(p.page.url()).pathname).toMatch(new RegExp(`^/prompts/${PROMPT}/proposals/pr_[0-9a-f]{12}$`));
    proposalUrl = new URL(p.page.url()).pathname;
    proposalId = proposalUrl.split('/').at(-1)!;
    const h1 = p.page.getByRole('heading', { level: 1 });
    await poll(() => h1.textContent()).toBe(TITLE);
    expect(await stateBadge(p).textContent()).toBe('open');
    expect(await p.page.locator('.proposal-description').textContent()).toBe(DESCRIPTION);
    // The candidate against what production points to now.
    const diff = p.page.getByRole('table', { name: 'Side-by-side diff of v1 and v2' });
    await diff.waitFor();
    expect(await diff.textContent()).toContain('Link the docs page.');
    // A proposer comments, but neither approves nor merges.
    expect(await p.page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await p.page.getByRole('button', { name: 'Request changes' }).count()).toBe(0);
    expect(await p.page.getByRole('button', { name: /^Merge/ }).count()).toBe(0);
    await p.page.getByLabel('Review message').fill(`Please look at it soon ${HOSTILE.script}`);
    await p.page.getByRole('button', { name: 'Comment' }).click();
    const history = historyEntries(p);
    await poll(() => history.count()).toBe(2);
    expect(await history.nth(1).textContent()).toContain(`Please look at it soon ${HOSTILE.script}`);
    expect(await p.page.locator('main img').count()).toBe(0);
    expect(await pwned(p)).toBeUndefined();

    const list = (await call('GET', `/v1/prompts/${PROMPT}/proposals`)) as { proposals: Array<{ id: string; title: string; author: string; candidate: { version: number }; request: { alias: string } }> };
    expect(list.proposals).toHaveLength(1);
    expect(list.proposals[0]).toMatchObject({ id: proposalId, title: TITLE, candidate: { version: 2 }, request: { alias: 'production' } });
    expect(list.proposals[0]!.author).toContain('pat (product)');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('an editor approves it; the merge is refused, and the page says what is missing', async () => {
    const p = await openPage();
    p.allowFailure('/merge', 422);
    await signIn(p, server.url, keys.edit, proposalUrl);
    await p.page.getByRole('button', { name: 'Approve' }).click();
    await poll(() => stateBadge(p).textContent()).toBe('approved');
    await p.page.getByRole('list', { name: 'Approvals' }).getByText(/erin \(engineer\)/).waitFor();
    // Before any merge, the page shows what a merge would check now.
    await poll(() => p.page.getByRole('list', { name: 'Checks now' }).textContent()).toBe('failed needs 2 approvals from edit or admin, has 1');
    // Only an admin may override a policy.
    expect(await p.page.getByRole('checkbox', { name: /Override the policy/ }).count()).toBe(0);

    const merge = p.page.getByRole('region', { name: 'Merge' });
    await merge.getByRole('button', { name: 'Merge', exact: true }).click();
    const refusal = merge.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).toBe(`422 proposal ${proposalId} cannot merge into production yet: needs 2 approvals from edit or admin, has 1`);
    expect(await production()).toBe(1);
    expect(await stateBadge(p).textContent()).toBe('approved');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('after an admin approves too, the merge moves production to the candidate', async () => {
    const p = await openPage();
    await signIn(p, server.url, keys.admin, proposalUrl);
    await p.page.getByRole('button', { name: 'Approve' }).click();
    await poll(() => p.page.getByRole('list', { name: 'Approvals' }).getByRole('listitem').count()).toBe(2);
    await p.page.getByRole('region', { name: 'Merge' }).getByRole('button', { name: 'Merge', exact: true }).click();
    await poll(() => stateBadge(p).textContent()).toBe('merged');
    expect(await production()).toBe(2);
    const history = historyEntries(p);
    await poll(() => history.count()).toBe(5);
    expect(await history.last().textContent()).toMatch(/merged.*Step 1 of 1: move #2 to v2/);
    expect(await p.page.getByRole('button', { name: /^Merge/ }).count()).toBe(0);
    expect(await p.page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    // production is on the candidate now: the diff shows it against where production was when the proposal was opened.
    await p.page.getByRole('table', { name: 'Side-by-side diff of v1 and v2' }).waitFor();
    expect(await unlabeled(p)).toEqual([]);
    await p.screenshot('console-proposal');

    // The prompt page shows production on the candidate.
    await p.page.goto(`${server.url}/prompts/${PROMPT}?tab=aliases&alias=production`);
    const row = p.page.getByRole('table', { name: 'Aliases' }).getByRole('row').filter({ hasText: 'production' });
    await row.getByRole('link', { name: 'v2' }).waitFor();
    expect(await row.textContent()).toContain(`proposal ${proposalId}`);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('a read key sees the proposal and the list by state, but no review, merge or propose control', async () => {
    const p = await openPage();
    await signIn(p, server.url, keys.read, proposalUrl);
    await poll(() => p.page.getByRole('heading', { level: 1 }).textContent()).toBe(TITLE);
    await p.page.getByRole('list', { name: 'History' }).waitFor();
    for (const name of ['Approve', 'Request changes', 'Comment', 'Close proposal']) expect(await p.page.getByRole('button', { name }).count()).toBe(0);
    expect(await p.page.getByRole('button', { name: /^Merge/ }).count()).toBe(0);

    await p.page.goto(`${server.url}/prompts/${PROMPT}/proposals?state=open`);
    await p.page.getByText('No open proposals.').waitFor();
    expect(await p.page.getByRole('button', { name: 'Propose a change' }).count()).toBe(0);
    await p.page.getByRole('combobox', { name: 'State' }).selectOption('merged');
    await poll(() => new URL(p.page.url()).searchParams.get('state')).toBe('merged');
    const row = p.page.getByRole('table', { name: 'Proposals' }).getByRole('row').filter({ hasText: 'pat (product)' });
    await row.waitFor();
    expect(await row.getByRole('link').textContent()).toBe(TITLE);
    expect(await row.textContent()).toContain('production → v2');
    expect(await p.page.locator('main img').count()).toBe(0);
    expect(await pwned(p)).toBeUndefined();
    await row.getByRole('link').click();
    await poll(() => new URL(p.page.url()).pathname).toBe(proposalUrl);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('an admin merges a proposal over the policy with a reason, recorded as an override', async () => {
    const opened = (await call('POST', `/v1/prompts/${PROMPT}/proposals`, keys.proposer, { title: 'Friendlier tone', template: 'Answer {{question}} kindly, in two sentences.', move: { alias: 'production', steps: [50, 100] } })) as { id: string };
    const p = await openPage();
    await signIn(p, server.url, keys.admin, `/prompts/${PROMPT}/proposals/${opened.id}`);
    const steps = p.page.getByRole('list', { name: 'Rollout steps' });
    await steps.waitFor();
    expect(await steps.getByRole('listitem').allTextContents()).toEqual(['step 1: 50 % of the traffic to v3 next', 'step 2: 100 % of the traffic to v3 to come']);
    await p.page.getByRole('checkbox', { name: /Override the policy/ }).check();
    await p.page.getByLabel('Reason for the override').fill('hotfix: the old answer leaks an internal URL');
    await p.page.getByRole('button', { name: 'Merge step 1 of 2 with override' }).click();
    await poll(() => steps.getByRole('listitem').first().textContent()).toBe('step 1: 50 % of the traffic to v3 current');
    const last = historyEntries(p).last();
    expect(await last.textContent()).toContain('override');
    expect(await last.textContent()).toContain('hotfix: the old answer leaks an internal URL');
    const alias = (await call('GET', `/v1/prompts/${PROMPT}/aliases/production`)) as { target: { split: { arms: Array<{ version: number; weight: number }> } | null } };
    expect(alias.target.split?.arms).toEqual([
      { version: 2, weight: 50 },
      { version: 3, weight: 50 },
    ]);
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});
