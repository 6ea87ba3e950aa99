"""load_prompt against a real `promptline serve`: the URI forms, the cache and its TTL (a settable
clock, no sleeping), stale-on-outage, refusals, and split assignment equal to the TS package's."""

from __future__ import annotations

import logging
import threading
from typing import Any, Mapping

import pytest

import promptline
from promptline import PromptClient, PromptRegistryError, PromptUnavailableError, SplitArm, assign_arm, load_prompt

from conftest import FakeClock, Server, run_node, unique


@pytest.fixture
def two_versions(server: Server) -> dict[str, Any]:
    name = unique("py-load")
    v1 = server.register_version(name, "Hello {{name}}, v1", "first")
    v2 = server.register_version(name, {"messages": [{"role": "system", "content": "You are {{tone}}."}, {"role": "user", "content": "Hi {{name}}"}]}, "chat")
    server.set_alias(name, "production", version=1)
    return {"name": name, "v1": v1, "v2": v2}


def test_uri_forms_alias_and_version(server: Server, two_versions: dict[str, Any]) -> None:
    name = two_versions["name"]
    client = PromptClient(server.url)
    by_alias = client.load(f"prompts:/{name}@production")
    assert (by_alias.name, by_alias.version, by_alias.alias, by_alias.source) == (name, 1, "production", "registry")
    assert by_alias.template_hash == two_versions["v1"]["templateHash"]
    assert by_alias.template_hash == promptline.hash_template(by_alias.template)
    assert by_alias.variables == ("name",)
    assert by_alias.format(name="Ada") == "Hello Ada, v1"
    assert by_alias.lineage == promptline.PromptLineage(name=name, version=1, alias="production", template_hash=two_versions["v1"]["templateHash"])

    by_version = client.load(f"prompts:/{name}/2", variables={"tone": "terse"})
    assert (by_version.version, by_version.alias, by_version.split_id) == (2, None, None)
    assert by_version.template_hash == two_versions["v2"]["templateHash"] == promptline.hash_template(by_version.template)
    assert by_version.messages(name="Bob") == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi Bob"}]
    with pytest.raises(promptline.MissingVariablesError, match='"name"'):
        by_version.format()

    assert client.load(name, version=2).version == 2
    assert client.load(name=name, alias="production").version == 1
    assert client.load(f"  prompts:/{name}@latest ").version == 2
    # The module-level function, pointed at the server by register()'s endpoint or its own argument.
    assert load_prompt(f"prompts:/{name}/1", endpoint=server.url, client=PromptClient(server.url)).version == 1


def test_cache_holds_for_the_ttl_then_follows_the_alias(server: Server, two_versions: dict[str, Any], clock: FakeClock) -> None:
    name = two_versions["name"]
    client = PromptClient(server.url, clock=clock)
    uri = f"prompts:/{name}@production"
    assert client.load(uri, ttl=60).version == 1
    server.set_alias(name, "production", version=2)
    cached = client.load(uri, ttl=60)
    assert (cached.version, cached.source) == (1, "cache")
    clock.advance(59.9)
    assert (client.load(uri, ttl=60).version, client.load(uri, ttl=60).source) == (1, "cache")
    clock.advance(0.2)
    fresh = client.load(uri, ttl=60)
    assert (fresh.version, fresh.source) == (2, "registry")
    # A fresh client sees the move at once: the cache is per client, in memory.
    assert PromptClient(server.url).load(uri).version == 2


def test_refusals_are_errors_not_outages(server: Server, two_versions: dict[str, Any]) -> None:
    name = two_versions["name"]
    client = PromptClient(server.url)
    client.load(f"prompts:/{name}@production")
    with pytest.raises(PromptRegistryError) as unknown:
        client.load(f"prompts:/{name}/99")
    assert unknown.value.status == 404
    with pytest.raises(PromptRegistryError) as bad:
        client.load("prompts:/not a uri")
    assert bad.value.status == 400
    with pytest.raises(PromptRegistryError) as no_alias:
        client.load(f"prompts:/{name}@nope", fallback="never served for a refusal")
    assert no_alias.value.status == 404
    server.set_alias(name, "ab", split=[{"version": 1, "weight": 50}, {"version": 2, "weight": 50}])
    with pytest.raises(PromptRegistryError, match="give a key") as no_key:
        client.load(f"prompts:/{name}@ab")
    assert no_key.value.status == 400


