"""One call sets up tracing for an agent app (register.ts): the OpenTelemetry SDK with the
OTLP/HTTP (protobuf) exporter pointed at Promptline and the lineage processor, or only the processor
on a tracer provider the app already has; then the OpenAI SDK's instrumentation."""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.util.types import AttributeValue

from ._log import DEFAULT_ENDPOINT, debug, report_error, trim_slash, warn
from .context import lineage_settings
from .load_prompt import default_prompt_client
from .processor import PromptlineSpanProcessor

KNOWN_INSTRUMENTATIONS = ("openai",)


@dataclass
class PromptlineHandle:
    """What ``register`` returns: the tracer provider, ``force_flush()`` and ``shutdown()``."""

    tracer_provider: trace.TracerProvider
    _flush: Callable[[int], bool] = field(repr=False, default=lambda _t: True)
    _shutdown: Callable[[], None] = field(repr=False, default=lambda: None)
    _stopped: bool = field(repr=False, default=False)
    _lock: threading.Lock = field(repr=False, default_factory=threading.Lock)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Exports every ended span now; True when it all went out in time."""
        try:
            return self._flush(timeout_millis)
        except Exception as err:
            report_error("flushing spans failed", err)
            return False

    def shutdown(self) -> None:
        """Flushes, stops exporting and undoes what ``register`` set up (once; later calls do nothing)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            self._shutdown()
        except Exception as err:
            report_error("shutting down failed", err)


def _attach_processor(provider: Any, processor: PromptlineSpanProcessor) -> Callable[[], None] | None:
    """Puts the processor first on an SDK provider (so every other processor sees the stamped span);
    returns how to take it off again, or None when the provider cannot take processors."""
    multi = getattr(provider, "_active_span_processor", None)
    procs = getattr(multi, "_span_processors", None)
    lock = getattr(multi, "_lock", None)
    if isinstance(procs, tuple) and lock is not None:
        if any(isinstance(p, PromptlineSpanProcessor) for p in procs):
            return lambda: None
        with lock:
            multi._span_processors = (processor, *multi._span_processors)  # type: ignore[union-attr]

        def detach() -> None:
            with lock:
                multi._span_processors = tuple(p for p in multi._span_processors if p is not processor)  # type: ignore[union-attr]

        return detach
    if callable(getattr(provider, "add_span_processor", None)):
        provider.add_span_processor(processor)
        return lambda: None
    return None


def _instrument(names: Iterable[str], provider: trace.TracerProvider) -> list[Callable[[], None]]:
    """Turns on the named instrumentations against ``provider``; returns how to turn them off."""
    undo: list[Callable[[], None]] = []
    for name in names:
        if name != "openai":
            warn(f"unknown instrumentation {name!r}: known are {', '.join(KNOWN_INSTRUMENTATIONS)}")
            continue
        try:
            if importlib.util.find_spec("openai") is None:
                debug("the openai package is not installed: not instrumenting it")
                continue
            try:
                from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
            except ImportError:
                warn("openai is installed but opentelemetry-instrumentation-openai-v2 is not: pip install 'promptline[openai]' to trace OpenAI calls")
                continue
            instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
            if instrumentor.is_instrumented_by_opentelemetry:
                debug("openai is already instrumented: leaving that instrumentation as it is")
                continue
            instrumentor.instrument(tracer_provider=provider)
            undo.append(instrumentor.uninstrument)
        except Exception as err:
            report_error(f"instrumenting {name} failed", err)
    return undo


def _unset_global_tracer_provider(provider: trace.TracerProvider) -> None:
    """OpenTelemetry Python has no public way to undo set_tracer_provider; its module state is reset
    here so that a later register() (or the app) can set one again."""
    try:
        from opentelemetry.util._once import Once

        if getattr(trace, "_TRACER_PROVIDER", None) is provider:
            trace._TRACER_PROVIDER = None
            trace._TRACER_PROVIDER_SET_ONCE = Once()
    except Exception as err:  # pragma: no cover - depends on the API's internals
        debug(f"could not unset the global tracer provider: {err}")


def _global_sdk_provider() -> trace.TracerProvider | None:
    current = trace.get_tracer_provider()
    if isinstance(current, trace.ProxyTracerProvider) or isinstance(current, trace.NoOpTracerProvider):
        return None
    return current


def register(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service_name: str | None = None,
    service_version: str | None = None,
    resource_attributes: Mapping[str, AttributeValue] | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    exporter: SpanExporter | None = None,
    instrument: Sequence[str] = ("openai",),
    baggage: bool = False,
    set_global: bool = True,
    batch: Mapping[str, Any] | None = None,
) -> PromptlineHandle:
    """Sets up tracing to Promptline; never raises (a failure is logged and a no-op handle returned).

    - ``tracer_provider`` given, or a global SDK provider already set (and ``set_global``): only the
      lineage processor is attached to it (first in its list), and the instrumentations use it.
    - otherwise: a ``TracerProvider`` with the lineage processor and a ``BatchSpanProcessor``
      exporting OTLP/HTTP protobuf to ``{endpoint}/v1/traces`` with ``Authorization: Bearer api_key``
      (or ``exporter``), made global unless ``set_global=False``.
    """
    try:
        base = trim_slash(endpoint or os.environ.get("PROMPTLINE_URL") or DEFAULT_ENDPOINT)
        key = api_key if api_key is not None else os.environ.get("PROMPTLINE_API_KEY")
        default_prompt_client.connection.endpoint = base
        default_prompt_client.connection.api_key = key
        lineage_settings.baggage = baggage is True
        processor = PromptlineSpanProcessor()
        undo: list[Callable[[], None]] = [lambda: setattr(lineage_settings, "baggage", False)]

        existing = tracer_provider or (_global_sdk_provider() if set_global else None)
        if existing is not None:
            detach = _attach_processor(existing, processor)
            if detach is None:
                warn("could not attach the lineage processor to this tracer provider: add PromptlineSpanProcessor() to it")
            else:
                undo.append(detach)
            undo.extend(_instrument(instrument, existing))

            def shutdown_attached() -> None:
                for u in reversed(undo):
                    u()

            return PromptlineHandle(existing, lambda t: bool(getattr(existing, "force_flush", lambda _t: True)(t)), shutdown_attached)

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces", headers={"authorization": f"Bearer {key}"} if key else {})
        attrs: dict[str, AttributeValue] = {}
        name = service_name or os.environ.get("OTEL_SERVICE_NAME")
        if name:
            attrs["service.name"] = name
        if service_version:
            attrs["service.version"] = service_version
        attrs.update(resource_attributes or {})
        provider = TracerProvider(resource=Resource.create(attrs))
        provider.add_span_processor(processor)
        provider.add_span_processor(BatchSpanProcessor(exporter, **dict(batch or {})))

        if set_global:
            trace.set_tracer_provider(provider)
            if trace.get_tracer_provider() is provider:
                undo.append(lambda: _unset_global_tracer_provider(provider))
            else:
                warn("a global tracer provider was already registered: pass it as register(tracer_provider=...) to add lineage to its spans")
        uninstrument = _instrument(instrument, provider)

        def shutdown_own() -> None:
            # Instrumentations first (no new spans), then flush and stop, then the globals.
            for u in [*reversed(uninstrument), provider.shutdown, *reversed(undo)]:
                try:
                    u()
                except Exception as err:
                    report_error("undoing register() failed", err)

        return PromptlineHandle(provider, provider.force_flush, shutdown_own)
    except Exception as err:
        report_error("register() failed: the app runs without Promptline tracing", err)
        return PromptlineHandle(tracer_provider or trace.get_tracer_provider())
