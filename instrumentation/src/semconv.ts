// Attribute names the instrumentation stamps: OpenTelemetry GenAI names where they exist,
// promptline.* for the rest. The collector reads these and every other tool's names.

export const ATTR_GEN_AI_PROMPT_NAME = 'gen_ai.prompt.name';
export const ATTR_GEN_AI_PROMPT_VERSION = 'gen_ai.prompt.version';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_DATA_SOURCE_ID = 'gen_ai.data_source.id';
export const ATTR_GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id';
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
export const ATTR_GEN_AI_AGENT_VERSION = 'gen_ai.agent.version';

export const ATTR_PROMPTLINE_PROMPT_ALIAS = 'promptline.prompt.alias';
export const ATTR_PROMPTLINE_PROMPT_HASH = 'promptline.prompt.hash';
export const ATTR_PROMPTLINE_DATASET_IDS = 'promptline.dataset.ids';
