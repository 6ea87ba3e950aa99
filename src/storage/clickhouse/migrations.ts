import type { ClickHouseExecutor } from './executor.ts';

// Versioned schema migrations for the span store, applied in order at start and recorded in
// promptline_schema_migrations. A migration is never edited once released: add a new one.
//
// otel_traces keeps the columns and types of the OpenTelemetry Collector's ClickHouse exporter, so
// Grafana's ClickHouse data source reads it as traces. Promptline adds the lineage columns and
// differs in two deliberate ways: rows are ordered by (ProjectId, TraceId, SpanId), which makes
// trace and span lookups primary-key reads; and the engine is ReplacingMergeTree(LineageRevision),
// so a late-arriving parent can replace a stored span's inherited lineage with a newer revision,
// and a replayed span replaces itself instead of counting twice. Reads that must not see an old
// revision use FINAL.

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/**
 * promptline_response_list's rows from otel_traces: its view, and the backfill of migration 4.
 * `excluded` says which model calls are in a trace with a response id. Part of a released
 * migration: never edit it, write another.
 */
const responseListSelect = (excluded: string) => `SELECT ProjectId, Timestamp, TraceId, SpanId, ParentSpanId, SpanName, ServiceName, Duration, StatusCode, StatusMessage,
        PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, ResponseId, ResponseId != '' AS HasResponseId,
        DatasetIds, AppName, AppVersion, ConversationId, LineageRevision, ${excluded} AS Excluded, LineageRevision * 2 + Excluded AS ListVersion
      FROM otel_traces
      WHERE ResponseId != '' OR bitAnd(LineageOwnMask, 2) != 0`;

/**
 * What promptline_response_lineage's `Lineage` column packs (migration 10), in this order: the
 * name a reader gives each value, and the otel_traces expression it is made from. Part of a
 * released migration: never edit it, write another.
 */
export const RESPONSE_LINEAGE_FIELDS = [
  ['ParentSpanId', 'ParentSpanId'],
  ['SpanName', 'SpanName'],
  ['ServiceName', 'ServiceName'],
  ['Dur', 'toString(Duration)'],
  ['PromptName', 'PromptName'],
  ['PromptVersion', 'PromptVersion'],
  ['PromptAlias', 'PromptAlias'],
  ['PromptTemplateHash', 'PromptTemplateHash'],
  ['PromptSpanId', 'PromptSpanId'],
  ['PromptRegistration', 'PromptRegistration'],
  ['ModelProvider', 'ModelProvider'],
  ['ModelName', 'ModelName'],
  ['DatasetIds', 'DatasetIds'],
  ['AppName', 'AppName'],
  ['AppVersion', 'AppVersion'],
  ['ConversationId', 'ConversationId'],
  ['LineageOwnMask', 'LineageOwnMask'],
] as const;

/** The packed column as one JSON array (an unnamed tuple's JSON, whatever the output settings). */
const RESPONSE_LINEAGE_PACKED = `toJSONString(tuple(${RESPONSE_LINEAGE_FIELDS.map(([, sql]) => sql).join(', ')}))`;

