import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError, PromptlineError } from '../common/errors.ts';
import { loadConfig } from '../config.ts';
import { formatHead, parseHead, readHeadFile, type AuditHead } from '../governance/audit-anchor.ts';
import { parseExport } from '../governance/audit-export.ts';
import type { VerifyResult } from '../governance/audit-verify.ts';
import { COMMON_FLAGS_HELP, clientFrom, parse, positionals, print, printJson, table } from './args.ts';
import { CliError, UsageError } from './http.ts';

// promptline audit list | export | verify. list and export are admin calls over the API; verify asks
// the server, or needs none: it reads an export file or a data directory's stores itself.

const AUDIT_USAGE = `Usage:
  promptline audit list [--project P] [--actor A] [--action A] [--target T] [--since ISO] [--until ISO] [--limit N]
  promptline audit export --out FILE
  promptline audit verify [--head SEQ:HASH | --head-file FILE]
  promptline audit verify --file EXPORT [--anchor FILE] [--head SEQ:HASH | --head-file FILE]
  promptline audit verify --data-dir DIR [--head SEQ:HASH | --head-file FILE]

verify walks the whole hash-chained audit log and exits 1, naming what is wrong, if an entry was
edited, deleted or reordered, entries were cut off the end, or a prompt version or alias move no
longer matches the entry that recorded it. It prints the head (SEQ:HASH) every time: keep it where
whoever runs the server cannot write, and give it back with --head next time. Only a head kept
outside shows that nothing was cut off the end and the log was not rewritten and hashed again.

Without --file or --data-dir, verify and export ask the server (the whole chain needs an instance
admin key). With them, no server is needed:
  --file EXPORT    an export (promptline audit export, or GET /v1/audit/export)
  --data-dir DIR   a data directory (PROMPTLINE_DATA_DIR), read directly: its SQLite file, or the
                   Neo4j NEO4J_URL names (NEO4J_USER, NEO4J_PASSWORD); its anchor DIR/audit-head.json;
                   every prompt version and alias move is checked against its entry
  --head-file FILE a head file Promptline wrote (PROMPTLINE_AUDIT_HEAD_FILE), as the kept head
PROMPTLINE_AUDIT_SECRET, when set, checks the anchor's signature.

${COMMON_FLAGS_HELP}`;

