"""v1 Endpoints become EndpointSlices as the endpointslicemirroring controller makes them."""

from __future__ import annotations

from kubeproxy_sim.objects import AddressType, EndpointConditions, Protocol

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: ns}
spec: {clusterIP: 10.0.0.1, ports: [{name: http, port: 80}, {name: dns, port: 53, protocol: UDP}]}
---
"""


def test_mirrors_ready_and_not_ready_split_by_family(load):
    result = load(SERVICE + """
        apiVersion: v1
        kind: Endpoints
        metadata: {name: ext, namespace: ns, labels: {team: a}}
        subsets:
        - addresses:
          - {ip: 10.1.0.1, nodeName: node1, hostname: h1, targetRef: {kind: Pod, namespace: ns, name: p1}}
          - {ip: "fd00::0:1"}
          notReadyAddresses: [{ip: 10.1.0.2}]
          ports: [{name: http, port: 8080}, {name: dns, port: 5353, protocol: UDP}]
    """.replace("\n        ", "\n"))
    assert result.ok, result.diagnostics
    v4, v6 = result.cluster.endpoint_slices
    assert (v4.namespace, v4.name, v4.service_name, v4.address_type) == ("ns", "ext-mirror-ipv4", "ext",
                                                                         AddressType.IPV4)
    assert (v6.name, v6.address_type) == ("ext-mirror-ipv6", AddressType.IPV6)
    assert [(e.addresses, e.conditions) for e in v4.endpoints] == [
        (("10.1.0.1",), EndpointConditions(ready=True)), (("10.1.0.2",), EndpointConditions(ready=False))]
    assert v4.endpoints[0].node_name == "node1" and v4.endpoints[0].hostname == "h1"
    assert v4.endpoints[0].target_ref == ("Pod", "ns", "p1")
    assert [e.addresses for e in v6.endpoints] == [("fd00::1",)]
    assert [(p.name, p.port, p.protocol) for p in v4.ports] == [("http", 8080, Protocol.TCP),
                                                              ("dns", 5353, Protocol.UDP)]
    assert dict(v4.labels) == {"team": "a", "kubernetes.io/service-name": "ext",
                               "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}


def test_subsets_with_same_ports_share_a_slice_and_different_ports_do_not(load):
    result = load(SERVICE + """
        apiVersion: v1
        kind: Endpoints
        metadata: {name: ext, namespace: ns}
        subsets:
        - addresses: [{ip: 10.1.0.1}]
          ports: [{name: http, port: 8080}, {name: dns, port: 5353, protocol: UDP}]
        - addresses: [{ip: 10.1.0.2}, {ip: 10.1.0.1}]
          ports: [{name: dns, port: 5353, protocol: UDP}, {name: http, port: 8080}]
        - addresses: [{ip: 10.1.0.3}]
          ports: [{name: http, port: 9090}]
    """.replace("\n        ", "\n"))
    # (named in the order SortSubsets leaves the subsets, by hash: tests/objects/test_subset_order.py)
    slices = {frozenset(p.port for p in s.ports): s for s in result.cluster.endpoint_slices}
    assert sorted(s.name for s in slices.values()) == ["ext-mirror-ipv4", "ext-mirror-ipv4-2"]
    assert set(slices) == {frozenset({9090}), frozenset({5353, 8080})}
    assert {ports: s.name for ports, s in slices.items()} == {frozenset({9090}): "ext-mirror-ipv4",
                                                             frozenset({5353, 8080}): "ext-mirror-ipv4-2"}
    assert [e.addresses[0] for e in slices[frozenset({5353, 8080})].endpoints] == ["10.1.0.1", "10.1.0.2"]  # merged
    assert [e.addresses[0] for e in slices[frozenset({9090})].endpoints] == ["10.1.0.3"]


def test_not_mirrored_when_service_has_selector_or_is_missing_or_skip_label(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: sel}
        spec: {clusterIP: 10.0.0.1, selector: {app: x}, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: sel}
        subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 80}]}]
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: orphan}
        subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 80}]}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: skip}
        spec: {clusterIP: 10.0.0.2, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: skip, labels: {endpointslice.kubernetes.io/skip-mirror: "true"}}
        subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 80}]}]
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: skip2, annotations: {control-plane.alpha.kubernetes.io/leader: "{}"}}
    """)
    assert result.cluster.endpoint_slices == ()
    assert messages(result) == [
        "t.yaml: Endpoints default/sel: note: not mirrored to EndpointSlices: Service default/sel has a "
        "selector, so its EndpointSlices come from the EndpointSlice controller",
        "t.yaml: Endpoints default/orphan: note: not mirrored to EndpointSlices: there is no Service "
        "default/orphan",
        't.yaml: Endpoints default/skip: note: not mirrored to EndpointSlices: it has the label '
        'endpointslice.kubernetes.io/skip-mirror="true"',
        "t.yaml: Endpoints default/skip2: note: not mirrored to EndpointSlices: it is a leader-election lock",
    ]


