import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './common/errors.ts';

// The whole configuration: one schema, read once from the environment at start.

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const DURATION_UNITS_MS = new Map<string, number>([
  ['ms', 1],
  ['s', 1_000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
]);
/** A duration such as "30d", "12h", "90m", "45s" or "500ms", in milliseconds. */
const duration = z
  .string()
  .trim()
  .regex(/^\d{1,9}(ms|s|m|h|d)$/, 'a duration is a whole number and a unit: ms, s, m, h or d (such as 30d or 12h)')
  .transform((v) => {
    const [, n, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(v)!;
    return Number(n) * DURATION_UNITS_MS.get(unit!)!;
  });

const BYTE_UNITS = new Map<string, number>([
  ['b', 1],
  ['kb', 1e3],
  ['mb', 1e6],
  ['gb', 1e9],
  ['tb', 1e12],
  ['kib', 2 ** 10],
  ['mib', 2 ** 20],
  ['gib', 2 ** 30],
  ['tib', 2 ** 40],
]);
/** A size in bytes: a whole number of bytes, or a number and a unit ("1GB" is 10^9 bytes, "1GiB" 2^30; "512 MiB", "1.5GB"). */
const byteSize = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(v));
    const unit = BYTE_UNITS.get((m?.[2] ?? '').toLowerCase() || 'b');
    const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      ctx.addIssue({ code: 'custom', message: 'a size is a number of bytes, or a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), such as 1GB or 512MiB' });
      return z.NEVER;
    }
    return bytes;
  });

const optionalUrl = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .pipe(z.url().optional())
  .optional();

