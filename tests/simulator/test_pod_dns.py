"""A client pod's dnsPolicy and dnsConfig decide where its DNS query goes, which search list and ndots apply, and
when the simulation cannot answer (kubelet pkg/kubelet/network/dns/dns.go, glibc's res_search)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.objects.model import DNSPolicy, Pod, PodDNSConfig
from kubeproxy_sim.simulator.dns import CLUSTER, OUTSIDE, UNASKED, pod_resolver
from kubeproxy_sim.simulator.send import expected_shares, parse_destination, send
from tests.simulator.builders import PODS, WEB, objects, simulator

KUBE_DNS = "10.96.0.99"
NS_PATH = ("default.svc.cluster.local", "svc.cluster.local", "cluster.local")


def _resolver(policy: DNSPolicy = DNSPolicy.CLUSTER_FIRST, config: PodDNSConfig | None = None, *,
              host_network: bool = False, kube_dns: str | None = KUBE_DNS, family: int = 4):
    pod = Pod("default", "p", dns_policy=policy, dns_config=config, host_network=host_network)
    return pod_resolver(pod, "default", label="pod/default/p", host_network=host_network, kube_dns=kube_dns,
                        kube_dns_pods=("10.244.1.10",), family=family)


def test_cluster_first_is_kube_dns_with_the_namespace_search_path_and_ndots_5():
    r = _resolver()
    assert (r.server, r.scope, r.searches, r.ndots, r.nameservers) == (KUBE_DNS, CLUSTER, NS_PATH, 5, (KUBE_DNS,))
    assert pod_resolver(None, "default", label="pod/default/ep", host_network=False, kube_dns=KUBE_DNS) == r.__class__(
        DNSPolicy.CLUSTER_FIRST, (KUBE_DNS,), NS_PATH, 5, KUBE_DNS)  # a pod without a Pod object: the default


def test_dns_config_is_merged_after_the_policy_s_own_as_the_kubelet_merges_it():
    config = PodDNSConfig(nameservers=(KUBE_DNS, "1.1.1.1", "8.8.8.8", "9.9.9.9"),
                          searches=("svc.cluster.local", "corp.example."), options=(("ndots", "2"), ("edns0", None)))
    r = _resolver(config=config)
    assert r.nameservers == (KUBE_DNS, "1.1.1.1", "8.8.8.8")  # duplicates left out, then the first 3
    assert r.searches == (*NS_PATH, "corp.example.")
    assert (r.ndots, r.server, r.scope) == (2, KUBE_DNS, CLUSTER)
    assert r.candidates("web") == ["web.default.svc.cluster.local", "web.svc.cluster.local", "web.cluster.local",
                                   "web.corp.example", "web"]
    assert r.candidates("web.default") == [*(f"web.default.{s}" for s in NS_PATH), "web.default.corp.example",
                                           "web.default"]  # 1 dot, fewer than ndots 2: the search list first
    assert r.candidates("a.b.c")[0] == "a.b.c" and r.candidates("Web.") == ["web"]
    # ndots without a value is written "ndots" (no colon), which glibc ignores: its own default, 1
    assert _resolver(config=PodDNSConfig(options=(("ndots", None),))).ndots == 1


@pytest.mark.parametrize(("value", "ndots"), [("0", 0), ("3", 3), ("3x", 3), ("20", 15), ("abc", 0), ("-1", 15),
                                              ("", 1), (" +7", 7), ("--5", 0), ("+-5", 0), ("- 5", 0),
                                              ("4294967297", 1), ("99999999999999999999", 15),
                                              ("-99999999999999999999", 0)])
def test_ndots_is_read_as_glibc_reads_it(value, ndots):
    """atoi: blanks, one sign, digits (a second sign ends the number at 0); strtol saturates to a long, and
    atoi's int keeps its low 32 bits (4294967297 is 1; LONG_MAX is -1, wrapping to 15)."""
    assert _resolver(config=PodDNSConfig(options=(("ndots", value),))).ndots == ndots


