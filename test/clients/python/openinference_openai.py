"""(b) OpenInference's OpenAI instrumentor, the template and version from using_prompt_template and
the prompt's name as `prompt.id` on the app's parent span."""

from _common import MODEL, PROMPT_NAME, PROMPT_VERSION, SERVICE_NAME, TEMPLATE, VARIABLES, render, report, span_exporter
from openinference.instrumentation import using_prompt_template
from openinference.instrumentation.openai import OpenAIInstrumentor
from openinference.semconv.trace import OpenInferenceSpanKindValues, SpanAttributes
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME, "service.version": "2.0.1"}))
provider.add_span_processor(BatchSpanProcessor(span_exporter()))
trace.set_tracer_provider(provider)
OpenAIInstrumentor().instrument(tracer_provider=provider)

import openai  # noqa: E402

client = openai.OpenAI()
tracer = trace.get_tracer("support-bot")
with tracer.start_as_current_span(
    "answer-question",
    attributes={SpanAttributes.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.CHAIN.value, SpanAttributes.PROMPT_ID: PROMPT_NAME},
):
    with using_prompt_template(template=TEMPLATE, variables=VARIABLES, version=str(PROMPT_VERSION)):
        r = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": render(TEMPLATE, VARIABLES)}, {"role": "user", "content": VARIABLES["question"]}],
        )

provider.shutdown()
report([r.id], model=r.model)
