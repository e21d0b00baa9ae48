"""The differential's pure parts: outcome classes, sizing, judging, flows, and ``netns send``'s shared shape."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel.differential import (
    EPERM,
    N_MIN,
    N_STICKY,
    REFUSED,
    SILENCE,
    UNREACHABLE,
    Flow,
    FlowReport,
    Key,
    Prediction,
    SimulatorSide,
    check_counts,
    derive_flows,
    fail_class,
    judge,
    load_flows,
    observation,
    per_row_alpha,
    round_robin,
    sample_size,
    with_clients,
)
from kubeproxy_sim.kernel.send import Destination, Source, tally
from kubeproxy_sim.netfilter.packet import parse_address
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.simulator.network import heard
from tests.kernel.test_kernel import OBJECTS, small_cluster

A, B = ("reply", "10.0.0.1", "10.0.0.9"), ("reply", "10.0.0.2", "10.0.0.9")
HALF = Fraction(1, 2)


def test_fail_classes_are_what_a_socket_sees() -> None:
    assert fail_class("REJECT", "tcp", sent_locally=False, hook="FORWARD") == REFUSED
    assert fail_class("DROP", "tcp", sent_locally=True, hook="OUTPUT") == SILENCE
    assert fail_class("DROP", "udp", sent_locally=True, hook="OUTPUT") == EPERM
    assert fail_class("REJECT", "udp", sent_locally=True, hook="OUTPUT") == EPERM
    assert fail_class("REJECT", "udp", sent_locally=True, hook="INPUT") == REFUSED
    assert fail_class("QUEUE", "udp", sent_locally=True, hook="OUTPUT") == SILENCE  # no listener
    assert fail_class("NO_ROUTE", "tcp", sent_locally=False, hook=None) == UNREACHABLE
    assert fail_class("NO_ROUTE", "udp", sent_locally=False, hook=None) == SILENCE
    for proto in ("tcp", "udp", "sctp"):  # one rule with send's: a no route the client hears is UNREACHABLE
        heard_it = heard("NO_ROUTE", proto) == "NO_ROUTE"
        assert (fail_class("NO_ROUTE", proto, sent_locally=False, hook=None) == UNREACHABLE) == heard_it
    assert fail_class("TIMEOUT", "tcp", sent_locally=False, hook=None) == SILENCE


def test_probe_results_become_outcomes() -> None:
    assert observation({"pod": "x", "src": "10.0.0.9:4000", "dst": "10.0.0.1:80"}) == A
    assert observation({"error": "refused"}) == ("fail", REFUSED)
    assert observation({"error": "timeout"}) == ("fail", SILENCE)
    assert observation({"error": "unreachable"}) == ("fail", UNREACHABLE)


def test_sample_size_gives_the_rarest_outcome_a_chance() -> None:
    alpha = Fraction(1, 10**5)
    assert sample_size(Prediction({A: Fraction(1)}), alpha) == N_MIN
    assert sample_size(Prediction({A: HALF, B: HALF}, sticky=True), alpha) == N_STICKY
    rare = Fraction(1, 20)
    n = sample_size(Prediction({A: 1 - rare, B: rare}), alpha)
    assert (1 - float(rare)) ** n <= float(alpha) / 4


def test_readme_verify_example_bootcamp_flow_takes_400_connections_in_65_to_137() -> None:
    """README's `netns verify --scenario bootcamp --max-flows 4` example (and its dump-mode twin): a flow over
    bootcamp's four endpoints, at the rules' rounded shares, is sized 400 connections and each outcome is accepted
    in [65, 137] when four such flows share the run's alpha of 1/1000."""
    quarter, low = Fraction(2147483649, 8589934592), Fraction(4294967295, 17179869184)
    keys = [("reply", f"10.244.0.{i}", "10.244.0.254") for i in range(4)]
    flow = Prediction(dict(zip(keys, (quarter, Fraction(1, 4), low, low), strict=True)))
    row_alpha = per_row_alpha([flow] * 4, Fraction(1, 1000))
    assert sample_size(flow, row_alpha) == 400
    checked = check_counts(flow, Counter(dict.fromkeys(keys, 100)), row_alpha)
    assert set(checked.ranges.values()) == {(65, 137)} and checked.why == () and checked.blind == ()


def test_judge_agrees_within_the_range_and_names_differences() -> None:
    alpha = Fraction(1, 1000)
    even = Prediction({A: HALF, B: HALF})
    assert judge(Flow("s", "d:1"), even, Counter({A: 52, B: 48}), alpha).agree
    lopsided = judge(Flow("s", "d:1"), even, Counter({A: 95, B: 5}), alpha)
    assert not lopsided.agree and any("expected 50.0%" in why for why in lopsided.why)
    extra = judge(Flow("s", "d:1"), Prediction({A: Fraction(1)}), Counter({A: 20, ("fail", SILENCE): 4}), alpha)
    assert extra.why == ("the kernel shows no answer (DROP/TIMEOUT) (4 of 24), the simulator never does",
                         "reply from 10.0.0.1 (saw 10.0.0.9): 20 of 24, expected 100.0% (range 24-24)")


