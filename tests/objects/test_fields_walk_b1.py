"""The unknown-field check (objects.fields) warns of exactly what a naive walk of the schema finds, in its order.

check_fields and check_endpoint first ask a flat, path-less question (is every key known, at every checked
level?) and build paths only for an object that has an unknown key. The reference here is the plain definition:
visit each mapping, warn of each key its schema lacks at ``path + key``, and go into each checked child that is
a mapping or a list of mappings. Random objects hold known and unknown keys at random depths, null and scalar
values where mappings are expected, and lists mixing mappings and other values.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.fields import ENDPOINT, SCHEMAS, Schema, check_endpoint, check_fields
from kubeproxy_sim.objects.report import Report
from tests.budget import budget

UNKNOWN_KEYS = st.sampled_from(["sessionAfinity", "targetport", "lables", "condition", "redy", "nme", "zz", "Name"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["", "x"]))
OPAQUE = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=2),
                                                        st.dictionaries(UNKNOWN_KEYS, inner, max_size=2)),
                      max_leaves=4)


def reference(raw: dict[str, Any], schema: Schema, path: str) -> list[str]:
    """The paths of the unknown fields under ``raw``, by the definition (the order of the keys as held)."""
    found = [f"{path}{key}" for key in raw if key not in schema.known]
    for key, child in schema.children.items():
        value = raw.get(key)
        if isinstance(value, dict):
            found += reference(value, child, f"{path}{key}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    found += reference(item, child, f"{path}{key}[{i}].")
    return found


@st.composite
def mapping(draw: st.DrawFn, schema: Schema, depth: int = 0) -> dict[str, Any]:
    """A mapping for ``schema``: some of its known keys (checked children filled in, or not a mapping at all),
    and sometimes unknown keys, mixed in one random order."""
    keys = draw(st.lists(st.sampled_from(sorted(schema.known)), max_size=5, unique=True))
    if schema.children:  # (the checked children are few among the known keys: drawn more often)
        keys += draw(st.lists(st.sampled_from(sorted(set(schema.children) - set(keys)) or [""]), max_size=2,
                              unique=True))
        keys = [key for key in keys if key]
    keys += draw(st.lists(UNKNOWN_KEYS.filter(lambda k: k not in schema.known), max_size=2, unique=True))
    keys = draw(st.permutations(keys))
    out: dict[str, Any] = {}
    for key in keys:
        child = schema.children.get(key)
        if child is None or depth > 4:
            out[key] = draw(OPAQUE)
            continue
        shape = draw(st.sampled_from(["mapping", "list", "other"]))
        if shape == "mapping":
            out[key] = draw(mapping(child, depth + 1))
        elif shape == "list":
            out[key] = draw(st.lists(st.one_of(mapping(child, depth + 1), SCALARS), max_size=3))
        else:
            out[key] = draw(OPAQUE)
    return out


def warned(report: Report) -> list[str]:
    assert all(d.message.startswith("unknown field, ignored") for d in report.diagnostics)
    return [d.field for d in report.diagnostics]


@settings(max_examples=budget(300), deadline=None)
@given(st.data())
def test_check_fields_warns_of_what_the_reference_walk_finds(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(sorted(SCHEMAS)))
    doc = data.draw(mapping(SCHEMAS[kind]))
    report = Report("t.json", kind, "ns/name")
    check_fields(report, doc, SCHEMAS[kind])
    assert warned(report) == reference(doc, SCHEMAS[kind], "")


@settings(max_examples=budget(200), deadline=None)
@given(mapping(ENDPOINT), st.integers(0, 12))
def test_check_endpoint_warns_of_what_the_reference_walk_finds(raw: dict[str, Any], index: int) -> None:
    report = Report("t.json", "EndpointSlice", "ns/name")
    check_endpoint(report, raw, index)
    assert warned(report) == reference(raw, ENDPOINT, f"endpoints[{index}].")


ENDPOINT_UNKNOWNS = st.sampled_from([
    ("redy", ("conditions",)), ("nme", ("targetRef",)), ("condition", ()), ("zz", ("hints",)),
    ("zz", ("hints", "forZones", 0)),
])


@settings(max_examples=budget(100), deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), ENDPOINT_UNKNOWNS), max_size=3))
def test_a_slice_loaded_names_each_unknown_endpoint_field(placed: list[tuple[int, tuple[str, tuple[Any, ...]]]]
                                                            ) -> None:
    """Through the decoder: an endpoint the fast path would take, with an unknown key put at some depth, is
    warned of at that key's path (the fast path must hand it to the checked one)."""
    endpoints: list[dict[str, Any]] = [
        {"addresses": [f"10.1.0.{i + 1}"], "conditions": {"ready": True}, "nodeName": "n",
         "targetRef": {"kind": "Pod", "name": f"p{i}"}} for i in range(4)]
    expected = set()
    for index, (key, where) in placed:
        target: Any = endpoints[index]
        for step in where:
            if isinstance(step, int):
                target = target[step]
                continue
            if step not in target:
                target[step] = {"forZones": [{"name": "a"}]} if step == "hints" else {}
            target = target[step]
        target[key] = True
        expected.add(f"endpoints[{index}]." + "".join(f"[{s}]." if isinstance(s, int) else f"{s}." for s in where)
                     .replace(".[", "[") + key)
    doc = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "s", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
           "addressType": "IPv4", "endpoints": endpoints, "ports": [{"port": 80}]}
    result = load_text(json.dumps(doc), "t.json")
    found = [d.field for d in result.diagnostics if d.message.startswith("unknown field")]
    assert sorted(found) == sorted(expected)
    assert len(found) == len(set(found))
