"""Reviewer u1: ``kubectl get all -o yaml`` gives Services and pods, no EndpointSlices; rules then wrote REJECT
"has no endpoints" in silence. A note at load time names each such Service."""

from __future__ import annotations

from kubeproxy_sim.errors import Severity
from kubeproxy_sim.objects import load_text

SERVICE = """
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: shop}}
spec:
  clusterIP: {ip}
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
POD = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}-1, namespace: shop, labels: {{app: {name}}}}}
spec: {{nodeName: node1, containers: [{{name: c}}]}}
status: {{phase: Running, podIP: 10.244.1.{n}, conditions: [{{type: Ready, status: "{ready}"}}]}}
"""
SLICE = """
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-x, namespace: shop, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
endpoints: [{{addresses: [10.244.1.{n}]}}]
ports: [{{port: 8080}}]
"""


def _text(*parts: str) -> str:
    return "---".join(parts)


def _notes(text: str) -> list[str]:
    result = load_text(text, "all.yaml")
    return [str(d) for d in result.diagnostics if d.severity is Severity.NOTE]


def test_a_service_with_ready_pods_and_no_slices_is_named():
    notes = _notes(_text(SERVICE.format(name="web", ip="10.96.0.10"), POD.format(name="web", n=5, ready="True")))
    assert notes == [
        'all.yaml: Service shop/web: note: spec.selector app=web matches 1 ready pod (web-1) but no EndpointSlice '
        'of this Service was read, so kube-proxy rejects its connections ("has no endpoints"); are its slices '
        "missing? (kubectl get all leaves them out: add kubectl get endpointslices -o yaml)"]


def test_no_note_with_a_slice_a_pod_not_ready_or_no_pods():
    service = SERVICE.format(name="web", ip="10.96.0.10")
    assert _notes(_text(service, POD.format(name="web", n=5, ready="True"), SLICE.format(name="web", n=5))) == []
    assert _notes(_text(service, POD.format(name="web", n=5, ready="False"))) == []
    assert _notes(service) == []
    headless = SERVICE.format(name="web", ip="None")
    assert _notes(_text(headless, POD.format(name="web", n=5, ready="True"))) == []


def test_the_notes_are_capped_with_a_count():
    parts = []
    for i in range(8):
        parts += [SERVICE.format(name=f"s{i}", ip=f"10.96.0.{i + 1}"), POD.format(name=f"s{i}", n=i + 1, ready="True")]
    notes = _notes(_text(*parts))
    assert len(notes) == 6
    assert [n.split(":")[1].strip() for n in notes[:5]] == [f"Service shop/s{i}" for i in range(5)]
    assert notes[5] == "note: and 3 more Services with ready pods and no EndpointSlice"
