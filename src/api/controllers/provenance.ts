import type { SpanLineage, SpanQueries, StoredSpanDetail } from '../../storage/span-store.ts';
import { NotFoundError } from '../../common/errors.ts';
import { registrationAtTheTime, type PromptCatalog, type RegistrationAtTheTime } from '../../domain/prompt.ts';
import type { ProvenanceAnswer, ProvenanceRecord, TraceAnswer } from '../schemas.ts';

// Which prompt version produced this response? The span store holds each span's resolved
// lineage and whether its prompt was a registered version when the span was stored; the prompt
// catalog (the registry) adds when that version was registered, and its commit message and author.
// What is said is what held when the response was produced: a version registered after it is
// reported as registered later, and its commit message and author are not presented as behind it.

export interface ProvenanceDeps {
  spans: SpanQueries;
  catalog: PromptCatalog;
}

interface Registration {
  status: RegistrationAtTheTime;
  /** When the version was registered, if it is now. */
  registeredAt: string | null;
  commitMessage: string | null;
  author: string | null;
}

const UNREGISTERED: Registration = { status: 'unregistered', registeredAt: null, commitMessage: null, author: null };

async function registrationOf(deps: ProvenanceDeps, projectId: string, s: SpanLineage, prompt: NonNullable<SpanLineage['lineage']['prompt']>): Promise<Registration> {
  const found = await deps.catalog.lookup(projectId, prompt);
  const status = registrationAtTheTime(s.registration, found, s.timestamp);
  const behind = status === 'registered' || status === 'template_mismatch';
  return {
    status,
    registeredAt: found?.createdAt.toISOString() ?? null,
    commitMessage: behind ? (found?.commitMessage ?? null) : null,
    author: behind ? (found?.author ?? null) : null,
  };
}

/** A trace repeats a few prompts over many spans: each is asked of the registry once an answer. */
function askingOnce(deps: ProvenanceDeps): ProvenanceDeps {
  const asked = new Map<string, ReturnType<PromptCatalog['lookup']>>();
  const lookup: PromptCatalog['lookup'] = (projectId, p) => {
    const key = JSON.stringify([projectId, p.name, p.version, p.templateHash]);
    let found = asked.get(key);
    if (!found) asked.set(key, (found = deps.catalog.lookup(projectId, p)));
    return found;
  };
  return { spans: deps.spans, catalog: { lookup } };
}

const orNull = (s: string) => (s === '' ? null : s);

function versionValue(v: string): number | string | null {
  if (v === '') return null;
  return /^\d{1,15}$/.test(v) ? Number(v) : v;
}

async function toRecord(deps: ProvenanceDeps, projectId: string, s: SpanLineage): Promise<ProvenanceRecord> {
  const l = s.lineage;
  const registration = l.prompt ? await registrationOf(deps, projectId, s, l.prompt) : UNREGISTERED;
  return {
    responseId: orNull(l.responseId),
    traceId: s.traceId,
    spanId: s.spanId,
    spanName: s.spanName,
    timestamp: s.timestamp,
    prompt: l.prompt
      ? {
          name: l.prompt.name,
          version: versionValue(l.prompt.version),
          alias: orNull(l.prompt.alias),
          templateHash: orNull(l.prompt.templateHash),
          registered: registration.status === 'registered',
          registration: registration.status,
          registeredAt: registration.registeredAt,
          commitMessage: registration.commitMessage,
          author: registration.author,
        }
      : null,
    promptSpanId: orNull(l.promptSpanId),
    model: l.model ? { provider: orNull(l.model.provider), name: orNull(l.model.name) } : null,
    datasets: l.datasetIds.map((id) => ({ id })),
    app: { name: orNull(l.app.name), version: orNull(l.app.version) },
    conversationId: orNull(l.conversationId),
  };
}

/** The span that answers for a set of candidates: one with a prompt first, then the latest. */
function pick(spans: SpanLineage[]): SpanLineage | undefined {
  return [...spans].sort((a, b) => Number(b.lineage.prompt !== null) - Number(a.lineage.prompt !== null) || b.timestamp.localeCompare(a.timestamp))[0];
}

