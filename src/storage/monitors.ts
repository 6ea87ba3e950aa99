import type { Alert, AlertValue, Monitor } from '../domain/monitors.ts';
import type { AuditDraft } from './governance.ts';
import type { StoreLifecycle } from './lifecycle.ts';

// Monitors and their alerts. Adapters: SQLite (in the registry's file, beside the audit log) and
// Neo4j. A monitor's creation or deletion and an alert's opening and resolution commit with their
// audit entries; refreshing an open alert's values (every evaluation) is not audited.

export interface MonitorStore extends StoreLifecycle {
  createMonitor(m: Monitor, audit?: AuditDraft<Monitor>): Promise<Monitor>;
  getMonitor(project: string, id: string): Promise<Monitor | null>;
  /** A project's monitors, or (project undefined) every project's: the scheduler's list. */
  listMonitors(project?: string): Promise<Monitor[]>;
  /** Deletes it and its alerts; false when there is none. */
  deleteMonitor(project: string, id: string, audit?: AuditDraft<Monitor>): Promise<boolean>;
  /** Opens an alert unless the monitor has one open; answers the open one (and whether it is new). */
  openAlert(a: Alert, audit?: AuditDraft<Alert>): Promise<{ alert: Alert; opened: boolean }>;
  /** The open alert's latest evaluation. */
  refreshAlert(project: string, id: string, at: Date, signals: string[], values: AlertValue[]): Promise<void>;
  /** Resolves the open alert; null when it was not open. */
  resolveAlert(project: string, id: string, at: Date, audit?: AuditDraft<Alert>): Promise<Alert | null>;
  getAlert(project: string, id: string): Promise<Alert | null>;
  listAlerts(project: string, filter: { monitorId?: string | undefined; state?: Alert['state'] | undefined; limit: number }): Promise<Alert[]>;
}
