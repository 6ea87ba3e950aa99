"""Stamps the lineage in context onto every span as it starts (processor.ts). An attribute the span
already has is never overwritten: what the app or an instrumentation set is closer to the truth.

The TS processor also adds GenAI names to OpenInference's OpenAI spans as they end; in Python the
OpenAI spans come from ``opentelemetry-instrumentation-openai-v2``, which writes the GenAI names
itself, so there is nothing to add."""

from __future__ import annotations

from typing import Optional

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ._log import report_error
from .attributes import cached_lineage_attributes, lineage_attributes
from .context import current_lineage


class PromptlineSpanProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        try:
            lineage = current_lineage(parent_context)
            if lineage is None:
                return
            existing = span.attributes or {}
            try:
                attrs = cached_lineage_attributes(lineage)
            except TypeError:  # a lineage built by hand with unhashable parts (a list of datasets)
                attrs = tuple(lineage_attributes(lineage).items())
            for key, value in attrs:
                if key in existing and existing[key] is not None:
                    continue
                span.set_attribute(key, value)
        except Exception as err:
            report_error("stamping lineage on a span failed", err)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
