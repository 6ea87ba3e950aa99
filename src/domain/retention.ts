// How long Promptline keeps what it holds. A project's spans (and every row derived from them:
// responses, the response list, evaluations, trace lookups) expire after its retention, default
// never; the registry, aliases, proposals, keys and the audit log never expire.

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

/** What is kept how long, as /readyz and GET /v1/retention say it. */
export interface RetentionSummary {
  spans: string;
  registry: 'forever';
  audit: 'forever';
}

export function describeSpanDays(days: number | null): string {
  if (days === null) return 'unlimited';
  return days === 1 ? '1 day' : `${days} days`;
}

export function retentionSummary(days: number | null): RetentionSummary {
  return { spans: describeSpanDays(days), registry: 'forever', audit: 'forever' };
}
