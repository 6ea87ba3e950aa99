import { z } from 'zod';
import { searchFacets, searchResponses, type ResponseSearch } from '../../impact/response-search.ts';
import { errorAnswer, spanTime } from '../schemas.ts';
import { route } from '../route.ts';

// The console's list of responses: newest first, searchable, paged by cursor; and the values it
// can offer to filter by.

const err = (description: string) => ({ description, schema: errorAnswer });
const text = z.string().min(1).max(1024);
const STATUSES = ['error', 'ok', 'unset'] as const;
const REGISTRATIONS = ['registered', 'unregistered', 'template_mismatch'] as const;

const filters = {
  from: spanTime.optional().describe('ISO-8601 start of the window (inclusive). Default: 7 days before `to` (or before now).'),
  to: spanTime.optional().describe('ISO-8601 end of the window (exclusive). Default: an hour from now.'),
  app: text.optional().describe('An app name (service.name).'),
  app_version: text.optional().describe('An app version (service.version).'),
  prompt: text.optional().describe('A prompt name.'),
  version: text.optional().describe('A prompt version, as the app sent it (e.g. 3).'),
  alias: text.optional().describe('The alias the app asked for (e.g. production).'),
  model: text.optional().describe('A model name.'),
  provider: text.optional().describe('A model provider.'),
  dataset: text.optional().describe('A dataset id.'),
  conversation: text.optional().describe('A conversation id.'),
  status: z.enum(STATUSES).optional().describe('The span status: error, ok or unset.'),
  registration: z.enum(REGISTRATIONS).optional().describe('Whether the prompt was a registered version when the response was stored.'),
  q: z.string().min(1).max(200).optional().describe('A part of the span name, in any letter case.'),
  response_id: text.optional().describe('A response id.'),
  trace_id: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/, 'must be 32 hex characters')
    .transform((t) => t.toLowerCase())
    .optional()
    .describe('A trace id (32 hex characters).'),
};

const responsesQuery = z
  .object({
    ...filters,
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('Responses per page (1–200, default 50).'),
    cursor: z.string().max(500).optional().describe('nextCursor of the previous page.'),
  })
  .strict();

const facetsQuery = z.object(filters).strict();

type FilterQuery = z.infer<typeof facetsQuery>;

const searchOf = (q: FilterQuery): ResponseSearch => ({
  from: q.from === undefined ? undefined : new Date(q.from),
  to: q.to === undefined ? undefined : new Date(q.to),
  app: q.app,
  appVersion: q.app_version,
  prompt: q.prompt,
  version: q.version,
  alias: q.alias,
  model: q.model,
  provider: q.provider,
  dataset: q.dataset,
  conversation: q.conversation,
  status: q.status,
  registration: q.registration,
  nameContains: q.q,
  responseId: q.response_id,
  traceId: q.trace_id,
});

const windowAnswer = z.object({ from: z.string(), to: z.string() }).describe('The window searched (ISO-8601; to is exclusive).');

const responseItem = z.object({
  responseId: z.string().nullable().describe('null for a model call in a trace without response ids.'),
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().nullable(),
  timestamp: z.string().describe('When the span started, ISO-8601 UTC with nanoseconds.'),
  durationMs: z.number(),
  spanName: z.string(),
  serviceName: z.string(),
  status: z.object({ code: z.enum(STATUSES), message: z.string() }),
  prompt: z.object({ name: z.string(), version: z.string(), alias: z.string() }).nullable(),
  registration: z.enum(REGISTRATIONS).nullable().describe('null without a prompt, or for a span stored before prompts were classified.'),
  model: z.object({ provider: z.string(), name: z.string() }).nullable(),
  app: z.object({ name: z.string(), version: z.string() }),
  datasets: z.array(z.string()),
  conversationId: z.string().nullable(),
});

const responsesAnswer = z.object({
  items: z.array(responseItem),
  nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last.'),
  count: z.number().int().describe('How many responses match in the window (the same on every page).'),
  window: windowAnswer,
});

const facet = z.array(z.object({ value: z.string(), count: z.number().int() })).describe('The 50 most frequent values, most frequent first.');
const facetsAnswer = z.object({
  apps: facet,
  appVersions: facet,
  prompts: facet,
  promptVersions: facet,
  aliases: facet,
  models: facet,
  providers: facet,
  datasets: facet,
  window: windowAnswer,
});

const RESPONSE_RULE =
  'A response is a span with a response id; in a trace with none (Langfuse sends none), each span that named its model itself. ' +
  'Each span is answered once, with its latest lineage. Every filter narrows the list; the window is the span start time.';

export const searchRoutes = [
  route({
    method: 'get',
    path: '/v1/responses',
    access: 'read',
    what: 'read lineage',
    tag: 'lineage',
    cost: 'scan',
    summary: 'The responses of the project, newest first, filtered and paged',
    description: `${RESPONSE_RULE} Ordered by start time, then trace and span id, descending; pages follow nextCursor.`,
    query: responsesQuery,
    responses: { '200': { description: 'A page of responses, and how many match', schema: responsesAnswer }, '400': err('A bad parameter, a malformed cursor, or from not before to') },
    handle: async (ctx, s) => {
      const q = ctx.query;
      ctx.res.json(await searchResponses(s.analytics, ctx.project, { ...searchOf(q), limit: q.limit, cursor: q.cursor }, s.clock.now()));
    },
  }),
  route({
    method: 'get',
    path: '/v1/responses/facets',
    access: 'read',
    what: 'read lineage',
    tag: 'lineage',
    cost: 'scan',
    summary: 'The values the matching responses carry (apps, versions, prompts, aliases, models, providers, datasets), with counts',
    description: `${RESPONSE_RULE} Takes the window and filters of /v1/responses.`,
    query: facetsQuery,
    responses: { '200': { description: 'The 50 most frequent values of each', schema: facetsAnswer }, '400': err('A bad parameter, or from not before to') },
    handle: async (ctx, s) => {
      ctx.res.json(await searchFacets(s.analytics, ctx.project, searchOf(ctx.query), s.clock.now()));
    },
  }),
];
