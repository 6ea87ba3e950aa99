import { createHash } from 'node:crypto';
import type { Split, SplitArm } from '../domain/prompt.ts';

// A/B splits: an alias may send a weighted share of callers to each of several versions. The
// assignment depends only on the split's id and the caller's key (a user or session id): the same
// key always gets the same version of the same split, and keys spread over the arms by weight.

/** A number in [0, 1) from sha256(splitId NUL key): 52 bits, uniform, stable across processes. */
export function bucketOf(splitId: string, key: string): number {
  const digest = createHash('sha256').update(splitId).update('\u0000').update(key).digest();
  const high = digest.readUInt32BE(0) >>> 0;
  const low = digest.readUInt32BE(4) >>> 12; // 20 bits
  return (high * 2 ** 20 + low) / 2 ** 52;
}

export function assignArm(split: Split, key: string): SplitArm {
  const point = bucketOf(split.id, key) * 100;
  let edge = 0;
  for (const arm of split.arms) {
    edge += arm.weight;
    if (point < edge) return arm;
  }
  return split.arms.at(-1)!; // weights add up to 100; rounding can leave the last sliver
}

/** A split's id: stable for the same arms set by the same move, distinct across moves. */
export function splitId(name: string, alias: string, seq: number, arms: readonly SplitArm[]): string {
  const digest = createHash('sha256').update(JSON.stringify([name, alias, seq, arms])).digest('hex');
  return `${alias}-${seq}-${digest.slice(0, 8)}`;
}