export const envSchema = z
  .object({
    PORT: port.default(4318),
    HOST: z.string().trim().min(1).default('127.0.0.1'),
    // The OTLP/gRPC receiver's port: 4317 by default, 0 for one the system chooses, off for none.
    PROMPTLINE_GRPC_PORT: z.union([z.literal('off').transform(() => null), port], { error: 'PROMPTLINE_GRPC_PORT is a port (0 to 65535; 0 lets the system choose) or off' }).default(4317),
    PROMPTLINE_GRPC_HOST: z.string().trim().min(1).optional(),
    PROMPTLINE_DATA_DIR: z.string().trim().min(1).default('./.promptline'),
    PROMPTLINE_API_KEY: z.string().min(16, 'PROMPTLINE_API_KEY must be at least 16 characters').optional(),
    PROMPTLINE_DEV_NO_AUTH: z
      .enum(['', '0', '1', 'true', 'false'], { error: 'PROMPTLINE_DEV_NO_AUTH is 1 or true to turn authentication off (local development only)' })
      .default('')
      .transform((v) => v === '1' || v === 'true'),
    PROMPTLINE_AUDIT_SECRET: z.string().min(16, 'PROMPTLINE_AUDIT_SECRET must be at least 16 characters').optional(),
    PROMPTLINE_AUDIT_HEAD_FILE: z.string().trim().min(1).optional(),
    PROMPTLINE_PROTECTED_ALIASES: z
      .string()
      .default('production')
      .transform((v) => v.split(',').map((a) => a.trim()).filter((a) => a !== '')),
    PROMPTLINE_RATE_LIMIT_PER_SECOND: positiveInt.default(50),
    PROMPTLINE_RATE_LIMIT_BURST: positiveInt.default(200),
    PROMPTLINE_INGEST_RATE_PER_SECOND: positiveInt.default(500),
    PROMPTLINE_INGEST_RATE_BURST: positiveInt.default(2000),
    PROMPTLINE_AUTH_FAILURES_PER_SECOND: positiveInt.default(2),
    PROMPTLINE_AUTH_FAILURE_BURST: positiveInt.default(10),
    PROMPTLINE_QUERY_TIMEOUT_MS: positiveInt.default(30_000),
    PROMPTLINE_QUERY_QUEUE_PER_PROJECT: positiveInt.default(64),
    PROMPTLINE_SCANS_PER_PROJECT: positiveInt.default(8),
    PROMPTLINE_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    PROMPTLINE_SPOOL_DIR: z.string().trim().min(1).optional(),
    PROMPTLINE_SPOOL_MAX_BYTES: byteSize.default(1024 * 1024 * 1024),
    PROMPTLINE_SPOOL_SEGMENT_BYTES: byteSize.default(64 * 1024 * 1024),
    PROMPTLINE_RECEIVER_MAX_INFLIGHT_BYTES: byteSize.default(256 * 1024 * 1024),
    PROMPTLINE_MAX_CONNECTIONS: positiveInt.default(4096),
    PROMPTLINE_MAX_CONNECTIONS_PER_CLIENT: positiveInt.default(256),
    PROMPTLINE_IDLE_TIMEOUT_MS: positiveInt.default(60_000),
    PROMPTLINE_BATCH_MAX_SPANS: positiveInt.default(10_000),
    PROMPTLINE_FLUSH_INTERVAL_MS: positiveInt.default(200),
    PROMPTLINE_MAX_SPAN_AGE: duration.default(30 * 86_400_000),
    PROMPTLINE_MAX_SPAN_FUTURE: duration.default(86_400_000),
    PROMPTLINE_RESOLVER_CACHE_BYTES: byteSize.default(64 * 1024 * 1024),
    PROMPTLINE_MAX_FIXUPS_PER_BATCH: positiveInt.default(10_000),
    // Webhook deliveries: the wait after a first failed attempt (doubling after each later one), and an attempt's timeout.
    PROMPTLINE_WEBHOOK_RETRY_BASE_MS: positiveInt.max(3_600_000).default(1_000),
    PROMPTLINE_WEBHOOK_TIMEOUT_MS: positiveInt.max(300_000).default(10_000),
    PROMPTLINE_MONITOR_INTERVAL: duration.default(60_000),
    PROMPTLINE_ROLLUP_INTERVAL: duration.default(60_000),
    CLICKHOUSE_URL: optionalUrl,
    NEO4J_URL: optionalUrl,
    NEO4J_USER: z.string().optional(),
    NEO4J_PASSWORD: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    if (env.NEO4J_URL && (!env.NEO4J_USER || !env.NEO4J_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['NEO4J_USER'], message: 'NEO4J_URL needs NEO4J_USER and NEO4J_PASSWORD' });
    }
    if (env.PROMPTLINE_DEV_NO_AUTH && !['127.0.0.1', '::1', 'localhost'].includes(env.HOST)) {
      ctx.addIssue({ code: 'custom', path: ['PROMPTLINE_DEV_NO_AUTH'], message: `turns authentication off, so Promptline binds to loopback only: HOST must be 127.0.0.1, ::1 or localhost, not ${env.HOST}` });
    }
    if (env.PROMPTLINE_DEV_NO_AUTH && env.PROMPTLINE_GRPC_PORT !== null && env.PROMPTLINE_GRPC_HOST !== undefined && !['127.0.0.1', '::1', 'localhost'].includes(env.PROMPTLINE_GRPC_HOST)) {
      ctx.addIssue({ code: 'custom', path: ['PROMPTLINE_DEV_NO_AUTH'], message: `turns authentication off, so Promptline binds to loopback only: PROMPTLINE_GRPC_HOST must be 127.0.0.1, ::1 or localhost, not ${env.PROMPTLINE_GRPC_HOST}` });
    }
    if (env.PROMPTLINE_SPOOL_SEGMENT_BYTES > env.PROMPTLINE_SPOOL_MAX_BYTES) {
      ctx.addIssue({ code: 'custom', path: ['PROMPTLINE_SPOOL_SEGMENT_BYTES'], message: 'must not exceed PROMPTLINE_SPOOL_MAX_BYTES' });
    }
    if (env.PROMPTLINE_MAX_CONNECTIONS_PER_CLIENT > env.PROMPTLINE_MAX_CONNECTIONS) {
      ctx.addIssue({ code: 'custom', path: ['PROMPTLINE_MAX_CONNECTIONS_PER_CLIENT'], message: 'must not exceed PROMPTLINE_MAX_CONNECTIONS' });
    }
  });

export interface Config {
  port: number;
  host: string;
  /** The OTLP/gRPC receiver's port and host (HOST unless PROMPTLINE_GRPC_HOST is set), or null when it is off. */
  grpc: { port: number; host: string } | null;
  dataDir: string;
  apiKey: string | undefined;
  auth: { disabled: boolean; protectedAliases: string[]; ratePerSecond: number; rateBurst: number };
  /** OTLP requests a key may send a second, on average and in a burst; failed authentications an address may cause. */
  limits: { ingestPerSecond: number; ingestBurst: number; authFailuresPerSecond: number; authFailureBurst: number };
  /**
   * How long a span-store query may run (and wait for its turn); how many requests that scan many
   * spans one project may have in flight, and how many such queries waiting in the store.
   */
  queries: { timeoutMs: number; scansPerProject: number; analysisQueuePerProject: number };
  /** The audit head's signing secret, and a file elsewhere the head is also written to on every append. */
  audit: { secret: string | undefined; headFile: string | undefined };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  spool: { dir: string; maxBytes: number; segmentBytes: number };
  receiver: { maxInFlightBytes: number };
  /** Open connections at once, from one client address, and how long a connection may sit silent. */
  connections: { max: number; maxPerClient: number; idleTimeoutMs: number };
  /**
   * Batches, and two bounds on what one batch may make the writer do: the lineage the resolver
   * caches (in bytes) and the stored rows a batch's late lineage rewrites (the rest in later steps).
   */
  writer: { batchMaxSpans: number; flushIntervalMs: number; resolverCacheBytes: number; maxFixupsPerBatch: number };
  /** How far before and after its receipt a span may start. */
  spanTimeWindow: { maxAgeMs: number; maxFutureMs: number };
  /** Webhook deliveries: the first retry's wait (each later one doubles) and how long an attempt waits for an answer. */
  webhooks: { retryBaseMs: number; timeoutMs: number };
  /** How often the drift monitors are evaluated. */
  monitors: { intervalMs: number };
  /** How often the per-minute lineage rollup (what-changed over long windows) is kept up. */
  rollup: { intervalMs: number };
  clickhouseUrl: string | undefined;
  neo4j: { url: string; user: string; password: string } | undefined;
}

