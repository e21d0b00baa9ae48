"""The simulator's parts on their own: conntrack, DNS, the health server, the CLI commands, pcap."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli import healthz_cmd
from kubeproxy_sim.cli.main import build_parser, main
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.simulator.conntrack import Conntrack, State
from kubeproxy_sim.simulator.dns import ClusterDNS, parse_hosts
from kubeproxy_sim.simulator.health import service_health
from kubeproxy_sim.simulator.network import Client, Simulator
from kubeproxy_sim.simulator.topology import plan_nodes
from tests.simulator.builders import (
    BASE,
    DNS,
    HOSTS,
    HTTP,
    WEB,
    dns_node_port,
    load,
    objects,
    service,
    simulator,
    slice_,
    with_conditions,
)

TCP = ("tcp", 4, 1, 1000, 2, 80)
REPLY = ("tcp", 4, 3, 8080, 1, 1000)


def test_conntrack_tcp_states_and_timeouts():
    table = Conntrack()
    entry = table.add(TCP, REPLY, 0.0, dnat=True, snat=False)
    assert entry.state is State.SYN_SENT and entry.expires == 120
    assert table.lookup(REPLY, 1.0) == (entry, True)
    table.seen(entry, True, 1.0)
    assert entry.state is State.SYN_RECV
    table.seen(entry, False, 2.0)
    assert entry.state is State.ESTABLISHED and entry.expires == 2.0 + 432000
    assert table.lookup(TCP, 432001.0) is not None
    assert table.lookup(TCP, 432003.0) is None and len(table) == 0


def test_conntrack_udp_unreplied_and_stream_timeouts():
    table = Conntrack()
    udp, reply = ("udp", 4, 1, 5, 2, 53), ("udp", 4, 3, 53, 1, 5)
    entry = table.add(udp, reply, 0.0, dnat=True, snat=False)
    assert entry.expires == 30
    table.seen(entry, True, 10.0)
    # nf_conntrack_udp_packet: the reply alone refreshes the 30 s (the kernel marks it seen after its refresh) ...
    assert entry.state is State.REPLIED and entry.expires == 40
    table.seen(entry, False, 10.0)  # ... the next packet, more than 2 s after the first, makes it a stream
    assert entry.state is State.ASSURED and entry.expires == 130
    assert table.clear_stale_udp(lambda dst, port, reply_src: reply_src == 3) == 1 and len(table) == 0


def test_conntrack_udp_stream_only_after_two_seconds() -> None:
    """nf_conntrack_proto_udp.c: 30 s unreplied and replied; 120 s (ASSURED) only for a packet of a replied flow
    more than 2 s after the entry was created (stream_ts), and from then on."""
    table = Conntrack()
    udp, reply = ("udp", 4, 1, 5, 2, 53), ("udp", 4, 3, 53, 1, 5)
    entry = table.add(udp, reply, 100.0, dnat=True, snat=False)
    table.seen(entry, False, 100.5)  # no reply yet: unreplied, 30 s from this packet
    assert (entry.state, entry.expires) == (State.UNREPLIED, 130.5)
    table.seen(entry, True, 101.0)
    assert (entry.state, entry.expires) == (State.REPLIED, 131.0)
    table.seen(entry, False, 102.0)  # within 2 s of the first packet: still no stream
    assert (entry.state, entry.expires) == (State.REPLIED, 132.0)
    table.seen(entry, True, 102.0)  # exactly 2 s: time_after is strict
    assert (entry.state, entry.expires) == (State.REPLIED, 132.0)
    table.seen(entry, False, 102.5)
    assert (entry.state, entry.expires) == (State.ASSURED, 222.5)
    table.seen(entry, True, 150.0)
    assert (entry.state, entry.expires) == (State.ASSURED, 270.0)
    assert table.lookup(udp, 269.0) is not None and table.lookup(udp, 270.0) is None


def test_udp_request_and_answer_expire_after_30_s() -> None:
    """One datagram and its answer leave a 30 s entry (the kernel's `netns send --proto udp`: 29 s, not ASSURED):
    the same socket 45 s later is a new flow, balanced again, not pinned to the first pod for 120 s."""
    import random

    from kubeproxy_sim.simulator.network import Simulator

    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    sim = Simulator(load(objects()), BASE, rng=random.Random(3), hosts=HOSTS, clock=clock)
    client = sim.client("pod", "default/client")
    table = sim.runtimes["node1"].conntrack
    first = sim.connect(client, "10.96.0.53", 53, "udp", sport=45678)
    assert first.failure is None
    entry = next(e for e in table.entries() if e.orig[3] == 45678)
    assert (entry.state, entry.expires) == (State.REPLIED, 30.0)
    landed = {first.target}
    for step in range(1, 40):
        clock.now = 45.0 * step
        answer = sim.connect(client, "10.96.0.53", 53, "udp", sport=45678)
        assert answer.failure is None
        landed.add(answer.target)
    assert landed == {"default/web-1", "default/web-2", "default/web-3"}


def test_conntrack_clear_keeps_tcp():
    table = Conntrack()
    table.add(TCP, REPLY, 0.0, dnat=True, snat=False)
    assert table.clear_stale_udp(lambda dst, port, reply_src: True) == 0 and len(table) == 1


def test_udp_cleanup_is_upstream_s_reconciler() -> None:
    """By serving endpoint IP, per service address and NodePort; a service with none is left alone."""
    from kubeproxy_sim.netfilter.packet import parse_address
    from kubeproxy_sim.simulator.stale import udp_cleanup
    from tests.simulator.builders import BASE, load, objects

    def ip(text: str) -> int:
        return parse_address(text)[1]

    before = load(objects())
    assert udp_cleanup(before, before, BASE) is None  # nothing changed: ConntrackCleanupRequired is false
    after = load(objects(dns_pods=("web-1",)))
    plan = udp_cleanup(before, after, BASE)
    assert plan is not None
    dns_ip = next(s.cluster_ips[0] for s in after.services if s.name == "dns")
    web1 = next(p.pod_ips[0] for p in after.pods if p.name == "web-1")
    web2 = next(p.pod_ips[0] for p in after.pods if p.name == "web-2")
    assert not plan.doomed(ip(dns_ip), 53, ip(web1))  # still serving
    assert plan.doomed(ip(dns_ip), 53, ip(web2))  # no longer an endpoint
    assert not plan.doomed(ip(dns_ip), 54, ip(web2))  # another port: not the service's
    none_left = udp_cleanup(before, load(objects(dns_pods=())), BASE)
    assert none_left is not None and not none_left.by_address  # no serving endpoint: nothing is cleared


def test_udp_cleanup_clears_node_port_entries_on_any_address() -> None:
    """Upstream's CleanStaleEntries also filters on --orig-port-dst NodePort: an entry to the NodePort, whatever the
    node address it was sent to, whose reply source is no longer a serving endpoint is deleted."""
    from kubeproxy_sim.netfilter.packet import parse_address
    from kubeproxy_sim.simulator.stale import udp_cleanup

    def ip(text: str) -> int:
        return parse_address(text)[1]

    before = load(dns_node_port(objects()))
    after = load(dns_node_port(objects(dns_pods=("web-1",))))
    plan = udp_cleanup(before, after, BASE)
    assert plan is not None
    web1 = next(p.pod_ips[0] for p in after.pods if p.name == "web-1")
    web2 = next(p.pod_ips[0] for p in after.pods if p.name == "web-2")
    assert plan.by_node_port == {30053: frozenset({ip(web1)})}
    for address in ("192.168.0.10", "192.168.0.11", "127.0.0.1", "203.0.113.7"):  # any destination address
        assert plan.doomed(ip(address), 30053, ip(web2)), address  # no longer an endpoint
        assert not plan.doomed(ip(address), 30053, ip(web1)), address  # still serving
        assert not plan.doomed(ip(address), 30054, ip(web2)), address  # not the service's NodePort
    none_left = udp_cleanup(before, load(dns_node_port(objects(dns_pods=()))), BASE)
    assert none_left is not None and not none_left.by_node_port  # no serving endpoint: nothing is cleared


def _udp_port_taken_over(taken: bool, mix_tcp: tuple[str, ...] = ("web-1", "web-2"),
                         web_pods: tuple[str, ...] = WEB) -> list[dict]:
    """``dns`` (endpoint web-1) holds NodePort 30053 until ``taken``, when ``dns2`` (endpoint web-3) has it;
    ``mix`` has a UDP port and a TCP port in slices of their own, the TCP one's endpoints ``mix_tcp``."""
    udp_port = {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353}
    dns2 = {"type": "NodePort", "clusterIP": "10.96.0.54", "ports": [{**udp_port, "nodePort": 30053}]} if taken \
        else {"type": "ClusterIP", "clusterIP": "10.96.0.54", "ports": [udp_port]}
    mix = service("mix", {"type": "ClusterIP", "clusterIP": "10.96.0.60",
                          "ports": [{**udp_port, "port": 54}, {"name": "http", "port": 80, "protocol": "TCP",
                                                               "targetPort": 8080}]})
    mix_tcp_slice = slice_("mix", mix_tcp, HTTP)
    mix_tcp_slice["metadata"]["name"] = "mix-tcp"
    extra = [service("dns2", dns2), slice_("dns2", ("web-3",), DNS), mix, slice_("mix", ("web-1",), DNS),
             mix_tcp_slice]
    docs = objects(web_pods=web_pods, dns_pods=("web-1",), extra=extra)
    return docs if taken else dns_node_port(docs)


def _stale_node_port_entry() -> tuple[Simulator, Client]:
    """An outside client's UDP flow to NodePort 30053 (on web-1, dns's endpoint), made stale by a change of
    Services only (dns2 takes the port): upstream's cleanup does not run for it, so the entry stays."""
    sim = simulator(15, docs=_udp_port_taken_over(False))
    client = sim.client("external", ip="198.51.100.7")
    assert sim.connect(client, "192.168.0.10", 30053, "udp", sport=42000).target == "default/web-1"
    assert sim.update(load(_udp_port_taken_over(True))) == 0  # no slice changed: ConntrackCleanupRequired false
    assert sim.connect(client, "192.168.0.10", 30053, "udp", sport=42000).target == "default/web-1"
    return sim, client


def test_udp_cleanup_runs_when_a_udp_service_changes_only_its_tcp_slice() -> None:
    """Upstream sets ConntrackCleanupRequired per changed Service (endpointschangetracker.go's Update: any UDP
    port in the Service's endpoints before or after), and the cleanup then reconciles every UDP service: "mix"
    losing a TCP endpoint clears the stale NodePort entry of another service."""
    sim, client = _stale_node_port_entry()
    assert sim.update(load(_udp_port_taken_over(True, mix_tcp=("web-1",)))) == 1
    assert sim.connect(client, "192.168.0.10", 30053, "udp", sport=42000).target == "default/web-3"


def test_udp_cleanup_does_not_run_when_a_tcp_only_service_changes() -> None:
    """A Service with no UDP port ("web") changing its slice does not set ConntrackCleanupRequired: the stale
    entry stays."""
    sim, client = _stale_node_port_entry()
    assert sim.update(load(_udp_port_taken_over(True, web_pods=("web-1", "web-2")))) == 0
    assert sim.connect(client, "192.168.0.10", 30053, "udp", sport=42000).target == "default/web-1"


def test_snat_without_random_fully_keeps_the_port_unless_its_reply_tuple_is_taken() -> None:
    """--random-fully=false: MASQUERADE keeps the client's source port when it is free. Two outside clients with the
    same source port, masqueraded by node1 to the one endpoint (on node2), would share a reply tuple: the second
    gets another port, so each keeps its own entry and its own replies."""
    import dataclasses
    import random

    from kubeproxy_sim.netfilter.packet import parse_address
    from kubeproxy_sim.simulator.network import Simulator

    config = dataclasses.replace(BASE, random_fully=False)
    sim = Simulator(load(objects(web_pods=("web-2",))), config, rng=random.Random(7), hosts=HOSTS)
    assert sim.runtimes["node1"].node.config.random_fully is False
    first, second = sim.client("external", ip="198.51.100.7"), sim.client("external", ip="198.51.100.8")
    for client in (first, second):
        connection = sim.connect(client, "192.168.0.10", 30080, "tcp", sport=40000)
        assert (connection.target, connection.seen) == ("default/web-2", "192.168.0.10"), connection
    entries = {entry.orig[2]: entry for entry in sim.runtimes["node1"].conntrack.entries()}  # by client address
    ours = [entries[parse_address(c.ip)[1]] for c in (first, second)]
    assert [e.snat for e in ours] == [True, True]
    assert ours[0].reply[5] == 40000  # the first keeps its port: no random-fully
    assert ours[1].reply[5] != 40000 and ours[0].reply != ours[1].reply
    again = sim.connect(first, "192.168.0.10", 30080, "tcp", sport=40000)  # the first connection's next packet
    assert (again.target, again.failure) == ("default/web-2", None), again


def test_server_at_names_who_answers_at_a_host_s_address() -> None:
    """A pod, a node or an outside host answers, or refuses; an address no host has (a pod subnet's free address,
    the outside, a load balancer's) is None."""
    from kubeproxy_sim.simulator.network import REJECT, Failure
    from tests.simulator.builders import simulator

    sim = simulator()
    assert sim.server_at("10.244.2.10", 8080, "tcp") == ("default/web-2", "10.244.2.10", "node2")
    assert sim.server_at("192.168.0.10", 10256, "tcp") == ("node/node1", "192.168.0.10", "node1")  # healthz
    assert sim.server_at("93.184.216.34", 443, "tcp") == ("external/example.com", "93.184.216.34", None)
    for address, port in (("10.244.2.10", 9999), ("192.168.0.10", 1)):
        refused = sim.server_at(address, port, "tcp")
        assert isinstance(refused, Failure) and refused.reason == REJECT, refused
    assert [sim.server_at(a, 80, "tcp") for a in ("10.244.1.99", "8.8.8.8", "203.0.113.100")] == [None] * 3


def test_server_at_for_a_packet_the_rules_send_on() -> None:
    """send's view: loopback is the node the packet is on; a client's host refuses, a balancer is silent."""
    from kubeproxy_sim.simulator.network import REJECT, TIMEOUT
    from tests.simulator.builders import simulator

    sim = simulator()
    assert sim.server_at("127.0.0.1", 10256, "tcp") is None
    assert sim.server_at("127.0.0.1", 10256, "tcp", node="node1") == ("node/node1", "127.0.0.1", "node1")
    client = "203.0.113.10"  # the builders' outside client
    assert sim.server_at(client, 80, "tcp") is None
    assert [getattr(sim.server_at(a, 80, "tcp", senders=True), "reason", None)
            for a in (client, "203.0.113.100", "8.8.8.8")] == [REJECT, TIMEOUT, None]


def dns() -> ClusterDNS:
    return ClusterDNS(load(objects()), HOSTS)


def test_dns_service_names_and_search_path():
    resolver = dns()
    assert resolver.resolve("web", "default").addresses == ("10.96.0.10",)
    assert resolver.resolve("web.default", "other").addresses == ("10.96.0.10",)
    assert resolver.resolve("web.default.svc.cluster.local.").name == "web.default.svc.cluster.local"
    assert resolver.resolve("web", "other").rcode == "NXDOMAIN"
    assert resolver.resolve("nope.default", "default").rcode == "NXDOMAIN"


def test_dns_headless_external_name_srv_and_pods():
    resolver = dns()
    assert set(resolver.resolve("web-headless.default", "default").addresses) == {"10.244.1.10", "10.244.2.10",
                                                                              "10.244.2.11"}
    assert resolver.resolve("web-1.web-headless.default.svc.cluster.local", None).addresses == ("10.244.1.10",)
    answer = resolver.resolve("ext.default", "default")
    assert answer.cname == "example.com" and answer.addresses == ("93.184.216.34",)
    (srv,) = resolver.resolve("_http._tcp.web.default.svc.cluster.local", None).records
    assert srv.type == "SRV" and srv.port == 80 and srv.value == "web.default.svc.cluster.local"
    assert resolver.resolve("10-244-1-5.default.pod.cluster.local", None).addresses == ("10.244.1.5",)


def test_dns_a_cname_alone_ends_the_search_as_glibc_s_res_search():
    """glibc's res_search takes any NOERROR answer with records, a CNAME whose target has no address too, and
    getaddrinfo then finds no address in it: the search list's later names (here the bare ext, which --hosts
    knows) are not asked (the kernel's client stops there too, see kernel.dnsquery.lookup)."""
    resolver = ClusterDNS(load(objects()), (("ext", "192.0.2.9"),))  # example.com, ext's externalName, unknown
    answer = resolver.resolve("ext", "default")
    assert (answer.rcode, answer.name, answer.cname, answer.addresses) == \
        ("NOERROR", "ext.default.svc.cluster.local", "example.com", ())
    assert resolver.resolve("ext.", "default").addresses == ("192.0.2.9",)  # the name alone


def test_dns_pod_names_take_their_family_from_the_label_as_coredns_findpods():
    """QA-dns H1: no address in the label is NXDOMAIN (send used to end in an internal error); an address of the
    other family is no data; the namespace must exist."""
    v4, v6 = dns(), ClusterDNS(load(objects()), HOSTS, family=6)
    for label in ("foo", "1-2-3", "999-1-1-1", "1-2-3-4-5", "fe80--1%eth0"):
        assert v4.resolve(f"{label}.default.pod.cluster.local", None).rcode == "NXDOMAIN", label
        assert v6.resolve(f"{label}.default.pod.cluster.local", None).rcode == "NXDOMAIN", label
    assert v6.resolve("10-244-1-5.default.pod.cluster.local", None).rcode == "NOERROR"
    assert v6.resolve("10-244-1-5.default.pod.cluster.local", None).records == ()
    assert v6.resolve("fd00-10-244-1--5.default.pod.cluster.local", None).addresses == ("fd00:10:244:1::5",)
    assert v4.resolve("fd00-10-244-1--5.default.pod.cluster.local", None).addresses == ()
    assert v4.resolve("10-244-1-5.nosuchns.pod.cluster.local", None).rcode == "NXDOMAIN"  # QA-dns L6
    assert v4.resolve("10-244-1-5.kube-system.pod.cluster.local", None).addresses == ("10.244.1.5",)


def _headless_slices() -> list[dict]:
    """Headless ``hl``: slice hl-a (web-1, named web-1, and the unready web-3; http=8080) and slice hl-b (web-2,
    no hostname; http=9090), as during a rollout that changes a named targetPort; ``none``: no ready endpoint."""
    def slice_of(name: str, service: str, endpoints: list[dict], port: int) -> dict:
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
                "endpoints": endpoints, "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}

    def svc(name: str) -> dict:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}}

    return [svc("hl"), svc("none"),
            slice_of("hl-a", "hl", [{"addresses": ["10.244.1.10"], "hostname": "web-1"},
                                    {"addresses": ["10.244.2.11"], "conditions": {"ready": False}}], 8080),
            slice_of("hl-b", "hl", [{"addresses": ["10.244.2.10"]}], 9090),
            slice_of("none-a", "none", [{"addresses": ["10.244.2.11"], "conditions": {"ready": False}}], 8080)]


