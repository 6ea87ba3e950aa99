import { withQuery } from '../api.ts';
import { SimpleChart, type Marker } from './chart.tsx';
import { Empty, Facts, Time, formatCount } from './common.tsx';
import { formatMetric, metricLabel } from './monitors-common.tsx';
import type { LineageChange, WhatChangedAnswer } from '../types.ts';

// The answer of GET /v1/what-changed: the verdict first, the metric per bucket with the moment it
// moved and each lineage change marked, then the changes ranked by how much of the move each explains.

const CAUSE_TEXT: Record<LineageChange['cause'], string> = { prompt: 'prompt', model: 'model', data: 'data', app: 'app' };

/** The bucket a moment falls in (the last one that starts at or before it). */
function bucketIndex(times: number[], at: string): number {
  const t = Date.parse(at);
  let i = 0;
  while (i + 1 < times.length && times[i + 1]! <= t) i++;
  return i;
}

function timeLabel(iso: string, long: boolean): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return long ? `${d.getMonth() + 1}/${d.getDate()} ${hm}` : hm;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : `${Math.round(x * 100)} %`);

/** Where a change leads next: its impact, or the responses it names. Links are built from our paths only. */
function changeLink(c: LineageChange, window: { from: string; to: string }): { href: string; label: string } | null {
  const v = c.value;
  if (c.kind === 'alias_move' && c.move) return { href: withQuery('/impact', { prompt: c.move.name, alias: c.move.alias, move: c.move.seq }), label: 'impact of the move' };
  if (c.kind === 'prompt_version' && v.length >= 2) return { href: withQuery('/impact', { prompt: v[0], version: v[1] }), label: 'impact of the version' };
  if (c.kind === 'model' && v.length >= 2) return { href: withQuery('/impact', { model: v[1], provider: v[0] || undefined }), label: 'impact of the model' };
  if (c.kind === 'model' && v.length === 1) return { href: withQuery('/impact', { model: v[0] }), label: 'impact of the model' };
  if (c.kind === 'datasets' && v.length >= 1) return { href: withQuery('/impact', { dataset: v[0] }), label: 'impact of the dataset' };
  if (c.kind === 'app_version' && v.length >= 2) return { href: withQuery('/impact', { app: v[0], app_version: v[1] }), label: 'impact of the app version' };
  if (c.kind === 'unregistered_prompt' && v.length >= 1) return { href: withQuery('/responses', { prompt: v[0], registration: 'unregistered', from: window.from, to: window.to }), label: 'its responses' };
  return null;
}

export function WhatChangedResult(props: { answer: WhatChangedAnswer }) {
  const a = props.answer;
  const metric = a.metric;
  const times = a.series.map((b) => Date.parse(b.time));
  const long = Date.parse(a.window.to) - Date.parse(a.window.from) > 86_400_000;
  const labels = a.series.map((b) => timeLabel(b.time, long));
  const scale = metric === 'error_rate' ? 100 : 1;
  const values = a.series.map((b) => (b.value === null ? null : Number((b.value * scale).toFixed(metric === 'error_rate' ? 2 : 1))));
  const markers: Marker[] = [];
  if (a.movement) markers.push({ index: bucketIndex(times, a.movement.at), label: a.movement.moved ? 'moved' : 'largest shift', strong: true });
  a.changes.forEach((c, i) => markers.push({ index: bucketIndex(times, c.at), label: `${i + 1}. ${c.cause}: ${c.description}` }));
  const m = a.movement;
  return (
    <>
      <section class="panel verdict" aria-labelledby="wc-verdict">
        <h2 id="wc-verdict">Verdict{a.verdict.cause ? `: ${CAUSE_TEXT[a.verdict.cause]}` : ''}</h2>
        <p class="verdict-text what-changed-verdict">{a.verdict.summary}</p>
        <Facts
          rows={[
            ['responses', formatCount(a.responses)],
            ['window', <>
                <Time iso={a.window.from} /> – <Time iso={a.window.to} /> (buckets of {a.window.bucketSeconds} s)
              </>],
            [
              'movement',
              m ? (
                <>
                  {metricLabel(metric)} {formatMetric(metric, m.before.mean)} → {formatMetric(metric, m.after.mean)} around <Time iso={m.at} /> (z {m.z.toFixed(1)}; {m.moved ? 'moved' : 'not significant'}; n {m.before.n} → {m.after.n})
                </>
              ) : (
                'too few responses to tell'
              ),
            ],
          ]}
        />
      </section>
      {a.series.length > 0 ? (
        <SimpleChart
          type="line"
          height={260}
          title={`${metricLabel(metric)}${metric === 'error_rate' ? ' (%)' : ''} per ${a.window.bucketSeconds} s, with the movement and each change marked`}
          labels={labels}
          series={[{ label: metricLabel(metric), values }]}
          markers={markers}
        />
      ) : null}
      <section aria-labelledby="wc-changes">
        <h2 id="wc-changes">Lineage changes, ranked by how much of the move each explains</h2>
        {a.changes.length === 0 ? (
          <Empty>No lineage value changed in this window: no alias moved, and no prompt version, model snapshot, dataset, app version or unregistered prompt was first seen.</Empty>
        ) : (
          <div class="table-scroll">
            <table class="changes" aria-label="Lineage changes">
              <thead>
                <tr>
                  <th scope="col" class="num">
                    Rank
                  </th>
                  <th scope="col">Time</th>
                  <th scope="col">Cause</th>
                  <th scope="col">Change</th>
                  <th scope="col" class="num">
                    Share before → after
                  </th>
                  <th scope="col" class="num">
                    {metricLabel(metric)} under it
                  </th>
                  <th scope="col" class="num">
                    Explains
                  </th>
                  <th scope="col">Significant</th>
                  <th scope="col">Next</th>
                </tr>
              </thead>
              <tbody>
                {a.changes.map((c, i) => {
                  const link = changeLink(c, a.window);
                  return (
                    <tr key={`${c.kind}:${c.value.join('/')}:${c.at}`} class={c.significant ? 'significant' : undefined}>
                      <td class="num">{i + 1}</td>
                      <td class="nowrap">
                        <Time iso={c.at} />
                      </td>
                      <td>
                        <span class="badge">{c.cause}</span>
                      </td>
                      <td class="change-text">
                        <span class="change-description">{c.description}</span>
                        {c.move ? (
                          <div class="hint">
                            by <span class="move-actor">{c.move.actor}</span>
                            {c.move.reason ? (
                              <>
                                : “<span class="move-reason">{c.move.reason}</span>”
                              </>
                            ) : null}
                          </div>
                        ) : null}
                      </td>
                      <td class="num nowrap">
                        {pct(c.share.before)} → {pct(c.share.after)}
                      </td>
                      <td class="num nowrap">
                        {formatMetric(metric, c.changed.mean)}
                        <div class="hint">others {formatMetric(metric, c.unchanged.mean)}</div>
                      </td>
                      <td class="num">{pct(c.explainedShare)}</td>
                      <td>{c.significant ? <span class="badge warn">yes</span> : <span class="muted">no</span>}</td>
                      <td>{link ? <a href={link.href}>{link.label}</a> : null}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