def test_judge_sticky_and_no_route() -> None:
    alpha = Fraction(1, 1000)
    sticky = Prediction({A: HALF, B: HALF}, sticky=True)
    assert judge(Flow("s", "d:1"), sticky, Counter({B: 16}), alpha).agree
    assert "session affinity" in judge(Flow("s", "d:1"), sticky, Counter({A: 8, B: 8}), alpha).why[0]
    # the kernel backend never rate limits a router's answer: "no route" is heard every time, not merged with
    # silence
    no_route = Prediction({("fail", UNREACHABLE): Fraction(1)})
    assert judge(Flow("s", "d:1"), no_route, Counter({("fail", UNREACHABLE): 24}), alpha).agree
    assert not judge(Flow("s", "d:1"), no_route, Counter({("fail", UNREACHABLE): 5, ("fail", SILENCE): 19}),
                     alpha).agree


@pytest.mark.parametrize(("dst", "outcomes"), [
    ("203.0.113.10:80", {("fail", REFUSED)}),  # the outside client's host: its stack refuses, as send says
    ("198.51.100.7:80", {("fail", UNREACHABLE)}),  # nobody's: the router's no route
    ("10.244.1.1:10256", {("target", "node/node2", "node1")}),  # node2's pod bridge: node2's own (its healthz)
])
def test_the_prediction_ends_a_packet_where_the_kernel_does(dst: str, outcomes: set) -> None:
    cluster, config = small_cluster()
    full, clients = with_clients(cluster, config, ["node1", "node2"])
    assert set(SimulatorSide(full, config).leaves(Flow(f"pod/{clients['node1']}", dst))) == outcomes


@pytest.mark.parametrize(("src", "dst", "outcome"), [
    ("10.244.0.1", "198.51.100.7:80", SILENCE),  # the router's no route has no way back to node1's bridge address
    ("node/node1", "198.51.100.7:80", UNREACHABLE),
    ("10.244.0.1", "203.0.113.10:80", SILENCE),  # nor has the outside client's refusal
    ("node/node1", "203.0.113.10:80", REFUSED),
])
def test_the_prediction_asks_the_simulator_whether_an_answer_from_outside_comes_back(
        src: str, dst: str, outcome: str) -> None:
    """Simulator.answered_from_outside is the one home of the fact (the differential had its own copy): the
    outside routes node addresses and outside hosts, and a pod's egress is masqueraded, but no answer finds a
    node's pod bridge address, neither a host's refusal nor the router's "no route" (tests/kernel has both)."""
    cluster, config = small_cluster()
    full, _ = with_clients(cluster, config, ["node1", "node2"])
    sims = SimulatorSide(full, config)
    assert sims.leaves(Flow(src, dst)) == {("fail", outcome): 1}
    sim = sims.plain
    bridge, node = (parse_address(a)[1] for a in ("10.244.0.1", "192.168.49.2"))
    assert not sim.answered_from_outside(bridge) and sim.answered_from_outside(node)


def test_clients_and_derived_flows() -> None:
    cluster, config = small_cluster()
    full, clients = with_clients(cluster, config, ["node1", "node2"])
    assert clients == {"node1": "kpsim-client/client-0", "node2": "kpsim-client/client-1"}
    assert [p.pod_ips for p in full.pods] == [("10.244.0.254",), ("10.244.1.254",)]
    sims = SimulatorSide(full, config)
    flows, skipped = derive_flows(full, sims.plain, clients)
    assert not skipped
    kinds = Counter(f.kind for f in flows)
    assert kinds == {"ClusterIP": 6, "NodePort": 2, "hairpin": 1}
    assert Flow("external", "node/node2:30080", "tcp", "NodePort", "default/web") in flows
    assert [f.kind for f in round_robin(flows, 3)] == ["ClusterIP", "hairpin", "NodePort"]


SKIPPED = """
---
apiVersion: v1
kind: Service
metadata: {name: sig, namespace: default}
spec:
  clusterIP: 10.96.0.30
  ports: [{name: sig, port: 9000, protocol: SCTP}]
---
apiVersion: v1
kind: Service
metadata: {name: signode, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.31
  ports: [{name: sig, port: 9000, protocol: SCTP, nodePort: 30091}]
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.40
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30090}]
status:
  loadBalancer: {ingress: [{ip: 198.51.100.40, ipMode: Proxy}]}
"""


def test_a_skipped_flow_names_the_clients_it_would_have_come_from() -> None:
    """An SCTP ClusterIP's flows would come from pods and the node (and outside too with a NodePort), an ipMode
    Proxy balancer's from outside: what ``netns verify --from`` narrows the skipped flows by, as the flows run."""
    from kubeproxy_sim.kernel.verify import Origin

    cluster, config = small_cluster(SKIPPED)
    full, clients = with_clients(cluster, config, ["node1", "node2"])
    flows, skipped = derive_flows(full, SimulatorSide(full, config).plain, clients)
    assert [(s.flow, s.origins) for s in skipped] == [
        ("default/lb 198.51.100.40:80/tcp", {Origin.EXTERNAL}),
        ("default/sig 10.96.0.30:9000/sctp", {Origin.POD, Origin.NODE}),
        ("default/signode 10.96.0.31:9000/sctp", set(Origin))]
    assert {f.kind for f in flows if f.service == "default/lb"} == {"ClusterIP", "NodePort"}
    assert not [f for f in flows if f.service.startswith("default/sig")]


def test_predictions_are_exact() -> None:
    cluster, config = small_cluster()
    full, clients = with_clients(cluster, config, ["node1", "node2"])
    sims = SimulatorSide(full, config)
    spread = sims.predict(Flow(f"pod/{clients['node2']}", "10.96.0.10:80"))
    assert spread.exact and not spread.sticky
    # exact in the kernel's own terms: the statistic match compares 31 random bits with a threshold
    ips = ("10.244.0.3", "10.244.0.4", "10.244.1.3")
    assert set(spread.shares) == {("reply", ip, "10.244.1.254") for ip in ips}
    assert sum(spread.shares.values()) == 1
    assert all(abs(p - Fraction(1, 3)) < Fraction(1, 2**30) for p in spread.shares.values())
    assert sims.predict(Flow("node/node1", "10.96.0.20:80")).shares == {("fail", REFUSED): 1}
    # no rule for UDP port 80: the datagram leaves for the router, which has no route, and UDP is not told
    assert sims.predict(Flow("node/node1", "10.96.0.20:80", "udp")).shares == {("fail", SILENCE): 1}