/** The tokens a model call reports, by convention (GenAI, its older names, OpenInference, Vercel AI SDK); -1 when it reports none. */
const tokensOf = (keys: readonly string[]) => `coalesce(${keys.map((k) => `toInt64OrNull(SpanAttributes['${k}'])`).join(', ')}, toInt64(-1))`;
const INPUT_TOKENS = tokensOf(['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.token_count.prompt', 'ai.usage.inputTokens', 'ai.usage.promptTokens']);
const OUTPUT_TOKENS = tokensOf(['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.token_count.completion', 'ai.usage.outputTokens', 'ai.usage.completionTokens']);
/** The first finish reason a model call reports (GenAI's list arrives as JSON text; Vercel AI SDK's is one string). */
const FINISH_REASON = `multiIf(startsWith(SpanAttributes['gen_ai.response.finish_reasons'], '['), JSONExtractString(SpanAttributes['gen_ai.response.finish_reasons'], 1), SpanAttributes['gen_ai.response.finish_reasons'] != '', SpanAttributes['gen_ai.response.finish_reasons'], SpanAttributes['ai.response.finishReason'])`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'otel_traces with lineage columns, response and trace lookups',
    statements: [
      `CREATE TABLE IF NOT EXISTS otel_traces (
        Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
        TraceId String CODEC(ZSTD(1)),
        SpanId String CODEC(ZSTD(1)),
        ParentSpanId String CODEC(ZSTD(1)),
        TraceState String CODEC(ZSTD(1)),
        SpanName LowCardinality(String) CODEC(ZSTD(1)),
        SpanKind LowCardinality(String) CODEC(ZSTD(1)),
        ServiceName LowCardinality(String) CODEC(ZSTD(1)),
        ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
        ScopeName String CODEC(ZSTD(1)),
        ScopeVersion String CODEC(ZSTD(1)),
        SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
        Duration UInt64 CODEC(ZSTD(1)),
        StatusCode LowCardinality(String) CODEC(ZSTD(1)),
        StatusMessage String CODEC(ZSTD(1)),
        Events Nested (
          Timestamp DateTime64(9),
          Name LowCardinality(String),
          Attributes Map(LowCardinality(String), String)
        ) CODEC(ZSTD(1)),
        Links Nested (
          TraceId String,
          SpanId String,
          TraceState String,
          Attributes Map(LowCardinality(String), String)
        ) CODEC(ZSTD(1)),
        ProjectId LowCardinality(String) CODEC(ZSTD(1)),
        PromptName LowCardinality(String) CODEC(ZSTD(1)),
        PromptVersion LowCardinality(String) CODEC(ZSTD(1)),
        PromptAlias LowCardinality(String) CODEC(ZSTD(1)),
        PromptTemplateHash LowCardinality(String) CODEC(ZSTD(1)),
        PromptSpanId String CODEC(ZSTD(1)),
        ModelProvider LowCardinality(String) CODEC(ZSTD(1)),
        ModelName LowCardinality(String) CODEC(ZSTD(1)),
        ResponseId String CODEC(ZSTD(1)),
        DatasetIds Array(LowCardinality(String)) CODEC(ZSTD(1)),
        AppName LowCardinality(String) CODEC(ZSTD(1)),
        AppVersion LowCardinality(String) CODEC(ZSTD(1)),
        ConversationId String CODEC(ZSTD(1)),
        LineageOwnMask UInt8,
        LineageRevision UInt32,
        INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
        INDEX idx_span_id SpanId TYPE bloom_filter(0.001) GRANULARITY 1,
        INDEX idx_response_id ResponseId TYPE bloom_filter(0.001) GRANULARITY 1,
        INDEX idx_prompt (PromptName, PromptVersion) TYPE set(256) GRANULARITY 4,
        INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
        INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
        INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
        INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
        INDEX idx_duration Duration TYPE minmax GRANULARITY 1
      ) ENGINE = ReplacingMergeTree(LineageRevision)
      PARTITION BY toDate(Timestamp)
      ORDER BY (ProjectId, TraceId, SpanId)
      SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000`,
      // The exporter's trace-id lookup, kept for Grafana's trace view.
      `CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts (
        TraceId String CODEC(ZSTD(1)),
        Start DateTime CODEC(Delta, ZSTD(1)),
        End DateTime CODEC(Delta, ZSTD(1)),
        INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
      ) ENGINE = MergeTree
      PARTITION BY toDate(Start)
      ORDER BY (TraceId, Start)
      SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv TO otel_traces_trace_id_ts AS
      SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
      FROM otel_traces
      WHERE TraceId != ''
      GROUP BY TraceId`,
      // Response id -> span, ordered for a primary-key read.
      `CREATE TABLE IF NOT EXISTS promptline_responses (
        ProjectId LowCardinality(String),
        ResponseId String,
        TraceId String,
        SpanId String,
        Timestamp DateTime64(9)
      ) ENGINE = ReplacingMergeTree
      ORDER BY (ProjectId, ResponseId, TraceId, SpanId)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS promptline_responses_mv TO promptline_responses AS
      SELECT ProjectId, ResponseId, TraceId, SpanId, Timestamp
      FROM otel_traces
      WHERE ResponseId != ''`,
    ],
  },
  {
    version: 2,
    name: 'whether the prompt a span carries is a registered version',
    statements: [
      // '' (no prompt), registered, template_mismatch (registered with another template), unregistered
      `ALTER TABLE otel_traces ADD COLUMN IF NOT EXISTS PromptRegistration LowCardinality(String) DEFAULT '' AFTER PromptSpanId`,
    ],
  },
  {
    version: 3,
    name: 'skip indexes for impact queries; evaluation results',
    statements: [
      `ALTER TABLE otel_traces ADD INDEX IF NOT EXISTS idx_dataset DatasetIds TYPE bloom_filter(0.01) GRANULARITY 1`,
      `ALTER TABLE otel_traces ADD INDEX IF NOT EXISTS idx_model (ModelProvider, ModelName) TYPE set(256) GRANULARITY 4`,
      `ALTER TABLE otel_traces ADD INDEX IF NOT EXISTS idx_app (AppName, AppVersion) TYPE set(256) GRANULARITY 4`,
      `ALTER TABLE otel_traces ADD INDEX IF NOT EXISTS idx_alias (PromptName, PromptAlias) TYPE set(256) GRANULARITY 4`,
      // Parts written before this migration get the new indexes too (a background mutation).
      `ALTER TABLE otel_traces MATERIALIZE INDEX idx_dataset`,
      `ALTER TABLE otel_traces MATERIALIZE INDEX idx_model`,
      `ALTER TABLE otel_traces MATERIALIZE INDEX idx_app`,
      `ALTER TABLE otel_traces MATERIALIZE INDEX idx_alias`,
      // One row per evaluation result: from spans and span events (gen_ai.evaluation.*) or from
      // POST /v1/evaluations. A result is unique by (run, the thing evaluated, scorer).
      `CREATE TABLE IF NOT EXISTS promptline_evaluations (
        ProjectId LowCardinality(String),
        RunId String,
        Scorer LowCardinality(String),
        Score Nullable(Float64),
        Label LowCardinality(String),
        PromptName LowCardinality(String),
        PromptVersion LowCardinality(String),
        DatasetId LowCardinality(String),
        ModelName LowCardinality(String),
        AppName LowCardinality(String),
        AppVersion LowCardinality(String),
        ResponseId String,
        TraceId String,
        SpanId String,
        ItemId String,
        Timestamp DateTime64(9),
        Source LowCardinality(String)
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(Timestamp)
      ORDER BY (ProjectId, PromptName, PromptVersion, RunId, Scorer, TraceId, SpanId, ItemId)
      SETTINGS non_replicated_deduplication_window = 10000`,
    ],
  },
  {
    version: 4,
    name: 'the response list: responses by time, and which traces have a response id',
    statements: [
      // One row a response and revision, ordered by time: the newest-first list reads the last
      // granules of its window, and FINAL merges only where parts overlap in time (late spans,
      // fixups), not the whole window as on otel_traces. A response is a span with a response id;
      // in a trace with none, a span that named its model itself. Such a span in a trace with a
      // response id is kept too, excluded (Excluded = 1, a newer ListVersion than its revision's
      // row), so that the list needs no look at the rest of the trace: the span store writes the
      // exclusion when either span arrives (ClickHouseSpanStore). Every revision of a span has the
      // span's Timestamp, so all of them share a partition.
      `CREATE TABLE IF NOT EXISTS promptline_response_list (
        ProjectId LowCardinality(String),
        Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
        TraceId String CODEC(ZSTD(1)),
        SpanId String CODEC(ZSTD(1)),
        ParentSpanId String CODEC(ZSTD(1)),
        SpanName LowCardinality(String) CODEC(ZSTD(1)),
        ServiceName LowCardinality(String) CODEC(ZSTD(1)),
        Duration UInt64 CODEC(ZSTD(1)),
        StatusCode LowCardinality(String) CODEC(ZSTD(1)),
        StatusMessage String CODEC(ZSTD(1)),
        PromptName LowCardinality(String) CODEC(ZSTD(1)),
        PromptVersion LowCardinality(String) CODEC(ZSTD(1)),
        PromptAlias LowCardinality(String) CODEC(ZSTD(1)),
        PromptRegistration LowCardinality(String) CODEC(ZSTD(1)),
        ModelProvider LowCardinality(String) CODEC(ZSTD(1)),
        ModelName LowCardinality(String) CODEC(ZSTD(1)),
        ResponseId String CODEC(ZSTD(1)),
        HasResponseId UInt8,
        DatasetIds Array(LowCardinality(String)) CODEC(ZSTD(1)),
        AppName LowCardinality(String) CODEC(ZSTD(1)),
        AppVersion LowCardinality(String) CODEC(ZSTD(1)),
        ConversationId String CODEC(ZSTD(1)),
        LineageRevision UInt32,
        Excluded UInt8,
        ListVersion UInt64,
        INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
        INDEX idx_response_id ResponseId TYPE bloom_filter(0.001) GRANULARITY 1,
        INDEX idx_has_response_id HasResponseId TYPE minmax GRANULARITY 1
      ) ENGINE = ReplacingMergeTree(ListVersion)
      PARTITION BY toDate(Timestamp)
      ORDER BY (ProjectId, Timestamp, TraceId, SpanId)
      SETTINGS index_granularity = 8192`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS promptline_response_list_mv TO promptline_response_list AS
      ${responseListSelect('toUInt8(0)')}`,
      // The traces that have a response id, by trace id.
      `CREATE TABLE IF NOT EXISTS promptline_response_traces (
        ProjectId LowCardinality(String),
        TraceId String CODEC(ZSTD(1))
      ) ENGINE = ReplacingMergeTree
      ORDER BY (ProjectId, TraceId)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS promptline_response_traces_mv TO promptline_response_traces AS
      SELECT DISTINCT ProjectId, TraceId FROM otel_traces WHERE ResponseId != ''`,
      // Spans stored before this migration. A row the views wrote meanwhile is written again with
      // the same key and version, which the tables keep once.
      `INSERT INTO promptline_response_traces SELECT DISTINCT ProjectId, TraceId FROM otel_traces WHERE ResponseId != ''`,
      `INSERT INTO promptline_response_list
      ${responseListSelect("toUInt8(ResponseId = '' AND (ProjectId, TraceId) IN (SELECT ProjectId, TraceId FROM promptline_response_traces))")}
      SETTINGS throw_on_max_partitions_per_insert_block = 0`,
    ],
  },
  {
    version: 5,
    name: 'a project and a time on every table of span rows, for retention and deletion requests',
    statements: [
      // Per-project retention is one TTL rule a project (clickhouse-retention.ts): a part holds rows
      // of many projects, so expired rows are deleted at merges, not whole parts dropped.
      `ALTER TABLE otel_traces MODIFY SETTING ttl_only_drop_parts = 0`,
      `ALTER TABLE otel_traces_trace_id_ts MODIFY SETTING ttl_only_drop_parts = 0`,
      // The trace-id lookup gets the project, so that a project's rows can expire or be deleted
      // without touching another project's trace of the same id. The exporter's columns stay.
      `ALTER TABLE otel_traces_trace_id_ts ADD COLUMN IF NOT EXISTS ProjectId LowCardinality(String) DEFAULT '' CODEC(ZSTD(1))`,
      `ALTER TABLE otel_traces_trace_id_ts_mv MODIFY QUERY
      SELECT ProjectId, TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
      FROM otel_traces
      WHERE TraceId != ''
      GROUP BY ProjectId, TraceId`,
      // The traces with a response id get the time of their latest response, which their retention counts from.
      `ALTER TABLE promptline_response_traces ADD COLUMN IF NOT EXISTS Timestamp DateTime64(9) DEFAULT toDateTime64(0, 9) CODEC(Delta, ZSTD(1))`,
      `ALTER TABLE promptline_response_traces_mv MODIFY QUERY
      SELECT ProjectId, TraceId, max(Timestamp) AS Timestamp
      FROM otel_traces
      WHERE ResponseId != ''
      GROUP BY ProjectId, TraceId`,
      // Rows written before: again, with their project and time, then the old ones go. A row the
      // views wrote meanwhile is there twice, which neither table's readers mind.
      `INSERT INTO otel_traces_trace_id_ts (ProjectId, TraceId, Start, End)
      SELECT ProjectId, TraceId, min(Timestamp), max(Timestamp) FROM otel_traces WHERE TraceId != '' GROUP BY ProjectId, TraceId
      SETTINGS throw_on_max_partitions_per_insert_block = 0`,
      `ALTER TABLE otel_traces_trace_id_ts DELETE WHERE ProjectId = '' SETTINGS mutations_sync = 2`,
      `INSERT INTO promptline_response_traces (ProjectId, TraceId, Timestamp)
      SELECT ProjectId, TraceId, max(Timestamp) FROM otel_traces WHERE ResponseId != '' GROUP BY ProjectId, TraceId`,
      `ALTER TABLE promptline_response_traces DELETE WHERE Timestamp = toDateTime64(0, 9) SETTINGS mutations_sync = 2`,
    ],
  },
  {
    version: 6,
    name: 'token counts and finish reasons on the response list, for what changed and drift',
    statements: [
      `ALTER TABLE promptline_response_list ADD COLUMN IF NOT EXISTS InputTokens Int64 DEFAULT -1 CODEC(T64, ZSTD(1)) AFTER ConversationId`,
      `ALTER TABLE promptline_response_list ADD COLUMN IF NOT EXISTS OutputTokens Int64 DEFAULT -1 CODEC(T64, ZSTD(1)) AFTER InputTokens`,
      `ALTER TABLE promptline_response_list ADD COLUMN IF NOT EXISTS FinishReason LowCardinality(String) DEFAULT '' CODEC(ZSTD(1)) AFTER OutputTokens`,
      `ALTER TABLE promptline_response_list_mv MODIFY QUERY
      SELECT ProjectId, Timestamp, TraceId, SpanId, ParentSpanId, SpanName, ServiceName, Duration, StatusCode, StatusMessage,
        PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, ResponseId, ResponseId != '' AS HasResponseId,
        DatasetIds, AppName, AppVersion, ConversationId, ${INPUT_TOKENS} AS InputTokens, ${OUTPUT_TOKENS} AS OutputTokens, substring(${FINISH_REASON}, 1, 64) AS FinishReason,
        LineageRevision, toUInt8(0) AS Excluded, LineageRevision * 2 + Excluded AS ListVersion
      FROM otel_traces
      WHERE ResponseId != '' OR bitAnd(LineageOwnMask, 2) != 0`,
      // Responses stored before keep -1 (not known): what changed and drift count only responses that report tokens.
    ],
  },
  {
    version: 7,
    name: 'a per-minute rollup of the response list by lineage value, kept by a scheduled query, and the minutes that changed since',
    statements: [
      // Responses a minute by every lineage value, with the moments what-changed reads. A minute is
      // rolled up again whole when any of its rows changes (a late span, a lineage revision, a
      // deletion): each roll is a generation, and only a minute's newest generation is read. Rows of a
      // generation replace the same key's older ones at merges; a key an older generation alone had is
      // left out by the generation filter and deleted by the roll that superseded it.
      `CREATE TABLE IF NOT EXISTS promptline_lineage_minute (
        ProjectId LowCardinality(String),
        Minute DateTime CODEC(Delta, ZSTD(1)),
        Generation UInt64,
        AppName LowCardinality(String),
        AppVersion LowCardinality(String),
        PromptName LowCardinality(String),
        PromptVersion LowCardinality(String),
        PromptAlias LowCardinality(String),
        PromptRegistration LowCardinality(String),
        ModelProvider LowCardinality(String),
        ModelName LowCardinality(String),
        Datasets Array(LowCardinality(String)),
        n UInt64, errors UInt64,
        latN UInt64, latSum Float64, latSq Float64,
        inN UInt64, inSum Float64, inSq Float64,
        outN UInt64, outSum Float64, outSq Float64
      ) ENGINE = ReplacingMergeTree(Generation)
      PARTITION BY toDate(Minute)
      ORDER BY (ProjectId, Minute, AppName, AppVersion, PromptName, PromptVersion, PromptAlias, PromptRegistration, ModelProvider, ModelName, Datasets)`,
      // A minute's newest generation (in ms since the epoch: when the roll began to read).
      `CREATE TABLE IF NOT EXISTS promptline_lineage_minute_state (
        ProjectId LowCardinality(String),
        Minute DateTime,
        Generation UInt64
      ) ENGINE = ReplacingMergeTree(Generation)
      PARTITION BY toYYYYMM(Minute)
      ORDER BY (ProjectId, Minute)`,
      // When a minute's rows last changed (ms since the epoch): every insert into the response list
      // marks its minutes; a deletion request marks the minutes it empties.
      `CREATE TABLE IF NOT EXISTS promptline_minutes_changed (
        ProjectId LowCardinality(String),
        Minute DateTime,
        ChangedAt UInt64
      ) ENGINE = ReplacingMergeTree(ChangedAt)
      PARTITION BY toYYYYMM(Minute)
      ORDER BY (ProjectId, Minute)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS promptline_minutes_changed_mv TO promptline_minutes_changed AS
      SELECT ProjectId, toStartOfMinute(Timestamp) AS Minute, max(toUInt64(toUnixTimestamp64Milli(now64(3)))) AS ChangedAt
      FROM promptline_response_list
      GROUP BY ProjectId, Minute`,
      // What was stored before is to be rolled up: every minute of it is marked (after the view exists, so that no insert is missed).
      `INSERT INTO promptline_minutes_changed
      SELECT ProjectId, toStartOfMinute(Timestamp) AS Minute, toUInt64(toUnixTimestamp64Milli(now64(3))) AS ChangedAt
      FROM promptline_response_list
      GROUP BY ProjectId, Minute
      SETTINGS throw_on_max_partitions_per_insert_block = 0`,
    ],
  },
  {
    version: 8,
    name: 'the response index carries the lineage: provenance by response id is one read of a narrow table',
    statements: [
      // Each model call with a response id, with its lineage, at its latest revision (a late
      // parent's revision replaces the row at merges; readers use FINAL). Ordered by response id:
      // one granule a part answers a lookup. It replaces promptline_responses (id -> span only),
      // after which provenance read otel_traces again by trace and span id under FINAL.
      `CREATE TABLE IF NOT EXISTS promptline_response_lineage (
        ProjectId LowCardinality(String),
        ResponseId String CODEC(ZSTD(1)),
        TraceId String CODEC(ZSTD(1)),
        SpanId String CODEC(ZSTD(1)),
        ParentSpanId String CODEC(ZSTD(1)),
        SpanName LowCardinality(String) CODEC(ZSTD(1)),
        ServiceName LowCardinality(String) CODEC(ZSTD(1)),
        Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
        Duration UInt64 CODEC(ZSTD(1)),
        PromptName LowCardinality(String) CODEC(ZSTD(1)),
        PromptVersion LowCardinality(String) CODEC(ZSTD(1)),
        PromptAlias LowCardinality(String) CODEC(ZSTD(1)),
        PromptTemplateHash String CODEC(ZSTD(1)),
        PromptSpanId String CODEC(ZSTD(1)),
        PromptRegistration LowCardinality(String) CODEC(ZSTD(1)),
        ModelProvider LowCardinality(String) CODEC(ZSTD(1)),
        ModelName LowCardinality(String) CODEC(ZSTD(1)),
        DatasetIds Array(LowCardinality(String)) CODEC(ZSTD(1)),
        AppName LowCardinality(String) CODEC(ZSTD(1)),
        AppVersion LowCardinality(String) CODEC(ZSTD(1)),
        ConversationId String CODEC(ZSTD(1)),
        LineageOwnMask UInt8,
        LineageRevision UInt32
      ) ENGINE = ReplacingMergeTree(LineageRevision)
      ORDER BY (ProjectId, ResponseId, TraceId, SpanId)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS promptline_response_lineage_mv TO promptline_response_lineage AS
      SELECT ProjectId, ResponseId, TraceId, SpanId, ParentSpanId, SpanName, ServiceName, Timestamp, Duration,
        PromptName, PromptVersion, PromptAlias, PromptTemplateHash, PromptSpanId, PromptRegistration, ModelProvider, ModelName,
        DatasetIds, AppName, AppVersion, ConversationId, LineageOwnMask, LineageRevision
      FROM otel_traces
      WHERE ResponseId != ''`,
      // What was stored before, every revision (the table keeps the latest).
      `INSERT INTO promptline_response_lineage
      SELECT ProjectId, ResponseId, TraceId, SpanId, ParentSpanId, SpanName, ServiceName, Timestamp, Duration,
        PromptName, PromptVersion, PromptAlias, PromptTemplateHash, PromptSpanId, PromptRegistration, ModelProvider, ModelName,
        DatasetIds, AppName, AppVersion, ConversationId, LineageOwnMask, LineageRevision
      FROM otel_traces
      WHERE ResponseId != ''`,
      'DROP VIEW IF EXISTS promptline_responses_mv',
      'DROP TABLE IF EXISTS promptline_responses',
    ],
  },
  {
    version: 9,
    name: 'impact from the per-minute rollup and the response list: the rollup keeps each key\'s first and last response, and otel_traces drops the skip indexes only impact read',
    statements: [
      `ALTER TABLE promptline_lineage_minute
        ADD COLUMN IF NOT EXISTS first DateTime64(9) DEFAULT toDateTime64(Minute, 9) CODEC(Delta, ZSTD(1)),
        ADD COLUMN IF NOT EXISTS last DateTime64(9) DEFAULT toDateTime64(Minute, 9) CODEC(Delta, ZSTD(1))`,
      // Minutes rolled up before have no first and last: each is marked changed, so that reads take
      // it from the response list until the next rounds roll it up again.
      `INSERT INTO promptline_minutes_changed
      SELECT ProjectId, Minute, toUInt64(toUnixTimestamp64Milli(now64(3))) FROM promptline_lineage_minute_state GROUP BY ProjectId, Minute
      SETTINGS throw_on_max_partitions_per_insert_block = 0`,
      // Impact and version statistics no longer read otel_traces by lineage value or response id
      // (provenance reads promptline_response_lineage since migration 8): these indexes cost every
      // insert and served no query. The exporter's own indexes and the span-id filter stay.
      // One statement: each drop is a pass over every part (about 10 s at 10 M spans here).
      `ALTER TABLE otel_traces
        DROP INDEX IF EXISTS idx_prompt, DROP INDEX IF EXISTS idx_dataset, DROP INDEX IF EXISTS idx_model,
        DROP INDEX IF EXISTS idx_app, DROP INDEX IF EXISTS idx_alias, DROP INDEX IF EXISTS idx_response_id`,
    ],
  },
  {
    version: 10,
    name: 'the response index keeps the lineage it answers with in one packed column: a lookup reads seven columns of a granule, not twenty-three',
    statements: [
      // A lookup's cost was the columns it read (each a mark and a compressed block per part), not
      // the rows: the lineage that is only returned, never filtered on, is one JSON array
      // (RESPONSE_LINEAGE_PACKED, unpacked by clickhouse-span-store.ts). The index is rebuilt from
      // otel_traces beside the old one and swapped in, so a start that stops half-way starts over.
      'DROP VIEW IF EXISTS promptline_response_lineage_mv',
      'DROP TABLE IF EXISTS promptline_response_lineage_next',
      `CREATE TABLE promptline_response_lineage_next (
        ProjectId LowCardinality(String),
        ResponseId String CODEC(ZSTD(1)),
        TraceId String CODEC(ZSTD(1)),
        SpanId String CODEC(ZSTD(1)),
        Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
        LineageRevision UInt32,
        Lineage String CODEC(ZSTD(1))
      ) ENGINE = ReplacingMergeTree(LineageRevision)
      ORDER BY (ProjectId, ResponseId, TraceId, SpanId)`,
      `INSERT INTO promptline_response_lineage_next
      SELECT ProjectId, ResponseId, TraceId, SpanId, Timestamp, LineageRevision, ${RESPONSE_LINEAGE_PACKED}
      FROM otel_traces
      WHERE ResponseId != ''`,
      'EXCHANGE TABLES promptline_response_lineage AND promptline_response_lineage_next',
      'DROP TABLE promptline_response_lineage_next',
      `CREATE MATERIALIZED VIEW IF NOT EXISTS promptline_response_lineage_mv TO promptline_response_lineage AS
      SELECT ProjectId, ResponseId, TraceId, SpanId, Timestamp, LineageRevision, ${RESPONSE_LINEAGE_PACKED} AS Lineage
      FROM otel_traces
      WHERE ResponseId != ''`,
    ],
  },
];

const LEDGER = `CREATE TABLE IF NOT EXISTS promptline_schema_migrations (
  Version UInt32,
  Name String,
  AppliedAt DateTime64(3)
) ENGINE = ReplacingMergeTree ORDER BY Version`;

/** Applies the migrations not yet recorded; returns the versions applied now. */
export async function migrate(exec: ClickHouseExecutor, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await exec.command(LEDGER);
  const rows = await exec.query<{ Version: number }>('SELECT Version FROM promptline_schema_migrations FINAL');
  const done = new Set(rows.map((r) => r.Version));
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    for (const sql of m.statements) await exec.command(sql);
    await exec.command(
      'INSERT INTO promptline_schema_migrations (Version, Name, AppliedAt) VALUES ({version:UInt32}, {name:String}, now64(3))',
      { version: m.version, name: m.name },
    );
    applied.push(m.version);
  }
  return applied;
}
