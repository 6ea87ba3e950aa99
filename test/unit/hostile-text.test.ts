import { describe, expect, it } from 'vitest';
import { table, oneLine } from '../../src/cli/args.ts';
import { terminalLine, terminalText } from '../../src/cli/terminal.ts';
import { mdText } from '../../src/reports/render.ts';

// Text from spans and prompts is data from strangers: in Markdown and in the terminal it stays text.

const ESC = '\u001b';

describe('Markdown from hostile text', () => {
  it('keeps a table row and a heading on one line, whatever line break the text carries', () => {
    for (const brk of ['\n', '\r', '\r\n', '\u2028', '\u2029', '\u0085']) {
      expect(mdText(`a${brk}| forged | row |${brk}# heading`)).not.toMatch(/[\r\n\u2028\u2029\u0085]/);
    }
  });

  it('escapes table pipes even after a backslash, so no cell can be split', () => {
    const cell = mdText('a\\| b | c');
    // Every | is preceded by an odd number of backslashes: escaped.
    for (const m of cell.matchAll(/(\\*)\|/g)) expect(m[1]!.length % 2).toBe(1);
  });

  it('leaves no raw HTML, link, image, emphasis or autolink', () => {
    const out = mdText('<script>alert(1)</script> <img src=x onerror=alert(1)> [click](javascript:alert(1)) ![i](http://x/y.png) **b** `c` https://evil.example www.evil.example me@evil.example');
    expect(out).not.toMatch(/<|>/);
    expect(out).toContain('&lt;script&gt;');
    expect(out).not.toMatch(/(^|[^\\])[[\]()*`!@]/);
    expect(out).not.toContain('https://');
    expect(out).not.toMatch(/www\.(?!\\)/);
  });

  it('shows control characters as code points instead of passing them on', () => {
    expect(mdText(`x${ESC}[2Jy\u202eevil`)).toBe('xU+001B\\[2JyU+202Eevil');
  });
});

describe('the terminal from hostile text', () => {
  it('makes ESC sequences, other controls and bidi overrides visible, and keeps newlines where text may have them', () => {
    const out = terminalText(`line 1\nclear${ESC}[2J${ESC}]8;;http://evil${ESC}\\link\u0007\u202e`);
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(out).toContain('line 1\nclear\\u{1b}[2J');
  });

  it('keeps a forged row out of a table: a newline in a cell shows as \\n', () => {
    const rendered = table(['ID', 'NAME'], [['k1', 'ok\nk2  admin key  forged'], ['k3', `tab\there${ESC}[31m`]]);
    expect(rendered.split('\n')).toHaveLength(3);
    expect(rendered).toContain('ok\\nk2');
    expect(rendered).not.toContain(ESC);
    expect(terminalLine('a\r\nb')).toBe('a\\nb');
    expect(oneLine(`reason${ESC}]0;title\u0007`)).not.toContain(ESC);
  });
});
