import { describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config.ts';

// Sizes in the environment take the units people write: 1GB, 512MiB, 1.5 GB, or plain bytes.

const spoolMax = (v: string) => {
  const r = envSchema.safeParse({ PROMPTLINE_SPOOL_MAX_BYTES: v, PROMPTLINE_SPOOL_SEGMENT_BYTES: '1024' });
  return r.success ? r.data.PROMPTLINE_SPOOL_MAX_BYTES : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
};

describe('a size in the environment', () => {
  it('is bytes, or a number and a decimal or binary unit, in any case', () => {
    expect(spoolMax('1073741824')).toBe(2 ** 30);
    expect(spoolMax('1GB')).toBe(1e9);
    expect(spoolMax('1gib')).toBe(2 ** 30);
    expect(spoolMax('512 MiB')).toBe(512 * 2 ** 20);
    expect(spoolMax('1.5GB')).toBe(1.5e9);
    expect(spoolMax('64KB')).toBe(64_000);
    expect(spoolMax('2048B')).toBe(2048);
  });

  it('is refused with a message that names the units, when it has another unit, none that parses, or is not positive', () => {
    for (const bad of ['10XB', '1 G B', 'abc', '0', '-5MB', '']) {
      expect(spoolMax(bad)).toMatch(/^PROMPTLINE_SPOOL_MAX_BYTES: a size is a number of bytes, or a number and a unit: B, KB, MB, GB, TB .* KiB, MiB, GiB, TiB/);
    }
  });

  it('applies to every size setting', () => {
    const r = envSchema.parse({ PROMPTLINE_SPOOL_SEGMENT_BYTES: '32MiB', PROMPTLINE_RECEIVER_MAX_INFLIGHT_BYTES: '128MiB', PROMPTLINE_RESOLVER_CACHE_BYTES: '16MB' });
    expect([r.PROMPTLINE_SPOOL_SEGMENT_BYTES, r.PROMPTLINE_RECEIVER_MAX_INFLIGHT_BYTES, r.PROMPTLINE_RESOLVER_CACHE_BYTES]).toEqual([32 * 2 ** 20, 128 * 2 ** 20, 16e6]);
  });
});
