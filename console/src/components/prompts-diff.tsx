import type { RegistryDiff } from '../types.ts';

// A unified diff drawn side by side: the older version on the left, the newer on the right.
// Removed lines are on the left only (red), added lines on the right only (green), unchanged
// lines on both sides; a run of removals next to a run of additions is paired line by line, as a
// change reads. Each changed line also carries a − or + mark, so the colour is not the only sign.

export interface DiffCell {
  kind: 'del' | 'add' | 'same' | 'gap';
  line: number | null;
  text: string;
}

export type DiffRow = { kind: 'hunk'; header: string } | { kind: 'lines'; left: DiffCell; right: DiffCell };

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/;
const GAP: DiffCell = { kind: 'gap', line: null, text: '' };

/** The rows of a side-by-side view of a unified diff (as `diff`'s formatPatch writes it). */
export function sideBySide(unified: string): DiffRow[] {
  const rows: DiffRow[] = [];
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  let removed: DiffCell[] = [];
  let added: DiffCell[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i++) rows.push({ kind: 'lines', left: removed[i] ?? GAP, right: added[i] ?? GAP });
    removed = [];
    added = [];
  };
  const lines = unified.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const hunk = HUNK.exec(line);
    if (hunk) {
      flush();
      inHunk = true;
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[2]);
      rows.push({ kind: 'hunk', header: line });
      continue;
    }
    // Before the first hunk: the file header (=====, --- a, +++ b).
    if (!inHunk) continue;
    if (line.startsWith('\\')) continue; // "\ No newline at end of file"
    const mark = line[0];
    const text = line.slice(1);
    if (mark === '-') removed.push({ kind: 'del', line: oldLine++, text });
    else if (mark === '+') added.push({ kind: 'add', line: newLine++, text });
    else {
      flush();
      rows.push({ kind: 'lines', left: { kind: 'same', line: oldLine++, text }, right: { kind: 'same', line: newLine++, text } });
    }
  }
  flush();
  return rows;
}

function Cell(props: { cell: DiffCell; side: 'left' | 'right' }) {
  const c = props.cell;
  const mark = c.kind === 'del' ? '−' : c.kind === 'add' ? '+' : ' ';
  const what = c.kind === 'del' ? 'removed' : c.kind === 'add' ? 'added' : c.kind === 'same' ? 'unchanged' : 'no line';
  return (
    <div class={`cell ${c.kind} ${props.side}`} role="cell" title={c.line === null ? undefined : `line ${c.line}, ${what}`}>
      {c.kind === 'gap' ? null : (
        <>
          <span class="diff-ln" aria-hidden="true">
            {c.line}
          </span>
          <span class="diff-mark" aria-label={what}>
            {mark}
          </span>
          <span class="diff-text">{c.text}</span>
        </>
      )}
    </div>
  );
}

export function SideBySideDiff(props: { diff: RegistryDiff }) {
  const d = props.diff;
  const rows = sideBySide(d.unified);
  return (
    <div>
      <p class="diff-summary">
        <span class="badge bad">−{d.removed} removed</span> <span class="badge ok">+{d.added} added</span>{' '}
        <span class="muted">
          {d.removed + d.added === 1 ? 'line' : 'lines'} from version {d.from} to version {d.to}
          {d.type === 'mixed' ? ' (one is a text template, the other a chat template)' : ''}
        </span>
      </p>
      {d.messages ? <MessageChanges diff={d} /> : null}
      {rows.length === 0 ? (
        <p class="empty">The two versions have the same template.</p>
      ) : (
        <div class="diff" role="table" aria-label={`Side-by-side diff of v${d.from} and v${d.to}`}>
          <div class="diff-row" role="row">
            <div class="cell diff-head" role="columnheader">
              Version {d.from}
            </div>
            <div class="cell diff-head" role="columnheader">
              Version {d.to}
            </div>
          </div>
          {rows.map((r, i) =>
            r.kind === 'hunk' ? (
              <div class="diff-row" role="row" key={i}>
                <div class="cell gap diff-hunk" role="cell">
                  {r.header}
                </div>
                <div class="cell gap diff-hunk" role="cell">
                  {r.header}
                </div>
              </div>
            ) : (
              <div class="diff-row" role="row" key={i}>
                <Cell cell={r.left} side="left" />
                <Cell cell={r.right} side="right" />
              </div>
            ),
          )}
        </div>
      )}
    </div>
  );
}

/** For two chat templates: what happened to each message, paired by position. */
function MessageChanges(props: { diff: RegistryDiff }) {
  const messages = props.diff.messages ?? [];
  return (
    <table class="diff-messages" aria-label="Messages">
      <thead>
        <tr>
          <th scope="col">Message</th>
          <th scope="col">Change</th>
          <th scope="col">Role in version {props.diff.from}</th>
          <th scope="col">Role in version {props.diff.to}</th>
        </tr>
      </thead>
      <tbody>
        {messages.map((m) => (
          <tr key={m.index}>
            <td>{m.index + 1}</td>
            <td>
              <span class={`badge ${m.change === 'removed' ? 'bad' : m.change === 'added' ? 'ok' : m.change === 'changed' ? 'warn' : ''}`}>{m.change}</span>
            </td>
            <td>{m.from?.role ?? <span class="muted">—</span>}</td>
            <td>{m.to?.role ?? <span class="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
