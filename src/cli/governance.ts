import { COMMON_FLAGS_HELP, clientFrom, parse, positionals, print, printJson, table } from './args.ts';
import { CliError, UsageError } from './http.ts';

// promptline keys create|list|revoke, promptline audit list|verify — admin calls over the API.

const KEYS_USAGE = `Usage:
  promptline keys create --role ingest|read|edit|admin [--project P] [--name N] [--promote] [--expires ISO-TIME]
  promptline keys list
  promptline keys revoke ID

The new key is printed once; only its hash is stored. Needs an admin key (PROMPTLINE_API_KEY).

${COMMON_FLAGS_HELP}`;

export async function keysCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals: pos } = parse(rest, { role: { type: 'string' }, project: { type: 'string' }, name: { type: 'string' }, promote: { type: 'boolean' }, expires: { type: 'string' } }, KEYS_USAGE);
  if (values.help || sub === undefined || sub === '--help' || sub === '-h') return print(KEYS_USAGE);
  const api = clientFrom(values);
  if (sub === 'create') {
    positionals(pos, [], KEYS_USAGE);
    if (!values.role) throw new UsageError('--role is needed', KEYS_USAGE);
    const k = await api.post<{ id: string; key: string; role: string; project: string; expiresAt: string | null }>('/v1/keys', {
      role: values.role,
      ...(values.project ? { project: values.project } : {}),
      ...(values.name ? { name: values.name } : {}),
      promote: values.promote ?? false,
      ...(values.expires ? { expiresAt: values.expires } : {}),
    });
    if (values.json) return printJson(k);
    return print(`created key ${k.id} (role ${k.role}, project ${k.project}${k.expiresAt ? `, expires ${k.expiresAt}` : ''}). It is shown this once:\n\n  ${k.key}\n`);
  }
  if (sub === 'list') {
    positionals(pos, [], KEYS_USAGE);
    const { keys } = await api.get<{ keys: Array<{ id: string; name: string; role: string; promote: boolean; createdAt: string; expiresAt: string | null; revokedAt: string | null }> }>('/v1/keys');
    if (values.json) return printJson({ keys });
    return print(table(['ID', 'NAME', 'ROLE', 'CREATED', 'EXPIRES', 'STATE'], keys.map((k) => [k.id, k.name, k.role + (k.promote ? '+promote' : ''), k.createdAt, k.expiresAt ?? '—', k.revokedAt ? `revoked ${k.revokedAt}` : 'active'])));
  }
  if (sub === 'revoke') {
    const [id] = positionals(pos, ['ID'], KEYS_USAGE);
    await api.request('DELETE', `/v1/keys/${encodeURIComponent(id!)}`).catch((err: unknown) => {
      // 204 has no JSON body; anything else is an error the client already phrased.
      if (err instanceof CliError && /without JSON/.test(err.message)) return;
      throw err;
    });
    return print(`revoked key ${id}`);
  }
  throw new UsageError(`unknown keys command "${sub}"`, KEYS_USAGE);
}

const AUDIT_USAGE = `Usage:
  promptline audit list [--actor A] [--action A] [--target T] [--since ISO] [--until ISO] [--limit N]
  promptline audit verify

verify walks the whole hash-chained audit log and exits 1, naming the first bad entry, if any
entry was edited, deleted or reordered, or entries were cut off the end.

${COMMON_FLAGS_HELP}`;

export async function auditCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals: pos } = parse(rest, { actor: { type: 'string' }, action: { type: 'string' }, target: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' } }, AUDIT_USAGE);
  if (values.help || sub === undefined || sub === '--help' || sub === '-h') return print(AUDIT_USAGE);
  const api = clientFrom(values);
  positionals(pos, [], AUDIT_USAGE);
  if (sub === 'list') {
    const r = await api.get<{ entries: Array<{ seq: number; at: string; actor: string; action: string; target: string }> }>('/v1/audit', {
      actor: values.actor,
      action: values.action,
      target: values.target,
      since: values.since,
      until: values.until,
      limit: values.limit,
    });
    if (values.json) return printJson(r);
    return print(table(['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET'], r.entries.map((e) => [String(e.seq), e.at, e.actor, e.action, e.target])));
  }
  if (sub === 'verify') {
    const r = await api.get<{ ok: boolean; entries: number; problem: { seq: number | null; reason: string } | null; head: { seq: number; hash: string } | null }>('/v1/audit/verify');
    if (values.json) printJson(r);
    else if (r.ok) print(`the audit log is intact: ${r.entries} entries${r.head ? `, head ${r.head.seq} ${r.head.hash.slice(0, 16)}…` : ''}`);
    if (!r.ok) throw new CliError(`the audit log has been tampered with: ${r.problem?.reason ?? 'unknown problem'} (${r.entries} entries intact before it)`);
    return;
  }
  throw new UsageError(`unknown audit command "${sub}"`, AUDIT_USAGE);
}
