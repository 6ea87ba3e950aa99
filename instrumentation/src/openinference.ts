import type { Attributes } from '@opentelemetry/api';
import * as sc from './semconv.ts';

// OpenInference's OpenAI spans carry the response model as llm.model_name, the request model
// inside llm.invocation_parameters, token counts as llm.token_count.*, and the response id only
// inside the JSON of output.value. These are the OpenTelemetry GenAI names for the same facts.

const MAX_JSON_CHARS = 256 * 1024;
/** JSON.stringify of an OpenAI response keeps the server's key order: the id comes first. */
const LEADING_ID = /^\{\s*"id"\s*:\s*"([^"\\]{1,256})"/;

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function requestModel(invocationParameters: unknown): string | undefined {
  const text = str(invocationParameters);
  if (!text || text.length > MAX_JSON_CHARS) return undefined;
  try {
    return str((JSON.parse(text) as { model?: unknown }).model);
  } catch {
    return undefined;
  }
}

function responseId(output: unknown): string | undefined {
  const text = str(output);
  if (!text) return undefined;
  const lead = LEADING_ID.exec(text);
  if (lead) return lead[1];
  if (text.length > MAX_JSON_CHARS || !text.startsWith('{')) return undefined;
  try {
    return str((JSON.parse(text) as { id?: unknown }).id);
  } catch {
    return undefined;
  }
}

/** The GenAI attributes of an OpenInference LLM span; undefined for any other span. */
export function genAiAttributesFromOpenInference(spanName: string, a: Attributes): Attributes | undefined {
  if (a[sc.OI_SPAN_KIND] !== 'LLM') return undefined;
  const out: Attributes = { [sc.ATTR_GEN_AI_OPERATION_NAME]: spanName === 'OpenAI Completions' ? 'text_completion' : 'chat' };
  const provider = str(a[sc.OI_PROVIDER]) ?? str(a[sc.OI_SYSTEM]);
  if (provider) out[sc.ATTR_GEN_AI_PROVIDER_NAME] = provider;
  const requested = requestModel(a[sc.OI_INVOCATION_PARAMETERS]);
  if (requested) out[sc.ATTR_GEN_AI_REQUEST_MODEL] = requested;
  // Only a complete JSON response names the model that answered; for a stream it is the request's.
  if (a[sc.OI_OUTPUT_MIME_TYPE] === 'application/json') {
    const model = str(a[sc.OI_MODEL_NAME]);
    if (model) out[sc.ATTR_GEN_AI_RESPONSE_MODEL] = model;
    const id = responseId(a[sc.OI_OUTPUT_VALUE]);
    if (id) out[sc.ATTR_GEN_AI_RESPONSE_ID] = id;
  }
  if (typeof a[sc.OI_TOKENS_PROMPT] === 'number') out[sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS] = a[sc.OI_TOKENS_PROMPT];
  if (typeof a[sc.OI_TOKENS_COMPLETION] === 'number') out[sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = a[sc.OI_TOKENS_COMPLETION];
  return out;
}