def test_a_pod_s_flow_to_a_name_counts_its_dns_query_s_fate_first() -> None:
    """As send and netns send: the pod asks kube-dns first, its failures are the connection's, and a headless
    Service's name spreads over its pods (was: no query; a headless name's connections all to its first)."""
    from tests.kernel.test_send_dns import CONFIG, HEADLESS, UNREADY, _cluster

    headless = SimulatorSide(_cluster(HEADLESS), CONFIG)
    assert headless.leaves(Flow("pod/default/first", "hl:8080", "tcp")) == \
        {("target", f"default/hl-{i}", "node1"): Fraction(1, 3) for i in range(3)}
    assert headless.predict(Flow("pod/default/first", "hl:8080", "tcp")).shares == \
        {("reply", f"10.244.0.{20 + i}", "10.244.0.11"): Fraction(1, 3) for i in range(3)}
    unready = SimulatorSide(_cluster(UNREADY), CONFIG)  # kube-dns's one endpoint not ready: REJECTed
    assert unready.leaves(Flow("pod/default/first", "web:80", "tcp")) == {("fail", REFUSED): 1}
    web = {("target", "default/web-a", "node1"): 1}
    assert unready.leaves(Flow("pod/default/first", "10.96.0.10:80", "tcp")) == web  # an address: no query
    assert unready.leaves(Flow("node/node1", "web.default:80", "tcp")) == web  # a node asks no nameserver
    assert unready.leaves(Flow("pod/default/plain", "10.96.0.10:80", "tcp")) == web


def test_a_truncated_answer_s_tcp_retry_is_predicted_as_netns_send_observes_it() -> None:
    """QA-dumps 1: 95 addresses do not fit a 512-byte datagram, so the name is asked again over TCP. kube-dns
    with only 53/UDP: the simulator predicts the retry's no route for every connection, which is what netns
    send's client reports ("tcp unreachable", a TCP socket's ICMP error); with dns-tcp the name is spread over
    its 95 addresses (was: the simulator delivered, netns send failed: a disagreement)."""
    from tests.kernel.test_send_dns import BIG, CONFIG, LARGE, LARGE_UDP_ONLY, _cluster

    flow = Flow("pod/default/first", "hl:8080", "tcp")
    udp_only = SimulatorSide(_cluster(LARGE_UDP_ONLY), CONFIG).leaves(flow)
    assert udp_only == {("fail", UNREACHABLE): 1}
    assert {observation({"error": "tcp unreachable", "name": "hl.default.svc.cluster.local"})} == set(udp_only)
    assert observation({"error": "tcp timeout"}) == ("fail", SILENCE)
    assert observation({"error": "tcp refused"}) == ("fail", REFUSED)
    both = SimulatorSide(_cluster(LARGE), CONFIG).leaves(flow)
    assert both == {("target", f"default/ep-10-244-0-{100 + i}", "node1"): Fraction(1, BIG) for i in range(BIG)}


def test_flows_file_errors_name_the_field(tmp_path) -> None:
    path = tmp_path / "flows.yaml"
    path.write_text("flows:\n- {from: external, to: '10.0.0.1:80', proto: sctp}\n")
    with pytest.raises(InputError, match=r"flows\[0\]\.proto"):
        load_flows(str(path))
    path.write_text("flows:\n- {to: '10.0.0.1:80'}\n")
    with pytest.raises(InputError, match=r"flows\[0\]"):
        load_flows(str(path))
    path.write_text("flows:\n- {from: node/n1, to: '10.0.0.1:80', proto: UDP}\n")
    assert load_flows(str(path)) == [Flow("node/n1", "10.0.0.1:80", "udp")]
    for entry, expected in (("{from: 5, to: '10.0.0.1:80'}", "flows[0].from: 5 is not a source"),
                            ("{from: node/n1, to: .inf}", "flows[0].to: .inf is not a destination"),
                            ("{from: node/n1, to: '10.0.0.1:80', proto: {a: 1}}",
                             'flows[0].proto: {"a": 1}: expected')):
        path.write_text(f"flows:\n- {entry}\n")  # (fuzzed, session 19: Python's repr, or str() of anything)
        with pytest.raises(InputError) as caught:
            load_flows(str(path))
        assert str(caught.value).startswith(f"{path}: {expected}")



@pytest.mark.parametrize(("source", "why"), [
    ("127.0.0.1", "a loopback address is a node's own, and which node's is not said; expected node/NAME"),
    ("external:127.0.0.1", "a loopback address is no outside machine's; expected external:IP with a routable"),
    ("224.0.0.1", "a multicast address is no pod's, node's or outside machine's; expected a routable unicast")])
