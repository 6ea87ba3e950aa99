import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { accessSync, chmodSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { lockDataDir } from './storage/sqlite/data-dir-lock.ts';
import { dirname, join } from 'node:path';
import { Spool } from './ingest/spool.ts';
import { SpanWriter } from './ingest/writer.ts';
import { startGrpcReceiver, type GrpcReceiver } from './ingest/grpc-receiver.ts';
import { InFlightBytes } from './ingest/intake.ts';
import { createApp } from './api/app.ts';
import { RegistryService } from './registry/registry-service.ts';
import type { Registry, RegistryHistory } from './storage/registry.ts';
import { SqliteRegistry } from './storage/sqlite/sqlite-registry.ts';
import { SqliteGovernance } from './storage/sqlite/sqlite-governance.ts';
import { openRecords } from './storage/sqlite/sqlite-records.ts';
import type { AuditLog, KeyStore, RetentionSettings } from './storage/governance.ts';
import { AuditService } from './governance/audit.ts';
import { ANCHOR_FILE } from './governance/audit-anchor.ts';
import { Authenticator, authorizeExport, RateLimiter } from './governance/access.ts';
import { bootstrapAdminKey } from './governance/bootstrap.ts';
import type { Config } from './config.ts';
import { ConfigError } from './common/errors.ts';
import { ClickHouseServerExecutor } from './storage/clickhouse/server-executor.ts';
import { Neo4jSessions } from './storage/neo4j/neo4j-sessions.ts';
import { Neo4jLineageGraph } from './storage/neo4j/neo4j-lineage-graph.ts';
import { Neo4jRegistry } from './storage/neo4j/neo4j-registry.ts';
import { Neo4jGovernance } from './storage/neo4j/neo4j-governance.ts';
import type { StoreLifecycle } from './storage/lifecycle.ts';
import type { Logger } from './common/logger.ts';
import { systemClock } from './common/clock.ts';
import { PromptlineMetrics } from './common/metrics.ts';
import { ChdbExecutor } from './storage/clickhouse/chdb-executor.ts';
import { LanedExecutor, QueryLanes } from './storage/clickhouse/query-lanes.ts';
import { ScanBudget } from './api/scan-budget.ts';
import { ClickHouseSpanStore } from './storage/clickhouse/clickhouse-span-store.ts';
import { ClickHouseSpanAnalytics } from './storage/clickhouse/clickhouse-span-analytics.ts';
import { ClickHouseRetention } from './storage/clickhouse/clickhouse-retention.ts';
import { RetentionService } from './governance/retention.ts';
import { TraceDeletion } from './governance/trace-deletion.ts';
import type { SpanAnalytics } from './storage/span-analytics.ts';
import type { LineageGraph } from './storage/lineage-graph.ts';
import type { SpanQueries, SpanRetentionStore, SpanSink } from './storage/span-store.ts';
import { SqliteLineageGraph } from './storage/sqlite/sqlite-lineage-graph.ts';
import { SqliteWebhooks } from './storage/sqlite/sqlite-webhooks.ts';
import { Neo4jWebhooks } from './storage/neo4j/neo4j-webhooks.ts';
import type { WebhookStore } from './storage/webhooks.ts';
import { Webhooks } from './governance/webhooks.ts';
import { SqliteMonitors } from './storage/sqlite/sqlite-monitors.ts';
import { Neo4jMonitors } from './storage/neo4j/neo4j-monitors.ts';
import type { MonitorStore } from './storage/monitors.ts';
import { MonitorService } from './impact/monitors.ts';
import { LineageRollup } from './impact/lineage-rollup.ts';
import { SqliteProposals } from './storage/sqlite/sqlite-proposals.ts';
import { Neo4jProposals } from './storage/neo4j/neo4j-proposals.ts';
import type { ProposalStore } from './storage/proposals.ts';
import { ProposalService } from './registry/proposals.ts';

// One process: the OTLP receivers (HTTP on the API's port, gRPC on its own) and the API, the spool,
// the writer and the stores.
// start() and stop() are the whole lifecycle; nothing here is global.

export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningPromptline {
  url: string;
  /** Where the OTLP/gRPC receiver listens (host:port), or null when PROMPTLINE_GRPC_PORT is off. */
  grpcAddress: string | null;
  dataDir: string;
  spans: SpanSink & SpanQueries;
  graph: LineageGraph;
  writer: SpanWriter;
  /** An admin key generated at the first start (shown once), or null. */
  bootstrapKey: string | null;
  authDisabled: boolean;
  /** Stops taking requests, writes what the spool holds to the stores, closes them. */
  /** Stops taking requests, writes what is held to the stores, closes them; `report` is told each step (shutdown's progress). */
  stop(report?: (line: string) => void): Promise<void>;
}

/**
 * Backends are chosen by configuration alone: a ClickHouse server when CLICKHOUSE_URL is set, else
 * the engine in-process; Neo4j when NEO4J_URL is set, else SQLite. Code above the ports never knows.
 */
async function openStores(config: Config): Promise<Stores> {
  const queryTimeoutMs = config.queries.timeoutMs;
  const engine = config.clickhouseUrl ? await ClickHouseServerExecutor.connect(config.clickhouseUrl, { queryTimeoutMs }) : new ChdbExecutor(join(config.dataDir, 'clickhouse'), { queryTimeoutMs });
  // Lookups before scans, projects in turn (query-lanes.ts). The embedded engine runs one
  // parameterised query at a time anyway; a server takes a few at once.
  const lanes = new QueryLanes({ slots: config.clickhouseUrl ? 8 : 1, analysisQueuePerProject: config.queries.analysisQueuePerProject, queueTimeoutMs: queryTimeoutMs });
  const spans = new ClickHouseSpanStore(new LanedExecutor(engine, lanes, 'lookup'));
  const analytics = new ClickHouseSpanAnalytics(new LanedExecutor(engine, lanes, 'analysis'));
  const retention = new ClickHouseRetention(new LanedExecutor(engine, lanes, 'lookup'));
  try {
    if (config.neo4j) {
      // One driver, one connection pool, for the graph, the registry and governance beside it.
      const neo4j = await Neo4jSessions.connect(config.neo4j);
      const graph = new Neo4jLineageGraph(neo4j);
      const registry = new Neo4jRegistry(neo4j);
      const governance = new Neo4jGovernance(neo4j);
      const webhooks = new Neo4jWebhooks(neo4j);
      const proposals = new Neo4jProposals(neo4j);
      const monitors = new Neo4jMonitors(neo4j);
      return { spans, analytics, retention, graph, registry, governance, webhooks, proposals, monitors, close: closing([spans, graph, registry, governance, webhooks, proposals, monitors], neo4j) };
    }
    // The registry, keys and the audit log in one file: a change and its audit entry are one transaction.
    const records = openRecords(config.dataDir);
    const graph = new SqliteLineageGraph(join(config.dataDir, 'lineage.sqlite'));
    const registry = new SqliteRegistry(records);
    const governance = new SqliteGovernance(records);
    const webhooks = new SqliteWebhooks(records);
    const proposals = new SqliteProposals(records);
    const monitors = new SqliteMonitors(records);
    return { spans, analytics, retention, graph, registry, governance, webhooks, proposals, monitors, close: closing([spans, graph, registry, governance, webhooks, proposals, monitors]) };
  } catch (err) {
    await spans.close();
    throw err;
  }
}

interface Stores {
  spans: SpanSink & SpanQueries;
  analytics: SpanAnalytics;
  /** Retention and deletion requests, on the span store's engine (closed with it). */
  retention: SpanRetentionStore;
  graph: LineageGraph;
  registry: Registry & RegistryHistory;
  governance: KeyStore & AuditLog & RetentionSettings;
  /** Webhooks and their outbox, beside the keys. */
  webhooks: WebhookStore;
  /** Proposals and alias policies, beside the registry (its file on SQLite). */
  proposals: ProposalStore;
  /** Drift monitors and their alerts, beside the audit log. */
  monitors: MonitorStore;
  /** Closes every store, then the connection they share, if any. */
  close(): Promise<void>;
}

function closing(stores: readonly StoreLifecycle[], shared?: { close(): Promise<void> }): () => Promise<void> {
  return async () => {
    for (const store of stores) await store.close();
    await shared?.close();
  };
}

/**
 * The data directory holds key hashes, the registry, the audit log, raw spans and the embedded
 * ClickHouse engine's files (whose modes are the engine's): closed to everyone but its owner, it
 * keeps all of them so. One made by an earlier version, or by hand, is closed too when it is ours.
 */
function privateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) chmodSync(dir, 0o700);
    // Everything Promptline keeps is written here: one that cannot be written stops the start now.
    accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EACCES' || e.code === 'EPERM' ? 'is not writable by this user' : e.code === 'ENOTDIR' ? 'is under a file, not a directory' : e.code === 'EROFS' ? 'is on a read-only file system' : `cannot be used (${e.code ?? e.message})`;
    throw new ConfigError(`PROMPTLINE_DATA_DIR: ${dir} ${why}; choose a directory this user can write`);
  }
}

