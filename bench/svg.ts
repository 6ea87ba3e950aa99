// A small SVG line chart for bench/RESULTS.md: stacked panels over one time axis, each with its
// own series, an optional target line, and shaded phases. No dependency, no browser.

interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
  target?: { value: number; label: string };
  /** Upper bound of the y axis (default: the data's, with headroom). */
  max?: number;
}

export interface Phase {
  from: number;
  to: number;
  label: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round step for about `n` ticks up to `max`. */
function tickStep(max: number, n: number): number {
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

const fmt = (v: number) => (v >= 10_000 ? `${Math.round(v / 1000)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v * 10) / 10));

export function chart(opts: { title: string; xLabel: string; panels: Panel[]; phases?: Phase[]; width?: number; panelHeight?: number }): string {
  const width = opts.width ?? 900;
  const ph = opts.panelHeight ?? 190;
  const left = 70;
  const right = 170;
  const top = 40;
  const gap = 42;
  const plotW = width - left - right;
  const height = top + opts.panels.length * (ph + gap) + 20;
  const xs = opts.panels.flatMap((p) => p.series.flatMap((s) => s.points.map((q) => q[0])));
  const xMax = Math.max(1, ...xs, ...(opts.phases ?? []).map((p) => p.to));
  const x = (v: number) => left + (v / xMax) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(opts.title)}</text>`);
  opts.panels.forEach((panel, i) => {
    const y0 = top + i * (ph + gap) + 14;
    const values = panel.series.flatMap((s) => s.points.map((q) => q[1]));
    const yMax = panel.max ?? Math.max(1, ...values, panel.target?.value ?? 0) * 1.1;
    const y = (v: number) => y0 + ph - (Math.min(v, yMax) / yMax) * ph;
    out.push(`<text x="${left}" y="${y0 - 6}" font-size="12" font-weight="bold">${esc(panel.title)}</text>`);
    for (const [k, p] of (opts.phases ?? []).entries()) {
      out.push(`<rect x="${x(p.from).toFixed(1)}" y="${y0}" width="${Math.max(0, x(p.to) - x(p.from)).toFixed(1)}" height="${ph}" fill="${k % 2 ? '#f3f3f3' : '#e8eef7'}"/>`);
      if (i === 0) out.push(`<text x="${(x(p.from) + 3).toFixed(1)}" y="${y0 + 12}" fill="#555">${esc(p.label)}</text>`);
    }
    const step = tickStep(yMax, 4);
    for (let v = 0; v <= yMax; v += step) {
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
      out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#333">${fmt(v)}</text>`);
    }
    out.push(`<text x="14" y="${y0 + ph / 2}" transform="rotate(-90 14 ${y0 + ph / 2})" text-anchor="middle" fill="#333">${esc(panel.unit)}</text>`);
    out.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${ph}" fill="none" stroke="#999"/>`);
    if (panel.target) {
      const ty = y(panel.target.value).toFixed(1);
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${ty}" y2="${ty}" stroke="#c0392b" stroke-dasharray="6 4"/>`);
      out.push(`<text x="${left + plotW + 6}" y="${(Number(ty) + 4).toFixed(1)}" fill="#c0392b">${esc(panel.target.label)}</text>`);
    }
    panel.series.forEach((s, k) => {
      if (s.points.length > 0) {
        const d = s.points.map(([px, py], j) => `${j ? 'L' : 'M'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join('');
        out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
      }
      const ly = y0 + 16 + k * 16;
      out.push(`<line x1="${left + plotW + 6}" x2="${left + plotW + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
      out.push(`<text x="${left + plotW + 30}" y="${ly}">${esc(s.label)}</text>`);
    });
    if (i === opts.panels.length - 1) {
      const xStep = tickStep(xMax, 10);
      for (let v = 0; v <= xMax; v += xStep) out.push(`<text x="${x(v).toFixed(1)}" y="${y0 + ph + 14}" text-anchor="middle" fill="#333">${fmt(v)}</text>`);
      out.push(`<text x="${left + plotW / 2}" y="${y0 + ph + 30}" text-anchor="middle" fill="#333">${esc(opts.xLabel)}</text>`);
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