def test_no_note_for_selector_endpoints_when_slices_exist(load):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: sel}
        spec: {clusterIP: 10.0.0.1, selector: {app: x}, ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: sel}
        subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 80}]}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: sel-x, labels: {kubernetes.io/service-name: sel}}
        addressType: IPv4
        endpoints: [{addresses: [10.1.0.1]}]
    """)
    assert result.diagnostics == ()
    assert [s.name for s in result.cluster.endpoint_slices] == ["sel-x"]


def test_empty_endpoints_make_no_slices(load):
    result = load(SERVICE + "apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext, namespace: ns}\n")
    assert result.ok and result.cluster.endpoint_slices == ()


def test_at_most_1000_addresses_per_subset(load):
    addresses = ", ".join(f"{{ip: 10.1.{i // 250}.{i % 250 + 1}}}" for i in range(1005))
    result = load(SERVICE + "apiVersion: v1\nkind: Endpoints\nmetadata: {name: ext, namespace: ns}\n"
                  f"subsets: [{{addresses: [{addresses}], ports: [{{name: http, port: 80}}]}}]\n")
    (eps,) = result.cluster.endpoint_slices
    assert len(eps.endpoints) == 1000
    assert [str(d) for d in result.diagnostics] == [
        "t.yaml: Endpoints ns/ext: warning: 5 addresses not mirrored: the controller copies at most 1000 per subset"]


def test_loaded_slice_with_the_mirrored_name_wins(load, messages):
    result = load(SERVICE + """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: ext-mirror-ipv4, namespace: ns, labels: {kubernetes.io/service-name: ext}}
        addressType: IPv4
        endpoints: [{addresses: [10.9.9.9]}]
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: ext, namespace: ns}
        subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{name: http, port: 80}]}]
    """.replace("\n        ", "\n"))
    (eps,) = result.cluster.endpoint_slices
    assert eps.endpoints[0].addresses == ("10.9.9.9",)
    assert messages(result) == [
        "t.yaml: Endpoints ns/ext: warning: the mirrored EndpointSlice ns/ext-mirror-ipv4 is not added: an "
        "EndpointSlice with that name was loaded"]


def test_the_endpoints_of_a_refused_service_say_so(load, messages):
    result = load("""
        apiVersion: v1
        kind: Service
        metadata: {name: b}
        spec: {clusterIP: 10.0.0.9, ports: [{port: 80, protocol: tcp}]}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: b}
        subsets: [{addresses: [{ip: 10.1.0.9}], ports: [{port: 80}]}]
    """)
    assert messages(result)[-1] == ("t.yaml: Endpoints default/b: note: not mirrored to EndpointSlices: its Service "
                                    "default/b was skipped (see its error)")


def _endpoints(subsets: str) -> str:
    return SERVICE + f"apiVersion: v1\nkind: Endpoints\nmetadata: {{name: ext, namespace: ns}}\nsubsets:\n{subsets}"


def test_not_ready_trumps_ready_whatever_the_subset_order(load):
    """RepackSubsets: one entry per (IP, targetRef UID) and port, not ready when any copy is not ready."""
    for subsets in ("- {notReadyAddresses: [{ip: 10.1.0.7}], ports: [{name: http, port: 8080}]}\n"
                    "- {addresses: [{ip: 10.1.0.7}], ports: [{name: http, port: 8080}]}\n",
                    "- {addresses: [{ip: 10.1.0.7}], ports: [{name: http, port: 8080}]}\n"
                    "- {notReadyAddresses: [{ip: 10.1.0.7}], ports: [{name: http, port: 8080}]}\n",
                    "- {addresses: [{ip: 10.1.0.7}], notReadyAddresses: [{ip: 10.1.0.7}],\n"
                    "   ports: [{name: http, port: 8080}]}\n"):
        result = load(_endpoints(subsets))
        assert result.ok, result.diagnostics
        (eps,) = result.cluster.endpoint_slices
        assert [(e.addresses, e.conditions) for e in eps.endpoints] == [
            (("10.1.0.7",), EndpointConditions(ready=False))], subsets


def test_repacking_keys_addresses_by_ip_and_target_uid_and_keeps_the_first_copy(load):
    result = load(_endpoints("""
