import { describe, expect, it } from 'vitest';
import { hashTemplate } from '../../src/domain/prompt.ts';
import { BadRequestError } from '../../src/common/errors.ts';
import { moveAliasBody, registerVersionBody } from '../../src/registry/names.ts';
import { MissingVariablesError, renderTemplate, templateVariables } from '../../src/registry/render.ts';
import { assignArm, bucketOf, splitId } from '../../src/registry/split.ts';
import { formatPromptUri, parsePromptUri } from '../../src/registry/uri.ts';
import { templateHash } from '../../src/ingest/conventions.ts';

describe('prompt URIs in MLflow form', () => {
  it('resolve to a name and a version or an alias', () => {
    expect(parsePromptUri('prompts:/support-answer/3')).toEqual({ name: 'support-answer', version: 3 });
    expect(parsePromptUri('prompts:/support-answer@production')).toEqual({ name: 'support-answer', alias: 'production' });
    expect(parsePromptUri(' prompts:/qa.v2@latest ')).toEqual({ name: 'qa.v2', alias: 'latest' });
    expect(formatPromptUri({ name: 'a', version: 2 })).toBe('prompts:/a/2');
  });

  it('refuse anything else with a message that shows the form', () => {
    for (const bad of ['support-answer', 'prompts:/a/0', 'prompts:/a/x', 'prompts://a/1', 'prompts:/a@Prod!', 'prompts:/a/1/2', 'prompt:/a/1', 'prompts:/bad name/1']) {
      expect(() => parsePromptUri(bad), bad).toThrow(BadRequestError);
    }
    expect(() => parsePromptUri('nope')).toThrow(/prompts:\/NAME\/VERSION or prompts:\/NAME@ALIAS/);
  });
});

