import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

// The console's tests drive Debian's Chromium (apt-get install -y chromium) through
// playwright-core, as DEVELOPERS.md describes: headless, no sandbox (CI runs as root), a fresh
// profile every run. Every page records what a user would call broken: errors in the console,
// uncaught exceptions, requests that failed and answers of 400 or more. A test that expects a
// refusal says so (allowFailure), and a test ends with `expect(problems()).toEqual([])`.

const CHROMIUM = process.env.PROMPTLINE_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../test-output/screenshots');

export interface BrowserUnderTest {
  browser: BrowserContext;
  close(): Promise<void>;
}

/** Starts Chromium with a profile of its own, removed on close. */
export async function launchBrowser(): Promise<BrowserUnderTest> {
  const profile = mkdtempSync(join(tmpdir(), 'promptline-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1400, height: 900 },
    // Dates and numbers as a reader in the tests' expectations would see them.
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  return {
    browser: context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface ConsolePage {
  page: Page;
  /** What went wrong in the page so far, as lines; [] when nothing did. */
  problems(): string[];
  /** Answers whose URL contains `part` and whose status is `status` are expected, not problems. */
  allowFailure(part: string, status: number): void;
  /** Saves a full-page screenshot under test-output/screenshots/NAME.png. */
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** A new tab (its own sessionStorage) watching for problems. */
export async function openPage(b: BrowserUnderTest): Promise<ConsolePage> {
  const page = await b.browser.newPage();
  const problems: string[] = [];
  const allowed: Array<{ part: string; status: number }> = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every answer of 400 or more as "Failed to load resource"; the response and
    // requestfailed listeners below report those (or not, when the test allowed them).
    if (m.text().startsWith('Failed to load resource:')) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A view that navigates away aborts its own pending loads: that is not a failure.
    const reason = r.failure()?.errorText ?? '';
    if (reason.includes('ERR_ABORTED')) return;
    problems.push(`request failed: ${r.method()} ${r.url()} ${reason}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    if (allowed.some((a) => r.url().includes(a.part) && r.status() === a.status)) return;
    problems.push(`answer ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return {
    page,
    problems: () => [...problems],
    allowFailure: (part, status) => void allowed.push({ part, status }),
    async screenshot(name) {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    },
    close: () => page.close(),
  };
}

/** Signs in on the console's sign-in page and waits for the signed-in layout. */
export async function signIn(p: ConsolePage, baseUrl: string, key: string, path = '/responses'): Promise<void> {
  // With no key yet, the console first asks who it is without one (a server with authentication
  // off answers); a server with keys answers that 401, which is expected here.
  p.allowFailure('/v1/session', 401);
  await p.page.goto(`${baseUrl}${path}`);
  await p.page.getByLabel('API key').fill(key);
  await p.page.getByRole('button', { name: 'Sign in' }).click();
  await p.page.getByRole('button', { name: 'Sign out' }).waitFor();
}

