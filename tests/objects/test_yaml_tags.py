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
from kubeproxy_sim.objects import load, load_text
from kubeproxy_sim.objects.load import safe_load
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.objects.report import WrittenNumber

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
    ("!!bool maybe", "'maybe' is not a boolean (tagged !!bool; true/false, yes/no, on/off or y/n)"),
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


def test_a_merge_key_that_is_a_value_is_the_string_it_is_in_go_yaml(load) -> None:
    """(Both readers said 'could not determine a constructor for the tag ...merge'.) go-yaml v2.4.0 (the r3
    oracle): ``a: <<`` is {"a": "<<"}, ``[<<]`` is ["<<"]."""
    result = load(_SERVICE.format(value="<<"))
    assert result.errors == () and result.cluster.services[0].labels == (("a", "<<"),)
    assert safe_load("a: <<\nb: [<<]\n")[0] == {"a": "<<", "b": ["<<"]}


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


_GO_TABLE = ("a: [y, Y, n, N, 0o17, 0O17, 0B101, 0X1F, -_1, 0_x1F, 0b-101, 1:30, 1e3, 080, .5_0, 9223372036854775808, "
             "+9223372036854775808, 18446744073709551616, 0x1_0000_0000_0000_0000, 1e400, 0x_, yEs]\n"
             "k: {y: 1, N: 2, 0o17: 3, 0X1F: 4}\nt: [!!int 0B101, !!bool y, !!float 0o17]\n")
_GO_JSON = {"a": [True, True, False, False, 15, 15, 5, 31, -1, 31, -5, "1:30", 1000.0, 80.0, 0.5, 9223372036854775808,
                  9.223372036854776e18, 1.8446744073709552e19, "0x1_0000_0000_0000_0000", "1e400", "0x_", "yEs"],
            "k": {"15": 3, "31": 4, "false": 2, "true": 1}, "t": [5, True, 15.0]}
"""What kubectl reads _GO_TABLE as: go-yaml v2.4.0's Unmarshal, then sigs.k8s.io/yaml's JSON (its output, run
here; 9223372036854776000 and 18446744073709552000 there are float64s written shortest), each value of the type
go-yaml v2.4.0 gives it (Debian's golang-gopkg-yaml.v2-dev 2.4.0, printing %T: float64(1000) for 1e3, float64(80)
for 080, float64(15) for !!float 0o17, uint64 for 9223372036854775808, int for the others). resolve.go: y/n are
booleans, an integer is strconv.ParseInt's with base 0 once underscores are dropped, there are no base-60 numbers,
an integer past int64 is a uint64 when unsigned, else a float, and a hexadecimal one past uint64 the text."""


def test_plain_scalars_read_as_go_yaml_v2_reads_them_in_manifests_and_config_files() -> None:
    [(_, _, manifest)] = load.text_documents(_GO_TABLE, "m.yaml")
    config, _ = safe_load(_GO_TABLE)
    assert _typed(_plain(manifest)) == _typed(_GO_JSON)  # (a whole float past 2**53 kept as written, for a message)
    assert _typed(config) == _typed(_GO_JSON)  # (keys made JSON's too, as by kube-proxy's codec)