def test_dns_endpoint_names_are_hostnames_else_dashed_addresses_for_every_service():
    """QA-dns H2 and L2: CoreDNS endpointHostname names an endpoint without a hostname by its dashed address (the
    SRV answer already did), for a ClusterIP Service's endpoints too; an unready endpoint has no name."""
    resolver = ClusterDNS(load(objects(extra=_headless_slices())), HOSTS)
    assert resolver.resolve("10-244-2-10.hl.default", "default").addresses == ("10.244.2.10",)
    assert resolver.resolve("Web-1.HL.default", "default").addresses == ("10.244.1.10",)
    assert resolver.resolve("10-244-1-10.hl.default", "default").rcode == "NXDOMAIN"  # it has a hostname
    assert resolver.resolve("10-244-2-11.hl.default", "default").rcode == "NXDOMAIN"  # not ready
    assert resolver.resolve("web-2.web.default.svc.cluster.local", None).addresses == ("10.244.2.10",)
    assert resolver.resolve("web-2.ext.default.svc.cluster.local", None).rcode == "NXDOMAIN"
    assert ClusterDNS(load(objects(extra=_headless_slices())), HOSTS, family=6).resolve(
        "10-244-2-10.hl.default", "default").records == ()  # the name exists: no data for IPv6


def test_dns_headless_srv_pairs_each_slice_s_endpoints_with_that_slice_s_ports():
    """QA-dns M4: as CoreDNS's one subset per slice, not every endpoint with every slice's port."""
    resolver = ClusterDNS(load(objects(extra=_headless_slices())), HOSTS)
    answer = resolver.resolve("_http._tcp.hl.default.svc.cluster.local", None)
    assert [(r.value, r.port) for r in answer.records] == [("web-1.hl.default.svc.cluster.local", 8080),
                                                           ("10-244-2-10.hl.default.svc.cluster.local", 9090)]
    for record in answer.records:  # every SRV target resolves
        assert resolver.resolve(record.value, None).addresses


