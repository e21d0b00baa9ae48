"""expose --type as written reaches the API server (kubectl's expose.go sets spec.type unchecked), whose
ValidateService refuses an unknown type with NotSupported; a near miss in case is named (u1: --type=Nodeport)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.controllers.script import ScriptError, parse_line

SUPPORTED = 'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'


@pytest.mark.parametrize(("kind", "said"), [
    ("Nodeport", '--type=Nodeport: expected ClusterIP, NodePort or LoadBalancer (did you mean NodePort? the type is '
                 'case-sensitive); the API server refuses it: spec.type: Unsupported value: "Nodeport": ' + SUPPORTED),
    ("loadbalancer", "(did you mean LoadBalancer? the type is case-sensitive)"),
    ("Fancy", '--type=Fancy: expected ClusterIP, NodePort or LoadBalancer; the API server refuses it: spec.type: '
              'Unsupported value: "Fancy": ' + SUPPORTED),
    ("ExternalName", "expose writes no spec.externalName, which an ExternalName Service needs (the API server "
                     "answers spec.externalName: Required value)"),
])
def test_an_unknown_type_is_the_api_servers_refusal(kind: str, said: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_line(3, f"expose deployment web --port=80 --type={kind}")
    assert caught.value.line == 3 and said in caught.value.message


def test_the_exact_spellings_parse() -> None:
    for kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        step = parse_line(1, f"expose deployment web --port=80 --type={kind}")
        assert step is not None and step.service_type.value == kind
