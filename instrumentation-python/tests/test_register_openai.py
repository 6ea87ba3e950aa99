"""register() + lineage + an OpenAI call traced by opentelemetry-instrumentation-openai-v2, exported
over OTLP/HTTP to a real `promptline serve`: its provenance for the response id names the prompt
name, version, alias and hash, the model, the datasets and the app."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any, Iterator

import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import promptline
from promptline import lineage, load_prompt
from promptline.register import _unset_global_tracer_provider

from conftest import FakeOpenAI, Server, eventually, unique


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as res:
            return json.loads(res.read())
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


@pytest.fixture
def no_global_provider() -> Iterator[None]:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), "a test left a global tracer provider"
    yield
    current = trace.get_tracer_provider()
    if not isinstance(current, trace.ProxyTracerProvider):
        _unset_global_tracer_provider(current)


def test_provenance_of_an_openai_response(server: Server, fake_openai: FakeOpenAI, no_global_provider: None) -> None:
    name = unique("py-support-answer")
    registered = server.register_version(name, {"messages": [{"role": "system", "content": "Answer from the knowledge base."}, {"role": "user", "content": "{{question}}"}]}, "cite the kb")
    server.set_alias(name, "production", version=registered["version"])

    handle = promptline.register(endpoint=server.url, service_name="py-support-bot", service_version="2.0.1", instrument=["openai"], batch={"schedule_delay_millis": 20})
    try:
        assert trace.get_tracer_provider() is handle.tracer_provider
        prompt = load_prompt(f"prompts:/{name}@production")  # register() pointed the default client at the server
        assert prompt.source == "registry"
        client = openai.OpenAI(base_url=fake_openai.url, api_key="sk-test", max_retries=0)
        with lineage(prompt=prompt, datasets=["kb-2026-11", "orders-db"]):
            response = client.chat.completions.create(model="gpt-4o", messages=prompt.messages(question="Where is my order?"))  # type: ignore[arg-type]
        assert response.id.startswith("chatcmpl-")
        assert fake_openai.requests[-1]["body"]["messages"][1] == {"role": "user", "content": "Where is my order?"}
        assert handle.force_flush()
    finally:
        handle.shutdown()

    prov = eventually(lambda: get_json(f"{server.url}/v1/provenance?response_id={response.id}"), f"provenance of {response.id}")
    assert prov["responseId"] == response.id
    assert prov["prompt"]["name"] == name
    assert prov["prompt"]["version"] == registered["version"]
    assert prov["prompt"]["alias"] == "production"
    assert prov["prompt"]["templateHash"] == registered["templateHash"]
    assert prov["prompt"]["registered"] is True
    assert prov["model"] == {"provider": "openai", "name": "gpt-4o-2024-08-06"}
    assert sorted(d["id"] for d in prov["datasets"]) == ["kb-2026-11", "orders-db"]
    assert prov["app"] == {"name": "py-support-bot", "version": "2.0.1"}

    # The model-call span is openai-v2's own (no patching of ours), carrying the lineage itself.
    trace_answer = get_json(f"{server.url}/v1/traces/{prov['traceId']}")
    spans = trace_answer["spans"]
    llm = next(s for s in spans if s["spanId"] == prov["spanId"])
    attrs = llm["attributes"]
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["gen_ai.prompt.name"] == name
    assert attrs["promptline.prompt.hash"] == registered["templateHash"]
    # Written by openai-v2, not by us (our lineage here names no model).
    # (gen_ai.system with opentelemetry-util-genai before 1.0, gen_ai.provider.name after.)
    provider = attrs.get("gen_ai.provider.name", attrs.get("gen_ai.system"))
    assert (provider, attrs["gen_ai.operation.name"], attrs["gen_ai.usage.input_tokens"]) == ("openai", "chat", "21")
    assert attrs["gen_ai.request.model"] == "gpt-4o"

    # shutdown() undid what register() did: no global provider, openai no longer instrumented.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry  # type: ignore[no-untyped-call]


def test_attaches_to_the_apps_global_provider(fake_openai: FakeOpenAI, no_global_provider: None) -> None:
    """An app that set up its own SDK provider keeps it: register() only puts the lineage processor
    first on it, and instruments openai against it; shutdown() takes the processor off again."""
    exporter = InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(app_provider)
    handle = promptline.register(endpoint="http://127.0.0.1:9", instrument=["openai"])
    assert handle.tracer_provider is app_provider
    procs = app_provider._active_span_processor._span_processors
    assert isinstance(procs[0], promptline.PromptlineSpanProcessor) and len(procs) == 2
    try:
        client = openai.OpenAI(base_url=fake_openai.url, api_key="sk-test", max_retries=0)
        with lineage(prompt=promptline.PromptLineage("local", 7), model=promptline.Model("gpt-4o", "openai"), app=promptline.App("agent", "0.1")):
            response = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    finally:
        handle.shutdown()
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["gen_ai.prompt.name"] == "local" and attrs["gen_ai.prompt.version"] == 7
    assert attrs["gen_ai.agent.name"] == "agent"
    assert len(app_provider._active_span_processor._span_processors) == 1
    app_provider.shutdown()


def test_register_never_raises(no_global_provider: None, caplog: pytest.LogCaptureFixture) -> None:
    """A bad option is reported on the promptline logger, not raised; the handle is a no-op one."""
    with caplog.at_level(logging.WARNING, logger="promptline"):
        handle = promptline.register(exporter=InMemorySpanExporter(), set_global=False, instrument=["nope"], batch={"bogus_option": 1})
    messages = [r.getMessage() for r in caplog.records if r.name == "promptline"]
    assert any("register() failed" in m for m in messages), messages
    assert not isinstance(handle.tracer_provider, TracerProvider)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert handle.force_flush() is True
    handle.shutdown()
    handle.shutdown()


def test_unknown_instrumentation_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="promptline"):
        handle = promptline.register(exporter=InMemorySpanExporter(), set_global=False, instrument=["nope"])
    handle.shutdown()
    assert any("unknown instrumentation 'nope'" in r.getMessage() for r in caplog.records)
