import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { contextWithLineage, currentLineage, withLineage } from '../src/index.ts';
import { lineageSettings } from '../src/context.ts';
import { LoadedPrompt } from '../src/prompt.ts';
import { startTestTracing, type TestTracing } from './tracing.ts';

let t: TestTracing;
beforeAll(() => {
  t = startTestTracing();
});
afterAll(() => t.stop());
afterEach(() => {
  t.exporter.reset();
  lineageSettings.baggage = false;
});

const prompt = (name: string, version: number, extra: Partial<{ alias: string; splitId: string }> = {}) =>
  new LoadedPrompt({ name, version, alias: extra.alias ?? null, templateHash: `hash-${name}-${version}`, splitId: extra.splitId ?? null, template: { type: 'text', text: `Answer {{q}} (${name})` }, source: 'registry' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the lineage span processor', () => {
  it('stamps prompt, alias, hash, split, datasets, model and app on every span started in a lineage context', () => {
    withLineage({ prompt: prompt('support-answer', 3, { alias: 'production', splitId: 'production-4-ab12cd34' }), datasets: ['kb-2026-11'], model: { provider: 'openai', name: 'gpt-4o' }, app: { name: 'support-bot', version: '1.4.2' } }, () => {
      t.tracer.startActiveSpan('agent.step', (step) => {
        t.tracer.startSpan('http.get').end();
        step.end();
      });
    });
    for (const name of ['agent.step', 'http.get']) {
      expect(t.span(name).attributes).toEqual({
        'gen_ai.prompt.name': 'support-answer',
        'gen_ai.prompt.version': 3,
        'promptline.prompt.alias': 'production',
        'promptline.prompt.hash': 'hash-support-answer-3',
        'promptline.prompt.split_id': 'production-4-ab12cd34',
        'promptline.dataset.ids': ['kb-2026-11'],
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.provider.name': 'openai',
        'gen_ai.agent.name': 'support-bot',
        'gen_ai.agent.version': '1.4.2',
      });
    }
  });

  it('never overwrites an attribute the span was started with', () => {
    withLineage({ prompt: { name: 'outer', version: 1 }, model: 'gpt-4o' }, () => {
      t.tracer.startSpan('chat', { attributes: { 'gen_ai.prompt.name': 'explicit', 'gen_ai.request.model': 'gpt-4.1' } }).end();
    });
    expect(t.span('chat').attributes).toMatchObject({ 'gen_ai.prompt.name': 'explicit', 'gen_ai.prompt.version': 1, 'gen_ai.request.model': 'gpt-4.1' });
  });

  it('leaves spans outside any lineage context alone', () => {
    t.tracer.startSpan('plain').end();
    expect(t.span('plain').attributes).toEqual({});
  });

  it('lets an inner withLineage replace the prompt while datasets add up and the app stays', () => {
    withLineage({ prompt: { name: 'plan', version: 1 }, datasets: ['a'], app: { name: 'bot' } }, () => {
      withLineage({ prompt: { name: 'answer', version: 2 }, datasets: ['b', 'a'] }, () => t.tracer.startSpan('inner').end());
      t.tracer.startSpan('outer').end();
    });
    expect(t.span('inner').attributes).toMatchObject({ 'gen_ai.prompt.name': 'answer', 'gen_ai.prompt.version': 2, 'promptline.dataset.ids': ['a', 'b'], 'gen_ai.agent.name': 'bot' });
    expect(t.span('outer').attributes).toMatchObject({ 'gen_ai.prompt.name': 'plan', 'promptline.dataset.ids': ['a'] });
  });

  it('follows the lineage through awaits, timers and promise chains', async () => {
    await prompt('async-prompt', 7).run(async () => {
      await sleep(5);
      await new Promise<void>((resolve) => setTimeout(() => {
        t.tracer.startSpan('in-timer').end();
        resolve();
      }, 1));
      await Promise.resolve().then(() => t.tracer.startSpan('in-then').end());
    });
    expect(t.span('in-timer').attributes['gen_ai.prompt.version']).toBe(7);
    expect(t.span('in-then').attributes['gen_ai.prompt.name']).toBe('async-prompt');
  });

  it('keeps the lineage of 50 parallel tasks apart, however their awaits interleave', async () => {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        withLineage({ prompt: prompt(`task-${i}`, i + 1, { alias: `alias-${i}` }), datasets: [`ds-${i}`], conversationId: `conv-${i}` }, async () => {
          for (let step = 0; step < 3; step++) {
            await sleep((i * 7 + step * 3) % 5);
            await t.tracer.startActiveSpan(`task-${i}-step-${step}`, async (span) => {
              await sleep((i + step) % 3);
              t.tracer.startSpan(`task-${i}-llm-${step}`).end();
              span.end();
            });
          }
        }),
      ),
    );
    const spans = t.spans();
    expect(spans).toHaveLength(300);
    for (const s of spans) {
      const i = Number(/^task-(\d+)-/.exec(s.name)![1]);
      expect(s.attributes, s.name).toMatchObject({ 'gen_ai.prompt.name': `task-${i}`, 'gen_ai.prompt.version': i + 1, 'promptline.prompt.alias': `alias-${i}`, 'promptline.dataset.ids': [`ds-${i}`], 'gen_ai.conversation.id': `conv-${i}` });
    }
  });

  it("binds a formatted prompt to its context: the next call there carries it, a later format the later prompt", async () => {
    const plan = prompt('plan', 1);
    const answer = prompt('answer', 2);
    await t.tracer.startActiveSpan('agent.run', async (run) => {
      plan.format({ q: 'x' });
      await sleep(1);
      t.tracer.startSpan('llm-1').end();
      answer.format({ q: 'y' });
      t.tracer.startSpan('llm-2').end();
      run.end();
    });
    expect(t.span('llm-1').attributes['gen_ai.prompt.name']).toBe('plan');
    expect(t.span('llm-2').attributes['gen_ai.prompt.name']).toBe('answer');
    expect(t.span('agent.run').attributes['gen_ai.prompt.name']).toBeUndefined();
  });

  it('never binds a formatted prompt to the root context, which every task shares', () => {
    prompt('root-level', 1).format({ q: 'x' });
    t.tracer.startSpan('unrelated').end();
    expect(t.span('unrelated').attributes).toEqual({});
  });

  it('returns what fn returns and lets its errors through untouched', async () => {
    expect(withLineage({ prompt: { name: 'p' } }, () => 42)).toBe(42);
    const boom = new Error('boom');
    expect(() => withLineage({ prompt: { name: 'p' } }, () => { throw boom; })).toThrow(boom);
    await expect(withLineage({ prompt: { name: 'p' } }, async () => { throw boom; })).rejects.toBe(boom);
  });

  it('survives a broken input: the function still runs, without lineage', () => {
    const hostile = { get prompt(): never { throw new Error('getter exploded'); } };
    expect(withLineage(hostile as never, () => 'ran')).toBe('ran');
  });
});

