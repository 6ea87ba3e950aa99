// Attribute names the instrumentation stamps: OpenTelemetry GenAI names where they exist,
// promptline.* for the rest. The collector reads these and every other tool's names.

export const ATTR_GEN_AI_PROMPT_NAME = 'gen_ai.prompt.name';
export const ATTR_GEN_AI_PROMPT_VERSION = 'gen_ai.prompt.version';
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_DATA_SOURCE_ID = 'gen_ai.data_source.id';
export const ATTR_GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id';
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
export const ATTR_GEN_AI_AGENT_VERSION = 'gen_ai.agent.version';

export const ATTR_PROMPTLINE_PROMPT_ALIAS = 'promptline.prompt.alias';
export const ATTR_PROMPTLINE_PROMPT_HASH = 'promptline.prompt.hash';
export const ATTR_PROMPTLINE_PROMPT_SPLIT_ID = 'promptline.prompt.split_id';
export const ATTR_PROMPTLINE_DATASET_IDS = 'promptline.dataset.ids';

/** W3C baggage entries that carry a lineage to the next service (opt-in). */
export const BAGGAGE_PREFIX = 'promptline.';
export const BAGGAGE_PROMPT_NAME = 'promptline.prompt.name';
export const BAGGAGE_PROMPT_VERSION = 'promptline.prompt.version';
export const BAGGAGE_PROMPT_ALIAS = 'promptline.prompt.alias';
export const BAGGAGE_PROMPT_HASH = 'promptline.prompt.hash';
export const BAGGAGE_PROMPT_SPLIT_ID = 'promptline.prompt.split_id';
export const BAGGAGE_DATASET_IDS = 'promptline.dataset.ids';
export const BAGGAGE_MODEL_NAME = 'promptline.model.name';
export const BAGGAGE_MODEL_PROVIDER = 'promptline.model.provider';
export const BAGGAGE_APP_NAME = 'promptline.app.name';
export const BAGGAGE_APP_VERSION = 'promptline.app.version';
export const BAGGAGE_CONVERSATION_ID = 'promptline.conversation.id';

/** OpenInference names read from the OpenAI, Anthropic and LangChain instrumentations' spans (to add the GenAI names). */
export const OI_SPAN_KIND = 'openinference.span.kind';
export const OI_MODEL_NAME = 'llm.model_name';
export const OI_REQUEST_MODEL_NAME = 'llm.request.model_name';
export const OI_RESPONSE_MODEL_NAME = 'llm.response.model_name';
export const OI_METADATA = 'metadata';
export const OI_INVOCATION_PARAMETERS = 'llm.invocation_parameters';
export const OI_PROVIDER = 'llm.provider';
export const OI_SYSTEM = 'llm.system';
export const OI_OUTPUT_VALUE = 'output.value';
export const OI_OUTPUT_MIME_TYPE = 'output.mime_type';
export const OI_TOKENS_PROMPT = 'llm.token_count.prompt';
export const OI_TOKENS_COMPLETION = 'llm.token_count.completion';
