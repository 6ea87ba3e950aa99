import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/common/clock.ts';
import type { Alert, Monitor } from '../../src/domain/monitors.ts';
import { auditHash } from '../../src/governance/audit.ts';
import type { AuditDraft, AuditLog } from '../../src/storage/governance.ts';
import type { MonitorStore } from '../../src/storage/monitors.ts';
import { ManualClock } from '../helpers/clock.ts';

// What every monitor store must do: keep monitors and their alerts per project, one open alert a
// monitor however many evaluations race, and commit each audited change with its entry.

export interface MonitorFixture {
  monitors: MonitorStore;
  audit: AuditLog;
  cleanup(): Promise<void>;
}

function draft<T>(project: string, action: string, committed: unknown[]): AuditDraft<T> {
  return { entries: () => [{ project, actor: 'contract', action, target: `monitor:${action}`, before: null, after: { ok: true } }], hashOf: auditHash, committed: (e) => committed.push(...e) };
}

export function describeMonitorContract(backend: string, open: (clock: Clock) => Promise<MonitorFixture>): void {
  describe(`monitor store contract: ${backend}`, () => {
    let fx: MonitorFixture;
    const project = `monitors-${randomUUID()}`;
    const other = `monitors-other-${randomUUID()}`;
    const clock = new ManualClock();
    const monitor = (over: Partial<Monitor> = {}): Monitor => ({
      id: randomUUID(),
      project,
      name: 'answer output size',
      prompt: 'support-answer',
      version: '3',
      alias: null,
      signals: ['output_tokens', 'error_rate'],
      pValue: 0.001,
      psi: 0.2,
      windowSeconds: 3600,
      baseline: { kind: 'window', from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-08T00:00:00Z') },
      createdAt: new Date('2026-11-20T10:00:00Z'),
      createdBy: 'alice',
      ...over,
    });
    const alert = (m: Monitor, over: Partial<Alert> = {}): Alert => ({
      id: randomUUID(),
      project: m.project,
      monitorId: m.id,
      state: 'open',
      signals: ['output_tokens'],
      values: [{ signal: 'output_tokens', statistic: 0.61, pValue: 1e-12, psi: 1.4 }],
      firstSeen: new Date('2026-11-21T10:00:00Z'),
      lastSeen: new Date('2026-11-21T10:00:00Z'),
      resolvedAt: null,
      ...over,
    });

    beforeAll(async () => {
      fx = await open(clock);
      await fx.audit.migrate();
      await fx.monitors.migrate();
      await fx.monitors.migrate();
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    it('keeps a monitor as given, per project, with its audit entry', async () => {
      const committed: unknown[] = [];
      const m = monitor();
      const aliasOne = monitor({ version: null, alias: 'production', signals: [], baseline: { kind: 'first_days', days: 7 }, createdAt: new Date('2026-11-20T11:00:00Z') });
      await fx.monitors.createMonitor(m, draft(project, 'monitor.create', committed));
      await fx.monitors.createMonitor(aliasOne);
      await fx.monitors.createMonitor(monitor({ project: other }));
      expect(committed).toHaveLength(1);
      expect(await fx.monitors.getMonitor(project, m.id)).toEqual(m);
      expect(await fx.monitors.getMonitor(other, m.id)).toBeNull();
      expect((await fx.monitors.listMonitors(project)).map((x) => x.id)).toEqual([m.id, aliasOne.id]);
      expect((await fx.monitors.listMonitors(project))[1]).toEqual(aliasOne);
      const all = await fx.monitors.listMonitors();
      expect(all.filter((x) => x.project === project || x.project === other)).toHaveLength(3);
      expect((await fx.audit.list({ project, limit: 10 })).map((e) => e.action)).toEqual(['monitor.create']);
    });

    it('opens one alert a monitor, however many evaluations open it at once; refreshes and resolves it', async () => {
      const m = monitor();
      await fx.monitors.createMonitor(m);
      const committed: unknown[] = [];
      const results = await Promise.all(Array.from({ length: 4 }, () => fx.monitors.openAlert(alert(m), draft(project, 'alert.open', committed))));
      expect(results.filter((r) => r.opened)).toHaveLength(1);
      const id = results.find((r) => r.opened)!.alert.id;
      expect(new Set(results.map((r) => r.alert.id))).toEqual(new Set([id]));
      expect(committed).toHaveLength(1);
      await fx.monitors.refreshAlert(project, id, new Date('2026-11-21T11:00:00Z'), ['output_tokens', 'error_rate'], [{ signal: 'error_rate', statistic: 40, pValue: 1e-9, psi: 0.5 }]);
      expect(await fx.monitors.getAlert(project, id)).toMatchObject({ state: 'open', signals: ['output_tokens', 'error_rate'], lastSeen: new Date('2026-11-21T11:00:00Z'), firstSeen: new Date('2026-11-21T10:00:00Z') });
      const resolved = await fx.monitors.resolveAlert(project, id, new Date('2026-11-21T12:00:00Z'), draft(project, 'alert.resolve', committed));
      expect(resolved).toMatchObject({ id, state: 'resolved', resolvedAt: new Date('2026-11-21T12:00:00Z') });
      expect(await fx.monitors.resolveAlert(project, id, new Date())).toBeNull();
      expect(committed).toHaveLength(2);
      // Resolved, the next breach opens a new one.
      const again = await fx.monitors.openAlert(alert(m, { firstSeen: new Date('2026-11-22T10:00:00Z'), lastSeen: new Date('2026-11-22T10:00:00Z') }));
      expect(again.opened).toBe(true);
      expect((await fx.monitors.listAlerts(project, { monitorId: m.id, limit: 10 })).map((a) => a.state)).toEqual(['open', 'resolved']);
      expect((await fx.monitors.listAlerts(project, { monitorId: m.id, state: 'resolved', limit: 10 })).map((a) => a.id)).toEqual([id]);
      expect(await fx.monitors.listAlerts(other, { limit: 10 })).toEqual([]);
      expect(await fx.monitors.getAlert(other, id)).toBeNull();
    });

    it("deletes a monitor with its alerts, only in its own project", async () => {
      const m = monitor();
      await fx.monitors.createMonitor(m);
      await fx.monitors.openAlert(alert(m));
      expect(await fx.monitors.deleteMonitor(other, m.id)).toBe(false);
      const committed: unknown[] = [];
      expect(await fx.monitors.deleteMonitor(project, m.id, draft(project, 'monitor.delete', committed))).toBe(true);
      expect(committed).toHaveLength(1);
      expect(await fx.monitors.getMonitor(project, m.id)).toBeNull();
      expect(await fx.monitors.listAlerts(project, { monitorId: m.id, limit: 10 })).toEqual([]);
      expect(await fx.monitors.deleteMonitor(project, m.id)).toBe(false);
    });
  });
}
