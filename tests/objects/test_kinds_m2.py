"""A kind we read under a built-in API group that does not serve it, and a kind close to one we read (u1's
walkthrough, items 5): both made a Service vanish behind "kube-proxy does not read this kind", exit 0."""

from __future__ import annotations

from kubeproxy_sim.errors import Severity


def test_a_kind_we_read_under_another_built_in_group_is_an_error(load, messages):
    """kubectl: no matches for kind "Service" in version "apps/v1"; a CRD's group (Knative's) stays a note."""
    result = load("""
        apiVersion: apps/v1
        kind: Service
        metadata: {name: web}
        spec: {clusterIP: 10.96.0.51, ports: [{port: 80}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1}
        ---
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: hello}
    """)
    assert messages(result) == [
        't.yaml: Service default/web: apiVersion: "apps/v1" is not supported: the Kubernetes API group apps has '
        "no kind Service; expected v1",
        't.yaml: EndpointSlice default/web-1: apiVersion: "networking.k8s.io/v1" is not supported: the Kubernetes '
        "API group networking.k8s.io has no kind EndpointSlice; expected discovery.k8s.io/v1",
        "t.yaml: Service.serving.knative.dev default/hello: note: skipped: kube-proxy does not read this kind",
    ]
    assert [d.severity for d in result.diagnostics] == [Severity.ERROR, Severity.ERROR, Severity.NOTE]
    assert result.cluster.services == ()


def test_a_kind_close_to_one_we_read_is_noted_with_the_kind_it_likely_means(load, messages):
    result = load("""
        apiVersion: v1
        kind: Servce
        metadata: {name: typokind}
        spec: {clusterIP: 10.96.0.52, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Nodes
        metadata: {name: node-x}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm}
    """)
    assert messages(result) == [
        "t.yaml: Servce default/typokind: note: skipped: kube-proxy does not read this kind; did you mean Service?",
        "t.yaml: Nodes default/node-x: note: skipped: kube-proxy does not read this kind; did you mean Node?",
        "t.yaml: ConfigMap default/cm: note: skipped: kube-proxy does not read this kind",  # another kind: plain
    ]


def test_another_groups_real_kind_close_to_ours_is_not_taken_for_a_typo(load, messages):
    """apiregistration's APIService is 0.82 close to Service: only our kinds' groups (or none given) are hinted."""
    result = load("""
        apiVersion: apiregistration.k8s.io/v1
        kind: APIService
        metadata: {name: v1.metrics.k8s.io}
        ---
        kind: Endpoint
        metadata: {name: e}
    """)
    assert messages(result) == [
        "t.yaml: APIService default/v1.metrics.k8s.io: note: skipped: kube-proxy does not read this kind",
        "t.yaml: Endpoint default/e: note: skipped: kube-proxy does not read this kind; did you mean Endpoints?",
    ]
