import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { PromptlineMetrics } from '../../src/common/metrics.ts';
import { RateLimiter } from '../../src/governance/access.ts';
import { ManualClock } from '../helpers/clock.ts';

// The metrics object on its own: each instance is its own registry, and state figures are read at
// scrape time from what they watch.

async function sample(metrics: PromptlineMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const family = parsePrometheusTextFormat(await metrics.render()).find((f) => f.name === name);
  const found = (family?.metrics ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return found.reduce((sum, m) => sum + Number(m.value), 0);
}

describe('PromptlineMetrics', () => {
  it('keeps two instances apart: counting in one moves nothing in the other', async () => {
    const a = new PromptlineMetrics();
    const b = new PromptlineMetrics();
    a.spansReceived('http', 3);
    a.requestRefused('grpc', 'malformed');
    expect(await sample(a, 'promptline_spans_received_total', { transport: 'http' })).toBe(3);
    expect(await sample(b, 'promptline_spans_received_total', { transport: 'http' })).toBe(0);
    expect(await sample(a, 'promptline_otlp_requests_refused_total', { transport: 'grpc', reason: 'malformed' })).toBe(1);
    expect(await sample(b, 'promptline_otlp_requests_refused_total')).toBe(0);
  });

  it('reads the spool and the writer at each scrape', async () => {
    const metrics = new PromptlineMetrics();
    let figures = { pendingBytes: 10, pendingRecords: 1 };
    let writer = { writtenSpans: 5, deadLettered: 0, lagSeconds: 2.5 };
    metrics.watchSpool(() => figures);
    metrics.watchWriter(() => writer);
    expect(await sample(metrics, 'promptline_spool_bytes')).toBe(10);
    expect(await sample(metrics, 'promptline_spans_stored_total')).toBe(5);
    expect(await sample(metrics, 'promptline_writer_lag_seconds')).toBe(2.5);
    figures = { pendingBytes: 0, pendingRecords: 0 };
    writer = { writtenSpans: 12, deadLettered: 1, lagSeconds: 0 };
    expect(await sample(metrics, 'promptline_spool_records')).toBe(0);
    expect(await sample(metrics, 'promptline_spans_stored_total')).toBe(12);
    expect(await sample(metrics, 'promptline_dead_letters_total')).toBe(1);
    expect(await sample(metrics, 'promptline_writer_lag_seconds')).toBe(0);
  });

  it('counts a rate limiter\'s refusals under its kind', async () => {
    const metrics = new PromptlineMetrics();
    const limiter = new RateLimiter(1, 2, new ManualClock(), undefined, { metrics, kind: 'ingest' });
    limiter.take('k');
    limiter.take('k');
    expect(() => limiter.take('k')).toThrow(/calls a second/);
    expect(await sample(metrics, 'promptline_rate_limited_total', { kind: 'ingest' })).toBe(1);
    expect(await sample(metrics, 'promptline_rate_limited_total', { kind: 'api' })).toBe(0);
  });
});
