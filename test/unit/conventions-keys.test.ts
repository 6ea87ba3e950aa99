import { describe, expect, it } from 'vitest';
import * as conventions from '../../src/ingest/conventions.ts';
import { KEYS_READ_AT_INGEST } from '../../src/ingest/conventions.ts';
import { SPAN_LINEAGE_KEYS } from '../../src/ingest/otlp/span-rules.ts';

// The writer's decoder keeps long values as bytes unless their key is in KEYS_READ_AT_INGEST; a
// key that a convention reads but the set lacks would reach the normalizer as bytes, not text.
// Every attribute key conventions.ts names (each exported key and list of keys) must be in it.

describe('the keys read at ingest', () => {
  it('hold every key a convention names, and every lineage key', () => {
    const named = new Set<string>();
    for (const [name, value] of Object.entries(conventions)) {
      if (name === 'KEYS_READ_AT_INGEST' || name === 'EVALUATION_EVENT_NAMES') continue;
      if (typeof value === 'string') named.add(value);
      else if (Array.isArray(value)) for (const k of value as unknown[]) named.add(String(k));
    }
    expect(named.size).toBeGreaterThan(50);
    expect([...named].filter((k) => !KEYS_READ_AT_INGEST.has(k))).toEqual([]);
    expect([...SPAN_LINEAGE_KEYS.keys()].filter((k) => !KEYS_READ_AT_INGEST.has(k))).toEqual([]);
    expect(KEYS_READ_AT_INGEST.has('gen_ai.evaluation.score.value')).toBe(true);
    expect(KEYS_READ_AT_INGEST.has('gen_ai.input.messages')).toBe(false);
  });
});