def _typed(value: object) -> object:
    """A value with each scalar paired with its type, so that == tells 1000 from 1000.0 and True from 1."""
    if isinstance(value, dict):
        return {_typed(k): _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return type(value).__name__, value


def _plain(value: object) -> object:
    if isinstance(value, WrittenNumber):
        return float(value.text)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize(("tagged", "problem"), [
    ("!!int 18446744073709551616", "'18446744073709551616' is not an integer (tagged !!int)"),  # (past uint64)
    ("!!int 1:30", "'1:30' is not an integer (tagged !!int)"),  # (YAML 1.1's 90; go-yaml's string)
    ("!!float 1e400", "'1e400' is not a number (tagged !!float)"),
    ("!!bool yEs", "'yEs' is not a boolean (tagged !!bool; true/false, yes/no, on/off or y/n)")])
def test_a_tagged_scalar_go_yaml_refuses_is_refused(tagged: str, problem: str) -> None:
    """go-yaml: "cannot decode !!float `18446744073709551616` as a !!int" (and so on), the whole document."""
    [(_, _, found)] = load.text_documents(f"a: {tagged}\n", "m.yaml")
    assert str(found) == f"m.yaml:1: syntax error: {problem} at column 4; this document is skipped"


def test_a_bare_n_where_a_name_is_expected_refuses_the_object_and_says_to_quote_it() -> None:
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  clusterIP: 10.0.0.1\n  ports:\n" \
           "  - {name: n, port: 80}\n  - {name: y, port: 81}\n"
    result = load_text(text, "m.yaml")
    assert result.cluster.services == ()
    assert {str(d) for d in result.diagnostics} >= {
        "m.yaml: Service default/web: spec.ports[0].name: expected a string, got a boolean false (unquoted, n, no, "
        "off and false are booleans in YAML, false in JSON: quote a string)",
        "m.yaml: Service default/web: spec.ports[1].name: expected a string, got a boolean true (unquoted, y, yes, "
        "on and true are booleans in YAML, true in JSON: quote a string)"}
    assert [p.name for p in load_text(text.replace("name: n,", "name: 'n',").replace("name: y,", "name: 'y',"),
                                      "m.yaml").cluster.services[0].ports] == ["n", "y"]


def test_the_quoting_hint_is_true_of_a_json_file_too() -> None:
    """(It said only "YAML reads a bare n, no, off or false as a boolean: quote it" for a JSON file's false.)"""
    text = '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": false}, "spec": {"ports": [{"port": 80}]}}'
    assert [str(d) for d in load_text(text, "m.json").errors] == [
        "m.json: Service default/(unnamed): metadata.name: expected a string, got a boolean false (unquoted, n, no, "
        "off and false are booleans in YAML, false in JSON: quote a string)"]


def test_a_bare_n_in_a_config_or_an_endpoint_slice_string_field_says_to_quote_it(tmp_path) -> None:
    """(--config's hostnameOverride: n said only "expected a node name, got a boolean false", and an
    EndpointSlice's endpoint nodeName: n "expected a string, got a boolean false".)"""
    assert _config_problems(tmp_path, "hostnameOverride: n\n") == [
        "kp.yaml: hostnameOverride: expected a node name, got a boolean false (unquoted, n, no, off and false are "
        "booleans in YAML, false in JSON: quote a string)"]
    text = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: "
            "{kubernetes.io/service-name: web}}\naddressType: IPv4\n"
            "endpoints: [{addresses: [10.1.0.1], nodeName: y}]\n")
    assert [d.message for d in load_text(text, "m.yaml").errors] == [
        "expected a string, got a boolean true (unquoted, y, yes, on and true are booleans in YAML, true in JSON: "
        "quote a string)"]


def test_a_config_files_merge_key_applies_where_it_stands_as_go_yaml_applies_it() -> None:
    """go-yaml v2 (the oracle: {"c":{"x":1,"z":2}}): the merged x overrides the x before the merge key, the z after
    it overrides the merged one; PyYAML's own keys always win (x 0)."""
    assert safe_load("b: &b {x: 1, z: 1}\nc: {x: 0, <<: *b, z: 2}\n")[0]["c"] == {"x": 1, "z": 2}


@pytest.mark.parametrize(("tagged", "problem"), [
    ("!!null y", "'y' is not null (tagged !!null; ~, null or nothing)"),  # go: cannot decode !!bool `y` as a !!null
    ("!!null x", "'x' is not null (tagged !!null; ~, null or nothing)"),
    ("!!timestamp y", "'y' is not a timestamp (tagged !!timestamp; 2001-12-14, 2001-12-14T21:59:43.1Z or "
                      "2001-12-14 21:59:43.1)"),
    ("!!timestamp 2001-02-29", "'2001-02-29' is not a timestamp (tagged !!timestamp; 2001-12-14, "
                               "2001-12-14T21:59:43.1Z or 2001-12-14 21:59:43.1)"),
    ("!!timestamp 2001-12-14T1:2:3", "'2001-12-14T1:2:3' is not a timestamp (tagged !!timestamp; 2001-12-14, "
                                     "2001-12-14T21:59:43.1Z or 2001-12-14 21:59:43.1)")])
