"""A prompt version as the registry resolved it (or the app's fallback), with its lineage (prompt.ts)."""

from __future__ import annotations

from typing import Any, Callable, Mapping, TypeVar

from ._log import safely
from .context import bind_to_active_context, lineage
from .render import render_template, template_variables, variable_map
from .types import ChatMessage, PromptLineage, PromptSource, PromptTemplate, TemplateVariables

T = TypeVar("T")


class Prompt:
    """``name``, ``version``, ``alias``, ``template_hash``, ``split_id``, ``template``, ``variables``,
    ``source`` and ``lineage``; ``format()`` / ``messages()`` render it, ``run()`` runs a function
    with its lineage in context."""

    __slots__ = ("name", "version", "alias", "template_hash", "split_id", "template", "variables", "source", "lineage", "_defaults")

    def __init__(
        self,
        *,
        name: str,
        version: int | None,
        alias: str | None,
        template_hash: str,
        split_id: str | None,
        template: PromptTemplate,
        source: PromptSource,
        defaults: TemplateVariables | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.alias = alias
        self.template_hash = template_hash
        self.split_id = split_id
        self.template = template
        self.variables: tuple[str, ...] = tuple(template_variables(template))
        self.source: PromptSource = source
        self._defaults = defaults
        self.lineage = PromptLineage(name=name, version=version, alias=alias or None, template_hash=template_hash, split_id=split_id or None)

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any], source: PromptSource, defaults: TemplateVariables | None) -> "Prompt":
        v = answer["version"]
        assignment = answer.get("assignment")
        return cls(
            name=v["name"],
            version=v["version"],
            alias=answer.get("alias"),
            template_hash=v["templateHash"],
            split_id=assignment["splitId"] if assignment else None,
            template=v["template"],
            source=source,
            defaults=defaults,
        )

    def format(self, variables: TemplateVariables | None = None, /, **kwargs: str | int | float | bool) -> str | list[ChatMessage]:
        """Renders ``{{variable}}``: a string for a text template, messages for a chat template.
        Also binds the prompt to the active context (see the README)."""
        out = render_template(self.name, self.template, variable_map(self._defaults, variables, kwargs))
        safely("binding the prompt to the context failed", lambda: bind_to_active_context(self.lineage), None)
        return out

    def messages(self, variables: TemplateVariables | None = None, /, **kwargs: str | int | float | bool) -> list[ChatMessage]:
        """Renders as chat messages (a text template becomes one user message)."""
        out = self.format(variables, **kwargs)
        if isinstance(out, str):
            return [{"role": "user", "content": out}]
        return out

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs ``fn(*args, **kwargs)`` with this prompt's lineage in context."""
        with lineage(prompt=self.lineage):
            return fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Prompt(name={self.name!r}, version={self.version!r}, alias={self.alias!r}, split_id={self.split_id!r}, source={self.source!r})"
