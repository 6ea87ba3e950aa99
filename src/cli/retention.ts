import { COMMON_FLAGS_HELP, clientFrom, parse, positionals, print, printJson } from './args.ts';
import { UsageError } from './http.ts';

// promptline retention [--days N | --unlimited] and promptline delete trace|conversation ID: the
// project's span retention and deletion requests, over the API.

const RETENTION_USAGE = `Usage:
  promptline retention                 how long the key's project keeps its spans
  promptline retention --days N        keep them N days (needs an admin key)
  promptline retention --unlimited     keep them as long as the store does (the default)

Spans, and every row made from them, expire N days after they started; ClickHouse deletes them at
merges, in the background. The registry, aliases, proposals, keys, the audit log and the lineage
graph never expire. Each change is in the audit log.

${COMMON_FLAGS_HELP}`;

const DELETE_USAGE = `Usage:
  promptline delete trace TRACE-ID                  every row of the trace, from every span table
  promptline delete conversation CONVERSATION-ID    every trace of the conversation

A privacy request, in the key's project (needs an admin key). The audit log records the trace ids
and how many rows were removed, never their content. Spans of the trace that arrive later are
stored again.

${COMMON_FLAGS_HELP}`;

interface RetentionAnswer {
  project: string;
  spanDays: number | null;
  changedAt: string | null;
  changedBy: string | null;
  /** `spans`: how long; every other entry names what is kept for ever. */
  kept: { spans: string } & Record<string, string>;
}

/** The names of what the server keeps for ever, in words, where the name alone is not (registry, aliases, proposals, keys). */
const KEPT_WORDS: Record<string, string> = { audit: 'audit log', lineageGraph: 'lineage graph' };

const inWords = (names: string[]) => (names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]!}`);

export async function retentionCommand(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, { days: { type: 'string' }, unlimited: { type: 'boolean' } }, RETENTION_USAGE);
  if (values.help) return print(RETENTION_USAGE);
  positionals(pos, [], RETENTION_USAGE);
  if (values.days !== undefined && values.unlimited) throw new UsageError('give --days N or --unlimited, not both', RETENTION_USAGE);
  const api = clientFrom(values);
  let answer: RetentionAnswer;
  if (values.days !== undefined) {
    if (!/^[1-9][0-9]*$/.test(values.days)) throw new UsageError(`--days takes a whole number of days, at least 1 (not "${values.days}")`, RETENTION_USAGE);
    answer = await api.put<RetentionAnswer>('/v1/retention', { spanDays: Number(values.days) });
  } else if (values.unlimited) {
    answer = await api.put<RetentionAnswer>('/v1/retention', { spanDays: null });
  } else {
    answer = await api.get<RetentionAnswer>('/v1/retention');
  }
  if (values.json) return printJson(answer);
  const changed = answer.changedAt ? `  (set ${answer.changedAt} by ${answer.changedBy ?? '?'})` : '';
  const forever = Object.entries(answer.kept)
    .filter(([name, how]) => name !== 'spans' && how === 'forever')
    .map(([name]) => KEPT_WORDS[name] ?? name);
  return print(`project ${answer.project}: spans ${answer.kept.spans}${changed}; kept forever: ${inWords(forever)}`);
}

export async function deleteCommand(args: string[]): Promise<void> {
  const [what, ...rest] = args;
  const { values, positionals: pos } = parse(rest, {}, DELETE_USAGE);
  if (values.help || what === undefined || what === '--help' || what === '-h') return print(DELETE_USAGE);
  if (what !== 'trace' && what !== 'conversation') throw new UsageError(`unknown delete command "${what}": delete trace ID or delete conversation ID`, DELETE_USAGE);
  const [id] = positionals(pos, [what === 'trace' ? 'TRACE-ID' : 'CONVERSATION-ID'], DELETE_USAGE);
  if (what === 'trace' && !/^[0-9a-fA-F]{32}$/.test(id!)) throw new UsageError('a trace id is 32 hex characters', DELETE_USAGE);
  const path = what === 'trace' ? `/v1/traces/${id!}` : `/v1/conversations/${encodeURIComponent(id!)}`;
  const answer = await clientFrom(values).request<{ traceIds: string[]; rowsDeleted: number }>('DELETE', path);
  if (values.json) return printJson(answer);
  return print(`deleted ${answer.rowsDeleted} row(s) of ${answer.traceIds.length} trace(s): ${answer.traceIds.join(', ')}`);
}

