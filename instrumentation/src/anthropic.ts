import { trace, type Span, type TracerProvider } from '@opentelemetry/api';
import type { AnthropicInstrumentation } from '@arizeai/openinference-instrumentation-anthropic';
import type { LlmInstrumentations } from './instrumentation.ts';
import { esmBuild, esmEntry, hookedWith, installed, loadBuild, loadedCjs } from './modules.ts';
import type { AnthropicInstrumentationOptions } from './types.ts';
import * as sc from './semconv.ts';
import { hookBeforePatch, watchStreamedCall } from './streams.ts';
import { reportError } from './utils.ts';

// The Anthropic SDK (`@anthropic-ai/sdk`) is instrumented by OpenInference's instrumentation, which
// ends the span of a refused call itself and keeps the SDK's APIPromise and streams. What it does
// not record is the response id of a streamed call: the message_start event carries it, so the
// half of the stream OpenInference reads is watched for it (as the OpenAI streams are, in
// instrumentation.ts). The ES module build is patched here by hand, a CommonJS build already
// loaded too; one loaded later is patched by OpenInference's require hook.

const OI_PACKAGE = '@arizeai/openinference-instrumentation-anthropic';
const SDK = '@anthropic-ai/sdk';
const HOOKED = Symbol.for('@promptline/instrumentation anthropic streams');

type Create = ((this: unknown, ...args: unknown[]) => unknown) & { [HOOKED]?: true };

/** The stream events, as far as the watch reads them. */
interface StreamEvent {
  type?: unknown;
  message?: { id?: unknown; model?: unknown } | null;
}

/** message_start names the message id and the model that answers. */
function recordEvent(span: Span, event: StreamEvent): void {
  const message = event?.type === 'message_start' ? event.message : undefined;
  if (!message) return;
  if (typeof message.id === 'string' && message.id !== '') span.setAttribute(sc.ATTR_GEN_AI_RESPONSE_ID, message.id);
  if (typeof message.model === 'string' && message.model !== '') span.setAttribute(sc.ATTR_GEN_AI_RESPONSE_MODEL, message.model);
}

function watchStreams(original: Create): Create {
  const wrapped: Create = function (this: unknown, ...args: unknown[]) {
    const span = trace.getActiveSpan();
    return watchStreamedCall(original.apply(this, args), args, span, OI_PACKAGE, (s, event) => recordEvent(s, event as StreamEvent), 'a streamed Anthropic message');
  };
  wrapped[HOOKED] = true;
  return wrapped;
}

type MessagesClass = { prototype?: { create?: Create } } | undefined;

function hookStreams(module: unknown): void {
  type Namespace = { Messages?: MessagesClass; Beta?: { Messages?: MessagesClass } };
  // The ES build's namespace or the CommonJS exports: the client class is their default.
  const m = module as (Namespace & { default?: Namespace }) | undefined;
  const Anthropic = m?.default ?? m;
  for (const cls of [Anthropic?.Messages, Anthropic?.Beta?.Messages]) {
    const proto = cls?.prototype;
    if (proto && typeof proto.create === 'function' && !hookedWith(proto.create, HOOKED)) proto.create = watchStreams(proto.create);
  }
}

type OpenInferenceLike = { patch(module: unknown, version?: string): unknown; manuallyInstrument(module: unknown): void; disable(): void };
type OpenInferenceClass = new (config: ConstructorParameters<typeof AnthropicInstrumentation>[0]) => OpenInferenceLike;

/** OpenInference's Anthropic instrumentation never imports the SDK: one build of it patches either build of the SDK. */
const loadOpenInference = (): OpenInferenceClass => hookBeforePatch((loadBuild(OI_PACKAGE, 'cjs') as { AnthropicInstrumentation: OpenInferenceClass }).AnthropicInstrumentation, hookStreams, 'hooking Anthropic streams failed');

export function instrumentAnthropic(tracerProvider: TracerProvider, opts: AnthropicInstrumentationOptions = {}): LlmInstrumentations {
  const instances: OpenInferenceLike[] = [];
  const instrument = (module: unknown, hooks: boolean) => {
    try {
      const instance = new (loadOpenInference())({ tracerProvider, instrumentationConfig: { enabled: hooks }, ...(opts.content ? { traceConfig: opts.content } : {}) });
      instances.push(instance);
      if (module) instance.manuallyInstrument(module);
    } catch (err) {
      reportError('instrumenting the @anthropic-ai/sdk module failed', err);
    }
  };
  try {
    if (opts.module) {
      instrument(opts.module, false);
    } else {
      // As for openai: the ES build for an ES module app, the CommonJS build (now or when it is
      // required) for a CommonJS one.
      const esm = esmEntry();
      const cjs = loadedCjs(SDK);
      if (esm) {
        const module = esmBuild(SDK);
        if (module) instrument(module, false);
      }
      if ((!esm && installed(SDK)) || cjs) instrument(cjs, true);
    }
  } catch (err) {
    reportError('setting up the Anthropic instrumentation failed', err);
  }
  return { disable: () => instances.forEach((i) => i.disable()) };
}
