import { createHash } from 'node:crypto';
import { attrToString, type AttrMap, type AttrValue } from '../domain/span.ts';

// Where each field of the canonical lineage record is read from, in the order of the README's
// table: the first attribute present wins. One list per field, so adding a convention is one line.

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

export const PROVIDER_KEYS = ['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'ai.model.provider'] as const;

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

/** The first non-empty value among `keys`, as a trimmed string. */
export function firstString(attrs: AttrMap, keys: readonly string[]): string {
  for (const key of keys) {
    const v = attrs.get(key);
    if (v === undefined || v === null) continue;
    const s = attrToString(v).trim();
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

/** MLflow links prompts to a span as a JSON list of `{ name, version }`; the first entry wins. */
export function readPromptFromMlflow(attrs: AttrMap): { name: string; version: string } | null {
  const raw = attrs.get(MLFLOW_LINKED_PROMPTS);
  if (raw === undefined || raw === null) return null;
  let parsed: unknown = raw;
  if (typeof raw === 'string') {
    try {
      parsed = JSON.parse(raw);
    } catch {
      return null;
    }
  }
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

const MAX_OUTPUT_JSON_BYTES = 1024 * 1024;

/** The `id` field of an OpenInference `output.value` holding the provider's JSON response. */
export function readOpenInferenceResponseId(attrs: AttrMap): string {
  const v = attrs.get(OPENINFERENCE_OUTPUT_KEY);
  if (typeof v !== 'string' || v.length > MAX_OUTPUT_JSON_BYTES) return '';
  const text = v.trimStart();
  if (!text.startsWith('{')) return '';
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const id = (parsed as { id?: unknown }).id;
      if (typeof id === 'string' || typeof id === 'number') return String(id);
    }
  } catch {
    // output.value is free text for many spans; no id then
  }
  return '';
}

/** The template hash Promptline uses everywhere: sha256 of the template text, lower-case hex. */
export function templateHash(template: string): string {
  return createHash('sha256').update(template, 'utf8').digest('hex');
}
