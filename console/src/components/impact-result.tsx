import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, seg, withQuery, type Query } from '../api.ts';
import { ErrorBox, Facts, Time, formatCount } from './common.tsx';
import { SimpleChart } from './chart.tsx';
import { whatChangedPath } from './monitors-common.tsx';
import { ImpactPath } from './impact-path.tsx';
import { moveLabel } from './impact-form.tsx';
import type { ImpactAnswer, ImpactConnection, ImpactItem, ImpactTarget } from '../types.ts';

// One impact answer: how many responses, when, the histogram, every affected entity with the
// path that connects it to the start, the responses themselves, and the way to the response list.

export function describeTarget(t: ImpactTarget): string {
  switch (t.kind) {
    case 'promptVersion':
      return `prompt ${t.name} version ${t.version}`;
    case 'aliasMove':
      return `alias ${t.alias} of ${t.name}, move #${t.move.seq}`;
    case 'dataset':
      return `dataset ${t.id}`;
    case 'model':
      return `model ${t.provider ? `${t.provider}/` : ''}${t.name}`;
    case 'appVersion':
      return `app ${t.name} version ${t.version}`;
  }
}

/**
 * The response list's query for the same responses (GET /v1/responses takes the same names). An
 * alias move's window is the move's, and its responses are those of the versions it pointed to.
 */
function responsesQuery(a: ImpactAnswer, q: Record<string, string | undefined>, withAlias = false): Query {
  const t = a.target;
  const window = { from: q.from, to: q.to };
  switch (t.kind) {
    case 'promptVersion':
      return { prompt: t.name, version: String(t.version), ...window };
    case 'aliasMove':
      return {
        prompt: t.name,
        version: t.versions.length === 1 ? String(t.versions[0]) : undefined,
        alias: withAlias ? t.alias : undefined,
        from: a.window.from,
        to: t.until || q.to ? a.window.to : undefined,
      };
    case 'dataset':
      return { dataset: t.id, ...window };
    case 'model':
      return { model: t.name, provider: t.provider ?? undefined, ...window };
    case 'appVersion':
      return { app: t.name, app_version: t.version, ...window };
  }
}

const impactLink = (query: Query) => withQuery('/impact', query);
const versionPage = (name: string, version: string | number) => `/prompts/${seg(name)}/versions/${seg(version)}`;

function TargetFacts(props: { answer: ImpactAnswer }) {
  const a = props.answer;
  const t = a.target;
  const rows: Array<[string, ComponentChildren]> = [['Start', describeTarget(t)]];
  if (t.kind === 'promptVersion') {
    rows.push(['Registered', t.registered ? 'yes' : 'no']);
    if (t.commitMessage !== null) rows.push(['Commit message', t.commitMessage]);
    if (t.author !== null) rows.push(['Author', t.author]);
  }
  if (t.kind === 'aliasMove') {
    rows.push(['Move', moveLabel(t.move)]);
    rows.push(['Reason', t.move.reason]);
    rows.push(['In force until', t.until ? <Time iso={t.until} /> : 'now (the latest move)']);
    rows.push(['Versions', t.versions.map((v) => `v${v}`).join(', ')]);
  }
  rows.push(['Window', <>{Date.parse(a.window.from) === 0 ? 'from the first response' : <Time iso={a.window.from} />} – {<Time iso={a.window.to} />}</>]);
  rows.push(['First seen', <Time iso={a.firstSeen} />]);
  rows.push(['Last seen', <Time iso={a.lastSeen} />]);
  return <Facts rows={rows} />;
}

/** Buckets from the first to the last, the empty ones as 0, so the chart's x axis is time. */
function fillBuckets(h: ImpactAnswer['responses']['histogram'], bucketSeconds: number): Array<{ start: string; count: number }> {
  if (h.length < 2) return h;
  const step = bucketSeconds * 1000;
  const first = Date.parse(h[0]!.start);
  const last = Date.parse(h.at(-1)!.start);
  if (!Number.isFinite(first) || !Number.isFinite(last) || (last - first) / step > 500) return h;
  const byStart = new Map(h.map((b) => [Date.parse(b.start), b.count]));
  const out: Array<{ start: string; count: number }> = [];
  for (let t = first; t <= last; t += step) out.push({ start: new Date(t).toISOString(), count: byStart.get(t) ?? 0 });
  return out;
}

