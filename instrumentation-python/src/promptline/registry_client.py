"""load_prompt: ``GET /v1/prompts/resolve`` with an in-memory cache (registry-client.ts).

An answer is reused for its TTL; when the registry is down (network error, timeout, 5xx, 429) the
last good answer is served and the registry is asked again after at most 5 s. An alias that splits
traffic is resolved by the server for the caller's key, and cached per key; any other answer is
shared by all keys. Many callers at once make one request per prompt and key.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Callable, Mapping

from opentelemetry import context as otel_context

from ._log import DEFAULT_ENDPOINT, trim_slash, warn
from .prompt import Prompt
from .types import ChatMessage, PromptTemplate, TemplateVariables

DEFAULT_TTL = 60.0
DEFAULT_TIMEOUT = 5.0
OUTAGE_RETRY = 5.0
MAX_ENTRIES = 10_000

Clock = Callable[[], float]
"""Seconds, monotonic: when a cached answer is due for a refresh. Injectable for tests."""


class PromptRegistryError(Exception):
    """The registry refused the request (unknown prompt, bad URI, a split alias without a key): not an outage."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class PromptUnavailableError(Exception):
    """The registry could not be reached and there was nothing cached and no fallback to serve."""


class _Outage(Exception):
    pass


def prompt_uri(ref: str | None = None, *, name: str | None = None, version: int | None = None, alias: str | None = None) -> str:
    """The URI for a reference: a URI as given (``prompts:/name/3``, ``prompts:/name@production``),
    or a name with a version or an alias (``prompt_uri("name", version=3)``)."""
    if ref is not None and version is None and alias is None:
        return ref.strip()
    n = name if name is not None else ref
    if n is None:
        raise ValueError("give a prompt URI, or a name with a version or an alias")
    if version is not None and alias is not None:
        raise ValueError("give a version or an alias, not both")
    if version is not None:
        return f"prompts:/{n}/{version}"
    if alias is not None:
        return f"prompts:/{n}@{alias}"
    raise ValueError(f"give a version or an alias for prompt {n}")


