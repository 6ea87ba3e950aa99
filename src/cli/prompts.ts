import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import type { aliasListAnswer, diffAnswer, promptListAnswer, promptVersionAnswer, resolveAnswer, versionListAnswer } from '../api/registry-schemas.ts';
import { clientFrom, COMMON_FLAGS_HELP, oneLine, parse, positionals, print, printJson, table } from './args.ts';
import { CliError, UsageError, type ApiClient } from './http.ts';
import { ORIGIN_OPTIONS, ORIGIN_USAGE, originFromFlags } from './origin.ts';
import { describeOrigin } from '../domain/origin.ts';

// promptline prompts register | get | list | diff

type PromptVersionAnswer = z.infer<typeof promptVersionAnswer>;
type Template = PromptVersionAnswer['template'];
type AliasTarget = z.infer<typeof aliasListAnswer>['aliases'][number]['target'];

export const PROMPTS_USAGE = `Usage:
  promptline prompts register NAME (--file PATH | --text TEXT | --chat PATH) -m MESSAGE [--tag T]… [--base N]
      ${ORIGIN_USAGE}
      Register a new version of prompt NAME. --file reads a text template (- for stdin), --chat a
      JSON file holding [{"role","content"}, …]. --base: the version this one derives from (default: latest).
      --derived-from names registered versions (of any prompt) it came from; --optimizer and
      --optimizer-run the optimizer run that produced it (e.g. gepa, dspy.MIPROv2), with the dataset
      it was trained on, its scorer and score. Both are kept with the version, for impact and reports.
  promptline prompts get URI-or-NAME [--key K] [--at ISO-TIME]
      Print a version's template. NAME means prompts:/NAME@latest; also prompts:/NAME/3,
      prompts:/NAME@production, NAME/3, NAME@production. --key picks the arm of a split alias
      (a user or session id); --at resolves an alias as it was at that time.
  promptline prompts list [NAME]
      Without NAME: every prompt, its latest version and aliases. With NAME: its versions, newest first.
  promptline prompts diff NAME FROM TO
      A unified diff from version FROM to version TO.

${COMMON_FLAGS_HELP}`;

const PAGE = 500;

export async function promptsCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'register':
      return register(rest);
    case 'get':
      return get(rest);
    case 'list':
    case 'ls':
      return list(rest);
    case 'diff':
      return diff(rest);
    case 'help':
    case '--help':
    case '-h':
      return print(PROMPTS_USAGE);
    case undefined:
      throw new UsageError('missing a prompts command (register, get, list or diff)', PROMPTS_USAGE);
    default:
      throw new UsageError(`unknown prompts command "${sub}"`, PROMPTS_USAGE);
  }
}

const enc = encodeURIComponent;

/** A positive whole version number, "3" or "v3". */
export function versionArg(s: string, what: string): number {
  const m = /^v?(\d{1,10})$/i.exec(s.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${what} must be a version number such as 3, not "${s}"`);
  return n;
}

export function readInput(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the ${what} ${path === '-' ? 'from stdin' : `file ${path}`}: ${(err as Error).message}`);
  }
}

