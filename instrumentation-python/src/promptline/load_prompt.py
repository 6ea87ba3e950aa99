"""``load_prompt`` / ``aload_prompt`` (load-prompt.ts)."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

from .prompt import Prompt
from .registry_client import PromptClient
from .types import ChatMessage, TemplateVariables

default_prompt_client = PromptClient()
"""The client load_prompt uses: Promptline's URL and key from register(), else the environment."""


def load_prompt(
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
    client: PromptClient | None = None,
) -> Prompt:
    """Resolves a prompt through Promptline's registry: a URI (``prompts:/name/3``,
    ``prompts:/name@production``, ``prompts:/name@latest``) or a name with ``version=`` / ``alias=``.
    Cached for ``ttl`` seconds (default 60); during a registry outage the last good answer is served."""
    return (client or default_prompt_client).load(
        ref, name=name, version=version, alias=alias, key=key, variables=variables, ttl=ttl,
        fallback=fallback, endpoint=endpoint, api_key=api_key, timeout=timeout,
    )


async def aload_prompt(ref: str | None = None, **kwargs: Any) -> Prompt:
    """``load_prompt`` for asyncio code: the request runs in a worker thread."""
    return await asyncio.to_thread(load_prompt, ref, **kwargs)
