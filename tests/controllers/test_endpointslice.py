"""The EndpointSlice controller: conditions, nodes and zones, named ports, the 100-endpoint split."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.endpointslice import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    controller_slices,
    reconcile_service,
    service_slices,
)
from kubeproxy_sim.objects.model import (
    AddressType,
    ContainerPort,
    Endpoint,
    EndpointSlice,
    IPFamily,
    Node,
    Pod,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
)

from ._helpers import NODES, deployed

BY_NAME = {n.name: n for n in NODES}


def _service(**changes: object) -> Service:
    base = dict(namespace="default", name="web", cluster_ips=("10.96.0.10",),
                ports=(ServicePort(name="http", protocol=Protocol.TCP, port=80, target_port=8080),),
                selector=(("app", "web"),))
    base.update(changes)
    return Service(**base)  # type: ignore[arg-type]


def _pod(name: str, ip: str, **changes: object) -> Pod:
    base = dict(namespace="default", name=name, node_name="node1", pod_ips=(ip,), labels=(("app", "web"),))
    base.update(changes)
    return Pod(**base)  # type: ignore[arg-type]


def _conditions(slices: tuple[EndpointSlice, ...]) -> dict[str, tuple[bool | None, ...]]:
    return {e.addresses[0]: (e.conditions.ready, e.conditions.serving, e.conditions.terminating)
            for s in slices for e in s.endpoints}


def test_endpoint_fields_follow_the_pod_and_its_node() -> None:
    (slice_,) = service_slices(_service(), [_pod("a", "10.244.0.2")], {n.name: n for n in NODES})
    (endpoint,) = slice_.endpoints
    assert endpoint == Endpoint(addresses=("10.244.0.2",), conditions=endpoint.conditions, node_name="node1",
                                zone="zone-a", target_ref=("Pod", "default", "a"))
    assert slice_.address_type is AddressType.IPV4 and slice_.service_name == "web"
    assert [(p.name, p.port, p.protocol) for p in slice_.ports] == [("http", 8080, Protocol.TCP)]
    labels = dict(slice_.labels)
    assert labels[SERVICE_NAME_LABEL] == "web" and labels[MANAGED_BY_LABEL] == CONTROLLER_NAME
    assert slice_.name.startswith("web-") and len(slice_.name) == len("web-") + 5


def test_conditions_for_ready_pending_terminating_pods() -> None:
    pods = [_pod("ready", "10.244.0.2"), _pod("pending", "10.244.0.3", ready=False, phase="Pending"),
            _pod("leaving", "10.244.0.4", terminating=True),
            _pod("leaving-unready", "10.244.0.5", terminating=True, ready=False),
            _pod("done", "10.244.0.6", phase="Succeeded", ready=False), _pod("no-ip", "x", pod_ips=()),
            _pod("other", "10.244.0.7", labels=(("app", "other"),))]
    got = _conditions(service_slices(_service(), pods, BY_NAME))
    assert got == {"10.244.0.2": (True, True, False), "10.244.0.3": (False, False, False),
                   "10.244.0.4": (False, True, True), "10.244.0.5": (False, False, True)}


def test_a_service_publishing_not_ready_addresses_gets_every_endpoint_ready() -> None:
    """The controller marks every listed pod ready for such a Service (serving and terminating stay true to the
    pod), so kube-proxy sends traffic to pods that are not ready yet or are going away."""
    pods = [_pod("pending", "10.244.0.3", ready=False, phase="Pending"),
            _pod("leaving", "10.244.0.4", terminating=True),
            _pod("done", "10.244.0.6", phase="Succeeded", ready=False)]
    got = _conditions(service_slices(_service(publish_not_ready_addresses=True), pods, BY_NAME))
    assert got == {"10.244.0.3": (True, False, False), "10.244.0.4": (True, True, True)}


def test_terminating_pods_serve_while_terminating_then_disappear() -> None:
    w, rng = deployed(4)
    w, _ = W.expose(w, "default", "web", rng, port=80, target_port=8080)
    w = W.scale(w, "default", "web", 1, rng)
    conditions = sorted(_conditions(W.cluster_of(w).endpoint_slices).values())
    assert conditions == [(False, True, True)] * 3 + [(True, True, False)]
    w = W.advance(w, 29, rng)
    assert len(_conditions(W.cluster_of(w).endpoint_slices)) == 4
    w = W.advance(w, 1, rng)
    assert sorted(_conditions(W.cluster_of(w).endpoint_slices).values()) == [(True, True, False)]


def test_at_most_100_endpoints_per_slice_with_stable_names() -> None:
    pods = [_pod(f"p{i}", f"10.244.{i // 250}.{i % 250 + 2}") for i in range(250)]
    slices = service_slices(_service(), pods, BY_NAME)
    assert [len(s.endpoints) for s in slices] == [100, 100, 50]
    assert len({s.name for s in slices}) == 3
    assert [s.name for s in service_slices(_service(), list(reversed(pods)), BY_NAME)] == [s.name for s in slices]
    everyone = [e.addresses[0] for s in slices for e in s.endpoints]
    assert sorted(everyone) == sorted(p.pod_ips[0] for p in pods) and len(set(everyone)) == 250


def test_named_target_ports_resolve_per_pod() -> None:
    service = _service(ports=(ServicePort(name="http", protocol=Protocol.TCP, port=80, target_port="web"),
                              ServicePort(name="dns", protocol=Protocol.UDP, port=53, target_port="dns")))
    pods = [_pod("a", "10.244.0.2", ports=(ContainerPort("web", 8080), ContainerPort("dns", 5353, Protocol.UDP))),
            _pod("b", "10.244.0.3", ports=(ContainerPort("web", 9090), ContainerPort("dns", 5353, Protocol.TCP))),
            _pod("c", "10.244.0.4", ports=(ContainerPort("web", 8080), ContainerPort("dns", 5353, Protocol.UDP)))]
    slices = service_slices(service, pods, BY_NAME)
    shapes = sorted((tuple((p.name, p.port, p.protocol.value) for p in s.ports),
                     tuple(e.addresses[0] for e in s.endpoints)) for s in slices)
    assert shapes == [
        ((("http", 8080, "TCP"), ("dns", 5353, "UDP")), ("10.244.0.2", "10.244.0.4")),
        ((("http", 9090, "TCP"),), ("10.244.0.3",)),  # b's "dns" is TCP: no UDP port of that name
    ]


def test_a_named_target_port_is_found_in_the_sidecars_after_the_containers() -> None:
    """findPort (the EndpointSlice controller's copy in k8s.io/endpointslice, kubernetes/kubernetes#128850) looks a
    name up in spec.containers, then in the init containers with restartPolicy Always: a sidecar's port serves the
    Service, and a container's port of the same name and protocol wins over it."""
    service = _service(ports=(ServicePort(name="https", protocol=Protocol.TCP, port=443, target_port="https"),))
    sidecar = (ContainerPort("https", 9443),)
    pods = [_pod("a", "10.244.0.2", ports=(ContainerPort("http", 8000),), sidecar_ports=sidecar),
            _pod("b", "10.244.0.3", ports=(ContainerPort("https", 8443),), sidecar_ports=sidecar),
            _pod("c", "10.244.0.4", sidecar_ports=(ContainerPort("https", 9443, Protocol.UDP),))]
    shapes = sorted((tuple(p.port for p in s.ports), tuple(e.addresses[0] for e in s.endpoints))
                    for s in service_slices(service, pods, BY_NAME))
    assert shapes == [((), ("10.244.0.4",)), ((8443,), ("10.244.0.3",)), ((9443,), ("10.244.0.2",))]


def test_no_slices_for_selectorless_or_external_name_services_and_a_placeholder_when_empty() -> None:
    pods = [_pod("a", "10.244.0.2")]
    assert service_slices(_service(selector=None), pods, BY_NAME) == ()
    assert service_slices(_service(type=ServiceType.EXTERNAL_NAME, cluster_ips=(), external_name="x.example"),
                          pods, BY_NAME) == ()
    (placeholder,) = service_slices(_service(selector=(("app", "nobody"),)), pods, BY_NAME)
    assert placeholder.endpoints == () and placeholder.ports == ()


def test_user_slices_are_kept_next_to_the_controllers() -> None:
    w, rng = deployed(1)
    manual = Service(namespace="default", name="db", cluster_ips=("10.96.0.20",),
                     ports=(ServicePort(name="", protocol=Protocol.TCP, port=5432, target_port=5432),))
    user = EndpointSlice(namespace="default", name="db-1", service_name="db", address_type=AddressType.IPV4,
                         endpoints=(Endpoint(addresses=("192.0.2.10",)),), ports=())
    w = W.put_slices(W.put_service(w, manual), (user,))
    w, _ = W.expose(w, "default", "web", rng, port=80)
    slices = W.cluster_of(w).endpoint_slices
    assert user in slices
    assert {s.service_name for s in slices} == {"db", "web"}


def test_dual_stack_service_gets_one_slice_per_family() -> None:
    service = _service(cluster_ips=("10.96.0.10", "fd00:96::10"), ip_families=())
    pods = [_pod("a", "10.244.0.2", pod_ips=("10.244.0.2", "fd00:244::2"))]
    slices = controller_slices([service], pods, NODES)
    assert sorted((s.address_type.value, s.endpoints[0].addresses) for s in slices) == [
        ("IPv4", ("10.244.0.2",)), ("IPv6", ("fd00:244::2",))]


def test_a_loaded_controller_slice_is_replaced_and_matching_bare_pods_are_adopted() -> None:
    w, rng = deployed(2)
    w, _ = W.expose(w, "default", "web", rng, port=80)
    (rs,) = w.replica_sets
    stale = EndpointSlice(namespace="default", name="web-old", service_name="web", address_type=AddressType.IPV4,
                          endpoints=(Endpoint(addresses=("192.0.2.99",)),),
                          labels=((MANAGED_BY_LABEL, CONTROLLER_NAME), (SERVICE_NAME_LABEL, "web")))
    w = W.put_slices(w, (stale,))
    assert stale not in W.cluster_of(w).endpoint_slices
    extra = _pod("web-bare", "10.244.0.200", labels=rs.selector)
    w, _ = W.add_pods(w, [extra], rng)
    # Adopted: the set now holds three pods for two replicas, so it removes one (without adoption: three live).
    assert len([p for p in w.pods if not p.terminating]) == 2
    assert all(p.owner == rs.name for p in w.pods)


def _hints(distribution: str | None) -> dict[str, tuple[tuple[str, ...] | None, tuple[str, ...] | None]]:
    pods = [_pod("a", "10.244.0.2"), _pod("b", "10.244.1.2", node_name="node2"),
            _pod("pending", "10.244.0.3", ready=False, phase="Pending"), _pod("far", "10.244.9.2", node_name="node9")]
    zoneless = Node(name="node9", pod_cidrs=("10.244.9.0/24",))  # a Node without a zone label
    slices = service_slices(_service(traffic_distribution=distribution), pods, {**BY_NAME, "node9": zoneless})
    return {e.addresses[0]: (e.hints_for_zones, e.hints_for_nodes) for s in slices for e in s.endpoints}


def test_trafficdistribution_hints_each_ready_endpoint_for_its_own_zone_as_upstreams_controller() -> None:
    """trafficdist.preferCloseHeuristic: ready endpoints get forZones=[their zone] (and, for PreferSameNode,
    forNodes=[their node]); not-ready ones none; without a close distribution no hints at all."""
    close = {"10.244.0.2": (("zone-a",), None), "10.244.1.2": (("zone-b",), None),
             "10.244.0.3": (None, None), "10.244.9.2": (None, None)}  # node9 has no zone: no zone hint
    assert _hints("PreferClose") == close and _hints("PreferSameZone") == close
    assert _hints("PreferSameNode") == {"10.244.0.2": (("zone-a",), ("node1",)),
                                        "10.244.1.2": (("zone-b",), ("node2",)),
                                        "10.244.0.3": (None, None), "10.244.9.2": (None, ("node9",))}
    assert set(_hints(None).values()) == set(_hints("Closest").values()) == {(None, None)}


def test_a_node_whose_zone_label_is_empty_gives_its_endpoints_no_zone_and_no_zone_hint() -> None:
    """podToEndpoint sets the zone only when the Node's topology.kubernetes.io/zone label is not empty: an empty
    one is no zone, so PreferClose gives no zone hint (an empty hint would narrow kube-proxy's endpoints)."""
    blank = Node(name="node9", pod_cidrs=("10.244.9.0/24",), labels=(("topology.kubernetes.io/zone", ""),))
    (slice_,) = service_slices(_service(traffic_distribution="PreferClose"),
                               [_pod("far", "10.244.9.2", node_name="node9")], {"node9": blank})
    (endpoint,) = slice_.endpoints
    assert (endpoint.zone, endpoint.hints_for_zones, endpoint.hints_for_nodes) == (None, None, None)


def test_a_pod_whose_node_is_not_found_is_skipped_unless_the_service_publishes_not_ready_addresses() -> None:
    """reconciler.go: "skipping Pod for Service, Node not found" (none named is not found either); the sync's
    error is recorded on the Service once, naming every such pod and its node."""
    pods = [_pod("a", "10.244.0.2"), _pod("ghost", "10.244.9.9", node_name="ghost-node"),
            _pod("nowhere", "10.244.9.8", node_name=None)]
    done = reconcile_service(_service(), pods, BY_NAME)
    assert list(_conditions(done.slices)) == ["10.244.0.2"]
    assert [(e.service, e.event.type, e.event.reason, e.event.message) for e in done.events] == [
        ("default/web", "Warning", "FailedToUpdateEndpointSlices",
         "Error updating Endpoint Slices for Service default/web: [skipping Pod ghost for Service default/web: "
         "Node ghost-node Not Found, skipping Pod nowhere for Service default/web: Node  Not Found]")]
    dual = _service(ip_families=(IPFamily.IPV4, IPFamily.IPV6))  # once per sync, not once per family
    assert len(reconcile_service(dual, pods[:2], BY_NAME).events) == 1
    assert reconcile_service(dual, pods[:2], BY_NAME).events[0].event.message.endswith(
        ": skipping Pod ghost for Service default/web: Node ghost-node Not Found")
    published = reconcile_service(_service(publish_not_ready_addresses=True), pods, BY_NAME)
    assert sorted(_conditions(published.slices)) == ["10.244.0.2", "10.244.9.8", "10.244.9.9"]
    assert published.events == ()


_LABELS = st.sampled_from([("app", "web"), ("app", "db"), ("tier", "front"), ("tier", "back"), ("v", "1")])


@settings(max_examples=150, deadline=None)
@given(selectors=st.lists(st.one_of(st.none(), st.lists(_LABELS, max_size=3, unique_by=lambda kv: kv[0])),
                          min_size=1, max_size=4),
       pods=st.lists(st.tuples(st.sampled_from(["default", "other"]), st.lists(_LABELS, max_size=3,
                                                                                unique_by=lambda kv: kv[0])),
                     max_size=12))
def test_every_service_gets_the_slices_of_a_scan_of_every_pod(selectors: list[list[tuple[str, str]] | None],
                                                              pods: list[tuple[str, list[tuple[str, str]]]]) -> None:
    """reconcile_all looks a selector's pods up by its rarest pair: the slices are those a scan of every pod of
    the namespace gives, whatever the selectors (none, empty, several pairs) and labels, in the pods' order."""
    services = [_service(name=f"s{i}", selector=None if sel is None else tuple(sel)) for i, sel in enumerate(selectors)]
    made = [_pod(f"p{i}", f"10.244.0.{i + 2}", namespace=ns, labels=tuple(labels))
            for i, (ns, labels) in enumerate(pods)]
    scanned = tuple(s for service in services for s in service_slices(service, made, BY_NAME))
    assert controller_slices(services, made, NODES) == scanned


def _web_slices(sync: W.ControllerSync) -> list[EndpointSlice]:
    return [s for s in sync.cluster.endpoint_slices if s.service_name == "web"]


def test_a_service_that_loses_its_selector_keeps_the_controllers_slices_as_they_were() -> None:
    """endpointslice_controller.go syncService returns before reconciling a Service without a selector (or an
    ExternalName one) and deletes nothing: its last slices stay, endpoints kube-proxy still uses, however the pods
    change, until the Service is deleted (the slices' owner) or gets a selector back."""
    w, rng = deployed(2)
    w, service = W.expose(w, "default", "web", rng, port=80)
    first = W.controller_sync(w)
    written = _web_slices(first)
    assert sum(len(s.endpoints) for s in written) == 2
    for changed in (dataclasses.replace(service, selector=None),
                    dataclasses.replace(service, type=ServiceType.EXTERNAL_NAME, cluster_ips=(), ip_families=(),
                                        external_name="web.example")):
        scaled = W.wait_for_rollout(W.scale(W.put_service(w, changed), "default", "web", 3, rng), "default", "web",
                                    rng).world
        later = W.controller_sync(scaled, first)
        assert _web_slices(later) == written
        back = W.controller_sync(W.put_service(scaled, service), later)  # the selector back: reconciled again
        assert sum(len(s.endpoints) for s in _web_slices(back)) == 3
    gone = W.delete_services(W.put_service(w, dataclasses.replace(service, selector=None)), "default", ["web"])
    assert _web_slices(W.controller_sync(gone, first)) == []
