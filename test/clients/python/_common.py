"""Shared plumbing of the client cases: what the test hands over in the environment, and the answer.

Each case is a small app that configures its library as the library's docs say, points its OTLP
export at OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (protocol from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
http/protobuf unless told), calls the OpenAI-compatible fake at OPENAI_BASE_URL, flushes, and
prints one JSON line on stdout: the response ids it got and what it linked them to.
"""

import json
import os
import sys

PROMPT_NAME = os.environ["PL_PROMPT_NAME"]
PROMPT_VERSION = int(os.environ.get("PL_PROMPT_VERSION", "1"))
MODEL = os.environ.get("PL_MODEL", "gpt-4o-mini")
SERVICE_NAME = os.environ.get("OTEL_SERVICE_NAME", "python-client")
TEMPLATE = "You are a support agent for {{product}}. Answer the customer's question: {{question}}"
VARIABLES = {"product": "Promptline", "question": "How do I roll back a prompt version?"}


def protocol() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))


def span_exporter():
    """The standard OTLP span exporter for the protocol asked for; it reads its endpoint from the env."""
    if protocol() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def render(template: str, variables: dict) -> str:
    out = template
    for k, v in variables.items():
        out = out.replace("{{" + k + "}}", v)
    return out


def report(response_ids, **extra) -> None:
    """The one line the test reads (the last line of stdout)."""
    sys.stdout.write(json.dumps({"response_ids": list(response_ids), **extra}) + "\n")
    sys.stdout.flush()
