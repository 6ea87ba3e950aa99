import { BadRequestError } from '../common/errors.ts';
import type { AliasMove, AliasTarget } from '../domain/prompt.ts';
import type { RegistryService } from '../registry/registry-service.ts';
import type { LineageDimension, Moments, SpanAnalytics, TimelineRow, TimelineScope } from '../storage/span-analytics.ts';

// What changed? In an incident a metric moved (errors, latency, output or input size) and the
// question is whether the prompt, the model, the retrieval data or the application moved it. The
// answer is read from the responses' own lineage: a timeline of the window, by time bucket and by
// each lineage value (prompt version, registration, model, dataset set, app version), and the alias
// moves recorded in the registry.
//
// 1. The movement: the split of the window where the metric's before and after differ most
//    (Welch's z over the buckets' moments); it moved if |z| >= MOVED_Z.
// 2. The changes: every lineage value first seen after the window's first bucket with responses,
//    and every alias move in the window (which also names who moved it and why).
// 3. How much of the movement each change explains, on its own segment of the window: from the
//    change before it to the change after it (changes that reach a tenth of the responses bound
//    segments), so that a change is weighed where it alone happened. Split at the change, the
//    responses under it (the new value; for an alias move, the versions it moved to) rose from a
//    share p_before to p_after, and their metric m_changed after differs from m_replaced, the
//    metric before of the responses they replaced:
//      explained = max(0, p_after − p_before) · (m_changed − m_replaced).
//    A change explains nothing by its value's share falling (an alias moved to a version already
//    served everywhere); where the old and new values run side by side (a split, a canary) the
//    comparison is made at the same time.
// 4. Ranked by the part of the movement explained; a change explains the movement if it accounts
//    for at least half of it and its responses differ from those they replaced beyond noise
//    (|z| >= 3). Else: no lineage change explains it.

export const METRICS = ['error_rate', 'latency_ms', 'output_tokens', 'input_tokens'] as const;
export type Metric = (typeof METRICS)[number];

export type Cause = 'prompt' | 'model' | 'data' | 'app';
export type ChangeKind = 'alias_move' | 'prompt_version' | 'unregistered_prompt' | 'model' | 'datasets' | 'app_version';

const CAUSE: Record<ChangeKind, Cause> = {
  alias_move: 'prompt',
  prompt_version: 'prompt',
  unregistered_prompt: 'prompt',
  model: 'model',
  datasets: 'data',
  app_version: 'app',
};

/** |z| from which the metric counts as moved: high, as the split is the best of many. */
const MOVED_Z = 4;
/** The share of the movement a change must explain to be named its cause. */
const EXPLAINS = 0.5;
/** Buckets a window is cut into, at most. */
const MAX_BUCKETS = 120;
const MIN_SIDE = 10;
/** |z| from which a change's responses differ from those they replaced. */
const SIGNIFICANT_Z = 3;
/** The share of the responses after it from which a change bounds the segments others are weighed on. */
const SEGMENT_SHARE = 0.1;

export interface WhatChangedQuery {
  app?: string | undefined;
  prompt?: string | undefined;
  metric: Metric;
  from: Date;
  to: Date;
}

interface Stat {
  mean: number | null;
  n: number;
}

export interface LineageChange {
  kind: ChangeKind;
  cause: Cause;
  at: string;
  /** One line for a person: what changed. */
  description: string;
  dimension: LineageDimension;
  /** The lineage value that appeared (for an alias move: the version it moved to). */
  value: string[];
  /** For an alias move: the move as the registry recorded it. */
  move?: { name: string; alias: string; seq: number; actor: string; reason: string; from: AliasTarget | null; to: AliasTarget };
  /** The part of the window the change is weighed on: from the change before it to the one after it. */
  segment: { from: string; to: string };
  /** The share of the responses under the change (its new value) before and after it, in its segment. */
  share: { before: number; after: number };
  /** The metric over all the scope's responses before and after the change, in its segment. */
  before: Stat;
  after: Stat;
  /** The metric of the responses with the new value after the change, and of the others after it. */
  changed: Stat;
  unchanged: Stat;
  /** The part of the metric's change the responses under the change account for (see the top). */
  explained: number;
  /** Welch's z of the changed responses' metric against that of the responses they replaced. */
  z: number;
  /** |z| >= 3 with at least ten changed responses: the difference is not noise. Only such a change is named the cause. */
  significant: boolean;
  /** explained as a share of the movement (null when the metric did not move). */
  explainedShare: number | null;
}

