import type { z } from 'zod';
import type { mergeAnswer, proposalAnswer, proposalListAnswer, proposalViewAnswer } from '../api/controllers/proposals.ts';
import { clientFrom, COMMON_FLAGS_HELP, oneLine, parse, positionals, print, printJson, table } from './args.ts';
import { UsageError } from './http.ts';
import { chatFrom, readInput, targetText } from './prompts.ts';

// promptline propose | review | merge | proposals list | proposals show

type ProposalAnswer = z.infer<typeof proposalAnswer>;

export const PROPOSALS_USAGE = `Usage:
  promptline propose NAME (--file PATH | --text TEXT | --chat PATH) --title T [--description D] [--base N]
                     --alias ALIAS [--version-from-candidate | --split 10,50,100]
      Open a proposal: the candidate is registered as a version of NAME tagged with the proposal;
      merging moves ALIAS to it at once, or through a staged split (the candidate's share at each step).
  promptline review NAME ID (--approve | --request-changes | --comment) -m MESSAGE
      Review a proposal (approving and requesting changes need the edit role; an author never approves their own).
  promptline merge NAME ID [--override --reason R]
      Make the next merge step when the alias's policy holds; an admin may override with a reason.
  promptline proposals list NAME [--state open|changes_requested|approved|merged|closed]
  promptline proposals show NAME ID
      The proposal, its reviews and transitions, and the diff against where the alias points now.

${COMMON_FLAGS_HELP}`;

const enc = encodeURIComponent;

export function proposalLine(p: ProposalAnswer): string {
  const rollout = p.rollout.steps > 1 ? `, step ${p.rollout.done} of ${p.rollout.steps}` : '';
  return `${p.id} ${p.state}${rollout}: ${p.name} v${p.candidate.version} → ${p.request.alias} "${oneLine(p.title, 80)}"`;
}

/** "10,50,100" → [10, 50, 100]. */
export function parseSteps(s: string): number[] {
  const steps = s.split(',').map((part) => {
    const m = /^\s*(\d{1,3})\s*%?\s*$/.exec(part);
    if (!m) throw new UsageError(`--split takes percentages separated by commas, e.g. 10,50,100; "${part}" is not one`, PROPOSALS_USAGE);
    return Number(m[1]);
  });
  if (steps.length < 2) throw new UsageError('--split needs at least two steps, ending at 100, e.g. 10,100', PROPOSALS_USAGE);
  return steps;
}

export async function proposeCommand(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(
    args,
    {
      file: { type: 'string' },
      text: { type: 'string' },
      chat: { type: 'string' },
      title: { type: 'string' },
      description: { type: 'string' },
      base: { type: 'string' },
      alias: { type: 'string' },
      'version-from-candidate': { type: 'boolean' },
      split: { type: 'string' },
    },
    PROPOSALS_USAGE,
  );
  if (values.help) return print(PROPOSALS_USAGE);
  const [name] = positionals(pos, ['NAME'], PROPOSALS_USAGE);
  const sources = (['file', 'text', 'chat'] as const).filter((k) => values[k] !== undefined);
  if (sources.length !== 1) throw new UsageError(sources.length === 0 ? 'give the candidate with --file, --text or --chat' : 'give one of --file, --text and --chat', PROPOSALS_USAGE);
  if (!values.title?.trim()) throw new UsageError('--title is required', PROPOSALS_USAGE);
  if (!values.alias) throw new UsageError('--alias is required: the alias the proposal moves (e.g. production)', PROPOSALS_USAGE);
  if (values.split !== undefined && values['version-from-candidate']) throw new UsageError('give --version-from-candidate or --split, not both', PROPOSALS_USAGE);
  const template = values.chat !== undefined ? chatFrom(values.chat) : values.file !== undefined ? readInput(values.file, 'template') : values.text!;
  const body = {
    template,
    title: values.title,
    description: values.description ?? '',
    ...(values.base !== undefined ? { baseVersion: Number(values.base) } : {}),
    move: { alias: values.alias, ...(values.split !== undefined ? { steps: parseSteps(values.split) } : {}) },
  };
  const p = await clientFrom(values).post<ProposalAnswer>(`/v1/prompts/${enc(name!)}/proposals`, body);
  if (values.json) return printJson(p);
  print(`opened ${proposalLine(p)}`);
}

