import { context, createContextKey, propagation, ROOT_CONTEXT, trace, type TracerProvider as ApiTracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { instrumentAnthropic } from './anthropic.ts';
import { lineageSettings } from './context.ts';
import { instrumentOpenAI, type LlmInstrumentations } from './instrumentation.ts';
import { instrumentLangChain } from './langchain.ts';
import { PromptlineSpanProcessor } from './processor.ts';
import { defaultPromptClient } from './load-prompt.ts';
import { RefusalReportingExporter, refusalStatus } from './refusals.ts';
import type { PromptlineHandle, RegisterOptions } from './types.ts';
import { DEFAULT_ENDPOINT, reportError, trimSlash, warn } from './utils.ts';

// One call sets up tracing for an agent app: the OpenTelemetry SDK with the OTLP/HTTP (protobuf)
// exporter pointed at Promptline and the lineage processor, or only the processor on an SDK the
// app already has; then the instrumentations of the OpenAI and Anthropic SDKs and LangChain.js.

/** True when a context manager is registered (the no-op one never keeps a value). */
function hasContextManager(): boolean {
  const probe = createContextKey('@promptline/instrumentation probe');
  return context.with(ROOT_CONTEXT.setValue(probe, true), () => context.active().getValue(probe) === true);
}

/** Puts the processor first on an SDK provider built without it (SDK 2.x/3.x keep their processors in a list). */
function attachProcessor(provider: ApiTracerProvider, processor: PromptlineSpanProcessor): boolean {
  const proxy = provider as { getDelegate?: () => ApiTracerProvider };
  const target = (typeof proxy.getDelegate === 'function' ? proxy.getDelegate() : provider) as {
    _activeSpanProcessor?: { _spanProcessors?: unknown[] };
    addSpanProcessor?: (p: unknown) => void;
  };
  const list = target._activeSpanProcessor?._spanProcessors;
  if (Array.isArray(list)) {
    if (!list.some((p) => p instanceof PromptlineSpanProcessor)) list.unshift(processor);
    return true;
  }
  if (typeof target.addSpanProcessor === 'function') {
    target.addSpanProcessor(processor);
    return true;
  }
  return false;
}

/** `true` or absent: on with defaults; `false`: off; an object: on with those options. */
const optionsOf = <T extends object>(o: boolean | T | undefined): T | null => (o === false ? null : o === true || o === undefined ? ({} as T) : o);

/** Each instrumentation looks for its own SDK, and does nothing when the app does not have it. */
function instrumentLlms(tracerProvider: ApiTracerProvider, options: RegisterOptions): LlmInstrumentations {
  const all: LlmInstrumentations[] = [];
  const openai = optionsOf(options.openai);
  const anthropic = optionsOf(options.anthropic);
  const langchain = optionsOf(options.langchain);
  if (openai) all.push(instrumentOpenAI(tracerProvider, openai));
  if (anthropic) all.push(instrumentAnthropic(tracerProvider, anthropic));
  if (langchain) all.push(instrumentLangChain(tracerProvider, langchain));
  return { disable: () => all.forEach((i) => i.disable()) };
}

const noopHandle = (tracerProvider: ApiTracerProvider): PromptlineHandle => ({ tracerProvider, forceFlush: async () => {}, shutdown: async () => {} });

export function register(options: RegisterOptions = {}): PromptlineHandle {
  try {
    const endpoint = trimSlash(options.endpoint ?? process.env.PROMPTLINE_URL ?? DEFAULT_ENDPOINT);
    const apiKey = options.apiKey ?? process.env.PROMPTLINE_API_KEY;
    defaultPromptClient.connection.endpoint = endpoint;
    defaultPromptClient.connection.apiKey = apiKey;
    lineageSettings.baggage = options.baggage === true;
    const processor = new PromptlineSpanProcessor();
    const undo: Array<() => void> = [() => (lineageSettings.baggage = false)];
    let llm: LlmInstrumentations = { disable() {} };

    // Lineage rides on the context: without a context manager nothing would carry it.
    if (options.setGlobal !== false && !hasContextManager()) {
      const manager = new AsyncLocalStorageContextManager();
      manager.enable();
      context.setGlobalContextManager(manager);
      undo.push(() => context.disable());
    }

    if (options.tracerProvider) {
      if (!attachProcessor(options.tracerProvider, processor)) {
        warn('could not attach the lineage processor to this tracer provider: add new PromptlineSpanProcessor() to its spanProcessors');
      }
      llm = instrumentLlms(options.tracerProvider, options);
      let detached = false;
      return {
        tracerProvider: options.tracerProvider,
        forceFlush: async () => {},
        shutdown: async () => {
          if (detached) return;
          detached = true;
          llm.disable();
          for (const u of undo.reverse()) u();
        },
      };
    }

    // Promptline's own exporter says once, loudly, when the key is refused (refusals.ts).
    const tracesUrl = `${endpoint}/v1/traces`;
    const exporter = options.exporter ?? new RefusalReportingExporter(new OTLPTraceExporter({ url: tracesUrl, headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} }), tracesUrl);
    const resource = defaultResource().merge(
      resourceFromAttributes({
        ...(options.serviceName ?? process.env.OTEL_SERVICE_NAME ? { 'service.name': options.serviceName ?? process.env.OTEL_SERVICE_NAME } : {}),
        ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
        ...options.resourceAttributes,
      }),
    );
    const provider = new TracerProvider({ resource, spanProcessors: [processor, new BatchSpanProcessor({ exporter, ...options.batch })] });

    if (options.setGlobal !== false) {
      if (trace.setGlobalTracerProvider(provider)) undo.push(() => trace.disable());
      else warn('a global tracer provider was already registered: pass it as register({ tracerProvider }) to add lineage to its spans');
      if (propagation.fields().length === 0) {
        propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
        undo.push(() => propagation.disable());
      } else if (options.baggage && !propagation.fields().includes('baggage')) {
        warn('the global propagator does not carry W3C baggage: lineage will not reach other services');
      }
    }
    llm = instrumentLlms(provider, options);

    let stopped: Promise<void> | undefined;
    return {
      tracerProvider: provider,
      // A refused key was reported once already by the exporter; a flush does not repeat it.
      forceFlush: () =>
        provider.forceFlush().catch((err: unknown) => {
          if (refusalStatus(err) === null) reportError('flushing spans failed', err);
        }),
      shutdown: () =>
        (stopped ??= (async () => {
          llm.disable();
          await provider.shutdown().catch((err: unknown) => reportError('shutting down the tracer provider failed', err));
          for (const u of undo.reverse()) u();
        })()),
    };
  } catch (err) {
    reportError('register() failed: the app runs without Promptline tracing', err);
    return noopHandle(options.tracerProvider ?? trace.getTracerProvider());
  }
}