def test_the_kubelet_cuts_a_merged_search_list_to_32_and_2048_characters():
    many = tuple(f"s{i}.example" for i in range(32))
    assert _resolver(config=PodDNSConfig(searches=many)).searches == (*NS_PATH, *many[:29])
    long = tuple(f"{'a' * 62}.s{i}" for i in range(31))
    kept = _resolver(config=PodDNSConfig(searches=long)).searches
    assert len(" ".join(kept)) <= 2048 and kept == (*NS_PATH, *long[:len(kept) - 3]) and len(kept) < 34


def test_the_kubelet_s_cut_uses_the_api_server_s_limits_defined_once():
    """formDNSConfigFitsLimits cuts to validation.MaxDNS*: the constants the decoder checks dnsConfig against."""
    from kubeproxy_sim.objects import decode_nodes
    from kubeproxy_sim.simulator import dns

    assert (decode_nodes.MAX_DNS_NAMESERVERS, decode_nodes.MAX_DNS_SEARCH_PATHS,
            decode_nodes.MAX_DNS_SEARCH_LIST_CHARS) == (3, 32, 2048)
    assert dns.MAX_DNS_SEARCH_PATHS is decode_nodes.MAX_DNS_SEARCH_PATHS
    assert not hasattr(dns, "MAX_SEARCHES") and not hasattr(dns, "MAX_NAMESERVERS")


def test_host_network_cluster_first_falls_back_to_default_and_with_host_net_asks_kube_dns():
    r = _resolver(host_network=True)
    assert (r.server, r.scope, r.searches, r.ndots) == (None, OUTSIDE, (), 1)
    assert "ClusterFirst on the host network" in r.why and "ClusterFirstWithHostNet" in r.why
    r = _resolver(DNSPolicy.CLUSTER_FIRST_WITH_HOST_NET, host_network=True)
    assert (r.server, r.scope, r.searches, r.ndots) == (KUBE_DNS, CLUSTER, NS_PATH, 5)


def test_default_asks_the_node_s_resolver_which_the_simulation_does_not_have():
    r = _resolver(DNSPolicy.DEFAULT, PodDNSConfig(searches=("corp.example",)))
    assert (r.server, r.scope, r.searches) == (None, OUTSIDE, ("corp.example",))
    assert r.why == ("pod/default/p has dnsPolicy Default: it asks its node's nameservers (the node's resolv.conf, "
                     "outside the simulation), not kube-dns")


def test_none_is_dns_config_alone_and_its_first_nameserver_decides_who_answers():
    r = _resolver(DNSPolicy.NONE, PodDNSConfig(nameservers=(KUBE_DNS,)))
    assert (r.server, r.scope, r.searches, r.ndots) == (KUBE_DNS, CLUSTER, (), 1)
    r = _resolver(DNSPolicy.NONE, PodDNSConfig(nameservers=("10.244.1.10", KUBE_DNS)))  # a kube-dns pod
    assert (r.server, r.scope) == ("10.244.1.10", CLUSTER)
    r = _resolver(DNSPolicy.NONE, PodDNSConfig(nameservers=("1.1.1.1", KUBE_DNS)))
    assert (r.server, r.scope) == ("1.1.1.1", OUTSIDE)
    assert r.why == ("the first nameserver of pod/default/p (1.1.1.1, dnsPolicy None) is not kube-dns (10.96.0.99 "
                     "or a ready kube-dns pod): the simulation does not know what it answers for names of "
                     "cluster.local")
    r = _resolver(DNSPolicy.NONE, PodDNSConfig(nameservers=("fd00::53",)))
    assert (r.server, r.scope) == (None, UNASKED) and "is IPv6, and the simulation is IPv4" in r.why
    # no kube-dns Service: ClusterFirst is answered by cluster DNS without a query, as before
    r = _resolver(kube_dns=None, config=PodDNSConfig(nameservers=("1.1.1.1",)))
    assert (r.server, r.scope, r.nameservers) == (None, CLUSTER, ("1.1.1.1",))