/** Parses the environment; a bad value stops the process with a message naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    grpc: e.PROMPTLINE_GRPC_PORT === null ? null : { port: e.PROMPTLINE_GRPC_PORT, host: e.PROMPTLINE_GRPC_HOST ?? e.HOST },
    dataDir: resolve(e.PROMPTLINE_DATA_DIR),
    apiKey: e.PROMPTLINE_API_KEY,
    auth: { disabled: e.PROMPTLINE_DEV_NO_AUTH, protectedAliases: e.PROMPTLINE_PROTECTED_ALIASES, ratePerSecond: e.PROMPTLINE_RATE_LIMIT_PER_SECOND, rateBurst: e.PROMPTLINE_RATE_LIMIT_BURST },
    limits: { ingestPerSecond: e.PROMPTLINE_INGEST_RATE_PER_SECOND, ingestBurst: e.PROMPTLINE_INGEST_RATE_BURST, authFailuresPerSecond: e.PROMPTLINE_AUTH_FAILURES_PER_SECOND, authFailureBurst: e.PROMPTLINE_AUTH_FAILURE_BURST },
    queries: { timeoutMs: e.PROMPTLINE_QUERY_TIMEOUT_MS, scansPerProject: e.PROMPTLINE_SCANS_PER_PROJECT, analysisQueuePerProject: e.PROMPTLINE_QUERY_QUEUE_PER_PROJECT },
    audit: { secret: e.PROMPTLINE_AUDIT_SECRET, headFile: e.PROMPTLINE_AUDIT_HEAD_FILE ? resolve(e.PROMPTLINE_AUDIT_HEAD_FILE) : undefined },
    logLevel: e.PROMPTLINE_LOG_LEVEL,
    spool: {
      dir: e.PROMPTLINE_SPOOL_DIR ? resolve(e.PROMPTLINE_SPOOL_DIR) : join(resolve(e.PROMPTLINE_DATA_DIR), 'spool'),
      maxBytes: e.PROMPTLINE_SPOOL_MAX_BYTES,
      segmentBytes: e.PROMPTLINE_SPOOL_SEGMENT_BYTES,
    },
    receiver: { maxInFlightBytes: e.PROMPTLINE_RECEIVER_MAX_INFLIGHT_BYTES },
    connections: { max: e.PROMPTLINE_MAX_CONNECTIONS, maxPerClient: e.PROMPTLINE_MAX_CONNECTIONS_PER_CLIENT, idleTimeoutMs: e.PROMPTLINE_IDLE_TIMEOUT_MS },
    writer: {
      batchMaxSpans: e.PROMPTLINE_BATCH_MAX_SPANS,
      flushIntervalMs: e.PROMPTLINE_FLUSH_INTERVAL_MS,
      resolverCacheBytes: e.PROMPTLINE_RESOLVER_CACHE_BYTES,
      maxFixupsPerBatch: e.PROMPTLINE_MAX_FIXUPS_PER_BATCH,
    },
    spanTimeWindow: { maxAgeMs: e.PROMPTLINE_MAX_SPAN_AGE, maxFutureMs: e.PROMPTLINE_MAX_SPAN_FUTURE },
    webhooks: { retryBaseMs: e.PROMPTLINE_WEBHOOK_RETRY_BASE_MS, timeoutMs: e.PROMPTLINE_WEBHOOK_TIMEOUT_MS },
    monitors: { intervalMs: e.PROMPTLINE_MONITOR_INTERVAL },
    rollup: { intervalMs: e.PROMPTLINE_ROLLUP_INTERVAL },
    clickhouseUrl: e.CLICKHOUSE_URL,
    neo4j: e.NEO4J_URL ? { url: e.NEO4J_URL, user: e.NEO4J_USER ?? '', password: e.NEO4J_PASSWORD ?? '' } : undefined,
  };
}
