import type { TracerProvider } from '@opentelemetry/api';
import type { LangChainInstrumentation } from '@arizeai/openinference-instrumentation-langchain';
import type { LlmInstrumentations } from './instrumentation.ts';
import { esmBuild, esmEntry, installed, loadBuild, loadedCjs } from './modules.ts';
import type { LangChainInstrumentationOptions } from './types.ts';
import { debug, reportError, warn } from './utils.ts';

// LangChain.js is instrumented by OpenInference's instrumentation, which adds its tracer (a
// LangChain callback handler) to every callback manager LangChain configures: a span per run
// (chain, prompt, chat model, tool, retriever). It needs `@langchain/core/callbacks/manager`, in
// the build the app uses; its ES build imports `@langchain/core` ES, its CommonJS build the other.
// It is an optional peer dependency: as a dependency it would install @langchain/core (and zod,
// js-tiktoken, langsmith) into every app, so an app with LangChain installs it alongside.
//
// LangChain runs callback handlers in the background by default, one at a time from a queue, so a
// handler may run in the async context of another task's callback: a span would then start under
// another task's lineage (and trace). The OpenInference handler is made one that LangChain awaits
// (awaitHandlers), so each span starts in the context of the run it records.

const OI_PACKAGE = '@arizeai/openinference-instrumentation-langchain';
const MANAGER = '@langchain/core/callbacks/manager';
const OI_HANDLER_NAME = 'OpenInferenceLangChainTracer';
const ORIGINAL = Symbol.for('@promptline/instrumentation langchain configure');

type Handler = { name?: unknown; awaitHandlers?: boolean };
type Manager = { handlers?: Handler[]; inheritableHandlers?: Handler[] } | undefined;
type Configure = ((this: unknown, ...args: unknown[]) => Manager) & { [ORIGINAL]?: Configure };
type CallbackManagerModule = { CallbackManager?: { _configureSync?: Configure } };

function awaitOurHandlers(original: Configure): Configure {
  const wrapped: Configure = function (this: unknown, ...args: unknown[]) {
    const manager = original.apply(this, args);
    try {
      for (const handler of [...(manager?.handlers ?? []), ...(manager?.inheritableHandlers ?? [])]) {
        if (handler?.name === OI_HANDLER_NAME) handler.awaitHandlers = true;
      }
    } catch (err) {
      reportError('configuring the LangChain tracer failed', err);
    }
    return manager;
  };
  wrapped[ORIGINAL] = original;
  return wrapped;
}

type OpenInferenceLike = { patch(module: unknown, version?: string): unknown; unpatch(module: unknown, version?: string): unknown; manuallyInstrument(module: unknown): void; disable(): void };
type OpenInferenceClass = new (config: ConstructorParameters<typeof LangChainInstrumentation>[0]) => OpenInferenceLike;

/** OpenInference's instrumentation, with its handlers awaited: ours wraps its patch of CallbackManager._configureSync. */
function withAwaitedHandlers(Base: OpenInferenceClass): OpenInferenceClass {
  return class PromptlineLangChainInstrumentation extends Base {
    override patch(module: unknown, version?: string): unknown {
      const out = super.patch(module, version);
      try {
        const cm = (module as CallbackManagerModule | undefined)?.CallbackManager;
        const configure = cm?._configureSync;
        if (cm && typeof configure === 'function' && !configure[ORIGINAL]) cm._configureSync = awaitOurHandlers(configure);
      } catch (err) {
        reportError('hooking the LangChain callback manager failed', err);
      }
      return out;
    }

    override unpatch(module: unknown, version?: string): unknown {
      try {
        // Ours comes off first, so that OpenInference finds its own wrapper to remove.
        const cm = (module as CallbackManagerModule | undefined)?.CallbackManager;
        const original = cm?._configureSync?.[ORIGINAL];
        if (cm && original) cm._configureSync = original;
      } catch (err) {
        reportError('unhooking the LangChain callback manager failed', err);
      }
      return super.unpatch(module, version);
    }
  };
}

const loadOpenInference = (build: 'esm' | 'cjs'): OpenInferenceClass =>
  withAwaitedHandlers((loadBuild(OI_PACKAGE, build) as { LangChainInstrumentation: OpenInferenceClass }).LangChainInstrumentation);

export function instrumentLangChain(tracerProvider: TracerProvider, opts: LangChainInstrumentationOptions = {}): LlmInstrumentations {
  const instances: Array<{ instance: OpenInferenceLike; module: unknown }> = [];
  const instrument = (build: 'esm' | 'cjs', module: unknown, hooks: boolean) => {
    try {
      const instance = new (loadOpenInference(build))({ tracerProvider, instrumentationConfig: { enabled: hooks }, ...(opts.content ? { traceConfig: opts.content } : {}) });
      instances.push({ instance, module });
      if (module) instance.manuallyInstrument(module);
    } catch (err) {
      reportError(`instrumenting ${MANAGER} (${build}) failed`, err);
    }
  };
  try {
    if (!installed(OI_PACKAGE)) {
      const hint = `${OI_PACKAGE} is not installed: LangChain.js is not instrumented (npm install ${OI_PACKAGE})`;
      if (opts.callbackManager) warn(hint);
      else debug(hint);
      return { disable() {} };
    }
    const cjs = loadedCjs(MANAGER);
    if (opts.callbackManager) {
      instrument(opts.callbackManager === cjs ? 'cjs' : 'esm', opts.callbackManager, false);
    } else {
      const esm = esmEntry();
      if (esm) {
        const module = esmBuild(MANAGER);
        if (module) instrument('esm', module, false);
      }
      if ((!esm && installed(MANAGER)) || cjs) instrument('cjs', cjs, true);
    }
  } catch (err) {
    reportError('setting up the LangChain instrumentation failed', err);
  }
  // OpenInference's disable() undoes only the patches its require hook made: a module patched by
  // hand is unpatched here, or its callback managers would go on adding a tracer of this provider.
  return {
    disable: () =>
      instances.forEach(({ instance, module }) => {
        instance.disable();
        if (module) instance.unpatch(module);
      }),
  };
}
