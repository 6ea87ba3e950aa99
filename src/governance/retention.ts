import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import { retentionSummary, type RetentionSummary, type SpanRetention } from '../domain/retention.ts';
import type { RetentionSettings } from '../storage/governance.ts';
import type { SpanRetentionStore } from '../storage/span-store.ts';
import type { AuditService } from './audit.ts';

// How long a project's spans are kept. The setting lives in the governance store (with its audit
// entry, in one transaction); the span store is told the whole set of rules after every change and
// at every start, so that what it enforces follows what is stored even after a change whose
// application failed, or a restore of the governance store.

export interface RetentionServiceDeps {
  settings: RetentionSettings;
  spans: SpanRetentionStore;
  audit: AuditService;
  clock: Clock;
  logger: Logger;
}

/** A project's retention as the API answers it. */
export interface RetentionView {
  project: string;
  spanDays: number | null;
  changedAt: string | null;
  changedBy: string | null;
  kept: RetentionSummary;
}

const view = (project: string, s: SpanRetention | null): RetentionView => ({
  project,
  spanDays: s?.spanDays ?? null,
  changedAt: s?.changedAt.toISOString() ?? null,
  changedBy: s?.changedBy ?? null,
  kept: retentionSummary(s?.spanDays ?? null),
});

export class RetentionService {
  private readonly deps: RetentionServiceDeps;

  constructor(deps: RetentionServiceDeps) {
    this.deps = deps;
  }

  async get(project: string): Promise<RetentionView> {
    return view(project, await this.deps.settings.getRetention(project));
  }

  /** What is kept how long in the project (readyz). */
  async summary(project: string): Promise<RetentionSummary> {
    return (await this.get(project)).kept;
  }

  /** Stores the project's retention with its audit entry, then has the span store enforce it. */
  async set(project: string, spanDays: number | null, actor: string): Promise<RetentionView> {
    const setting: SpanRetention = { project, spanDays, changedAt: this.deps.clock.now(), changedBy: actor };
    await this.deps.settings.setRetention(
      setting,
      this.deps.audit.draft((c) => ({ project, actor, action: 'retention.set', target: `retention:${project}`, before: c.before ? { spanDays: c.before.spanDays } : null, after: { spanDays: c.after.spanDays } })),
    );
    // Stored and audited: should the span store fail now, the next start applies it.
    await this.apply();
    return view(project, setting);
  }

  /** Tells the span store every project's rules, as stored (at start, and after each change). */
  async apply(): Promise<void> {
    const rules = new Map<string, number>();
    for (const s of await this.deps.settings.listRetention()) if (s.spanDays !== null) rules.set(s.project, s.spanDays);
    await this.deps.spans.applySpanRetention(rules);
    if (rules.size > 0) this.deps.logger.info('retention: span rules applied', { projects: rules.size });
  }
}