def test_dns_srv_names_take_port_and_protocol_with_or_without_underscores_as_coredns():
    """QA-dns L4: CoreDNS parseRequest takes any two labels before the Service as port and protocol, each without
    one leading underscore (stripUnderscore; "_" alone matches any), and an ExternalName Service has no SRV."""
    resolver = ClusterDNS(load(objects(extra=_headless_slices())), HOSTS)
    want = [("SRV", "web.default.svc.cluster.local", 80)]
    for name in ("_http._tcp.web.default", "http.tcp.web.default", "HTTP._TCP.web.default", "_._tcp.web.default",
                 "http._.web.default", "_._.web.default"):
        answer = resolver.resolve(name + ".svc.cluster.local", None)
        assert [(r.type, r.value, r.port) for r in answer.records] == want, name
    assert resolver.resolve("_http._udp.web.default.svc.cluster.local", None).rcode == "NXDOMAIN"
    assert resolver.resolve("_dns._tcp.web.default.svc.cluster.local", None).rcode == "NXDOMAIN"
    answer = resolver.resolve("http.tcp.hl.default.svc.cluster.local", None)
    assert [(r.value, r.port) for r in answer.records] == [("web-1.hl.default.svc.cluster.local", 8080),
                                                           ("10-244-2-10.hl.default.svc.cluster.local", 9090)]
    ext = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext2", "namespace": "default"},
           "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"name": "http", "port": 80}]}}
    answer = ClusterDNS(load(objects(extra=[ext])), HOSTS).resolve("_http._tcp.ext2.default.svc.cluster.local", None)
    assert (answer.rcode, answer.records) == ("NOERROR", ())


