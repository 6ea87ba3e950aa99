import { useRef } from 'preact/hooks';
import { formatMs } from './common.tsx';
import { isoToMs, statusOf } from './investigate-bits.tsx';
import type { TraceSpan } from './investigate-types.ts';

// A trace's spans as a waterfall: nested under their parents, each bar placed by its start and
// length within the whole trace. Each row is a button that selects its span; the up and down
// arrows move the selection.

export interface WaterfallRow {
  span: TraceSpan;
  depth: number;
  startMs: number;
  durationMs: number;
}

export function durationMsOf(s: TraceSpan): number {
  const ns = Number(s.durationNs);
  return Number.isFinite(ns) ? ns / 1e6 : 0;
}

/** Spans in tree order (a parent, then its children by start); a span whose parent is not in the trace is a root. */
export function waterfallRows(spans: TraceSpan[]): WaterfallRow[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, TraceSpan[]>();
  const roots: TraceSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const byStart = (a: TraceSpan, b: TraceSpan) => isoToMs(a.timestamp) - isoToMs(b.timestamp) || a.name.localeCompare(b.name) || a.spanId.localeCompare(b.spanId);
  const rows: WaterfallRow[] = [];
  const seen = new Set<string>();
  const visit = (s: TraceSpan, depth: number) => {
    if (seen.has(s.spanId)) return;
    seen.add(s.spanId);
    rows.push({ span: s, depth, startMs: isoToMs(s.timestamp), durationMs: durationMsOf(s) });
    for (const c of (children.get(s.spanId) ?? []).sort(byStart)) visit(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) visit(r, 0);
  // Spans only reachable through a cycle of parents still show, at the top level.
  for (const s of spans) visit(s, 0);
  return rows;
}

export function Waterfall(props: { rows: WaterfallRow[]; selected: string | null; onSelect: (spanId: string) => void }) {
  const list = useRef<HTMLDivElement>(null);
  const rows = props.rows;
  if (rows.length === 0) return null;
  const start = Math.min(...rows.map((r) => r.startMs));
  const end = Math.max(...rows.map((r) => r.startMs + r.durationMs));
  const total = Math.max(end - start, 1e-6);
  const pct = (v: number) => `${Math.min(100, Math.max(0, (v / total) * 100)).toFixed(3)}%`;

  const move = (index: number) => {
    const row = rows[index];
    if (!row) return;
    props.onSelect(row.span.spanId);
    list.current?.querySelectorAll<HTMLButtonElement>('button.row')[index]?.focus();
  };

  return (
    <div class="waterfall" ref={list} role="group" aria-label="Spans of the trace">
      <div class="row head" aria-hidden="true">
        <span>Span</span>
        <span class="scale">
          <span>0</span>
          <span>{formatMs(total)}</span>
        </span>
        <span class="num">Duration</span>
      </div>
      {rows.map((r, i) => {
        const error = statusOf(r.span.status.code) === 'error';
        return (
          <button
            key={r.span.spanId}
            type="button"
            class={`row${error ? ' failed' : ''}`}
            aria-pressed={props.selected === r.span.spanId}
            onClick={() => props.onSelect(r.span.spanId)}
            onKeyDown={(e) => {
              if (e.key === 'ArrowDown') {
                e.preventDefault();
                move(i + 1);
              } else if (e.key === 'ArrowUp') {
                e.preventDefault();
                move(i - 1);
              }
            }}
          >
            <span class="name" style={{ paddingLeft: `${r.depth * 16}px` }}>
              {r.depth > 0 ? <span class="muted" aria-hidden="true">└ </span> : null}
              <span class="span-name">{r.span.name}</span>{' '}
              <span class="muted kind">{r.span.kind}</span>
              {error ? <span class="badge error">error</span> : null}
            </span>
            <span class="track" aria-hidden="true">
              <span class={`bar${error ? ' error' : ''}`} style={{ left: pct(r.startMs - start), width: pct(r.durationMs) }} />
            </span>
            <span class="num">
              {formatMs(r.durationMs)}
              <span class="visually-hidden">, starts at {formatMs(r.startMs - start)}</span>
            </span>
          </button>
        );
      })}
    </div>
  );
}
