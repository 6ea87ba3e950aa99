import { systemClock, type Clock } from '../../common/clock.ts';
import type { Alert, AlertValue, Monitor } from '../../domain/monitors.ts';
import type { AuditDraft } from '../governance.ts';
import type { MonitorStore } from '../monitors.ts';
import { baselineOf, baselineText } from '../monitor-values.ts';
import { appendDrafted } from './sqlite-audit.ts';
import type { SchemaComponent, SharedDatabase } from './sqlite-db.ts';
import { SqliteStore } from './sqlite-store.ts';

// Monitors and alerts in SQLite, in the registry's file (a SharedDatabase) so that each change and
// its audit entry are one transaction. At most one open alert a monitor: a partial unique index.

const MONITORS_SCHEMA: SchemaComponent = {
  name: 'monitors',
  migrations: [
    [
      `CREATE TABLE monitors (
         id TEXT PRIMARY KEY,
         project TEXT NOT NULL,
         name TEXT NOT NULL,
         prompt TEXT NOT NULL,
         version TEXT,
         alias TEXT,
         signals TEXT NOT NULL,
         p_value REAL NOT NULL,
         psi REAL NOT NULL,
         window_seconds INTEGER NOT NULL,
         baseline TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         created_by TEXT NOT NULL
       ) WITHOUT ROWID`,
      `CREATE INDEX monitors_by_project ON monitors (project, created_at)`,
      `CREATE TABLE alerts (
         id TEXT PRIMARY KEY,
         project TEXT NOT NULL,
         monitor_id TEXT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
         state TEXT NOT NULL,
         signals TEXT NOT NULL,
         vals TEXT NOT NULL,
         first_seen INTEGER NOT NULL,
         last_seen INTEGER NOT NULL,
         resolved_at INTEGER
       ) WITHOUT ROWID`,
      `CREATE UNIQUE INDEX alerts_one_open ON alerts (monitor_id) WHERE state = 'open'`,
      `CREATE INDEX alerts_by_project ON alerts (project, first_seen)`,
    ],
  ],
};

interface MonitorRow {
  id: string;
  project: string;
  name: string;
  prompt: string;
  version: string | null;
  alias: string | null;
  signals: string;
  p_value: number;
  psi: number;
  window_seconds: number;
  baseline: string;
  created_at: number;
  created_by: string;
}

interface AlertRow {
  id: string;
  project: string;
  monitor_id: string;
  state: Alert['state'];
  signals: string;
  vals: string;
  first_seen: number;
  last_seen: number;
  resolved_at: number | null;
}

const toMonitor = (r: MonitorRow): Monitor => ({
  id: r.id,
  project: r.project,
  name: r.name,
  prompt: r.prompt,
  version: r.version,
  alias: r.alias,
  signals: JSON.parse(r.signals) as string[],
  pValue: r.p_value,
  psi: r.psi,
  windowSeconds: r.window_seconds,
  baseline: baselineOf(r.baseline),
  createdAt: new Date(r.created_at),
  createdBy: r.created_by,
});

const toAlert = (r: AlertRow): Alert => ({
  id: r.id,
  project: r.project,
  monitorId: r.monitor_id,
  state: r.state,
  signals: JSON.parse(r.signals) as string[],
  values: JSON.parse(r.vals) as AlertValue[],
  firstSeen: new Date(r.first_seen),
  lastSeen: new Date(r.last_seen),
  resolvedAt: r.resolved_at === null ? null : new Date(r.resolved_at),
});

export class SqliteMonitors extends SqliteStore implements MonitorStore {
  private readonly clock: Clock;

  constructor(file: string | SharedDatabase, opts: { clock?: Clock } = {}) {
    super(file, { components: [MONITORS_SCHEMA] });
    this.clock = opts.clock ?? systemClock;
  }

