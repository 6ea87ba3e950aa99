"""The shapes of a lineage, as an agent app knows it (types.ts of the TS package)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, TypedDict, Union

ChatRole = Literal["system", "developer", "user", "assistant", "tool"]


class ChatMessage(TypedDict):
    role: ChatRole
    content: str


class TextTemplate(TypedDict):
    type: Literal["text"]
    text: str


class ChatTemplate(TypedDict):
    type: Literal["chat"]
    messages: list[ChatMessage]


PromptTemplate = Union[TextTemplate, ChatTemplate]
TemplateVariables = Mapping[str, Union[str, int, float, bool]]
PromptSource = Literal["registry", "cache", "stale", "fallback"]


@dataclass(frozen=True)
class PromptLineage:
    """The prompt behind an LLM call: a registry version, the alias it was asked by, and the A/B split."""

    name: str
    version: int | str | None = None
    alias: str | None = None
    template_hash: str | None = None
    split_id: str | None = None


@dataclass(frozen=True)
class Model:
    name: str
    provider: str | None = None


@dataclass(frozen=True)
class App:
    name: str
    version: str | None = None


@dataclass(frozen=True)
class Lineage:
    """The lineage of an LLM call. Frozen: lineages in context are shared by many spans."""

    prompt: PromptLineage | None = None
    model: Model | None = None
    datasets: tuple[str, ...] = ()
    app: App | None = None
    conversation_id: str | None = None

    def is_empty(self) -> bool:
        return self.prompt is None and self.model is None and not self.datasets and self.app is None and self.conversation_id is None