def hash_template(t: PromptTemplate) -> str:
    """The registry's template hash: sha256 of the text, or of the messages' canonical JSON
    (``JSON.stringify([{role, content}, ...])``)."""
    if t["type"] == "text":
        text = t["text"]
    else:
        text = json.dumps([{"role": m["role"], "content": m["content"]} for m in t["messages"]], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class _CacheEntry:
    answer: Mapping[str, Any]
    # When the registry should be asked again (after the TTL, or sooner retries during an outage).
    refresh_at: float


@dataclass
class RegistryConnection:
    endpoint: str
    api_key: str | None


def _suppressed_context() -> otel_context.Context:
    """The registry call is the instrumentation's own business, not a span of the app's."""
    ctx = otel_context.get_current()
    for key_name in ("_SUPPRESS_INSTRUMENTATION_KEY", "_SUPPRESS_HTTP_INSTRUMENTATION_KEY"):
        key = getattr(otel_context, key_name, None)
        if isinstance(key, str):
            ctx = otel_context.set_value(key, True, ctx)
    return ctx


class PromptClient:
    """The registry client ``load_prompt`` uses (one per process); make another for another
    Promptline, or in tests (``clock``)."""

    def __init__(self, endpoint: str | None = None, api_key: str | None = None, *, clock: Clock | None = None) -> None:
        self.connection = RegistryConnection(
            endpoint=trim_slash(endpoint or os.environ.get("PROMPTLINE_URL") or DEFAULT_ENDPOINT),
            api_key=api_key if api_key is not None else os.environ.get("PROMPTLINE_API_KEY"),
        )
        self.clock: Clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, _CacheEntry] = OrderedDict()
        self._in_flight: dict[str, Future[Mapping[str, Any]]] = {}
        # The last good answer per URI, whatever the key: what a new key gets during an outage.
        self._last_good: dict[str, _CacheEntry] = {}

    def load(
        self,
        ref: str | None = None,
        *,
        name: str | None = None,
        version: int | None = None,
        alias: str | None = None,
        key: str | None = None,
        variables: TemplateVariables | None = None,
        ttl: float | None = None,
        fallback: str | Mapping[str, list[ChatMessage]] | None = None,
        endpoint: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
    ) -> Prompt:
        uri = prompt_uri(ref, name=name, version=version, alias=alias)
        ttl_s = DEFAULT_TTL if ttl is None else ttl
        with self._lock:
            shared = self._cache.get(uri)
            per_key = None if key is None else self._cache.get(f"{uri}\0{key}")
        cached = per_key or (shared if shared is not None and shared.answer.get("assignment") is None else None)
        if cached is not None and self.clock() < cached.refresh_at:
            return Prompt.from_answer(cached.answer, "cache", variables)
        try:
            answer = self._resolve_once(uri, key, endpoint, api_key, DEFAULT_TIMEOUT if timeout is None else timeout)
            cache_key = f"{uri}\0{key or ''}" if answer.get("assignment") else uri
            self._remember(uri, cache_key, answer, self.clock() + ttl_s)
            return Prompt.from_answer(answer, "registry", variables)
        except _Outage as err:
            with self._lock:
                stale = cached or self._last_good.get(uri)
                if stale is not None:
                    stale.refresh_at = self.clock() + min(ttl_s, OUTAGE_RETRY)
            if stale is not None:
                warn(f"registry unreachable ({err}); serving the last good {uri}, version {stale.answer['version']['version']}")
                return Prompt.from_answer(stale.answer, "stale", variables)
            if fallback is not None:
                warn(f"registry unreachable ({err}) and {uri} was never loaded; serving the fallback template")
                return _fallback_prompt(uri, fallback, variables)
            raise PromptUnavailableError(f"prompt {uri} could not be loaded: {err}") from err

    def _resolve_once(self, uri: str, key: str | None, endpoint: str | None, api_key: str | None, timeout: float) -> Mapping[str, Any]:
        """One request per prompt and key at a time, however many callers ask at once."""
        flight_key = f"{uri}\0{key or ''}"
        with self._lock:
            fut = self._in_flight.get(flight_key)
            owner = fut is None
            if fut is None:
                fut = Future()
                self._in_flight[flight_key] = fut
        if not owner:
            return fut.result()
        try:
            answer = self._fetch(uri, key, endpoint, api_key, timeout)
            fut.set_result(answer)
            return answer
        except BaseException as err:
            fut.set_exception(err)
            raise
        finally:
            with self._lock:
                self._in_flight.pop(flight_key, None)

    def _fetch(self, uri: str, key: str | None, endpoint: str | None, api_key: str | None, timeout: float) -> Mapping[str, Any]:
        base = trim_slash(endpoint or self.connection.endpoint)
        token = api_key if api_key is not None else self.connection.api_key
        query: dict[str, str] = {"uri": uri}
        if key is not None:
            query["key"] = key
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        req = urllib.request.Request(f"{base}/v1/prompts/resolve?{urllib.parse.urlencode(query)}", headers=headers)
        status: int
        text: str
        ctx_token = otel_context.attach(_suppressed_context())
        try:
            try:
                with urllib.request.urlopen(req, timeout=timeout) as res:  # noqa: S310 - the configured Promptline URL
                    status = res.status
                    text = res.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as err:
                status = err.code
                try:
                    text = err.read().decode("utf-8", "replace")
                except Exception:
                    text = ""
            except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, HTTPException, OSError) as err:
                reason = getattr(err, "reason", err)
                raise _Outage(f"{type(err).__name__}: {reason}") from err
        finally:
            otel_context.detach(ctx_token)
        if status >= 500 or status == 429:
            raise _Outage(f"the registry answered {status}")
        if not 200 <= status < 300:
            message = text
            try:
                parsed = json.loads(text)
                if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict) and isinstance(parsed["error"].get("message"), str):
                    message = parsed["error"]["message"]
            except ValueError:
                pass  # not JSON: keep the text
            raise PromptRegistryError(f"the registry refused {uri}: {status} {message}".strip(), status)
        try:
            answer: dict[str, Any] = json.loads(text)
            v = answer.get("version") if isinstance(answer, dict) else None
            if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not isinstance(v.get("version"), int) or not v.get("template"):
                raise ValueError("no version in the answer")
            return answer
        except ValueError as err:
            raise _Outage(f"the registry's answer could not be read ({err})") from err

    def _remember(self, uri: str, key: str, answer: Mapping[str, Any], refresh_at: float) -> None:
        entry = _CacheEntry(answer, refresh_at)
        with self._lock:
            self._cache.pop(key, None)
            self._cache[key] = entry
            self._last_good[uri] = entry
            # Insertion order makes the first key the least recently stored.
            if len(self._cache) > MAX_ENTRIES:
                self._cache.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._last_good.clear()


_URI_NAME = re.compile(r"^prompts:/([^/@]+)(?:@([^/@]+))?")


def _fallback_prompt(uri: str, fallback: str | Mapping[str, list[ChatMessage]], variables: TemplateVariables | None) -> Prompt:
    template: PromptTemplate
    if isinstance(fallback, str):
        template = {"type": "text", "text": fallback}
    else:
        template = {"type": "chat", "messages": [{"role": m["role"], "content": m["content"]} for m in fallback["messages"]]}
    m = _URI_NAME.match(uri)
    name = m.group(1) if m else uri
    alias = m.group(2) if m else None
    return Prompt(name=name, version=None, alias=alias, template_hash=hash_template(template), split_id=None, template=template, source="fallback", defaults=variables)