function bucketLabel(iso: string, bucketSeconds: number): string {
  const d = new Date(iso);
  if (bucketSeconds >= 86400) return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: '2-digit' });
  return d.toLocaleString(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}

function Seen(props: { row: { count: number; firstSeen: string; lastSeen: string } }) {
  return (
    <>
      <td class="num">{formatCount(props.row.count)}</td>
      <td>
        <Time iso={props.row.firstSeen} />
      </td>
      <td>
        <Time iso={props.row.lastSeen} />
      </td>
    </>
  );
}

function SeenHead() {
  return (
    <>
      <th scope="col" class="num">
        responses
      </th>
      <th scope="col">first seen</th>
      <th scope="col">last seen</th>
    </>
  );
}

/** The affected entities of one kind: their own columns, responses and first/last seen, and the path that connected each. */
function ConnectedTable<R extends ImpactConnection & { count: number; firstSeen: string; lastSeen: string }>(props: {
  rows: R[];
  keyOf: (r: R) => string;
  columns: Array<[string, (r: R) => ComponentChildren]>;
  connectedBy?: (r: R) => ComponentChildren;
}) {
  return (
    <table>
      <thead>
        <tr>
          {props.columns.map(([head]) => (
            <th scope="col" key={head}>
              {head}
            </th>
          ))}
          <SeenHead />
          <th scope="col">connected by</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => (
          <tr key={props.keyOf(r)}>
            {props.columns.map(([head, cell]) => (
              <td key={head}>{cell(r)}</td>
            ))}
            <Seen row={r} />
            <td>{props.connectedBy ? props.connectedBy(r) : <ImpactPath connection={r} />}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Section(props: { id: string; title: string; count: number; children: ComponentChildren }) {
  if (props.count === 0) return null;
  return (
    <section class="panel" aria-labelledby={props.id}>
      <h2 id={props.id}>
        {props.title} <span class="badge">{formatCount(props.count)}</span>
      </h2>
      {props.children}
    </section>
  );
}

function Affected(props: { answer: ImpactAnswer }) {
  const a = props.answer;
  const none = a.apps.length + a.services.length + a.conversations.count + a.promptVersions.length + a.models.length + a.datasets.length + a.evaluations.length + a.derivedVersions.length === 0;
  if (none) return <p class="empty">Nothing else is connected to it in this window.</p>;
  return (
    <>
      <Section id="impact-apps" title="Apps" count={a.apps.length}>
        <ConnectedTable
          rows={a.apps}
          keyOf={(r) => `${r.name}\u0000${r.version}`}
          columns={[
            ['app', (r) => r.name],
            [
              'version',
              (r) => (
                <a href={impactLink({ app: r.name, app_version: r.version })} title="the impact of this app version">
                  {r.version || '(none)'}
                </a>
              ),
            ],
          ]}
        />
      </Section>
      <Section id="impact-services" title="Services" count={a.services.length}>
        <ConnectedTable rows={a.services} keyOf={(r) => r.name} columns={[['service', (r) => r.name]]} />
      </Section>
      <Section id="impact-conversations" title="Conversations" count={a.conversations.count}>
        <p class="hint">
          {formatCount(a.conversations.count)} {a.conversations.count === 1 ? 'conversation' : 'conversations'}, connected by their responses{a.conversations.top.length < a.conversations.count ? `; the ${a.conversations.top.length} with the most responses:` : ':'}
        </p>
        <table>
          <thead>
            <tr>
              <th scope="col">conversation</th>
              <th scope="col" class="num">
                responses
              </th>
            </tr>
          </thead>
          <tbody>
            {a.conversations.top.map((c) => (
              <tr key={c.id}>
                <td>
                  <a href={withQuery('/responses', { conversation: c.id })}>{c.id}</a>
                </td>
                <td class="num">{formatCount(c.responses)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section id="impact-prompt-versions" title="Prompt versions" count={a.promptVersions.length}>
        <ConnectedTable
          rows={a.promptVersions}
          keyOf={(r) => `${r.name}\u0000${r.version}`}
          columns={[
            [
              'prompt version',
              (r) => (
                <>
                  <a href={versionPage(r.name, r.version)}>
                    {r.name} v{r.version}
                  </a>{' '}
                  <a class="hint" href={impactLink({ prompt: r.name, version: r.version })}>
                    impact
                  </a>
                </>
              ),
            ],
          ]}
          connectedBy={(r) => (a.target.kind === 'promptVersion' && a.target.name === r.name && String(a.target.version) === r.version ? <span class="muted">the starting point</span> : <ImpactPath connection={r} />)}
        />
      </Section>
      <Section id="impact-models" title="Models" count={a.models.length}>
        <ConnectedTable
          rows={a.models}
          keyOf={(r) => `${r.provider}\u0000${r.name}`}
          columns={[
            [
              'model',
              (r) => (
                <a href={impactLink({ model: r.name, provider: r.provider || undefined })} title="the impact of this model">
                  {r.provider ? `${r.provider}/` : ''}
                  {r.name}
                </a>
              ),
            ],
          ]}
        />
      </Section>
      <Section id="impact-datasets" title="Datasets" count={a.datasets.length}>
        <ConnectedTable
          rows={a.datasets}
          keyOf={(r) => r.id}
          columns={[
            [
              'dataset',
              (r) => (
                <a href={impactLink({ dataset: r.id })} title="the impact of this dataset">
                  {r.id}
                </a>
              ),
            ],
          ]}
        />
      </Section>
      <Section id="impact-evaluations" title="Evaluations" count={a.evaluations.length}>
        <table>
          <thead>
            <tr>
              <th scope="col">run</th>
              <th scope="col">scorer</th>
              <th scope="col" class="num">
                results
              </th>
              <th scope="col" class="num">
                mean score
              </th>
              <th scope="col">prompt versions</th>
              <th scope="col">datasets</th>
              <th scope="col">last seen</th>
              <th scope="col">connected by</th>
            </tr>
          </thead>
          <tbody>
            {a.evaluations.map((r) => (
              <tr key={`${r.runId}\u0000${r.scorer}`}>
                <td class="mono">{r.runId}</td>
                <td>{r.scorer}</td>
                <td class="num">{formatCount(r.results)}</td>
                <td class="num">{r.meanScore === null ? '—' : r.meanScore.toFixed(3)}</td>
                <td>{r.promptVersions.map((p) => `${p.name} v${p.version}`).join(', ')}</td>
                <td>{r.datasets.join(', ')}</td>
                <td>
                  <Time iso={r.lastSeen} />
                </td>
                <td>
                  <ImpactPath connection={r} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section id="impact-derived" title="Versions derived from it" count={a.derivedVersions.length}>
        <table>
          <thead>
            <tr>
              <th scope="col">prompt version</th>
              <th scope="col" class="num">
                steps away
              </th>
              <th scope="col">connected by</th>
            </tr>
          </thead>
          <tbody>
            {a.derivedVersions.map((r) => (
              <tr key={`${r.name}\u0000${r.version}`}>
                <td>
                  <a href={versionPage(r.name, r.version)}>
                    {r.name} v{r.version}
                  </a>
                </td>
                <td class="num">{r.depth}</td>
                <td>
                  <ImpactPath connection={r} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}

function Items(props: { items: ImpactItem[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">time</th>
          <th scope="col">response</th>
          <th scope="col">prompt</th>
          <th scope="col">model</th>
          <th scope="col">app</th>
          <th scope="col">service</th>
          <th scope="col">conversation</th>
          <th scope="col">datasets</th>
        </tr>
      </thead>
      <tbody>
        {props.items.map((r) => (
          <tr key={`${r.traceId}${r.spanId}`}>
            <td>
              <Time iso={r.timestamp} />
            </td>
            <td class="mono">
              {r.responseId ? <a href={`/responses/${seg(r.responseId)}`}>{r.responseId}</a> : <span class="muted">no id</span>}{' '}
              <a class="hint" href={withQuery(`/traces/${seg(r.traceId)}`, { span: r.spanId })}>
                trace
              </a>
            </td>
            <td>{r.prompt ? `${r.prompt.name} v${r.prompt.version}${r.prompt.alias ? ` @${r.prompt.alias}` : ''}` : <span class="muted">—</span>}</td>
            <td>{r.model ? `${r.model.provider ? `${r.model.provider}/` : ''}${r.model.name}` : <span class="muted">—</span>}</td>
            <td>
              {r.app.name} {r.app.version}
            </td>
            <td>{r.service}</td>
            <td>{r.conversationId ?? <span class="muted">—</span>}</td>
            <td>{r.datasets.join(', ')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ImpactResult(props: { answer: ImpactAnswer; query: Query; urlQuery: Record<string, string | undefined> }) {
  const location = useLocation();
  const a = props.answer;
  const [more, setMore] = useState<ImpactItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(a.responses.nextCursor);
  const [busy, setBusy] = useState(false);
  const [moreError, setMoreError] = useState<Error | null>(null);
  const list = withQuery('/responses', responsesQuery(a, props.urlQuery));
  const buckets = fillBuckets(a.responses.histogram, a.responses.bucketSeconds);
  const t = a.target;
  const scope = whatChangedScope(t);

  const loadMore = () => {
    if (!cursor) return;
    setBusy(true);
    setMoreError(null);
    api<ImpactAnswer>('/v1/impact', { query: { ...props.query, cursor } })
      .then((next) => {
        setMore((m) => [...m, ...next.responses.items]);
        setCursor(next.responses.nextCursor);
      })
      .catch((e: unknown) => setMoreError(e instanceof Error ? e : new Error(String(e))))
      .finally(() => setBusy(false));
  };

  return (
    <>
      <section class="panel impact-summary" aria-labelledby="impact-summary-title">
        <h2 id="impact-summary-title">What {describeTarget(t)} touched</h2>
        <p class="impact-total">
          <strong class="impact-count">{formatCount(a.responses.count)}</strong> affected {a.responses.count === 1 ? 'response' : 'responses'}
        </p>
        <TargetFacts answer={a} />
        <p class="impact-links">
          <a class="button primary" href={list}>
            Open {a.responses.count === 1 ? 'this response' : 'these responses'} in the response list
          </a>
          {t.kind === 'aliasMove' ? (
            <>
              {' '}
              <a class="button" href={withQuery('/responses', responsesQuery(a, props.urlQuery, true))}>
                Only those that asked for {t.alias}
              </a>
            </>
          ) : null}
        </p>
        {t.kind === 'aliasMove' ? (
          <p class="hint">
            The count takes the responses of {t.versions.map((v) => `v${v}`).join(', ')} while the move was in force from apps that asked for {t.alias} or named no alias; the response
            list shows every response of those versions in that window.
          </p>
        ) : null}
      </section>
      {buckets.length > 0 ? (
        <SimpleChart
          type="bar"
          title={`Affected responses per ${a.responses.bucketSeconds >= 86400 ? `${a.responses.bucketSeconds / 86400} d` : a.responses.bucketSeconds >= 3600 ? `${a.responses.bucketSeconds / 3600} h` : `${a.responses.bucketSeconds / 60} min`}`}
          labels={buckets.map((b) => bucketLabel(b.start, a.responses.bucketSeconds))}
          series={[{ label: 'responses', values: buckets.map((b) => b.count) }]}
          onSelect={(i) => {
            const b = buckets[i];
            if (!b) return;
            const end = new Date(Date.parse(b.start) + a.responses.bucketSeconds * 1000).toISOString();
            location.route(withQuery('/responses', { ...responsesQuery(a, props.urlQuery), from: b.start, to: end }));
          }}
        />
      ) : null}
      {buckets.length > 0 ? (
        <p class="hint">
          <a href={whatChangedPath({ ...scope, from: a.window.from, to: a.window.to })}>What changed in this window</a>
          {scope.prompt ? ' for this prompt' : scope.app ? ' for this app' : ''}: the lineage changes around it, ranked by how much of the error rate’s move each explains.
        </p>
      ) : null}
      <h2>Affected</h2>
      <Affected answer={a} />
      <section class="panel" aria-labelledby="impact-items-title">
        <h2 id="impact-items-title">
          Responses <span class="badge">{formatCount(a.responses.count)}</span>
        </h2>
        {a.responses.items.length === 0 ? (
          <p class="empty">No responses in this window.</p>
        ) : (
          <>
            <Items items={[...a.responses.items, ...more]} />
            <div class="pager">
              <span class="hint">
                {formatCount(a.responses.items.length + more.length)} of {formatCount(a.responses.count)} shown
              </span>
              {cursor ? (
                <button type="button" onClick={loadMore} disabled={busy}>
                  {busy ? 'Loading…' : 'More'}
                </button>
              ) : null}
            </div>
            <ErrorBox error={moreError} />
          </>
        )}
      </section>
    </>
  );
}

/** The scope of "what changed" for an impact's starting point: its prompt, or its app. */
function whatChangedScope(t: ImpactAnswer['target']): { prompt?: string; app?: string } {
  if (t.kind === 'promptVersion' || t.kind === 'aliasMove') return { prompt: t.name };
  if (t.kind === 'appVersion') return { app: t.name };
  return {};
}
