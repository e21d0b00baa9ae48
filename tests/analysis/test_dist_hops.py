"""dist's exact shares follow a connection DNATed to another node's own address there, as send's expected shares do.

That node's conntrack sees a new connection, so its rules (a NodePort's) take it again: the shares are of what
answers there (``netns verify`` showed the kernel doing so; see tests/simulator/test_send_hops.py).
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.analysis.exact import CLUSTER_IP, Selection, analyse, service_ports
from kubeproxy_sim.analysis.nodes import node_set, node_source
from kubeproxy_sim.analysis.render import dist_json
from kubeproxy_sim.netfilter.packet import split_endpoint
from kubeproxy_sim.objects.model import IPFamily
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send
from tests.simulator.builders import BASE, NODES, PODS, load, objects
from tests.simulator.test_send_hops import CHAINED_IP, _with, chained, looped, node_port
from tests.strategies import ClusterCase, clusters, node_ip


def _dist(cluster, config, node: str):
    nodes = node_set(cluster, config)
    (svc,) = [s for s in service_ports(nodes) if s.name == "chained"]
    report = analyse(nodes, [Selection(svc, kinds=frozenset({CLUSTER_IP}))], [node_source(nodes, node)])
    (dist,) = report.services
    (view,) = dist.views
    (entry,) = view.entries
    return report, entry


def _by_ip(shares) -> dict[str, Fraction]:
    found: defaultdict[str, Fraction] = defaultdict(Fraction)
    for share in shares:
        if share.verdict == "DNAT" and share.endpoint:
            found[split_endpoint(share.endpoint)[0]] += share.probability
    return dict(found)


def test_a_service_in_front_of_another_node_s_node_port_shows_that_node_port_s_endpoints() -> None:
    """web-np's NodePort on node2 DNATs again, to web's three pods, masqueraded there: each a third, named by
    their pods, the entry's note saying why; from node2 itself its own address answers (nothing DNATs again)."""
    cluster = _with(load(objects()), chained(NODES["node2"][0], 30080))
    report, entry = _dist(cluster, BASE, "node1")
    web = {PODS[p][1] for p in ("web-1", "web-2", "web-3")}
    shares = _by_ip(entry.shares)
    assert set(shares) == web and sum(shares.values()) == 1  # a third each, to the statistic's 31-bit thresholds
    assert all(abs(p - Fraction(1, 3)) < Fraction(1, 2**30) for p in shares.values())
    assert all(s.masqueraded == s.probability for s in entry.shares)
    assert f"{NODES['node2'][0]}:30080 is node2's own address" in entry.note
    (doc,) = dist_json(report, ["node1", "node2"])["services"]
    outcomes = doc["views"][0]["entries"][0]["outcomes"]
    assert sorted(o["pod"] for o in outcomes) == ["default/web-1", "default/web-2", "default/web-3"]
    _, at_home = _dist(cluster, BASE, "node2")
    assert [(s.verdict, s.endpoint, s.probability) for s in at_home.shares] == [
        ("DNAT", f"{NODES['node2'][0]}:30080", 1)] and not at_home.note


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(case=clusters(), data=st.data())
def test_dist_and_send_expect_the_same_answerers(case: ClusterCase, data: st.DataObject) -> None:
    """Over generated clusters with an endpoint at a node's address and a port of the cluster (a NodePort, or
    one no rule has): a node's connections are expected where dist's exact shares put them."""
    names = [n.name for n in case.cluster.nodes]
    ports = sorted({p.node_port for s in case.cluster.services for p in s.ports if p.node_port} | {31999})
    target = data.draw(st.integers(0, len(names) - 1))
    port = data.draw(st.sampled_from(ports))
    family = IPFamily.IPV6 if case.ipv6 else IPFamily.IPV4
    cluster_ip = "fd00:96::77" if case.ipv6 else CHAINED_IP
    cluster = _with(case.cluster, chained(node_ip(target, case.ipv6), port, family=family, cluster_ip=cluster_ip))
    node = data.draw(st.sampled_from(names))
    _, entry = _dist(cluster, case.config, node)
    dst = f"[{cluster_ip}]:80" if case.ipv6 else f"{cluster_ip}:80"
    result = send(Simulator(cluster, case.config, rng=random.Random(5)), f"node/{node}", dst, count=1, seed=5)
    expected = {d.ip: d.expected for d in result.delivered if d.expected}
    exact = _by_ip(entry.shares)
    assert set(expected) == set(exact), (expected, exact)
    assert all(abs(expected[ip] - float(exact[ip])) < 1e-9 for ip in exact)


