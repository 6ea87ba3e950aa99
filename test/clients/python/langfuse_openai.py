"""(d) Langfuse Python SDK v3 (OpenTelemetry-based): a prompt from Langfuse's prompt API, linked to
the generation by Langfuse's OpenAI drop-in (`langfuse_prompt=`), and the spans sent to Promptline.

Langfuse exports its spans itself, to {LANGFUSE_BASE_URL}/api/public/otel/v1/traces (or
LANGFUSE_OTEL_TRACES_EXPORT_PATH under the base URL); the base URL also serves the prompt API, so it
stays the Langfuse server (here a loopback fake of the prompt API, which drops the spans). Promptline
gets them from a standard OTLP exporter added to the TracerProvider handed to Langfuse
(`tracer_provider=`), which Langfuse adds its own processor to.
"""

from _common import MODEL, PROMPT_NAME, PROMPT_VERSION, SERVICE_NAME, VARIABLES, report, span_exporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from langfuse import Langfuse

provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME, "service.version": "3.1.0"}))
provider.add_span_processor(BatchSpanProcessor(span_exporter()))
# Keys and base URL from LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_BASE_URL.
langfuse = Langfuse(tracer_provider=provider, release="3.1.0")

from langfuse.openai import openai  # noqa: E402  (Langfuse's drop-in for the OpenAI SDK)

prompt = langfuse.get_prompt(PROMPT_NAME, version=PROMPT_VERSION)
client = openai.OpenAI()
with langfuse.start_as_current_span(name="answer-question"):
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": prompt.compile(**VARIABLES)}, {"role": "user", "content": VARIABLES["question"]}],
        langfuse_prompt=prompt,
    )

langfuse.flush()
provider.shutdown()
report([r.id], model=r.model, prompt={"name": prompt.name, "version": prompt.version})
