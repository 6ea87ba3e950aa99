// Monitors watch a prompt version (or an alias) for drift; a breach opens an alert, which resolves
// itself when the signals come back. Both are a project's, and their changes are audited.

export type MonitorBaseline = { kind: 'first_days'; days: number } | { kind: 'window'; from: Date; to: Date } | { kind: 'evaluation' };

export interface Monitor {
  id: string;
  project: string;
  name: string;
  prompt: string;
  /** Exactly one of version and alias. */
  version: string | null;
  alias: string | null;
  /** The signals it watches; empty: every signal drift reports. */
  signals: string[];
  /** A signal breaches when its test gives p < pValue and its PSI ≥ psi. */
  pValue: number;
  psi: number;
  /** The current window: the last windowSeconds, evaluated every scheduler interval. */
  windowSeconds: number;
  baseline: MonitorBaseline;
  createdAt: Date;
  createdBy: string;
}

export type AlertState = 'open' | 'resolved';

/** A signal in one window: its quantiles (continuous signals) or its shares (categorical ones), and its sample size. */
export type SignalSummary = { n: number; p50: number | null; p90: number | null } | { n: number; shares: Record<string, number> };

/** What a breached signal measured when last evaluated, and the two windows it compared then. */
export interface AlertValue {
  signal: string;
  statistic: number;
  pValue: number;
  psi: number;
  /** The baseline's and the current window's summaries at that evaluation (alerts opened before they were kept have none). */
  baseline?: SignalSummary;
  current?: SignalSummary;
}

export interface Alert {
  id: string;
  project: string;
  monitorId: string;
  state: AlertState;
  /** The signals breached at the last evaluation (while open), or when it resolved: the last breached. */
  signals: string[];
  values: AlertValue[];
  firstSeen: Date;
  lastSeen: Date;
  resolvedAt: Date | null;
}
