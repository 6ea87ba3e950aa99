import { useEffect, useRef } from 'preact/hooks';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartType,
  type Plugin,
} from 'chart.js';

// Charts are Chart.js (canvas). Each chart also carries its numbers as a table for screen
// readers and for copying, so a chart never holds information that only eyes can get.

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend, Filler);

export interface Series {
  label: string;
  values: Array<number | null>;
}

/** A vertical line at one label of the x axis (a moment on a time series), named in the data table too. */
export interface Marker {
  index: number;
  label: string;
  /** The movement itself is drawn solid; the changes around it dashed. */
  strong?: boolean;
}

/** Draws the markers over the datasets: Chart.js has no built-in vertical line. */
function markerPlugin(markers: Marker[]): Plugin<'bar' | 'line'> {
  return {
    id: 'promptline-markers',
    afterDatasetsDraw(chart) {
      const { ctx, chartArea } = chart;
      const x = chart.scales.x;
      if (!x) return;
      ctx.save();
      for (const m of markers) {
        const px = x.getPixelForValue(m.index);
        if (!Number.isFinite(px)) continue;
        ctx.beginPath();
        ctx.lineWidth = m.strong ? 2 : 1;
        ctx.strokeStyle = m.strong ? '#c23b3b' : '#6b7280';
        ctx.setLineDash(m.strong ? [] : [4, 3]);
        ctx.moveTo(px, chartArea.top);
        ctx.lineTo(px, chartArea.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = ctx.strokeStyle;
        ctx.font = '11px system-ui, sans-serif';
        ctx.fillText(m.label.length > 28 ? `${m.label.slice(0, 27)}…` : m.label, px + 3, chartArea.top + 10 + (m.strong ? 0 : 12 * (markers.indexOf(m) % 3)));
      }
      ctx.restore();
    },
  };
}

export function SimpleChart(props: {
  type: Extract<ChartType, 'bar' | 'line'>;
  title: string;
  labels: string[];
  series: Series[];
  /** Called with the index of the bar or point clicked. */
  onSelect?: (index: number) => void;
  height?: number;
  markers?: Marker[];
}) {
  const markers = props.markers ?? [];
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const palette = ['#2f6fde', '#d9822b', '#2b9d6f', '#b04ad0', '#c23b3b'];
    const config: ChartConfiguration<'bar' | 'line', Array<number | null>, string> = {
      type: props.type,
      data: {
        labels: props.labels,
        datasets: props.series.map((s, i) => ({
          label: s.label,
          data: s.values,
          backgroundColor: palette[i % palette.length]!,
          borderColor: palette[i % palette.length]!,
          spanGaps: true,
          pointRadius: props.type === 'line' && props.labels.length > 60 ? 0 : 3,
        })),
      },
      plugins: markers.length > 0 ? [markerPlugin(markers)] : [],
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: props.series.length > 1 }, tooltip: { enabled: true } },
        scales: { y: { beginAtZero: true } },
        onClick: (_e, elements) => {
          const first = elements[0];
          if (first && props.onSelect) props.onSelect(first.index);
        },
      },
    };
    chart.current?.destroy();
    chart.current = new Chart(canvas.current, config);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [props.type, JSON.stringify(props.labels), JSON.stringify(props.series), JSON.stringify(markers)]);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div class="chart-box" style={{ height: `${props.height ?? 220}px` }}>
        <canvas ref={canvas} role="img" aria-label={props.title} />
      </div>
      <details class="chart-data">
        <summary>Data</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">label</th>
              {props.series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                </th>
              ))}
              {markers.length > 0 ? <th scope="col">marker</th> : null}
            </tr>
          </thead>
          <tbody>
            {props.labels.map((l, i) => (
              <tr key={`${i}:${l}`}>
                <th scope="row">{l}</th>
                {props.series.map((s) => (
                  <td key={s.label}>{s.values[i] ?? '—'}</td>
                ))}
                {markers.length > 0 ? (
                  <td>
                    {markers
                      .filter((m) => m.index === i)
                      .map((m) => m.label)
                      .join('; ')}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