def test_dns_headless_without_ready_endpoints_is_nxdomain():
    """QA-dns M3: the spec (2.4.1) answers NXDOMAIN for a headless Service without ready endpoints."""
    resolver = ClusterDNS(load(objects(extra=_headless_slices())), HOSTS)
    assert resolver.resolve("none.default", "default").rcode == "NXDOMAIN"
    assert resolver.resolve("hl.default", "default").addresses == ("10.244.1.10", "10.244.2.10")


def test_dns_a_headless_service_applied_again_without_cluster_ip_stays_headless():
    """QA-dns H3 kept apart from an unset clusterIP: the API server keeps "None" for an apply that leaves clusterIP
    out (controllers.world), so the Service still answers its pods, and a further apply gives it no address."""
    import random
    from dataclasses import replace

    from kubeproxy_sim.controllers import world as W
    from kubeproxy_sim.objects.model import Cluster

    cluster = load(objects())
    headless = next(s for s in cluster.services if s.name == "web-headless")
    w = W.World(nodes=cluster.nodes)
    rng = random.Random(0)
    w = W.put_service(w, W.admit_service(w, headless, rng))
    for _ in range(2):
        w = W.put_service(w, W.admit_service(w, replace(headless, cluster_ip_unset=True), rng))
    kept = w.service("default", "web-headless")
    assert kept is not None and kept.headless and kept.cluster_ips == ()
    resolver = ClusterDNS(Cluster(services=(kept,), endpoint_slices=cluster.endpoint_slices), HOSTS)
    assert len(resolver.resolve("web-headless.default", "default").addresses) == 3


