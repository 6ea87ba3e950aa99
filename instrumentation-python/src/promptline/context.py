"""Lineage lives in the OpenTelemetry context, so it follows calls the way the active span does, and
parallel tasks (threads with their own context, asyncio tasks) never see each other's. Across
services it travels, when asked, as W3C baggage entries named ``promptline.*`` (context.ts)."""

from __future__ import annotations

import functools
import inspect
import re
import threading
import weakref
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Callable, Iterable, Protocol, TypeVar, cast

from opentelemetry import baggage as otel_baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context

from . import semconv as sc
from ._log import report_error
from .types import App, Lineage, Model, PromptLineage

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_LINEAGE_KEY = otel_context.create_key("promptline lineage")


@dataclass
class LineageSettings:
    """Set once by ``register``; ``lineage(baggage=...)`` overrides per call."""

    baggage: bool = False


lineage_settings = LineageSettings()


class HasLineage(Protocol):
    @property
    def lineage(self) -> PromptLineage: ...


PromptInput = PromptLineage | HasLineage
ModelInput = str | Model
AppInput = App | tuple[str, str] | str

# Prompts formatted in a context, for the spans later started in that same context. A Context is a
# dict (unhashable), so it is keyed by identity and dropped when the context is collected.
_formatted_in: dict[int, tuple[weakref.ref[Context], Lineage]] = {}
_formatted_lock = threading.Lock()


def _formatted_lineage(ctx: Context) -> Lineage | None:
    entry = _formatted_in.get(id(ctx))
    if entry is None or entry[0]() is not ctx:
        return None
    return entry[1]


def current_lineage(ctx: Context | None = None) -> Lineage | None:
    """The lineage in ``ctx`` (by default the active context): a prompt formatted in it, else what
    ``lineage`` set, else what another service sent in baggage (when enabled)."""
    if ctx is None:
        ctx = otel_context.get_current()
    own = _formatted_lineage(ctx) or cast("Lineage | None", otel_context.get_value(_LINEAGE_KEY, ctx))
    if own is not None:
        return own
    return lineage_from_baggage(ctx) if lineage_settings.baggage else None


def bind_to_active_context(prompt: PromptLineage) -> None:
    """Binds a formatted prompt to the active context, so the LLM call made next in it carries the
    prompt. Never the empty (root) context: that one is shared by every task of the process."""
    ctx = otel_context.get_current()
    if len(ctx) == 0:
        return
    outer = cast("Lineage | None", otel_context.get_value(_LINEAGE_KEY, ctx))
    merged = _merge(outer, prompt=prompt)
    key = id(ctx)

    def forget(_ref: object, key: int = key) -> None:
        with _formatted_lock:
            entry = _formatted_in.get(key)
            if entry is not None and entry[0]() is None:
                del _formatted_in[key]

    with _formatted_lock:
        _formatted_in[key] = (weakref.ref(ctx, forget), merged)


def _prompt_of(p: PromptInput | None) -> PromptLineage | None:
    if p is None:
        return None
    if isinstance(p, PromptLineage):
        return p
    return p.lineage


def _model_of(m: ModelInput | None) -> Model | None:
    if m is None:
        return None
    return Model(name=m) if isinstance(m, str) else m


def _app_of(a: AppInput | None) -> App | None:
    if a is None:
        return None
    if isinstance(a, str):
        return App(name=a)
    if isinstance(a, tuple):
        return App(name=a[0], version=a[1])
    return a


def _merge(
    outer: Lineage | None,
    *,
    prompt: PromptInput | None = None,
    model: ModelInput | None = None,
    datasets: Iterable[str] | None = None,
    app: AppInput | None = None,
    conversation_id: str | None = None,
) -> Lineage:
    """The inner call's fields win; datasets add up (first seen first, no duplicates)."""
    base = outer or Lineage()
    changes: dict[str, Any] = {}
    p = _prompt_of(prompt)
    if p is not None:
        changes["prompt"] = p
    m = _model_of(model)
    if m is not None:
        changes["model"] = m
    a = _app_of(app)
    if a is not None:
        changes["app"] = a
    if conversation_id:
        changes["conversation_id"] = conversation_id
    ds = [datasets] if isinstance(datasets, str) else list(datasets or ())
    if ds:
        changes["datasets"] = tuple(dict.fromkeys([*base.datasets, *ds]))
    return replace(base, **changes)


def context_with_lineage(
    ctx: Context | None = None,
    *,
    prompt: PromptInput | None = None,
    model: ModelInput | None = None,
    datasets: Iterable[str] | None = None,
    app: AppInput | None = None,
    conversation_id: str | None = None,
    baggage: bool | None = None,
) -> Context:
    """``ctx`` (by default the active context) with the lineage added, and written to baggage when asked."""
    if ctx is None:
        ctx = otel_context.get_current()
    merged = _merge(current_lineage(ctx), prompt=prompt, model=model, datasets=datasets, app=app, conversation_id=conversation_id)
    nxt = otel_context.set_value(_LINEAGE_KEY, merged, ctx)
    if lineage_settings.baggage if baggage is None else baggage:
        nxt = _with_baggage(nxt, merged)
    return nxt


