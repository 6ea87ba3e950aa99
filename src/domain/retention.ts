// How long Promptline keeps what it holds. A project's spans (and every row derived from them:
// responses, the response list, evaluations, trace lookups, the per-minute lineage rollup) expire
// after its retention, default never; the registry's prompt versions, aliases and their moves,
// proposals, keys and the audit log never expire, whatever the retention, and neither does the
// lineage graph (which holds no span: prompts, versions, models, datasets, apps).

/** The longest retention a project may set: 100 years, past which "unlimited" says it better. */
export const MAX_SPAN_DAYS = 36_500;

/** A project's span retention as stored: null days keeps spans as long as the store holds them. */
export interface SpanRetention {
  project: string;
  /** Whole days; null: unlimited. */
  spanDays: number | null;
  changedAt: Date;
  changedBy: string;
}

/** A change of a project's retention, as stored: what held before (null: never set) and what holds now. */
export interface SpanRetentionChange {
  before: SpanRetention | null;
  after: SpanRetention;
}

/** What never expires, whatever a project's retention: each name as /readyz and GET /v1/retention say it. */
export const KEPT_FOREVER = ['registry', 'aliases', 'proposals', 'keys', 'audit', 'lineageGraph'] as const;

/**
 * What is kept how long, as /readyz and GET /v1/retention say it: the spans (and what is made from
 * them) for the project's retention; the registry (prompt versions), aliases and their moves,
 * proposals and their reviews, keys (revoked ones too), the audit log and the lineage graph for ever.
 */
export type RetentionSummary = { spans: string } & Record<(typeof KEPT_FOREVER)[number], 'forever'>;

export function describeSpanDays(days: number | null): string {
  if (days === null) return 'unlimited';
  return days === 1 ? '1 day' : `${days} days`;
}

export function retentionSummary(days: number | null): RetentionSummary {
  return { spans: describeSpanDays(days), registry: 'forever', aliases: 'forever', proposals: 'forever', keys: 'forever', audit: 'forever', lineageGraph: 'forever' };
}
