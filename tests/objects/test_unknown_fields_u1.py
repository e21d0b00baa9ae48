"""What a new user meets reading objects (reviewer u1): a misspelled field is named, not ignored in silence; a
refused object gets no follow-on warnings; a YAML tab is named."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.errors import Severity
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.fields import SCHEMAS
from kubeproxy_sim.objects.model import SessionAffinity

TYPO_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  sessionAfinity: ClientIP
  selector: {app: web}
  ports:
  - port: 80
    targetport: 8080
"""

UNKNOWN = "warning: unknown field, ignored (kubectl apply refuses it: strict decoding)"


def test_misspelled_service_fields_are_named_at_their_paths(load, messages):
    result = load(TYPO_SERVICE)
    (service,) = result.cluster.services  # used, as kube-proxy would get it: with the defaults
    assert service.session_affinity is SessionAffinity.NONE
    assert service.ports[0].target_port == 80
    assert messages(result) == [
        f"t.yaml: Service shop/web: spec.sessionAfinity: {UNKNOWN}; did you mean sessionAffinity?",
        f"t.yaml: Service shop/web: spec.ports[0].targetport: {UNKNOWN}; did you mean targetPort?",
    ]


@pytest.mark.parametrize(("text", "field"), [
    ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: "
     "{kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints:\n- addresses: [10.1.0.1]\n"
     "  condition: {ready: true}\nports: [{port: 80}]\n", "endpoints[0].condition"),
    ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: "
     "{kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints:\n- addresses: [10.1.0.1]\n"
     "  conditions: {redy: true}\nports: [{port: 80}]\n", "endpoints[0].conditions.redy"),
    ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: "
     "{kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints:\n- addresses: [10.1.0.1]\n"
     "  targetRef: {kind: Pod, nme: p}\nports: [{port: 80}]\n", "endpoints[0].targetRef.nme"),
    ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: "
     "{kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints: []\nports: [{port: 80, protocl: UDP}]\n",
     "ports[0].protocl"),
    ("apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n- addresses: [{ip: 10.1.0.1, nodename: n}]"
     "\n  ports: [{port: 80}]\n", "subsets[0].addresses[0].nodename"),
    ("apiVersion: v1\nkind: Node\nmetadata: {name: node1, lables: {a: b}}\nspec: {podCIDR: 10.244.0.0/24}\n",
     "metadata.lables"),
    ("apiVersion: v1\nkind: Node\nmetadata: {name: node1}\nstatus: {addresses: "
     "[{type: InternalIP, address: 10.0.0.1, adress: 10.0.0.2}]}\n",
     "status.addresses[0].adress"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    ports: "
     "[{containerPort: 80, hostport: 80}]\nstatus: {podIP: 10.1.0.1}\n", "spec.containers[0].ports[0].hostport"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\nstatus: {podIp: 10.1.0.1}\n",
     "status.podIp"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: None, ports: [{port: 80}]}\n"
     "statuss: {}\n", "statuss"),
])
def test_an_unknown_field_of_each_kind_is_warned_of_once(load, text, field):
    result = load(text)
    found = [d for d in result.diagnostics if d.message.startswith("unknown field")]
    assert [(d.field, d.severity) for d in found] == [(field, Severity.WARNING)]


def test_the_fields_the_api_gives_are_not_unknown(load):
    """An object as the API server returns it (status, managedFields, ...) draws no warning."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          namespace: shop
          uid: 0b1c
          resourceVersion: "12"
          creationTimestamp: "2024-01-01T00:00:00Z"
          annotations: {a: b}
          managedFields: [{manager: kubectl}]
        spec:
          clusterIP: 10.96.0.10
          clusterIPs: [10.96.0.10]
          ipFamilies: [IPv4]
          ipFamilyPolicy: SingleStack
          internalTrafficPolicy: Cluster
          sessionAffinity: ClientIP
          sessionAffinityConfig: {clientIP: {timeoutSeconds: 30}}
          ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, appProtocol: http}]
        status: {loadBalancer: {}}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}, generateName: web-}
        addressType: IPv4
        endpoints:
        - addresses: [10.1.0.1]
          conditions: {ready: true, serving: true, terminating: false}
          nodeName: n
          zone: a
          targetRef: {kind: Pod, namespace: shop, name: p, uid: x}
          hints: {forZones: [{name: a}]}
        ports: [{name: http, port: 8080, protocol: TCP, appProtocol: http}]
    """)
    assert [str(d) for d in result.diagnostics if "unknown field" in d.message] == []


def test_every_schema_names_apiversion_kind_and_metadata():
    for schema in SCHEMAS.values():
        assert {"apiVersion", "kind", "metadata"} <= schema.known


def test_the_fast_endpoint_path_hands_an_unknown_field_to_the_checked_one():
    """100 IPv4 endpoints (the fast path's shape), one with a misspelled field: named, the endpoint kept."""
    endpoints = [{"addresses": [f"10.1.0.{i}"], "conditions": {"ready": True}} for i in range(1, 101)]
    endpoints[57]["nodeNme"] = "n"
    doc = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "web"}},
           "addressType": "IPv4", "endpoints": endpoints, "ports": [{"port": 80}]}
    result = load_text(json.dumps(doc), "t.json")
    assert len(result.cluster.endpoint_slices[0].endpoints) == 100
    assert [d.field for d in result.diagnostics] == ["endpoints[57].nodeNme"]
    assert "did you mean nodeName?" in result.diagnostics[0].message


def test_a_refused_object_gets_its_errors_and_no_warnings(load, messages):
    """Service shop/Bad_Name: its name error, not then 'spec.clusterIP: warning: not set'."""
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: Bad_Name, namespace: shop}
        spec:
          sesionAffinity: ClientIP
          ports: [{port: 80}]
    """)
    assert result.cluster.services == ()
    assert [d.severity for d in result.diagnostics] == [Severity.ERROR]
    assert result.diagnostics[0].field == "metadata.name"


def test_a_tab_is_named_in_the_syntax_error(load, messages):
    result = load("apiVersion: v1\nkind: Service\nmetadata:\n\tname: x\n")
    (found,) = result.diagnostics
    assert "cannot start any token" in found.message
    assert "(a tab? YAML indents with spaces)" in found.message
    assert found.line == 4


def test_another_character_is_not_called_a_tab(load):
    result = load("apiVersion: v1\nkind: Service\nmetadata:\n  name: `x\n")
    (found,) = result.diagnostics
    assert "cannot start any token" in found.message
    assert "tab" not in found.message
