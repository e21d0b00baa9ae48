"""YAML tags on values PyYAML cannot read: refused at the value's line, never a crash, in manifests and in the
config files alike (one table of constructors, objects.load.scalar_constructors)."""

from __future__ import annotations

import contextlib

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.cli.options import config_from_args
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.load import safe_load
from kubeproxy_sim.objects.model import Cluster

_TAGS = ["int", "float", "bool", "null", "timestamp", "binary", "set", "omap", "pairs", "str", "seq", "map",
         "value", "merge"]
_SERVICE = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {{a: {value}}}\n"
            "spec: {{ports: [{{port: 80}}]}}\n")
_CONFIG = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_values = st.one_of(
    st.sampled_from(["x", "maybe", "''", "1:x", "2024-13-45", "2024-01-01", "1_", ".", "=", "<<", "~", "{a: 1}",
                     "[1]", "[{a: 1}, 2]", "[[1]]", "{x}", "AAA=", "@@"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12).map(_quoted))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(_TAGS), _values)
def test_any_tag_on_any_value_is_read_or_refused_as_yaml_never_a_crash(tag: str, value: str) -> None:
    """(``!!float x`` raised ValueError and ``!!bool maybe`` KeyError out of both loaders: exit 4 from rules,
    watch, replay, --config and --kubeconfig.)"""
    tagged = f"!!{tag} {value}"
    result = load_text(_SERVICE.format(value=tagged), "t.yaml")  # raises nothing
    assert all(d.line == 5 or d.object == "default/web" for d in result.errors)
    with contextlib.suppress(yaml.YAMLError):  # (and nothing else)
        safe_load(f"a: {tagged}\n")


@pytest.mark.parametrize(("value", "problem"), [
    ("!!float x", "'x' is not a number (tagged !!float)"),
    ("!!bool maybe", "'maybe' is not a boolean (tagged !!bool; true/false, yes/no or on/off)"),
    ("!!int ''", "'' is not an integer (tagged !!int)"),
])
def test_a_tagged_value_of_no_such_type_is_a_syntax_error_at_its_line(messages, value: str, problem: str) -> None:
    assert messages(load_text(_SERVICE.format(value=value), "t.yaml")) == [
        f"t.yaml:5: syntax error: {problem} at column 15; this document is skipped"]


def test_a_bare_equals_sign_is_a_string_as_in_go_yaml(load) -> None:
    """(PyYAML resolves ``=`` to YAML 1.1's value tag and had no constructor for it: 'could not determine a
    constructor'.)"""
    result = load(_SERVICE.format(value="="))
    assert result.errors == () and result.cluster.services[0].labels == (("a", "="),)
    assert safe_load("a: =\n")[0] == {"a": "="}


def _config_problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "kp.yaml"
    path.write_text(_CONFIG + text)
    with pytest.raises(InputError) as info:
        config_from_args(["--config", str(path)], Cluster())
    return [str(d).replace(str(path), "kp.yaml") for d in info.value.diagnostics]


def test_a_config_with_an_int_tag_on_no_integer_is_a_syntax_error(tmp_path) -> None:
    assert _config_problems(tmp_path, "iptables: {masqueradeBit: !!int z}\n") == [
        "kp.yaml:3: syntax error: 'z' is not an integer (tagged !!int) at column 27"]


def test_a_config_keeps_a_timestamp_and_binary_as_text_as_go_yaml_does(tmp_path) -> None:
    """(The config reader was PyYAML's plain safe loader: ``hostnameOverride: 2024-01-01`` was refused as 'got
    date', ``!!binary`` showed as b'...'.)"""
    path = tmp_path / "kp.yaml"
    path.write_text(_CONFIG + "hostnameOverride: 2024-01-01\n")
    assert config_from_args(["--config", str(path)], Cluster()).node_name == "2024-01-01"
    assert safe_load("a: !!binary bm9kZS0x\nb: 2001-12-14t21:59:43.10-05:00\n")[0] == {
        "a": "node-1", "b": "2001-12-14t21:59:43.10-05:00"}
