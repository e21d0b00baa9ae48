"""A manifest's integer fields, through ``rules -f`` as the user sees them: what kubectl sends (an integer, or a
number whose fraction is zero: 8080.0) is taken; anything else is refused at the object and field, the value
named as the file wrote it (JSON's 1e400, YAML's .nan and .inf, not Python's inf and nan)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.objects.report import quoting_hint

V = "@VALUE@"
OBJECTS: dict[str, dict] = {
    "spec.ports[0].port": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
                           "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": V}]}},
    "spec.ports[0].targetPort": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
                                 "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80, "targetPort": V}]}},
    "spec.ports[0].nodePort": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
                               "spec": {"type": "NodePort", "clusterIP": "10.0.0.1",
                                        "ports": [{"port": 80, "nodePort": V}]}},
    "spec.healthCheckNodePort": {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
                                 "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1",
                                          "externalTrafficPolicy": "Local", "healthCheckNodePort": V,
                                          "ports": [{"port": 80, "nodePort": 30081}]}},
    "spec.sessionAffinityConfig.clientIP.timeoutSeconds": {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}], "sessionAffinity": "ClientIP",
                 "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": V}}}},
    "ports[0].port": {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                      "metadata": {"name": "s-1", "namespace": "ns", "labels": {"kubernetes.io/service-name": "s"}},
                      "addressType": "IPv4", "ports": [{"port": V}], "endpoints": [{"addresses": ["10.1.0.1"]}]},
    "spec.containers[0].ports[0].containerPort": {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": V}]}]}},
}
DISPLAY = {"Service": "Service ns/s", "EndpointSlice": "EndpointSlice ns/s-1", "Pod": "Pod ns/p"}
RANGES = {"spec.sessionAffinityConfig.clientIP.timeoutSeconds": "1-86400"}


def _as_json(obj: dict, literal: str) -> str:
    return json.dumps(obj).replace(json.dumps(V), literal)


def _as_yaml(obj: dict, literal: str) -> str:
    """Flow-style YAML (JSON with the literal left bare): the YAML reader reads it, as the first character is no
    JSON value's when the text starts with a comment."""
    return "# yaml\n" + json.dumps(obj).replace(json.dumps(V), literal) + "\n"


def _field_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, text: str, suffix: str) -> list[str]:
    path = tmp_path / f"m{suffix}"
    path.write_text(text)
    main(["rules", "-f", str(path), "--hostname-override", "n1"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    kind = OBJECTS[field]["kind"]
    prefix = f"kubeproxy-sim: {path}: {DISPLAY[kind]}: {field}: "
    return [line[len(prefix):] for line in err.splitlines() if line.startswith(prefix)]


def _expected_got(field: str, got: str) -> str:
    if not field.endswith("targetPort"):
        return f"expected an integer, got {got}"
    if got.startswith("a string "):  # (an int-or-string: a string is a port name, or says why it is none)
        return (f"{got.removeprefix('a string ')} is not a port name; expected a number in 1-65535 or a name of up "
                'to 15 lower-case letters, digits and "-" with at least one letter')
    return f"expected a port number or name, got {got}{quoting_hint(True) if got == 'a boolean true' else ''}"


@pytest.mark.parametrize("field", OBJECTS)
@pytest.mark.parametrize("literal, got", [
    ("1e400", "a number 1e400"), ("-1e400", "a number -1e400"), ("8080.5", "a number 8080.5"),
    ("true", "a boolean true"),
])
def test_json_values_no_integer_field_takes_are_named_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  field: str, literal: str, got: str) -> None:
    """1e400 was 'got a number inf': Python's reader makes it inf, where kubectl's (Go's float parsing) refuses it."""
    lines = _field_lines(tmp_path, capsys, field, _as_json(OBJECTS[field], literal), ".json")
    assert lines == [_expected_got(field, got)]


@pytest.mark.parametrize("field", OBJECTS)
@pytest.mark.parametrize("literal, got", [
    (".nan", "a number .nan"), (".inf", "a number .inf"), ("-.inf", "a number -.inf"), (".NaN", "a number .NaN"),
    ("8080.5", "a number 8080.5"), ("1.0e+400", 'a string "1.0e+400"'), ("yes", "a boolean true"),
])
def test_yaml_values_no_integer_field_takes_are_named_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  field: str, literal: str, got: str) -> None:
    """.nan and .inf were 'a number nan' and 'a number inf'; 1.0e+400 (past a float) stays the string go-yaml
    keeps it, as 1e400 (no float in YAML 1.1) does."""
    lines = _field_lines(tmp_path, capsys, field, _as_yaml(OBJECTS[field], literal), ".yaml")
    assert lines == [_expected_got(field, got)]


