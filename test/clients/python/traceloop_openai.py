"""(e) Traceloop SDK (OpenLLMetry): Traceloop.init exporting to Promptline, a prompt from
Traceloop's prompt registry rendered with get_prompt (traceloop.prompt.key / version / hash on the
spans), and the OpenAI call instrumented by the SDK's bundled instrumentation.

Traceloop's exporter goes to TRACELOOP_BASE_URL / api_endpoint: http(s)://… is OTLP/HTTP protobuf to
{endpoint}/v1/traces (a URL already ending in /v1/traces is used as it is), grpc://host:port is
OTLP/gRPC. The registry is filled by Traceloop's Fetcher from {Traceloop API}/v1/traceloop/prompts,
which only runs against Traceloop's own service; here it is loaded with the same JSON the Fetcher
would get, so no Traceloop service is needed.
"""

import datetime
import os
from urllib.parse import urlparse

from _common import MODEL, PROMPT_NAME, PROMPT_VERSION, SERVICE_NAME, TEMPLATE, VARIABLES, protocol, report

from traceloop.sdk import Traceloop
from traceloop.sdk.decorators import workflow
from traceloop.sdk.prompts import get_prompt
from traceloop.sdk.prompts.client import PromptRegistryClient

endpoint = os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
api_endpoint = f"grpc://{urlparse(endpoint).netloc}" if protocol() == "grpc" else endpoint
Traceloop.init(
    app_name=SERVICE_NAME,
    api_endpoint=api_endpoint,
    disable_batch=True,
    telemetry_enabled=False,
    resource_attributes={"service.version": "5.0.2"},
)

now = datetime.datetime.now(datetime.timezone.utc).isoformat()
version_id = f"ver-{PROMPT_NAME}-{PROMPT_VERSION}"
PromptRegistryClient()._registry.load(
    {
        "prompts": [
            {
                "id": f"prm-{PROMPT_NAME}",
                "key": PROMPT_NAME,
                "created_at": now,
                "updated_at": now,
                "target": {"id": "tgt-1", "updated_at": now, "prompt_id": f"prm-{PROMPT_NAME}", "version": version_id},
                "versions": [
                    {
                        "id": version_id,
                        "hash": "3f1a9c0d2b7e",
                        "version": PROMPT_VERSION,
                        "name": "friendly-tone",
                        "created_at": now,
                        "provider": "openai",
                        "templating_engine": "jinja2",
                        "messages": [
                            {"index": 0, "role": "system", "template": TEMPLATE.replace("{{product}}", "{{ product }}").replace("{{question}}", "{{ question }}"), "variables": ["product", "question"]},
                            {"index": 1, "role": "user", "template": "{{ question }}", "variables": ["question"]},
                        ],
                        "llm_config": {"mode": "chat", "model": MODEL, "temperature": 0.2, "top_p": 1, "stop": [], "frequency_penalty": 0, "presence_penalty": 0},
                    }
                ],
            }
        ]
    }
)

import openai  # noqa: E402

client = openai.OpenAI()


@workflow(name="answer-question")
def answer():
    params = get_prompt(key=PROMPT_NAME, version=PROMPT_VERSION, variables=VARIABLES)
    return client.chat.completions.create(**params)


r = answer()
Traceloop.flush() if hasattr(Traceloop, "flush") else None
report([r.id], model=r.model)
