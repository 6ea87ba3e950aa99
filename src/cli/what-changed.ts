import { COMMON_FLAGS_HELP, clientFrom, parse, print, printJson, table } from './args.ts';
import { UsageError } from './http.ts';

// promptline what-changed …   — the lineage changes around a metric that moved, ranked.

const USAGE = `Usage:
  promptline what-changed [--app NAME] [--prompt NAME] [--metric error_rate|latency_ms|output_tokens|input_tokens]
                          [--from ISO-TIME] [--to ISO-TIME]

Finds where in the window (default: the last 24 hours) the metric moved most, lists the lineage
changes in the window (alias moves with who and why, prompt versions, model snapshots, datasets and
app versions first seen, unregistered prompts appearing) and ranks them by how much of the movement
each explains. The first line says which of prompt, model, data or app most likely moved it.

${COMMON_FLAGS_HELP}`;

const METRICS = ['error_rate', 'latency_ms', 'output_tokens', 'input_tokens'];

interface Answer {
  metric: string;
  responses: number;
  movement: { at: string; before: { mean: number | null }; after: { mean: number | null }; z: number; moved: boolean } | null;
  changes: Array<{ at: string; cause: string; description: string; explained: number; explainedShare: number | null; share: { before: number; after: number } }>;
  verdict: { cause: string | null; summary: string };
}

const percent = (x: number | null) => (x === null ? '—' : `${Math.round(x * 100)} %`);

export async function whatChangedCommand(args: string[]): Promise<void> {
  const { values } = parse(args, { app: { type: 'string' }, prompt: { type: 'string' }, metric: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } }, USAGE);
  if (values.help) return print(USAGE);
  if (values.metric !== undefined && !METRICS.includes(values.metric)) throw new UsageError(`--metric is one of ${METRICS.join(', ')}, not "${values.metric}"`, USAGE);
  const a = await clientFrom(values).get<Answer>('/v1/what-changed', { app: values.app, prompt: values.prompt, metric: values.metric, from: values.from, to: values.to });
  if (values.json) return printJson(a);
  print(
    [
      a.verdict.summary,
      '',
      `${a.responses} responses; ${a.metric}${a.movement ? `: ${a.movement.before.mean?.toFixed(3) ?? '—'} → ${a.movement.after.mean?.toFixed(3) ?? '—'} at ${a.movement.at} (z = ${a.movement.z})` : ''}`,
      '',
      table(
        ['TIME', 'CAUSE', 'CHANGE', 'SHARE', 'EXPLAINS'],
        a.changes.map((c) => [c.at, c.cause, c.description, `${percent(c.share.before)} → ${percent(c.share.after)}`, percent(c.explainedShare)]),
      ),
    ].join('\n'),
  );
}
