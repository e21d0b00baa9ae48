"""Mapping keys of the YAML files that are no manifests (--config, --kubeconfig, scenario.yaml, a flows file) are the
JSON keys sigs.k8s.io/yaml makes of them, as a manifest's are: kube-proxy's --config codec and client-go's kubeconfig
codec convert YAML to JSON with it (YAMLToJSON, convertToJSONableObject), so ``y:`` is the field "true", ``1:``
"1", ``1e10:`` "1e+10", and a null key fails the file.

The expected values are the oracle's: a Go 1.19 program of Debian's golang-gopkg-yaml.v2-dev 2.4.0 doing what
YAMLToJSONStrict does (yaml.UnmarshalStrict into an interface{}, then convertToJSONableObject's key conversion,
then encoding/json), run on the texts below."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.cli.config_file import read_config_file
from kubeproxy_sim.objects.load import KeyCollision, safe_load, text_documents, yaml_syntax_error

KEYS = ("y: 1\nNo: 2\n1: 3\n-0x1F: 4\n0o17: 5\n1.5: 6\n0.1: 7\n1e10: 8\n1e-5: 9\n3.14159265358979: 10\n"
        "123456789.0: 11\n.inf: 12\n-.Inf: 13\n1_000: 14\n9223372036854775807: 15\n-9223372036854775808: 16\n"
        "1:30: 17\n2001-12-14: 18\nnest: {Y: {1e6: 19}}\nl: [{on: 20}]\n")
GO_JSON = ('{"-.inf":13,"-31":4,"-9223372036854775808":16,".inf":12,"0.1":7,"1":3,"1.2345679e+08":11,"1.5":6,'
           '"1000":14,"15":5,"1:30":17,"1e+10":8,"1e-05":9,"2001-12-14":18,"3.1415927":10,"9223372036854775807":15,'
           '"false":2,"l":[{"true":20}],"nest":{"true":{"1e+06":19}},"true":1}')
"""The oracle's output for KEYS (a float key written as strconv.FormatFloat(k, 'g', -1, 32): 3.1415927)."""

HEAD = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"


def test_a_config_file_has_the_json_keys_go_makes() -> None:
    data, duplicates = safe_load(KEYS)
    assert data == json.loads(GO_JSON) and duplicates == []
    assert all(type(key) is str for key in data)


def test_a_config_file_and_a_manifest_read_keys_alike() -> None:
    [(_, _, manifest)] = text_documents(KEYS, "m.yaml")
    assert safe_load(KEYS)[0] == manifest


_SCALAR_KEYS = st.sampled_from(["y", "N", "on", "Off", "true", "1", "01", "0x1F", "0o17", "1.0", "1e3", ".5", "-.inf",
                                ".NaN", "1:30", "2001-12-14", "'y'", '"1"', "a", "18446744073709551616", "1_0", "+1"])


@given(keys=st.lists(_SCALAR_KEYS, min_size=1, max_size=5, unique=True))
def test_any_scalar_keys_are_read_alike_in_a_config_file_and_a_manifest(keys: list[str]) -> None:
    """The one rule for every YAML file: whatever keys a mapping has, the config reader's keys and values are the
    manifest reader's (a key given twice, or two made one JSON key, kept the last alike)."""
    text = "".join(f"{key}: {i}\n" for i, key in enumerate(keys))
    *_, (_, _, manifest) = text_documents(text, "m.yaml")  # (after the warnings of keys given twice, if any)
    assert safe_load(text)[0] == manifest


def test_a_key_given_twice_in_other_spellings_is_named_by_its_json_key() -> None:
    """``y``, ``true`` and ``Y`` are one go-yaml key, the boolean true (the oracle's UnmarshalStrict: 'key true
    already set in map'); the duplicate is named as the JSON key "true", not Python's True."""
    data, duplicates = safe_load("y: 1\ntrue: 2\nY: 3\n")
    assert data == {"true": 3}
    assert [(mark.line, key, first.line) for mark, key, first in duplicates] == [(1, "true", 0), (2, "true", 0)]


