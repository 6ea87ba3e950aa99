import { describe, expect, it } from 'vitest';
import { createJsonLogger } from '../../src/common/logger.ts';
import { inRequest, requestIdFor } from '../../src/common/request-context.ts';

// The log is read by people and by log pipelines: one JSON object a line, a level by name, the
// request's id on every line logged while serving it, secrets never written.

function capture(level: 'debug' | 'info' = 'info') {
  const lines: string[] = [];
  const logger = createJsonLogger(level, (l) => lines.push(l));
  return { logger, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>), lines };
}

describe('logger', () => {
  it('writes one JSON object a line with the level by name and an ISO time, below the level nothing', () => {
    const { logger, records, lines } = capture('info');
    logger.debug('not written');
    logger.info('writer: batch written', { spans: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const [r] = records();
    expect(r).toMatchObject({ level: 'info', msg: 'writer: batch written', spans: 3 });
    expect(new Date(r!.time as string).toISOString()).toBe(r!.time);
  });

  it('names the request on every line logged while serving it, also after awaits and timers, and on no other line', async () => {
    const { logger, records } = capture();
    logger.info('outside');
    await inRequest('req-1', async () => {
      logger.info('first');
      await new Promise((r) => setTimeout(r, 1));
      logger.warn('after a timer');
    });
    await Promise.all([inRequest('req-a', async () => { await new Promise((r) => setImmediate(r)); logger.info('a'); }), inRequest('req-b', async () => logger.info('b'))]);
    logger.info('outside again');
    const byMsg = new Map(records().map((r) => [r.msg, r.reqId]));
    expect(Object.fromEntries(byMsg)).toEqual({ outside: undefined, first: 'req-1', 'after a timer': 'req-1', a: 'req-a', b: 'req-b', 'outside again': undefined });
  });

  it('redacts secrets by any casing and writes errors as name, message and stack', () => {
    const { logger, records } = capture();
    logger.error('failed', { Authorization: 'Bearer pl_secret', api_key: 'k', password: 'p', error: new TypeError('boom') });
    const [r] = records();
    expect(JSON.stringify(r)).not.toMatch(/pl_secret|"k"|"p"/);
    expect(r).toMatchObject({ Authorization: '[redacted]', api_key: '[redacted]', password: '[redacted]', error: { type: 'TypeError', message: 'boom' } });
    expect((r!.error as { stack: string }).stack).toContain('TypeError: boom');
  });

  it('keeps a field named like an object property as data', () => {
    const { logger, lines } = capture();
    logger.info('wire keys', JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c"}') as Record<string, unknown>);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(lines[0]).toContain('"constructor":"c"');
  });

  it("keeps a client's plain X-Request-Id and replaces anything else with a fresh id", () => {
    expect(requestIdFor('lb-7f3a.42:9')).toBe('lb-7f3a.42:9');
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'new\nline', ['a', 'b']]) {
      expect(requestIdFor(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
});