describe('lineage across services in W3C baggage', () => {
  const send = (opts?: { baggage?: boolean }) => {
    const carrier: Record<string, string> = {};
    withLineage({ prompt: prompt('router', 4, { alias: 'production' }), datasets: ['kb-1', 'kb-2'], app: { name: 'front', version: '2.0.0' } }, () => {
      t.tracer.startActiveSpan('client-call', (span) => {
        propagation.inject(context.active(), carrier);
        span.end();
      });
    }, opts);
    return carrier;
  };
  const receive = (carrier: Record<string, string>) => {
    const ctx = propagation.extract(ROOT_CONTEXT, carrier);
    context.with(ctx, () => t.tracer.startSpan('server-side').end());
  };

  it('is off by default: nothing promptline.* is sent, and nothing received is stamped', () => {
    const carrier = send();
    expect(carrier.baggage ?? '').not.toContain('promptline.');
    receive({ ...carrier, baggage: 'promptline.prompt.name=forged,promptline.prompt.version=9' });
    expect(t.span('server-side').attributes).toEqual({});
  });

  it('when enabled, carries prompt, datasets and app to the next service, whose spans are stamped', () => {
    lineageSettings.baggage = true;
    const carrier = send();
    expect(carrier.baggage).toContain('promptline.prompt.name=router');
    receive(carrier);
    const server = t.span('server-side');
    expect(server.attributes).toMatchObject({ 'gen_ai.prompt.name': 'router', 'gen_ai.prompt.version': 4, 'promptline.prompt.alias': 'production', 'promptline.prompt.hash': 'hash-router-4', 'promptline.dataset.ids': ['kb-1', 'kb-2'], 'gen_ai.agent.name': 'front', 'gen_ai.agent.version': '2.0.0' });
    expect(server.parentSpanContext?.spanId).toBe(t.span('client-call').spanContext().spanId);
  });

  it('can be switched on for one call', () => {
    expect(send({ baggage: true }).baggage).toContain('promptline.prompt.version=4');
  });

  it('does not leak an outer lineage entry the inner one leaves out', () => {
    const ctx = contextWithLineage(ROOT_CONTEXT, { prompt: { name: 'outer', version: 1, alias: 'canary' } }, { baggage: true });
    const inner = contextWithLineage(ctx, { prompt: { name: 'inner', version: 2 } }, { baggage: true });
    const bag = propagation.getBaggage(inner)!;
    expect(bag.getEntry('promptline.prompt.name')?.value).toBe('inner');
    expect(bag.getEntry('promptline.prompt.alias')).toBeUndefined();
    expect(currentLineage(inner)?.prompt).toEqual({ name: 'inner', version: 2 });
  });

  it('prefers the lineage set in this service over what arrived in baggage', () => {
    lineageSettings.baggage = true;
    const ctx = propagation.extract(ROOT_CONTEXT, { baggage: 'promptline.prompt.name=remote' });
    context.with(ctx, () => withLineage({ prompt: { name: 'local', version: 1 } }, () => trace.getTracer('t').startSpan('mixed').end()));
    expect(t.span('mixed').attributes['gen_ai.prompt.name']).toBe('local');
  });
});
