"""(a) OpenTelemetry SDK + opentelemetry-instrumentation-openai-v2, the prompt on the app's own span.

The instrumentor makes the `chat <model>` CLIENT spans (gen_ai.*); the app wraps its calls in a
span of its own that names the prompt with Promptline's attributes, which the model spans inherit.
"""

from _common import MODEL, PROMPT_NAME, PROMPT_VERSION, SERVICE_NAME, TEMPLATE, VARIABLES, render, report, span_exporter
from opentelemetry import trace
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME, "service.version": "1.4.0"}))
provider.add_span_processor(BatchSpanProcessor(span_exporter()))
trace.set_tracer_provider(provider)
OpenAIInstrumentor().instrument(tracer_provider=provider)

import openai  # noqa: E402  (after instrument(), as the instrumentation's docs show)

client = openai.OpenAI()
tracer = trace.get_tracer("support-bot")
ids = []
with tracer.start_as_current_span(
    "answer-question",
    attributes={"promptline.prompt.name": PROMPT_NAME, "promptline.prompt.version": PROMPT_VERSION},
):
    messages = [{"role": "system", "content": render(TEMPLATE, VARIABLES)}, {"role": "user", "content": VARIABLES["question"]}]
    first = client.chat.completions.create(model=MODEL, messages=messages)
    ids.append(first.id)
    # The same call streamed: the instrumentation reads the id and model from the chunks.
    stream = client.chat.completions.create(model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True})
    streamed_id = None
    for chunk in stream:
        streamed_id = streamed_id or chunk.id
    ids.append(streamed_id)

provider.shutdown()
report(ids, model=first.model)
