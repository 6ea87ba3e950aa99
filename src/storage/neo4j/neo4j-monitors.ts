import { systemClock, type Clock } from '../../common/clock.ts';
import type { Alert, AlertValue, Monitor } from '../../domain/monitors.ts';
import type { AuditDraft } from '../governance.ts';
import type { MonitorStore } from '../monitors.ts';
import { baselineOf, baselineText } from '../monitor-values.ts';
import { AUDIT_SCHEMA_STATEMENTS, appendDrafted, DEFAULT_CHAIN } from './neo4j-audit.ts';
import { Neo4jSessions, type Neo4jConnectionOptions } from './neo4j-sessions.ts';
import { Neo4jStore, type Neo4jSchema, type Neo4jStoreOptions } from './neo4j-store.ts';
import { millis, projection, toDate, toDateOrNull, toInt, toNumber } from './neo4j-values.ts';

// Monitors and alerts on Neo4j, beside the keys and the audit log:
//   (:MonitorRecord {id, project, name, prompt, version, alias, signals, pValue, psi, windowSeconds, baseline, createdAt, createdBy})
//   (:AlertRecord {id, project, monitorId, state, signals, vals, firstSeen, lastSeen, resolvedAt, openFor})
// `openFor` is the monitor's id while the alert is open and absent after: its uniqueness keeps one
// open alert a monitor. Lists (signals, values, the baseline) are stored as JSON text. Values are
// always parameters.

const SCHEMA: Neo4jSchema = {
  what: 'creating monitor constraints',
  statements: [
    'CREATE CONSTRAINT promptline_monitor_identity IF NOT EXISTS FOR (m:MonitorRecord) REQUIRE m.id IS UNIQUE',
    'CREATE INDEX promptline_monitor_by_project IF NOT EXISTS FOR (m:MonitorRecord) ON (m.project, m.createdAt)',
    'CREATE CONSTRAINT promptline_alert_identity IF NOT EXISTS FOR (a:AlertRecord) REQUIRE a.id IS UNIQUE',
    'CREATE CONSTRAINT promptline_alert_one_open IF NOT EXISTS FOR (a:AlertRecord) REQUIRE a.openFor IS UNIQUE',
    'CREATE INDEX promptline_alert_by_project IF NOT EXISTS FOR (a:AlertRecord) ON (a.project, a.firstSeen)',
    ...AUDIT_SCHEMA_STATEMENTS,
  ],
  maxRetryMs: 10_000,
};

const monitorMap = projection(['id', 'project', 'name', 'prompt', 'version', 'alias', 'signals', 'pValue', 'psi', 'windowSeconds', 'baseline', 'createdAt', 'createdBy']);
const alertMap = projection(['id', 'project', 'monitorId', 'state', 'signals', 'vals', 'firstSeen', 'lastSeen', 'resolvedAt']);

interface MonitorValue {
  id: string;
  project: string;
  name: string;
  prompt: string;
  version: string | null;
  alias: string | null;
  signals: string;
  pValue: unknown;
  psi: unknown;
  windowSeconds: unknown;
  baseline: string;
  createdAt: unknown;
  createdBy: string;
}

interface AlertValueRow {
  id: string;
  project: string;
  monitorId: string;
  state: Alert['state'];
  signals: string;
  vals: string;
  firstSeen: unknown;
  lastSeen: unknown;
  resolvedAt: unknown;
}

const toMonitor = (r: MonitorValue): Monitor => ({
  id: r.id,
  project: r.project,
  name: r.name,
  prompt: r.prompt,
  version: r.version ?? null,
  alias: r.alias ?? null,
  signals: JSON.parse(r.signals) as string[],
  pValue: toNumber(r.pValue),
  psi: toNumber(r.psi),
  windowSeconds: toNumber(r.windowSeconds),
  baseline: baselineOf(r.baseline),
  createdAt: toDate(r.createdAt),
  createdBy: r.createdBy,
});

