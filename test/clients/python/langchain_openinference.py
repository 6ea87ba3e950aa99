"""(f) LangChain with OpenInference's LangChain instrumentor: a ChatPromptTemplate piped into
ChatOpenAI (against the fake), the prompt's version from using_prompt_template and its name as
`prompt.id` on the app's parent span."""

from _common import MODEL, PROMPT_NAME, PROMPT_VERSION, SERVICE_NAME, VARIABLES, report, span_exporter
from openinference.instrumentation import using_prompt_template
from openinference.instrumentation.langchain import LangChainInstrumentor
from openinference.semconv.trace import OpenInferenceSpanKindValues, SpanAttributes
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME, "service.version": "6.3.0"}))
provider.add_span_processor(BatchSpanProcessor(span_exporter()))
trace.set_tracer_provider(provider)
LangChainInstrumentor().instrument(tracer_provider=provider)

from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

SYSTEM = "You are a support agent for {product}. Answer the customer's question: {question}"
prompt = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", "{question}")])
chain = prompt | ChatOpenAI(model=MODEL, temperature=0)

tracer = trace.get_tracer("support-bot")
with tracer.start_as_current_span(
    "answer-question",
    attributes={SpanAttributes.OPENINFERENCE_SPAN_KIND: OpenInferenceSpanKindValues.CHAIN.value, SpanAttributes.PROMPT_ID: PROMPT_NAME},
):
    with using_prompt_template(template=SYSTEM, variables=VARIABLES, version=str(PROMPT_VERSION)):
        message = chain.invoke(VARIABLES)

provider.shutdown()
# LangChain keeps the completion's id on the message (AIMessage.id is "run-…"; the API's id is
# in response_metadata).
report([message.response_metadata.get("id")], model=message.response_metadata.get("model_name"), message_id=message.id)