const isResponse = (s: SpanLineage) => s.lineage.responseId !== '' || s.lineage.model !== null;
const carriesLineage = (s: SpanLineage) => s.lineage.prompt !== null || s.lineage.model !== null || s.lineage.responseId !== '' || s.lineage.datasetIds.length > 0;

export async function provenanceByResponseId(deps: ProvenanceDeps, projectId: string, responseId: string): Promise<ProvenanceAnswer> {
  const span = pick(await deps.spans.findByResponseId(projectId, responseId));
  if (!span) throw new NotFoundError(`no response with id "${responseId}" has been received`);
  return toRecord(deps, projectId, span);
}

export async function provenanceBySpanId(deps: ProvenanceDeps, projectId: string, spanId: string): Promise<ProvenanceAnswer> {
  const span = pick(await deps.spans.findBySpanId(projectId, spanId.toLowerCase()));
  if (!span) throw new NotFoundError(`no span with id "${spanId}" has been received`);
  return toRecord(deps, projectId, span);
}

/**
 * The response a trace answers for: its last model response. Spans with a response id outrank
 * spans that only name a model (a wrapper such as ai.streamText names one too); among equals the
 * later start wins, and at the same start the deeper span (the actual call).
 */
function lastResponse(spans: SpanLineage[]): SpanLineage | undefined {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = (s: SpanLineage) => {
    let d = 0;
    for (let p = byId.get(s.parentSpanId); p && d < spans.length; p = byId.get(p.parentSpanId)) d++;
    return d;
  };
  const rank = (s: SpanLineage) => (s.lineage.responseId !== '' ? 1 : 0);
  return spans
    .filter(isResponse)
    .sort((a, b) => rank(b) - rank(a) || b.timestamp.localeCompare(a.timestamp) || depth(b) - depth(a))[0];
}

/** A trace answers with its last response (the agent's final answer) and every span with lineage. */
export async function provenanceByTraceId(given: ProvenanceDeps, projectId: string, traceId: string): Promise<ProvenanceAnswer> {
  const deps = askingOnce(given);
  const spans = await deps.spans.findByTraceId(projectId, traceId.toLowerCase());
  if (spans.length === 0) throw new NotFoundError(`no trace with id "${traceId}" has been received`);
  const main = lastResponse(spans) ?? pick(spans.filter(carriesLineage)) ?? spans[0]!;
  const record = await toRecord(deps, projectId, main);
  const related = await Promise.all(spans.filter(carriesLineage).map((s) => toRecord(deps, projectId, s)));
  return { ...record, spans: related };
}

const objectOf = (m: Map<string, string>): Record<string, string> => {
  const o = Object.create(null) as Record<string, string>;
  for (const [k, v] of m) o[k] = v;
  return o;
};

/** Every span of a trace with its attributes (attribute keys are data: null-prototype objects). */
export async function traceDetail(given: ProvenanceDeps, projectId: string, traceId: string): Promise<TraceAnswer> {
  const deps = askingOnce(given);
  const spans: StoredSpanDetail[] = await deps.spans.getTraceDetail(projectId, traceId.toLowerCase());
  if (spans.length === 0) throw new NotFoundError(`no trace with id "${traceId}" has been received`);
  return {
    traceId: traceId.toLowerCase(),
    spans: await Promise.all(
      spans.map(async (s) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: orNull(s.parentSpanId),
        name: s.spanName,
        kind: s.spanKind,
        serviceName: s.serviceName,
        timestamp: s.timestamp,
        durationNs: s.durationNs,
        status: { code: s.statusCode, message: s.statusMessage },
        attributes: objectOf(s.attributes),
        resourceAttributes: objectOf(s.resourceAttributes),
        events: s.events.map((e) => ({ timestamp: e.timestamp, name: e.name, attributes: objectOf(e.attributes) })),
        lineage: await toRecord(deps, projectId, s),
      })),
    ),
  };
}