const toAlert = (r: AlertValueRow): Alert => ({
  id: r.id,
  project: r.project,
  monitorId: r.monitorId,
  state: r.state,
  signals: JSON.parse(r.signals) as string[],
  values: JSON.parse(r.vals) as AlertValue[],
  firstSeen: toDate(r.firstSeen),
  lastSeen: toDate(r.lastSeen),
  resolvedAt: toDateOrNull(r.resolvedAt),
});

export class Neo4jMonitors extends Neo4jStore implements MonitorStore {
  private readonly chain: string;
  private readonly clock: Clock;

  constructor(sessions: Neo4jSessions, opts: Neo4jStoreOptions & { chain?: string; clock?: Clock } = {}) {
    super(sessions, SCHEMA, opts);
    this.chain = opts.chain ?? DEFAULT_CHAIN;
    this.clock = opts.clock ?? systemClock;
  }

  /** On a driver of its own, closed with it. */
  static async connect(opts: Neo4jConnectionOptions & { chain?: string; clock?: Clock }): Promise<Neo4jMonitors> {
    return new Neo4jMonitors(await Neo4jSessions.connect(opts), { ...opts, closesSessions: true });
  }

  async createMonitor(m: Monitor, audit?: AuditDraft<Monitor>): Promise<Monitor> {
    const entries = await this.db.write('creating a monitor', async (tx) => {
      await tx.run(
        `CREATE (:MonitorRecord {id: $id, project: $project, name: $name, prompt: $prompt, version: $version, alias: $alias, signals: $signals, pValue: $pValue, psi: $psi,
                                 windowSeconds: $windowSeconds, baseline: $baseline, createdAt: $createdAt, createdBy: $createdBy})`,
        {
          id: m.id,
          project: m.project,
          name: m.name,
          prompt: m.prompt,
          version: m.version,
          alias: m.alias,
          signals: JSON.stringify(m.signals),
          pValue: m.pValue,
          psi: m.psi,
          windowSeconds: toInt(m.windowSeconds),
          baseline: baselineText(m.baseline),
          createdAt: millis(m.createdAt),
          createdBy: m.createdBy,
        },
      );
      return appendDrafted(tx, this.chain, this.clock, audit, m);
    });
    audit?.committed(entries);
    return m;
  }

  getMonitor(project: string, id: string): Promise<Monitor | null> {
    return this.db.read('reading a monitor', async (tx) => {
      const r = await tx.run(`MATCH (m:MonitorRecord {id: $id, project: $project}) RETURN ${monitorMap('m')} AS m`, { id, project });
      const v = r.records[0]?.get('m') as MonitorValue | undefined;
      return v ? toMonitor(v) : null;
    });
  }

  listMonitors(project?: string): Promise<Monitor[]> {
    return this.db.read('listing monitors', async (tx) => {
      const r =
        project === undefined
          ? await tx.run(`MATCH (m:MonitorRecord) RETURN ${monitorMap('m')} AS m ORDER BY m.project, m.createdAt, m.id`)
          : await tx.run(`MATCH (m:MonitorRecord {project: $project}) RETURN ${monitorMap('m')} AS m ORDER BY m.createdAt, m.id`, { project });
      return r.records.map((x) => toMonitor(x.get('m') as MonitorValue));
    });
  }

  async deleteMonitor(project: string, id: string, audit?: AuditDraft<Monitor>): Promise<boolean> {
    const out = await this.db.write('deleting a monitor', async (tx) => {
      const r = await tx.run(`MATCH (m:MonitorRecord {id: $id, project: $project}) RETURN ${monitorMap('m')} AS m`, { id, project });
      const v = r.records[0]?.get('m') as MonitorValue | undefined;
      if (!v) return null;
      await tx.run('MATCH (a:AlertRecord {monitorId: $id}) DELETE a', { id });
      await tx.run('MATCH (m:MonitorRecord {id: $id}) DELETE m', { id });
      return appendDrafted(tx, this.chain, this.clock, audit, toMonitor(v));
    });
    if (out === null) return false;
    audit?.committed(out);
    return true;
  }