describe('rendering {{variable}} templates', () => {
  it('fills every variable, in text and chat templates, spaces inside braces allowed', () => {
    const vars = new Map([['question', 'Where is my order?'], ['name', 'Ada']]);
    expect(renderTemplate({ type: 'text', text: 'Hi {{ name }}: {{question}} ({{name}})' }, vars)).toEqual({ type: 'text', text: 'Hi Ada: Where is my order? (Ada)' });
    expect(
      renderTemplate({ type: 'chat', messages: [{ role: 'system', content: 'Help {{name}}.' }, { role: 'user', content: '{{question}}' }] }, vars),
    ).toEqual({ type: 'chat', messages: [{ role: 'system', content: 'Help Ada.' }, { role: 'user', content: 'Where is my order?' }] });
  });

  it('names every missing variable instead of sending an empty one to a model', () => {
    const err = (() => {
      try {
        renderTemplate({ type: 'text', text: '{{a}} {{b}} {{a}} {{c}}' }, new Map([['b', 'x']]));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(MissingVariablesError);
    expect((err as MissingVariablesError).missing).toEqual(['a', 'c']);
    expect((err as Error).message).toBe('the template needs the variables "a", "c", which were not given');
    expect((err as MissingVariablesError).status).toBe(400);
  });

  it('treats variable names such as __proto__ as data, and leaves replacement patterns in values alone', () => {
    const vars = new Map([['__proto__', 'p'], ['v', '$& $1 {{v}}']]);
    expect(renderTemplate({ type: 'text', text: '{{__proto__}} {{v}}' }, vars)).toEqual({ type: 'text', text: 'p $& $1 {{v}}' });
    expect(templateVariables({ type: 'text', text: 'no variables, {single} braces, {{ }}' })).toEqual([]);
  });
});

describe('template hashes', () => {
  it('agree between the registry and the collector for text templates', () => {
    const text = 'You are a helpful agent. Question: {{question}}';
    expect(hashTemplate({ type: 'text', text })).toBe(templateHash(text));
  });
});

describe('A/B split assignment', () => {
  const split = { id: splitId('support-answer', 'production', 4, [{ version: 3, weight: 90 }, { version: 4, weight: 10 }]), arms: [{ version: 3, weight: 90 }, { version: 4, weight: 10 }] };

  it('gives a key the same version every time, and depends on the split', () => {
    for (let i = 0; i < 100; i++) expect(assignArm(split, `user-${i}`)).toEqual(assignArm(split, `user-${i}`));
    const other = { ...split, id: 'production-5-deadbeef' };
    const moved = Array.from({ length: 1000 }, (_, i) => `user-${i}`).filter((k) => assignArm(split, k).version !== assignArm(other, k).version);
    expect(moved.length).toBeGreaterThan(0);
  });

  it('spreads keys over the arms by weight (20,000 fixed keys, within 4 standard deviations)', () => {
    const n = 20_000;
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const v = assignArm(split, `session-${i}`).version;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const p = 0.1;
    const sd = Math.sqrt(n * p * (1 - p));
    expect(Math.abs((counts.get(4) ?? 0) - n * p)).toBeLessThan(4 * sd);
    const three = { id: 's3', arms: [{ version: 1, weight: 50 }, { version: 2, weight: 30 }, { version: 3, weight: 20 }] };
    const c3 = [0, 0, 0];
    for (let i = 0; i < n; i++) c3[assignArm(three, `k${i}`).version - 1]!++;
    for (const [i, w] of [50, 30, 20].entries()) {
      const pi = w / 100;
      expect(Math.abs(c3[i]! - n * pi), `arm ${i + 1}`).toBeLessThan(4 * Math.sqrt(n * pi * (1 - pi)));
    }
  });

  it('has buckets in [0, 1)', () => {
    for (let i = 0; i < 1000; i++) {
      const b = bucketOf('x', String(i));
      expect(b >= 0 && b < 1).toBe(true);
    }
  });
});

describe('registry input', () => {
  it('refuses empty and oversize templates, empty commit messages and unknown fields', () => {
    expect(registerVersionBody.safeParse({ template: '   ', commitMessage: 'm' }).success).toBe(false);
    expect(registerVersionBody.safeParse({ template: 'x'.repeat(256 * 1024 + 1), commitMessage: 'm' }).success).toBe(false);
    expect(registerVersionBody.safeParse({ template: 'ok', commitMessage: '' }).success).toBe(false);
    expect(registerVersionBody.safeParse({ template: 'ok', commitMessage: 'm', version: 7 }).success).toBe(false);
    expect(registerVersionBody.safeParse({ template: { messages: [] }, commitMessage: 'm' }).success).toBe(false);
    expect(registerVersionBody.safeParse({ template: { messages: [{ role: 'wizard', content: 'x' }] }, commitMessage: 'm' }).success).toBe(false);
    expect(registerVersionBody.safeParse({ template: { messages: [{ role: 'user', content: 'x' }] }, commitMessage: 'm' }).success).toBe(true);
  });

  it('refuses split weights that do not add up to 100, single arms and repeated versions', () => {
    const ok = { split: [{ version: 1, weight: 90 }, { version: 2, weight: 10 }], reason: 'r' };
    expect(moveAliasBody.safeParse(ok).success).toBe(true);
    expect(moveAliasBody.safeParse({ ...ok, split: [{ version: 1, weight: 90 }, { version: 2, weight: 5 }] }).success).toBe(false);
    expect(moveAliasBody.safeParse({ ...ok, split: [{ version: 1, weight: 100 }] }).success).toBe(false);
    expect(moveAliasBody.safeParse({ ...ok, split: [{ version: 1, weight: 50 }, { version: 1, weight: 50 }] }).success).toBe(false);
    expect(moveAliasBody.safeParse({ ...ok, split: [{ version: 1, weight: -10 }, { version: 2, weight: 110 }] }).success).toBe(false);
    expect(moveAliasBody.safeParse({ version: 1, split: ok.split, reason: 'r' }).success).toBe(false);
    expect(moveAliasBody.safeParse({ version: 1, reason: '' }).success).toBe(false);
  });
});
