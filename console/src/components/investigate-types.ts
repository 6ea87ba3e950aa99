// The shapes of the answers the investigation views read (responses, traces, provenance,
// compliance reports, alias history). /openapi.json is the full contract.

export type Registration = 'registered' | 'template_mismatch' | 'registered_later' | 'unregistered';

/** One row of GET /v1/responses; an absent alias, model field or app field is ''. */
export interface ResponseItem {
  responseId: string | null;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  timestamp: string;
  durationMs: number;
  spanName: string;
  serviceName: string;
  status: { code: string; message: string };
  prompt: { name: string; version: string; alias: string } | null;
  registration: Exclude<Registration, 'registered_later'> | null;
  model: { provider: string; name: string } | null;
  app: { name: string; version: string };
  datasets: string[];
  conversationId: string | null;
}

/** The window a search covered (to is exclusive). */
export interface SearchWindow {
  from: string;
  to: string;
}

export interface ResponsesPage {
  items: ResponseItem[];
  nextCursor: string | null;
  count: number;
  window?: SearchWindow;
}

export interface FacetValue {
  value: string;
  count: number;
}

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

export interface PromptLineage {
  name: string;
  version: number | string | null;
  alias: string | null;
  templateHash: string | null;
  registered: boolean;
  registration: Registration;
  registeredAt: string | null;
  commitMessage: string | null;
  author: string | null;
}

export interface ProvenanceRecord {
  responseId: string | null;
  traceId: string;
  spanId: string;
  spanName: string;
  timestamp: string;
  prompt: PromptLineage | null;
  /** The span the prompt lineage was read from: this span or the ancestor it was inherited from. */
  promptSpanId: string | null;
  model: { provider: string | null; name: string | null } | null;
  datasets: Array<{ id: string }>;
  app: { name: string | null; version: string | null };
  conversationId: string | null;
}

export interface TraceSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: string;
  serviceName: string;
  timestamp: string;
  durationNs: string;
  status: { code: string; message: string };
  attributes: Record<string, string>;
  resourceAttributes: Record<string, string>;
  events: Array<{ timestamp: string; name: string; attributes: Record<string, string> }>;
  lineage: ProvenanceRecord;
}

export interface TraceAnswer {
  traceId: string;
  spans: TraceSpan[];
}

export interface AliasTarget {
  version: number | null;
  split: { id: string; arms: Array<{ version: number; weight: number }> } | null;
}

export interface AliasMove {
  name: string;
  alias: string;
  seq: number;
  at: string;
  actor: string;
  reason: string;
  from: AliasTarget | null;
  to: AliasTarget;
  rollback: boolean;
}

export interface AliasHistory {
  name: string;
  alias: string;
  moves: AliasMove[];
}

export interface AliasState {
  name: string;
  alias: string;
  at: string;
  target: AliasTarget;
  since: AliasMove;
}

export interface ReportSection {
  heading: string;
  facts: Array<[string, string]>;
  tables?: Array<{ caption: string; columns: string[]; rows: string[][] }>;
  block?: string;
}

export interface ComplianceReport {
  title: string;
  subject: Record<string, string | number>;
  generatedAt: string;
  generator: string;
  sections: ReportSection[];
  auditEntries: Array<{ at: string; actor: string; action: string; detail: string }>;
  /** sha256 of the canonical JSON of the report without this field. */
  contentHash: string;
}