def test_a_null_or_timestamp_tag_on_what_go_yaml_reads_otherwise_is_refused_by_both_readers(tagged: str,
                                                                                           problem: str) -> None:
    """(Both were taken: ``!!null y`` as null, ``!!timestamp y`` as "y".) go-yaml v2.4.0 (the r3 oracle) refuses
    each: "cannot decode !!bool `y` as a !!null", "cannot decode !!str `2001-02-29` as a !!timestamp"."""
    [(_, _, found)] = load.text_documents(f"a: {tagged}\n", "m.yaml")
    assert str(found) == f"m.yaml:1: syntax error: {problem} at column 4; this document is skipped"
    with pytest.raises(yaml.YAMLError, match="tagged !!"):
        safe_load(f"a: {tagged}\n")


def test_what_go_yaml_takes_as_null_or_a_timestamp_is_read_as_it_reads_it() -> None:
    """go-yaml v2.4.0 (the r3 oracle): the nulls as null, a timestamp Go's time.Parse reads as its text."""
    text = ("a: [!!null ~, !!null '', !!null NULL, !!timestamp 2001-1-2, "
            "!!timestamp 2001-12-14t21:59:43.123456789Z, !!timestamp 2001-12-14 1:2:3, !!timestamp '2004-02-29', "
            "2001-02-30]\n")
    expected = {"a": [None, None, None, "2001-1-2", "2001-12-14t21:59:43.123456789Z", "2001-12-14 1:2:3",
                      "2004-02-29", "2001-02-30"]}
    [(_, _, manifest)] = load.text_documents(text, "m.yaml")
    assert manifest == safe_load(text)[0] == expected


@pytest.mark.parametrize("text", ["x: &x [{a: 1}]\nb:\n  <<: *x\n", "x: {<<: &y [{a: 1}]}\nb: {<<: *y}\n"])
def test_a_list_merged_through_an_alias_is_refused_at_the_merge_key(text: str) -> None:
    """go-yaml v2.4.0 (the r3 oracle): "map merge requires map or sequence of maps as the value" (its merge takes
    an alias of a mapping only); both readers merged the list. Written in place, the list merges."""
    line = text.count("\n", 0, text.rindex("<<")) + 1
    [(_, _, found)] = load.text_documents(text, "m.yaml")
    assert str(found).startswith(f"m.yaml:{line}: syntax error: expected a mapping or list of mappings for merging, "
                                 "but found an alias of a list (go-yaml merges a list only written in place)")
    with pytest.raises(yaml.YAMLError, match="an alias of a list"):
        safe_load(text)
    assert safe_load("b:\n  <<: &x [{a: 1}]\n")[0] == {"b": {"a": 1}}


def test_a_scalar_tagged_with_a_bare_exclamation_mark_is_its_text_in_both_readers() -> None:
    """go-yaml v2.4.0 (the r3 oracle) keeps a ``!``-tagged scalar the string it is written as (resolve leaves a
    tag it does not know alone), a key too; libyaml hands it to the resolver as a plain scalar, so both readers
    read ``! y`` as true and ``! 0o17`` as 15."""
    text = "a: [! y, ! 0o17, ! yes, ! ~, ! .inf, &x ! 5, *x, !!bool y, y]\nb: !\n! n: 1\n"
    expected = {"a": ["y", "0o17", "yes", "~", ".inf", "5", "5", True, True], "b": "", "n": 1}
    [(_, _, manifest)] = load.text_documents(text, "m.yaml")
    assert _typed(manifest) == _typed(safe_load(text)[0]) == _typed(expected)


def test_a_config_file_is_its_first_document_as_go_yaml_unmarshal_reads_it(tmp_path) -> None:
    """sigs.k8s.io/yaml's Unmarshal (kube-proxy's --config codec, clientcmd's kubeconfig) is go-yaml v2's, which
    reads the first document and none of the rest, however broken (the r3 oracle: {"a":1} for a: 1, ---, [);
    safe_load refused the file ("expected a single document"). Our own files (single=True) still refuse it."""
    assert safe_load("a: 1\n---\nb: [\n")[0] == {"a": 1}
    assert safe_load("---\n---\na: 1\n")[0] is None
    path = tmp_path / "kp.yaml"
    path.write_text(_CONFIG + "hostnameOverride: node-1\n---\nhostnameOverride: [\n")
    assert config_from_args(["--config", str(path)], Cluster()).node_name == "node-1"
    with pytest.raises(yaml.YAMLError, match="expected a single document"):
        safe_load("a: 1\n---\nb: 2\n", single=True)
