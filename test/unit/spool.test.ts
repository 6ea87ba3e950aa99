import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { RECORD_JSON, RECORD_PROTOBUF, Spool, SpoolFullError, type SpoolPosition } from '../../src/ingest/spool.ts';
import { silentLogger, type Logger } from '../../src/common/logger.ts';
import { removeDir, tempDataDir } from '../helpers/server.ts';

const dirs: string[] = [];
const newDir = () => {
  const d = tempDataDir('spool-test-');
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach(removeDir));

const open = (dir: string, over: Partial<Parameters<typeof Spool.open>[0]> = {}) =>
  Spool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 64 * 1024, logger: silentLogger, ...over });

const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();

describe('the spool keeps every acknowledged request until the stores have it', () => {
  it('hands records back in order after a restart, until they are committed', async () => {
    const dir = newDir();
    const a = await open(dir);
    const p1 = await a.append(RECORD_PROTOBUF, 'default', Buffer.from('one'));
    const p2 = await a.append(RECORD_JSON, 'proj-b', Buffer.from('{"two":2}'));
    await a.close();

    const b = await open(dir);
    const rec = b.takeRecovered();
    expect(rec).toEqual([p1, p2]);
    expect(b.read(rec[0]!)).toMatchObject({ kind: RECORD_PROTOBUF, projectId: 'default' });
    expect(b.read(rec[1]!).payload.toString()).toBe('{"two":2}');
    await b.commit(rec[0]!, 1);
    await b.close();

    const c = await open(dir);
    expect(c.takeRecovered()).toEqual([p2]);
    await c.close();
  });

  it('covers concurrent appends with shared syncs and reports them durable in order', async () => {
    const dir = newDir();
    const seen: SpoolPosition[] = [];
    const s = await open(dir, { onDurable: (p) => seen.push(p) });
    const positions = await Promise.all(Array.from({ length: 50 }, (_, i) => s.append(RECORD_JSON, 'p', Buffer.from(`{"i":${i}}`))));
    expect(seen).toEqual(positions);
    for (let i = 1; i < positions.length; i++) expect(positions[i]!.offset).toBe(positions[i - 1]!.offset + positions[i - 1]!.size);
    await s.close();
  });

  it('refuses appends past its size with a retryable 503, and takes them again once committed', async () => {
    const dir = newDir();
    const s = await open(dir, { maxBytes: 200, segmentBytes: 100 });
    const p = await s.append(RECORD_JSON, 'p', Buffer.alloc(150));
    const err = await s.append(RECORD_JSON, 'p', Buffer.alloc(100)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpoolFullError);
    expect((err as SpoolFullError).status).toBe(503);
    expect((err as SpoolFullError).retryAfterSeconds).toBeGreaterThan(0);
    await s.commit(p, 1);
    await expect(s.append(RECORD_JSON, 'p', Buffer.alloc(100))).resolves.toBeDefined();
    expect(s.stats().pendingRecords).toBe(1);
    await s.close();
  });

  it('deletes segments once everything in them is committed', async () => {
    const dir = newDir();
    const s = await open(dir, { segmentBytes: 100 });
    let last!: SpoolPosition;
    for (let i = 0; i < 5; i++) last = await s.append(RECORD_JSON, 'p', Buffer.alloc(120));
    expect(segments(dir).length).toBeGreaterThan(3);
    await s.commit(last, 5);
    expect(segments(dir).length).toBeLessThanOrEqual(1);
    await s.close();
  });

  it('detects a torn last record, logs it, cuts it off and keeps the records before it', async () => {
    const dir = newDir();
    const s = await open(dir);
    const good = await s.append(RECORD_JSON, 'p', Buffer.from('{"ok":true}'));
    const torn = await s.append(RECORD_JSON, 'p', Buffer.from('{"this record":"is cut in the middle"}'));
    await s.close();
    const seg = join(dir, segments(dir).at(-1)!);
    truncateSync(seg, torn.offset + Math.floor(torn.size / 2));

    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };
    const again = await open(dir, { logger });
    expect(again.takeRecovered()).toEqual([good]);
    expect(again.stats().tornRecords).toBe(1);
    expect(warnings.some((w) => w.includes('torn'))).toBe(true);
    expect(statSync(seg).size).toBe(good.offset + good.size);
    await again.close();
  });

  it('treats a record with a flipped byte as corrupt', async () => {
    const dir = newDir();
    const s = await open(dir);
    const good = await s.append(RECORD_JSON, 'p', Buffer.from('{"a":1}'));
    const bad = await s.append(RECORD_JSON, 'p', Buffer.from('{"b":2}'));
    await s.close();
    const seg = join(dir, segments(dir).at(-1)!);
    const bytes = readFileSync(seg);
    const i = bad.offset + bad.size - 2;
    bytes[i] = bytes[i]! ^ 0xff;
    writeFileSync(seg, bytes);
    const again = await open(dir);
    expect(again.takeRecovered()).toEqual([good]);
    await again.close();
  });

  it('refuses to append a record of an unknown kind, and skips one found on disk without losing those after it', async () => {
    const dir = newDir();
    const s = await open(dir);
    await expect(s.append(7 as never, 'p', Buffer.from('x'))).rejects.toThrow(/unknown/);
    const first = await s.append(RECORD_JSON, 'p', Buffer.from('{"a":1}'));
    const odd = await s.append(RECORD_JSON, 'p', Buffer.from('{"b":2}'));
    const last = await s.append(RECORD_JSON, 'p', Buffer.from('{"c":3}'));
    await s.close();
    // Rewrite the middle record's kind, with a checksum that holds (as a newer version might write).
    const seg = join(dir, segments(dir).at(-1)!);
    const bytes = readFileSync(seg);
    bytes[odd.offset + 8] = 9;
    bytes.writeUInt32LE(crc32(bytes.subarray(odd.offset + 8, odd.offset + odd.size)), odd.offset + 4);
    writeFileSync(seg, bytes);
    const again = await open(dir);
    expect(again.takeRecovered()).toEqual([first, last]);
    expect(again.stats().tornRecords).toBe(0);
    await again.close();
  });

  it('ignores garbage appended after the last record', async () => {
    const dir = newDir();
    const s = await open(dir);
    const good = await s.append(RECORD_JSON, 'p', Buffer.from('{"a":1}'));
    await s.close();
    appendFileSync(join(dir, segments(dir).at(-1)!), Buffer.from([1, 2, 3]));
    const again = await open(dir);
    expect(again.takeRecovered()).toEqual([good]);
    await again.close();
  });

  it('keeps the time a request was received with it, across a restart, and reads records written without one', async () => {
    const dir = newDir();
    const s = await open(dir);
    const received = Date.UTC(2026, 10, 1, 8, 30, 0, 123);
    const timed = await s.append(RECORD_PROTOBUF, 'p', Buffer.from('body'), undefined, received);
    const untimed = await s.append(RECORD_JSON, 'p', Buffer.from('{"a":1}'));
    await s.close();
    const again = await open(dir);
    expect(again.takeRecovered()).toEqual([timed, untimed]);
    expect(again.read(timed)).toMatchObject({ kind: RECORD_PROTOBUF, projectId: 'p', receivedAtMs: received });
    expect(again.read(timed).payload.toString()).toBe('body');
    expect(again.read(untimed)).toMatchObject({ kind: RECORD_JSON, receivedAtMs: null });
    expect(again.read(untimed).payload.toString()).toBe('{"a":1}');
    // The time counts in the spool's size, as the rest of the record does.
    expect(timed.size).toBe(untimed.size - 7 + 4 + 8);
    await again.close();
  });
});
