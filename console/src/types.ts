// The shapes of the API answers the console reads. The OpenAPI document at /openapi.json is the
// full contract; these name the fields the views use.

export type Permission = 'ingest' | 'prompts' | 'read' | 'edit' | 'promote' | 'admin' | 'metrics' | 'propose';

export interface SessionInfo {
  keyId: string;
  name: string;
  role: string;
  promote: boolean;
  instanceAdmin: boolean;
  project: string;
  permissions: Permission[];
  projects: string[];
}

// GET /v1/impact (src/impact/impact-service.ts).

export interface ImpactPathStep {
  from: { kind: string; parts: string[] };
  rel: string;
  to: { kind: string; parts: string[] };
}

/** How an affected entity connects to the start: graph edges, or (no path in the graph) its responses. */
export interface ImpactConnection {
  via: 'graph' | 'responses';
  path: ImpactPathStep[];
}

export interface ImpactSeen {
  count: number;
  firstSeen: string;
  lastSeen: string;
}

export interface ImpactAliasTarget {
  version: number | null;
  split: { id: string; arms: Array<{ version: number; weight: number }> } | null;
}

export interface ImpactMove {
  seq: number;
  at: string;
  actor: string;
  reason: string;
  from: ImpactAliasTarget | null;
  to: ImpactAliasTarget;
  rollback: boolean;
}

export type ImpactTarget =
  | { kind: 'promptVersion'; name: string; version: number | string; registered: boolean; commitMessage: string | null; author: string | null }
  | { kind: 'aliasMove'; name: string; alias: string; move: ImpactMove; until: string | null; versions: number[] }
  | { kind: 'dataset'; id: string }
  | { kind: 'model'; name: string; provider: string | null }
  | { kind: 'appVersion'; name: string; version: string };

export interface ImpactItem {
  responseId: string | null;
  traceId: string;
  spanId: string;
  timestamp: string;
  prompt: { name: string; version: string; alias: string } | null;
  model: { provider: string; name: string } | null;
  app: { name: string; version: string };
  service: string;
  conversationId: string | null;
  datasets: string[];
}

export interface ImpactAnswer {
  target: ImpactTarget;
  window: { from: string; to: string };
  responses: { count: number; bucketSeconds: number; histogram: Array<{ start: string; count: number }>; items: ImpactItem[]; nextCursor: string | null };
  apps: Array<{ name: string; version: string } & ImpactSeen & ImpactConnection>;
  services: Array<{ name: string } & ImpactSeen & ImpactConnection>;
  conversations: { count: number; top: Array<{ id: string; responses: number }> };
  promptVersions: Array<{ name: string; version: string } & ImpactSeen & ImpactConnection>;
  models: Array<{ provider: string; name: string } & ImpactSeen & ImpactConnection>;
  datasets: Array<{ id: string } & ImpactSeen & ImpactConnection>;
  evaluations: Array<
    { runId: string; scorer: string; results: number; meanScore: number | null; promptVersions: Array<{ name: string; version: string }>; datasets: string[]; firstSeen: string; lastSeen: string } & ImpactConnection
  >;
  derivedVersions: Array<{ name: string; version: string; depth: number } & ImpactConnection>;
  firstSeen: string | null;
  lastSeen: string | null;
}

// GET /v1/audit and /v1/audit/verify (src/api/routes/audit.ts). The chain's fields (seq, prevHash,
// hash, the head, where it broke) are answered to an instance admin only.

export interface AuditEntry {
  seq?: number;
  projectSeq: number | null;
  at: string;
  project: string;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  prevHash?: string;
  hash?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  next: number | null;
}

export interface AuditVerify {
  scope: 'instance' | 'project';
  ok: boolean;
  entries: number;
  problem: { seq: number | null; reason: string } | null;
  problems: Array<{ seq: number | null; reason: string }>;
  head: { seq: number; hash: string } | null;
  anchor: 'signed' | 'unsigned' | 'missing' | 'none';
  notes: string[];
  registry: { versions: number; moves: number } | null;
}

/** GET /v1/prompts and GET /v1/prompts/{name}/aliases, /history: what the impact form offers. */
export interface PromptSummary {
  name: string;
  latestVersion: number;
  versions: number;
  aliases: string[];
  updatedAt: string;
}