export interface WhatChangedAnswer {
  scope: { app: string | null; prompt: string | null };
  metric: Metric;
  window: { from: string; to: string; bucketSeconds: number };
  responses: number;
  /** The metric bucket by bucket, for a chart. */
  series: Array<{ time: string; responses: number; value: number | null }>;
  movement: { at: string; before: Stat; after: Stat; change: number; z: number; moved: boolean } | null;
  changes: LineageChange[];
  verdict: { cause: Cause | null; change: number | null; summary: string };
}

const empty = (): Moments => ({ n: 0, sum: 0, sumSquares: 0 });
const add = (a: Moments, b: Moments): Moments => ({ n: a.n + b.n, sum: a.sum + b.sum, sumSquares: a.sumSquares + b.sumSquares });
const meanOf = (m: Moments): number | null => (m.n === 0 ? null : m.sum / m.n);
const varianceOf = (m: Moments): number => (m.n < 2 ? 0 : Math.max(0, (m.sumSquares - (m.sum * m.sum) / m.n) / (m.n - 1)));
const stat = (m: Moments): Stat => ({ mean: meanOf(m), n: m.n });

/** The metric's moments in a timeline row. */
function measure(row: TimelineRow, metric: Metric): Moments {
  switch (metric) {
    case 'error_rate':
      return { n: row.responses, sum: row.errors, sumSquares: row.errors };
    case 'latency_ms':
      return row.latencyMs;
    case 'output_tokens':
      return row.outputTokens;
    case 'input_tokens':
      return row.inputTokens;
  }
}

/**
 * The z of after − before against the spread of the whole window (the binary-segmentation statistic):
 * unlike Welch's, a short side with no variance of its own (ten responses without an error) cannot
 * make a split look sure; the split at the real change gives the largest value.
 */
function splitZ(before: Moments, after: Moments, sd: number): number {
  const mb = meanOf(before);
  const ma = meanOf(after);
  if (mb === null || ma === null) return 0;
  const se = sd * Math.sqrt(1 / before.n + 1 / after.n);
  if (se === 0) return ma === mb ? 0 : Math.sign(ma - mb) * 1e6;
  return (ma - mb) / se;
}

/** At most MAX_BUCKETS buckets; whole minutes once a bucket is a minute or longer (the per-minute rollup sums into them). */
export function bucketSecondsFor(from: Date, to: Date): number {
  const seconds = Math.max(1, Math.ceil((to.getTime() - from.getTime()) / 1000 / MAX_BUCKETS));
  return seconds > 60 ? Math.ceil(seconds / 60) * 60 : seconds;
}

const keyOf = (value: readonly string[]) => JSON.stringify(value);

/** Per dimension, per value: the metric's moments in each bucket (by bucket index). */
interface Cube {
  buckets: number[];
  total: Moments[];
  values: Map<LineageDimension, Map<string, { value: string[]; byBucket: Moments[] }>>;
}

function cubeOf(rows: readonly TimelineRow[], metric: Metric, from: Date, bucketSeconds: number, bucketCount: number): Cube {
  const total = Array.from({ length: bucketCount }, empty);
  const values: Cube['values'] = new Map();
  const start = Math.floor(from.getTime() / 1000 / bucketSeconds) * bucketSeconds;
  for (const row of rows) {
    const i = Math.min(bucketCount - 1, Math.max(0, Math.floor((row.bucket.getTime() / 1000 - start) / bucketSeconds)));
    const m = measure(row, metric);
    // Every response is in each dimension once: one of them gives the totals.
    if (row.dimension === 'registration') total[i] = add(total[i]!, m);
    let dim = values.get(row.dimension);
    if (!dim) values.set(row.dimension, (dim = new Map<string, { value: string[]; byBucket: Moments[] }>()));
    const key = keyOf(row.value);
    let v = dim.get(key);
    if (!v) dim.set(key, (v = { value: row.value, byBucket: Array.from({ length: bucketCount }, empty) }));
    v.byBucket[i] = add(v.byBucket[i]!, m);
  }
  return { buckets: Array.from({ length: bucketCount }, (_, i) => (start + i * bucketSeconds) * 1000), total, values };
}

const sumRange = (ms: readonly Moments[], from: number, to: number) => ms.slice(from, to).reduce(add, empty());

