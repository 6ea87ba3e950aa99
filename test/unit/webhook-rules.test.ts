import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EVENT_PATTERN, MAX_DELIVERY_ATTEMPTS, MAX_RETRY_DELAY_MS, retryDelayMs, webhookSignature, webhookTakes } from '../../src/domain/webhooks.ts';

describe('webhook rules', () => {
  it('takes an event by its type, by a prefix ending in .*, or by *', () => {
    expect(webhookTakes(['alias.moved'], 'alias.moved')).toBe(true);
    expect(webhookTakes(['proposal.*'], 'proposal.merged')).toBe(true);
    expect(webhookTakes(['proposal.*'], 'proposals.merged')).toBe(false);
    expect(webhookTakes(['proposal.*'], 'alias.moved')).toBe(false);
    expect(webhookTakes(['alert.opened'], 'alert.resolved')).toBe(false);
    expect(webhookTakes(['*'], 'anything.at.all')).toBe(true);
    expect(webhookTakes([], 'alias.moved')).toBe(false);
  });

  it('accepts types and prefixes as event patterns, nothing else', () => {
    for (const ok of ['alias.moved', 'proposal.*', 'alert.*', '*', 'proposal.review_requested']) expect(EVENT_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['', 'alias.', '.moved', 'alias.*.x', 'Alias.Moved', 'a b', 'alias.**', '**']) expect(EVENT_PATTERN.test(bad), bad).toBe(false);
  });

  it('signs "<t>.<body>" with HMAC-SHA256 keyed with the whole secret', () => {
    const body = '{"id":"1","type":"alias.moved"}';
    const expected = createHmac('sha256', 'whsec_abc').update(`1700000000.${body}`).digest('hex');
    expect(webhookSignature('whsec_abc', 1_700_000_000, body)).toBe(`t=1700000000,v1=${expected}`);
  });

  it('waits base, 2 × base, 4 × base … capped, and gives up after the last attempt', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 1_000))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(MAX_DELIVERY_ATTEMPTS - 1, 600_000)).toBe(MAX_RETRY_DELAY_MS);
    expect(retryDelayMs(MAX_DELIVERY_ATTEMPTS, 1_000)).toBeNull();
  });
});
