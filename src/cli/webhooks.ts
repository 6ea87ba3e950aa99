import { COMMON_FLAGS_HELP, clientFrom, oneLine, parse, positionals, print, printJson, table } from './args.ts';
import { CliError, UsageError } from './http.ts';

// promptline webhooks add|list|remove|deliveries — admin calls over the API.

const WEBHOOKS_USAGE = `Usage:
  promptline webhooks add URL --events TYPE[,TYPE…] [--description TEXT]
  promptline webhooks list
  promptline webhooks remove ID
  promptline webhooks deliveries ID [--limit N]

Events are types (alias.moved, proposal.merged, alert.opened) or prefixes (proposal.*, alert.*); *
takes every event. The signing secret is printed once, at add: receivers check X-Promptline-Signature
with it (README.md, "Webhooks"). Promptline posts to whatever URL is registered. Needs an admin key
(PROMPTLINE_API_KEY); the webhooks are its project's.

${COMMON_FLAGS_HELP}`;

interface WebhookAnswer {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  createdAt: string;
}

interface DeliveryAnswer {
  id: string;
  eventType: string;
  subject: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export async function webhooksCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals: pos } = parse(rest, { events: { type: 'string' }, description: { type: 'string' }, limit: { type: 'string' } }, WEBHOOKS_USAGE);
  if (values.help || sub === undefined || sub === '--help' || sub === '-h') return print(WEBHOOKS_USAGE);
  const api = clientFrom(values);
  if (sub === 'add') {
    const [url] = positionals(pos, ['URL'], WEBHOOKS_USAGE);
    const events = (values.events ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
    if (events.length === 0) throw new UsageError('--events is needed: event types or prefixes, comma-separated (such as alias.moved,proposal.*)', WEBHOOKS_USAGE);
    const w = await api.post<WebhookAnswer & { secret: string }>('/v1/webhooks', { url, events, ...(values.description ? { description: values.description } : {}) });
    if (values.json) return printJson(w);
    return print(`created webhook ${w.id} for ${w.events.join(', ')} → ${w.url}. Its signing secret is shown this once:\n\n  ${w.secret}\n`);
  }
  if (sub === 'list') {
    positionals(pos, [], WEBHOOKS_USAGE);
    const { webhooks } = await api.get<{ webhooks: WebhookAnswer[] }>('/v1/webhooks');
    if (values.json) return printJson({ webhooks });
    return print(table(['ID', 'EVENTS', 'URL', 'CREATED', 'DESCRIPTION'], webhooks.map((w) => [w.id, w.events.join(','), w.url, w.createdAt, w.description ?? '—'])));
  }
  if (sub === 'remove') {
    const [id] = positionals(pos, ['ID'], WEBHOOKS_USAGE);
    await api.request('DELETE', `/v1/webhooks/${encodeURIComponent(id!)}`).catch((err: unknown) => {
      // 204 has no JSON body; anything else is an error the client already phrased.
      if (err instanceof CliError && /without JSON/.test(err.message)) return;
      throw err;
    });
    return print(`removed webhook ${id}`);
  }
  if (sub === 'deliveries') {
    const [id] = positionals(pos, ['ID'], WEBHOOKS_USAGE);
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 500)) throw new UsageError('--limit is a whole number from 1 to 500', WEBHOOKS_USAGE);
    const { deliveries } = await api.get<{ deliveries: DeliveryAnswer[] }>(`/v1/webhooks/${encodeURIComponent(id!)}/deliveries`, { limit });
    if (values.json) return printJson({ deliveries });
    const last = (d: DeliveryAnswer) => (d.lastError ? oneLine(d.lastError, 60) : d.lastStatusCode === null ? '—' : String(d.lastStatusCode));
    const when = (d: DeliveryAnswer) => d.deliveredAt ?? (d.nextAttemptAt ? `next ${d.nextAttemptAt}` : '—');
    return print(table(['ID', 'EVENT', 'SUBJECT', 'STATUS', 'ATTEMPTS', 'LAST', 'DELIVERED / NEXT'], deliveries.map((d) => [d.id, d.eventType, d.subject, d.status, String(d.attempts), last(d), when(d)])));
  }
  throw new UsageError(`unknown webhooks command "${sub}"`, WEBHOOKS_USAGE);
}
