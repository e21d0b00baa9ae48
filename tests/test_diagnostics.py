"""Diagnostics as the user reads them: a user's control characters escaped, long values cut."""

from __future__ import annotations

import textwrap

from kubeproxy_sim.errors import Diagnostic, printable, shortened
from kubeproxy_sim.objects import load_text


def test_every_part_of_a_diagnostic_is_escaped_on_one_line():
    text = str(Diagnostic("bad \"x\ny\"", file="f\tile.yaml", kind="Pod", object="ns/a\x1b[31m\u202e" + "z" * 300,
                          field="metadata.labels.a\rb"))
    assert "\n" not in text and "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert text == ("f\\tile.yaml: Pod ns/a\\x1b[31m\\u202e" + "z" * 190 + "... (310 characters): "
                    "metadata.labels.a\\rb: bad \"x\\ny\"")


def test_printable_and_shortened_leave_ordinary_text_alone():
    assert printable("default/web: é ü 日本 \\n") == "default/web: é ü 日本 \\n"
    assert shortened("a" * 200) == "a" * 200
    assert shortened("a" * 201) == "a" * 200 + "... (201 characters)"


def test_control_characters_in_a_name_are_escaped_and_long_values_cut():
    result = load_text(textwrap.dedent("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: "a\\nb\\e[31mred\\u202e"}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {clusterIP: 10.0.0.1, ports: [{port: "%s"}]}
    """ % ("9" * 5000)), "t.yaml")
    lines = [str(d) for d in result.diagnostics]
    assert lines[0] == ("t.yaml: Deployment default/a\\nb\\x1b[31mred\\u202e: note: skipped: kube-proxy does not read "
                        "this kind")
    assert lines[1] == (f't.yaml: Service default/web: spec.ports[0].port: expected an integer, got a string '
                        f'"{"9" * 200}"... (5,000 characters)')
