import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { PromptlineSpanProcessor } from '../src/index.ts';

// A real SDK pipeline for unit tests: the lineage processor first, then an in-memory exporter.

export interface TestTracing {
  provider: TracerProvider;
  exporter: InMemorySpanExporter;
  tracer: ReturnType<TracerProvider['getTracer']>;
  spans(): ReadableSpan[];
  span(name: string): ReadableSpan;
  stop(): Promise<void>;
}

export function startTestTracing(opts: { lineage?: boolean } = {}): TestTracing {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  const exporter = new InMemorySpanExporter();
  const processors = [...(opts.lineage === false ? [] : [new PromptlineSpanProcessor()]), new SimpleSpanProcessor({ exporter })];
  const provider = new TracerProvider({ spanProcessors: processors });
  trace.setGlobalTracerProvider(provider);
  const spans = () => exporter.getFinishedSpans();
  return {
    provider,
    exporter,
    tracer: provider.getTracer('test'),
    spans,
    span(name) {
      const found = spans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`expected one span named ${name}, found ${found.length}: ${spans().map((s) => s.name).join(', ')}`);
      return found[0]!;
    },
    async stop() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
