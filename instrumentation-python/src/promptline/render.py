"""``{{variable}}`` templates, rendered by the same rules as the TS package's render.ts (which the
registry's render endpoint uses too): a name is letters, digits, "_", "." or "-" (not starting with a
digit, "." or "-"), spaces inside the braces are allowed, and a variable the template uses that the
caller does not give is an error, never an empty string sent to a model."""

from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

from .types import ChatMessage, PromptTemplate, TemplateVariables

# JavaScript's \s, which Python's re (ASCII mode) only partly matches.
_JS_SPACE = "[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"
VARIABLE = re.compile("\\{\\{" + _JS_SPACE + "*([A-Za-z_][A-Za-z0-9_.-]*)" + _JS_SPACE + "*\\}\\}")


def describe_missing_variables(missing: Sequence[str]) -> str:
    many = len(missing) > 1
    names = ", ".join(f'"{m}"' for m in missing)
    return f"{'the variables' if many else 'the variable'} {names}, which {'were' if many else 'was'} not given"


class MissingVariablesError(ValueError):
    """A variable the template uses was not given (``MissingVariablesError`` of the TS package)."""

    def __init__(self, prompt_name: str, missing: list[str]) -> None:
        super().__init__(f"prompt {prompt_name} needs {describe_missing_variables(missing)}")
        self.missing = missing


def _texts_of(t: PromptTemplate) -> list[str]:
    if t["type"] == "text":
        return [t["text"]]
    return [m["content"] for m in t["messages"]]


def template_variables(t: PromptTemplate) -> list[str]:
    """The variables a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for text in _texts_of(t):
        for m in VARIABLE.finditer(text):
            seen.setdefault(m.group(1), None)
    return list(seen)


def missing_variables(t: PromptTemplate, variables: Mapping[str, str]) -> list[str]:
    return [v for v in template_variables(t) if v not in variables]


def fill_template(t: PromptTemplate, variables: Mapping[str, str]) -> PromptTemplate:
    def fill(text: str) -> str:
        return VARIABLE.sub(lambda m: variables[m.group(1)], text)

    if t["type"] == "text":
        return {"type": "text", "text": fill(t["text"])}
    return {"type": "chat", "messages": [{"role": m["role"], "content": fill(m["content"])} for m in t["messages"]]}


def js_string(value: object) -> str:
    """``String(value)`` as JavaScript writes it, so that a value renders the same in both packages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def variable_map(*sources: TemplateVariables | None) -> dict[str, str]:
    """Variables as one mapping of strings; later sources win."""
    out: dict[str, str] = {}
    for s in sources:
        if not s:
            continue
        for k, v in s.items():
            out[str(k)] = js_string(v)
    return out


def render_template(name: str, t: PromptTemplate, variables: Mapping[str, str]) -> str | list[ChatMessage]:
    """A string for a text template, messages for a chat template."""
    missing = missing_variables(t, variables)
    if missing:
        raise MissingVariablesError(name, missing)
    filled = fill_template(t, variables)
    if filled["type"] == "text":
        return filled["text"]
    return filled["messages"]
