import type { Attributes, TracerProvider } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';

/** The prompt behind an LLM call: a registry version, the alias it was asked by, and the A/B split. */
export interface PromptLineage {
  name: string;
  version?: number | string;
  alias?: string;
  templateHash?: string;
  splitId?: string;
}

/** The lineage of an LLM call, as an agent app knows it. */
export interface Lineage {
  prompt?: PromptLineage;
  model?: { provider?: string; name: string };
  datasets?: readonly string[];
  app?: { name: string; version?: string };
  conversationId?: string;
}

/** What `withLineage` takes: a loaded prompt or a plain lineage, a model name or object. */
export interface LineageInput {
  prompt?: PromptLineage | { readonly lineage: PromptLineage };
  model?: string | { provider?: string; name: string };
  datasets?: readonly string[];
  app?: { name: string; version?: string };
  conversationId?: string;
}

export interface WithLineageOptions {
  /** Also put the lineage into W3C baggage for the services this call reaches (default: as `register` set, off). */
  baggage?: boolean;
}

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';
export interface ChatMessage {
  role: ChatRole;
  content: string;
}
export type PromptTemplate = { type: 'text'; text: string } | { type: 'chat'; messages: ChatMessage[] };
export type TemplateVariables = Readonly<Record<string, string | number | boolean>> | ReadonlyMap<string, string | number | boolean>;

/** A prompt version from the registry (or the fallback), ready to render and to carry lineage. */
export interface Prompt {
  readonly name: string;
  /** Undefined only for a fallback template served while the registry had nothing for this prompt. */
  readonly version: number | undefined;
  readonly alias: string | null;
  readonly templateHash: string;
  readonly splitId: string | null;
  readonly template: PromptTemplate;
  /** The variables the template uses. */
  readonly variables: readonly string[];
  /** Where this answer came from: the registry now, the cache, a stale copy during an outage, or the fallback. */
  readonly source: 'registry' | 'cache' | 'stale' | 'fallback';
  readonly lineage: PromptLineage;
  /** Renders `{{variable}}`: a string for a text template, messages for a chat template. Stamps the active span. */
  format(variables?: TemplateVariables): string | ChatMessage[];
  /** Renders as chat messages (a text template becomes one user message). Stamps the active span. */
  messages(variables?: TemplateVariables): ChatMessage[];
  /** Runs `fn` with this prompt's lineage in context: every span started inside carries it. */
  run<T>(fn: () => T): T;
}

export type PromptRef = string | { name: string; version: number } | { name: string; alias: string };

export interface LoadPromptOptions {
  /** The caller's key (a user or session id): an alias that splits traffic assigns a version by it. */
  key?: string;
  /** Default values for `format`; the values given to `format` win. */
  variables?: TemplateVariables;
  /** How long an answer is reused before the registry is asked again (default 60 s). */
  ttlMs?: number;
  /** Served, with no version, when the registry cannot be reached and nothing was cached. */
  fallback?: string | { messages: ChatMessage[] };
  /** Promptline's URL and key; by default those `register` was given, else PROMPTLINE_URL / PROMPTLINE_API_KEY. */
  endpoint?: string;
  apiKey?: string;
  /** Per-request timeout (default 5 s); a timeout counts as an outage. */
  timeoutMs?: number;
}

/** OpenInference's switches for what the OpenAI, Anthropic and LangChain spans record (message content is recorded by default). */
export interface OpenAIContentOptions {
  hideInputs?: boolean;
  /** Hiding outputs also hides the response id, which OpenInference keeps only in the output. */
  hideOutputs?: boolean;
  hideInputMessages?: boolean;
  hideOutputMessages?: boolean;
  hideLLMTools?: boolean;
  hidePrompts?: boolean;
}

export interface OpenAIInstrumentationOptions {
  /** The `openai` module (`import * as openai from 'openai'`) when it cannot be found from here (bundlers, pnpm). */
  module?: unknown;
  content?: OpenAIContentOptions;
}

export interface AnthropicInstrumentationOptions {
  /** The `@anthropic-ai/sdk` module (`import * as anthropic from '@anthropic-ai/sdk'`) when it cannot be found from here (bundlers, pnpm). */
  module?: unknown;
  content?: OpenAIContentOptions;
}

export interface LangChainInstrumentationOptions {
  /** `@langchain/core/callbacks/manager` (`import * as callbackManager from '@langchain/core/callbacks/manager'`) when it cannot be found from here. */
  callbackManager?: unknown;
  content?: OpenAIContentOptions;
}

export interface RegisterOptions {
  /** Promptline's base URL: spans go to `${endpoint}/v1/traces`, prompts come from its registry. */
  endpoint?: string;
  apiKey?: string;
  serviceName?: string;
  serviceVersion?: string;
  resourceAttributes?: Attributes;
  /** An SDK TracerProvider the app already has: the lineage processor is attached to it, nothing else is set up. */
  tracerProvider?: TracerProvider;
  /** Replaces the OTLP exporter (tests, or another backend). */
  exporter?: SpanExporter;
  /** Auto-instrument the OpenAI SDK (default on). */
  openai?: boolean | OpenAIInstrumentationOptions;
  /** Auto-instrument the Anthropic SDK when the app has it (default on). */
  anthropic?: boolean | AnthropicInstrumentationOptions;
  /** Auto-instrument LangChain.js when the app has `@langchain/core` (default on). */
  langchain?: boolean | LangChainInstrumentationOptions;
  /** Carry lineage to other services in W3C baggage, and read it from theirs (default off). */
  baggage?: boolean;
  /** Register the tracer provider, context manager and propagator globally (default true). */
  setGlobal?: boolean;
  /** BatchSpanProcessor settings. */
  batch?: { scheduledDelayMillis?: number; maxExportBatchSize?: number; maxQueueSize?: number; exportTimeoutMillis?: number };
}

export interface PromptlineHandle {
  readonly tracerProvider: TracerProvider;
  forceFlush(): Promise<void>;
  /** Flushes, stops exporting and undoes what `register` set globally. */
  shutdown(): Promise<void>;
}