# ---------------------------------------------------------------------------- through send


def _kube_dns(*pods: str) -> list[dict]:
    """kube-system/kube-dns at 10.96.0.99:53/UDP, its endpoints these pods' UDP 5353 (the builders' web pods
    answer there)."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system"},
             "spec": {"clusterIP": KUBE_DNS, "ports": [{"name": "dns", "port": 53, "protocol": "UDP",
                                                       "targetPort": 5353}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
             "metadata": {"name": "kube-dns-a", "namespace": "kube-system",
                          "labels": {"kubernetes.io/service-name": "kube-dns"}},
             "endpoints": [{"addresses": [PODS[p][1]], "conditions": {"ready": True}, "nodeName": PODS[p][0]}
                           for p in pods],
             "ports": [{"name": "dns", "port": 5353, "protocol": "UDP"}]}]


def _client(name: str, ip: str, spec: dict, node: str = "node1") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}], **spec},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}


def _sim(*clients: dict, kube_dns_pods: tuple[str, ...] = WEB, extra: list[dict] | None = None):
    return simulator(docs=objects(extra=[*_kube_dns(*kube_dns_pods), *clients, *(extra or [])]))


def _empty_service(name: str, ip: str) -> list[dict]:
    """A UDP 53 Service without endpoints: kube-proxy REJECTs what is sent to it."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
             "spec": {"clusterIP": ip, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}}]


def test_a_none_pod_s_query_goes_to_its_own_nameserver_and_the_shares_follow_it():
    none = _client("custom", "10.244.1.20", {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["10.96.0.77"], "searches": ["default.svc.cluster.local"]}})
    sim = _sim(none, extra=_empty_service("other-dns", "10.96.0.77"))
    client = sim.client("pod", "default/custom")
    assert sim.dns_server(client) == "10.96.0.77"
    result = send(sim, "pod/default/custom", "example.com:80", count=5)  # a name of --hosts: answered
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [("REJECT", 5, 1.0)]
    assert result.failed[0].detail.startswith("DNS query to 10.96.0.77:53: node node1: filter table: ")
    with pytest.raises(InputError) as caught:  # a cluster name: that server is not kube-dns
        parse_destination(sim, client, "web:80")
    assert str(caught.value) == (
        "--to: 'web:80': the first nameserver of pod/default/custom (10.96.0.77, dnsPolicy None) is not kube-dns "
        "(10.96.0.99 or a ready kube-dns pod): the simulation does not know what it answers for names of "
        "cluster.local, so cluster names do not resolve for it; only the names of --hosts (the outside's) are "
        "answered: give one of those, or the address as IP:PORT")


def test_a_none_pod_that_names_kube_dns_resolves_with_its_own_search_list():
    none = _client("custom", "10.244.1.20", {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": [KUBE_DNS], "searches": ["default.svc.cluster.local"], "options": [{"name": "ndots",
                                                                                           "value": "5"}]}})
    bare = _client("bare", "10.244.1.21", {"dnsPolicy": "None", "dnsConfig": {"nameservers": [KUBE_DNS]}})
    sim = _sim(none, bare)
    client = sim.client("pod", "default/custom")
    target = parse_destination(sim, client, "web:80")
    assert target.addresses == ("10.96.0.10",) and sim.dns_server(client) == KUBE_DNS
    shares = expected_shares(sim, client, target, "tcp")
    assert set(shares) == {f"default/{p}" for p in WEB} and sum(shares.values()) == 1  # no DNS failure
    with pytest.raises(InputError) as caught:  # no search domains, ndots 1: web.default is asked as it is
        parse_destination(sim, sim.client("pod", "default/bare"), "web.default:80")
    assert str(caught.value) == (
        "--to: 'web.default:80': no such name (NXDOMAIN); expected a Service (NAME.NAMESPACE) or a name of --hosts "
        "(pod/default/bare's resolv.conf: no search domains, ndots:1, from its dnsPolicy None and dnsConfig)")
    assert parse_destination(sim, sim.client("pod", "default/bare"), "web.default.svc.cluster.local:80").addresses \
        == ("10.96.0.10",)