def _alias(name: str, target: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": target}}


def test_dns_follows_cnames_as_coredns_and_answers_no_data_where_it_gives_up():
    """QA-dns L1: 8 CNAMEs are followed (a 9th is dropped); a loop or a dropped chain is NOERROR without data,
    never SERVFAIL; a CNAME into the zone to a name without records is dropped; an IP ExternalName gives no
    record (M3)."""
    chain = [_alias(f"c{i}", f"c{i + 1}.default.svc.cluster.local") for i in range(1, 9)]
    chain.append(_alias("c9", "web.default.svc.cluster.local"))
    resolver = ClusterDNS(load(objects(extra=[*chain, _alias("self", "self.default.svc.cluster.local"),
                                              _alias("gone", "gone.nowhere.svc.cluster.local"),
                                              _alias("ip", "192.0.2.7")])), HOSTS)
    eight = resolver.resolve("c2.default", "default")
    assert eight.addresses == ("10.96.0.10",) and [r.type for r in eight.records].count("CNAME") == 8
    nine = resolver.resolve("c1.default", "default")
    assert (nine.rcode, nine.records) == ("NOERROR", ())
    for name in ("self.default", "gone.default"):
        assert (resolver.resolve(name, "default").rcode, resolver.resolve(name, "default").records) == ("NOERROR", ())
    assert resolver.resolve("ip.default", "default").rcode == "NXDOMAIN"


def test_dns_apex_svc_pod_and_namespace_names_are_no_data():
    """QA-dns L5: CoreDNS's parseRequest and findServices answer these NOERROR without records."""
    resolver = dns()
    for name in ("cluster.local.", "svc.cluster.local.", "pod.cluster.local.", "default.svc.cluster.local.",
                 "kube-system.pod.cluster.local."):
        answer = resolver.resolve(name, "default")
        assert (answer.rcode, answer.records) == ("NOERROR", ()), name
    assert resolver.resolve("nosuchns.svc.cluster.local.", "default").rcode == "NXDOMAIN"
    assert resolver.resolve("foo.cluster.local.", "default").rcode == "NXDOMAIN"


def test_parse_hosts():
    assert parse_hosts("# c\n93.184.216.34 example.com www.example.com\n\n") == (
        ("example.com", "93.184.216.34"), ("www.example.com", "93.184.216.34"))
    with pytest.raises(InputError, match=r"hosts.txt:1"):
        parse_hosts("not-an-ip name\n", "hosts.txt")


def test_health_server_answers_as_kube_proxy():
    cluster = load(objects(local_pods=("web-2", "web-3")))
    service = next(s for s in cluster.services if s.name == "web-local")
    nodes = {n.name: n.config for n in plan_nodes(cluster, BASE)}
    healthy = service_health(cluster, nodes["node2"], service)
    assert healthy.status == 200 and healthy.local_endpoints == 2
    assert json.loads(healthy.body) == {"service": {"namespace": "default", "name": "web-local"},
                                        "localEndpoints": 2, "serviceProxyHealthy": True}
    assert dict(healthy.headers)["X-Load-Balancing-Endpoint-Weight"] == "2"
    sick = service_health(cluster, nodes["node1"], service)
    assert sick.status == 503 and sick.local_endpoints == 0


def test_health_answer_on_the_wire_has_net_http_date_and_length():
    """Go's net/http adds Date (from the clock: here the injected one) and, for a small body written in one go,
    Content-Length after the handler's headers, which it writes in key order (server.go, extraHeader.Write)."""
    cluster = load(objects(local_pods=("web-2", "web-3")))
    service = next(s for s in cluster.services if s.name == "web-local")
    nodes = {n.name: n.config for n in plan_nodes(cluster, BASE)}
    for node, status in (("node2", 200), ("node1", 503)):
        handler = service_health(cluster, nodes[node], service)
        assert "Date" not in dict(handler.headers)  # the handler sets neither; the server writes them
        wire = handler.sent(1136214245.9)  # 2006-01-02 15:04:05.9 UTC: Go's reference time, truncated
        assert wire.status == status and wire.body == handler.body
        assert [key for key, _ in wire.headers] == ["Content-Type", "X-Content-Type-Options",
                                                    "X-Load-Balancing-Endpoint-Weight", "Date", "Content-Length"]
        assert dict(wire.headers)["Date"] == "Mon, 02 Jan 2006 15:04:05 GMT"
        assert dict(wire.headers)["Content-Length"] == str(len(wire.body.encode()))
        again = wire.sent(0.0)  # a Date or Content-Length already set is kept, as net/http keeps the handler's
        assert sorted(again.headers) == sorted(wire.headers) and len(again.headers) == 5
        http = wire.render_http()
        assert f"\nDate: Mon, 02 Jan 2006 15:04:05 GMT\nContent-Length: {len(wire.body)}\n\n{{" in http


def test_health_server_does_not_count_a_serving_terminating_endpoint():
    """Upstream counts only *ready* local endpoints (endpointschangetracker.go, LocalReadyEndpoints): a node whose
    only local endpoint is draining (serving and terminating, not ready) must fail the check even though its rules
    still fall back to that endpoint."""
    docs = with_conditions(objects(), "web-local", "web-1", ready=False, serving=True, terminating=True)
    cluster = load(docs)
    service = next(s for s in cluster.services if s.name == "web-local")
    nodes = {n.name: n.config for n in plan_nodes(cluster, BASE)}
    draining = service_health(cluster, nodes["node1"], service)
    assert draining.status == 503 and draining.local_endpoints == 0
    assert json.loads(draining.body)["localEndpoints"] == 0
    assert dict(draining.headers)["X-Load-Balancing-Endpoint-Weight"] == "0"
    assert service_health(cluster, nodes["node2"], service).local_endpoints == 2


@pytest.fixture
def manifest(tmp_path):
    import yaml

    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objects()))
    hosts = tmp_path / "hosts"
    hosts.write_text("93.184.216.34 example.com\n")
    return path, hosts