// The prompt registry (src/api/registry-schemas.ts) and GET /v1/prompts/{name}/compare
// (src/impact/compare.ts), as the prompt views read them.

export type RegistryChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface RegistryChatMessage {
  role: RegistryChatRole;
  content: string;
}

export type RegistryTemplate = { type: 'text'; text: string } | { type: 'chat'; messages: RegistryChatMessage[] };

export interface RegistryVersion {
  name: string;
  version: number;
  uri: string;
  template: RegistryTemplate;
  templateHash: string;
  variables: string[];
  commitMessage: string;
  author: string;
  tags: string[];
  baseVersion: number | null;
  createdAt: string;
}

export interface RegistryVersionList {
  name: string;
  total: number;
  versions: RegistryVersion[];
}

export interface RegistryAliasTarget {
  version: number | null;
  split: { id: string; arms: Array<{ version: number; weight: number }> } | null;
}

export interface RegistryAliasMove {
  name: string;
  alias: string;
  seq: number;
  at: string;
  actor: string;
  reason: string;
  from: RegistryAliasTarget | null;
  to: RegistryAliasTarget;
  rollback: boolean;
}

export interface RegistryAlias {
  name: string;
  alias: string;
  target: RegistryAliasTarget;
  since: RegistryAliasMove;
}

export interface RegistryAliasState extends RegistryAlias {
  at: string;
  resolved: { version: number; assignment: { splitId: string; version: number; key: string } | null } | null;
}

export interface RegistryDiff {
  name: string;
  from: number;
  to: number;
  type: 'text' | 'chat' | 'mixed';
  unified: string;
  added: number;
  removed: number;
  messages?: Array<{ index: number; change: 'added' | 'removed' | 'changed' | 'same'; from?: { role: string; content: string }; to?: { role: string; content: string } }>;
}

export interface RegistryRender {
  name: string;
  version: number;
  templateHash: string;
  rendered: RegistryTemplate;
}

