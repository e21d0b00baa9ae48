"""How a YAML manifest with a key given twice (or a key kubectl makes no JSON key of) is read: its findings named
in one recording reading after the first, failed one, and what go-yaml and sigs.k8s.io/yaml make of its keys."""

from __future__ import annotations

from typing import Any

import pytest

from kubeproxy_sim.objects import load
from kubeproxy_sim.objects.load import load_text

SERVICE = """apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: ns}}
spec:
  clusterIP: {ip}
  ports:
  - port: 80
"""


def _read_lengths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of each text the loader parses as YAML (plainly or recording), in order."""
    lengths: list[int] = []
    for name in ("_load_yaml", "_read_recorded"):
        original = getattr(load, name)

        def spy(text: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            lengths.append(len(text))
            return _original(text, *args, **kwargs)

        monkeypatch.setattr(load, name, spy)
    return lengths


@pytest.mark.parametrize("twice_in", [0, 1, 2])
def test_a_key_given_twice_costs_one_more_reading_of_the_text_not_two(monkeypatch: pytest.MonkeyPatch,
                                                                      twice_in: int) -> None:
    """Loading every document again, then reading the one that raised a third time, made a large List with one key
    given twice 3-5 times slower to load; the recording reading names it as fast as the plain one reads."""
    documents = [SERVICE.format(name=f"s{i}", ip=f"10.0.0.{i + 1}") for i in range(3)]
    documents[twice_in] = documents[twice_in].replace("  - port: 80\n", "  - port: 80\n    port: 90\n")
    text = "---\n".join(documents)
    lengths = _read_lengths(monkeypatch)
    result = load_text(text, "m.yaml")
    assert [d.message.split(";")[0] for d in result.diagnostics] == ['mapping key "port" already defined at line '
                                                                     f"{7 + 8 * twice_in}"]
    assert sorted(s.name for s in result.cluster.services) == ["s0", "s1", "s2"]
    assert lengths == [len(text), len(text)]


def test_a_syntax_error_beside_a_key_given_twice_costs_its_document_only(monkeypatch: pytest.MonkeyPatch) -> None:
    documents = [SERVICE.format(name=f"s{i}", ip=f"10.0.0.{i + 1}") for i in range(3)]
    documents[0] = documents[0].replace("  - port: 80\n", "  - port: 80\n    port: 90\n")
    documents[2] = documents[2].replace("kind: Service", "kind: [Service")
    lengths = _read_lengths(monkeypatch)
    result = load_text("---\n".join(documents), "m.yaml")
    assert [(d.line, d.severity.name) for d in result.diagnostics] == [(8, "WARNING"), (20, "ERROR")]
    assert sorted(s.name for s in result.cluster.services) == ["s0", "s1"]
    assert len(lengths) == 2 + 3  # the whole text plainly, then recording (up to the error), then each document


def _warnings(text: str) -> list[tuple[int | None, str | None, str]]:
    return [(d.line, d.field, d.message.split(" are two keys")[0]) for d in load_text(text, "m.yaml").diagnostics
            if d.field != "kind"]  # (not an object: kind not set)


@pytest.mark.parametrize(("body", "expected"), [
    ('  "1": b\n  <<: {1: a}\n', [(3, "c.1", 'mapping key 1 and "1" at line 2')]),
    ('  <<: [{1: a}, {"1": b}]\n', [(2, "c.1", 'mapping key 1 and "1" at line 2')]),
    ("  1e0: c1\n  <<: {0x1: v}\n  1: c3\n", [(3, "c.1", "mapping key 0x1 and 1e0 at line 2")]),
    ('  <<: {1: a, "1": b}\n', [(2, "c.1", 'mapping key "1" and 1 at line 2')]),
])
def test_keys_making_one_json_key_are_named_when_one_comes_from_a_merge(body: str,
                                                                         expected: list[tuple[int, str, str]]) -> None:
    """go-yaml sets a merged mapping's keys as it sets the mapping's own (decode.go, merge), so a merged 1 and an own
    "1" are two Go keys that become one JSON key as two own ones do (which value kubectl keeps: unspecified); a key
    that go-yaml sets again (0x1, then 1) is one key to it, named once."""
    assert _warnings("c:\n" + body) == expected


def test_a_collision_in_a_merged_anchor_is_named_once_where_it_is() -> None:
    assert _warnings('a: &a {1: a, "1": b}\nc:\n  <<: *a\n') == [(1, "a.1", 'mapping key "1" and 1 at line 1')]


def test_minus_zero_and_zero_are_one_key_named_by_the_later() -> None:
    """-0.0 == 0.0 in a Go map, and assigning to a float key stores the key anew (the runtime's needkeyupdate), so
    kubectl's JSON has the later key's name with the later value (r3's oracle: {"c":{"0":"b"},"d":{"-0":"b"}})."""
    text = "c:\n  -0.0: a\n  0.0: b\nd:\n  0.0: a\n  -0.0: b\n"
    [document] = [d for _, _, d in load.text_documents(text, "m.yaml") if type(d) is dict]
    assert document == {"c": {"0": "b"}, "d": {"-0": "b"}}
    assert [(d.line, d.field) for d in load_text(text, "m.yaml").diagnostics if d.field != "kind"] == [
        (3, "c.0"), (6, "d.-0")]


@pytest.mark.parametrize(("text", "expected"), [
    (".inf: a\n.Inf: b\n", 'mapping key ".inf" already defined at line 1; kubectl\'s YAML reading keeps the last'),
    ('.inf: a\n"+.inf": b\n+.inf: c\n', 'mapping key ".inf" already defined at line 1; kubectl\'s YAML reading keeps '
                                        "the last"),
    (".nan: a\n.nan: b\n", 'mapping key .nan and .nan at line 1 are two keys to go-yaml but one JSON key, ".nan"; '
                           "which value kubectl keeps is unspecified"),
    (".nan: a\n.NaN: b\n", 'mapping key .NaN and .nan at line 1 are two keys to go-yaml but one JSON key, ".nan"; '
                           "which value kubectl keeps is unspecified"),
])
def test_infinities_are_one_go_key_and_nans_never_one(text: str, expected: str) -> None:
    """A Go map compares float keys by ==: .inf, .Inf and +.inf are one key, whose last value is kept (certain);
    NaN equals nothing, so two .nan are two keys, both the JSON key ".nan" (which value kubectl sends: unspecified;
    r3's oracle gave a for one and b for the other)."""
    [message] = [d.message for d in load_text(text, "m.yaml").diagnostics if d.field != "kind"]
    assert message.startswith(expected)


def test_a_null_key_given_twice_refuses_the_object_once_and_is_no_duplicate() -> None:
    """go-yaml keeps one nil key (the last value); sigs.k8s.io/yaml's conversion then fails on it, once: the object
    is refused with one error, and no warning names a field "~" that kubectl's JSON never has."""
    text = SERVICE.format(name="s", ip="10.0.0.1") + "  selector:\n    ~: a\n    ~: b\n    null: c\n"
    result = load_text(text, "m.yaml")
    assert [(d.line, d.field, d.severity.name) for d in result.diagnostics] == [(9, "spec.selector", "ERROR")]
    assert result.diagnostics[0].message.startswith("mapping key ~ is null")
    assert not result.cluster.services


def test_a_key_tagged_merge_is_a_merge_key_only_when_written_as_the_merge_key() -> None:
    """go-yaml v2's isMerge needs the text ``<<`` as well as the tag: ``!!merge foo`` is the string key foo
    (r3's oracle: {"a":{"x":1},"c":{"foo":{"x":1}}}), ``!!merge <<`` a merge key."""
    text = "a: &a {x: 1}\nc:\n  !!merge foo: *a\nd:\n  !!merge <<: *a\n"
    [document] = [d for _, _, d in load.text_documents(text, "m.yaml") if type(d) is dict]
    assert document == {"a": {"x": 1}, "c": {"foo": {"x": 1}}, "d": {"x": 1}}
