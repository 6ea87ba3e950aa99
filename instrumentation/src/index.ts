export { register } from './register.ts';
export { loadPrompt } from './load-prompt.ts';
export { PromptClient, PromptRegistryError, PromptUnavailableError, hashTemplate, promptUri } from './registry-client.ts';
export { MissingVariablesError } from './render.ts';
export { withLineage, currentLineage, contextWithLineage } from './context.ts';
export { PromptlineSpanProcessor } from './processor.ts';
export { lineageAttributes } from './attributes.ts';
export type {
  AnthropicInstrumentationOptions,
  ChatMessage,
  ChatRole,
  LangChainInstrumentationOptions,
  Lineage,
  LineageInput,
  LoadPromptOptions,
  OpenAIContentOptions,
  OpenAIInstrumentationOptions,
  Prompt,
  PromptLineage,
  PromptRef,
  PromptTemplate,
  PromptlineHandle,
  RegisterOptions,
  TemplateVariables,
  WithLineageOptions,
} from './types.ts';
export * from './semconv.ts';
