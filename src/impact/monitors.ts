import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../common/clock.ts';
import { BadRequestError, NotFoundError, PromptlineError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { NO_EVENTS, type EventPublisher } from '../domain/events.ts';
import type { Alert, AlertValue, Monitor, MonitorBaseline } from '../domain/monitors.ts';
import type { AuditService } from '../governance/audit.ts';
import type { MonitorStore } from '../storage/monitors.ts';
import { RESPONSE_SIGNALS, type SpanAnalytics } from '../storage/span-analytics.ts';
import { drift, DEFAULT_THRESHOLDS, type DriftAnswer } from './drift.ts';

// Monitors: a prompt version (or an alias) watched for drift. A scheduler evaluates every monitor
// each interval over its current window (the last windowSeconds) against its baseline; a signal it
// watches that drifts opens an alert (one at a time a monitor), later evaluations refresh it, and it
// resolves itself at the first evaluation where none of its signals drifts. Opening and resolving
// are audited and published (alert.opened, alert.resolved) to the project's webhooks; creating and
// deleting a monitor are audited.

export interface NewMonitor {
  name: string;
  prompt: string;
  version?: string | undefined;
  alias?: string | undefined;
  signals?: string[] | undefined;
  pValue?: number | undefined;
  psi?: number | undefined;
  windowSeconds: number;
  baseline: MonitorBaseline;
}

/** A signal a monitor may watch: one drift reports for responses, or an evaluation scorer's scores or labels. */
const SIGNAL = /^(score|label):[\s\S]{1,256}$/;
const isSignal = (s: string) => (RESPONSE_SIGNALS as readonly string[]).includes(s) || SIGNAL.test(s);

export interface MonitorServiceDeps {
  store: MonitorStore;
  analytics: SpanAnalytics;
  audit: AuditService;
  logger: Logger;
  events?: EventPublisher;
  clock?: Clock;
}

/** The actor alerts are recorded under: the monitor itself. */
const monitorActor = (m: Monitor) => `monitor:${m.id}`;

export function monitorView(m: Monitor) {
  return {
    id: m.id,
    name: m.name,
    prompt: m.prompt,
    version: m.version,
    alias: m.alias,
    signals: m.signals,
    pValue: m.pValue,
    psi: m.psi,
    windowSeconds: m.windowSeconds,
    baseline: m.baseline.kind === 'window' ? { kind: 'window' as const, from: m.baseline.from.toISOString(), to: m.baseline.to.toISOString() } : m.baseline,
    createdAt: m.createdAt.toISOString(),
    createdBy: m.createdBy,
  };
}

export function alertView(a: Alert) {
  return { id: a.id, monitorId: a.monitorId, state: a.state, signals: a.signals, values: a.values, firstSeen: a.firstSeen.toISOString(), lastSeen: a.lastSeen.toISOString(), resolvedAt: a.resolvedAt?.toISOString() ?? null };
}

export class MonitorService {
  private readonly deps: MonitorServiceDeps;
  private readonly clock: Clock;
  private readonly events: EventPublisher;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(deps: MonitorServiceDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.events = deps.events ?? NO_EVENTS;
  }

  async create(project: string, actor: string, input: NewMonitor): Promise<Monitor> {
    if ((input.version === undefined) === (input.alias === undefined)) throw new BadRequestError('a monitor watches exactly one of a version or an alias');
    const unknown = (input.signals ?? []).filter((s) => !isSignal(s));
    if (unknown.length > 0) throw new BadRequestError(`unknown signal ${JSON.stringify(unknown[0])}: one of ${RESPONSE_SIGNALS.join(', ')}, or score:SCORER / label:SCORER`);
    if (input.baseline.kind === 'window' && !(input.baseline.from < input.baseline.to)) throw new BadRequestError('the baseline window must start before it ends');
    const m: Monitor = {
      id: randomUUID(),
      project,
      name: input.name,
      prompt: input.prompt,
      version: input.version ?? null,
      alias: input.alias ?? null,
      signals: [...new Set(input.signals ?? [])],
      pValue: input.pValue ?? DEFAULT_THRESHOLDS.pValue,
      psi: input.psi ?? DEFAULT_THRESHOLDS.psi,
      windowSeconds: input.windowSeconds,
      baseline: input.baseline,
      createdAt: this.clock.now(),
      createdBy: actor,
    };
    return this.deps.store.createMonitor(
      m,
      this.deps.audit.draft((stored: Monitor) => ({ project, actor, action: 'monitor.create', target: `monitor:${stored.id}`, before: null, after: monitorView(stored) })),
    );
  }

  list(project: string): Promise<Monitor[]> {
    return this.deps.store.listMonitors(project);
  }

  async get(project: string, id: string): Promise<Monitor> {
    const m = await this.deps.store.getMonitor(project, id);
    if (!m) throw new NotFoundError(`no monitor ${id} in this project`);
    return m;
  }

  async delete(project: string, actor: string, id: string): Promise<void> {
    const deleted = await this.deps.store.deleteMonitor(
      project,
      id,
      this.deps.audit.draft((m: Monitor) => ({ project, actor, action: 'monitor.delete', target: `monitor:${m.id}`, before: monitorView(m), after: null })),
    );
    if (!deleted) throw new NotFoundError(`no monitor ${id} in this project`);
  }

  alerts(project: string, filter: { monitorId?: string | undefined; state?: Alert['state'] | undefined; limit: number }): Promise<Alert[]> {
    return this.deps.store.listAlerts(project, filter);
  }

  async alert(project: string, id: string): Promise<Alert> {
    const a = await this.deps.store.getAlert(project, id);
    if (!a) throw new NotFoundError(`no alert ${id} in this project`);
    return a;
  }

  /** The monitor's drift now: its current window against its baseline. */
  current(m: Monitor, now = this.clock.now()): Promise<DriftAnswer> {
    const target = m.version !== null ? { prompt: m.prompt, version: m.version } : { prompt: m.prompt, alias: m.alias! };
    return drift(this.deps.analytics, m.project, { target, baseline: m.baseline, from: new Date(now.getTime() - m.windowSeconds * 1000), to: now, thresholds: { pValue: m.pValue, psi: m.psi } });
  }

  /** Evaluates one monitor now: opens, refreshes or resolves its alert. */
  async evaluate(m: Monitor): Promise<void> {
    const now = this.clock.now();
    let d: DriftAnswer;
    try {
      d = await this.current(m, now);
    } catch (err) {
      // Nothing to take the baseline from yet (no response of the version, no evaluation): not a breach.
      if (err instanceof NotFoundError) return;
      throw err;
    }
    const watched = (s: string) => m.signals.length === 0 || m.signals.includes(s);
    const breached = d.signals.filter((s) => s.drifted && watched(s.signal));
    const values: AlertValue[] = breached.map((s) => ({ signal: s.signal, statistic: s.statistic, pValue: s.pValue, psi: s.psi, baseline: s.baseline, current: s.current }));
    const [open] = await this.deps.store.listAlerts(m.project, { monitorId: m.id, state: 'open', limit: 1 });
    const actor = monitorActor(m);
    if (breached.length > 0 && !open) {
      const { alert, opened } = await this.deps.store.openAlert(
        { id: randomUUID(), project: m.project, monitorId: m.id, state: 'open', signals: breached.map((s) => s.signal), values, firstSeen: now, lastSeen: now, resolvedAt: null },
        this.deps.audit.draft((a: Alert) => ({ project: m.project, actor, action: 'alert.open', target: `alert:${a.id}`, before: null, after: alertView(a) })),
      );
      if (opened) this.publish('alert.opened', m, alert);
    } else if (breached.length > 0 && open) {
      await this.deps.store.refreshAlert(m.project, open.id, now, breached.map((s) => s.signal), values);
    } else if (open) {
      const resolved = await this.deps.store.resolveAlert(
        m.project,
        open.id,
        now,
        this.deps.audit.draft((a: Alert) => ({ project: m.project, actor, action: 'alert.resolve', target: `alert:${a.id}`, before: { state: 'open' }, after: alertView(a) })),
      );
      if (resolved) this.publish('alert.resolved', m, resolved);
    }
  }

  private publish(type: string, m: Monitor, a: Alert): void {
    this.events.publish({ type, project: m.project, at: type === 'alert.resolved' ? (a.resolvedAt ?? a.lastSeen) : a.firstSeen, subject: `monitor:${m.id}`, data: { monitor: monitorView(m), alert: alertView(a) } });
  }

  /** Evaluates every project's monitors once, one after another; a monitor that fails is logged and the rest go on. */
  async evaluateAll(): Promise<void> {
    for (const m of await this.deps.store.listMonitors()) {
      if (this.stopped) return;
      try {
        await this.evaluate(m);
      } catch (err) {
        const level = err instanceof PromptlineError && err.operational ? 'warn' : 'error';
        this.deps.logger[level]('monitor: evaluation failed; tried again next interval', { monitor: m.id, project: m.project, error: err as Error });
      }
    }
  }

  /** Evaluates every `intervalMs`, never two rounds at once. */
  start(intervalMs: number): void {
    this.stopped = false;
    const tick = () => {
      this.running = this.evaluateAll()
        .catch((err: unknown) => this.deps.logger.error('monitor: listing monitors failed', { error: err as Error }))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  /** Stops the scheduler; waits for a round under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
