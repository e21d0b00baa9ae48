"""dist's exact shares follow a connection DNATed to another node's own address there, as send's expected shares do.

That node's conntrack sees a new connection, so its rules (a NodePort's) take it again: the shares are of what
answers there (``netns verify`` showed the kernel doing so; see tests/simulator/test_send_hops.py).
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from fractions import Fraction

from hypothesis import event, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.analysis.exact import CLUSTER_IP, Selection, analyse, service_ports
from kubeproxy_sim.analysis.nodes import Source, node_set, node_source, pod_source
from kubeproxy_sim.analysis.render import dist_json
from kubeproxy_sim.netfilter.packet import split_endpoint
from kubeproxy_sim.objects.model import Protocol
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send
from tests.simulator.builders import BASE, HTTP, NODES, PODS, load, objects, service, slice_
from tests.simulator.test_send_hops import CHAINED_IP, _with, chained, drawn_hop, looped, node_port
from tests.strategies import ClusterCase, clusters


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
    services = dist_json(report, ["node1", "node2"])["services"]
    assert isinstance(services, list)
    (doc,) = services
    outcomes = doc["views"][0]["entries"][0]["outcomes"]
    assert sorted(o["pod"] for o in outcomes) == ["default/web-1", "default/web-2", "default/web-3"]
    _, at_home = _dist(cluster, BASE, "node2")
    assert [(s.verdict, s.endpoint, s.probability) for s in at_home.shares] == [
        ("DNAT", f"{NODES['node2'][0]}:30080", 1)] and not at_home.note


def _exact_map(shares) -> dict[str, Fraction]:
    """dist's shares by what ends the connection: an endpoint's address, else the verdict."""
    found: defaultdict[str, Fraction] = defaultdict(Fraction)
    for share in shares:
        key = split_endpoint(share.endpoint)[0] if share.verdict == "DNAT" and share.endpoint else share.verdict
        found[key] += share.probability
    return dict(found)


def _expected_map(result) -> dict[str, float]:
    """send's expected shares by the same keys: a delivered row's address, a failure's reason (its rows'
    expectations summed once per reason: rows of one reason on several nodes share theirs)."""
    found = {d.ip: d.expected for d in result.delivered if d.expected}
    for reason in {f.reason for f in result.failed}:
        found[reason] = max(f.expected or 0 for f in result.failed if f.reason == reason)
    return {k: v for k, v in found.items() if v}


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(case=clusters(), data=st.data())
def test_dist_and_send_expect_the_same_answerers(case: ClusterCase, data: st.DataObject) -> None:
    """Over generated clusters with an endpoint at another node's NodePort of a Service with endpoints (so the
    connection is DNATed again there): from that node or one of its pods, dist's exact shares are send's expected
    shares, failures too."""
    cluster, node, dst = drawn_hop(case, data)
    sim = Simulator(cluster, case.config, rng=random.Random(5))
    pods = [p for p in sim.topology.pods if p.node == node]
    pod = data.draw(st.sampled_from([None, *pods]))
    nodes = node_set(cluster, case.config)
    source = node_source(nodes, node) if pod is None else Source("pod", pod.ip, node=node)
    (svc,) = [s for s in service_ports(nodes) if s.name == "chained"]
    report = analyse(nodes, [Selection(svc, kinds=frozenset({CLUSTER_IP}))], [source])
    (entry,) = report.services[0].views[0].entries
    sent = send(sim, f"node/{node}" if pod is None else f"pod/{pod.key}", dst, count=1, seed=5)
    expected, exact = _expected_map(sent), _exact_map(entry.shares)
    event(f"from a {source.kind}; " + ("DNATed again" if entry.own is not None and entry.own != entry.shares
                                       else "not DNATed again"))
    assert set(expected) == set(exact), (expected, exact)
    assert all(abs(expected[key] - float(exact[key])) <= 5e-7 for key in exact), (expected, exact)  # (6 places)


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
    connection ends as the walk ends it (its TTL runs out: the ICMP time exceeded, NO_ROUTE to TCP, silence to
    UDP), said why, not an answer at the last address it was sent to."""
    for proto, verdict in ((Protocol.TCP, "NO_ROUTE"), (Protocol.UDP, "TIMEOUT")):
        report, entry = _dist(looped(load(objects()), proto), BASE, "node1")
        assert [(s.verdict, s.endpoint, s.probability) for s in entry.shares] == [(verdict, None, 1)], proto
        assert any("round in circles" in note for note in report.services[0].views[0].notes), proto


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


