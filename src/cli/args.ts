import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ApiClient, serverUrl, UsageError } from './http.ts';
import { terminalLine, terminalText } from './terminal.ts';

// Flag parsing shared by the client commands: node:util parseArgs, strict, with --url, --json and
// --help accepted by every command. A parse failure is a usage error (exit 2).

export const COMMON_OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export const COMMON_FLAGS_HELP = `Every command takes:
  --url URL    the server (default: PROMPTLINE_URL, else http://127.0.0.1:4318)
  --json       print the API's answer as JSON
  -h, --help   print this help
PROMPTLINE_API_KEY, when set, is sent as "Authorization: Bearer <key>".`;

export function parse<O extends ParseArgsOptionsConfig>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // parseArgs explains at length ("To specify a positional argument…"): its first sentence is enough.
    if (code.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((err as Error).message.split(/\.\s|\n/)[0]!, usage);
    throw err;
  }
}

/** Exactly `names.length` positionals, each required. */
export function positionals(given: string[], names: string[], usage: string, optional = 0): string[] {
  const required = names.length - optional;
  if (given.length < required) throw new UsageError(`missing ${names.slice(given.length, required).join(' ')}`, usage);
  if (given.length > names.length) throw new UsageError(`unexpected argument "${given[names.length]}"`, usage);
  return given;
}

export function clientFrom(values: { url?: string | undefined }): ApiClient {
  return new ApiClient(serverUrl(values.url), process.env.PROMPTLINE_API_KEY);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text: string): void {
  const safe = terminalText(text);
  process.stdout.write(safe.endsWith('\n') ? safe : `${safe}\n`);
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows].map((r) => r.map(terminalLine));
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + c.length - [...c].length))).join('  ').trimEnd())
    .join('\n');
}

/** A single line: newlines and runs of space shown as one space, cut at `max` characters. */
export function oneLine(s: string, max = 80): string {
  const flat = terminalLine(s.replace(/\s+/g, ' ').trim());
  return [...flat].length > max ? `${[...flat].slice(0, max - 1).join('')}…` : flat;
}
