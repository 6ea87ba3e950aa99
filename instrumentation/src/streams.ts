import type { Span } from '@opentelemetry/api';
import { reportError } from './utils.ts';

// What the OpenAI and Anthropic hooks share: finding OpenInference's own span of a call, watching
// the half of a streamed answer OpenInference reads, and putting a hook of ours in place under each
// patch an OpenInference instrumentation makes.

/** OpenInference's span (an OISpan around the SDK's) made by the instrumentation `scope`, still open. */
export function isOpenInferenceSpanOf(scope: string, span: Span | undefined): span is Span {
  const inner = (span as { span?: { instrumentationScope?: { name?: string } } } | undefined)?.span;
  return inner?.instrumentationScope?.name === scope && span!.isRecording();
}

type Teeable = { tee?: () => [unknown, AsyncIterable<unknown>] };

/**
 * OpenInference reads a streamed answer from one half of the stream's tee() and gives the app the
 * other. Its half is watched as it reads it, before it ends the span: `onItem` sees each item (a
 * failure in it is reported, never thrown). The app's half, and what the app reads, are untouched.
 */
function watchTheirHalf(stream: unknown, onItem: (item: unknown) => void, what: string): void {
  const s = stream as Teeable | null;
  if (!s || typeof s.tee !== 'function') return;
  const tee = s.tee.bind(s);
  s.tee = () => {
    const [app, theirs] = tee();
    const watched: AsyncIterable<unknown> = {
      async *[Symbol.asyncIterator]() {
        for await (const item of theirs) {
          try {
            onItem(item);
          } catch (err) {
            reportError(what, err);
          }
          yield item;
        }
      },
    };
    return [app, watched];
  };
}

/**
 * For a streamed call (`stream: true`) under OpenInference's span, the SDK's APIPromise unwrapped
 * once more, so that the stream passes through `onItem`'s watch before OpenInference tees it (it
 * unwraps with _thenUnwrap too, chained after this one). Otherwise the result as it is.
 */
export function watchStreamedCall(result: unknown, args: unknown[], span: Span | undefined, scope: string, onItem: (span: Span, item: unknown) => void, what: string): unknown {
  try {
    const body = args[0] as { stream?: unknown } | undefined;
    const api = result as { _thenUnwrap?: (transform: (data: unknown) => unknown) => unknown } | undefined;
    if (body?.stream === true && isOpenInferenceSpanOf(scope, span) && typeof api?._thenUnwrap === 'function') {
      const watch = (item: unknown) => {
        if (span.isRecording()) onItem(span, item);
      };
      return api._thenUnwrap((stream) => (watchTheirHalf(stream, watch, `reading ${what} failed`), stream));
    }
  } catch (err) {
    reportError(`watching ${what} failed`, err);
  }
  return result;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeScript requires a mixin's base constructor to take any[]
type Patching = new (...args: any[]) => { patch(module: unknown, version?: string): unknown };

/** An OpenInference instrumentation class whose every patch first puts `hook` in place (a failure of it is reported). */
export function hookBeforePatch<C extends Patching>(Base: C, hook: (module: unknown) => void, what: string): C {
  return class extends Base {
    override patch(module: unknown, version?: string): unknown {
      try {
        hook(module);
      } catch (err) {
        reportError(what, err);
      }
      return super.patch(module, version);
    }
  };
}
