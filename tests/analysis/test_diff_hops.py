"""``diff`` of a Service whose endpoint is a node's NodePort: its views follow the connection there (as dist's do,
``analysis.exact._rehomed``), so they read the other Service's endpoints too, and name their pods."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.analysis.diffrender import diff_json
from kubeproxy_sim.objects.model import Cluster, IPFamily
from tests.analysis.test_diff_kept import _compare, changes
from tests.budget import budget
from tests.simulator.builders import BASE, NODES, PODS, load, objects
from tests.simulator.test_send_hops import CHAINED_IP, _with, chained
from tests.strategies import ClusterCase, node_ip

THIRD, HALF = ("web-1", "web-2", "web-3"), ("web-1", "web-2")


def _web_np_pods(pods: tuple[str, ...]) -> Cluster:
    """The builders' cluster with web-np's slice (only) listing ``pods``, and ``chained`` in front of node2's
    NodePort of web-np (30080)."""
    docs = objects()
    for doc in docs:
        if doc["kind"] == "EndpointSlice" and doc["metadata"]["labels"]["kubernetes.io/service-name"] == "web-np":
            doc["endpoints"] = [e for e in doc["endpoints"] if e["hostname"] in pods]
    return _with(load(docs), chained(NODES["node2"][0], 30080))


def test_a_port_in_front_of_another_s_node_port_is_traced_again_when_only_that_one_s_pods_change() -> None:
    """web-np loses web-3 and nothing of chained changes (its Service, slice and rules): its views, which end on
    web-np's pods, change all the same, so it is traced in both states (views_kept does not reuse it: its
    packets meet web-np's NodePort rule on node2), with the pods it reaches named as dist names them."""
    report, kept = _compare(ClusterCase(_web_np_pods(THIRD), BASE, False), _web_np_pods(HALF), False)
    assert "chained" not in kept
    (port,) = [p for p in report.ports if p.name == "default/chained:p"]
    assert port.status == "changed" and not (port.gained or port.lost or port.rules_added or port.rules_removed)
    (view,) = port.views
    ips = {s.endpoint: s.probability for s in view.after if s.endpoint}
    web = {f"{PODS[p][1]}:8080" for p in HALF}
    assert web < set(ips) and f"{PODS['web-3'][1]}:8080" not in ips
    assert all(ips[e] == Fraction(1, 4) for e in web)  # node1's half (node2's own connections end at node2)
    assert dict(port.pods) == {f"{PODS[p][1]}:8080": f"default/{p}" for p in THIRD}
    services = diff_json(report)["services"]
    assert isinstance(services, list)
    (doc,) = [s for s in services if s["name"] == "default/chained:p"]
    named = {(o["endpoint"], o["pod"]) for o in doc["views"][0]["before"]}
    assert named == {(f"{PODS[p][1]}:8080", f"default/{p}") for p in THIRD} | {(f"{NODES['node2'][0]}:30080", None)}


@settings(max_examples=budget(30), deadline=None)
@given(changes(), st.data(), st.booleans())
def test_a_port_in_front_of_a_node_s_port_reports_what_tracing_every_port_reports(
        change: tuple[ClusterCase, Cluster], data: st.DataObject, include_unchanged: bool) -> None:
    """Over generated clusters and small changes, with a Service in both states whose endpoint is a node's address
    at a NodePort (or a port no rule has): the ports diff keeps are the ones tracing every port finds unchanged."""
    case, after = change
    names = [n.name for n in case.cluster.nodes]
    ports = sorted({p.node_port for s in case.cluster.services for p in s.ports if p.node_port} | {31999})
    address = node_ip(data.draw(st.integers(0, len(names) - 1)), case.ipv6)
    family = IPFamily.IPV6 if case.ipv6 else IPFamily.IPV4
    pair = chained(address, data.draw(st.sampled_from(ports)), family=family,
                   cluster_ip="fd00:96::77" if case.ipv6 else CHAINED_IP)
    _compare(ClusterCase(_with(case.cluster, pair), case.config, case.ipv6), _with(after, pair), include_unchanged)


def test_a_rejection_on_the_node_a_dnat_sent_the_connection_to_is_worded_there() -> None:
    """web-np loses every pod: node2's NodePort rejects what chained's DNAT on node1 sends it; chained still has
    its endpoint, so the new-connection note says where the connection is rejected, not that the service has no
    usable endpoint."""
    report, _ = _compare(ClusterCase(_web_np_pods(THIRD), BASE, False), _web_np_pods(()), False)
    (port,) = [p for p in report.ports if p.name == "default/chained:p"]
    (node1,) = [n for n in port.new_connections if " on node1: " in n]
    assert node1 == (f"clusterIP {CHAINED_IP}:80 on node1: REJECT (1) - rejected where the connection ends: on the "
                     f"node its DNAT sent it on to ({NODES['node2'][0]}:30080, that node's own address), by that "
                     "node's rules")
