import { COMMON_FLAGS_HELP, clientFrom, parse, print, printJson, table } from './args.ts';
import { UsageError } from './http.ts';

// promptline drift …   — each signal of a prompt version (or alias) against a baseline.

const USAGE = `Usage:
  promptline drift --prompt NAME (--version N | --alias A)
                   [--baseline first_days [--baseline-days 7] | --baseline window --baseline-from ISO --baseline-to ISO | --baseline evaluation]
                   [--from ISO-TIME] [--to ISO-TIME] [--p-value 0.001] [--psi 0.1]

Compares the current window (default: the last 24 hours) with the baseline, signal by signal:
latency, input and output tokens (Kolmogorov–Smirnov), error rate, finish reasons, tool calls,
registration (chi-square), evaluation scores and labels; each with its PSI and sample sizes. The
first line names the signals that drifted.

${COMMON_FLAGS_HELP}`;

interface Answer {
  baseline: { from: string; to: string; responses: number };
  current: { from: string; to: string; responses: number };
  signals: Array<{ signal: string; test: string; statistic: number; pValue: number; psi: number; drifted: boolean; baseline: Summary; current: Summary }>;
  drifted: string[];
}
type Summary = { n: number; p50?: number | null; p90?: number | null; shares?: Record<string, number> };

const summaryText = (s: Summary) =>
  s.shares
    ? Object.entries(s.shares)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([k, v]) => `${k} ${Math.round(v * 1000) / 10}%`)
        .join(', ')
    : `p50 ${s.p50 ?? '—'}, p90 ${s.p90 ?? '—'}`;

export async function driftCommand(args: string[]): Promise<void> {
  const opts = { prompt: { type: 'string' }, version: { type: 'string' }, alias: { type: 'string' }, baseline: { type: 'string' }, 'baseline-days': { type: 'string' }, 'baseline-from': { type: 'string' }, 'baseline-to': { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'p-value': { type: 'string' }, psi: { type: 'string' } } as const;
  const { values } = parse(args, opts, USAGE);
  if (values.help) return print(USAGE);
  if (!values.prompt) throw new UsageError('--prompt is required', USAGE);
  if ((values.version === undefined) === (values.alias === undefined)) throw new UsageError('give exactly one of --version or --alias', USAGE);
  const a = await clientFrom(values).get<Answer>('/v1/drift', {
    prompt: values.prompt,
    version: values.version,
    alias: values.alias,
    baseline: values.baseline,
    baseline_days: values['baseline-days'],
    baseline_from: values['baseline-from'],
    baseline_to: values['baseline-to'],
    from: values.from,
    to: values.to,
    p_value: values['p-value'],
    psi: values.psi,
  });
  if (values.json) return printJson(a);
  print(
    [
      a.drifted.length > 0 ? `drifted: ${a.drifted.join(', ')}` : 'no signal drifted',
      `baseline ${a.baseline.from} → ${a.baseline.to} (${a.baseline.responses} responses); current ${a.current.from} → ${a.current.to} (${a.current.responses})`,
      '',
      table(
        ['SIGNAL', 'DRIFTED', 'TEST', 'STATISTIC', 'P', 'PSI', 'BASELINE', 'CURRENT'],
        a.signals.map((s) => [s.signal, s.drifted ? 'yes' : 'no', s.test, String(s.statistic), String(s.pValue), String(s.psi), summaryText(s.baseline), summaryText(s.current)]),
      ),
    ].join('\n'),
  );
}