  async openAlert(a: Alert, audit?: AuditDraft<Alert>): Promise<{ alert: Alert; opened: boolean }> {
    const out = await this.db.write('opening an alert', async (tx) => {
      // The monitor's write lock first: evaluations that race queue here, and each then sees the
      // alert the one before it opened (the uniqueness of openFor is the backstop).
      await tx.run('MATCH (m:MonitorRecord {id: $monitorId}) SET m.alertLock = coalesce(m.alertLock, 0) + 1', { monitorId: a.monitorId });
      const open = await tx.run(`MATCH (a:AlertRecord {openFor: $monitorId}) RETURN ${alertMap('a')} AS a`, { monitorId: a.monitorId });
      const existing = open.records[0]?.get('a') as AlertValueRow | undefined;
      if (existing) return { alert: toAlert(existing), opened: false, entries: [] };
      await tx.run(
        `CREATE (:AlertRecord {id: $id, project: $project, monitorId: $monitorId, openFor: $monitorId, state: 'open', signals: $signals, vals: $vals,
                               firstSeen: $firstSeen, lastSeen: $lastSeen, resolvedAt: null})`,
        { id: a.id, project: a.project, monitorId: a.monitorId, signals: JSON.stringify(a.signals), vals: JSON.stringify(a.values), firstSeen: millis(a.firstSeen), lastSeen: millis(a.lastSeen) },
      );
      const alert: Alert = { ...a, state: 'open', resolvedAt: null };
      return { alert, opened: true, entries: await appendDrafted(tx, this.chain, this.clock, audit, alert) };
    });
    if (out.opened) audit?.committed(out.entries);
    return { alert: out.alert, opened: out.opened };
  }

  async refreshAlert(project: string, id: string, at: Date, signals: string[], values: AlertValue[]): Promise<void> {
    await this.db.write('refreshing an alert', async (tx) => {
      await tx.run("MATCH (a:AlertRecord {id: $id, project: $project, state: 'open'}) SET a.lastSeen = $at, a.signals = $signals, a.vals = $vals", { id, project, at: millis(at), signals: JSON.stringify(signals), vals: JSON.stringify(values) });
    });
  }

  async resolveAlert(project: string, id: string, at: Date, audit?: AuditDraft<Alert>): Promise<Alert | null> {
    const out = await this.db.write('resolving an alert', async (tx) => {
      const r = await tx.run(`MATCH (a:AlertRecord {id: $id, project: $project, state: 'open'}) SET a.state = 'resolved', a.resolvedAt = $at REMOVE a.openFor RETURN ${alertMap('a')} AS a`, { id, project, at: millis(at) });
      const v = r.records[0]?.get('a') as AlertValueRow | undefined;
      if (!v) return null;
      const alert = toAlert(v);
      return { alert, entries: await appendDrafted(tx, this.chain, this.clock, audit, alert) };
    });
    if (!out) return null;
    audit?.committed(out.entries);
    return out.alert;
  }

  getAlert(project: string, id: string): Promise<Alert | null> {
    return this.db.read('reading an alert', async (tx) => {
      const r = await tx.run(`MATCH (a:AlertRecord {id: $id, project: $project}) RETURN ${alertMap('a')} AS a`, { id, project });
      const v = r.records[0]?.get('a') as AlertValueRow | undefined;
      return v ? toAlert(v) : null;
    });
  }

  listAlerts(project: string, f: { monitorId?: string | undefined; state?: Alert['state'] | undefined; limit: number }): Promise<Alert[]> {
    return this.db.read('listing alerts', async (tx) => {
      const r = await tx.run(
        `MATCH (a:AlertRecord {project: $project})
         WHERE ($monitorId IS NULL OR a.monitorId = $monitorId) AND ($state IS NULL OR a.state = $state)
         RETURN ${alertMap('a')} AS a ORDER BY a.firstSeen DESC, a.id LIMIT $limit`,
        { project, monitorId: f.monitorId ?? null, state: f.state ?? null, limit: toInt(f.limit) },
      );
      return r.records.map((x) => toAlert(x.get('a') as AlertValueRow));
    });
  }
}
