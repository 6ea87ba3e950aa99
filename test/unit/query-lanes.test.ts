import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/common/errors.ts';
import { QueryLanes } from '../../src/storage/clickhouse/query-lanes.ts';

// The order in which the span store's engine serves queries: lookups before scans, projects in
// turn, a bounded queue per project, and a bounded wait.

/** A query that runs until the test ends it, recording when it started. */
function gate(log: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return {
    fn: async () => {
      log.push(name);
      await done;
      return name;
    },
    open: () => open(),
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('query lanes', () => {
  it('serves a waiting lookup before every waiting scan', async () => {
    const lanes = new QueryLanes({ slots: 1, analysisQueuePerProject: 100, queueTimeoutMs: 60_000 });
    const log: string[] = [];
    const first = gate(log, 'scan A1');
    const running = lanes.run('analysis', 'A', first.fn);
    const scans = Array.from({ length: 5 }, (_, i) => gate(log, `scan A${i + 2}`));
    const pending = scans.map((s) => lanes.run('analysis', 'A', s.fn));
    const lookup = gate(log, 'lookup B');
    const answered = lanes.run('lookup', 'B', lookup.fn);
    first.open();
    await running;
    await settle();
    // The scan that was running finishes; the lookup goes next, ahead of five older scans.
    expect(log).toEqual(['scan A1', 'lookup B']);
    lookup.open();
    expect(await answered).toBe('lookup B');
    for (const s of scans) s.open();
    await Promise.all(pending);
  });

  it('takes projects in turn, so one project cannot starve another', async () => {
    const lanes = new QueryLanes({ slots: 1, analysisQueuePerProject: 100, queueTimeoutMs: 60_000 });
    const log: string[] = [];
    const add = (project: string, name: string) =>
      lanes.run('analysis', project, async () => {
        log.push(name);
        await settle();
      });
    const all = [add('A', 'A1'), add('A', 'A2'), add('A', 'A3'), add('A', 'A4'), add('B', 'B1'), add('B', 'B2')];
    await Promise.all(all);
    // A1 starts at once (nothing else waits); then A and B take turns until B has no more.
    expect(log).toEqual(['A1', 'A2', 'B1', 'A3', 'B2', 'A4']);
  });

  it('answers 429 past the per-project queue, and still serves other projects', async () => {
    const lanes = new QueryLanes({ slots: 1, analysisQueuePerProject: 2, queueTimeoutMs: 60_000 });
    const log: string[] = [];
    const busy = gate(log, 'A running');
    const running = lanes.run('analysis', 'A', busy.fn);
    const waiting = [gate(log, 'A w1'), gate(log, 'A w2')];
    const queued = waiting.map((w) => lanes.run('analysis', 'A', w.fn));
    const refused = await lanes.run('analysis', 'A', async () => 'never').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect((refused as UnavailableError).status).toBe(429);
    expect((refused as UnavailableError).message).toContain('project A');
    const other = gate(log, 'B');
    const served = lanes.run('analysis', 'B', other.fn);
    expect(lanes.waiting()).toEqual({ lookup: 0, analysis: 3 });
    busy.open();
    for (const w of waiting) w.open();
    other.open();
    await Promise.all([running, served, ...queued]);
    expect(log).not.toContain('never');
  });

  it('answers 503 without running a query that waited past the queue timeout', async () => {
    const lanes = new QueryLanes({ slots: 1, analysisQueuePerProject: 10, queueTimeoutMs: 30 });
    const log: string[] = [];
    const busy = gate(log, 'long');
    const running = lanes.run('analysis', 'A', busy.fn);
    const late = await lanes.run('lookup', 'B', async () => log.push('late ran')).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(UnavailableError);
    expect((late as UnavailableError).status).toBe(503);
    busy.open();
    await running;
    await settle();
    expect(log).toEqual(['long']);
    expect(lanes.waiting()).toEqual({ lookup: 0, analysis: 0 });
  });

  it('keeps the slot a moment after a lookup, so the next lookup of the same answer does not wait behind a scan', async () => {
    const lanes = new QueryLanes({ slots: 1, analysisQueuePerProject: 10, queueTimeoutMs: 60_000, lookupGraceMs: 200 });
    const log: string[] = [];
    const run = (lane: 'lookup' | 'analysis', name: string) =>
      lanes.run(lane, 'p', async () => {
        log.push(name);
      });
    await run('lookup', 'lookup 1');
    const scan = run('analysis', 'scan');
    // The answer's second lookup comes a moment later, while the scan waits.
    await new Promise((r) => setTimeout(r, 5));
    await run('lookup', 'lookup 2');
    await scan;
    expect(log).toEqual(['lookup 1', 'lookup 2', 'scan']);
  });

  it('lets a scan through a steady stream of lookups', async () => {
    const lanes = new QueryLanes({ slots: 1, analysisQueuePerProject: 10, queueTimeoutMs: 60_000, lookupGraceMs: 50 });
    const log: string[] = [];
    let stop = false;
    // Three clients that each send a lookup as soon as their last one answered: the slot is never free.
    const client = async (name: string) => {
      while (!stop) {
        await lanes.run('lookup', name, async () => {
          log.push('lookup');
          await settle();
        });
      }
    };
    const clients = [client('a'), client('b'), client('c')];
    await settle();
    const scan = lanes.run('analysis', 'p', async () => {
      log.push('scan');
    });
    await scan;
    stop = true;
    await Promise.all(clients);
    const before = log.indexOf('scan');
    expect(before).toBeGreaterThan(0);
    // It waited for at most 16 lookups (and the ones already running).
    expect(log.slice(0, before).filter((e) => e === 'lookup').length).toBeLessThanOrEqual(16 + 3);
  });
});
