import type { Request, Response } from 'express';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { PromptlineMetrics } from '../common/metrics.ts';
import type { PromptCatalog } from '../domain/prompt.ts';
import type { Authenticator, RateLimiter } from '../governance/access.ts';
import type { ScanBudget } from './scan-budget.ts';
import type { AuditService } from '../governance/audit.ts';
import type { RetentionService } from '../governance/retention.ts';
import type { TraceDeletion } from '../governance/trace-deletion.ts';
import type { Webhooks } from '../governance/webhooks.ts';
import type { EventPublisher } from '../domain/events.ts';
import type { ImpactService } from '../impact/impact-service.ts';
import type { MonitorService } from '../impact/monitors.ts';
import type { InFlightBytes } from '../ingest/intake.ts';
import type { Spool } from '../ingest/spool.ts';
import type { SpanTimeWindow } from '../ingest/otlp/span-rules.ts';
import type { SpanWriter } from '../ingest/writer.ts';
import type { RegistryService } from '../registry/registry-service.ts';
import type { ProposalService } from '../registry/proposals.ts';
import type { ReportDeps } from '../reports/compliance.ts';
import type { KeyStore } from '../storage/governance.ts';
import type { LineageGraph } from '../storage/lineage-graph.ts';
import type { Registry } from '../storage/registry.ts';
import type { SpanAnalytics } from '../storage/span-analytics.ts';
import type { SpanQueries } from '../storage/span-store.ts';

/** What the composition root (server.ts) hands the API. */
export interface AppDeps {
  version: string;
  /** The built console (default console/dist); tests point it elsewhere. */
  consoleDir?: string;
  logger: Logger;
  spans: SpanQueries;
  graph: LineageGraph;
  spool: Spool;
  writer: SpanWriter;
  catalog: PromptCatalog;
  registry: Registry;
  registryService: RegistryService;
  /** Proposals, reviews, merges and the policies of protected aliases. */
  proposals: ProposalService;
  analytics: SpanAnalytics;
  receiverMaxInFlightBytes: number;
  /** The receivers' in-flight budget, when the OTLP/gRPC receiver shares it; else one of receiverMaxInFlightBytes is made. */
  receiverInFlight?: InFlightBytes;
  /** How far before and after its receipt a span may start (the receiver refuses the others). */
  spanTimeWindow: SpanTimeWindow;
  keys: KeyStore;
  audit: AuditService;
  /** Each project's span retention (GET/PUT /v1/retention, readyz). */
  retention: RetentionService;
  /** Deletion requests for a trace or a conversation. */
  deletion: TraceDeletion;
  /** The project webhooks (/v1/webhooks): registration, the delivery log. */
  webhooks: Webhooks;
  /** Where proposal events, alias moves and alerts are published (the webhooks deliver them). */
  events: EventPublisher;
  /** Drift monitors and their alerts (/v1/monitors, /v1/alerts). */
  monitors: MonitorService;
  /** The time recorded and the time that decides (key expiry) in route handlers. */
  clock: Clock;
  /** null: authentication is off (PROMPTLINE_DEV_NO_AUTH, loopback only). */
  auth: Authenticator | null;
  limiter: RateLimiter;
  /** OTLP export requests per key. */
  ingestLimiter: RateLimiter;
  /** Requests that scan many spans, in flight per project. */
  scanBudget: ScanBudget;
  protectedAliases: readonly string[];
  /** What GET /metrics shows, and where the API and the OTLP/HTTP receiver count; without it, the app makes its own. */
  metrics?: PromptlineMetrics;
}

/** What route handlers use: the dependencies, and the services the API builds over them once. */
export interface ApiServices extends AppDeps {
  impact: ImpactService;
  report: ReportDeps;
  receiveTraces: (req: Request, res: Response) => Promise<void>;
  protectedAliasSet: ReadonlySet<string>;
  openapi: unknown;
  metrics: PromptlineMetrics;
}