def test_affinity_checks_the_port_s_own_endpoints_not_those_beyond_a_hop() -> None:
    """With ClientIP affinity the sticky checks name the KUBE-SEP chains of the port's own endpoint (node2's
    NodePort), not web's pods reached beyond it (no list of this Service's): every check returns, and the model
    counts the one endpoint the port balances over."""
    from kubeproxy_sim.analysis.affinity import analyse_affinity
    from kubeproxy_sim.objects.model import SessionAffinity

    service, slice_ = chained(NODES["node2"][0], 30080)
    service = dataclasses.replace(service, session_affinity=SessionAffinity.CLIENT_IP)
    cluster = _with(load(objects()), (service, slice_))
    nodes = node_set(cluster, BASE)
    (svc,) = [s for s in service_ports(nodes) if s.name == "chained"]
    report = analyse(nodes, [Selection(svc, kinds=frozenset({CLUSTER_IP}))], [node_source(nodes, "node1")])
    (dist,) = report.services
    assert len(_by_ip(dist.views[0].entries[0].shares)) == 3  # the hop is followed
    affinity = analyse_affinity(nodes, dist, clients=20)
    assert affinity is not None and affinity.all_sticky and affinity.endpoints == 1
    assert {c.endpoint for c in affinity.checks} == {f"{NODES['node2'][0]}:30080"}


def test_nodeports_that_send_to_each_other_go_round_in_circles() -> None:
    """node2's NodePort DNATs to node1's, which DNATs back: past the followings send's walk allows, the
    connection is the walk's TIMEOUT (it never ends), said why, not an answer at the last address it was sent to."""
    report, entry = _dist(looped(load(objects())), BASE, "node1")
    assert [(s.verdict, s.endpoint, s.probability) for s in entry.shares] == [("TIMEOUT", None, 1)]
    assert any("round in circles" in note for note in report.services[0].views[0].notes)


def _in_front_of_empty(cluster):
    """``cluster`` with node2's NodePort 30090 of a Service without endpoints, and the chained Service in front."""
    service, slice_ = node_port("empty-np", "10.96.0.30", 30090, NODES["node2"][0], 8080)
    cluster = _with(cluster, (service, dataclasses.replace(slice_, endpoints=())))
    return _with(cluster, chained(NODES["node2"][0], 30090))


def test_a_hop_s_rejection_is_no_masqueraded_connection() -> None:
    """node1 masquerades its own connection to node2's NodePort, which rejects it (no endpoints): the REJECT
    share is not said masqueraded (masqueraded is of a delivered connection, as a first node's own failures)."""
    _, entry = _dist(_in_front_of_empty(load(objects())), BASE, "node1")
    assert [(s.verdict, s.probability, s.masqueraded) for s in entry.shares] == [("REJECT", 1, 0)]


def test_why_a_hop_s_node_rejects_the_connection_is_said() -> None:
    """node2's NodePort rejects what node1 sent it (its Service has no endpoints): the view says why, in that
    Service's words, as send's row does (the reason is on node2's trace, not node1's, which only DNATs)."""
    report, entry = _dist(_in_front_of_empty(load(objects())), BASE, "node1")
    assert [s.verdict for s in entry.shares] == ["REJECT"]
    (view,) = report.services[0].views
    assert any(note.startswith("default/empty-np:p has no endpoints") for note in view.notes), view.notes