/** Whether host:port can be listened on: asked before anything is made in the data directory. */
async function ensurePortFree(variable: string, host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is in use by another process' : err.code === 'EACCES' ? 'needs privileges this user does not have' : `cannot be listened on (${err.code ?? err.message})`;
      reject(new ConfigError(`${variable}: ${host}:${port} ${why}; stop that process or choose another ${variable}`));
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** Answers a connection over a cap on the raw socket (no request has been read yet) and closes it. */
function refuse(socket: Socket, status: 429 | 503, reason: string): void {
  const body = `${reason}; retry shortly\n`;
  const text = status === 429 ? 'Too Many Requests' : 'Service Unavailable';
  const answer = `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${body}`;
  // A peer that reads nothing would hold the write (and the descriptor) open: a second at most.
  const timer = setTimeout(() => socket.destroy(), 1_000);
  timer.unref();
  socket.write(answer, () => {
    clearTimeout(timer);
    socket.destroy();
  });
}

/** Whether the writer stored everything it held within `ms` (a deletion request waits so long for it, not longer). */
function idleWithin(writer: SpanWriter, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  return Promise.race([writer.whenIdle().then(() => true), late]).finally(() => clearTimeout(timer));
}

/** Sockets refused with an answer still hold a descriptor for a moment; past this many more, Node drops them outright. */
const REFUSAL_HEADROOM = 256;

/**
 * No client may hold the server's descriptors: a connection silent for idleTimeoutMs is closed
 * (mid-request too: a request that neither sends nor receives for that long is cut), at most
 * `max` are open at once (past it a new one is answered 503 and closed) and at most `maxPerClient`
 * from one address (past it, 429 and closed). Both answers carry Retry-After.
 */
function limitConnections(server: Server, limits: Config['connections']): void {
  server.timeout = limits.idleTimeoutMs;
  server.maxConnections = limits.max + REFUSAL_HEADROOM;
  let open = 0;
  const perClient = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const fromClient = perClient.get(address) ?? 0;
    if (open >= limits.max) {
      refuse(socket, 503, 'the server has too many open connections');
      return;
    }
    if (fromClient >= limits.maxPerClient) {
      refuse(socket, 429, 'too many open connections from this address');
      return;
    }
    open++;
    perClient.set(address, fromClient + 1);
    socket.once('close', () => {
      open--;
      const left = (perClient.get(address) ?? 1) - 1;
      if (left <= 0) perClient.delete(address);
      else perClient.set(address, left);
    });
  });
}

