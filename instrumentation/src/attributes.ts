import type { Attributes } from '@opentelemetry/api';
import * as sc from './semconv.ts';
import type { Lineage } from './types.ts';

/** The span attributes that carry a lineage, in the names the collector reads first. */
export function lineageAttributes(l: Lineage): Attributes {
  const a: Attributes = {};
  if (l.prompt) {
    a[sc.ATTR_GEN_AI_PROMPT_NAME] = l.prompt.name;
    if (l.prompt.version !== undefined) a[sc.ATTR_GEN_AI_PROMPT_VERSION] = l.prompt.version;
    if (l.prompt.alias) a[sc.ATTR_PROMPTLINE_PROMPT_ALIAS] = l.prompt.alias;
    if (l.prompt.templateHash) a[sc.ATTR_PROMPTLINE_PROMPT_HASH] = l.prompt.templateHash;
    if (l.prompt.splitId) a[sc.ATTR_PROMPTLINE_PROMPT_SPLIT_ID] = l.prompt.splitId;
  }
  if (l.model) {
    a[sc.ATTR_GEN_AI_REQUEST_MODEL] = l.model.name;
    if (l.model.provider) a[sc.ATTR_GEN_AI_PROVIDER_NAME] = l.model.provider;
  }
  if (l.datasets && l.datasets.length > 0) a[sc.ATTR_PROMPTLINE_DATASET_IDS] = [...l.datasets];
  if (l.app) {
    a[sc.ATTR_GEN_AI_AGENT_NAME] = l.app.name;
    if (l.app.version) a[sc.ATTR_GEN_AI_AGENT_VERSION] = l.app.version;
  }
  if (l.conversationId) a[sc.ATTR_GEN_AI_CONVERSATION_ID] = l.conversationId;
  return a;
}
