import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, openPage as openTab, signIn, type BrowserUnderTest, type ConsolePage } from '../helpers/browser.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';

// Every view can be used with a keyboard and a screen reader: each form control has a name, only
// links, buttons and form controls look clickable, and the main actions (sign in, filter the
// responses, pick a span in a trace) are done here with keys alone.

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

/** Waits until the view has its heading and nothing is loading any more. */
async function settled(page: Page): Promise<void> {
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  await poll(() => page.locator('.loading').count()).toBe(0);
}

interface Findings {
  unlabeled: string[];
  pointerNotInteractive: string[];
  /** How many elements show a pointer at all: the check above looked at something. */
  pointers: number;
}

// The functions given to page.evaluate run in the page. This project's TypeScript has no DOM
// types (the service runs on Node), so they read the page's globals untyped, and they are sent
// to the page as source text: they name nothing from this file.
/** Form controls without a name, and elements that look clickable but are no link, button or control. */
function findings(page: Page): Promise<Findings> {
  return page.evaluate(() => {
    const { document, getComputedStyle } = globalThis as any;
    const describe = (el: any): string => {
      const cls = el.getAttribute('class');
      const text = String(el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 60);
      return `<${String(el.tagName).toLowerCase()}${cls ? ` class="${cls}"` : ''}${el.getAttribute('name') ? ` name="${el.getAttribute('name')}"` : ''}> ${text}`;
    };
    const controls: any[] = [...document.querySelectorAll('input, select, textarea')].filter((el: any) => !(el.tagName === 'INPUT' && el.type === 'hidden'));
    const unlabeled = controls.filter((el) => !((el.labels?.length ?? 0) > 0 || el.getAttribute('aria-label'))).map(describe);
    // A pointer cursor inherits: what matters is that it starts on (or inside) something a keyboard reaches.
    const interactive = 'a, button, summary, label, select, option, input, textarea';
    const all: any[] = [...document.querySelectorAll('body *')];
    const pointers = all.filter((el) => getComputedStyle(el).cursor === 'pointer');
    const pointerNotInteractive = pointers.filter((el) => !el.closest(interactive)).map(describe);
    return { unlabeled, pointerNotInteractive, pointers: pointers.length };
  });
}

/** Presses Tab (or Shift+Tab) until `focused` (run in the page on document.activeElement) says yes, at most `max` times. */
async function tabTo(page: Page, focused: () => boolean, key: 'Tab' | 'Shift+Tab' = 'Tab', max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(key);
    if (await page.evaluate(focused)) return;
  }
  throw new Error(`no element reached with Tab is the one wanted (${focused.toString()})`);
}

const VIEWS: Array<[string, () => string]> = [
  ['responses', () => '/responses'],
  ['trace', () => `/traces/${fx.traces.v2}`],
  ['response page', () => `/responses/${fx.responses.v2}`],
  ['prompts', () => '/prompts'],
  ['prompt page, versions tab', () => `/prompts/${fx.prompt}?tab=versions`],
  ['prompt page, diff tab', () => `/prompts/${fx.prompt}?tab=diff&from=1&to=2`],
  ['prompt page, aliases tab', () => `/prompts/${fx.prompt}?tab=aliases`],
  ['version page', () => `/prompts/${fx.prompt}/versions/2`],
  ['compare', () => `/prompts/${fx.prompt}/compare?a=1&b=2`],
  ['impact', () => `/impact?prompt=${fx.prompt}&alias=production`],
  ['audit', () => '/audit'],
];

describe('labels and pointers', () => {
  let p: ConsolePage;
  beforeAll(async () => {
    p = await openPage(b);
    await signIn(p, fx.url, fx.keys.admin);
  });
  afterAll(async () => {
    await p?.close();
  });

  for (const [name, path] of VIEWS) {
    it(`${name}: every control has a name and only links, buttons and controls look clickable`, async () => {
      await p.page.goto(`${fx.url}${path()}`);
      await settled(p.page);
      const found = await findings(p.page);
      expect(found.unlabeled, `unlabeled controls on ${path()}`).toEqual([]);
      expect(found.pointerNotInteractive, `clickable-looking elements that are no link, button or control on ${path()}`).toEqual([]);
      expect(found.pointers).toBeGreaterThan(0);
      expect(p.problems()).toEqual([]);
    });
  }
});

describe('keyboard only', () => {
  it('signs in by typing the key and pressing Enter', async () => {
    const p = await openPage(b);
    await p.page.goto(`${fx.url}/prompts`);
    await p.page.getByLabel('API key').waitFor();
    await tabTo(p.page, () => (globalThis as any).document.activeElement?.id === 'api-key');
    await p.page.keyboard.type(fx.keys.read);
    await p.page.keyboard.press('Enter');
    await p.page.getByRole('button', { name: 'Sign out' }).waitFor();
    await p.page.getByRole('heading', { name: 'Prompts', level: 1 }).waitFor();
    expect(new URL(p.page.url()).pathname).toBe('/prompts');
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('filters the responses: Tab to the span-name filter, type, Enter', async () => {
    const p = await openPage(b);
    await signIn(p, fx.url, fx.keys.admin, '/responses');
    await settled(p.page);
    // The span-name filter is the API's `q`.
    await tabTo(p.page, () => {
      const el = (globalThis as any).document.activeElement;
      return el?.tagName === 'INPUT' && (el.name === 'q' || [...(el.labels ?? [])].some((l: any) => /span|search/i.test(String(l.textContent ?? ''))));
    });
    await p.page.keyboard.type('failed');
    await p.page.keyboard.press('Enter');
    await poll(() => new URL(p.page.url()).searchParams.get('q')).toBe('failed');
    await p.page.getByText('support turn (failed)').first().waitFor();
    await poll(() => p.page.getByText('chat gpt-4o-mini').count()).toBe(0);
    expect(p.problems()).toEqual([]);
    await p.close();
  });

  it('selects a span in the waterfall with Enter and with Space, and its details follow', async () => {
    const p = await openPage(b);
    await signIn(p, fx.url, fx.keys.admin, `/traces/${fx.traces.v2}`);
    await settled(p.page);
    const rows = p.page.locator('.waterfall button');
    await poll(() => rows.count()).toBeGreaterThanOrEqual(2);
    const mainText = () => p.page.locator('main').innerText();

    // Enter on the next row down, then Space on one back up.
    for (const [key, move] of [['Enter', 'Tab'], ['Space', 'Shift+Tab']] as const) {
      const before = await mainText();
      const spanBefore = new URL(p.page.url()).searchParams.get('span');
      await tabTo(p.page, () => {
        const el = (globalThis as any).document.activeElement;
        return el?.tagName === 'BUTTON' && el.closest('.waterfall') !== null && el.getAttribute('aria-pressed') !== 'true';
      }, move);
      const focused = await p.page.evaluate(() => String((globalThis as any).document.activeElement?.textContent ?? ''));
      await p.page.keyboard.press(key);
      await poll(() => p.page.locator('.waterfall button[aria-pressed="true"]').textContent()).toBe(focused);
      await poll(() => new URL(p.page.url()).searchParams.get('span')).not.toBe(spanBefore);
      expect(new URL(p.page.url()).searchParams.get('span')).toMatch(/^[0-9a-f]{16}$/);
      await poll(mainText).not.toBe(before);
    }
    expect(p.problems()).toEqual([]);
    await p.close();
  });
});
