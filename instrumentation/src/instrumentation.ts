import { SpanStatusCode, trace, type Span, type TracerProvider } from '@opentelemetry/api';
import type { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import type { OpenAIInstrumentationOptions } from './types.ts';
import { esmBuild, esmEntry, hookedWith, installed, loadBuild, loadedCjs } from './modules.ts';
import * as sc from './semconv.ts';
import { hookBeforePatch, isOpenInferenceSpanOf, watchStreamedCall } from './streams.ts';
import { reportError } from './utils.ts';

// The OpenAI SDK is instrumented by OpenInference's instrumentation (README: why this one). The ES
// module build of `openai`, and a CommonJS build already loaded, are patched here by hand; a
// CommonJS build loaded later is patched by OpenInference's require hook. Patching the SDK's
// prototypes reaches clients created before register() too.
//
// OpenInference leaves the span of a call the API refused open for ever (so it is never
// exported). Under its wrapper goes one of ours that ends such a span with the error recorded.

const OI_SCOPE = '@arizeai/openinference-instrumentation-openai';
const HOOKED = Symbol.for('@promptline/instrumentation openai failures');

type Create = ((this: unknown, ...args: unknown[]) => unknown) & { [HOOKED]?: true };

/** A chat completion chunk, as far as the stream's observer reads it. */
interface Chunk {
  id?: unknown;
  model?: unknown;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
}

/**
 * The attributes a streamed chat completion's chunks carry and OpenInference does not record: the
 * response id (every chunk has it), the model that answered, and the usage of the last chunk (when
 * the app asked for it with stream_options.include_usage).
 */
function recordChunk(span: Span, chunk: Chunk, seen: { id: boolean }): void {
  if (!seen.id && typeof chunk.id === 'string' && chunk.id !== '') {
    seen.id = true;
    span.setAttribute(sc.ATTR_GEN_AI_RESPONSE_ID, chunk.id);
    if (typeof chunk.model === 'string' && chunk.model !== '') span.setAttribute(sc.ATTR_GEN_AI_RESPONSE_MODEL, chunk.model);
  }
  const usage = chunk.usage;
  if (usage && typeof usage.prompt_tokens === 'number') span.setAttribute(sc.ATTR_GEN_AI_USAGE_INPUT_TOKENS, usage.prompt_tokens);
  if (usage && typeof usage.completion_tokens === 'number') span.setAttribute(sc.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, usage.completion_tokens);
}

function endOnFailure(original: Create): Create {
  const wrapped: Create = function (this: unknown, ...args: unknown[]) {
    const span = trace.getActiveSpan();
    const result = original.apply(this, args);
    const seen = { id: false };
    const out = watchStreamedCall(result, args, span, OI_SCOPE, (s, chunk) => recordChunk(s, chunk as Chunk, seen), 'a streamed chat completion');
    try {
      const api = result as { asResponse?: () => Promise<unknown> } | undefined;
      // asResponse() waits for the HTTP exchange without reading the body the app will read.
      if (isOpenInferenceSpanOf(OI_SCOPE, span) && typeof api?.asResponse === 'function') {
        api.asResponse().then(undefined, (err: unknown) => {
          if (!span.isRecording()) return;
          span.recordException(err instanceof Error ? err : String(err));
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          span.end();
        });
      }
    } catch (err) {
      reportError('watching an OpenAI call for failure failed', err);
    }
    return out;
  };
  wrapped[HOOKED] = true;
  return wrapped;
}

/** A resource class of the SDK (Completions, Responses, ...): only its prototype's create is hooked. */
type ResourceClass = { prototype?: { create?: Create } } | undefined;
type OpenAIClass = { Chat?: { Completions?: ResourceClass }; Responses?: ResourceClass; Completions?: ResourceClass; Embeddings?: ResourceClass };

function hookFailures(module: unknown): void {
  const OpenAI = (module as { OpenAI?: OpenAIClass } | undefined)?.OpenAI;
  if (!OpenAI) return;
  for (const cls of [OpenAI.Chat?.Completions, OpenAI.Responses, OpenAI.Completions, OpenAI.Embeddings]) {
    const proto = cls?.prototype;
    if (proto && typeof proto.create === 'function' && !hookedWith(proto.create, HOOKED)) proto.create = endOnFailure(proto.create);
  }
}

type OpenInferenceLike = { patch(module: unknown, version?: string): unknown; manuallyInstrument(module: unknown): void; disable(): void };
type OpenInferenceClass = new (config: ConstructorParameters<typeof OpenAIInstrumentation>[0]) => OpenInferenceLike;

const OI_PACKAGE = '@arizeai/openinference-instrumentation-openai';

/**
 * OpenInference imports `openai` as it loads, and tells the SDK's own promises by class, so it is
 * loaded only when the app has `openai`, and in the build (ES module or CommonJS) that matches the
 * `openai` build it instruments: its ES build sees the ES `openai`, its CommonJS build the other.
 */
function loadOpenInference(build: 'esm' | 'cjs'): OpenInferenceClass {
  const exports = loadBuild(OI_PACKAGE, build) as { OpenAIInstrumentation: OpenInferenceClass };
  return hookBeforePatch(exports.OpenAIInstrumentation, hookFailures, 'hooking OpenAI call failures failed');
}

export interface LlmInstrumentations {
  disable(): void;
}

export function instrumentOpenAI(tracerProvider: TracerProvider, opts: OpenAIInstrumentationOptions = {}): LlmInstrumentations {
  const instances: OpenInferenceLike[] = [];
  const config = (hooks: boolean) => ({ tracerProvider, instrumentationConfig: { enabled: hooks }, ...(opts.content ? { traceConfig: opts.content } : {}) });
  const instrument = (build: 'esm' | 'cjs', module: unknown, hooks: boolean) => {
    try {
      const instance = new (loadOpenInference(build))(config(hooks));
      instances.push(instance);
      if (module) instance.manuallyInstrument(module);
    } catch (err) {
      reportError(`instrumenting the openai module (${build}) failed`, err);
    }
  };
  try {
    const cjs = loadedCjs('openai');
    if (opts.module) {
      instrument(opts.module === cjs ? 'cjs' : 'esm', opts.module, false);
    } else {
      // An app started as an ES module imports the ES build; one started as CommonJS requires the
      // other, maybe later: the CommonJS instance's require hook patches it then.
      const esm = esmEntry();
      if (esm) {
        const module = esmBuild('openai');
        if (module) instrument('esm', module, false);
      }
      if ((!esm && installed('openai')) || cjs) instrument('cjs', cjs, true);
    }
  } catch (err) {
    reportError('setting up the OpenAI instrumentation failed', err);
  }
  return { disable: () => instances.forEach((i) => i.disable()) };
}
