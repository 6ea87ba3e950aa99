"""Rendering, template hashes and split assignment computed by the TS code (run with node) and by
this package agree, case by case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptline import MissingVariablesError, SplitArm, assign_arm, bucket_of, hash_template
from promptline.render import render_template, template_variables, variable_map

from conftest import run_node

SPLIT_CASES: list[tuple[str, list[str]]] = [
    ("production-3-1a2b3c4d", ["user-1", "user-2", "user-42", "", "ünïcødé-ключ", "session:9f8e7d", "a" * 300]),
    ("canary-7-deadbeef", [f"k{i}" for i in range(40)]),
]
# Computed with src/registry/split.ts (node): bucketOf("production-3-1a2b3c4d", "user-42"), and the
# arm of a 50/50 split of versions 1 and 2 for keys k0..k7.
KNOWN = {"production-3-1a2b3c4d\0user-42": 0.22992153356034795}
KNOWN_ARMS = [1, 1, 1, 2, 2, 1, 2, 2]
ARMS: list[list[tuple[int, float]]] = [[(3, 90), (4, 10)], [(1, 50), (2, 50)], [(1, 33.3), (2, 33.3), (5, 33.4)]]


@pytest.fixture(scope="module")
def ts_split() -> dict[str, Any]:
    script = """
import { bucketOf, assignArm } from '{ROOT}/src/registry/split.ts';
const cases = JSON.parse(process.argv[2]);
const arms = JSON.parse(process.argv[3]);
const out = {};
for (const [id, keys] of cases) for (const key of keys) {
  out[id + '\\u0000' + key] = { bucket: bucketOf(id, key), arms: arms.map((a) => assignArm({ id, arms: a.map(([version, weight]) => ({ version, weight })) }, key).version) };
}
console.log(JSON.stringify(out));
"""
    return run_node(script, json.dumps(SPLIT_CASES), json.dumps(ARMS))  # type: ignore[no-any-return]


def test_split_assignment_matches_the_registry(ts_split: dict[str, Any]) -> None:
    """The same key gets the same arm of the same split in TS (the registry's split.ts) and in Python."""
    assert len(ts_split) == sum(len(k) for _, k in SPLIT_CASES)
    for split_id, keys in SPLIT_CASES:
        for key in keys:
            ts = ts_split[f"{split_id}\0{key}"]
            assert bucket_of(split_id, key) == ts["bucket"], (split_id, key)
            py_arms = [assign_arm(split_id, [SplitArm(v, w) for v, w in arms], key).version for arms in ARMS]
            assert py_arms == ts["arms"], (split_id, key)
    # Both arms of a 50/50 split occur among 40 keys: the cases exercise more than one branch.
    assert {ts_split[f"canary-7-deadbeef\0k{i}"]["arms"][1] for i in range(40)} == {1, 2}


def test_split_known_values() -> None:
    """Fixed values computed once with src/registry/split.ts, so a change on either side shows even without node."""
    assert bucket_of("production-3-1a2b3c4d", "user-42") == KNOWN["production-3-1a2b3c4d\0user-42"]
    assert [assign_arm("canary-7-deadbeef", [SplitArm(1, 50), SplitArm(2, 50)], f"k{i}").version for i in range(8)] == KNOWN_ARMS


TEMPLATES = [
    {"type": "text", "text": "Hello {{name}}, you are {{ age }} and {{name}} again; {{missing_not}} {{ 9bad }} {{a.b-c}}"},
    {"type": "chat", "messages": [{"role": "system", "content": "Be brief. Ünïcødé \"quotes\" \\ back\nslash \u2028 {{tone}}"}, {"role": "user", "content": "{{\tquestion\u00a0}}"}]},
    {"type": "text", "text": "{{x}}{{x}}{{ y}} {{z }} {{}} {{ _u }}"},
]
VARIABLES = {"name": "Ada", "age": 36, "missing_not": True, "a.b-c": 1.5, "tone": "dry", "question": "Where is $1 $& my order?", "x": "X", "y": 2.0, "z": False, "_u": "u"}


@pytest.fixture(scope="module")
def ts_render() -> list[dict[str, object]]:
    script = """
import { renderTemplate, templateVariables, variableMap } from '{ROOT}/instrumentation/src/render.ts';
import { hashTemplate } from '{ROOT}/instrumentation/src/registry-client.ts';
const templates = JSON.parse(process.argv[2]);
const vars = variableMap(JSON.parse(process.argv[3]));
const out = templates.map((t) => {
  let rendered, error;
  try { rendered = renderTemplate('p', t, vars); } catch (e) { error = e.message; }
  let missing;
  try { renderTemplate('p', t, new Map()); } catch (e) { missing = e.message; }
  return { hash: hashTemplate(t), variables: templateVariables(t), rendered, error, missing };
});
console.log(JSON.stringify(out));
"""
    return run_node(script, json.dumps(TEMPLATES), json.dumps(VARIABLES))  # type: ignore[no-any-return]


def test_render_and_hash_match_ts(ts_render: list[dict[str, object]]) -> None:
    """Same variables found, same rendering (values written as JavaScript writes them), same
    missing-variable message, same template hash as the TS package."""
    for t, ts in zip(TEMPLATES, ts_render, strict=True):
        assert hash_template(t) == ts["hash"]  # type: ignore[arg-type]
        assert template_variables(t) == ts["variables"]  # type: ignore[arg-type]
        assert render_template("p", t, variable_map(VARIABLES)) == ts["rendered"]  # type: ignore[arg-type]
        with pytest.raises(MissingVariablesError) as err:
            render_template("p", t, {})  # type: ignore[arg-type]
        assert str(err.value) == ts["missing"]
