import type { Attributes, Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { lineageAttributes } from './attributes.ts';
import { currentLineage } from './context.ts';
import { genAiAttributesFromOpenInference } from './openinference.ts';
import type { Lineage } from './types.ts';
import { reportError } from './utils.ts';

// Stamps the lineage in context onto every span as it starts, and gives the LLM spans that
// OpenInference makes (OpenAI, Anthropic, LangChain) the OpenTelemetry GenAI names as they end. An attribute the span already has
// is never overwritten: what the app or an instrumentation set is closer to the truth.

/** Attributes are computed once per lineage: lineages in context are frozen and shared by many spans. */
const attributesOf = new WeakMap<Lineage, Attributes>();

function stampMissing(span: Span, attrs: Attributes): void {
  const existing = span.attributes;
  for (const key in attrs) {
    if (existing[key] !== undefined) continue;
    span.setAttribute(key, attrs[key]);
  }
}

export class PromptlineSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    try {
      const lineage = currentLineage(parentContext);
      if (!lineage) return;
      let attrs = attributesOf.get(lineage);
      if (!attrs) {
        attrs = lineageAttributes(lineage);
        if (Object.isFrozen(lineage)) attributesOf.set(lineage, attrs);
      }
      stampMissing(span, attrs);
    } catch (err) {
      reportError('stamping lineage on a span failed', err);
    }
  }

  onEnding(span: Span): void {
    try {
      const attrs = genAiAttributesFromOpenInference(span.name, span.instrumentationScope?.name, span.attributes);
      if (attrs) stampMissing(span, attrs);
    } catch (err) {
      reportError('adding GenAI attributes to an LLM span failed', err);
    }
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