/** The split of the window where the metric moved most, if either side has enough responses. */
function movementOf(cube: Cube): WhatChangedAnswer['movement'] {
  const all = sumRange(cube.total, 0, cube.total.length);
  const minSide = Math.max(MIN_SIDE, Math.ceil(all.n * 0.05));
  const sd = Math.sqrt(varianceOf(all));
  let best: { i: number; z: number } | null = null;
  for (let i = 1; i < cube.total.length; i++) {
    const before = sumRange(cube.total, 0, i);
    const after = sumRange(cube.total, i, cube.total.length);
    if (before.n < minSide || after.n < minSide) continue;
    const z = splitZ(before, after, sd);
    if (!best || Math.abs(z) > Math.abs(best.z)) best = { i, z };
  }
  if (!best) return null;
  const before = sumRange(cube.total, 0, best.i);
  const after = sumRange(cube.total, best.i, cube.total.length);
  return { at: new Date(cube.buckets[best.i]!).toISOString(), before: stat(before), after: stat(after), change: meanOf(after)! - meanOf(before)!, z: round(best.z), moved: Math.abs(best.z) >= MOVED_Z };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The share of the responses from the change on that are under it. */
function reach(cube: Cube, c: Candidate): number {
  const s = splitIndex(cube, c.at);
  const after = sumRange(cube.total, s, cube.total.length);
  let changed = 0;
  for (const [key, v] of cube.values.get(c.dimension) ?? []) if (c.changedKeys.has(key)) changed += sumRange(v.byBucket, s, v.byBucket.length).n;
  return after.n === 0 ? 0 : changed / after.n;
}

/** The bucket index a change at `at` splits the window at: the first bucket that starts at or after it. */
function splitIndex(cube: Cube, at: number): number {
  const i = cube.buckets.findIndex((b) => b >= at);
  return i < 0 ? cube.buckets.length : i;
}

/** What the change at bucket `s` explains on its segment [prev, next) (see the top). */
function attribute(cube: Cube, c: Candidate, prev: number, s: number, next: number) {
  const dim: ReadonlyMap<string, { value: string[]; byBucket: Moments[] }> = cube.values.get(c.dimension) ?? new Map<string, { value: string[]; byBucket: Moments[] }>();
  const before = sumRange(cube.total, prev, s);
  const after = sumRange(cube.total, s, next);
  let changedBefore = empty();
  let changed = empty();
  let unchanged = empty();
  for (const [key, v] of dim) {
    const a = sumRange(v.byBucket, s, next);
    if (c.changedKeys.has(key)) {
      changed = add(changed, a);
      changedBefore = add(changedBefore, sumRange(v.byBucket, prev, s));
    } else unchanged = add(unchanged, a);
  }
  const replacedBefore: Moments = { n: before.n - changedBefore.n, sum: before.sum - changedBefore.sum, sumSquares: before.sumSquares - changedBefore.sumSquares };
  const shareBefore = before.n === 0 ? 0 : changedBefore.n / before.n;
  const shareAfter = after.n === 0 ? 0 : changed.n / after.n;
  const mChanged = meanOf(changed);
  const mReplaced = meanOf(replacedBefore) ?? meanOf(before);
  const rising = shareAfter > shareBefore;
  const explained = mChanged === null || mReplaced === null || !rising ? 0 : (shareAfter - shareBefore) * (mChanged - mReplaced);
  // How sure the difference between the changed responses and those they replaced is (Welch's z).
  const replaced = replacedBefore.n > 0 ? replacedBefore : before;
  const se = Math.sqrt(varianceOf(changed) / Math.max(1, changed.n) + varianceOf(replaced) / Math.max(1, replaced.n));
  const z = mChanged === null || mReplaced === null || !rising ? 0 : se === 0 ? (mChanged === mReplaced ? 0 : Math.sign(mChanged - mReplaced) * 1e6) : (mChanged - mReplaced) / se;
  return { before, after, changed, unchanged, explained, shareBefore, shareAfter, z };
}

function describe(kind: ChangeKind, value: readonly string[]): string {
  switch (kind) {
    case 'prompt_version':
      return `prompt ${value[0]} v${value[1]} first seen`;
    case 'unregistered_prompt':
      return value[0] === 'template_mismatch' ? 'prompts whose template differs from the registered version appear' : 'unregistered prompts appear';
    case 'model':
      return `model ${value[0] ? `${value[0]}/` : ''}${value[1]} first seen`;
    case 'datasets':
      return value.length === 0 ? 'responses without datasets appear' : `datasets ${value.join(', ')} first seen`;
    case 'app_version':
      return `app ${value[0]} ${value[1]} rolled out`;
    case 'alias_move':
      return '';
  }
}

const targetText = (t: AliasTarget | null) => (t === null ? 'nothing' : t.split === null ? `v${t.version}` : t.split.arms.map((w) => `v${w.version} ${w.weight}%`).join(' / '));
const targetVersions = (t: AliasTarget) => (t.split === null ? [t.version] : t.split.arms.map((w) => w.version));

const KIND_OF: Record<LineageDimension, ChangeKind | null> = {
  promptVersion: 'prompt_version',
  registration: 'unregistered_prompt',
  model: 'model',
  datasets: 'datasets',
  appVersion: 'app_version',
};

interface Candidate {
  kind: ChangeKind;
  dimension: LineageDimension;
  at: number;
  value: string[];
  changedKeys: Set<string>;
  description: string;
  move?: AliasMove;
}

function candidatesOf(cube: Cube, moves: readonly AliasMove[]): Candidate[] {
  const out: Candidate[] = [];
  // The window's first bucket with any response: what is seen there was already there. The
  // window's own first bucket may be empty (a window that starts a few seconds before the minute
  // its first response falls in), and that must not make every value "first seen".
  const firstWithData = cube.total.findIndex((m) => m.n > 0);
  for (const [dimension, values] of cube.values) {
    const kind = KIND_OF[dimension];
    if (!kind) continue;
    for (const [key, v] of values) {
      const first = v.byBucket.findIndex((m) => m.n > 0);
      // Present from the window's first responses: not a change inside it.
      if (first <= firstWithData) continue;
      if (dimension === 'registration' && v.value[0] !== 'unregistered' && v.value[0] !== 'template_mismatch') continue;
      if (dimension === 'promptVersion' && v.value[0] === '') continue;
      out.push({ kind, dimension, at: cube.buckets[first]!, value: v.value, changedKeys: new Set([key]), description: describe(kind, v.value) });
    }
  }
  // An alias move is the change behind the versions it moved to: those versions' "first seen" is the move.
  for (const m of moves) {
    const versions = targetVersions(m.to).map(String);
    const keys = new Set(versions.map((v) => keyOf([m.name, v])));
    const at = m.at.getTime();
    const tolerance = (cube.buckets[1] ?? cube.buckets[0]!) - cube.buckets[0]! || 1000;
    for (let i = out.length - 1; i >= 0; i--) {
      const c = out[i]!;
      if (c.kind === 'prompt_version' && keys.has(keyOf(c.value)) && Math.abs(c.at - at) <= tolerance) out.splice(i, 1);
    }
    out.push({
      kind: 'alias_move',
      dimension: 'promptVersion',
      at,
      value: [m.name, versions.join(',')],
      changedKeys: keys,
      description: `alias ${m.name}@${m.alias} moved ${targetText(m.from)} → ${targetText(m.to)}${m.rollback ? ' (rollback)' : ''} by ${m.actor}: ${m.reason}`,
      move: m,
    });
  }
  return out;
}

function formatValue(metric: Metric, x: number | null): string {
  if (x === null) return '—';
  if (metric === 'error_rate') return `${(x * 100).toFixed(1)} %`;
  if (metric === 'latency_ms') return `${x.toFixed(0)} ms`;
  return `${x.toFixed(0)} tokens`;
}

const METRIC_NAMES: Record<Metric, string> = { error_rate: 'the error rate', latency_ms: 'latency', output_tokens: 'output size', input_tokens: 'input size' };

/** Reads the timeline and the alias moves of the scope and answers what changed (see the top). */
export async function whatChanged(deps: { analytics: SpanAnalytics; registry: RegistryService }, projectId: string, q: WhatChangedQuery): Promise<WhatChangedAnswer> {
  if (!(q.from < q.to)) throw new BadRequestError('from must be before to');
  const bucketSeconds = bucketSecondsFor(q.from, q.to);
  const scope: TimelineScope = { ...(q.app !== undefined ? { app: q.app } : {}), ...(q.prompt !== undefined ? { prompt: q.prompt } : {}) };
  const rows = await deps.analytics.lineageTimeline(projectId, scope, { from: q.from, to: q.to, bucketSeconds });
  const start = Math.floor(q.from.getTime() / 1000 / bucketSeconds) * bucketSeconds;
  const bucketCount = Math.max(1, Math.ceil((q.to.getTime() / 1000 - start) / bucketSeconds));
  const cube = cubeOf(rows, q.metric, q.from, bucketSeconds, bucketCount);

  // The alias moves of the prompts the scope's responses carry, in the window.
  const prompts = new Set<string>();
  for (const v of cube.values.get('promptVersion')?.values() ?? []) if (v.value[0]) prompts.add(v.value[0]);
  if (q.prompt !== undefined) prompts.add(q.prompt);
  const moves: AliasMove[] = [];
  for (const name of prompts) {
    for (const alias of await deps.registry.listAliases(projectId, name)) {
      for (const m of await deps.registry.aliasHistory(projectId, name, alias.alias)) if (m.at >= q.from && m.at < q.to) moves.push(m);
    }
  }

  const movement = movementOf(cube);
  const candidates = candidatesOf(cube, moves);
  // The changes that bound segments: those whose responses reach a tenth of what follows them.
  const bounds = [...new Set(candidates.filter((c) => reach(cube, c) >= SEGMENT_SHARE).map((c) => splitIndex(cube, c.at)))].sort((a, b) => a - b);
  const changes: LineageChange[] = candidates.map((c) => {
    const s = splitIndex(cube, c.at);
    const prev = bounds.filter((b) => b < s).at(-1) ?? 0;
    const next = bounds.find((b) => b > s) ?? cube.buckets.length;
    const d = attribute(cube, c, prev, s, next);
    const m = c.move;
    return {
      kind: c.kind,
      cause: CAUSE[c.kind],
      at: new Date(c.at).toISOString(),
      description: c.description,
      dimension: c.dimension,
      value: c.value,
      ...(m ? { move: { name: m.name, alias: m.alias, seq: m.seq, actor: m.actor, reason: m.reason, from: m.from, to: m.to } } : {}),
      segment: { from: new Date(cube.buckets[prev]!).toISOString(), to: new Date(cube.buckets[next] ?? q.to.getTime()).toISOString() },
      share: { before: round(d.shareBefore), after: round(d.shareAfter) },
      before: stat(d.before),
      after: stat(d.after),
      changed: stat(d.changed),
      unchanged: stat(d.unchanged),
      explained: round(d.explained),
      z: round(d.z),
      significant: Math.abs(d.z) >= SIGNIFICANT_Z && d.changed.n >= MIN_SIDE,
      explainedShare: movement && movement.moved && movement.change !== 0 ? round(d.explained / movement.change) : null,
    };
  });
  // The most explaining first: in the direction the metric moved.
  const direction = movement && movement.change < 0 ? -1 : 1;
  changes.sort((a, b) => b.explained * direction - a.explained * direction || a.at.localeCompare(b.at));

  const total = sumRange(cube.total, 0, cube.total.length);
  const name = METRIC_NAMES[q.metric];
  let verdict: WhatChangedAnswer['verdict'];
  if (!movement || !movement.moved) {
    verdict = { cause: null, change: null, summary: movement ? `${name} did not move significantly in the window (${formatValue(q.metric, movement.before.mean)} → ${formatValue(q.metric, movement.after.mean)} at most, z = ${movement.z})` : `too few responses in the window to tell (${total.n})` };
  } else {
    const moved = `${name} moved from ${formatValue(q.metric, movement.before.mean)} to ${formatValue(q.metric, movement.after.mean)} around ${movement.at}`;
    const top = changes[0];
    if (top && top.significant && top.explainedShare !== null && top.explainedShare >= EXPLAINS) {
      // More than all of it: the change moved the metric further than it moved in all (something else pulled back).
      const share = top.explainedShare >= 1 ? 'all' : `${Math.round(top.explainedShare * 100)} %`;
      verdict = { cause: top.cause, change: 0, summary: `${top.cause}: ${top.description} (${top.at}) explains ${share} of it; ${moved}` };
    } else {
      const best = top?.explainedShare ?? null;
      verdict = { cause: null, change: null, summary: `no lineage change explains it: ${moved}${best !== null ? `; the largest lineage change explains ${Math.round(Math.max(0, best) * 100)} %` : ''}` };
    }
  }

  return {
    scope: { app: q.app ?? null, prompt: q.prompt ?? null },
    metric: q.metric,
    window: { from: q.from.toISOString(), to: q.to.toISOString(), bucketSeconds },
    responses: total.n,
    series: cube.buckets.map((b, i) => ({ time: new Date(b).toISOString(), responses: cube.total[i]!.n, value: meanOf(cube.total[i]!) })),
    movement,
    changes,
    verdict,
  };
}