export function chatFrom(path: string): { messages: Array<{ role: string; content: string }> } {
  const raw = readInput(path, 'chat');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`${path} is not JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`${path} must hold a JSON array of messages: [{"role": "system", "content": "…"}, …]`);
  return {
    messages: list.map((m: unknown, i) => {
      const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
      if (typeof role !== 'string' || typeof content !== 'string') throw new UsageError(`${path}: message ${i} needs a string "role" and a string "content"`);
      return { role, content };
    }),
  };
}

async function register(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(
    args,
    {
      file: { type: 'string' },
      text: { type: 'string' },
      chat: { type: 'string' },
      message: { type: 'string', short: 'm' },
      tag: { type: 'string', multiple: true },
      base: { type: 'string' },
      ...ORIGIN_OPTIONS,
    },
    PROMPTS_USAGE,
  );
  if (values.help) return print(PROMPTS_USAGE);
  const [name] = positionals(pos, ['NAME'], PROMPTS_USAGE);
  const sources = (['file', 'text', 'chat'] as const).filter((k) => values[k] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError(sources.length === 0 ? 'give the template with --file, --text or --chat' : `give one of --file, --text and --chat, not ${sources.map((s) => `--${s}`).join(' and ')}`, PROMPTS_USAGE);
  }
  if (values.message === undefined || values.message.trim() === '') throw new UsageError('a commit message is required: -m "what changed and why"', PROMPTS_USAGE);
  const template = values.chat !== undefined ? chatFrom(values.chat) : values.file !== undefined ? readInput(values.file, 'template') : values.text!;
  const body = {
    template,
    commitMessage: values.message,
    tags: values.tag ?? [],
    ...(values.base !== undefined ? { baseVersion: versionArg(values.base, '--base') } : {}),
  };
  const origin = originFromFlags(values, PROMPTS_USAGE);
  if (origin) Object.assign(body, { origin });
  const v = await clientFrom(values).post<PromptVersionAnswer>(`/v1/prompts/${enc(name!)}/versions`, body);
  if (values.json) return printJson(v);
  print(`registered ${v.uri} (sha256 ${v.templateHash.slice(0, 12)}…)`);
}

/** What the user typed as a prompt URI: a bare NAME means the latest version. */
export function promptUri(s: string): string {
  const t = s.trim();
  if (t.startsWith('prompts:')) return t;
  if (/^[^/@]+$/.test(t)) return `prompts:/${t}@latest`;
  return `prompts:/${t}`;
}

export function templateText(t: Template): string {
  return t.type === 'text' ? t.text : t.messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n');
}

async function get(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, { key: { type: 'string' }, at: { type: 'string' } }, PROMPTS_USAGE);
  if (values.help) return print(PROMPTS_USAGE);
  const [ref] = positionals(pos, ['URI-or-NAME'], PROMPTS_USAGE);
  const r = await clientFrom(values).get<z.infer<typeof resolveAnswer>>('/v1/prompts/resolve', { uri: promptUri(ref!), key: values.key, at: values.at });
  if (values.json) return printJson(r);
  const v = r.version;
  print(`${v.uri}  "${oneLine(v.commitMessage, 200)}"  by ${v.author}  at ${v.createdAt}`);
  if (v.origin) print(`origin: ${oneLine(describeOrigin(v.origin), 400)}`);
  print(templateText(v.template));
}

async function allPages<T>(fetchPage: (offset: number) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await fetchPage(offset);
    out.push(...page);
    if (page.length < PAGE) return out;
  }
}

export function targetText(t: AliasTarget | null): string {
  if (!t) return 'none';
  if (t.split) return t.split.arms.map((a) => `v${a.version} ${a.weight}%`).join(' / ');
  return `v${t.version}`;
}

async function list(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, {}, PROMPTS_USAGE);
  if (values.help) return print(PROMPTS_USAGE);
  const [name] = positionals(pos, ['NAME'], PROMPTS_USAGE, 1);
  const client = clientFrom(values);
  if (name === undefined) return listPrompts(client, values.json === true);
  const versions = await allPages(
    async (offset) => (await client.get<z.infer<typeof versionListAnswer>>(`/v1/prompts/${enc(name)}/versions`, { limit: PAGE, offset })).versions,
  );
  if (values.json) return printJson({ name, total: versions.length, versions });
  if (versions.length === 0) throw new CliError(`prompt ${name} has no versions`);
  const { aliases } = await client.get<z.infer<typeof aliasListAnswer>>(`/v1/prompts/${enc(name)}/aliases`);
  const aliasesOf = (version: number) =>
    aliases
      .flatMap((a) => {
        if (a.target.version === version) return [a.alias];
        const arm = a.target.split?.arms.find((x) => x.version === version);
        return arm ? [`${a.alias} (${arm.weight}%)`] : [];
      })
      .join(', ');
  print(
    table(
      ['VERSION', 'CREATED', 'AUTHOR', 'ALIASES', 'MESSAGE'],
      versions.map((v) => [String(v.version), v.createdAt, v.author, aliasesOf(v.version), oneLine(v.commitMessage)]),
    ),
  );
}

async function listPrompts(client: ApiClient, json: boolean): Promise<void> {
  const prompts = await allPages(async (offset) => (await client.get<z.infer<typeof promptListAnswer>>('/v1/prompts', { limit: PAGE, offset })).prompts);
  if (json) return printJson({ prompts });
  if (prompts.length === 0) return print('no prompts registered yet: promptline prompts register NAME --text … -m …');
  print(table(['NAME', 'LATEST', 'ALIASES'], prompts.map((p) => [p.name, String(p.latestVersion), p.aliases.join(', ')])));
}

async function diff(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, {}, PROMPTS_USAGE);
  if (values.help) return print(PROMPTS_USAGE);
  const [name, from, to] = positionals(pos, ['NAME', 'FROM', 'TO'], PROMPTS_USAGE);
  const d = await clientFrom(values).get<z.infer<typeof diffAnswer>>(`/v1/prompts/${enc(name!)}/diff`, { from: versionArg(from!, 'FROM'), to: versionArg(to!, 'TO') });
  if (values.json) return printJson(d);
  print(d.unified);
}
