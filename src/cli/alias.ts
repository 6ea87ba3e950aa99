import type { z } from 'zod';
import type { aliasHistoryAnswer, aliasMoveAnswer } from '../api/registry-schemas.ts';
import { clientFrom, COMMON_FLAGS_HELP, oneLine, parse, positionals, print, printJson, table } from './args.ts';
import { UsageError } from './http.ts';
import { targetText, versionArg } from './prompts.ts';

// promptline alias set | history | rollback

type Move = z.infer<typeof aliasMoveAnswer>;

export const ALIAS_USAGE = `Usage:
  promptline alias set NAME ALIAS VERSION --reason R
      Point ALIAS of prompt NAME at VERSION (the alias is created on its first move).
  promptline alias set NAME ALIAS --split V:W,V:W… --reason R
      Split the alias's traffic over versions by weight in percent, e.g. --split 3:90,4:10.
  promptline alias history NAME ALIAS
      Every move of the alias: move, time, actor, from → to, reason.
  promptline alias rollback NAME ALIAS --reason R
      Move the alias back to where it pointed before its last move.
  set and rollback take --expect-move N: move only if the alias is still at move N (0: never set).

${COMMON_FLAGS_HELP}`;

export async function aliasCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'set':
    case 'move':
      return set(rest);
    case 'history':
      return history(rest);
    case 'rollback':
      return rollback(rest);
    case 'help':
    case '--help':
    case '-h':
      return print(ALIAS_USAGE);
    case undefined:
      throw new UsageError('missing an alias command (set, history or rollback)', ALIAS_USAGE);
    default:
      throw new UsageError(`unknown alias command "${sub}"`, ALIAS_USAGE);
  }
}

const enc = encodeURIComponent;

/** "3:90,4:10" → [{version: 3, weight: 90}, {version: 4, weight: 10}]. */
export function parseSplit(s: string): Array<{ version: number; weight: number }> {
  const arms = s.split(',').map((part) => {
    const m = /^\s*v?(\d+)\s*:\s*(\d+(?:\.\d+)?)\s*%?\s*$/i.exec(part);
    if (!m) throw new UsageError(`--split takes VERSION:WEIGHT pairs separated by commas, e.g. 3:90,4:10; "${part}" is not one`, ALIAS_USAGE);
    const version = versionArg(m[1]!, '--split');
    const weight = Number(m[2]);
    if (!(weight > 0)) throw new UsageError(`--split: the weight of v${version} must be above 0`, ALIAS_USAGE);
    return { version, weight };
  });
  if (arms.length < 2) throw new UsageError('--split needs at least two VERSION:WEIGHT pairs, e.g. 3:90,4:10', ALIAS_USAGE);
  return arms;
}

function reasonOf(reason: string | undefined): string {
  if (reason === undefined || reason.trim() === '') throw new UsageError('--reason is required: say why the alias moves', ALIAS_USAGE);
  return reason;
}

function expectSeqOf(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d{1,9}$/.test(s.trim())) throw new UsageError(`--expect-move takes a move number such as 4, not "${s}"`, ALIAS_USAGE);
  return Number(s);
}

export function moveLine(m: Move): string {
  return `${m.alias}: ${targetText(m.from)} → ${targetText(m.to)} (move ${m.seq}${m.rollback ? ', rollback' : ''})`;
}

async function set(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, { split: { type: 'string' }, reason: { type: 'string' }, 'expect-move': { type: 'string' } }, ALIAS_USAGE);
  if (values.help) return print(ALIAS_USAGE);
  const [name, alias, version] = positionals(pos, ['NAME', 'ALIAS', 'VERSION'], ALIAS_USAGE, 1);
  if (version === undefined && values.split === undefined) throw new UsageError('give a VERSION or --split', ALIAS_USAGE);
  if (version !== undefined && values.split !== undefined) throw new UsageError('give a VERSION or --split, not both', ALIAS_USAGE);
  const target = values.split !== undefined ? { split: parseSplit(values.split) } : { version: versionArg(version!, 'VERSION') };
  const expectSeq = expectSeqOf(values['expect-move']);
  const body = { ...target, reason: reasonOf(values.reason), ...(expectSeq !== undefined ? { expectSeq } : {}) };
  const move = await clientFrom(values).put<Move>(`/v1/prompts/${enc(name!)}/aliases/${enc(alias!)}`, body);
  if (values.json) return printJson(move);
  print(moveLine(move));
}

async function rollback(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, { reason: { type: 'string' } }, ALIAS_USAGE);
  if (values.help) return print(ALIAS_USAGE);
  const [name, alias] = positionals(pos, ['NAME', 'ALIAS'], ALIAS_USAGE);
  const move = await clientFrom(values).post<Move>(`/v1/prompts/${enc(name!)}/aliases/${enc(alias!)}/rollback`, { reason: reasonOf(values.reason) });
  if (values.json) return printJson(move);
  print(moveLine(move));
}

async function history(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, {}, ALIAS_USAGE);
  if (values.help) return print(ALIAS_USAGE);
  const [name, alias] = positionals(pos, ['NAME', 'ALIAS'], ALIAS_USAGE);
  const h = await clientFrom(values).get<z.infer<typeof aliasHistoryAnswer>>(`/v1/prompts/${enc(name!)}/aliases/${enc(alias!)}/history`);
  if (values.json) return printJson(h);
  print(
    table(
      ['MOVE', 'TIME', 'ACTOR', 'FROM → TO', 'REASON'],
      h.moves.map((m) => [String(m.seq), m.at, m.actor, `${targetText(m.from)} → ${targetText(m.to)}`, `"${oneLine(m.reason, 200)}"${m.rollback ? '  (rollback)' : ''}`]),
    ),
  );
}
