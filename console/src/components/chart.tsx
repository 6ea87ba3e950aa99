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
} from 'chart.js';

// Charts are Chart.js (canvas). Each chart also carries its numbers as a table for screen
// readers and for copying, so a chart never holds information that only eyes can get.

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend, Filler);

export interface Series {
  label: string;
  values: Array<number | null>;
}

export function SimpleChart(props: {
  type: Extract<ChartType, 'bar' | 'line'>;
  title: string;
  labels: string[];
  series: Series[];
  /** Called with the index of the bar or point clicked. */
  onSelect?: (index: number) => void;
  height?: number;
}) {
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
        })),
      },
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
  }, [props.type, JSON.stringify(props.labels), JSON.stringify(props.series)]);
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
            </tr>
          </thead>
          <tbody>
            {props.labels.map((l, i) => (
              <tr key={l}>
                <th scope="row">{l}</th>
                {props.series.map((s) => (
                  <td key={s.label}>{s.values[i] ?? '—'}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