def test_cli_send_json_and_pcap(manifest, tmp_path, capsys):
    """The pcap is read back with scapy's layers loaded (scapy.layers.l2: Ethernet is link type 1): the writer no
    longer imports scapy (7e688a5), so a plain scapy.utils import reads every frame as Raw."""
    import scapy.layers.inet  # noqa: F401  (registers Ether, from scapy.layers.l2, and IP with the reader)
    from scapy.utils import rdpcap

    path, hosts = manifest
    pcap = tmp_path / "out.pcap"
    code = main(["send", "-f", str(path), "--hosts", str(hosts), "--cluster-cidr", "10.244.0.0/16",
                 "--from", "pod/default/client", "--to", "ext.default:443", "--count", "3", "-o", "json",
                 "--pcap", str(pcap)])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["delivered"][0]["pod"] == "external/example.com" and data["delivered"][0]["count"] == 3
    frames = rdpcap(str(pcap))
    assert len(frames) >= 3 * 3 and frames[0]["IP"].src == "10.244.1.5"


def test_cli_send_text_and_errors(manifest, capsys):
    path, _ = manifest
    assert main(["send", "-f", str(path), "--from", "external", "--to", "node/node1:30080", "--count", "20"]) == 0
    assert "EXPECTED" in capsys.readouterr().out  # the table header (send_cmd.send_text)
    assert main(["send", "-f", str(path), "--from", "pod/x/y", "--to", "node/node1:30080"]) == 1
    assert "--from" in capsys.readouterr().err


