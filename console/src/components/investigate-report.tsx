import { useState } from 'preact/hooks';
import { download } from '../api.ts';
import { ErrorBox, Time } from './common.tsx';
import type { ComplianceReport, ReportSection } from './investigate-types.ts';

// A compliance report shown in the page from its JSON (sections of facts, tables and a verbatim
// template block), with its content hash, and downloads as Markdown, HTML and JSON.

const FORMATS = [
  { format: 'markdown', label: 'Markdown', ext: 'md', accept: 'text/markdown' },
  { format: 'html', label: 'HTML', ext: 'html', accept: 'text/html' },
  { format: 'json', label: 'JSON', ext: 'json', accept: 'application/json' },
] as const;

/** A file name from an id of any characters: only letters, digits, dot, dash and underscore stay. */
function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'report';
}

function Section(props: { section: ReportSection; index: number }) {
  const s = props.section;
  const id = `report-section-${props.index}`;
  return (
    <section class="report-section" aria-labelledby={id}>
      <h4 id={id}>{s.heading}</h4>
      {/* Labels may repeat (one "Dataset" a dataset): keyed by position, not by label. */}
      <dl class="facts">
        {s.facts.map(([k, v], i) => (
          <div key={i}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {s.block !== undefined ? (
        <>
          <p class="hint">Template:</p>
          <pre>{s.block}</pre>
        </>
      ) : null}
      {(s.tables ?? []).map((t, ti) =>
        t.rows.length === 0 ? (
          <p key={ti} class="muted">
            {t.caption}: none.
          </p>
        ) : (
          <div key={ti} class="table-scroll">
            <table>
              <caption>{t.caption}</caption>
              <thead>
                <tr>
                  {t.columns.map((c, ci) => (
                    <th key={ci} scope="col">
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {t.rows.map((row, ri) => (
                  <tr key={ri}>
                    {row.map((cell, ci) => (
                      <td key={ci}>{cell}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ),
      )}
    </section>
  );
}

export function ReportView(props: { report: ComplianceReport; responseId: string }) {
  const r = props.report;
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const save = (f: (typeof FORMATS)[number]) => {
    setBusy(f.format);
    setError(null);
    download('/v1/reports/compliance', { response_id: props.responseId, format: f.format }, `compliance-${fileSafe(props.responseId)}.${f.ext}`, f.accept)
      .catch((e: unknown) => setError(e instanceof Error ? e : new Error(String(e))))
      .finally(() => setBusy(null));
  };
  return (
    <section class="panel report" aria-labelledby="report-title">
      <h2 id="report-title">{r.title}</h2>
      <p class="hint">
        Generated <Time iso={r.generatedAt} /> by {r.generator}.
      </p>
      <p class="report-hash">
        Content hash (sha256 of the report's canonical JSON): <code class="hash">{r.contentHash}</code>
      </p>
      <div class="downloads" role="group" aria-label="Download the report">
        {FORMATS.map((f) => (
          <button key={f.format} type="button" disabled={busy !== null} onClick={() => save(f)}>
            {busy === f.format ? `Downloading ${f.label}…` : `Download ${f.label}`}
          </button>
        ))}
      </div>
      <p class="hint">Each download is generated when it is asked for: it carries its own generation time and its own content hash.</p>
      <ErrorBox error={error} />
      {r.sections.map((s, i) => (
        <Section key={i} section={s} index={i} />
      ))}
      <section class="report-section" aria-labelledby="report-audit">
        <h4 id="report-audit">Registry records behind it</h4>
        {r.auditEntries.length === 0 ? (
          <p class="muted">None.</p>
        ) : (
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {r.auditEntries.map((e, i) => (
                  <tr key={i}>
                    <td>
                      <Time iso={e.at} />
                    </td>
                    <td>{e.actor}</td>
                    <td>{e.action}</td>
                    <td>{e.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  );
}
