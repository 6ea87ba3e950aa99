// The responses of a project, newest first, searchable: what a list view of responses shows and
// offers to filter by. Answered by the span store's engine, beside impact (span-analytics.ts).
//
// A response is a span with a response id; in a trace with none (Langfuse sends none), each span
// that named a model itself (a model call) is one. Whether a trace has a response id is a fact of
// the whole trace, not of the filters: filters only narrow the list.

export type ResponseStatus = 'error' | 'ok' | 'unset';
export type ResponseRegistration = 'registered' | 'unregistered' | 'template_mismatch';

/** What to list: a window of span start times and filters, each of which narrows the list. */
export interface ResponseFilter {
  from: Date;
  /** Exclusive. */
  to: Date;
  app?: string | undefined;
  appVersion?: string | undefined;
  prompt?: string | undefined;
  version?: string | undefined;
  alias?: string | undefined;
  model?: string | undefined;
  provider?: string | undefined;
  dataset?: string | undefined;
  conversation?: string | undefined;
  status?: ResponseStatus | undefined;
  registration?: ResponseRegistration | undefined;
  /** A substring of the span name, in any letter case. */
  nameContains?: string | undefined;
  responseId?: string | undefined;
  traceId?: string | undefined;
}

export interface ResponseListItem {
  responseId: string | null;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** When the span started, ISO-8601 UTC with nanoseconds. */
  timestamp: string;
  durationMs: number;
  spanName: string;
  serviceName: string;
  status: { code: ResponseStatus; message: string };
  prompt: { name: string; version: string; alias: string } | null;
  /** null where the span carries no prompt, or was stored before prompts were classified. */
  registration: ResponseRegistration | null;
  model: { provider: string; name: string } | null;
  app: { name: string; version: string };
  datasets: string[];
  conversationId: string | null;
}

/** A position in the newest-first list: the last item of the previous page. */
export interface ResponsePosition {
  timestamp: string;
  traceId: string;
  spanId: string;
}

export interface FacetValue {
  value: string;
  /** Matching responses with this value. */
  count: number;
}

/** The values the matching responses carry, most frequent first. */
export interface ResponseFacets {
  apps: FacetValue[];
  appVersions: FacetValue[];
  prompts: FacetValue[];
  promptVersions: FacetValue[];
  aliases: FacetValue[];
  models: FacetValue[];
  providers: FacetValue[];
  datasets: FacetValue[];
}

export interface ResponseList {
  /** Newest first (by start time, then trace and span id, descending), after `after`. */
  listResponses(projectId: string, filter: ResponseFilter, page: { limit: number; after: ResponsePosition | null }): Promise<ResponseListItem[]>;
  /** How many responses match, exactly. */
  countResponses(projectId: string, filter: ResponseFilter): Promise<number>;
  /** The `top` most frequent values of each facet among the matching responses ('' left out). */
  responseFacets(projectId: string, filter: ResponseFilter, top: number): Promise<ResponseFacets>;
}
