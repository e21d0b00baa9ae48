"""netns send and send agree on where a name goes from pods of each dnsPolicy (a real cluster in namespaces), and
on the fate of the DNS query each connection sends first: it really crosses kube-proxy's DNAT to the CoreDNS pod's
namespace, where the responder answers it; with no ready kube-dns endpoint it is refused in both, and with
no local one under internalTrafficPolicy Local dropped in both."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel import build
from kubeproxy_sim.kernel.differential import REFUSED, Flow, SimulatorSide, compare, observe, outcome_text
from kubeproxy_sim.kernel.dnsquery import draws
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.send import lookup, resolve_destination, resolve_source, send, topology_record
from kubeproxy_sim.kernel.state import read_state
from kubeproxy_sim.kernel.verify import binomial_range
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.send import send as sim_send

pytestmark = pytest.mark.kernel


def _pod(namespace: str, name: str, ip: str, spec: str = "", ports: str = "") -> str:
    return f"""
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{nodeName: node1, containers: [{{name: c, image: x{ports}}}]{spec}}}
status: {{phase: Running, podIP: {ip}, podIPs: [{{ip: {ip}}}]}}"""


def _service(namespace: str, name: str, ip: str, port: int, target: int, proto: str, endpoint: str,
             pod: str) -> str:
    return f"""
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{clusterIP: {ip}, ports: [{{name: p, port: {port}, targetPort: {target}, protocol: {proto}}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-1, namespace: {namespace}, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
endpoints:
- {{addresses: [{endpoint}], nodeName: node1, targetRef: {{kind: Pod, namespace: {namespace}, name: {pod}}}}}
ports: [{{name: p, port: {target}, protocol: {proto}}}]"""


KUBE_DNS = "10.96.0.53"
OBJECTS = "\n".join([
    """apiVersion: v1
kind: Node
metadata: {name: node1}
spec: {podCIDRs: [10.244.0.0/24]}
status: {addresses: [{type: InternalIP, address: 192.168.49.2}]}""",
    # one endpoint each, so where a name went is who answered
    _service("default", "web", "10.96.0.10", 80, 8080, "TCP", "10.244.0.3", "web-a"),
    _pod("default", "web-a", "10.244.0.3", ports=", ports: [{containerPort: 8080}]"),
    _service("other", "web", "10.96.0.30", 80, 8080, "TCP", "10.244.0.4", "web-b"),
    _pod("other", "web-b", "10.244.0.4", ports=", ports: [{containerPort: 8080}]"),
    _service("kube-system", "kube-dns", KUBE_DNS, 53, 53, "UDP", "10.244.0.5", "coredns"),
    _pod("kube-system", "coredns", "10.244.0.5", ports=", ports: [{containerPort: 53, protocol: UDP}]"),
    _pod("default", "first", "10.244.0.11", ", dnsPolicy: ClusterFirst"),
    _pod("default", "plain", "10.244.0.12", ", dnsPolicy: Default"),
    _pod("default", "custom", "10.244.0.13", f", dnsPolicy: None, dnsConfig: {{nameservers: [{KUBE_DNS}], "
         "searches: [other.svc.cluster.local, svc.cluster.local], options: [{name: ndots, value: '2'}]}"),
    """
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: default}
spec: {type: ExternalName, externalName: web.other.svc.cluster.local}""",
])
COREDNS = "kube-system/coredns 10.244.0.5:53"  # the responder, and the address the query reached it at
CONFIG = ProxyConfig(node_name="node1", node_ips=("192.168.49.2/32",), cluster_cidrs=("10.244.0.0/16",),
                     node_pod_cidrs=("10.244.0.0/24",))
FLOWS = [  # (source, name, the pod it reaches, or None: it does not resolve)
    ("pod/default/first", "web:80", "default/web-a"),
    ("pod/default/first", "web.other:80", "other/web-b"),
    ("pod/default/first", "nope:80", None),
    ("pod/default/plain", "web.default:80", None),  # Default: the node's resolver, not kube-dns
    ("pod/default/plain", "web.default.svc.cluster.local:80", None),
    ("pod/default/custom", "web:80", "other/web-b"),  # its search list: other's first
    ("pod/default/custom", "web.default:80", "default/web-a"),  # 1 dot, ndots 2: the search list first
    ("pod/default/custom", "web.default.svc.cluster.local:80", "default/web-a"),
    ("pod/default/custom", "web.kube-system:80", None),  # NXDOMAIN along the whole search list
    ("pod/default/first", "ext:80", "other/web-b"),  # an ExternalName: a CNAME to other's web, followed
]


# the same cluster with kube-dns's one endpoint not ready: kube-proxy REJECTs what is sent to its cluster IP
UNREADY = OBJECTS.replace("- {addresses: [10.244.0.5], nodeName: node1,",
                          "- {addresses: [10.244.0.5], conditions: {ready: false}, nodeName: node1,")
assert UNREADY != OBJECTS
# kube-dns with internalTrafficPolicy Local and its endpoint on another node: kube-proxy DROPs node1's queries
LOCAL = OBJECTS.replace("metadata: {name: kube-dns, namespace: kube-system}\nspec: {clusterIP:",
                        "metadata: {name: kube-dns, namespace: kube-system}\nspec: {internalTrafficPolicy: Local, "
                        "clusterIP:").replace("- {addresses: [10.244.0.5], nodeName: node1,",
                                              "- {addresses: [10.244.0.5], nodeName: node2,")
assert LOCAL.count("internalTrafficPolicy: Local") == 1 and "nodeName: node2" in LOCAL

# kube-dns with 13 endpoints without Pod objects and another Service's 13 on UDP 53 of the same node: more than
# POOL_OVER endpoints of one (node, ports), so all share one pool namespace, whose UDP 53 must answer DNS
_POOLED_EPS = "\n".join(f"- {{addresses: [10.244.0.{i}], nodeName: node1}}" for i in range(100, 113))
POOLED = OBJECTS.replace("- {addresses: [10.244.0.5], nodeName: node1, targetRef: {kind: Pod, namespace: "
                         "kube-system, name: coredns}}", _POOLED_EPS) + """
---
apiVersion: v1
kind: Service
metadata: {name: dns2, namespace: default}
spec: {clusterIP: 10.96.0.99, ports: [{name: p, port: 53, targetPort: 53, protocol: UDP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns2-1, namespace: default, labels: {kubernetes.io/service-name: dns2}}
addressType: IPv4
endpoints:
""" + "\n".join(f"- {{addresses: [10.244.0.{i}], nodeName: node1}}" for i in range(120, 133)) + """
ports: [{name: p, port: 53, protocol: UDP}]
"""
assert POOLED.count("10.244.0.1") > 13 and "name: coredns}}" not in POOLED



def _headless(endpoints: list[str]) -> str:
    """The headless Service ``hl`` (port 8080/TCP) and its one slice of ``endpoints`` (YAML flow mappings)."""
    return """
---
apiVersion: v1
kind: Service
metadata: {name: hl, namespace: default}
spec: {clusterIP: None, ports: [{name: p, port: 8080, targetPort: 8080, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: hl-1, namespace: default, labels: {kubernetes.io/service-name: hl}}
addressType: IPv4
endpoints:
""" + "\n".join(f"- {e}" for e in endpoints) + """
ports: [{name: p, port: 8080, protocol: TCP}]"""


# a headless Service with three ready pods: its name answers three addresses, and each connection goes to one
HEADLESS = OBJECTS + _headless([f"{{addresses: [10.244.0.{20 + i}], nodeName: node1, targetRef: {{kind: Pod, "
                                f"namespace: default, name: hl-{i}}}}}" for i in range(3)]) + "".join(
    _pod("default", f"hl-{i}", f"10.244.0.{20 + i}", ports=", ports: [{containerPort: 8080}]") for i in range(3))
HEADLESS_PODS = [f"default/hl-{i}" for i in range(3)]


def _cluster(text: str = OBJECTS) -> Cluster:
    loaded = load_text(text, "send-dns.yaml")
    assert not [d for d in loaded.diagnostics if d.severity.value == "error"], loaded.diagnostics
    return loaded.cluster


def _up(name: str, text: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    cluster = _cluster(text)
    topo = plan(name, cluster, CONFIG)
    try:
        build.up(cluster, topo, state_dir, topology_record(topo, cluster))
        stored = read_state(state_dir, name)  # what a later netns send reads
        assert stored is not None
        yield stored
    finally:
        build.teardown(name, state_dir, read_state(state_dir, name))


@pytest.fixture(scope="module")
def state(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dns", OBJECTS, state_dir)


@pytest.fixture(scope="module")
def unready(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dnsx", UNREADY, state_dir)


@pytest.fixture(scope="module")
def local(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dnsl", LOCAL, state_dir)


@pytest.fixture(scope="module")
def headless(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dnsh", HEADLESS, state_dir)


@pytest.fixture(scope="module")
def pooled(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dnsp", POOLED, state_dir)


@pytest.mark.parametrize(("source", "name", "reached"), FLOWS)
def test_netns_send_reaches_the_pod_send_reaches_for_each_dns_policy(state: dict[str, Any], source: str,
                                                                     name: str, reached: str | None) -> None:
    simulator = Simulator(_cluster(), CONFIG, rng=random.Random(1))
    if reached is None:
        with pytest.raises(InputError) as simulated:
            sim_send(simulator, source, name, count=3, seed=1)
        with pytest.raises(InputError) as real:
            send(state, source, name, count=3)
        assert str(real.value).split(": ", 2)[:2] == str(simulated.value).split(": ", 2)[:2]  # --to: 'NAME'
        return
    simulated = sim_send(simulator, source, name, count=3, seed=1)
    assert [(d.pod, d.ip) for d in simulated.delivered] == [(reached, d.ip) for d in simulated.delivered]
    assert not simulated.failed  # the DNS query to kube-dns got through, and the connections
    result = send(state, source, name, count=3).result(state)
    assert not result.failed, result.failed
    assert [(d.pod, d.ip, d.count) for d in result.delivered] == [(d.pod, d.ip, d.count) for d in simulated.delivered]


@pytest.mark.parametrize(("source", "name", "answered"), [
    ("pod/default/first", "web:80", "web.default.svc.cluster.local"),  # the search list's first name
    ("pod/default/custom", "web.default:80", "web.default.svc.cluster.local"),  # after web.default.other.svc...
    ("pod/default/first", "ext:80", "ext.default.svc.cluster.local"),  # its CNAME followed in the answer
])
def test_each_connection_s_query_crosses_the_dnat_to_the_coredns_pod_which_answers_it(
        state: dict[str, Any], source: str, name: str, answered: str) -> None:
    result = send(state, source, name, count=4)
    assert result.dns_server == KUBE_DNS
    # the responder in the CoreDNS pod's namespace saw every connection's query, sent to the cluster IP and
    # arriving at the pod's own address (kube-proxy's DNAT)
    assert result.dns_seen == {COREDNS: 4}
    assert result.dns_failures == {} and sum(result.pods.values()) == result.count == 4
    client = resolve_source(state, source)
    dest = resolve_destination(state, name, client)
    answers = lookup(client, dest, 2, 1.5)
    assert [(a["rcode"], a["name"], a["addresses"]) for a in answers] == [("NOERROR", answered, [dest.ip])] * 2
    pod_ip = next(ip for ip, pod in state["pods"].items() if f"pod/{pod['key']}" == source)
    assert {a["witness"]["src"].rsplit(":", 1)[0] for a in answers} == {pod_ip}  # from the pod, not masqueraded


def test_a_seeded_run_s_queries_leave_from_the_same_ports_with_the_same_ids(state: dict[str, Any]) -> None:
    """--seed fixes the DNS queries as it fixes the connections: what the CoreDNS pod's responder saw (the source
    address and port, through the DNAT) and the message ID it answered are the same in two runs of one seed."""
    client = resolve_source(state, "pod/default/custom")
    dest = resolve_destination(state, "web.default:80", client)  # the search list's second name answers
    assert dest.query is not None and dest.query.names[1] == "web.default.svc.cluster.local"

    def asked(seed: int) -> list[tuple[int, str]]:
        return [(a["id"], a["witness"]["src"]) for a in lookup(client, dest, 4, 1.5, seed=seed)]

    first = asked(7)
    assert first == asked(7) != asked(8)
    assert first == [(d[1].qid, f"10.244.0.13:{d[1].port}") for d in draws(7, 4, len(dest.query.names))]
    assert send(state, "pod/default/custom", "web.default:80", count=4, seed=7).dns_seen == {COREDNS: 4}


def test_the_query_to_a_kube_dns_without_ready_endpoints_is_refused_as_in_send(unready: dict[str, Any]) -> None:
    simulated = sim_send(Simulator(_cluster(UNREADY), CONFIG, rng=random.Random(1)), "pod/default/first", "web:80",
                         count=4, seed=1)
    real = send(unready, "pod/default/first", "web:80", count=4).result(unready)
    assert not real.delivered and not simulated.delivered
    assert [(f.reason, f.count) for f in real.failed] == [(f.reason, f.count) for f in simulated.failed] == \
        [("REJECT", 4)]
    prefix = f"DNS query to {KUBE_DNS}:53: "
    assert simulated.failed[0].detail.startswith(prefix)
    assert real.failed[0].detail == prefix + "connection refused (a REJECT rule answered, or nothing listens on " \
        "the port)"
    assert real.as_json()["failed"] == [{"reason": "REJECT", "count": 4, "detail": real.failed[0].detail,
                                         "expected": None, "why": []}]
    # an address is not looked up: no query, and the REJECT is the connection's own (kube-dns has no endpoint)
    direct = send(unready, "pod/default/first", f"{KUBE_DNS}:53", proto="udp", count=2).result(unready)
    assert [(f.reason, f.detail.startswith("DNS")) for f in direct.failed] == [("REJECT", False)]


def test_a_query_kube_proxy_drops_is_a_drop_as_in_send(local: dict[str, Any]) -> None:
    simulated = sim_send(Simulator(_cluster(LOCAL), CONFIG, rng=random.Random(1)), "pod/default/first", "web:80",
                         count=3, seed=1)
    real = send(local, "pod/default/first", "web:80", count=3, timeout=0.5).result(local)
    assert [(f.reason, f.count) for f in real.failed] == [(f.reason, f.count) for f in simulated.failed] == \
        [("DROP", 3)]
    assert real.failed[0].detail == f"DNS query to {KUBE_DNS}:53: no answer within 0.5 s (a DROP rule met this " \
        "run's packets)"
    assert not real.delivered and not simulated.delivered


def test_a_pool_holding_kube_dns_and_another_service_s_udp_53_answers_dns_and_probes(pooled: dict[str, Any]) -> None:
    """One server socket on the pool's UDP 53, answering DNS (was two bound with SO_REUSEADDR: the plain one got
    every datagram and answered queries with the JSON line, so they timed out)."""
    pools = {p["netns"] for p in pooled["pods"].values() if p.get("pooled")}
    assert len(pools) == 1
    simulated = sim_send(Simulator(_cluster(POOLED), CONFIG, rng=random.Random(1)), "pod/default/first", "web:80",
                         count=6, seed=1)
    real = send(pooled, "pod/default/first", "web:80", count=6, timeout=1.0).result(pooled)
    assert not real.failed and not simulated.failed
    assert [(d.pod, d.count) for d in real.delivered] == [(d.pod, d.count) for d in simulated.delivered] == \
        [("default/web-a", 6)]
    # the other Service's endpoints in the pool still answer a probe's datagram with who they are
    probe = send(pooled, "pod/default/first", "10.96.0.99:53", proto="udp", count=4).result(pooled)
    assert not probe.failed and sum(d.count for d in probe.delivered) == 4


@pytest.mark.parametrize(("source", "name", "queries"), [
    ("pod/default/first", "hl:8080", 90),  # each connection's answer: the three, shuffled; it takes the first
    ("node/node1", "hl.default:8080", 0),  # no query: a random one per connection, as send's client
])
def test_a_headless_service_s_name_spreads_over_its_pods_as_in_send(headless: dict[str, Any], source: str, name: str,
                                                                    queries: int) -> None:
    """Was refused (one address per run); now as send: every pod of the three reached, each about a third of the
    connections (send's expected share, bounded as a binomial draw), and a seed's run reproduces exactly (its
    queries' IDs fix the responder's shuffles, or its generator the picks)."""
    simulated = sim_send(Simulator(_cluster(HEADLESS), CONFIG, rng=random.Random(3)), source, name, count=90, seed=3)
    real = send(headless, source, name, count=90, seed=3)
    result = real.result(headless)
    assert not result.failed and not simulated.failed, result.failed
    assert [d.pod for d in result.delivered] == [d.pod for d in simulated.delivered] == HEADLESS_PODS
    assert sum(real.dns_seen.values()) == queries
    for pod in simulated.delivered:
        assert pod.expected is not None and Fraction(pod.expected).limit_denominator(10) == Fraction(1, 3)
        low, high = binomial_range(90, Fraction(1, 3), Fraction(1, 10**6))
        assert low <= next(d.count for d in result.delivered if d.pod == pod.pod) <= high, result.delivered
    again = send(headless, source, name, count=90, seed=3).result(headless)
    assert [(d.pod, d.count) for d in again.delivered] == [(d.pod, d.count) for d in result.delivered]


def test_netns_verify_s_flows_to_names_ask_kube_dns_as_netns_send(headless: dict[str, Any],
                                                                   unready: dict[str, Any]) -> None:
    """netns verify (objects mode) makes a flow's connections as netns send does: a pod's name is looked up by a
    real DNS query first (was: no query, and a headless name's connections all went to its first address), and
    its simulator side predicts the query's fate, so both agree where the query fails too."""
    flows = [Flow("pod/default/first", "hl:8080", "tcp"), Flow("pod/default/custom", "web.default:80", "tcp")]
    reports = compare(SimulatorSide(_cluster(HEADLESS), CONFIG), headless, flows, timeout=1.0)
    assert [r.verdict for r in reports] == ["agree", "agree"], [r.why for r in reports]
    assert [(row.outcome, row.share) for row in reports[0].rows] == \
        [(outcome_text(("reply", f"10.244.0.{20 + i}", "10.244.0.11")), Fraction(1, 3)) for i in range(3)]
    refused = compare(SimulatorSide(_cluster(UNREADY), CONFIG), unready, [Flow("pod/default/first", "web:80", "tcp")],
                      timeout=1.0)
    assert [(r.verdict, [(row.outcome, row.share) for row in r.rows]) for r in refused] == \
        [("agree", [(outcome_text(("fail", REFUSED)), 1)])]
    assert observe(unready, Flow("pod/default/first", "web:80", "tcp"), 3, 1.0, False) == \
        Counter({("fail", REFUSED): 3})  # the query's REJECT: the connection to web itself would be answered


# kube-dns as the usual manifests declare it (dns 53/UDP and dns-tcp 53/TCP) and a headless Service of 95
# endpoints (no Pod objects: one pool namespace): its answer, 4 KB, is more than a datagram's 512 bytes
_KUBE_DNS_UDP = _service("kube-system", "kube-dns", KUBE_DNS, 53, 53, "UDP", "10.244.0.5", "coredns")
_KUBE_DNS_BOTH = _KUBE_DNS_UDP.replace(
    "ports: [{name: p, port: 53, targetPort: 53, protocol: UDP}]",
    "ports: [{name: p, port: 53, targetPort: 53, protocol: UDP}, {name: dns-tcp, port: 53, targetPort: 53, "
    "protocol: TCP}]").replace("ports: [{name: p, port: 53, protocol: UDP}]",
                               "ports: [{name: p, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]")
assert _KUBE_DNS_UDP in OBJECTS and _KUBE_DNS_BOTH.count("dns-tcp") == 2
BIG = 95
LARGE = OBJECTS.replace(_KUBE_DNS_UDP, _KUBE_DNS_BOTH) + _headless(
    [f"{{addresses: [10.244.0.{100 + i}], nodeName: node1}}" for i in range(BIG)]) + "\n"
LARGE_UDP_ONLY = LARGE.replace(_KUBE_DNS_BOTH, _KUBE_DNS_UDP)  # kube-dns without its dns-tcp port


@pytest.fixture(scope="module")
def large(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dnsb", LARGE, state_dir)


@pytest.fixture(scope="module")
def large_udp_only(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dnsu", LARGE_UDP_ONLY, state_dir)


def test_a_headless_name_too_large_for_a_datagram_is_answered_over_tcp_as_in_send(large: dict[str, Any]) -> None:
    """QA-dumps 1: 95 addresses (over 4 KB) were cut by the client's 4096-byte read, and every connection timed
    out. The responder cuts the UDP answer to 512 bytes with TC set, as CoreDNS; the client asks again over TCP,
    through the node's DNAT of kube-dns's dns-tcp port, gets all 95 and connects as send does."""
    client = resolve_source(large, "pod/default/first")
    dest = resolve_destination(large, "hl:8080", client)
    assert len(dest.choices()) == BIG
    answers = lookup(client, dest, 4, 2.0, seed=1)
    assert [(a["rcode"], a["over"], sorted(a["addresses"])) for a in answers] == \
        [("NOERROR", "tcp", sorted(dest.choices()))] * 4
    assert {a["witness"]["dst"] for a in answers} == {"10.244.0.5:53"}  # the CoreDNS pod, through the DNAT
    simulated = sim_send(Simulator(_cluster(LARGE), CONFIG, rng=random.Random(1)), "pod/default/first", "hl:8080",
                         count=40, seed=1)
    real = send(large, "pod/default/first", "hl:8080", count=40, seed=1)
    result = real.result(large)
    assert not result.failed and not simulated.failed, result.failed
    assert sum(d.count for d in result.delivered) == sum(d.count for d in simulated.delivered) == 40
    assert {d.ip for d in result.delivered} | {d.ip for d in simulated.delivered} <= set(dest.choices())
    assert real.dns_seen == {COREDNS: 40}


def test_without_kube_dns_s_tcp_port_the_retry_fails_as_in_a_real_cluster(large_udp_only: dict[str, Any]) -> None:
    """kube-dns declaring only 53/UDP: no rule of kube-proxy's takes the retry over TCP to its cluster IP, and
    a connection whose answer was truncated is never made, in send as in netns send (send delivered them before
    it modelled the 512-byte limit), and the differential's prediction is what netns send's client sees."""
    real = send(large_udp_only, "pod/default/first", "hl:8080", count=4, seed=1, timeout=1.0).result(large_udp_only)
    simulated = sim_send(Simulator(_cluster(LARGE_UDP_ONLY), CONFIG, rng=random.Random(1)), "pod/default/first",
                         "hl:8080", count=4, seed=1)
    assert not real.delivered and not simulated.delivered
    # the stage's router has no route to a cluster IP (a real network's default route may drop it instead)
    assert [(f.reason, f.count) for f in real.failed] == [(f.reason, f.count) for f in simulated.failed] == \
        [("NO_ROUTE", 4)]
    for row in (real.failed[0], simulated.failed[0]):
        assert row.detail.startswith(f"DNS query to {KUBE_DNS}:53: the answer over UDP was truncated, and the "
                                     "retry over TCP failed: "), row.detail
    flow = Flow("pod/default/first", "hl:8080", "tcp")
    assert observe(large_udp_only, flow, 3, 1.0, False) == \
        Counter({key: 3 for key in SimulatorSide(_cluster(LARGE_UDP_ONLY), CONFIG).leaves(flow)})


# kube-dns's dns-tcp port with a target port of its own (valid: each Service port names its own)
LARGE_TCP_APART = LARGE.replace("{name: dns-tcp, port: 53, targetPort: 53, protocol: TCP}",
                                "{name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP}").replace(
    "{name: dns-tcp, port: 53, protocol: TCP}", "{name: dns-tcp, port: 1053, protocol: TCP}")
assert LARGE_TCP_APART.count("1053") == 2


@pytest.fixture(scope="module")
def large_tcp_apart(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dnst", LARGE_TCP_APART, state_dir)


def test_the_retry_over_tcp_is_answered_on_the_dns_tcp_port_s_own_target_port(
        large_tcp_apart: dict[str, Any]) -> None:
    """Review r4 1: the stage answered DNS over TCP only on the target port of 53/UDP, so with dns-tcp's
    targetPort 1053 the plain TCP server's JSON line came back, was read as a length, and the run was refused
    as a bug. The retry is DNATed to 10.244.0.5:1053, answered there, and every connection made as in send."""
    client = resolve_source(large_tcp_apart, "pod/default/first")
    dest = resolve_destination(large_tcp_apart, "hl:8080", client)
    answers = lookup(client, dest, 2, 2.0, seed=1)
    assert [(a["rcode"], a["over"], len(a["addresses"])) for a in answers] == [("NOERROR", "tcp", BIG)] * 2
    assert {a["witness"]["dst"] for a in answers} == {"10.244.0.5:1053"}
    real = send(large_tcp_apart, "pod/default/first", "hl:8080", count=4, seed=1).result(large_tcp_apart)
    simulated = sim_send(Simulator(_cluster(LARGE_TCP_APART), CONFIG, rng=random.Random(1)), "pod/default/first",
                         "hl:8080", count=4, seed=1)
    assert not real.failed and not simulated.failed, real.failed
    assert sum(d.count for d in real.delivered) == sum(d.count for d in simulated.delivered) == 4


# options edns0: a pod asking with glibc's OPT record beside one without, and headless Services of 71 (hl) and 72
# (hm) endpoints behind a kube-dns without dns-tcp. Their names' UDP answers (by hand: 46 bytes to the question's
# end, 16 per compressed A record) hold 29 records without EDNS0 and, with the 1200 bytes glibc advertises and
# CoreDNS's 11-byte OPT echoed, 71: so only the edns0 pod's lookup of hl is answered without a retry over TCP
EDNS0 = OBJECTS + _pod("default", "edns", "10.244.0.14", ", dnsConfig: {options: [{name: edns0}]}") + _headless(
    [f"{{addresses: [10.244.0.{100 + i}], nodeName: node1}}" for i in range(71)]) + _headless(
    [f"{{addresses: [10.244.0.{171 + i}], nodeName: node1}}" for i in range(72)]).replace("hl", "hm") + "\n"


@pytest.fixture(scope="module")
def edns0(kernel: None, run_tag: str, state_dir: Path) -> Iterator[dict[str, Any]]:
    yield from _up(f"{run_tag}-dnse", EDNS0, state_dir)


@pytest.mark.parametrize(("source", "name", "answered"), [
    ("pod/default/first", "hl:8080", False),  # 71 records: past 512 bytes, and the retry over TCP finds no rule
    ("pod/default/edns", "hl:8080", True),  # within the 1200 its OPT record advertises
    ("pod/default/edns", "hm:8080", False),  # 72: past them
])
def test_options_edns0_moves_the_retry_to_1200_bytes_in_netns_send_as_in_send(edns0: dict[str, Any], source: str,
                                                                               name: str, answered: bool) -> None:
    client = resolve_source(edns0, source)
    dest = resolve_destination(edns0, name, client)
    assert dest.query is not None and dest.query.edns0 is source.endswith("edns")
    simulated = sim_send(Simulator(_cluster(EDNS0), CONFIG, rng=random.Random(1)), source, name, count=4, seed=1)
    real = send(edns0, source, name, count=4, seed=1, timeout=1.0).result(edns0)
    if answered:
        answers = lookup(client, dest, 2, 2.0, seed=1)
        assert [(a["over"], len(a["addresses"])) for a in answers] == [("udp", 71)] * 2
        assert not real.failed and not simulated.failed, real.failed
        assert sum(d.count for d in real.delivered) == sum(d.count for d in simulated.delivered) == 4
        return
    assert not real.delivered and not simulated.delivered
    assert [(f.reason, f.count) for f in real.failed] == [(f.reason, f.count) for f in simulated.failed] == \
        [("NO_ROUTE", 4)]
    for row in (real.failed[0], simulated.failed[0]):
        assert row.detail.startswith(f"DNS query to {KUBE_DNS}:53: the answer over UDP was truncated, and the "
                                     "retry over TCP failed: "), row.detail
