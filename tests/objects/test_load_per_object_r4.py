"""The loader's per-object shortcuts keep what each object says and where it came from.

objects.load._Builder keeps one Origin while the documents' (file, index) stays the same (a List's 20,000 items),
and a share reuses a Service's or an Endpoints' service key as its display name instead of reading the name again.
Both must give exactly what the one-Origin-an-object, object_name-an-object loader gave.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.objects.load import Share, decode_documents
from tests.budget import budget


def _service(name: Any, namespace: Any, port: Any = 80) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if name is not None:
        meta["name"] = name
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": port, "protocol": "TCP"}]},
    }


def test_each_document_and_file_keeps_its_own_origin() -> None:
    docs = [
        ("a.yaml", 0, {"apiVersion": "v1", "kind": "List", "items": [_service("s1", "ns"), _service("s2", "ns")]}),
        ("a.yaml", 1, _service("s3", "ns")),
        ("b.yaml", 1, _service("s4", "ns")),
        ("b.yaml", 0, _service("s5", "ns")),
    ]
    services = {s.key: s.origin for s in decode_documents(docs).cluster.services}
    assert {key: (o.file, o.index) for key, o in services.items()} == {
        "ns/s1": ("a.yaml", 0),
        "ns/s2": ("a.yaml", 0),
        "ns/s3": ("a.yaml", 1),
        "ns/s4": ("b.yaml", 1),
        "ns/s5": ("b.yaml", 0),
    }


def test_a_redefined_object_names_the_document_it_replaces() -> None:
    docs = [("a.yaml", 0, _service("s", "ns")), ("a.yaml", 1, _service("s", "ns"))]
    (said,) = [d.message for d in decode_documents(docs).diagnostics if "defined again" in d.message]
    assert "a.yaml (document 1)" in said


names = st.one_of(st.none(), st.sampled_from(["", "s", "Bad_Name", 3]))
namespaces = st.one_of(st.none(), st.sampled_from(["", "ns", 4]))


@settings(max_examples=budget(100), deadline=None)
@given(names, namespaces, st.sampled_from([80, "x", 0]), st.sampled_from(["Service", "Endpoints"]))
def test_a_share_names_an_object_as_the_whole_load_does(name: Any, namespace: Any, port: Any, kind: str) -> None:
    """The objects' messages (their display names above all) are the same in one share holding every service."""
    doc = _service(name, namespace, port)
    doc["kind"] = kind
    doc["bogus"] = 1  # (an unknown field: a warning naming the object, whatever else it says)
    if kind == "Endpoints":
        doc.pop("spec")
        doc["subsets"] = [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": port}]}]
    whole = decode_documents([("a.yaml", 0, doc)], mirror=False).diagnostics
    shared = decode_documents([("a.yaml", 0, doc)], Share("", None), mirror=False).diagnostics
    assert [str(d) for d in shared] == [str(d) for d in whole]
    assert any(d.object for d in whole)  # (there is a name to compare)


def test_a_shared_slice_is_named_by_its_own_name_not_its_services() -> None:
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "bogus": 1,
        "metadata": {"name": "s-abc", "namespace": "ns", "labels": {"kubernetes.io/service-name": "s"}},
        "addressType": "IPv4",
        "endpoints": [],
        "ports": [],
    }
    shared = decode_documents([("a.yaml", 0, slice_)], Share("", None), mirror=False).diagnostics
    assert {d.object for d in shared if d.kind == "EndpointSlice"} == {"ns/s-abc"}