  async createMonitor(m: Monitor, audit?: AuditDraft<Monitor>): Promise<Monitor> {
    const entries = this.run('creating a monitor', () =>
      this.transaction(() => {
        this.db
          .prepare('INSERT INTO monitors (id, project, name, prompt, version, alias, signals, p_value, psi, window_seconds, baseline, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(m.id, m.project, m.name, m.prompt, m.version, m.alias, JSON.stringify(m.signals), m.pValue, m.psi, m.windowSeconds, baselineText(m.baseline), m.createdAt.getTime(), m.createdBy);
        return appendDrafted(this.db, this.clock, audit, m);
      }),
    );
    audit?.committed(entries);
    return m;
  }

  async getMonitor(project: string, id: string): Promise<Monitor | null> {
    return this.run('reading a monitor', () => {
      const r = this.db.prepare('SELECT * FROM monitors WHERE project = ? AND id = ?').get(project, id) as MonitorRow | undefined;
      return r ? toMonitor(r) : null;
    });
  }

  async listMonitors(project?: string): Promise<Monitor[]> {
    return this.run('listing monitors', () => {
      const rows = project === undefined ? this.db.prepare('SELECT * FROM monitors ORDER BY project, created_at, id').all() : this.db.prepare('SELECT * FROM monitors WHERE project = ? ORDER BY created_at, id').all(project);
      return (rows as unknown as MonitorRow[]).map(toMonitor);
    });
  }

  async deleteMonitor(project: string, id: string, audit?: AuditDraft<Monitor>): Promise<boolean> {
    const out = this.run('deleting a monitor', () =>
      this.transaction(() => {
        const r = this.db.prepare('SELECT * FROM monitors WHERE project = ? AND id = ?').get(project, id) as MonitorRow | undefined;
        if (!r) return null;
        this.db.prepare('DELETE FROM alerts WHERE monitor_id = ?').run(id);
        this.db.prepare('DELETE FROM monitors WHERE id = ?').run(id);
        return appendDrafted(this.db, this.clock, audit, toMonitor(r));
      }),
    );
    if (out === null) return false;
    audit?.committed(out);
    return true;
  }

  async openAlert(a: Alert, audit?: AuditDraft<Alert>): Promise<{ alert: Alert; opened: boolean }> {
    const out = this.run('opening an alert', () =>
      this.transaction(() => {
        const open = this.db.prepare("SELECT * FROM alerts WHERE monitor_id = ? AND state = 'open'").get(a.monitorId) as AlertRow | undefined;
        if (open) return { alert: toAlert(open), opened: false, entries: [] };
        this.db
          .prepare('INSERT INTO alerts (id, project, monitor_id, state, signals, vals, first_seen, last_seen, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)')
          .run(a.id, a.project, a.monitorId, 'open', JSON.stringify(a.signals), JSON.stringify(a.values), a.firstSeen.getTime(), a.lastSeen.getTime());
        const alert: Alert = { ...a, state: 'open', resolvedAt: null };
        return { alert, opened: true, entries: appendDrafted(this.db, this.clock, audit, alert) };
      }),
    );
    if (out.opened) audit?.committed(out.entries);
    return { alert: out.alert, opened: out.opened };
  }

  async refreshAlert(project: string, id: string, at: Date, signals: string[], values: AlertValue[]): Promise<void> {
    this.run('refreshing an alert', () => {
      this.db.prepare("UPDATE alerts SET last_seen = ?, signals = ?, vals = ? WHERE project = ? AND id = ? AND state = 'open'").run(at.getTime(), JSON.stringify(signals), JSON.stringify(values), project, id);
    });
  }

  async resolveAlert(project: string, id: string, at: Date, audit?: AuditDraft<Alert>): Promise<Alert | null> {
    const out = this.run('resolving an alert', () =>
      this.transaction(() => {
        const r = this.db.prepare("SELECT * FROM alerts WHERE project = ? AND id = ? AND state = 'open'").get(project, id) as AlertRow | undefined;
        if (!r) return null;
        this.db.prepare("UPDATE alerts SET state = 'resolved', resolved_at = ? WHERE id = ?").run(at.getTime(), id);
        const alert: Alert = { ...toAlert(r), state: 'resolved', resolvedAt: at };
        return { alert, entries: appendDrafted(this.db, this.clock, audit, alert) };
      }),
    );
    if (!out) return null;
    audit?.committed(out.entries);
    return out.alert;
  }

  async getAlert(project: string, id: string): Promise<Alert | null> {
    return this.run('reading an alert', () => {
      const r = this.db.prepare('SELECT * FROM alerts WHERE project = ? AND id = ?').get(project, id) as AlertRow | undefined;
      return r ? toAlert(r) : null;
    });
  }

  async listAlerts(project: string, f: { monitorId?: string | undefined; state?: Alert['state'] | undefined; limit: number }): Promise<Alert[]> {
    return this.run('listing alerts', () => {
      const where = ['project = ?'];
      const args: Array<string | number> = [project];
      if (f.monitorId !== undefined) {
        where.push('monitor_id = ?');
        args.push(f.monitorId);
      }
      if (f.state !== undefined) {
        where.push('state = ?');
        args.push(f.state);
      }
      args.push(f.limit);
      return (this.db.prepare(`SELECT * FROM alerts WHERE ${where.join(' AND ')} ORDER BY first_seen DESC, id LIMIT ?`).all(...args) as unknown as AlertRow[]).map(toAlert);
    });
  }
}