def test_a_flows_entry_of_a_source_send_refuses_is_named_by_its_entry(tmp_path, source: str, why: str) -> None:
    """A loopback ``from`` has send's shape but names no client: it was refused when the flow ran, as ``--from``
    (which the command was not given). The entry is named where the file is read, before anything is built."""
    path = tmp_path / "flows.yaml"
    path.write_text(f"flows:\n- {{from: node/n1, to: '10.0.0.1:80'}}\n- {{from: '{source}', to: '10.0.0.1:80'}}\n")
    with pytest.raises(InputError) as caught:
        load_flows(str(path))
    assert type(caught.value) is InputError  # bad content of a file (1), not usage (2)
    assert str(caught.value).startswith(f"{path}: flows[1].from: {source!r}: {why}")
    assert "--from" not in str(caught.value)


def test_kernel_send_result_has_the_simulators_shape() -> None:
    state = {"nodes": {"node1": {"netns": "x", "addresses": ["192.168.49.2"]}},
             "pods": {"10.244.0.3": {"key": "default/web-a", "netns": "y", "node": "node1", "host_network": False}}}
    results = [{"pod": "default/web-a", "src": "10.244.0.9:1", "dst": "10.244.0.3:8080"}] * 3
    results += [{"error": "timeout"}, {"error": "refused"}, {"error": "EPERM"}]
    raw = tally(Source("pod/client/c", "z"), Destination("10.96.0.10:80", "10.96.0.10", 80), "tcp", results,
                verdicts=frozenset({"DROP"}))
    out = raw.as_json(state)
    assert set(out) == {"from", "to", "proto", "connections", "seed", "delivered", "failed", "sticky", "answered",
                        "ping"}
    assert out["delivered"] == [{"pod": "default/web-a", "ip": "10.244.0.3", "node": "node1", "count": 3,
                                 "share": 0.5, "expected": None, "sources_seen": ["10.244.0.9"], "pod_object": None,
                                 "why": []}]  # (netns send has no words for its rows: send_why is the simulator's)
    failed = out["failed"]
    assert isinstance(failed, list)
    assert [(f["reason"], f["count"]) for f in failed] == [("DROP", 1), ("DROP", 1), ("REJECT", 1)]
    assert {f["detail"].split(" ")[0] for f in failed} == {"no", "the", "connection"}


def test_outside_to_a_cluster_ip_is_unreachable_on_both_sides() -> None:
    """The outside routes node addresses, LoadBalancer IPs and externalIPs, never a cluster range."""
    cluster, config = small_cluster()
    full, _ = with_clients(cluster, config, ["node1", "node2"])
    sims = SimulatorSide(full, config)
    assert sims.predict(Flow("external", "10.96.0.10:80")).shares == {("fail", UNREACHABLE): 1}
    assert sims.predict(Flow("external", "10.96.0.10:80", "udp")).shares == {("fail", SILENCE): 1}



def test_a_loopback_destination_is_the_sender_s_own() -> None:
    """A node's packet to its loopback ends at the node itself (nothing listens there: refused, over UDP too); a
    pod's never leaves the pod, which answers itself (as send; was: unreachable, or no answer)."""
    cluster, config = small_cluster()
    full, _ = with_clients(cluster, config, ["node1", "node2"])
    sims = SimulatorSide(full, config)
    for proto in ("tcp", "udp"):
        assert sims.predict(Flow("node/node2", "127.0.0.1:9999", proto)).shares == {("fail", REFUSED): 1}
    assert sims.predict(Flow("pod/default/web-a", "127.0.0.1:8080")).shares == \
        {("reply", "127.0.0.1", "127.0.0.1"): 1}
    assert sims.predict(Flow("pod/default/web-a", "127.0.0.1:9999")).shares == {("fail", REFUSED): 1}


AFFINITY = """
---
apiVersion: v1
kind: Service
metadata: {name: aff, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.23
  sessionAffinity: ClientIP
  ports: [{name: t, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30023},
          {name: u, port: 81, targetPort: 8081, protocol: UDP, nodePort: 30024}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: aff-1, namespace: default, labels: {kubernetes.io/service-name: aff}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.30], nodeName: node1}, {addresses: [10.244.0.31], nodeName: node1}]
ports: [{name: t, port: 8080, protocol: TCP}, {name: u, port: 8081, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: dns-tcp, namespace: default}
spec:
  clusterIP: 10.96.0.60
  externalIPs: [192.0.2.60]
  sessionAffinity: ClientIP
  ports: [{name: d, port: 53, targetPort: 5353, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: dns-udp, namespace: default}
spec:
  clusterIP: 10.96.0.61
  externalIPs: [192.0.2.60]
  ports: [{name: d, port: 53, targetPort: 5353, protocol: UDP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-tcp-1, namespace: default, labels: {kubernetes.io/service-name: dns-tcp}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.40], nodeName: node1}, {addresses: [10.244.0.41], nodeName: node1}]
ports: [{name: d, port: 5353, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-udp-1, namespace: default, labels: {kubernetes.io/service-name: dns-udp}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.42], nodeName: node1}, {addresses: [10.244.0.43], nodeName: node1}]
ports: [{name: d, port: 5353, protocol: UDP}]
"""
"""Added to test_send_dns's cluster (kube-dns answers names): a ClientIP NodePort Service of a TCP and a UDP port,
and a TCP Service with ClientIP and a UDP one without that share an externalIP and port."""
AFFINITY_FLOWS = {  # flow -> whether it is sticky
    Flow("pod/default/first", "aff:81", "udp"): True,  # a name
    Flow("pod/default/first", "aff.default:80"): True,
    Flow("node/node1", "127.0.0.1:30023"): True,  # a loopback NodePort
    Flow("external", "192.0.2.60:53", "udp"): False,  # the UDP port's Service has no affinity
    Flow("external", "192.0.2.60:53"): True,
}