- addresses:
  - {ip: 10.1.0.7, hostname: first, targetRef: {kind: Pod, namespace: ns, name: a, uid: u1}}
  - {ip: 10.1.0.7, targetRef: {kind: Pod, namespace: ns, name: b, uid: u2}}
  ports: [{name: http, port: 8080}]
- addresses: [{ip: 10.1.0.7, hostname: second, targetRef: {kind: Pod, namespace: ns, name: a, uid: u1}}]
  ports: [{name: http, port: 8080}]
"""))
    assert result.ok, result.diagnostics
    (eps,) = result.cluster.endpoint_slices
    assert [(e.hostname, e.target_ref) for e in eps.endpoints] == [("first", ("Pod", "ns", "a")),
                                                                  (None, ("Pod", "ns", "b"))]


def test_repacking_regroups_ports_by_the_addresses_that_offer_them(load):
    """Ports offered by the same addresses make one subset; the addresses of a subset without ports make a
    slice without ports (RepackSubsets' sentinel port, pkg/api/endpoints/util.go: "Don't discard endpoints
    with no ports defined"), which gives kube-proxy no service port but CoreDNS a headless name."""
    result = load(_endpoints("""
- addresses: [{ip: 10.1.0.2}, {ip: 10.1.0.1}]
  ports: [{name: http, port: 8080}, {name: dns, port: 5353, protocol: UDP}]
- addresses: [{ip: 10.1.0.3}]
  ports: [{name: http, port: 8080}]
- addresses: [{ip: 10.1.0.9}]
"""))
    assert result.ok, result.diagnostics
    slices = {tuple(p.name for p in s.ports): s for s in result.cluster.endpoint_slices}
    assert sorted(slices) == [(), ("dns",), ("http",)]  # (named in SortSubsets' order, by hash)
    assert {ports: s.name for ports, s in slices.items()} == {("dns",): "ext-mirror-ipv4", (): "ext-mirror-ipv4-2",
                                                             ("http",): "ext-mirror-ipv4-3"}
    assert [e.addresses[0] for e in slices["http",].endpoints] == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
    assert [e.addresses[0] for e in slices["dns",].endpoints] == ["10.1.0.1", "10.1.0.2"]
    portless = slices[()]
    assert [(e.addresses[0], e.conditions) for e in portless.endpoints] == [
        ("10.1.0.9", EndpointConditions(ready=True))]


def test_portless_subsets_share_one_sentinel_and_join_ports_offered_by_the_same_addresses(load):
    """Every subset without ports maps its addresses to one sentinel port: two such subsets make one
    slice without ports, and when the addresses (and readiness) are exactly those of a real port, they join
    that port's subset instead."""
    result = load(_endpoints("""
- addresses: [{ip: 10.1.0.2}]
- notReadyAddresses: [{ip: 10.1.0.1}]
- addresses: [{ip: 10.1.0.5}]
  ports: [{name: http, port: 8080}]
"""))
    assert result.ok, result.diagnostics
    portless, http = sorted(result.cluster.endpoint_slices, key=lambda s: len(s.ports))
    assert [e.addresses[0] for e in http.endpoints] == ["10.1.0.5"]
    assert portless.ports == ()
    assert [(e.addresses[0], e.conditions.ready) for e in portless.endpoints] == [("10.1.0.2", True),
                                                                                 ("10.1.0.1", False)]
    result = load(_endpoints("""
- addresses: [{ip: 10.1.0.5}]
- addresses: [{ip: 10.1.0.5}]
  ports: [{name: http, port: 8080}]
"""))
    assert result.ok, result.diagnostics
    (joined,) = result.cluster.endpoint_slices
    assert [p.name for p in joined.ports] == ["http"]
    assert [e.addresses[0] for e in joined.endpoints] == ["10.1.0.5"]


def test_the_1000_cap_counts_distinct_addresses(load, messages):
    twice = [f"{{ip: 10.1.{i // 250}.{i % 250 + 1}}}" for i in range(600)] * 2
    more = [f"{{ip: 10.9.0.{i + 1}}}" for i in range(100)]
    result = load(_endpoints(f"- {{addresses: [{', '.join(twice + more)}], ports: [{{name: http, port: 80}}]}}\n"))
    (eps,) = result.cluster.endpoint_slices
    assert len(eps.endpoints) == 700
    assert messages(result) == []


def test_the_1000_cap_keeps_the_first_in_upstreams_order(load, messages):
    """Ready addresses sorted by IP text, then not-ready ones; the cap keeps the first 1000 of those."""
    ips = sorted((f"10.1.{i // 250}.{i % 250 + 1}" for i in range(1001)), key=str.encode)
    listed = ", ".join(f"{{ip: {ip}}}" for ip in reversed(ips))  # greatest first: input order would keep it
    result = load(_endpoints(f"- {{addresses: [{listed}], ports: [{{name: http, port: 80}}]}}\n"))
    (eps,) = result.cluster.endpoint_slices
    assert {e.addresses[0] for e in eps.endpoints} == set(ips[:1000])
    assert messages(result) == [
        "t.yaml: Endpoints ns/ext: warning: 1 addresses not mirrored: the controller copies at most 1000 per subset"]

    ready = ", ".join(f"{{ip: {ip}}}" for ip in reversed(ips[1:]))
    result = load(_endpoints(f"- {{addresses: [{ready}], notReadyAddresses: [{{ip: {ips[0]}}}],\n"
                             "   ports: [{name: http, port: 80}]}\n"))
    (eps,) = result.cluster.endpoint_slices
    assert {e.addresses[0] for e in eps.endpoints} == set(ips[1:])  # the only not-ready one comes last
    assert all(e.conditions.ready for e in eps.endpoints)


def test_a_subset_without_addresses_refuses_the_endpoints(load, messages):
    """validateEndpointSubsets: every subset must list an address, ready or not; the API server refuses the whole
    object otherwise, so none of its other subsets reach a slice either."""
    for empty in ("{ports: [{name: http, port: 8080}]}", "{addresses: [], notReadyAddresses: null}"):
        result = load(_endpoints(f"- {{addresses: [{{ip: 10.1.0.1}}], ports: [{{name: http, port: 8080}}]}}\n"
                                 f"- {empty}\n"))
        assert result.cluster.endpoint_slices == (), empty
        assert messages(result) == [
            "t.yaml: Endpoints ns/ext: subsets[1]: no addresses; expected at least one in addresses or "
            "notReadyAddresses (the API server refuses a subset without any)"], empty


def test_addresses_of_the_wrong_type_are_one_error_not_two(load, messages):
    """A subset whose addresses field is there but not a list is said once, at that field: not also as a subset
    without addresses, which it did not leave out."""
    for wrong in ("{}", "0"):
        result = load(_endpoints(f"- {{addresses: {wrong}, ports: [{{name: http, port: 8080}}]}}\n"))
        assert result.cluster.endpoint_slices == (), wrong
        (message,) = messages(result)
        assert message.startswith("t.yaml: Endpoints ns/ext: subsets[0].addresses: "), message
