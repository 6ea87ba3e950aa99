import type { DecodedSpan } from '../domain/span.ts';
import type { AppRef, EvaluationRef, ModelRef, OwnLineage, PromptRef } from '../domain/lineage.ts';
import * as c from './conventions.ts';
import { withinLineageBound } from './otlp/span-rules.ts';

// Fills the canonical lineage record from one span's own attributes and its resource.
// Inheritance from ancestors is the resolver's work (lineage-resolver.ts).

export function readOwnLineage(span: DecodedSpan): OwnLineage {
  const attrs = span.attributes;
  return {
    prompt: readPrompt(span),
    model: readModel(span),
    responseId: c.firstString(attrs, c.RESPONSE_ID_KEYS) || nestedResponseId(span),
    datasetIds: c.firstList(attrs, c.DATASET_KEYS),
    app: readApp(span),
    conversationId: c.firstString(attrs, c.CONVERSATION_KEYS),
    evaluation: readEvaluation(span),
  };
}

function readPrompt(span: DecodedSpan): PromptRef | null {
  const attrs = span.attributes;
  const mlflow = readMlflowPrompt(span);
  const name =
    c.firstString(attrs, c.PROMPT_NAME_KEYS.slice(0, c.MLFLOW_POSITION)) ||
    (mlflow?.name ?? '') ||
    c.firstString(attrs, c.PROMPT_NAME_KEYS.slice(c.MLFLOW_POSITION));
  const version =
    c.firstString(attrs, c.PROMPT_VERSION_KEYS.slice(0, c.MLFLOW_POSITION)) ||
    (mlflow?.version ?? '') ||
    c.firstString(attrs, c.PROMPT_VERSION_KEYS.slice(c.MLFLOW_POSITION));

  let hash = c.firstString(attrs, c.PROMPT_HASH_KEYS).toLowerCase();
  if (!hash) {
    const template = c.firstString(attrs, c.PROMPT_TEMPLATE_KEYS);
    if (template) hash = c.templateHash(template);
  }
  // A version alone is kept (OpenInference's LLM span under LangChain carries only
  // llm.prompt_template.version): the resolver takes the name and template from the trace.
  if (!name && !hash && !version) return null;
  return { name, version: normalizeVersion(version), alias: c.firstString(attrs, c.PROMPT_ALIAS_KEYS), templateHash: hash };
}

// Values found inside other values are not checked when the span arrives (span-rules.ts): one
// over the lineage bound is not kept.

/** A response id found only inside a span's output: OpenInference's output.value, MLflow's mlflow.spanOutputs. */
function nestedResponseId(span: DecodedSpan): string {
  const id = c.readOpenInferenceResponseId(span.attributes) || c.readMlflowResponseId(span.attributes);
  return withinLineageBound(id) ? id : '';
}

function readMlflowPrompt(span: DecodedSpan): { name: string; version: string } | null {
  const linked = c.readPromptFromMlflow(span.attributes);
  return linked && withinLineageBound(linked.name) && withinLineageBound(linked.version) ? linked : null;
}

/** Versions arrive as ints from some tools and strings from others ("3", "v3", 3.0). */
export function normalizeVersion(v: string): string {
  const m = /^v?(\d+)(?:\.0+)?$/i.exec(v);
  return m ? String(Number(m[1])) : v;
}

function readModel(span: DecodedSpan): ModelRef | null {
  const name = c.firstString(span.attributes, c.MODEL_KEYS);
  const provider = c.firstString(span.attributes, c.PROVIDER_KEYS);
  if (!name && !provider) return null;
  return { name, provider };
}

function readApp(span: DecodedSpan): AppRef {
  const res = span.resource.attributes;
  let name = c.firstString(res, [c.APP_NAME_RESOURCE_KEY]);
  // The SDK's placeholder when an app names no service: not an app name.
  if (name.startsWith('unknown_service')) name = '';
  name ||= c.firstString(span.attributes, c.APP_NAME_KEYS);
  const version = c.firstString(res, [c.APP_VERSION_RESOURCE_KEY]) || c.firstString(span.attributes, c.APP_VERSION_KEYS);
  return { name, version };
}

function readEvaluation(span: DecodedSpan): EvaluationRef | null {
  const name = c.firstString(span.attributes, [c.EVALUATION_NAME_KEY]);
  if (!name) return null;
  return { name, score: c.evaluationScore(span.attributes), label: c.firstString(span.attributes, [c.EVALUATION_LABEL_KEY]) };
}