def test_a_flow_is_sticky_when_the_service_port_that_took_it_has_affinity() -> None:
    """Read off the flow's own trace (was: a lookup by address and port that missed names and loopback NodePorts
    and ignored the protocol)."""
    from tests.kernel.test_send_dns import CONFIG, OBJECTS, _cluster

    sims = SimulatorSide(_cluster(OBJECTS + AFFINITY), CONFIG)
    assert {flow: sims.predict(flow).sticky for flow in AFFINITY_FLOWS} == AFFINITY_FLOWS

GONE = "192.0.2.99"  # a stale endpoint's address: its host is gone, no node, pod or outside host has it
TWO_HOP = f"""
---
apiVersion: v1
kind: Service
metadata: {{name: gone, namespace: default}}
spec:
  type: NodePort
  clusterIP: 10.96.0.30
  externalTrafficPolicy: Local
  ports: [{{name: http, port: 80, targetPort: 8080, protocol: TCP, nodePort: 30090}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: gone-1, namespace: default, labels: {{kubernetes.io/service-name: gone}}}}
addressType: IPv4
endpoints:
- {{addresses: [{GONE}], nodeName: node2}}
ports: [{{name: http, port: 8080, protocol: TCP}}]
"""
"""Service gone's one endpoint, whose host is gone (see :func:`stale_endpoint`). Its NodePort is Local, so a pod's
connection to it (from the cluster CIDR: kube-proxy sends it to every endpoint) is not masqueraded by kube-proxy."""


