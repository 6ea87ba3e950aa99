import type { MonitorBaseline } from '../domain/monitors.ts';

// How both backends store a monitor's baseline: JSON text, a window's times as milliseconds.

type StoredBaseline = { kind: 'first_days'; days: number } | { kind: 'window'; from: number; to: number } | { kind: 'evaluation' };

export const baselineText = (b: MonitorBaseline): string => JSON.stringify(b.kind === 'window' ? { kind: 'window', from: b.from.getTime(), to: b.to.getTime() } : b);

export function baselineOf(text: string): MonitorBaseline {
  const b = JSON.parse(text) as StoredBaseline;
  return b.kind === 'window' ? { kind: 'window', from: new Date(b.from), to: new Date(b.to) } : b;
}
