"""The lineage context manager and decorator stamp every span started below them, with the same
attribute names as the TS package (attributes.ts / semconv.ts); nothing is overwritten."""

from __future__ import annotations

import asyncio
import threading
from typing import Iterator

import pytest
from opentelemetry import baggage, context as otel_context
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import promptline
from promptline import App, Model, Prompt, PromptLineage, lineage

PROMPT = PromptLineage(name="support-answer", version=3, alias="production", template_hash="ab" * 32, split_id="production-4-0011aabb")


class Traced:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.handle = promptline.register(exporter=self.exporter, set_global=False, instrument=(), service_name="svc", batch={"schedule_delay_millis": 5})
        self.tracer = self.handle.tracer_provider.get_tracer("test")

    def spans(self) -> dict[str, dict[str, object]]:
        assert self.handle.force_flush()
        return {s.name: dict(s.attributes or {}) for s in self.exporter.get_finished_spans()}


@pytest.fixture
def traced() -> Iterator[Traced]:
    t = Traced()
    yield t
    t.handle.shutdown()


def test_context_manager_stamps_the_exact_attribute_names(traced: Traced) -> None:
    tracer = traced.tracer
    with lineage(prompt=PROMPT, model=Model("gpt-4o", "openai"), datasets=["kb-2026-11"], app=App("support-bot", "1.4.2"), conversation_id="conv-1"):
        with tracer.start_as_current_span("agent.step"):
            with tracer.start_as_current_span("llm.call"):
                pass
    with tracer.start_as_current_span("outside"):
        pass
    spans = traced.spans()
    expected = {
        "gen_ai.prompt.name": "support-answer",
        "gen_ai.prompt.version": 3,
        "promptline.prompt.alias": "production",
        "promptline.prompt.hash": "ab" * 32,
        "promptline.prompt.split_id": "production-4-0011aabb",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.provider.name": "openai",
        "promptline.dataset.ids": ("kb-2026-11",),
        "gen_ai.agent.name": "support-bot",
        "gen_ai.agent.version": "1.4.2",
        "gen_ai.conversation.id": "conv-1",
    }
    assert spans["agent.step"] == expected
    assert spans["llm.call"] == expected
    assert spans["outside"] == {}


def test_attribute_names_match_the_ts_package() -> None:
    """lineage_attributes gives what attributes.ts gives for the same lineage (run with node)."""
    from conftest import run_node

    script = """
import { lineageAttributes } from '{ROOT}/instrumentation/src/attributes.ts';
console.log(JSON.stringify(lineageAttributes({ prompt: { name: 'p', version: 2, alias: 'canary', templateHash: 'h', splitId: 's' }, model: { name: 'm', provider: 'openai' }, datasets: ['d1', 'd2'], app: { name: 'a', version: '1' }, conversationId: 'c' })));
"""
    ts = run_node(script)
    py = promptline.lineage_attributes(promptline.Lineage(prompt=PromptLineage("p", 2, "canary", "h", "s"), model=Model("m", "openai"), datasets=("d1", "d2"), app=App("a", "1"), conversation_id="c"))
    assert py == ts


def test_nesting_replaces_prompt_and_adds_datasets(traced: Traced) -> None:
    tracer = traced.tracer
    other = PromptLineage(name="support-plan", version=1)
    with lineage(prompt=PROMPT, datasets=["a", "b"], model="gpt-4o"):
        with lineage(prompt=other, datasets=["b", "c"]):
            with tracer.start_as_current_span("inner"):
                pass
        with tracer.start_as_current_span("after"):
            pass
    spans = traced.spans()
    assert spans["inner"]["gen_ai.prompt.name"] == "support-plan"
    assert spans["inner"]["gen_ai.prompt.version"] == 1
    assert "promptline.prompt.alias" not in spans["inner"]  # the inner prompt replaces the outer one whole
    assert spans["inner"]["promptline.dataset.ids"] == ("a", "b", "c")
    assert spans["inner"]["gen_ai.request.model"] == "gpt-4o"
    assert spans["after"]["gen_ai.prompt.name"] == "support-answer"
    assert spans["after"]["promptline.dataset.ids"] == ("a", "b")