@pytest.mark.parametrize("field", OBJECTS)
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_number_with_a_zero_fraction_is_taken_as_kubectl_sends_it(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    field: str, suffix: str) -> None:
    """apimachinery's converter takes a float equal to its truncation for an int field (and Go's JSON writes
    30080.0 as 30080): no message about the field."""
    write = _as_json if suffix == ".json" else _as_yaml
    assert _field_lines(tmp_path, capsys, field, write(OBJECTS[field], "30080.0"), suffix) == []


@pytest.mark.parametrize("field", OBJECTS)
def test_huge_numbers_are_out_of_the_field_s_range_or_past_an_exact_float(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str],
                                                                          field: str) -> None:
    """An integer of 31 digits is out of range, in the field's own words; 1e30 (a float) no longer says which
    integer it is, so it is refused as written rather than as int(1e30)'s 1000000000000000019884624838656."""
    huge = _field_lines(tmp_path, capsys, field, _as_json(OBJECTS[field], str(10 ** 30)), ".json")
    assert huge == [f"{10 ** 30} is not in {RANGES.get(field, '0-65535')}"]
    for written, write, suffix in [("1e30", _as_json, ".json"), ("12345678901234567890.0", _as_json, ".json"),
                                   ("1e30", _as_yaml, ".yaml"), ("1.0e+30", _as_yaml, ".yaml")]:
        floated = _field_lines(tmp_path, capsys, field, write(OBJECTS[field], written), suffix)
        assert floated == [_expected_got(field, f"a number {written}")  # (as written: it was Python's 1e+30)
                           + ("" if field.endswith("targetPort") else
                              ", past the integers a 64-bit float holds exactly")]


@pytest.mark.parametrize("literal, got", [(".nan", "expected an integer, got a number .nan"),
                                          ("-.inf", "expected an integer, got a number -.inf")])
def test_a_deployment_s_replicas_are_read_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str], literal: str,
                                                got: str) -> None:
    """scenario's kubectl apply reads spec.replicas with the same rule (it said 'a number nan')."""
    (tmp_path / "dep.yaml").write_text(
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: ns}}\nspec:\n  replicas: {literal}\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: c, image: nginx}]}\n")
    (tmp_path / "script").write_text(f"kubectl apply -f {tmp_path / 'dep.yaml'}\n")
    main(["scenario", str(tmp_path / "script"), "--show", "endpoints"])
    err = capsys.readouterr().err
    assert f"kubeproxy-sim: {tmp_path / 'dep.yaml'}: Deployment ns/web: spec.replicas: {got}" in err.splitlines()


@pytest.mark.parametrize("field", OBJECTS)
@pytest.mark.parametrize("literal", ["3008e1", "+3008E+1", "3_008e1", "3008.e1", "30080.0e0"])
def test_yaml_floats_go_yaml_reads_without_yaml_1_1_s_dot_and_signed_exponent_are_numbers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, literal: str) -> None:
    """go-yaml v2's resolver (resolve.go: underscores dropped, then ^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?
    [0-9]+)?$) reads 3008e1 as the float 30080, and kubectl sends 30080; YAML 1.1's float needs a dot and a signed
    exponent, so PyYAML kept a string ('got a string "3008e1"')."""
    assert _field_lines(tmp_path, capsys, field, _as_yaml(OBJECTS[field], literal), ".yaml") == []


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_are_no_json_and_skip_their_document(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   constant: str) -> None:
    """Python's JSON reader takes NaN and Infinity; Go's refuses them as a syntax error of the document (it was
    'spec.ports[0].port: expected an integer, got a number NaN'). Named by the document's line and skipped alone,
    as any other JSON syntax error; the next document is read."""
    bad = _as_json(OBJECTS["spec.ports[0].port"], constant)
    good = json.dumps({**OBJECTS["spec.ports[0].port"], "metadata": {"name": "t", "namespace": "ns"},
                       "spec": {"clusterIP": "10.0.0.2", "ports": [{"port": 80}]}})
    path = tmp_path / "m.json"
    path.write_text(good + "\n" + bad + "\n")
    main(["rules", "-f", str(path), "--hostname-override", "n1"])
    out, err = capsys.readouterr()
    column = bad.index(constant) + 1
    assert [line for line in err.splitlines() if str(path) in line] == [
        f"kubeproxy-sim: {path}:2: syntax error: invalid value {constant} (JSON has no NaN or Infinity; kubectl's "
        f"reader refuses it) at line 2 column {column}; this document is skipped"]
    assert '"ns/t has no endpoints"' in out and "ns/s" not in out
