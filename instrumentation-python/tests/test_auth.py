"""With authentication on, as in production: the key given to register() (or PROMPTLINE_API_KEY)
goes with the spans and with the registry calls, and a key with role `app` is enough for both."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from opentelemetry import trace

import promptline
from promptline import PromptClient, PromptRegistryError, lineage

from conftest import Server, eventually, unique


def test_an_app_key_sends_spans_and_loads_prompts(auth_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    server = auth_server
    status, created = server.request("POST", "/v1/keys", {"role": "app", "name": "py-sdk test"})
    assert status == 201, created
    app_key = created["key"]
    name = unique("py-auth")
    v = server.register_version(name, "Hello {{who}}")
    server.set_alias(name, "production", version=v["version"])

    with pytest.raises(PromptRegistryError) as refused:
        PromptClient(server.url, api_key="").load(f"prompts:/{name}@production")
    assert refused.value.status == 401
    monkeypatch.setenv("PROMPTLINE_API_KEY", app_key)
    prompt = PromptClient(server.url).load(f"prompts:/{name}@production")  # the key from the environment
    assert prompt.version == v["version"]

    handle = promptline.register(endpoint=server.url, api_key=app_key, service_name="py-auth-app", set_global=False, instrument=())
    response_id = f"chatcmpl-{unique('auth')}"
    try:
        tracer = handle.tracer_provider.get_tracer("test")
        with lineage(prompt=prompt, model="gpt-4o"):
            with tracer.start_as_current_span("chat gpt-4o", kind=trace.SpanKind.CLIENT, attributes={"gen_ai.response.id": response_id}):
                pass
        assert handle.force_flush()
    finally:
        handle.shutdown()

    def provenance() -> Any:
        req = urllib.request.Request(f"{server.url}/v1/provenance?response_id={response_id}", headers={"authorization": f"Bearer {server.admin_key}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return json.loads(res.read())
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    prov = eventually(provenance, f"provenance of {response_id}")
    assert (prov["prompt"]["name"], prov["prompt"]["version"], prov["prompt"]["registered"]) == (name, v["version"], True)
    assert prov["app"]["name"] == "py-auth-app"