@pytest.mark.parametrize("text", ['1: a\n"1": b\n', '<<: {1: a}\n"1": b\n'])
def test_two_keys_made_one_json_key_are_noted(text: str) -> None:
    """``1`` and ``"1"`` are two go-yaml keys (UnmarshalStrict takes them) but one JSON key, whose value follows Go's
    map order (the oracle printed either); the last is used, and the pair noted, merged or not."""
    collisions: list[KeyCollision] = []
    data, duplicates = safe_load(text, collisions=collisions)
    assert data == {"1": "b"} and duplicates == []
    [found] = collisions
    assert (found.name, found.written, found.mark.line, found.first_written, found.first_mark.line) == \
        ("1", '"1"', 1, "1", 0)


@pytest.mark.parametrize(("text", "field", "said"), [
    ("~: a\n", None, "mapping key ~ at column 1 is null"),
    ("a: {b: [{18446744073709551615: x}]}\n", "a.b[0]",
     "mapping key 18446744073709551615 at column 10 is an integer go-yaml holds as a uint64 (past int64)"),
    ("a: {? : 1}\n", "a", "an empty mapping key at column 6 is null"),
])
def test_a_key_with_no_json_key_fails_the_file_at_its_mapping(text: str, field: str | None, said: str) -> None:
    """The oracle: 'unsupported map key of type: <nil>' (uint64 likewise), for the whole file; here a YAML error
    naming the line, the mapping's field path and the key as written, where it is (its column, after it, not at the
    end of the sentence), and no 'syntax error': it parses."""
    with pytest.raises(yaml.YAMLError) as raised:
        safe_load(text)
    found = yaml_syntax_error(raised.value, "f.yaml")
    assert (found.line, found.field) == (1, field)
    assert found.message == (f"{said}, which sigs.k8s.io/yaml (kube-proxy's and client-go's YAML reading) makes no "
                             'JSON key of ("unsupported map key")')


def test_our_own_files_say_they_are_read_as_kubectl_reads_yaml() -> None:
    """A scenario.yaml or a flows file (read ``single``) is read by no Kubernetes program: not said to be kube-proxy's
    or client-go's reading, but the reading kubectl gives YAML, which they are given here."""
    with pytest.raises(yaml.YAMLError) as raised:
        safe_load("description: x\nargs: []\n~: 3\n", single=True)
    assert str(yaml_syntax_error(raised.value, "s/scenario.yaml")) == (
        "s/scenario.yaml:3: mapping key ~ at column 1 is null, which sigs.k8s.io/yaml (kubectl's YAML reading, as this "
        'file is read) makes no JSON key of ("unsupported map key")')


def test_a_bad_binary_value_in_a_config_file_names_its_field() -> None:
    with pytest.raises(yaml.YAMLError) as raised:
        safe_load("a: {b: [x, !!binary a@]}\n")
    found = yaml_syntax_error(raised.value, "f.yaml")
    assert str(found) == ("f.yaml:1: a.b[1]: !!binary value at column 12 contains invalid base64 data (illegal "
                          "base64 data at input byte 1)")


def _said(body: str) -> list[str]:
    return [str(d) for d in read_config_file("kp.yaml", HEAD + body)[1]]


def test_kube_proxy_config_y_key_is_the_unknown_field_true() -> None:
    """kube-proxy's strict decoding sees the JSON field "true", not a boolean key."""
    assert _said("y: 1\n") == ["kp.yaml: true: warning: unknown field of KubeProxyConfiguration; kube-proxy's strict "
                               "decoding refuses it"]


def test_kube_proxy_config_keys_made_one_json_key_are_warned_of() -> None:
    assert _said('featureGates:\n  1: true\n  "1": false\n')[0] == (
        "kp.yaml:5: warning: mapping key \"1\" and 1 at line 4 are two keys to go-yaml but one JSON key, \"1\"; which "
        "value kube-proxy keeps is unspecified (Go's map order), the last is used here")


def test_kube_proxy_config_null_key_refuses_the_file_at_its_field() -> None:
    assert _said("featureGates: {null: true}\n") == [
        "kp.yaml:3: featureGates: mapping key null at column 16 is null, which sigs.k8s.io/yaml (kube-proxy's and "
        "client-go's YAML reading) makes no JSON key of (\"unsupported map key\"); kube-proxy's decoding refuses the "
        "file"]