const OPTIONS = {
  project: { type: 'string' },
  actor: { type: 'string' },
  action: { type: 'string' },
  target: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  out: { type: 'string' },
  head: { type: 'string' },
  'head-file': { type: 'string' },
  file: { type: 'string' },
  anchor: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

type Answer = Omit<VerifyResult, 'byProject'> & { scope?: 'instance' | 'project' };

export async function auditCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals: pos } = parse(rest, OPTIONS, AUDIT_USAGE);
  if (values.help || sub === undefined || sub === '--help' || sub === '-h') return print(AUDIT_USAGE);
  positionals(pos, [], AUDIT_USAGE);
  if (sub === 'list') {
    const r = await clientFrom(values).get<{ entries: Array<{ projectSeq: number | null; at: string; actor: string; action: string; target: string }> }>('/v1/audit', {
      project: values.project,
      actor: values.actor,
      action: values.action,
      target: values.target,
      since: values.since,
      until: values.until,
      limit: values.limit,
    });
    if (values.json) return printJson(r);
    return print(table(['#', 'TIME', 'ACTOR', 'ACTION', 'TARGET'], r.entries.map((e) => [String(e.projectSeq ?? '—'), e.at, e.actor, e.action, e.target])));
  }
  if (sub === 'export') {
    if (!values.out) throw new UsageError('--out FILE is needed', AUDIT_USAGE);
    const { text, headers } = await clientFrom(values).getText('/v1/audit/export');
    const entries = parseExport(text);
    writeDurably(values.out, text);
    const last = entries.at(-1);
    if (values.json) return printJson({ file: values.out, entries: entries.length, head: last && headers.get('promptline-audit-scope') === 'instance' ? { seq: last.seq, hash: last.hash } : null });
    if (headers.get('promptline-audit-scope') !== 'instance') return print(`wrote the ${entries.length} entries of this key's project to ${values.out} (the whole chain, to verify offline, needs an instance admin key)`);
    return print(`wrote ${entries.length} entries to ${values.out}\nhead ${last ? formatHead(last) : 'none (the log is empty)'}`);
  }
  if (sub === 'verify') {
    if (values.head && values['head-file']) throw new UsageError('give the kept head once: --head or --head-file', AUDIT_USAGE);
    if (values.file && values['data-dir']) throw new UsageError('verify one thing: --file or --data-dir', AUDIT_USAGE);
    if (values.anchor && !values.file) throw new UsageError('--anchor goes with --file (a data directory has its own)', AUDIT_USAGE);
    const kept = keptHead(values.head, values['head-file']);
    let r: Answer;
    if (values.file || values['data-dir']) {
      r = await verifyOffline(values.file, values.anchor, values['data-dir'], kept);
    } else {
      r = await clientFrom(values).get<Answer>('/v1/audit/verify', { head: kept ? formatHead(kept) : undefined });
    }
    if (values.json) printJson(r);
    else print(describe(r));
    if (!r.ok) {
      const more = r.problems.length > 1 ? ` (and ${r.problems.length - 1} more, above)` : '';
      throw new CliError(`the audit log does not verify: ${r.problem?.reason ?? 'unknown problem'}${more}`);
    }
    return;
  }
  throw new UsageError(`unknown audit command "${sub}"`, AUDIT_USAGE);
}

/** Reads what it verifies itself; what it cannot read (a file, a store, the environment) is a clear failure, exit 1. */
async function verifyOffline(file: string | undefined, anchor: string | undefined, dataDir: string | undefined, kept: AuditHead | undefined): Promise<Answer> {
  try {
    const input = { kept, config: loadConfig() };
    // Loaded here only: the stores' code is for offline verification alone among the client commands.
    const offline = await import('./audit-offline.ts');
    const { byProject: _byProject, ...whole } = file ? await offline.verifyExportFile(file, anchor, input) : await offline.verifyDataDir(dataDir!, input);
    return whole;
  } catch (err) {
    if (err instanceof PromptlineError || err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

function keptHead(head: string | undefined, headFile: string | undefined): AuditHead | undefined {
  try {
    if (head) return parseHead(head);
  } catch (err) {
    throw new UsageError((err as PromptlineError).message, AUDIT_USAGE);
  }
  if (!headFile) return undefined;
  const f = readHeadFile(headFile);
  if (f.state !== 'present') throw new UsageError(`--head-file ${headFile}: ${f.state === 'missing' ? 'no such file' : f.reason}`, AUDIT_USAGE);
  return f.head;
}

function describe(r: Answer): string {
  const lines = [r.ok ? `the audit log is intact: ${r.entries} entries` : `the audit log does not verify (${r.entries} entries read):`];
  for (const p of r.problems) lines.push(`  problem: ${p.reason}`);
  if (r.scope === 'project') {
    lines.push("  (of this key's project; the whole chain, its head and where it breaks are for an instance admin key)");
    return lines.join('\n');
  }
  lines.push(r.head ? `head ${formatHead(r.head)}` : 'head: none (the log is empty)');
  lines.push(`anchor: ${{ signed: 'signed, and the signature checks with PROMPTLINE_AUDIT_SECRET', unsigned: 'unsigned: trust it only together with a head kept elsewhere', missing: 'missing', none: 'none (an export has none unless --anchor is given)' }[r.anchor]}`);
  if (r.registry) lines.push(`registry: ${count(r.registry.versions, 'prompt version')} and ${count(r.registry.moves, 'alias move')} checked against their entries`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function writeDurably(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
