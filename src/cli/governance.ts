import { COMMON_FLAGS_HELP, clientFrom, parse, positionals, print, printJson, table } from './args.ts';
import { CliError, UsageError } from './http.ts';

// promptline keys create|list|revoke — admin calls over the API. (promptline audit: audit.ts.)

const KEYS_USAGE = `Usage:
  promptline keys create --role app|ingest|read|edit|admin|metrics [--project P] [--name N] [--promote] [--instance-admin] [--expires ISO-TIME]
  promptline keys list [--project P]
  promptline keys revoke ID

The new key is printed once; only its hash is stored. Needs an admin key (PROMPTLINE_API_KEY), which
manages the keys of its own project; an instance admin key (the bootstrap key) manages those of any
project: --project on create and list, and revoke by id wherever the key is. Give an agent app a key
with role app: it sends spans and loads prompts, and reads nothing else; a Prometheus scraper one with
role metrics: it reads GET /metrics, and nothing else.

${COMMON_FLAGS_HELP}`;

export async function keysCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals: pos } = parse(rest, { role: { type: 'string' }, project: { type: 'string' }, name: { type: 'string' }, promote: { type: 'boolean' }, 'instance-admin': { type: 'boolean' }, expires: { type: 'string' } }, KEYS_USAGE);
  if (values.help || sub === undefined || sub === '--help' || sub === '-h') return print(KEYS_USAGE);
  const api = clientFrom(values);
  if (sub === 'create') {
    positionals(pos, [], KEYS_USAGE);
    if (!values.role) throw new UsageError('--role is needed', KEYS_USAGE);
    const k = await api.post<{ id: string; key: string; role: string; project: string; instanceAdmin: boolean; expiresAt: string | null }>('/v1/keys', {
      role: values.role,
      ...(values.project ? { project: values.project } : {}),
      ...(values.name ? { name: values.name } : {}),
      promote: values.promote ?? false,
      ...(values['instance-admin'] ? { instanceAdmin: true } : {}),
      ...(values.expires ? { expiresAt: values.expires } : {}),
    });
    if (values.json) return printJson(k);
    return print(`created key ${k.id} (role ${k.role}${k.instanceAdmin ? ', instance admin' : ''}, project ${k.project}${k.expiresAt ? `, expires ${k.expiresAt}` : ''}). It is shown this once:\n\n  ${k.key}\n`);
  }
  if (sub === 'list') {
    positionals(pos, [], KEYS_USAGE);
    const { keys } = await api.get<{ keys: Array<{ id: string; name: string; role: string; promote: boolean; project: string; instanceAdmin: boolean; createdAt: string; expiresAt: string | null; revokedAt: string | null }> }>('/v1/keys', { project: values.project });
    if (values.json) return printJson({ keys });
    const role = (k: (typeof keys)[number]) => k.role + (k.instanceAdmin ? '+instance' : '') + (k.promote ? '+promote' : '');
    return print(table(['ID', 'NAME', 'ROLE', 'PROJECT', 'CREATED', 'EXPIRES', 'STATE'], keys.map((k) => [k.id, k.name, role(k), k.project, k.createdAt, k.expiresAt ?? '—', k.revokedAt ? `revoked ${k.revokedAt}` : 'active'])));
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
