import { createHash } from 'node:crypto';
import { attrToString, TextBytes, type AttrMap, type AttrValue } from '../domain/span.ts';

// Where each field of the canonical lineage record is read from, in the order of the README's
// table: the first attribute present wins. One list per field, so adding a convention is one line
// (a new list also goes into KEYS_READ_AT_INGEST at the end; test/unit/conventions-keys.test.ts checks).

export const PROMPT_NAME_KEYS = [
  'gen_ai.prompt.name',
  'promptline.prompt.name',
  'langfuse.observation.prompt.name',
  'langfuse.prompt.name',
  'traceloop.prompt.key',
  // mlflow.linkedPrompts is read between these two lists (see readPromptFromMlflow)
  'prompt.id',
  'ai.telemetry.metadata.promptName',
  'ai.settings.context.promptName',
] as const;

export const PROMPT_VERSION_KEYS = [
  'gen_ai.prompt.version',
  'promptline.prompt.version',
  'langfuse.observation.prompt.version',
  'langfuse.prompt.version',
  'traceloop.prompt.version',
  // mlflow.linkedPrompts
  'llm.prompt_template.version',
  'ai.telemetry.metadata.promptVersion',
  'ai.settings.context.promptVersion',
] as const;

/** Keys before this index in both lists outrank mlflow.linkedPrompts. */
export const MLFLOW_POSITION = 5;
export const MLFLOW_LINKED_PROMPTS = 'mlflow.linkedPrompts';

export const PROMPT_ALIAS_KEYS = ['promptline.prompt.alias'] as const;
export const PROMPT_HASH_KEYS = ['promptline.prompt.hash'] as const;
export const PROMPT_TEMPLATE_KEYS = ['llm.prompt_template.template', 'traceloop.prompt.template'] as const;

export const MODEL_KEYS = [
  'gen_ai.response.model',
  'gen_ai.request.model',
  'langfuse.observation.model.name',
  'llm.model_name',
  'ai.response.model',
  'ai.model.id',
  'mlflow.llm.model',
] as const;

export const PROVIDER_KEYS = ['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'ai.model.provider', 'llm.system'] as const;

export const RESPONSE_ID_KEYS = ['gen_ai.response.id', 'promptline.response.id', 'ai.response.id'] as const;
/** OpenInference carries the provider's response id only inside the JSON of its output. */
export const OPENINFERENCE_OUTPUT_KEY = 'output.value';

export const DATASET_KEYS = ['promptline.dataset.ids', 'gen_ai.data_source.id', 'langfuse.experiment.dataset.id'] as const;

export const APP_NAME_RESOURCE_KEY = 'service.name';
export const APP_VERSION_RESOURCE_KEY = 'service.version';
export const APP_NAME_KEYS = ['gen_ai.agent.name'] as const;
export const APP_VERSION_KEYS = ['gen_ai.agent.version', 'mlflow.modelId', 'langfuse.release'] as const;

export const CONVERSATION_KEYS = ['gen_ai.conversation.id', 'session.id', 'langfuse.session.id'] as const;

// Evaluation results (OpenTelemetry GenAI), on a span of their own or on an event of the span they judge.
export const EVALUATION_NAME_KEY = 'gen_ai.evaluation.name';
const EVALUATION_SCORE_KEY = 'gen_ai.evaluation.score.value';
export const EVALUATION_LABEL_KEY = 'gen_ai.evaluation.score.label';
/** The event names an evaluation result is carried under: the current one and its earlier form. */
export const EVALUATION_EVENT_NAMES: ReadonlySet<string> = new Set(['gen_ai.evaluation.result', 'gen_ai.evaluation']);
export const EVALUATION_RUN_KEYS = ['promptline.evaluation.run.id', 'gen_ai.evaluation.run.id'] as const;
export const EVALUATION_ITEM_KEYS = ['promptline.evaluation.item.id', 'gen_ai.evaluation.item.id', 'langfuse.experiment.item.id'] as const;
/** The response an evaluation result names, when it is not on that response's own span. */
export const EVALUATED_RESPONSE_ID_KEY = 'gen_ai.response.id';

/**
 * MLflow writes every attribute value of its spans as JSON, so a string arrives quoted
 * (`"gpt-4o"` with the quotes) and a list as JSON text; keys with this prefix are read through
 * JSON first.
 */
const JSON_ENCODED_PREFIX = 'mlflow.';

/** A JSON string literal's text (`"gpt-4o"` → `gpt-4o`); anything else as it is. */
export function unquoteJsonString(s: string): string {
  if (s.length < 2 || !s.startsWith('"') || !s.endsWith('"')) return s;
  try {
    const parsed: unknown = JSON.parse(s);
    return typeof parsed === 'string' ? parsed.trim() : s;
  } catch {
    return s;
  }
}

/** The first non-empty value among `keys`, as a trimmed string. */
export function firstString(attrs: AttrMap, keys: readonly string[]): string {
  for (const key of keys) {
    const v = attrs.get(key);
    if (v === undefined || v === null) continue;
    let s = attrToString(v).trim();
    if (key.startsWith(JSON_ENCODED_PREFIX)) s = unquoteJsonString(s);
    if (s !== '') return s;
  }
  return '';
}

/** An evaluation's score: null when it is absent or not a number. */
export function evaluationScore(attrs: AttrMap): number | null {
  const raw = firstString(attrs, [EVALUATION_SCORE_KEY]);
  const score = raw === '' ? null : Number(raw);
  return score === null || Number.isNaN(score) ? null : score;
}

/** A list attribute (array, JSON array text or comma-separated text) as trimmed, non-empty strings. */
export function stringList(v: AttrValue | undefined): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((x) => (x === null ? '' : attrToString(x).trim())).filter((s) => s !== '');
  const s = attrToString(v).trim();
  if (s === '') return [];
  if (s.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(s);
      if (Array.isArray(parsed)) return parsed.map((x) => String(x).trim()).filter((x) => x !== '');
    } catch {
      // not JSON: fall through to comma-separated
    }
  }
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}

