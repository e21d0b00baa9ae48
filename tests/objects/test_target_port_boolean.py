"""A boolean targetPort is told how YAML made it one, as a boolean name is: ``targetPort: n`` reads as a port name
to its writer (one letter is a valid IANA service name) but is false to go-yaml v2, and the API server's
IntOrString refuses a boolean (UnmarshalJSON reads what is not a JSON string as an int32: Go 1.19's encoding/json
says "cannot unmarshal bool into Go struct field ... of type int32", run on false and true alike)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.objects.load import load_text

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec: {{clusterIP: 10.0.0.1, ports: [{{port: 80, " \
          "targetPort: {}}}]}}\n"


@pytest.mark.parametrize(("written", "said"), [
    ("n", "false (unquoted, n, no, off and false are booleans in YAML, false in JSON: quote a string)"),
    ("off", "false (unquoted, n, no, off and false are booleans in YAML, false in JSON: quote a string)"),
    ("Y", "true (unquoted, y, yes, on and true are booleans in YAML, true in JSON: quote a string)"),
    ("true", "true (unquoted, y, yes, on and true are booleans in YAML, true in JSON: quote a string)"),
])
def test_a_boolean_target_port_is_refused_with_the_quoting_hint(written: str, said: str) -> None:
    result = load_text(SERVICE.format(written), "t.yaml")
    assert result.cluster.services == ()
    assert [str(d) for d in result.diagnostics] == [
        f"t.yaml: Service default/s: spec.ports[0].targetPort: expected a port number or name, got a boolean {said}"]


def test_a_quoted_one_letter_name_is_a_port_name() -> None:
    result = load_text(SERVICE.format('"n"'), "t.yaml")
    assert result.ok and result.cluster.services[0].ports[0].target_port == "n"


def test_another_wrong_type_gets_no_hint() -> None:
    result = load_text(SERVICE.format("[80]"), "t.yaml")
    assert [str(d) for d in result.diagnostics] == [
        't.yaml: Service default/s: spec.ports[0].targetPort: expected a port number or name, got a list [80]']
