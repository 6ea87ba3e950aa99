import { COMMON_FLAGS_HELP, clientFrom, parse, positionals, print, printJson, table } from './args.ts';
import { UsageError } from './http.ts';

// promptline monitors …   — drift monitors of a project; promptline alerts … — the alerts they open.

const USAGE = `Usage:
  promptline monitors add NAME --prompt P (--version N | --alias A) [--signals output_tokens,error_rate,…]
                          [--window 1h] [--baseline-days 7 | --baseline-from ISO --baseline-to ISO | --baseline-evaluation]
                          [--p-value 0.001] [--psi 0.1]
  promptline monitors list
  promptline monitors remove ID
  promptline alerts [--state open|resolved] [--monitor ID]

A monitor compares its window (the last --window) with its baseline at every scheduler interval;
a watched signal that drifts opens an alert (told to the project's webhooks as alert.opened), which
resolves itself when none does.

${COMMON_FLAGS_HELP}`;

interface MonitorView {
  id: string;
  name: string;
  prompt: string;
  version: string | null;
  alias: string | null;
  signals: string[];
  windowSeconds: number;
  openAlert?: { firstSeen: string; signals: string[] } | null;
}

interface AlertView {
  id: string;
  monitorId: string;
  state: string;
  signals: string[];
  firstSeen: string;
  lastSeen: string;
  resolvedAt: string | null;
}

const target = (m: MonitorView) => (m.version !== null ? `${m.prompt} v${m.version}` : `${m.prompt}@${m.alias}`);

export async function monitorsCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const opts = {
    prompt: { type: 'string' },
    version: { type: 'string' },
    alias: { type: 'string' },
    signals: { type: 'string' },
    window: { type: 'string' },
    'baseline-days': { type: 'string' },
    'baseline-from': { type: 'string' },
    'baseline-to': { type: 'string' },
    'baseline-evaluation': { type: 'boolean' },
    'p-value': { type: 'string' },
    psi: { type: 'string' },
  } as const;
  const { values, positionals: given } = parse(rest, opts, USAGE);
  if (values.help || sub === undefined || sub === '--help') return print(USAGE);
  const client = clientFrom(values);
  switch (sub) {
    case 'add': {
      const [name] = positionals(given, ['NAME'], USAGE);
      if (!values.prompt) throw new UsageError('--prompt is required', USAGE);
      if ((values.version === undefined) === (values.alias === undefined)) throw new UsageError('give exactly one of --version or --alias', USAGE);
      const number = (flag: string, v: string | undefined) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n)) throw new UsageError(`${flag} takes a number, not "${v}"`, USAGE);
        return n;
      };
      const baseline = values['baseline-evaluation']
        ? { kind: 'evaluation' }
        : values['baseline-from'] || values['baseline-to']
          ? { kind: 'window', from: values['baseline-from'], to: values['baseline-to'] }
          : { kind: 'first_days', days: number('--baseline-days', values['baseline-days']) ?? 7 };
      const m = await client.post<MonitorView>('/v1/monitors', {
        name,
        prompt: values.prompt,
        version: number('--version', values.version),
        alias: values.alias,
        signals: values.signals?.split(',').map((s) => s.trim()).filter(Boolean),
        window: values.window,
        baseline,
        pValue: number('--p-value', values['p-value']),
        psi: number('--psi', values.psi),
      });
      if (values.json) return printJson(m);
      return print(`monitor ${m.id}: ${m.name} watches ${target(m)} (${m.signals.length > 0 ? m.signals.join(', ') : 'every signal'}) over the last ${m.windowSeconds} s`);
    }
    case 'list': {
      positionals(given, [], USAGE);
      const a = await client.get<{ monitors: MonitorView[] }>('/v1/monitors');
      if (values.json) return printJson(a);
      return print(
        table(
          ['ID', 'NAME', 'WATCHES', 'SIGNALS', 'WINDOW', 'ALERT'],
          a.monitors.map((m) => [m.id, m.name, target(m), m.signals.length > 0 ? m.signals.join(',') : 'all', `${m.windowSeconds}s`, m.openAlert ? `open since ${m.openAlert.firstSeen} (${m.openAlert.signals.join(', ')})` : '—']),
        ),
      );
    }
    case 'remove': {
      const [id] = positionals(given, ['ID'], USAGE);
      await client.request('DELETE', `/v1/monitors/${encodeURIComponent(id!)}`);
      return print(`monitor ${id} removed`);
    }
    default:
      throw new UsageError(`unknown monitors command "${sub}"`, USAGE);
  }
}

export async function alertsCommand(args: string[]): Promise<void> {
  const { values, positionals: given } = parse(args, { state: { type: 'string' }, monitor: { type: 'string' } }, USAGE);
  if (values.help) return print(USAGE);
  positionals(given, [], USAGE);
  if (values.state !== undefined && values.state !== 'open' && values.state !== 'resolved') throw new UsageError(`--state is open or resolved, not "${values.state}"`, USAGE);
  const a = await clientFrom(values).get<{ alerts: AlertView[] }>('/v1/alerts', { state: values.state, monitor: values.monitor });
  if (values.json) return printJson(a);
  print(table(['ID', 'MONITOR', 'STATE', 'SIGNALS', 'FIRST SEEN', 'LAST SEEN', 'RESOLVED'], a.alerts.map((x) => [x.id, x.monitorId, x.state, x.signals.join(', '), x.firstSeen, x.lastSeen, x.resolvedAt ?? '—'])));
}