def stale_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides plan every endpoint address as a host; here neither has :data:`GONE` (the simulator's topology
    and the kernel's plan leave it out), as when an EndpointSlice still lists an address whose host is gone."""
    import dataclasses

    from kubeproxy_sim.kernel import plan as kernel_plan
    from kubeproxy_sim.simulator import network

    def without_gone(make: Callable[..., Any]) -> Callable[..., Any]:
        def made(*args: Any, **kwargs: Any) -> Any:
            topology = make(*args, **kwargs)
            return dataclasses.replace(topology, pods=tuple(p for p in topology.pods if p.ip != GONE))
        return made

    monkeypatch.setattr(network, "build_topology", without_gone(network.build_topology))
    monkeypatch.setattr(kernel_plan, "plan", without_gone(kernel_plan.plan))


def two_hop_flows(clients: dict[str, str]) -> list[Flow]:
    """A pod's connection to the NodePort of the other node, which DNATs it to :data:`GONE`: it leaves the cluster
    there, from another node's pod."""
    return [Flow(f"pod/{clients['node1']}", "node/node2:30090"), Flow(f"pod/{clients['node2']}", "node/node1:30090")]


def test_a_pod_s_packet_leaving_by_another_node_for_an_unowned_address_hears_the_router(monkeypatch) -> None:
    """The CNI masquerades a pod's packet on the node where it leaves the cluster, whichever node's pod it is
    (``Simulator._new_entry``, ``build.egress_rules``): the router's "unreachable" for the address nobody has
    comes back to that node, which un-NATs it to the pod."""
    from kubeproxy_sim.simulator.network import NO_ROUTE, Simulator

    stale_endpoint(monkeypatch)
    cluster, config = small_cluster(TWO_HOP)
    full, clients = with_clients(cluster, config, ["node1", "node2"])
    sims = SimulatorSide(full, config)
    assert GONE not in {p.ip for p in sims.plain.topology.pods}
    for flow in two_hop_flows(clients):
        assert sims.predict(flow).shares == {("fail", UNREACHABLE): 1}, flow
    sim = Simulator(full, config)
    sim.record = []
    conn = sim.connect(sim.client("pod", clients["node1"]), "192.168.49.3", 30090, "tcp")
    assert conn.failure is not None and conn.failure.reason == NO_ROUTE
    leaving = [h.packet for h in sim.record if h.where == "node2 eth0 out"]
    assert leaving and leaving[0][2] == parse_address("192.168.49.3")[1]  # node2's address, not node1's pod's
    assert leaving[0][4] == parse_address(GONE)[1]


CHAINED = """
---
apiVersion: v1
kind: Service
metadata: {name: chained, namespace: default}
spec:
  clusterIP: 10.96.0.40
  ports: [{name: http, port: 80, targetPort: 30080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: chained-1, namespace: default, labels: {kubernetes.io/service-name: chained}}
addressType: IPv4
endpoints:
- {addresses: [192.168.49.3]}
ports: [{name: http, port: 30080, protocol: TCP}]
"""
"""A selectorless Service whose one endpoint is node2's NodePort of web (a Service in front of another's NodePort)."""
CHAINED_FLOWS = [Flow("pod/kpsim-client/client-0", "10.96.0.40:80"), Flow("node/node1", "10.96.0.40:80")]
"""Connections DNATed on node1 to node2's NodePort, which node2 (a new connection to its conntrack) DNATs again."""


def test_a_connection_dnated_to_another_node_s_nodeport_is_dnated_there_again() -> None:
    """The first DNAT's target is node2's own address, so node2's rules take the packet (its NodePort, to web's
    endpoints, masqueraded); the prediction followed only what left node1 unchanged, and gave node2 itself
    (the endpoint's made-up host) every connection, which the kernel never showed."""
    cluster, config = small_cluster(CHAINED)
    full, _ = with_clients(cluster, config, ["node1", "node2"])
    sims = SimulatorSide(full, config)
    third = Fraction(1, 3)
    for flow in CHAINED_FLOWS:
        shares = sims.predict(flow).shares
        assert set(shares) == {("reply", "10.244.0.3", "192.168.49.3"), ("reply", "10.244.0.4", "192.168.49.3"),
                               ("reply", "10.244.1.3", "10.244.1.1")}, flow
        assert all(abs(p - third) < Fraction(1, 2**30) for p in shares.values())


LOOPED = """
---
apiVersion: v1
kind: Service
metadata: {name: hopa, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.41
  ports: [{name: http, port: 80, targetPort: 30096, nodePort: 30095, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: hopa-1, namespace: default, labels: {kubernetes.io/service-name: hopa}}
addressType: IPv4
endpoints:
- {addresses: [192.168.49.2]}
ports: [{name: http, port: 30096, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: hopb, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.42
  ports: [{name: http, port: 80, targetPort: 30095, nodePort: 30096, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: hopb-1, namespace: default, labels: {kubernetes.io/service-name: hopb}}
addressType: IPv4
endpoints:
- {addresses: [192.168.49.3]}
ports: [{name: http, port: 30095, protocol: TCP}]
"""
"""Two NodePorts each other's endpoint: node2's 30095 DNATs to node1's 30096, which DNATs back to node2's."""


def test_nodeports_that_send_to_each_other_predict_the_ttl_s_end() -> None:
    """The connection never ends anywhere: the prediction is the walk's, the ICMP time exceeded when the TTL runs
    out (unreachable to a TCP socket, silence to a UDP one), not an answer at the address the last DNAT before the
    hop limit named."""
    for text, proto, hears in ((LOOPED, "tcp", UNREACHABLE), (LOOPED.replace("TCP", "UDP"), "udp", SILENCE)):
        cluster, config = small_cluster(text)
        full, _ = with_clients(cluster, config, ["node1", "node2"])
        sims = SimulatorSide(full, config)
        assert sims.predict(Flow("node/node1", "192.168.49.3:30095", proto)).shares == {("fail", hears): 1}, proto


def test_simulator_expected_shares_name_a_refusal_reject() -> None:
    """An endpoint that does not listen on the port refuses (RST / port unreachable): REJECT, not NO_ROUTE."""
    from kubeproxy_sim.simulator.network import Simulator
    from kubeproxy_sim.simulator.send import expected_shares, parse_destination, parse_source

    cluster, config = small_cluster()
    sim = Simulator(cluster, config)
    client = parse_source(sim, "node/node1")
    served = expected_shares(sim, client, parse_destination(sim, client, "10.96.0.10:80"), "tcp")
    assert set(served) == {"default/web-a", "default/web-b", "default/web-c"}
    refused = expected_shares(sim, client, parse_destination(sim, client, "10.244.0.3:9999"), "tcp")
    assert refused == {"REJECT": 1}
    assert expected_shares(sim, client, parse_destination(sim, client, "10.99.0.1:80"), "tcp") == {"NO_ROUTE": 1}


def test_ipv6_flows_use_brackets_and_ipv6_clients() -> None:
    from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
    from kubeproxy_sim.objects import load_paths

    directory = REPO_RULESETS / "ipv6"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    config = config_from_args(scenario_args(directory), cluster)
    full, clients = with_clients(cluster, config, ["node1", "node2"])
    assert [p.pod_ips for p in full.pods[-2:]] == [("fd00:10:244:1:ffff:ffff:ffff:fffe",),
                                                  ("fd00:10:244:2:ffff:ffff:ffff:fffe",)]
    sims = SimulatorSide(full, config)
    flows, _ = derive_flows(full, sims.plain, clients)
    assert Flow("external", "[2001:db8:ffff::80]:80", "tcp", "LoadBalancer", "default/web") in flows
    spread = sims.predict(Flow("node/node1", "[fd00:10:96::10]:80"))
    # masqueraded by the interface it leaves: node1's pod bridge (fd00:10:244:1::1) to its own pod, eth0 elsewhere
    assert spread.shares == {("reply", "fd00:10:244:1::10", "fd00:10:244:1::1"): HALF,
                             ("reply", "fd00:10:244:2::10", "2001:db8:0:1::10"): HALF}
    assert sims.predict(Flow("node/node2", "[::1]:9999")).shares == {("fail", REFUSED): 1}  # its own loopback


# --------------------------------------------------------------------------- large services


def _large() -> tuple:
    from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
    from kubeproxy_sim.kernel.differential import kernel_cluster
    from kubeproxy_sim.objects import load_paths

    directory = REPO_RULESETS / "large-cluster"
    loaded = load_paths([str(directory / "objects.yaml")])
    config = config_from_args(scenario_args(directory), loaded.cluster)
    full, clients, _ = kernel_cluster(loaded.cluster, config)
    return full, config, clients


def test_fixed_groups_split_each_node_into_contiguous_address_runs() -> None:
    from kubeproxy_sim.kernel.differential import fixed_groups

    endpoints = [(f"n{i % 2}", f"10.0.{i // 256}.{i % 256}", f"k{i}") for i in range(400)]
    labels = fixed_groups(endpoints, total=8)
    assert len(set(labels.values())) == 8 and set(labels) == {k for _, _, k in endpoints}
    for group in set(labels.values()):
        members = [e for e in endpoints if labels[e[2]] == group]
        assert len({node for node, _, _ in members}) == 1 and len(members) == 50
    assert fixed_groups([("n", "10.0.0.1", "a")]) == {"a": "1 endpoints on n (10.0.0.1-10.0.0.1)"}


def test_large_services_get_the_needed_flows_and_grouped_exact_shares() -> None:
    full, config, clients = _large()
    sims = SimulatorSide(full, config)
    flows, _ = derive_flows(full, sims.plain, clients)
    assert [(f.src, f.kind) for f in flows] == [("pod/kpsim-client/client-0", "ClusterIP")] * 3
    prediction = sims.predict(flows[0])
    assert prediction.grouped and prediction.exact and len(prediction.groups) == 400
    assert sum(prediction.shares.values()) == 1 and len(prediction.shares) == 9
    assert all(k[0] == "group" for k in prediction.shares)
    # 400 shares of one in 400 (the rules' rounded probabilities), nine groups of 44 or 45 endpoints
    assert all(min(abs(float(p) - 44 / 400), abs(float(p) - 45 / 400)) < 1e-4 for p in prediction.shares.values())


def test_grouped_judging_by_chi_square() -> None:
    from kubeproxy_sim.kernel.differential import grouped_size

    groups = {f"10.0.0.{i}": ("g1" if i < 50 else "g2") for i in range(100)}
    one, two = ("group", "g1", "s"), ("group", "g2", "s")
    prediction = Prediction({one: HALF, two: HALF}, groups=groups)
    alpha = Fraction(1, 10**4)
    n = sample_size(prediction, alpha)
    assert n == grouped_size([0.5, 0.5], 1e-4) and 100 <= n <= 400
    even: Counter[Key] = Counter({("reply", "10.0.0.1", "s"): n // 2, ("reply", "10.0.0.77", "s"): n - n // 2})
    assert judge(Flow("a", "b:1"), prediction, even, alpha).agree
    skewed: Counter[Key] = Counter({("reply", "10.0.0.1", "s"): n * 3 // 4,
                                    ("reply", "10.0.0.77", "s"): n - n * 3 // 4})
    report = judge(Flow("a", "b:1"), prediction, skewed, alpha)
    assert not report.agree and "chi-square" in report.why[0]
    stranger: Counter[Key] = Counter({("reply", "10.0.0.1", "s"): n // 2, ("reply", "10.9.9.9", "s"): n - n // 2})
    assert "never does" in judge(Flow("a", "b:1"), prediction, stranger, alpha).why[0]
    wrong_source: Counter[Key] = Counter({("reply", "10.0.0.1", "s"): n // 2, ("reply", "10.0.0.77", "x"): n - n // 2})
    assert "never does" in judge(Flow("a", "b:1"), prediction, wrong_source, alpha).why[0]


def test_the_run_s_alpha_is_split_over_its_tests() -> None:
    """Bonferroni: a run of k tests judges each at alpha / k, so it fails by chance at most alpha. Every outcome
    with a share below 1 is a test, a certain flow is one, a grouped flow (one chi-square) is one."""
    from kubeproxy_sim.kernel.differential import per_row_alpha

    alpha = Fraction(1, 1000)
    c = ("reply", "10.0.0.3", "10.0.0.9")
    third = Fraction(1, 3)
    certain, halves = Prediction({A: Fraction(1)}), Prediction({A: HALF, B: HALF})
    thirds = Prediction({A: third, B: third, c: third})
    groups = {f"10.0.0.{i}": ("g1" if i < 50 else "g2") for i in range(100)}
    grouped = Prediction({("group", "g1", "s"): HALF, ("group", "g2", "s"): HALF}, groups=groups)
    assert per_row_alpha([halves], alpha) == alpha / 2
    assert per_row_alpha([halves, thirds], alpha) == alpha / 5
    assert per_row_alpha([certain, halves, thirds, grouped], alpha) == alpha / 7
    assert per_row_alpha([grouped, grouped], alpha) == alpha / 2
    assert per_row_alpha([certain], alpha) == per_row_alpha([], alpha) == alpha


def test_a_run_sizes_and_judges_every_flow_at_its_share_of_alpha(monkeypatch) -> None:
    """``_run_and_judge`` uses the split: two flows with three tests between them are each sized and judged at
    alpha / 3 (the kernel is replaced by counts that match the prediction exactly)."""
    from kubeproxy_sim.kernel import differential

    alpha = Fraction(1, 1000)
    flows = [Flow("pod/default/c", "10.96.0.1:80"), Flow("pod/default/c", "10.96.0.2:80")]
    predictions = [Prediction({A: HALF, B: HALF}), Prediction({A: Fraction(1)})]

    def exact_counts(state, flow, count, timeout, sticky) -> Counter:
        shares = predictions[flows.index(flow)].shares
        counts = Counter({k: int(count * p) for k, p in shares.items()})
        counts[A] += count - sum(counts.values())
        return counts

    sized: list[Fraction] = []
    judged: list[Fraction] = []
    real_size, real_judge = differential.sample_size, differential.judge

    def sizing(prediction: Prediction, row_alpha: Fraction) -> int:
        sized.append(row_alpha)
        return real_size(prediction, row_alpha)

    def judging(flow: Flow, prediction: Prediction, seen: Counter[Key], row_alpha: Fraction) -> FlowReport:
        judged.append(row_alpha)
        return real_judge(flow, prediction, seen, row_alpha)

    monkeypatch.setattr(differential, "observe", exact_counts)
    monkeypatch.setattr(differential, "sample_size", sizing)
    monkeypatch.setattr(differential, "judge", judging)
    sims = SimulatorSide(*small_cluster())  # (asked only of a sticky flow: none here)
    reports = differential._run_and_judge(sims, {}, flows, predictions, alpha, 1.0, lambda *_: None)
    assert [r.agree for r in reports] == [True, True]
    assert sized == judged == [alpha / 3, alpha / 3]
    assert [r.count for r in reports] == [real_size(pr, alpha / 3) for pr in predictions]


def test_grouped_size_grows_with_groups_and_confidence() -> None:
    from kubeproxy_sim.kernel.differential import N_GROUPED_MAX, grouped_size

    assert grouped_size([1 / 3] * 3, 1e-3) < grouped_size([1 / 9] * 9, 1e-3) <= grouped_size([1 / 9] * 9, 1e-6)
    assert grouped_size([1 / 9] * 9, 1e-6) <= N_GROUPED_MAX


def _endpoints(k: int) -> list[tuple[str, ...]]:
    return [("reply", f"10.0.0.{i}", "10.0.0.99") for i in range(1, k + 1)]


def _counts(keys: list[tuple[str, ...]], shares: list[Fraction], n: int) -> Counter:
    """Counts as close to n * share as whole numbers get (the rest on the largest share)."""
    counts = Counter({k: int(n * p) for k, p in zip(keys, shares, strict=True)})
    counts[keys[shares.index(max(shares))]] += n - sum(counts.values())
    return counts


def test_a_wrong_split_of_a_small_service_is_seen() -> None:
    """QA-stats 3: bootcamp (6 flows of 4 endpoints, each outcome a test: alpha / 24 a test) was run with 100
    connections a flow and each outcome judged alone (9-44 for 1/4), so the kernel's "no chain" split (every
    --probability 0.25: shares 1/4, 3/16, 9/64, 27/64) passed. The flow's chi-square over its outcomes, with N
    sized for power against a share off by half, sees it; the right split still agrees."""
    alpha = Fraction(1, 1000) / 24
    keys = _endpoints(4)
    right = Prediction(dict.fromkeys(keys, Fraction(1, 4)))
    n = sample_size(right, alpha)
    assert n >= 400
    wrong = [Fraction(1, 4), Fraction(3, 16), Fraction(9, 64), Fraction(27, 64)]
    old = judge(Flow("s", "d:1"), right, _counts(keys, wrong, 100), alpha * 2)  # the old ranges at 100: blind to it
    assert all(row.ok for row in old.rows)
    report = judge(Flow("s", "d:1"), right, _counts(keys, wrong, n), alpha)
    assert not report.agree and report.verdict == "differ"
    assert any("chi-square" in why and "split" in why for why in report.why), report.why
    assert judge(Flow("s", "d:1"), right, _counts(keys, [Fraction(1, 4)] * 4, n), alpha).verdict == "agree"
    # the first endpoint twice as likely (.4 .2 .2 .2) is seen too
    lopsided = [Fraction(2, 5), Fraction(1, 5), Fraction(1, 5), Fraction(1, 5)]
    assert not judge(Flow("s", "d:1"), right, _counts(keys, lopsided, n), alpha).agree


def test_a_flow_whose_ranges_start_at_0_cannot_tell_and_says_so() -> None:
    """QA-stats 1: with 12 endpoints of 1/12 and 100 connections the range of each starts at 0, so an endpoint
    the kernel never reaches passes: the flow is inconclusive, not agreeing (nor differing)."""
    from kubeproxy_sim.kernel.differential import Report, render_table

    keys = _endpoints(12)
    prediction = Prediction(dict.fromkeys(keys, Fraction(1, 12)))
    counts = _counts(keys[1:], [Fraction(1, 11)] * 11, 100)  # endpoint 1 never reached
    report = judge(Flow("s", "d:1"), prediction, counts, Fraction(1, 1000) / 12)
    assert report.agree and report.verdict == "inconclusive" and report.blind
    assert report.as_json()["verdict"] == "inconclusive"
    text = render_table(Report((report,)))
    assert "CANNOT TELL" in text and "starts at 0" in text and "1 flows: 0 agree, 0 differ, 1 cannot tell" in text
    # sized as the run sizes it, the range starts at 1 and the unreached endpoint differs
    n = sample_size(prediction, Fraction(1, 1000) / 12)
    assert (1 - 1 / 12) ** n <= 1e-3 / 12 / 8
    sized = judge(Flow("s", "d:1"), prediction, _counts(keys[1:], [Fraction(1, 11)] * 11, n), Fraction(1, 1000) / 12)
    assert sized.verdict == "differ" and not sized.blind


def test_the_hairpin_flow_starts_at_an_endpoint_in_the_service_chain() -> None:
    """A terminating endpoint while others are ready is in no chain: its flow to the Service lands on the others,
    so it is no hairpin (u1: netns verify named one so); with no ready endpoint left, the serving terminating one
    is the fallback kube-proxy takes, and hairpins."""
    ready_a, ready_b = "{addresses: [10.244.0.3], nodeName: node1", "{addresses: [10.244.0.4], nodeName: node1"
    leaving = ", conditions: {ready: false, serving: true, terminating: true}"
    for objects, hairpin in (
            (OBJECTS.replace(ready_a, ready_a + leaving), "default/web-b"),
            (OBJECTS.replace(ready_a, ready_a + leaving).replace(ready_b, ready_b + leaving)
             .replace("{addresses: [10.244.1.3], nodeName: node2", "{addresses: [10.244.1.3], nodeName: node2"
                      ", conditions: {ready: false, serving: false, terminating: true}"), "default/web-a")):
        cluster = load_text(objects, "hairpin.yaml").cluster
        _, config = small_cluster()
        full, clients = with_clients(cluster, config, ["node1"])
        flows, _ = derive_flows(full, SimulatorSide(full, config).plain, clients)
        assert [f.src for f in flows if f.kind == "hairpin"] == [f"pod/{hairpin}"]