def test_two_hops_end_on_the_second_node_port_s_endpoints_in_dist_and_send() -> None:
    """chained -> node2's relay NodePort -> node1's web-np NodePort -> web's pods: followed twice, dist's exact
    shares and send's expected shares are web's pods a third each, masqueraded (by node2's NodePort), for a pod
    and a node of node1 alike."""
    relay = node_port("relay", "10.96.0.97", 30097, NODES["node1"][0], 30080)
    cluster = _with(_with(load(objects()), relay), chained(NODES["node2"][0], 30097))
    web = {PODS[p][1] for p in ("web-1", "web-2", "web-3")}
    nodes = node_set(cluster, BASE)
    client = next(p for p in cluster.pods if p.key == "default/client")
    for source, name in ((node_source(nodes, "node1"), "node/node1"),
                         (pod_source(client, False), "pod/default/client")):
        assert source is not None
        (svc,) = [s for s in service_ports(nodes) if s.name == "chained"]
        report = analyse(nodes, [Selection(svc, kinds=frozenset({CLUSTER_IP}))], [source])
        (entry,) = report.services[0].views[0].entries
        exact = _exact_map(entry.shares)
        assert set(exact) == web and all(abs(p - Fraction(1, 3)) < Fraction(1, 2**30) for p in exact.values())
        assert all(s.masqueraded == s.probability for s in entry.shares), name
        sent = send(Simulator(cluster, BASE, rng=random.Random(5)), name, f"{CHAINED_IP}:80", count=60, seed=5)
        assert _expected_map(sent).keys() == web and all(d.count for d in sent.delivered) and not sent.failed


def test_what_the_first_node_masqueraded_stays_masqueraded_beyond_a_hop_that_does_not() -> None:
    """node1 masquerades its own connection to node2's Local NodePort, which DNATs it to node2's web-2 without
    masquerading (Local, from another node's address): the endpoint still sees node1's address, the share is
    masqueraded; a pod of node1's is masqueraded by neither."""
    loc2 = [service("loc2", {"type": "NodePort", "clusterIP": "10.96.0.32", "externalTrafficPolicy": "Local",
                             "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080,
                                        "nodePort": 30092}]}),
            slice_("loc2", ("web-2",), HTTP)]
    cluster = _with(load(objects(extra=loc2)), chained(NODES["node2"][0], 30092))
    nodes = node_set(cluster, BASE)
    client = next(p for p in cluster.pods if p.key == "default/client")
    (svc,) = [s for s in service_ports(nodes) if s.name == "chained"]
    for source, masqueraded in ((node_source(nodes, "node1"), 1), (pod_source(client, False), 0)):
        assert source is not None
        report = analyse(nodes, [Selection(svc, kinds=frozenset({CLUSTER_IP}))], [source])
        (entry,) = report.services[0].views[0].entries
        assert [(s.endpoint, s.probability, s.masqueraded) for s in entry.shares] == [
            (f"{PODS['web-2'][1]}:8080", 1, masqueraded)], source


def test_the_hop_note_counts_many_targets_and_names_two() -> None:
    """A Service in front of every node's NodePort has a target per node: the note gives their count and the
    first two, not a line naming all thirty."""
    from kubeproxy_sim.analysis.exact import _hop_note

    targets = [(f"192.168.0.{10 + i}:30080", f"node{i + 1}") for i in range(1, 30)]
    note = _hop_note(targets)
    assert note.startswith("29 of the DNAT's targets are other nodes' own addresses (192.168.0.11:30080 is node2's, "
                           "192.168.0.12:30080 is node3's and 27 more): ")
    assert len(note) < 250


def test_an_entry_followed_by_the_network_keeps_the_port_s_own_shares_and_the_hops() -> None:
    """node1's own connection to an external IP that is node2's address, of a Service with no endpoints, leaves
    node1 unchanged for the network; node2's NodePort hopa at that port DNATs it to web-np's NodePort on node1,
    which DNATs it to web's pods. The shares are web's pods; the port's own shares (affinity's, diff's) stop at
    the hop's own rules (node1's NodePort), not at web's pods beyond it, and the hops are kept for the notes."""
    from kubeproxy_sim.analysis.exact import EXTERNAL_IP

    base, listed = chained(NODES["node2"][0], 30095)
    outside = dataclasses.replace(base, name="ext", cluster_ips=("10.96.0.97",), external_ips=(NODES["node2"][0],),
                                  ports=(dataclasses.replace(base.ports[0], port=30095),))
    cluster = _with(_with(load(objects()), node_port("hopa", "10.96.0.95", 30095, NODES["node1"][0], 30080)),
                    (outside, dataclasses.replace(listed, name="ext-1", service_name="ext", endpoints=())))
    nodes = node_set(cluster, BASE)
    (svc,) = [s for s in service_ports(nodes) if s.name == "ext"]
    report = analyse(nodes, [Selection(svc, kinds=frozenset({EXTERNAL_IP}))], [node_source(nodes, "node1")])
    (entry,) = report.services[0].views[0].entries
    assert set(_by_ip(entry.shares)) == {PODS[p][1] for p in ("web-1", "web-2", "web-3")}
    assert [(s.verdict, s.endpoint, s.probability) for s in entry.own_shares] == [
        ("DNAT", f"{NODES['node1'][0]}:30080", 1)]


def test_an_address_two_nodes_share_is_the_first_node_s_for_dist_and_its_hops() -> None:
    """node_of answers `dist --to` and _rehomed alike: of two nodes sharing an address (a misconfiguration the
    loader keeps), the first in order, as `dist --to` always had it (the hop's map had the last)."""
    nodes = node_set(load(objects()), BASE)
    shared = nodes.primary("node1")
    nodes.configs["node2"] = dataclasses.replace(nodes.configs["node2"],
                                                 node_ips=(*nodes.configs["node2"].node_ips, f"{shared}/32"))
    assert nodes.node_of(shared) == "node1" and nodes.node_of(NODES["node2"][0]) == "node2"
    assert nodes.node_of("192.0.2.250") is None
