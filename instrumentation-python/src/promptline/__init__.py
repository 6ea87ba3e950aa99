"""Promptline's Python instrumentation: the twin of ``@promptline/instrumentation``.

Stamps the prompt version, alias, datasets, model and app version that produced an LLM response onto
its OpenTelemetry spans, loads prompts from Promptline's registry, and sends the spans to Promptline.
"""

from . import semconv
from .attributes import lineage_attributes
from .context import context_with_lineage, current_lineage, lineage, with_lineage
from .load_prompt import aload_prompt, default_prompt_client, load_prompt
from .processor import PromptlineSpanProcessor
from .prompt import Prompt
from .register import PromptlineHandle, register
from .registry_client import PromptClient, PromptRegistryError, PromptUnavailableError, hash_template, prompt_uri
from .render import MissingVariablesError
from .split import SplitArm, assign_arm, bucket_of
from .types import App, ChatMessage, Lineage, Model, PromptLineage, PromptTemplate, TemplateVariables

__all__ = [
    "App",
    "ChatMessage",
    "Lineage",
    "MissingVariablesError",
    "Model",
    "Prompt",
    "PromptClient",
    "PromptLineage",
    "PromptRegistryError",
    "PromptTemplate",
    "PromptUnavailableError",
    "PromptlineHandle",
    "PromptlineSpanProcessor",
    "SplitArm",
    "TemplateVariables",
    "aload_prompt",
    "assign_arm",
    "bucket_of",
    "context_with_lineage",
    "current_lineage",
    "default_prompt_client",
    "hash_template",
    "lineage",
    "lineage_attributes",
    "load_prompt",
    "prompt_uri",
    "register",
    "semconv",
    "with_lineage",
]
__version__ = "0.1.0"
