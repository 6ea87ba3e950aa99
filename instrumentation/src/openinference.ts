import type { Attributes } from '@opentelemetry/api';
import * as sc from './semconv.ts';

// OpenInference's LLM spans name the facts of a model call in their own way, which differs a
// little between its instrumentations:
// - OpenAI: the response model as llm.model_name (the request's for a stream), the request model
//   inside llm.invocation_parameters, the response id only inside the JSON of output.value.
// - Anthropic: llm.request.model_name and llm.response.model_name (the latter from the server,
//   streamed or not), the response id inside output.value for a call that is not streamed (a
//   streamed one's is recorded by anthropic.ts).
// - LangChain: the request model in llm.invocation_parameters, and the response model and id in
//   the run's output (llm_output, the message's response_metadata, or the message's own id where
//   the integration gives it the API's, as ChatOpenAI does), LangChain's ls_* names in metadata.
// All give token counts as llm.token_count.*. These are the OpenTelemetry GenAI names for them.

const MAX_JSON_CHARS = 256 * 1024;
/** JSON.stringify of an OpenAI or Anthropic response keeps the server's key order: the id comes first. */
const LEADING_ID = /^\{\s*"id"\s*:\s*"([^"\\]{1,256})"/;

const OI_LANGCHAIN_SCOPE = '@arizeai/openinference-instrumentation-langchain';

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);

function parseJson(v: unknown): Record<string, unknown> | undefined {
  const text = str(v);
  if (!text || text.length > MAX_JSON_CHARS || !text.startsWith('{')) return undefined;
  try {
    return obj(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function requestModel(invocationParameters: unknown): string | undefined {
  const params = parseJson(invocationParameters);
  return str(params?.model) ?? str(params?.model_name);
}

function responseId(output: unknown): string | undefined {
  const text = str(output);
  if (!text) return undefined;
  const lead = LEADING_ID.exec(text);
  if (lead) return lead[1];
  return str(parseJson(text)?.id);
}

const LANGCHAIN_RUN_ID = /^(run-|lc_run-)/;

/** What a LangChain chat model run's output says of the response: `{ generations: [[{ message }]], llm_output }`. */
function langchainResponse(output: unknown): { id?: string; model?: string } {
  const out = parseJson(output);
  if (!out) return {};
  const llmOutput = obj(out.llm_output);
  const generations = Array.isArray(out.generations) ? out.generations : [];
  const first = obj(Array.isArray(generations[0]) ? generations[0][0] : undefined);
  const message = obj(first?.message);
  // A message serialised by LangChain ({ lc, type, id, kwargs }) or a plain one.
  const kwargs = obj(message?.kwargs) ?? message;
  const metadata = obj(kwargs?.response_metadata);
  // The message's own id is the API's where the integration sets it (ChatOpenAI does), else
  // LangChain's run id (`run-…`, `lc_run--…`), which is no response id.
  const messageId = str(kwargs?.id);
  return {
    id: str(llmOutput?.id) ?? str(metadata?.id) ?? (messageId && !LANGCHAIN_RUN_ID.test(messageId) ? messageId : undefined),
    model: str(metadata?.model_name) ?? str(metadata?.model) ?? str(llmOutput?.model_name) ?? str(llmOutput?.model),
  };
}

/** The GenAI attributes of an OpenInference LLM span; undefined for any other span. */
export function genAiAttributesFromOpenInference(spanName: string, scope: string | undefined, a: Attributes): Attributes | undefined {
  if (a[sc.OI_SPAN_KIND] !== 'LLM') return undefined;
  const langchain = scope === OI_LANGCHAIN_SCOPE;
  const lcMetadata = langchain ? parseJson(a[sc.OI_METADATA]) : undefined;
  const completion = spanName === 'OpenAI Completions' || lcMetadata?.ls_model_type === 'llm';
  const out: Attributes = { [sc.ATTR_GEN_AI_OPERATION_NAME]: completion ? 'text_completion' : 'chat' };

  const provider = str(a[sc.OI_PROVIDER]) ?? str(a[sc.OI_SYSTEM]) ?? str(lcMetadata?.ls_provider);
  if (provider) out[sc.ATTR_GEN_AI_PROVIDER_NAME] = provider;
  const requested = str(a[sc.OI_REQUEST_MODEL_NAME]) ?? requestModel(a[sc.OI_INVOCATION_PARAMETERS]) ?? str(lcMetadata?.ls_model_name);
  if (requested) out[sc.ATTR_GEN_AI_REQUEST_MODEL] = requested;

  const json = a[sc.OI_OUTPUT_MIME_TYPE] === 'application/json';
  if (langchain) {
    // llm.model_name is the request's model here: only the output names the one that answered.
    const response = json ? langchainResponse(a[sc.OI_OUTPUT_VALUE]) : {};
    if (response.model) out[sc.ATTR_GEN_AI_RESPONSE_MODEL] = response.model;
    if (response.id) out[sc.ATTR_GEN_AI_RESPONSE_ID] = response.id;
  } else {
    // llm.response.model_name comes from the server; llm.model_name only for a complete JSON
    // response (for an OpenAI stream it is the request's).
    const model = str(a[sc.OI_RESPONSE_MODEL_NAME]) ?? (json ? str(a[sc.OI_MODEL_NAME]) : undefined);
    if (model) out[sc.ATTR_GEN_AI_RESPONSE_MODEL] = model;
    const id = json ? responseId(a[sc.OI_OUTPUT_VALUE]) : undefined;
    if (id) out[sc.ATTR_GEN_AI_RESPONSE_ID] = id;
  }
  if (typeof a[sc.OI_TOKENS_PROMPT] === 'number') out[sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS] = a[sc.OI_TOKENS_PROMPT];
  if (typeof a[sc.OI_TOKENS_COMPLETION] === 'number') out[sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = a[sc.OI_TOKENS_COMPLETION];
  return out;
}