def test_never_overwrites_what_the_span_has(traced: Traced) -> None:
    tracer = traced.tracer
    with lineage(prompt=PROMPT, model="gpt-4o"):
        with tracer.start_as_current_span("own", attributes={"gen_ai.request.model": "gpt-4o-mini", "gen_ai.prompt.version": 9}):
            pass
    spans = traced.spans()
    assert spans["own"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert spans["own"]["gen_ai.prompt.version"] == 9
    assert spans["own"]["gen_ai.prompt.name"] == "support-answer"


def test_decorator_sync_async_and_threads(traced: Traced) -> None:
    tracer = traced.tracer

    @lineage(prompt=PROMPT, datasets=["sync"])
    def step(name: str) -> str:
        with tracer.start_as_current_span(name):
            return name

    @lineage(prompt=PromptLineage("async-prompt", 5), datasets=["async"])
    async def astep(name: str) -> str:
        await asyncio.sleep(0)
        with tracer.start_as_current_span(name):
            await asyncio.sleep(0)
        return name

    async def both() -> None:
        # Parallel tasks never see each other's lineage.
        await asyncio.gather(astep("task-a"), asyncio.to_thread(step, "task-b"))

    assert step("sync-span") == "sync-span"
    asyncio.run(both())
    t = threading.Thread(target=step, args=("thread-span",))
    t.start()
    t.join()
    with tracer.start_as_current_span("undecorated"):
        pass
    spans = traced.spans()
    assert spans["sync-span"]["promptline.dataset.ids"] == ("sync",)
    assert spans["task-a"]["gen_ai.prompt.name"] == "async-prompt"
    assert spans["task-a"]["promptline.dataset.ids"] == ("async",)
    assert spans["task-b"]["gen_ai.prompt.name"] == "support-answer"
    assert spans["thread-span"]["gen_ai.prompt.version"] == 3
    assert spans["undecorated"] == {}


def test_prompt_run_and_format_binding(traced: Traced) -> None:
    tracer = traced.tracer
    p = Prompt(name="greet", version=2, alias="production", template_hash="h1", split_id=None, template={"type": "text", "text": "Hi {{who}}"}, source="registry")
    p.run(lambda: tracer.start_span("ran").end())
    with tracer.start_as_current_span("step"):
        assert p.messages(who="Ada") == [{"role": "user", "content": "Hi Ada"}]
        with tracer.start_as_current_span("after-format"):
            pass
    # At the top level (empty context) format() binds nothing: that context is everyone's.
    p.format({"who": "Bob"})
    with tracer.start_as_current_span("top-level"):
        pass
    spans = traced.spans()
    assert spans["ran"]["gen_ai.prompt.name"] == "greet"
    assert spans["after-format"]["gen_ai.prompt.version"] == 2
    assert spans["after-format"]["promptline.prompt.alias"] == "production"
    assert "gen_ai.prompt.name" not in spans["step"]  # started before the prompt was formatted
    assert spans["top-level"] == {}


def test_baggage_round_trip(traced: Traced) -> None:
    """lineage(baggage=True) writes promptline.* baggage; with register(baggage=True) a service stamps what arrives."""
    tracer = traced.tracer
    with lineage(prompt=PROMPT, datasets=["kb"], baggage=True):
        entries = dict(baggage.get_all())
    assert entries["promptline.prompt.name"] == "support-answer"
    assert entries["promptline.prompt.version"] == "3"
    assert entries["promptline.dataset.ids"] == "kb"
    # The receiving side: only baggage, no lineage of its own.
    ctx = otel_context.Context()
    for k, v in entries.items():
        ctx = baggage.set_baggage(k, v, ctx)
    promptline.context.lineage_settings.baggage = True
    try:
        tracer.start_span("remote", context=ctx).end()
    finally:
        promptline.context.lineage_settings.baggage = False
    tracer.start_span("remote-off", context=ctx).end()
    spans = traced.spans()
    assert spans["remote"]["gen_ai.prompt.version"] == 3
    assert spans["remote"]["promptline.dataset.ids"] == ("kb",)
    assert spans["remote-off"] == {}