def test_cli_healthz(manifest, capsys):
    path, _ = manifest
    assert main(["healthz", "-f", str(path), "--node", "node1", "default/web-local", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == 200 and data["body"]["localEndpoints"] == 1
    assert data["headers"]["Content-Length"] == str(len(json.dumps(data["body"], indent="\t")))
    args = build_parser("healthz").parse_args(["healthz", "-f", str(path), "--node", "node1", "default/web-local"])
    assert healthz_cmd.run(args, clock=lambda: 86400.0) == 0  # the Date is the injected clock's
    assert "\nDate: Fri, 02 Jan 1970 00:00:00 GMT\nContent-Length: " in capsys.readouterr().out
    assert main(["healthz", "-f", str(path), "--node", "node1", "default/web"]) == 1
    assert "healthCheckNodePort" in capsys.readouterr().err


def _node_entries(sim, node: str, dst: str) -> list:
    from kubeproxy_sim.netfilter.packet import parse_address

    value = parse_address(dst)[1]
    return [e for e in sim.runtimes[node].conntrack.entries() if e.orig[4] == value]


def test_random_fully_draws_a_port_even_when_masquerade_keeps_the_address() -> None:
    """nf_nat's get_unique_tuple under NF_NAT_RANGE_PROTO_RANDOM_FULLY skips 'keep the original tuple': a node's own
    connection to a cluster IP (masqueraded to the node's own address: its endpoints are on the other node, so the
    packet leaves by eth0) gets a new source port every time; without --random-fully the port is kept."""
    import dataclasses
    import random

    from kubeproxy_sim.simulator.network import Simulator

    for random_fully in (True, False):
        config = dataclasses.replace(BASE, random_fully=random_fully)
        sim = Simulator(load(objects(web_pods=("web-2", "web-3"))), config, rng=random.Random(3), hosts=HOSTS)
        node = sim.client("node", "node1")
        for sport in (40000, 40001, 40002, 40003):
            assert sim.connect(node, "10.96.0.10", 80, sport=sport).failure is None
        entries = _node_entries(sim, "node1", "10.96.0.10")
        assert len(entries) == 4
        assert all(e.reply[4] == e.orig[2] for e in entries)  # masqueraded to the address it already had
        kept = [e.reply[5] == e.orig[3] for e in entries]
        assert kept == [not random_fully] * 4, (random_fully, [(e.orig[3], e.reply[5]) for e in entries])
        assert [e.snat for e in entries] == [random_fully] * 4


def test_null_binding_remaps_a_port_whose_reply_tuple_is_taken() -> None:
    """No NAT rule: the kernel's null binding still runs get_unique_tuple, so a node's own connection whose reply
    tuple is an earlier masqueraded connection's gets another source port; both entries live."""
    import dataclasses
    import random

    from kubeproxy_sim.netfilter.packet import parse_address
    from kubeproxy_sim.simulator.network import Simulator

    config = dataclasses.replace(BASE, random_fully=False)
    sim = Simulator(load(objects(web_pods=("web-1",))), config, rng=random.Random(2), hosts=HOSTS)
    table = sim.runtimes["node1"].conntrack
    outside = sim.client("external", ip="198.51.100.7")
    first = sim.connect(outside, "192.168.0.10", 30080, sport=41000)
    assert (first.target, first.seen) == ("default/web-1", "10.244.1.1"), first  # the pod bridge's address
    masqueraded = next(e for e in table.entries() if e.orig[2] == parse_address("198.51.100.7")[1])
    assert masqueraded.reply[4:] == (parse_address("10.244.1.1")[1], 41000)
    # the node's own connection to its pod leaves from the bridge's address too (its route's source): the same reply
    second = sim.connect(sim.client("node", "node1"), "10.244.1.10", 8080, sport=41000)
    assert (second.target, second.failure) == ("default/web-1", None), second
    assert len(table) == 2 and table.lookup(masqueraded.reply, sim.now) == (masqueraded, True)
    own = next(e for e in table.entries() if e is not masqueraded)
    assert own.orig[3] == 41000 and own.reply[5] != 41000 and 1024 <= own.reply[5] <= 65535 and own.snat
    again = sim.connect(outside, "192.168.0.10", 30080, sport=41000)  # the first connection goes on as before
    assert (again.target, again.failure) == ("default/web-1", None), again


def test_nat_port_ranges_follow_the_original_port() -> None:
    """nf_nat_l4proto_unique_tuple without a rule's range: 1-511 below 512, 600-1023 below 1024, else 1024-65535;
    a clash draws from the range of the original port, and a full range drops the packet."""
    import dataclasses
    import random

    from kubeproxy_sim.netfilter.packet import parse_address
    from kubeproxy_sim.simulator.network import DROP, Simulator, nat_port_range

    assert [nat_port_range(p) for p in (1, 511, 512, 599, 600, 1023, 1024, 65535)] == \
        [(1, 511), (1, 511), (600, 1023), (600, 1023), (600, 1023), (600, 1023), (1024, 65535), (1024, 65535)]
    config = dataclasses.replace(BASE, random_fully=True)
    sim = Simulator(load(objects(web_pods=("web-1",))), config, rng=random.Random(5), hosts=HOSTS)
    node = sim.client("node", "node1")
    for sport, (lo, hi) in ((100, (1, 511)), (700, (600, 1023)), (5000, (1024, 65535))):
        assert sim.connect(node, "10.96.0.10", 80, sport=sport).failure is None
        entry = next(e for e in _node_entries(sim, "node1", "10.96.0.10") if e.orig[3] == sport)
        assert lo <= entry.reply[5] <= hi, (sport, entry.reply[5])
    # every port of 1-511 taken towards the endpoint: one more connection from a low port finds none free
    table = sim.runtimes["node1"].conntrack
    # web-1 is node1's own pod: the connection is masqueraded to node1's pod bridge address
    endpoint, bridge_address = _node_entries(sim, "node1", "10.96.0.10")[0].reply[2:4], parse_address("10.244.1.1")[1]
    for port in range(1, 512):
        table.add(("tcp", 4, 99, port, 98, 1), ("tcp", 4, *endpoint, bridge_address, port), sim.now, dnat=False,
                  snat=False)
    full = sim.connect(node, "10.96.0.10", 80, sport=200)
    assert full.failure is not None and full.failure.reason == DROP and "no free source port" in full.failure.detail
