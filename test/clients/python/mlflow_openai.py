"""(c) MLflow 3: a prompt from MLflow's prompt registry (register_prompt / load_prompt on a local
file store), mlflow.openai.autolog(), and MLflow's own OTLP export.

With OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set, MLflow sends its spans to that endpoint instead of the
tracking store (MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT=true would send them to both); the protocol is
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else grpc
(mlflow/tracing/utils/otlp.py). load_prompt inside a traced function links the prompt version to
that span as mlflow.linkedPrompts.
"""

import os
import tempfile

from _common import MODEL, PROMPT_NAME, PROMPT_VERSION, TEMPLATE, VARIABLES, report

import mlflow

store = tempfile.mkdtemp(prefix="mlflow-store-")
mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or f"file://{store}/mlruns")
mlflow.set_experiment("support-bot")

# Versions are numbered by the registry: register until the one the test asked for exists.
for n in range(1, PROMPT_VERSION + 1):
    mlflow.genai.register_prompt(name=PROMPT_NAME, template=TEMPLATE + ("" if n == PROMPT_VERSION else f" (draft {n})"), commit_message=f"v{n}")

mlflow.openai.autolog()

import openai  # noqa: E402

client = openai.OpenAI()


@mlflow.trace(name="answer-question", span_type="CHAIN")
def answer(question: str) -> str:
    prompt = mlflow.genai.load_prompt(f"prompts:/{PROMPT_NAME}/{PROMPT_VERSION}")
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": prompt.format(**VARIABLES)}, {"role": "user", "content": question}],
    )
    return r


r = answer(VARIABLES["question"])
# MLflow's tracer provider is its own (not the global one): flush its OTLP processor before exit.
from mlflow.tracing.provider import provider as _mlflow_provider  # noqa: E402

_mlflow_provider.get().force_flush()
report([r.id], model=r.model)
