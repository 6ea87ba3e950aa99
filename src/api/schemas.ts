import { z } from 'zod';
import { PROJECT_NAME, PROJECT_NAME_RULE } from '../domain/governance.ts';
import { inSpanTimeRange, SPAN_TIME_RANGE } from '../impact/impact-service.ts';

// Request and response schemas of the API. The routers validate with them and the OpenAPI
// document at /openapi.json is generated from them, so the two cannot drift apart.

// Times are compared in the span store as DateTime64(9), nanoseconds since 1970 in 64 bits: a
// time outside 1900-01-01 … 2262-04-11 cannot be one, and is the caller's error, not the engine's.
export const spanTime = z.iso
  .datetime({ offset: true, error: 'must be an ISO-8601 time, e.g. 2026-11-25T14:02:00Z' })
  .refine((t) => inSpanTimeRange(Date.parse(t)), `must be between ${SPAN_TIME_RANGE.min} and ${SPAN_TIME_RANGE.max}`);

/** A project's name, as keys are created with it. */
export const projectName = z.string().regex(PROJECT_NAME, PROJECT_NAME_RULE);

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `must be ${bytes * 2} hex characters`);

export const provenanceQuery = z
  .object({
    response_id: z.string().min(1).max(1024).optional().describe('The response id the model provider returned (gen_ai.response.id).'),
    trace_id: hex(16).optional().describe('A trace id (32 hex characters).'),
    span_id: hex(8).optional().describe('A span id (16 hex characters).'),
  })
  .refine((q) => [q.response_id, q.trace_id, q.span_id].filter((v) => v !== undefined).length === 1, {
    error: 'give exactly one of response_id, trace_id or span_id',
  });

export const promptLineage = z
  .object({
    name: z.string(),
    version: z.union([z.number().int(), z.string()]).nullable().describe('The prompt version; a number where the app sent one.'),
    alias: z.string().nullable().describe('The alias the app asked for (e.g. production), if it said.'),
    templateHash: z.string().nullable().describe('sha256 of the template text, hex.'),
    registered: z
      .boolean()
      .describe('Whether the prompt the app sent was a registered version (name, version and template) when the response was produced.'),
    registration: z
      .enum(['registered', 'template_mismatch', 'registered_later', 'unregistered'])
      .describe(
        'What held when the response was produced. template_mismatch: the version was registered, but the app sent another template (a local fallback or an unregistered edit); ' +
          'registered_later: the version was not registered yet, it was registered afterwards (at registeredAt); unregistered: it is not registered.',
      ),
    registeredAt: z
      .string()
      .nullable()
      .describe('When the version was registered (ISO-8601), if it is; with registered_later, a time after the response.'),
    commitMessage: z.string().nullable().describe('The commit message of the registered version behind the response; null when none was (also with registered_later).'),
    author: z.string().nullable().describe('Who registered the version behind the response; null when none was (also with registered_later).'),
  })
  .nullable();

export const provenanceRecord = z.object({
  responseId: z.string().nullable(),
  traceId: z.string(),
  spanId: z.string(),
  spanName: z.string(),
  timestamp: z.string().describe('When the span started, ISO-8601 UTC with nanoseconds.'),
  prompt: promptLineage,
  promptSpanId: z.string().nullable().describe('The span the prompt lineage was read from: this span or the ancestor it was inherited from.'),
  model: z.object({ provider: z.string().nullable(), name: z.string().nullable() }).nullable(),
  datasets: z.array(z.object({ id: z.string() })),
  app: z.object({ name: z.string().nullable(), version: z.string().nullable() }),
  conversationId: z.string().nullable(),
});

export const provenanceAnswer = provenanceRecord.extend({
  spans: z
    .array(provenanceRecord)
    .optional()
    .describe('For a trace_id lookup: every span of the trace that carries lineage, oldest first.'),
});

export const traceParams = z.object({ traceId: hex(16) });

export const traceSpan = z.object({
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().nullable(),
  name: z.string(),
  kind: z.string(),
  serviceName: z.string(),
  timestamp: z.string(),
  durationNs: z.string(),
  status: z.object({ code: z.string(), message: z.string() }),
  attributes: z.record(z.string(), z.string()),
  resourceAttributes: z.record(z.string(), z.string()),
  events: z.array(z.object({ timestamp: z.string(), name: z.string(), attributes: z.record(z.string(), z.string()) })),
  lineage: provenanceRecord,
});

export const traceAnswer = z.object({ traceId: z.string(), spans: z.array(traceSpan) });

/** Every error answer but OTLP's: requestId names the request in the server log (and in the X-Request-Id header). */
export const errorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }) });

export const healthAnswer = z.object({ status: z.literal('ok') });

/** What a project keeps how long, in words (retentionSummary, src/domain/retention.ts): its spans for its retention, the rest for ever. */
export const retentionKept = z.object({
  spans: z.string().describe("The project's spans and every row made from them (the response index and list, evaluations, trace lookups, the per-minute lineage rollup): 'unlimited' or e.g. '30 days'."),
  registry: z.literal('forever').describe('Prompt versions.'),
  aliases: z.literal('forever').describe('Aliases and every move of them.'),
  proposals: z.literal('forever').describe('Proposals, their reviews and transitions.'),
  keys: z.literal('forever').describe('API key records (hashes only), revoked ones too.'),
  audit: z.literal('forever').describe('The audit log.'),
  lineageGraph: z.literal('forever').describe('The lineage graph: prompts, versions, models, datasets and apps (it holds no span).'),
});

// Only an instance admin sees the details (backends, store errors, spool and writer figures):
// they describe the whole installation, not the caller's project.
export const readyAnswer = z.object({
  status: z.enum(['ready', 'degraded']),
  stores: z.record(z.string(), z.object({ backend: z.string().optional(), ok: z.boolean(), error: z.string().optional() })),
  retention: retentionKept.optional().describe("What the caller's project keeps how long (the project X-Promptline-Project names, for an instance admin)."),
  spool: z.object({ pendingBytes: z.number(), pendingRecords: z.number(), maxBytes: z.number(), segments: z.number(), tornRecords: z.number() }).optional(),
  writer: z.object({
    queuedRecords: z.number(),
    queuedSpans: z.number(),
    writtenSpans: z.number(),
    fixups: z.number(),
    unsettledTraces: z.number().describe('Traces whose stored spans still wait for a late parent\'s lineage; rewritten in bounded steps.'),
    failedAttempts: z.number(),
    backPressureWaits: z.number().describe('Times the span store pushed back (too many parts) and the writer waited longer.'),
    backPressure: z.string().nullable().describe('While the span store pushes back, what it said; null otherwise.'),
    deadLettered: z.number().describe('Requests the stores refused for good; kept whole in the dead-letter folder of the data directory.'),
    lastError: z.string().nullable(),
  }).optional(),
});

export type ProvenanceRecord = z.infer<typeof provenanceRecord>;
export type ProvenanceAnswer = z.infer<typeof provenanceAnswer>;
export type TraceAnswer = z.infer<typeof traceAnswer>;