def test_ndots_decides_which_name_is_asked_first():
    one = _client("one", "10.244.1.22", {"dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}})
    sim = _sim(one)
    answer = sim.dns.resolve("web.default", "default", sim.resolver(sim.client("pod", "default/one")))
    assert answer.tried[0] == "web.default" and answer.name == "web.default.svc.cluster.local"
    answer = sim.dns.resolve("web.default", "default", sim.resolver(sim.client("pod", "default/client")))
    assert answer.tried[0] == "web.default.default.svc.cluster.local"  # ndots:5, the search list first


def test_default_and_host_network_cluster_first_say_why_a_cluster_name_does_not_resolve():
    default = _client("plain", "10.244.1.23", {"dnsPolicy": "Default"})
    host = _client("host", "192.168.0.10", {"hostNetwork": True})
    with_net = _client("hostdns", "192.168.0.10", {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"})
    sim = _sim(default, host, with_net)
    plain = sim.client("pod", "default/plain")
    with pytest.raises(InputError) as caught:
        parse_destination(sim, plain, "web.default:80")
    assert str(caught.value) == (
        "--to: 'web.default:80': pod/default/plain has dnsPolicy Default: it asks its node's nameservers (the "
        "node's resolv.conf, outside the simulation), not kube-dns, so cluster names do not resolve for it; only "
        "the names of --hosts (the outside's) are answered: give one of those, or the address as IP:PORT")
    assert sim.dns_server(plain) is None  # the node's resolver is outside: no query is simulated
    assert parse_destination(sim, plain, "example.com:80").addresses == ("93.184.216.34",)
    with pytest.raises(InputError, match="ClusterFirst on the host network, which the kubelet turns into Default"):
        parse_destination(sim, sim.client("pod", "default/host"), "web.default:80")
    hostdns = sim.client("pod", "default/hostdns")
    assert sim.dns_server(hostdns) == KUBE_DNS  # asked from the node's own network namespace
    result = send(sim, "pod/default/hostdns", "web.default:80", count=30)
    assert not result.failed and {d.pod for d in result.delivered} == {f"default/{p}" for p in WEB}


def test_a_query_kube_dns_rejects_fails_a_cluster_first_with_host_net_pod_too():
    with_net = _client("hostdns", "192.168.0.10", {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"})
    sim = _sim(with_net, kube_dns_pods=())
    result = send(sim, "pod/default/hostdns", "web.default:80", count=5)
    assert [(f.reason, f.expected) for f in result.failed] == [("REJECT", 1.0)]
    assert result.failed[0].detail.startswith(f"DNS query to {KUBE_DNS}:53: ")


# ---------------------------------------------------------------------------- an answer too large for a datagram


def _headless(count: int) -> list[dict]:
    """default/big: headless, ``count`` ready endpoints on node1 (no Pod objects), serving TCP 8080."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "big", "namespace": "default"},
             "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
             "metadata": {"name": "big-a", "namespace": "default", "labels": {"kubernetes.io/service-name": "big"}},
             "endpoints": [{"addresses": [f"10.244.1.{100 + i}"], "nodeName": "node1"} for i in range(count)],
             "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]


def _with_dns_tcp(docs: list[dict]) -> list[dict]:
    """kube-dns as the usual manifests declare it: dns-tcp 53/TCP beside dns 53/UDP (the same target port)."""
    for doc in docs:
        ports = doc["spec"]["ports"] if doc["kind"] == "Service" else doc["ports"]
        ports.append({**ports[0], "name": "dns-tcp", "protocol": "TCP"})
    return docs


def test_an_answer_past_512_bytes_is_asked_again_over_tcp_which_a_udp_only_kube_dns_does_not_take():
    """CoreDNS cuts a UDP answer to 512 bytes (TC set) and glibc asks again over TCP, to the same cluster IP and
    port: with kube-dns declaring only 53/UDP no rule takes that retry, and the lookup fails, as in netns send."""
    sim = simulator(docs=objects(extra=[*_kube_dns(*WEB), *_headless(95)]))
    client = sim.client("pod", "default/client")
    target = parse_destination(sim, client, "big:8080")
    assert target.truncated and len(target.addresses) == 95
    assert expected_shares(sim, client, target, "tcp") == {"dns:NO_ROUTE": 1}
    result = send(sim, "pod/default/client", "big:8080", count=20, seed=1)
    assert not result.delivered
    assert [(f.reason, f.count, f.expected) for f in result.failed] == [("NO_ROUTE", 20, 1.0)]
    assert result.failed[0].detail.startswith(f"DNS query to {KUBE_DNS}:53: the answer over UDP was truncated, "
                                              "and the retry over TCP failed: router: no route to 10.96.0.99")


def test_with_kube_dns_s_tcp_port_the_large_answer_is_had_over_tcp_and_every_address_used():
    sim = simulator(docs=objects(extra=[*_with_dns_tcp(_kube_dns(*WEB)), *_headless(95)]))
    client = sim.client("pod", "default/client")
    shares = expected_shares(sim, client, parse_destination(sim, client, "big:8080"), "tcp")
    assert shares == {f"default/ep-10-244-1-{100 + i}": Fraction(1, 95) for i in range(95)}
    result = send(sim, "pod/default/client", "big:8080", count=40, seed=1)
    assert not result.failed and sum(d.count for d in result.delivered) == 40


@pytest.mark.parametrize(("count", "truncated"), [(29, False), (30, True)])
def test_the_retry_starts_where_the_compressed_answer_no_longer_fits(count, truncated):
    """big.default.svc.cluster.local: 47 bytes of header and question, then 16 per compressed A record: 29 fit
    512 bytes, 30 do not. An answer that fits changes nothing (no TCP query: the UDP-only kube-dns serves it)."""
    sim = simulator(docs=objects(extra=[*_kube_dns(*WEB), *_headless(count)]))
    assert parse_destination(sim, sim.client("pod", "default/client"), "big:8080").truncated is truncated
    result = send(sim, "pod/default/client", "big:8080", count=10, seed=1)
    assert bool(result.failed) is truncated and bool(result.delivered) is not truncated


# ---------------------------------------------------------------------------- options edns0


@pytest.mark.parametrize(("options", "edns0"), [
    ((), False),
    ((("edns0", None),), True),
    ((("edns0", "1"),), True),  # written edns0:1, which glibc's prefix compare still takes
    ((("edns0x", None),), True),  # strncmp over "edns0"'s five characters: any longer word too
    ((("edns", "0"),), False),  # edns:0
    ((("ndots", "2"), ("EDNS0", None)), False),  # glibc compares case-sensitively
])
def test_options_edns0_is_read_as_glibc_reads_the_kubelet_s_options_line(options, edns0):
    assert _resolver(config=PodDNSConfig(options=options)).edns0 is edns0
    assert _resolver(DNSPolicy.NONE, PodDNSConfig(nameservers=(KUBE_DNS,), options=options)).edns0 is edns0


def test_edns0_is_kept_whoever_answers_the_resolver():
    """The flag is the resolv.conf's, so it stays on a resolver whose first nameserver is not kube-dns, or that
    the kubelet turns into Default (host network), as on the one that asks kube-dns."""
    config = PodDNSConfig(nameservers=("1.1.1.1",), options=(("edns0", None),))
    assert _resolver(DNSPolicy.NONE, config).scope == OUTSIDE and _resolver(DNSPolicy.NONE, config).edns0
    assert _resolver(config=config, host_network=True).edns0 and _resolver(config=config).server == KUBE_DNS


EDNS0_CLIENT = _client("edns", "10.244.1.23", {"dnsConfig": {"options": [{"name": "edns0"}]}})


@pytest.mark.parametrize(("count", "plain", "edns0"), [(29, False, False), (30, True, False), (71, True, False),
                                                       (72, True, True)])
def test_with_options_edns0_the_retry_starts_past_1200_bytes(count, plain, edns0):
    """big.default.svc.cluster.local over UDP (pinned by hand in test_dnswire): without EDNS0 29 A records fit 512
    bytes; a pod with ``options edns0`` advertises glibc's 1200, and CoreDNS's answer with its 11-byte OPT holds 71
    (47 + 71 * 16 + 11 = 1194), not 72. Only a truncated answer is asked again over TCP, which the UDP-only
    kube-dns does not take."""
    sim = simulator(docs=objects(extra=[*_kube_dns(*WEB), *_headless(count), EDNS0_CLIENT]))
    for key, truncated in (("default/client", plain), ("default/edns", edns0)):
        assert parse_destination(sim, sim.client("pod", key), "big:8080").truncated is truncated
        result = send(sim, f"pod/{key}", "big:8080", count=10, seed=1)
        assert bool(result.failed) is truncated and bool(result.delivered) is not truncated


def test_a_delivered_row_has_no_note_of_its_dns_query_s_kube_dns_port() -> None:
    """The web pods are kube-dns's endpoints at 5353/UDP (declared) and the connection's at 8080/TCP: the query's
    DNAT went into the rows' evidence beside the connection's and was judged as TCP, so every row said the pod
    does not declare 5353. The evidence holds the connection's DNATs only; the query's failures stay in it."""
    from kubeproxy_sim.analysis.why import send_why

    sim = _sim()
    result = send_why(sim, send(sim, "pod/default/client", "web:80", count=5, seed=1))
    assert result.evidence is not None
    assert {(key, port) for key, _, port in result.evidence.dnat_targets} == {(f"default/{p}", 8080) for p in WEB}
    assert result.delivered and all(d.why == () for d in result.delivered)


def test_a_truncated_answer_s_tcp_retry_rejected_for_want_of_dns_tcp_endpoints_says_so() -> None:
    """kube-dns declares 53/TCP (dns-tcp) but its EndpointSlice lists the UDP port only: kube-proxy writes
    dns-tcp's REJECT (no endpoints) and the TCP retry of the truncated answer meets it on the client's node. The
    row names that rule's Service port (its trace's note), as a row of the UDP query would, and expects the
    query's share on that node."""
    from kubeproxy_sim.analysis.why import send_why

    docs = _kube_dns(*WEB)
    docs[0]["spec"]["ports"].append({**docs[0]["spec"]["ports"][0], "name": "dns-tcp", "protocol": "TCP"})
    sim = simulator(docs=objects(extra=[*docs, *_headless(95)]))
    result = send_why(sim, send(sim, "pod/default/client", "big:8080", count=10, seed=1))
    (row,) = result.failed
    assert (row.reason, row.count, row.expected) == ("REJECT", 10, 1.0)
    assert row.detail.startswith(f"DNS query to {KUBE_DNS}:53: the answer over UDP was truncated, and the retry "
                                 "over TCP failed: node node1: filter table: ")
    assert row.why == (
        "kube-system/kube-dns:dns-tcp has no endpoints, so kube-proxy rejects the connection (ICMP port "
        "unreachable): its EndpointSlices list 10.244.1.10, 10.244.2.10, 10.244.2.11 but no port 'dns-tcp' "
        "(TCP); the Service's targetPort is a number (5353), which the EndpointSlice controller always writes, so "
        "these EndpointSlices were written by hand or by another controller",)