export function firstList(attrs: AttrMap, keys: readonly string[]): string[] {
  for (const key of keys) {
    const list = stringList(attrs.get(key));
    if (list.length > 0) return list;
  }
  return [];
}

const MAX_OUTPUT_JSON_BYTES = 1024 * 1024;

/**
 * A value given as JSON text, parsed; JSON text of JSON text (MLflow encodes values that are
 * already JSON once more over OTLP) parsed again. Undefined when it is not JSON, or too large.
 */
function parseJsonValue(raw: AttrValue | undefined): unknown {
  if (raw instanceof TextBytes) raw = raw.toString();
  if (typeof raw !== 'string') return raw ?? undefined;
  let value: unknown = raw;
  for (let depth = 0; depth < 2 && typeof value === 'string'; depth++) {
    const text = value.trim();
    if (text.length > MAX_OUTPUT_JSON_BYTES || !/^[[{"]/.test(text)) return depth === 0 ? undefined : value;
    try {
      value = JSON.parse(text);
    } catch {
      return depth === 0 ? undefined : value;
    }
  }
  return value;
}

/**
 * MLflow links prompts to a span as a JSON list of `{ name, version }` (over OTLP, the JSON text of
 * that JSON text); the first entry wins.
 */
export function readPromptFromMlflow(attrs: AttrMap): { name: string; version: string } | null {
  const raw = attrs.get(MLFLOW_LINKED_PROMPTS);
  if (raw === undefined || raw === null) return null;
  const parsed = parseJsonValue(raw);
  if (!Array.isArray(parsed) || parsed.length === 0) return null;
  const first: unknown = parsed[0];
  if (first === null || typeof first !== 'object') return null;
  const name = (first as { name?: unknown }).name;
  const version = (first as { version?: unknown }).version;
  if (typeof name !== 'string' || name.trim() === '') return null;
  return { name: name.trim(), version: jsonVersionText(version).trim() };
}

/** A version parsed from JSON: a string, number or boolean as its text; an object or array (not a version) as JSON. */
function jsonVersionText(version: unknown): string {
  if (version === undefined || version === null) return '';
  if (typeof version === 'string') return version;
  if (typeof version === 'number' || typeof version === 'boolean') return String(version);
  return JSON.stringify(version); // JSON.parse makes nothing else: an object or an array
}

/** MLflow carries a span's output (the provider's response, for a chat model span) as JSON. */
export const MLFLOW_OUTPUTS_KEY = 'mlflow.spanOutputs';

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const idText = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/**
 * The provider's response id inside an OpenInference `output.value`: the response's own `id`, or
 * LangChain's `llm_output.id` (an LLMResult). Free text has none.
 */
export function readOpenInferenceResponseId(attrs: AttrMap): string {
  const parsed = parseJsonValue(attrs.get(OPENINFERENCE_OUTPUT_KEY));
  if (!isRecord(parsed)) return '';
  return idText(parsed.id) || (isRecord(parsed.llm_output) ? idText(parsed.llm_output.id) : '') || langChainMessageId(parsed.generations);
}

/**
 * LangChain's first generated message: the provider's id in its response_metadata (Python), or as
 * the message's own id (LangChain.js's ChatOpenAI), unless that is one of LangChain's run ids.
 */
function langChainMessageId(generations: unknown): string {
  const first: unknown = Array.isArray(generations) && Array.isArray(generations[0]) ? (generations[0] as unknown[])[0] : undefined;
  const message = isRecord(first) ? first.message : undefined;
  const kwargs = isRecord(message) && isRecord(message.kwargs) ? message.kwargs : undefined;
  if (!kwargs) return '';
  const fromMetadata = isRecord(kwargs.response_metadata) ? idText(kwargs.response_metadata.id) : '';
  if (fromMetadata) return fromMetadata;
  const own = idText(kwargs.id);
  return own.startsWith('run-') || own.startsWith('lc_run--') ? '' : own;
}

/**
 * The response id inside MLflow's `mlflow.spanOutputs`, where the output is a chat completion (an
 * object with `choices`, or `object: "chat.completion"`): other spans' outputs are the app's data.
 */
export function readMlflowResponseId(attrs: AttrMap): string {
  const parsed = parseJsonValue(attrs.get(MLFLOW_OUTPUTS_KEY));
  if (!isRecord(parsed)) return '';
  const completion = Array.isArray(parsed.choices) || (typeof parsed.object === 'string' && parsed.object.startsWith('chat.completion'));
  return completion ? idText(parsed.id) : '';
}

/** The template hash Promptline uses everywhere: sha256 of the template text, lower-case hex. */
export function templateHash(template: string): string {
  return createHash('sha256').update(template, 'utf8').digest('hex');
}

/**
 * Every span and event attribute key the collector reads at ingest (the lists above). The protobuf
 * decoder makes strings of these keys' values; large values of any other key stay bytes
 * (TextBytes), copied into the stored row as they arrived. A key added to a list above is read
 * here too (test/unit/conventions-keys.test.ts checks it).
 */
export const KEYS_READ_AT_INGEST: ReadonlySet<string> = new Set<string>([
  ...PROMPT_NAME_KEYS,
  ...PROMPT_VERSION_KEYS,
  MLFLOW_LINKED_PROMPTS,
  ...PROMPT_ALIAS_KEYS,
  ...PROMPT_HASH_KEYS,
  ...PROMPT_TEMPLATE_KEYS,
  ...MODEL_KEYS,
  ...PROVIDER_KEYS,
  ...RESPONSE_ID_KEYS,
  OPENINFERENCE_OUTPUT_KEY,
  MLFLOW_OUTPUTS_KEY,
  ...DATASET_KEYS,
  APP_NAME_RESOURCE_KEY,
  APP_VERSION_RESOURCE_KEY,
  ...APP_NAME_KEYS,
  ...APP_VERSION_KEYS,
  ...CONVERSATION_KEYS,
  EVALUATION_NAME_KEY,
  EVALUATION_SCORE_KEY,
  EVALUATION_LABEL_KEY,
  ...EVALUATION_RUN_KEYS,
  ...EVALUATION_ITEM_KEYS,
  EVALUATED_RESPONSE_ID_KEY,
]);
