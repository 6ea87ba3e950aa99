"""The span attributes that carry a lineage, in the names the collector reads first (attributes.ts)."""

from __future__ import annotations

from functools import lru_cache

from opentelemetry.util.types import AttributeValue

from . import semconv as sc
from .types import Lineage


def lineage_attributes(lineage: Lineage) -> dict[str, AttributeValue]:
    a: dict[str, AttributeValue] = {}
    p = lineage.prompt
    if p is not None:
        a[sc.ATTR_GEN_AI_PROMPT_NAME] = p.name
        if p.version is not None:
            a[sc.ATTR_GEN_AI_PROMPT_VERSION] = p.version
        if p.alias:
            a[sc.ATTR_PROMPTLINE_PROMPT_ALIAS] = p.alias
        if p.template_hash:
            a[sc.ATTR_PROMPTLINE_PROMPT_HASH] = p.template_hash
        if p.split_id:
            a[sc.ATTR_PROMPTLINE_PROMPT_SPLIT_ID] = p.split_id
    if lineage.model is not None:
        a[sc.ATTR_GEN_AI_REQUEST_MODEL] = lineage.model.name
        if lineage.model.provider:
            a[sc.ATTR_GEN_AI_PROVIDER_NAME] = lineage.model.provider
    if lineage.datasets:
        a[sc.ATTR_PROMPTLINE_DATASET_IDS] = list(lineage.datasets)
    if lineage.app is not None:
        a[sc.ATTR_GEN_AI_AGENT_NAME] = lineage.app.name
        if lineage.app.version:
            a[sc.ATTR_GEN_AI_AGENT_VERSION] = lineage.app.version
    if lineage.conversation_id:
        a[sc.ATTR_GEN_AI_CONVERSATION_ID] = lineage.conversation_id
    return a


@lru_cache(maxsize=1024)
def cached_lineage_attributes(lineage: Lineage) -> tuple[tuple[str, AttributeValue], ...]:
    """Computed once per lineage: lineages are frozen and shared by many spans."""
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in lineage_attributes(lineage).items())
