import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage, signIn, type BrowserUnderTest } from '../helpers/browser.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';

// Signing in and out, and what a key's role shows.

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

describe('sign in', () => {
  it('serves the console at / with a policy that allows no inline script', async () => {
    const res = await fetch(`${fx.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    // Other spellings of a page are not pages: routing stays case-sensitive and strict.
    expect((await fetch(`${fx.url}/Responses`)).status).toBe(404);
    expect((await fetch(`${fx.url}/responses/`)).status).toBe(404);
  });

  it('refuses a wrong key with a message, signs in with a right one, and signs out', async () => {
    const p = await openPage(b);
    p.allowFailure('/v1/session', 401);
    await p.page.goto(`${fx.url}/prompts`);
    await p.page.getByLabel('API key').fill('pl_not_a_key');
    await p.page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => p.page.getByRole('alert').textContent()).toContain('401');
    await p.page.getByLabel('API key').fill(fx.keys.read);
    await p.page.getByRole('button', { name: 'Sign in' }).click();
    // Back where the reader was headed.
    await p.page.getByRole('heading', { name: 'Prompts', level: 1 }).waitFor();
    expect(new URL(p.page.url()).pathname).toBe('/prompts');
    await expect.poll(() => p.page.locator('.topbar .key').textContent()).toContain('read');
    // Only what a read key may use is offered: no audit.
    expect(await p.page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(['Responses', 'Prompts', 'Impact', 'What changed', 'Monitors', 'Alerts']);
    await p.page.getByRole('button', { name: 'Sign out' }).click();
    await p.page.getByLabel('API key').waitFor();
    // The key is gone from the tab: a reload asks for it again.
    await p.page.reload();
    await p.page.getByLabel('API key').waitFor();
    expect(await p.page.evaluate(() => sessionStorage.length)).toBe(0);
    await p.screenshot('sign-in');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('shows an admin the audit log link', async () => {
    const p = await openPage(b);
    await signIn(p, fx.url, fx.keys.admin);
    expect(await p.page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toContain('Audit');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('lets an instance admin switch projects, and each project shows only its own prompts', async () => {
    const res = await fetch(`${fx.url}/v1/prompts/team-b-only/versions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fx.keys.admin}`, 'content-type': 'application/json', 'x-promptline-project': 'team-b' },
      body: JSON.stringify({ template: 'Only in team b.', commitMessage: 'team b' }),
    });
    expect(res.status).toBe(201);
    const p = await openPage(b);
    await signIn(p, fx.url, fx.keys.admin, '/prompts');
    await p.page.getByRole('link', { name: fx.prompt, exact: true }).first().waitFor();
    await p.page.getByLabel('Project').selectOption('team-b');
    await expect.poll(() => p.page.getByRole('link', { name: 'team-b-only', exact: true }).count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await p.page.getByRole('link', { name: fx.prompt, exact: true }).count()).toBe(0);
    // Back to the key's own project.
    await p.page.getByLabel('Project').selectOption('default');
    await p.page.getByRole('link', { name: fx.prompt, exact: true }).first().waitFor();
    expect(await p.page.getByRole('link', { name: 'team-b-only', exact: true }).count()).toBe(0);
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});
