"""An EndpointSlice labelled for a Service of another namespace (u1's walkthrough, item 13): it was ignored in
silence, its endpoints serving nothing; one note a slice now says whose namespace the Service is in."""

from __future__ import annotations

import textwrap

from kubeproxy_sim.objects.load import Share, decode_documents, text_documents

_OBJECTS = textwrap.dedent("""
    apiVersion: v1
    kind: Service
    metadata: {name: empty, namespace: default}
    spec: {clusterIP: 10.96.4.1, ports: [{port: 80, targetPort: 8080, name: http}]}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      labels: {kubernetes.io/service-name: empty}
      name: wrongns
      namespace: kube-system
    addressType: IPv4
    endpoints: [{addresses: [10.244.0.77], conditions: {ready: true}}]
    ports: [{name: http, port: 8080}]
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      labels: {kubernetes.io/service-name: nowhere}
      name: partial
      namespace: kube-system
    addressType: IPv4
    endpoints: [{addresses: [10.244.0.78]}]
""")
_NOTE = ("t.yaml: EndpointSlice kube-system/wrongns: note: metadata.labels.kubernetes.io/service-name names 'empty', "
         "a Service read in namespace default but not in kube-system: a slice belongs to the Service of its own "
         "namespace, so kube-proxy uses its endpoints for none (a slice in the wrong namespace?)")


def test_a_slice_whose_service_is_read_in_another_namespace_only_is_noted(load, messages):
    result = load(_OBJECTS)
    assert messages(result) == [_NOTE]  # (the slice of a Service read nowhere: a partial input, not noted)
    assert len(result.cluster.endpoint_slices) == 2


def test_a_slice_of_its_own_namespaces_service_is_not_noted(load, messages):
    both = _OBJECTS + "---\napiVersion: v1\nkind: Service\nmetadata: {name: empty, namespace: kube-system}\n" \
                      "spec: {clusterIP: 10.96.4.2, ports: [{port: 80, name: http}]}\n"
    assert messages(load(both)) == []


def test_a_split_load_notes_it_once_in_the_share_of_the_slice(load):
    """The Service and the slice are in two shares (cli.split_sync): the slice's share says it, the other not."""
    def said(share: Share) -> list[str]:
        documents = text_documents(_OBJECTS, "t.yaml")
        return [str(d) for d in decode_documents(documents, share).diagnostics]

    assert said(Share("", "kube-system/")) == []  # default/empty's share
    assert said(Share("kube-system/", None)) == [_NOTE]  # the slice's share, without the Service
    assert [(d.kind, d.object) for d in load(_OBJECTS).diagnostics] == [("EndpointSlice", "kube-system/wrongns")]
