import { terminalText } from './terminal.ts';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { COMMON_FLAGS_HELP, clientFrom, parse, print, printJson, table } from './args.ts';
import { UsageError } from './http.ts';

// promptline report …   — a compliance report, as the API writes it.
// promptline impact …   — what a prompt version, alias move, dataset, model or app version touched.

const REPORT_USAGE = `Usage:
  promptline report (--response-id ID | --prompt NAME --version N | --app NAME --app-version V)
                    [--format markdown|html|json] [--out FILE]

Writes the decision chain behind a response (or a prompt version, or an app version): the trace,
the app version, the prompt version with its commit message, author and alias history at the time,
the datasets, the evaluation evidence and the model, the registry records behind it, and a content
hash. Markdown goes to stdout unless --out names a file.

${COMMON_FLAGS_HELP}`;

export async function reportCommand(args: string[]): Promise<void> {
  const { values } = parse(args, { 'response-id': { type: 'string' }, prompt: { type: 'string' }, version: { type: 'string' }, app: { type: 'string' }, 'app-version': { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } }, REPORT_USAGE);
  if (values.help) return print(REPORT_USAGE);
  const format = values.json ? 'json' : (values.format ?? 'markdown');
  if (!['markdown', 'html', 'json'].includes(format)) throw new UsageError(`--format is markdown, html or json, not "${format}"`, REPORT_USAGE);
  const subject = values['response-id']
    ? { response_id: values['response-id'] }
    : values.prompt && values.version
      ? { prompt: values.prompt, version: values.version }
      : values.app && values['app-version']
        ? { app: values.app, app_version: values['app-version'] }
        : null;
  if (!subject) throw new UsageError('name the subject: --response-id, or --prompt with --version, or --app with --app-version', REPORT_USAGE);
  // A file that cannot be written is a usage error, found before the report is asked for.
  if (values.out) {
    const dir = dirname(resolve(values.out));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--out ${values.out}: the directory ${dir} does not exist`, REPORT_USAGE);
    if (existsSync(values.out) && statSync(values.out).isDirectory()) throw new UsageError(`--out ${values.out} is a directory: name a file`, REPORT_USAGE);
  }
  const { text, headers } = await clientFrom(values).getText('/v1/reports/compliance', { ...subject, format });
  if (values.out) {
    writeFileSync(values.out, text);
    print(`wrote ${values.out} (content hash ${headers.get('x-content-hash') ?? '?'})`);
  } else {
    // Piped, the report is the server's bytes; on a terminal, its control characters are made visible.
    const out = process.stdout.isTTY ? terminalText(text) : text;
    process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
  }
}

const IMPACT_USAGE = `Usage:
  promptline impact (--prompt NAME-or-URI [--version N | --alias A [--move SEQ]] | --dataset ID | --model NAME [--provider P] | --app NAME --app-version V)
                    [--from ISO-TIME] [--to ISO-TIME] [--limit N]

Prints what the starting point touched: responses, app versions, services, conversations, prompt
versions, models, datasets, evaluation runs and derived versions, and how each is connected.

${COMMON_FLAGS_HELP}`;

export async function impactCommand(args: string[]): Promise<void> {
  const opts = { prompt: { type: 'string' }, version: { type: 'string' }, alias: { type: 'string' }, move: { type: 'string' }, dataset: { type: 'string' }, model: { type: 'string' }, provider: { type: 'string' }, app: { type: 'string' }, 'app-version': { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' } } as const;
  const { values } = parse(args, opts, IMPACT_USAGE);
  if (values.help) return print(IMPACT_USAGE);
  if (![values.prompt, values.dataset, values.model, values.app].some((v) => v !== undefined)) throw new UsageError('name a starting point', IMPACT_USAGE);
  const a = await clientFrom(values).get<{
    target: object;
    responses: { count: number; items: Array<{ timestamp: string; responseId: string | null; traceId: string }> };
    apps: Array<{ name: string; version: string; count: number; via: string }>;
    models: Array<{ provider: string; name: string; count: number }>;
    promptVersions: Array<{ name: string; version: string; count: number }>;
    datasets: Array<{ id: string; count: number }>;
    evaluations: Array<{ runId: string; scorer: string; results: number; meanScore: number | null }>;
    derivedVersions: Array<{ name: string; version: string; depth: number }>;
    conversations: { count: number };
    firstSeen: string | null;
    lastSeen: string | null;
  }>('/v1/impact', {
    prompt: values.prompt,
    version: values.version,
    alias: values.alias,
    move: values.move,
    dataset: values.dataset,
    model: values.model,
    provider: values.provider,
    app: values.app,
    app_version: values['app-version'],
    from: values.from,
    to: values.to,
    limit: values.limit,
  });
  if (values.json) return printJson(a);
  const out = [
    `${a.responses.count} responses, ${a.conversations.count} conversations, first ${a.firstSeen ?? '—'}, last ${a.lastSeen ?? '—'}`,
    '',
    table(['APP', 'VERSION', 'RESPONSES', 'CONNECTED'], a.apps.map((x) => [x.name, x.version, String(x.count), x.via])),
    '',
    table(['PROMPT', 'VERSION', 'RESPONSES'], a.promptVersions.map((x) => [x.name, x.version, String(x.count)])),
    '',
    table(['PROVIDER', 'MODEL', 'RESPONSES'], a.models.map((x) => [x.provider || '—', x.name, String(x.count)])),
    '',
    table(['DATASET', 'RESPONSES'], a.datasets.map((x) => [x.id, String(x.count)])),
  ];
  if (a.evaluations.length > 0) out.push('', table(['EVAL RUN', 'SCORER', 'RESULTS', 'MEAN'], a.evaluations.map((e) => [e.runId, e.scorer, String(e.results), e.meanScore === null ? '—' : e.meanScore.toFixed(3)])));
  if (a.derivedVersions.length > 0) out.push('', `derived versions: ${a.derivedVersions.map((d) => `v${d.version}`).join(', ')}`);
  out.push('', table(['TIME', 'RESPONSE', 'TRACE'], a.responses.items.map((i) => [i.timestamp, i.responseId ?? '—', i.traceId])));
  print(out.join('\n'));
}