export async function startPromptline(config: Config, logger: Logger): Promise<RunningPromptline> {
  // The head file is written after every change, when it is too late to refuse one: a path that
  // cannot be written stops the start instead.
  if (config.audit.headFile && !existsSync(dirname(config.audit.headFile))) throw new ConfigError(`PROMPTLINE_AUDIT_HEAD_FILE: the directory of ${config.audit.headFile} does not exist`);
  await ensurePortFree('PORT', config.host, config.port);
  if (config.grpc) await ensurePortFree('PROMPTLINE_GRPC_PORT', config.grpc.host, config.grpc.port);
  privateDir(config.dataDir);
  const unlock = lockDataDir(config.dataDir);
  let stores: Stores;
  try {
    stores = await openStores(config);
  } catch (err) {
    unlock();
    throw err;
  }
  const { spans, analytics, graph, registry, governance } = stores;
  try {
    await spans.migrate();
    await graph.migrate();
    await registry.migrate();
    await governance.migrate();
    await stores.webhooks.migrate();
    await stores.proposals.migrate();
    await stores.monitors.migrate();
  } catch (err) {
    await stores.close();
    unlock();
    throw err;
  }
  const audit = new AuditService({ log: governance, anchorFile: join(config.dataDir, ANCHOR_FILE), headFile: config.audit.headFile, secret: config.audit.secret, history: registry, logger });
  // The span tables' TTL follows the stored settings, at every start (a no-op when they agree).
  const retention = new RetentionService({ settings: governance, spans: stores.retention, audit, clock: systemClock, logger });
  try {
    await retention.apply();
  } catch (err) {
    await stores.close();
    unlock();
    throw err;
  }
  let bootstrapKey: string | null = null;
  if (config.auth.disabled) {
    logger.warn('AUTHENTICATION IS OFF (PROMPTLINE_DEV_NO_AUTH): every caller is an admin; bound to loopback only. Never run this way with real data.');
  } else {
    bootstrapKey = (await bootstrapAdminKey(governance, audit, config.apiKey, { clock: systemClock, logger })).generatedKey;
  }

  // onDurable runs only when an appended record is on disk, and only the receiver appends (it is
  // made below, after the writer): the writer it names is never read before it is assigned.
  const spool = await Spool.open({
    dir: config.spool.dir,
    maxBytes: config.spool.maxBytes,
    segmentBytes: config.spool.segmentBytes,
    logger,
    onDurable: (position, attachment) => writer.enqueue(position, attachment as never),
  });
  // The one EventPublisher: alias moves, proposal events and alerts go out through the project webhooks.
  const webhooks = new Webhooks({ store: stores.webhooks, audit, clock: systemClock, logger, retryBaseMs: config.webhooks.retryBaseMs, timeoutMs: config.webhooks.timeoutMs });
  const registryService = new RegistryService({ registry, graph, logger, audit, events: webhooks });
  const proposals = new ProposalService({ store: stores.proposals, registry: registryService, analytics, audit, events: webhooks, protectedAliases: config.auth.protectedAliases });
  // This server's own registry: what GET /metrics shows, and where every part counts.
  const metrics = new PromptlineMetrics({ processMetrics: true });
  const writer = new SpanWriter({
    analytics,
    classifyPrompt: async (projectId, prompt) => (await registryService.registrationStatus(projectId, prompt)).status,
    spool,
    spans,
    graph,
    logger,
    batchMaxSpans: config.writer.batchMaxSpans,
    flushIntervalMs: config.writer.flushIntervalMs,
    resolverCacheBytes: config.writer.resolverCacheBytes,
    maxFixupsPerBatch: config.writer.maxFixupsPerBatch,
    spanTimeWindow: config.spanTimeWindow,
    deadLetterDir: join(config.dataDir, 'dead-letter'),
    metrics,
  });
  metrics.watchSpool(() => spool.stats());
  metrics.watchWriter(() => ({ ...writer.stats(), lagSeconds: writer.lagSeconds() }));
  // A deletion request first lets the writer store what it holds, for up to 15 s.
  const deletion = new TraceDeletion({ spans: stores.retention, audit, logger, drainWrites: () => idleWithin(writer, 15_000) });
  const recovered = spool.stats().pendingRecords;
  if (recovered > 0) logger.info('spool: replaying requests not yet in the stores', { records: recovered });
  writer.start();
  // What is pending in the outbox from before a restart goes out first.
  webhooks.start();
  // Drift monitors, evaluated every interval; their alerts go out through the webhooks.
  const monitors = new MonitorService({ store: stores.monitors, analytics, audit, logger, events: webhooks, clock: systemClock });
  monitors.start(config.monitors.intervalMs);
  // The per-minute lineage rollup what-changed reads over long windows, kept up every interval.
  const rollup = new LineageRollup({ analytics, logger, clock: systemClock, metrics });
  rollup.start(config.rollup.intervalMs);

  // One in-flight budget, one export rate limiter and one authenticator serve OTLP/HTTP and OTLP/gRPC.
  const receiverInFlight = new InFlightBytes(config.receiver.maxInFlightBytes);
  const auth = config.auth.disabled ? null : new Authenticator(governance, systemClock, { failuresPerSecond: config.limits.authFailuresPerSecond, failureBurst: config.limits.authFailureBurst, metrics });
  const ingestLimiter = new RateLimiter(config.limits.ingestPerSecond, config.limits.ingestBurst, systemClock, `this key sends more than ${config.limits.ingestPerSecond} OTLP requests a second; batch more spans a request, or ask for a higher PROMPTLINE_INGEST_RATE_PER_SECOND`, { metrics, kind: 'ingest' });
  const app = createApp({
    version: VERSION,
    logger,
    spans,
    graph,
    spool,
    writer,
    registry,
    registryService,
    proposals,
    analytics,
    catalog: registryService,
    receiverMaxInFlightBytes: config.receiver.maxInFlightBytes,
    receiverInFlight,
    spanTimeWindow: config.spanTimeWindow,
    keys: governance,
    audit,
    retention,
    deletion,
    webhooks,
    events: webhooks,
    monitors,
    clock: systemClock,
    auth,
    limiter: new RateLimiter(config.auth.ratePerSecond, config.auth.rateBurst, systemClock, undefined, { metrics, kind: 'api' }),
    scanBudget: new ScanBudget(config.queries.scansPerProject),
    ingestLimiter,
    protectedAliases: config.auth.protectedAliases,
    metrics,
  });
  const server: Server = createServer({ requestTimeout: 120_000, headersTimeout: 30_000, keepAliveTimeout: Math.min(5_000, config.connections.idleTimeoutMs) }, app);
  limitConnections(server, config.connections);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let grpc: GrpcReceiver | null = null;
  let stopping: Promise<void> | null = null;
  const stop = (report: (line: string) => void = () => {}) =>
    (stopping ??= (async () => {
      report('no new requests; finishing those in flight');
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 10_000);
      // Both receivers stop taking requests and finish those in flight before the spool closes.
      await Promise.all([closed, grpc?.stop(10_000)]);
      clearTimeout(force);
      report('stopping the drift monitors and the lineage rollup');
      await Promise.all([monitors.stop(), rollup.stop()]);
      report('stopping webhook deliveries');
      const { interrupted } = await webhooks.stop();
      if (interrupted > 0) report(`  ${interrupted} delivery attempt(s) cut off: they stay pending and are made at the next start`);
      await spool.close();
      const held = writer.stats();
      report(`writing what is held to the stores: ${held.queuedRecords} request(s), ${held.queuedSpans} span(s)`);
      // How far it got, every two seconds while it writes.
      const progress = setInterval(() => {
        const now = writer.stats();
        report(`  ${now.writtenSpans - held.writtenSpans} span(s) written, ${now.queuedSpans} to go`);
      }, 2_000);
      progress.unref();
      const { drained } = await writer.stop();
      clearInterval(progress);
      const after = writer.stats();
      if (drained) report(`written: ${after.writtenSpans - held.writtenSpans} span(s); the stores have everything`);
      else {
        report(`not everything was written in time: ${after.queuedRecords} request(s) stay in the spool and are written at the next start`);
        logger.warn('shutdown: the stores did not take everything in time; the rest stays in the spool for the next start');
      }
      report('closing the stores');
      await stores.close();
      unlock();
    })());

  if (config.grpc) {
    try {
      grpc = await startGrpcReceiver(
        {
          spool,
          logger,
          inFlight: receiverInFlight,
          spanTimeWindow: config.spanTimeWindow,
          authorize: (caller) => authorizeExport({ auth, ingestLimiter }, caller.authorization, caller.project, caller.address),
          loopbackOnly: config.auth.disabled,
          idleTimeoutMs: config.connections.idleTimeoutMs,
          metrics,
        },
        config.grpc.host,
        config.grpc.port,
      );
    } catch (err) {
      // Everything started so far is stopped as at shutdown (the spool keeps what it holds).
      await stop();
      throw new ConfigError(`PROMPTLINE_GRPC_PORT: the OTLP/gRPC receiver could not listen on ${config.grpc.host}:${config.grpc.port}: ${(err as Error).message} (set PROMPTLINE_GRPC_PORT=off to run without it)`);
    }
  }
  const grpcAddress = config.grpc && grpc ? `${config.grpc.host.includes(':') ? `[${config.grpc.host}]` : config.grpc.host}:${grpc.port}` : null;

  return { url: `http://${host}:${port}`, grpcAddress, dataDir: config.dataDir, spans, graph, writer, stop, bootstrapKey, authDisabled: config.auth.disabled };
}
