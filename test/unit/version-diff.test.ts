import { describe, expect, it } from 'vitest';
import { DiffTooLargeError, diffVersions } from '../../src/registry/diff.ts';
import type { PromptVersion } from '../../src/domain/prompt.ts';

// A diff of two versions: counted lines, the too-large verdict, and the same answer when asked again.

const version = (n: number, text: string, hash: string): PromptVersion => ({
  name: 'p',
  version: n,
  template: { type: 'text', text },
  templateHash: hash,
  commitMessage: 'm',
  author: 'a',
  tags: [],
  baseVersion: null,
  createdAt: new Date(0),
});

describe('version diff', () => {
  it('counts added and removed lines, and answers a repeated diff from memory', () => {
    const a = version(1, 'one\ntwo\nthree', 'h1');
    const b = version(2, 'one\n2\nthree\nfour', 'h2');
    const first = diffVersions(a, b);
    expect([first.added, first.removed]).toEqual([2, 1]);
    expect(first.unified).toContain('-two');
    expect(first.unified).toContain('+2');
    // Versions never change: the second answer is the one computed before.
    expect(diffVersions(a, b)).toBe(first);
    // Other content under the same numbers (another project) is diffed on its own.
    const other = diffVersions(version(1, 'x', 'h3'), version(2, 'y', 'h4'));
    expect(other).not.toBe(first);
    expect(other.unified).toContain('+y');
  });

  it('refuses versions too far apart, every time it is asked', () => {
    const a = version(1, Array.from({ length: 3_000 }, (_, i) => `a ${i}`).join('\n'), 'big1');
    const b = version(2, Array.from({ length: 3_000 }, (_, i) => `b ${i}`).join('\n'), 'big2');
    expect(() => diffVersions(a, b)).toThrow(DiffTooLargeError);
    expect(() => diffVersions(a, b)).toThrow(DiffTooLargeError);
  });
});
