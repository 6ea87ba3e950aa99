import { createHash } from 'node:crypto';
import type { ComplianceReport } from './compliance.ts';

// A report as Markdown (for a ticket or a repository) and as self-contained, printable HTML.

// Markdown from strangers' text stays text: the characters that make inline syntax (emphasis, code,
// links, images, tables, strikethrough, math) are backslash-escaped, as CommonMark allows before any
// ASCII punctuation; <, > and & become entities so that no renderer sees raw HTML; the starts of
// autolinks (scheme://, www., e-mail addresses) are broken; line breaks of any kind become spaces,
// so a table row or a heading stays one line; other control characters are shown as U+XXXX. Block
// syntax needs no escape: every such text stands after a "| " or "# " on its line.
const MD_INLINE = /[\\`*_{}[\]()!|~$@]/g;
const LINE_BREAK = /\r\n|[\r\n\u0085\u2028\u2029]/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

export function mdText(s: string): string {
  return s
    .replace(LINE_BREAK, ' ')
    .replace(/\t/g, ' ')
    .replace(CONTROL, codePoint)
    .replace(MD_INLINE, (c) => `\\${c}`)
    .replace(/:\/\//g, '\\://')
    .replace(/\b(www)\./gi, '$1\\.')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** A fenced block that no run of backticks inside can close: the fence is longer than any of them. */
function mdFence(text: string): string[] {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}text`, text.replace(CONTROL, codePoint), fence];
}

export function toMarkdown(r: ComplianceReport): string {
  const out: string[] = [`# ${mdText(r.title)}`, '', `Generated ${mdText(r.generatedAt)} by ${mdText(r.generator)}.`, '', `Content hash (sha256 of the report's canonical JSON): \`${r.contentHash}\``, ''];
  for (const s of r.sections) {
    out.push(`## ${mdText(s.heading)}`, '');
    out.push('| | |', '| --- | --- |', ...s.facts.map(([k, v]) => `| ${mdText(k)} | ${mdText(v)} |`), '');
    if (s.block !== undefined) out.push('Template:', '', ...mdFence(s.block), '');
    for (const t of s.tables ?? []) {
      if (t.rows.length === 0) {
        out.push(`${mdText(t.caption)}: none.`, '');
        continue;
      }
      out.push(`${mdText(t.caption)}:`, '', `| ${t.columns.map(mdText).join(' | ')} |`, `| ${t.columns.map(() => '---').join(' | ')} |`, ...t.rows.map((row) => `| ${row.map(mdText).join(' | ')} |`), '');
    }
  }
  out.push('## Registry records behind it', '');
  if (r.auditEntries.length === 0) out.push('None.', '');
  else out.push('| Time | Actor | Action | Detail |', '| --- | --- | --- | --- |', ...r.auditEntries.map((e) => `| ${mdText(e.at)} | ${mdText(e.actor)} | ${mdText(e.action)} | ${mdText(e.detail)} |`), '');
  return out.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const STYLE = `
  body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.6rem; margin-bottom: .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; }
  .meta { color: #57606a; } code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12.5px; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; } th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left; vertical-align: top; word-break: break-word; }
  th { background: #f6f8fa; } table.facts th { width: 14rem; } caption { text-align: left; font-weight: 600; padding: .25rem 0; }
  pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: .75rem; white-space: pre-wrap; }
  .hash { word-break: break-all; }
  @media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } table, pre { break-inside: avoid; } }`;

/**
 * The Content-Security-Policy the HTML report is served with: nothing loads or runs but its own
 * style sheet, named by hash, so even markup that escaped the escaping could not act.
 */
export const HTML_REPORT_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export function toHtml(r: ComplianceReport): string {
  const parts: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(r.title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${esc(r.title)}</h1>`,
    `<p class="meta">Generated ${esc(r.generatedAt)} by ${esc(r.generator)}.<br>Content hash (sha256 of the report's canonical JSON): <code class="hash">${esc(r.contentHash)}</code></p>`,
  ];
  for (const s of r.sections) {
    parts.push(`<h2>${esc(s.heading)}</h2>`, '<table class="facts"><tbody>', ...s.facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`), '</tbody></table>');
    if (s.block !== undefined) parts.push('<p>Template:</p>', `<pre>${esc(s.block)}</pre>`);
    for (const t of s.tables ?? []) {
      if (t.rows.length === 0) {
        parts.push(`<p>${esc(t.caption)}: none.</p>`);
        continue;
      }
      parts.push(`<table><caption>${esc(t.caption)}</caption><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>`, ...t.rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`), '</tbody></table>');
    }
  }
  parts.push('<h2>Registry records behind it</h2>');
  if (r.auditEntries.length === 0) parts.push('<p>None.</p>');
  else parts.push('<table><thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Detail</th></tr></thead><tbody>', ...r.auditEntries.map((e) => `<tr><td>${esc(e.at)}</td><td>${esc(e.actor)}</td><td>${esc(e.action)}</td><td>${esc(e.detail)}</td></tr>`), '</tbody></table>');
  parts.push('</body></html>', '');
  return parts.join('\n');
}