export interface CompareVersionStats {
  version: number;
  responses: number;
  errorRate: { value: number | null; ci95: [number, number] | null; n: number };
  latencyMs: { p50: number | null; p95: number | null; mean: number | null };
  tokens: { input: number; output: number; meanTotal: number | null };
  scores: Array<{ scorer: string; mean: number | null; ci95: [number, number] | null; n: number }>;
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface CompareVerdict {
  metric: string;
  better: 'a' | 'b' | null;
  difference: number;
  confidence: number;
  method: string;
}

export interface VersionComparison {
  name: string;
  a: CompareVersionStats;
  b: CompareVersionStats;
  verdicts: CompareVerdict[];
  overall: { better: 'a' | 'b' | null; confidence: number | null; basis: string[] };
  decisionConfidence: number;
}

// Drift, monitors and alerts (src/api/routes/drift.ts, src/api/routes/monitors.ts).

export type DriftSummary = { n: number; p50: number | null; p90: number | null } | { n: number; shares: Record<string, number> };

export interface DriftSignal {
  signal: string;
  kind: 'continuous' | 'categorical';
  test: 'ks' | 'chi_square';
  statistic: number;
  pValue: number;
  psi: number;
  drifted: boolean;
  baseline: DriftSummary;
  current: DriftSummary;
}

export interface DriftAnswer {
  target: { prompt: string; version: string | null; alias: string | null };
  baseline: { kind: 'first_days' | 'window' | 'evaluation'; from: string; to: string; responses: number };
  current: { from: string; to: string; responses: number };
  thresholds: { pValue: number; psi: number };
  signals: DriftSignal[];
  drifted: string[];
}

export type MonitorBaseline = { kind: 'first_days'; days: number } | { kind: 'window'; from: string; to: string } | { kind: 'evaluation' };

export interface Monitor {
  id: string;
  name: string;
  prompt: string;
  version: string | null;
  alias: string | null;
  /** The signals it watches; empty for every signal drift reports. */
  signals: string[];
  pValue: number;
  psi: number;
  windowSeconds: number;
  baseline: MonitorBaseline;
  createdAt: string;
  createdBy: string;
}

export interface Alert {
  id: string;
  monitorId: string;
  state: 'open' | 'resolved';
  signals: string[];
  /** baseline/current: the two windows as the evaluation that saw the breach measured them (absent on alerts opened before they were kept). */
  values: Array<{ signal: string; statistic: number; pValue: number; psi: number; baseline?: DriftSummary; current?: DriftSummary }>;
  firstSeen: string;
  lastSeen: string;
  resolvedAt: string | null;
}

export interface MonitorList {
  monitors: Array<Monitor & { openAlert: Alert | null }>;
}

export interface AlertDetail {
  alert: Alert;
  monitor: Monitor;
  drift: DriftAnswer | null;
}

// GET /v1/what-changed (src/api/routes/what-changed.ts, src/impact/what-changed.ts).

export type WhatChangedMetric = 'error_rate' | 'latency_ms' | 'output_tokens' | 'input_tokens';
export type ChangeCause = 'prompt' | 'model' | 'data' | 'app';

export interface WhatChangedStat {
  mean: number | null;
  n: number;
}

export interface LineageChange {
  kind: 'alias_move' | 'prompt_version' | 'unregistered_prompt' | 'model' | 'datasets' | 'app_version';
  cause: ChangeCause;
  at: string;
  description: string;
  dimension: string;
  value: string[];
  move?: { name: string; alias: string; seq: number; actor: string; reason: string; from: RegistryAliasTarget | null; to: RegistryAliasTarget };
  segment: { from: string; to: string };
  share: { before: number; after: number };
  before: WhatChangedStat;
  after: WhatChangedStat;
  changed: WhatChangedStat;
  unchanged: WhatChangedStat;
  explained: number;
  z: number;
  significant: boolean;
  explainedShare: number | null;
}

export interface WhatChangedAnswer {
  scope: { app: string | null; prompt: string | null };
  metric: WhatChangedMetric;
  window: { from: string; to: string; bucketSeconds: number };
  responses: number;
  series: Array<{ time: string; responses: number; value: number | null }>;
  movement: { at: string; before: WhatChangedStat; after: WhatChangedStat; change: number; z: number; moved: boolean } | null;
  changes: LineageChange[];
  verdict: { cause: ChangeCause | null; change: number | null; summary: string };
}

// Proposals and alias policies (src/api/controllers/proposals.ts, src/api/routes/proposals.ts).

export type ProposalState = 'open' | 'changes_requested' | 'approved' | 'merged' | 'closed';
export type ProposalEventKind = 'opened' | 'comment' | 'approve' | 'request_changes' | 'merge_step' | 'merged' | 'closed';
export type ReviewVerdict = 'comment' | 'approve' | 'request_changes';

export interface GateResult {
  gate: string;
  ok: boolean;
  detail: string;
}

export interface AliasPolicy {
  alias: string;
  approvals: { count: number; roles: string[] };
  evaluations: Array<{ dataset: string; scorer: string; minScore: number | null; noRegression: boolean }>;
  rollout: { minResponses: number } | null;
  updatedAt: string;
  updatedBy: string;
  revision: number;
}

export interface ProposalEvent {
  seq: number;
  at: string;
  actor: string;
  role: string;
  kind: ProposalEventKind;
  message: string;
  from: ProposalState | null;
  to: ProposalState;
  merge: { step: number; steps: number; moveSeq: number; target: RegistryAliasTarget; policy: AliasPolicy | null; checks: GateResult[]; override: string | null } | null;
}

export interface Proposal {
  id: string;
  name: string;
  title: string;
  description: string;
  author: string;
  state: ProposalState;
  baseVersion: number | null;
  candidate: { version: number; uri: string };
  request: { alias: string; steps: number[] | null };
  fromTarget: RegistryAliasTarget | null;
  rollout: { steps: number; done: number; stepStartedAt: string | null };
  approvals: Array<{ actor: string; role: string; at: string }>;
  createdAt: string;
  updatedAt: string;
  revision: number;
  events: ProposalEvent[];
}

export interface ProposalView extends Proposal {
  current: RegistryAliasTarget | null;
  diff: RegistryDiff | null;
  diffError: string | null;
  policy: AliasPolicy | null;
  /** What the next merge step would check now; null once merged or closed. */
  nextStep: { step: number; steps: number; checks: GateResult[]; aliasMoved: boolean } | null;
}

export interface ProposalList {
  name: string;
  proposals: Proposal[];
}

export interface MergeAnswer {
  proposal: Proposal;
  move: RegistryAliasMove;
  checks: GateResult[];
}