class lineage(AbstractContextManager["lineage"]):  # noqa: N801 - used as `with lineage(...)` and `@lineage(...)`
    """Stamps lineage on every span started below it.

    As a context manager: ``with lineage(prompt=p, datasets=["kb"]):``. As a decorator:
    ``@lineage(prompt=p)`` on a function or a coroutine function (each call gets the lineage).
    Nested uses replace the prompt, model and app, and add datasets.
    """

    def __init__(
        self,
        *,
        prompt: PromptInput | None = None,
        model: ModelInput | None = None,
        datasets: Iterable[str] | None = None,
        app: AppInput | None = None,
        conversation_id: str | None = None,
        baggage: bool | None = None,
    ) -> None:
        self._kwargs: dict[str, Any] = {
            "prompt": prompt,
            "model": model,
            "datasets": (datasets,) if isinstance(datasets, str) else tuple(datasets or ()),
            "app": app,
            "conversation_id": conversation_id,
            "baggage": baggage,
        }
        self._tokens: list[object] = []

    def _attach(self) -> object | None:
        try:
            ctx = context_with_lineage(None, **self._kwargs)
        except Exception as err:
            report_error("lineage could not be set", err)
            return None
        return otel_context.attach(ctx)

    @staticmethod
    def _detach(token: object | None) -> None:
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    def __enter__(self) -> "lineage":
        self._tokens.append(self._attach())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._detach(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                token = self._attach()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._detach(token)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = self._attach()
            try:
                return fn(*args, **kwargs)
            finally:
                self._detach(token)

        return cast(F, wrapper)


def with_lineage(fn: Callable[[], T], **kwargs: Any) -> T:
    """Runs ``fn`` with the lineage in context (``withLineage`` of the TS package)."""
    with lineage(**kwargs):
        return fn()


def _with_baggage(ctx: Context, l: Lineage) -> Context:
    p = l.prompt
    entries: list[tuple[str, object]] = [
        (sc.BAGGAGE_PROMPT_NAME, p.name if p else None),
        (sc.BAGGAGE_PROMPT_VERSION, p.version if p else None),
        (sc.BAGGAGE_PROMPT_ALIAS, p.alias if p else None),
        (sc.BAGGAGE_PROMPT_HASH, p.template_hash if p else None),
        (sc.BAGGAGE_PROMPT_SPLIT_ID, p.split_id if p else None),
        (sc.BAGGAGE_DATASET_IDS, ",".join(l.datasets) if l.datasets else None),
        (sc.BAGGAGE_MODEL_NAME, l.model.name if l.model else None),
        (sc.BAGGAGE_MODEL_PROVIDER, l.model.provider if l.model else None),
        (sc.BAGGAGE_APP_NAME, l.app.name if l.app else None),
        (sc.BAGGAGE_APP_VERSION, l.app.version if l.app else None),
        (sc.BAGGAGE_CONVERSATION_ID, l.conversation_id),
    ]
    # Entries of an outer lineage that this one does not set must not leak through.
    for key, _ in entries:
        ctx = otel_baggage.remove_baggage(key, ctx)
    for key, value in entries:
        if value is not None and value != "":
            ctx = otel_baggage.set_baggage(key, str(value), ctx)
    return ctx


_DIGITS = re.compile(r"^\d+$")


def lineage_from_baggage(ctx: Context) -> Lineage | None:
    """A lineage from ``promptline.*`` baggage entries another service sent; None when there are none."""
    bag = otel_baggage.get_all(ctx)
    if not bag:
        return None

    def get(k: str) -> str | None:
        v = bag.get(k)
        if v is None:
            return None
        s = str(v).strip()
        return s or None

    prompt: PromptLineage | None = None
    name = get(sc.BAGGAGE_PROMPT_NAME)
    if name:
        version_text = get(sc.BAGGAGE_PROMPT_VERSION)
        version: int | str | None = None
        if version_text:
            version = int(version_text) if _DIGITS.match(version_text) else version_text
        prompt = PromptLineage(name=name, version=version, alias=get(sc.BAGGAGE_PROMPT_ALIAS), template_hash=get(sc.BAGGAGE_PROMPT_HASH), split_id=get(sc.BAGGAGE_PROMPT_SPLIT_ID))
    ds_text = get(sc.BAGGAGE_DATASET_IDS)
    datasets = tuple(d.strip() for d in ds_text.split(",") if d.strip()) if ds_text else ()
    model_name = get(sc.BAGGAGE_MODEL_NAME)
    model = Model(name=model_name, provider=get(sc.BAGGAGE_MODEL_PROVIDER)) if model_name else None
    app_name = get(sc.BAGGAGE_APP_NAME)
    app = App(name=app_name, version=get(sc.BAGGAGE_APP_VERSION)) if app_name else None
    l = Lineage(prompt=prompt, model=model, datasets=datasets, app=app, conversation_id=get(sc.BAGGAGE_CONVERSATION_ID))
    return None if l.is_empty() else l
