"""Which Services' syncs fail during a stretch of time (world._failing) is what a full reconcile says.

_failing is asked at every instant a stretch stops at, so it no longer reconciles: it matches the endpoint pods
whose Node is not known against the keys' Services. This pins it to the reconcile it stands for: the keys whose
reconcile_service records FailedToUpdateEndpointSlices, over drawn Nodes, Services and pods."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.endpointslice import FAILED_UPDATE_REASON, TopologyView, reconcile_all
from kubeproxy_sim.controllers.model import ServiceTable, World
from kubeproxy_sim.objects.model import Node, Pod, Protocol, Service, ServicePort, ServiceType
from tests.budget import budget

from ._helpers import NODES

_NODE_NAMES = (None, "node1", "node2", "node9")
_LABELS = (("app", "web"), ("app", "db"), ("tier", "front"))


@st.composite
def _services(draw: st.DrawFn) -> tuple[Service, ...]:
    out = []
    for i in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(("selector", "none", "external")))
        selector = tuple(sorted(set(draw(st.lists(st.sampled_from(_LABELS), min_size=1, max_size=2)))))
        out.append(Service(
            namespace=draw(st.sampled_from(("default", "other"))), name=f"s{i}",
            type=ServiceType.EXTERNAL_NAME if kind == "external" else ServiceType.CLUSTER_IP,
            external_name="example.com" if kind == "external" else "",
            cluster_ips=() if kind == "external" else (f"10.96.0.{i + 1}",),
            ports=(ServicePort(name="", protocol=Protocol.TCP, port=80, target_port=8080),),
            selector=None if kind == "none" else selector,
            publish_not_ready_addresses=draw(st.booleans())))
    return tuple(out)


@st.composite
def _pods(draw: st.DrawFn) -> tuple[Pod, ...]:
    out = []
    for i in range(draw(st.integers(0, 8))):
        out.append(Pod(
            namespace=draw(st.sampled_from(("default", "other"))), name=f"p{i}",
            node_name=draw(st.sampled_from(_NODE_NAMES)),
            pod_ips=(f"10.244.9.{i + 1}",) if draw(st.booleans()) else (),
            labels=tuple(sorted(set(draw(st.lists(st.sampled_from(_LABELS), max_size=3))))),
            phase=draw(st.sampled_from(("Running", "Pending", "Succeeded", "Failed"))),
            ready=draw(st.booleans()), terminating=draw(st.booleans())))
    return tuple(out)


@settings(max_examples=budget(300), deadline=None)
@given(services=_services(), pods=_pods(), nodes=st.sampled_from((NODES, NODES[:1], ())), data=st.data())
def test_failing_is_what_a_reconcile_records(services: tuple[Service, ...], pods: tuple[Pod, ...],
                                             nodes: tuple[Node, ...], data: st.DataObject) -> None:
    world = World(nodes=nodes, service_table=ServiceTable(services))
    keys = set(data.draw(st.lists(st.sampled_from([s.key for s in services] + ["default/gone"]))))
    done = reconcile_all(tuple(s for s in services if s.key in keys), pods, nodes, view=TopologyView())
    expected = {e.service for e in done.events if e.event.reason == FAILED_UPDATE_REASON}
    assert W._failing(world, keys, pods) == expected


def test_a_pod_on_an_unknown_node_fails_only_the_services_selecting_it() -> None:
    web = Service(namespace="default", name="web", cluster_ips=("10.96.0.1",), selector=(("app", "web"),))
    db = Service(namespace="default", name="db", cluster_ips=("10.96.0.2",), selector=(("app", "db"),))
    lost = Pod(namespace="default", name="lost", node_name="node9", pod_ips=("10.244.9.7",), labels=(("app", "web"),))
    pods = (lost,
            Pod(namespace="default", name="db-0", node_name="node1", pod_ips=("10.244.0.7",), labels=(("app", "db"),)))
    world = World(nodes=NODES, service_table=ServiceTable((web, db)))
    assert W._failing(world, {"default/web", "default/db"}, pods) == {"default/web"}
    assert W._failing(world, {"default/db"}, pods) == set()