def test_one_request_for_many_callers() -> None:
    """Callers that ask at once for the same prompt and key share one request."""
    release = threading.Event()
    calls: list[str] = []

    class Slow(PromptClient):
        def _fetch(self, uri: str, key: str | None, *args: Any) -> Mapping[str, Any]:
            calls.append(uri)
            release.wait(10)
            return {"uri": uri, "alias": None, "assignment": None, "version": {"name": "p", "version": 1, "template": {"type": "text", "text": "x"}, "templateHash": "h", "variables": []}}

    client = Slow("http://127.0.0.1:9")
    results: list[int | None] = []
    threads = [threading.Thread(target=lambda: results.append(client.load("prompts:/p/1").version)) for _ in range(8)]
    for t in threads:
        t.start()
    # Release the one request only once the seven other callers wait on it (a condition of the
    # shared future: CPython's threading.Condition keeps its waiters in _waiters).
    deadline = threading.Event()
    for _ in range(10_000):
        flight = next(iter(client._in_flight.values()), None)
        if flight is not None and len(flight._condition._waiters) == 7:  # type: ignore[attr-defined]
            break
        deadline.wait(0.001)
    else:
        raise AssertionError("the other callers never waited on the request in flight")
    release.set()
    for t in threads:
        t.join()
    assert results == [1] * 8
    assert len(calls) == 1


def test_stale_on_outage(own_server: Server, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    server = own_server
    name = unique("py-stale")
    server.register_version(name, "v1 {{q}}")
    server.register_version(name, "v2 {{q}}")
    server.set_alias(name, "production", version=1)
    server.set_alias(name, "ab", split=[{"version": 1, "weight": 50}, {"version": 2, "weight": 50}])
    client = PromptClient(server.url, clock=clock)
    prod = f"prompts:/{name}@production"
    ab = f"prompts:/{name}@ab"
    assert client.load(prod, ttl=10).version == 1
    seen = client.load(ab, key="user-1", ttl=10)
    assert seen.split_id is not None

    assert server.stop() is not None
    clock.advance(11)
    with caplog.at_level(logging.WARNING, logger="promptline"):
        stale = client.load(prod, ttl=10, timeout=2)
    assert (stale.version, stale.source, stale.alias) == (1, "stale", "production")
    assert stale.format(q="?") == "v1 ?"
    warnings = [r for r in caplog.records if r.name == "promptline" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "registry unreachable" in warnings[0].getMessage() and prod in warnings[0].getMessage()

    # The registry is asked again after at most 5 s (not the whole TTL); until then the stale copy is cached.
    assert client.load(prod, ttl=10).source == "cache"
    clock.advance(5.1)
    assert client.load(prod, ttl=10, timeout=2).source == "stale"

    # The same key keeps its arm; a key never seen gets the last arm seen of the split.
    same = client.load(ab, key="user-1", ttl=10, timeout=2)
    assert (same.version, same.split_id, same.source) == (seen.version, seen.split_id, "stale")
    new_key = client.load(ab, key="user-never-seen", ttl=10, timeout=2)
    assert (new_key.version, new_key.source) == (seen.version, "stale")

    # Nothing cached: the fallback (no version), else PromptUnavailableError.
    fb = client.load(f"prompts:/{name}-other@production", fallback="Fallback {{q}}", timeout=2)
    assert (fb.name, fb.version, fb.alias, fb.source) == (f"{name}-other", None, "production", "fallback")
    assert fb.template_hash == promptline.hash_template({"type": "text", "text": "Fallback {{q}}"})
    assert fb.lineage.version is None
    with pytest.raises(PromptUnavailableError):
        client.load(f"prompts:/{name}/2", timeout=2)


def test_split_assignment_matches_the_ts_client(server: Server) -> None:
    """For the same split alias and keys, this package's load_prompt, the TS package's loadPrompt and
    the registry's rule computed locally (promptline.assign_arm) give the same versions."""
    name = unique("py-split")
    for i in range(3):
        server.register_version(name, f"variant {i + 1}")
    arms = [{"version": 1, "weight": 20}, {"version": 2, "weight": 30}, {"version": 3, "weight": 50}]
    server.set_alias(name, "experiment", split=arms)
    uri = f"prompts:/{name}@experiment"
    keys = [f"user-{i}" for i in range(24)] + ["", "ünïcødé", "session:9f8e"]
    keys = [k for k in keys if k]  # the registry refuses an empty key
    client = PromptClient(server.url)
    py = {k: client.load(uri, key=k) for k in keys}

    script = """
import { PromptClient } from '{ROOT}/instrumentation/src/registry-client.ts';
const [endpoint, uri, keys] = [process.argv[2], process.argv[3], JSON.parse(process.argv[4])];
const c = new PromptClient({ endpoint });
const out = {};
for (const k of keys) { const p = await c.load(uri, { key: k }); out[k] = { version: p.version, splitId: p.splitId, hash: p.templateHash }; }
console.log(JSON.stringify(out));
"""
    import json

    ts = run_node(script, server.url, uri, json.dumps(keys))
    split_id = py[keys[0]].split_id
    assert split_id
    for k in keys:
        assert py[k].version == ts[k]["version"], k
        assert py[k].split_id == ts[k]["splitId"] == split_id
        assert py[k].template_hash == ts[k]["hash"]
        assert py[k].version == assign_arm(split_id, [SplitArm(a["version"], a["weight"]) for a in arms], k).version
    assert {p.version for p in py.values()} == {1, 2, 3}
    # Cached per key: each key keeps its own arm from the cache.
    again = {k: client.load(uri, key=k) for k in keys}
    assert all(again[k].source == "cache" and again[k].version == py[k].version for k in keys)