export async function reviewCommand(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, { approve: { type: 'boolean' }, 'request-changes': { type: 'boolean' }, comment: { type: 'boolean' }, message: { type: 'string', short: 'm' } }, PROPOSALS_USAGE);
  if (values.help) return print(PROPOSALS_USAGE);
  const [name, id] = positionals(pos, ['NAME', 'ID'], PROPOSALS_USAGE);
  const verdicts = [values.approve && 'approve', values['request-changes'] && 'request_changes', values.comment && 'comment'].filter((v): v is string => typeof v === 'string');
  if (verdicts.length !== 1) throw new UsageError('give one of --approve, --request-changes and --comment', PROPOSALS_USAGE);
  if (verdicts[0] !== 'approve' && !values.message?.trim()) throw new UsageError('-m MESSAGE is required for a comment or a change request', PROPOSALS_USAGE);
  const p = await clientFrom(values).post<ProposalAnswer>(`/v1/prompts/${enc(name!)}/proposals/${enc(id!)}/reviews`, { verdict: verdicts[0], message: values.message ?? '' });
  if (values.json) return printJson(p);
  print(proposalLine(p));
}

export async function mergeCommand(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, { override: { type: 'boolean' }, reason: { type: 'string' } }, PROPOSALS_USAGE);
  if (values.help) return print(PROPOSALS_USAGE);
  const [name, id] = positionals(pos, ['NAME', 'ID'], PROPOSALS_USAGE);
  if (values.override && !values.reason?.trim()) throw new UsageError('--override needs --reason: say why the policy is overridden', PROPOSALS_USAGE);
  const body = values.override ? { override: { reason: values.reason } } : {};
  const r = await clientFrom(values).post<z.infer<typeof mergeAnswer>>(`/v1/prompts/${enc(name!)}/proposals/${enc(id!)}/merge`, body);
  if (values.json) return printJson(r);
  print(`${proposalLine(r.proposal)}\n${r.move.alias}: ${targetText(r.move.from)} → ${targetText(r.move.to)} (move ${r.move.seq}${r.move.governance?.override ? ', override' : ''})`);
}

export async function proposalsCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list':
      return list(rest);
    case 'show':
      return show(rest);
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      return print(PROPOSALS_USAGE);
    default:
      throw new UsageError(`unknown proposals command "${sub}"`, PROPOSALS_USAGE);
  }
}

async function list(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, { state: { type: 'string' } }, PROPOSALS_USAGE);
  if (values.help) return print(PROPOSALS_USAGE);
  const [name] = positionals(pos, ['NAME'], PROPOSALS_USAGE);
  const r = await clientFrom(values).get<z.infer<typeof proposalListAnswer>>(`/v1/prompts/${enc(name!)}/proposals`, { state: values.state });
  if (values.json) return printJson(r);
  print(table(['ID', 'STATE', 'CANDIDATE', 'ALIAS', 'STEP', 'AUTHOR', 'TITLE'], r.proposals.map((p) => [p.id, p.state, `v${p.candidate.version}`, p.request.alias, `${p.rollout.done}/${p.rollout.steps}`, p.author, oneLine(p.title, 60)])));
}

async function show(args: string[]): Promise<void> {
  const { values, positionals: pos } = parse(args, {}, PROPOSALS_USAGE);
  if (values.help) return print(PROPOSALS_USAGE);
  const [name, id] = positionals(pos, ['NAME', 'ID'], PROPOSALS_USAGE);
  const p = await clientFrom(values).get<z.infer<typeof proposalViewAnswer>>(`/v1/prompts/${enc(name!)}/proposals/${enc(id!)}`);
  if (values.json) return printJson(p);
  const lines = [
    proposalLine(p),
    `author: ${p.author}; alias now: ${targetText(p.current)}; approvals: ${p.approvals.map((a) => `${a.actor} (${a.role})`).join(', ') || 'none'}`,
    p.policy ? `policy: ${p.policy.approvals.count} approval(s) from ${p.policy.approvals.roles.join(', ')}; ${p.policy.evaluations.length} evaluation gate(s)${p.policy.rollout ? `; ${p.policy.rollout.minResponses} responses a split step` : ''}` : 'policy: none',
    '',
    table(['EVENT', 'TIME', 'ACTOR', 'KIND', 'STATE', 'MESSAGE'], p.events.map((e) => [String(e.seq), e.at, e.actor, e.kind, `${e.from ?? '—'} → ${e.to}`, oneLine(e.message, 80)])),
  ];
  if (p.diff) lines.push('', p.diff.unified);
  else if (p.diffError) lines.push('', `diff: ${p.diffError}`);
  print(lines.join('\n'));
}
