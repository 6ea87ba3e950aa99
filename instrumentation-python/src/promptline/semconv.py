"""Attribute names the instrumentation stamps: OpenTelemetry GenAI names where they exist,
``promptline.*`` for the rest. The same names as ``@promptline/instrumentation`` (semconv.ts)."""

from typing import Final

ATTR_GEN_AI_PROMPT_NAME: Final = "gen_ai.prompt.name"
ATTR_GEN_AI_PROMPT_VERSION: Final = "gen_ai.prompt.version"
ATTR_GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
ATTR_GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
ATTR_GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
ATTR_GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
ATTR_GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
ATTR_GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
ATTR_GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
ATTR_GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
ATTR_GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
ATTR_GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
ATTR_GEN_AI_AGENT_VERSION: Final = "gen_ai.agent.version"

ATTR_PROMPTLINE_PROMPT_ALIAS: Final = "promptline.prompt.alias"
ATTR_PROMPTLINE_PROMPT_HASH: Final = "promptline.prompt.hash"
ATTR_PROMPTLINE_PROMPT_SPLIT_ID: Final = "promptline.prompt.split_id"
ATTR_PROMPTLINE_DATASET_IDS: Final = "promptline.dataset.ids"

# W3C baggage entries that carry a lineage to the next service (opt-in).
BAGGAGE_PREFIX: Final = "promptline."
BAGGAGE_PROMPT_NAME: Final = "promptline.prompt.name"
BAGGAGE_PROMPT_VERSION: Final = "promptline.prompt.version"
BAGGAGE_PROMPT_ALIAS: Final = "promptline.prompt.alias"
BAGGAGE_PROMPT_HASH: Final = "promptline.prompt.hash"
BAGGAGE_PROMPT_SPLIT_ID: Final = "promptline.prompt.split_id"
BAGGAGE_DATASET_IDS: Final = "promptline.dataset.ids"
BAGGAGE_MODEL_NAME: Final = "promptline.model.name"
BAGGAGE_MODEL_PROVIDER: Final = "promptline.model.provider"
BAGGAGE_APP_NAME: Final = "promptline.app.name"
BAGGAGE_APP_VERSION: Final = "promptline.app.version"
BAGGAGE_CONVERSATION_ID: Final = "promptline.conversation.id"
