"""netns send's DNS query (no root): the messages on the wire (read back by scapy, an independent parser), the
kube-dns responder answering as the simulator's cluster DNS, the client's walk of the search list over loopback,
what netns up plans and records for it, and how a failed query is reported (send's rows)."""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import select
import selectors
import socket
import struct
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR

from kubeproxy_sim.errors import InputError
from kubeproxy_sim.kernel import dnsquery
from kubeproxy_sim.kernel import server as kernel_server
from kubeproxy_sim.kernel.build import _specs
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.responder import Responder, cluster_dns, dns_records, load_balanced
from kubeproxy_sim.kernel.send import (
    Query,
    check_answers,
    resolve_destination,
    resolve_source,
    tally,
    topology_record,
)
from kubeproxy_sim.kernel.verify import binomial_range
from kubeproxy_sim.simulator import dnswire
from tests.kernel.test_send_dns_unit import _docs, stored_state
from tests.simulator.builders import BASE, load, objects
from tests.simulator.test_pod_dns import KUBE_DNS

NAMES = ["web.default.svc.cluster.local", "ext.default.svc.cluster.local", "nope.default.svc.cluster.local",
         "web-headless.default.svc.cluster.local", "web-1.web-headless.default.svc.cluster.local",
         "10-244-2-10.default.pod.cluster.local", "default.svc.cluster.local", "cluster.local", "example.com",
         "web.default"]


@pytest.fixture(scope="module")
def state() -> dict:
    return stored_state()


@pytest.fixture(scope="module")
def responder(state: dict) -> Responder:
    return Responder(json.loads(json.dumps(dns_records(state))))  # as a server reads it from its standard input


def _answered(responder: Responder, query: bytes, *, over_tcp: bool = False) -> bytes:
    """The responder's response to ``query`` (None is only for a datagram that is no query)."""
    response = responder.answer(query, "{}", over_tcp=over_tcp)
    assert response is not None
    return response


def test_a_query_is_one_question_with_recursion_desired_as_scapy_reads_it() -> None:
    for qtype, number in (("A", 1), ("AAAA", 28)):
        read = DNS(dnswire.encode_query(4242, "Web.Default.svc.cluster.local", qtype))
        assert (read.id, read.qr, read.rd, read.qdcount, read.qd[0].qname, read.qd[0].qtype) == \
            (4242, 0, 1, 1, b"Web.Default.svc.cluster.local.", number)
    assert dnswire.parse_query(bytes(DNS(id=9, rd=1, qd=[DNSQR(qname="a.b.", qtype="A")]))) == \
        dnswire.Question(9, "a.b", 1, dnswire.RD)


@pytest.mark.parametrize("name", NAMES)
def test_the_responder_answers_each_name_as_the_simulator_s_cluster_dns(state: dict, responder: Responder,
                                                                        name: str) -> None:
    expected = cluster_dns(state).resolve(name + ".")
    raw = responder.answer(dnswire.encode_query(7, name, "A"), '{"pod": "kube-system/coredns"}')
    assert raw is not None
    read = DNS(raw)
    assert (read.id, read.qr, read.aa, read.qd[0].qname) == (7, 1, 1, name.encode() + b".")
    assert read.rcode == {"NOERROR": 0, "NXDOMAIN": 3}[expected.rcode]
    records = [(rr.rrname.decode().rstrip("."), {1: "A", 5: "CNAME"}[rr.type],
                rr.rdata if rr.type == 1 else rr.rdata.decode().rstrip(".")) for rr in read.an or []]
    # in CoreDNS's loadbalance order (a headless Service's addresses shuffled by the ID), the same records
    assert records == load_balanced([(r.name, r.type, r.value) for r in expected.records
                                     if r.type in ("A", "CNAME")], 7)
    assert read.ar[0].rrname == b"responder.kpsim." and read.ar[0].rdata == [b'{"pod": "kube-system/coredns"}']
    reply = dnswire.parse_response(raw)
    assert (reply.rcode, reply.answers, reply.witness) == (expected.rcode, tuple(records),
                                                           '{"pod": "kube-system/coredns"}')


def test_a_question_of_the_other_type_has_the_name_s_rcode_and_no_address(responder: Responder) -> None:
    for name, rcode in (("web.default.svc.cluster.local", 0), ("nope.default.svc.cluster.local", 3)):
        read = DNS(_answered(responder, dnswire.encode_query(1, name, "AAAA")))
        assert (read.rcode, read.ancount) == (rcode, 0)


def test_a_datagram_that_is_no_query_is_left_to_the_server_s_json_line(responder: Responder) -> None:
    assert responder.answer(b"?", "{}") is None  # a probe's datagram: verify and the differential tests send it
    assert responder.answer(bytes(DNS(id=1, qr=1, qd=[DNSQR(qname="a.")])), "{}") is None  # an answer


def test_an_answer_with_compressed_names_reads() -> None:
    """Any server's answer: names compressed against the question (scapy compresses)."""
    raw = bytes(DNS(id=3, qr=1, rd=1, qd=[DNSQR(qname="ext.default.svc.cluster.local.")],
                    an=[DNSRR(rrname="ext.default.svc.cluster.local.", type="CNAME",
                              rdata="web.other.svc.cluster.local."),
                        DNSRR(rrname="web.other.svc.cluster.local.", type="A", rdata="10.96.0.30")]).compress())
    assert dnswire.parse_response(raw) == dnswire.Reply(
        3, "NOERROR", (("ext.default.svc.cluster.local", "CNAME", "web.other.svc.cluster.local"),
                       ("web.other.svc.cluster.local", "A", "10.96.0.30")), "")
    with pytest.raises(dnswire.WireError):
        dnswire.parse_response(raw[:-3])


def test_netns_up_serves_dns_on_each_kube_dns_endpoint_s_target_port(state: dict) -> None:
    topo = plan("dns", load(_docs()), BASE)
    assert [(p.key, p.dns_ports) for p in topo.pods if p.dns_ports] == [("default/web-1", (5353,))]
    assert state["dns_responders"] == ["10.244.1.10:5353"]
    without = plan("dns", load(objects()), BASE)  # no kube-dns Service: nobody answers DNS
    assert not any(p.dns_ports for p in without.pods)
    assert topology_record(without, load(objects()))["dns_responders"] == []


def test_the_dns_tcp_port_s_own_target_port_is_served_as_dns_over_tcp() -> None:
    """Review r4 1: kube-dns's 53/TCP with a target port apart from 53/UDP's (valid) was served by the plain TCP
    server, whose JSON line the retry read as a length. Its target port is now planned and served as dnstcp."""
    docs = copy.deepcopy(_docs())
    for doc in docs:
        if doc["metadata"]["name"].startswith("kube-dns"):
            ports = doc["spec"]["ports"] if doc["kind"] == "Service" else doc["ports"]
            ports.append({"name": "dns-tcp", "port": 53, "protocol": "TCP"} if doc["kind"] == "Service"
                         else {"name": "dns-tcp", "port": 1053, "protocol": "TCP"})
    topo = plan("dns", load(docs), BASE)
    web = next(p for p in topo.pods if p.key == "default/web-1")
    assert (web.dns_ports, web.dns_tcp_ports) == ((5353,), (1053,))
    assert "tcp:1053" not in _specs([web], True) and {"dns:5353", "dnstcp:1053"} <= set(_specs([web], True))
    assert not kernel_server.answers_dns(_specs([web], False))  # records unknown: no DNS at all


@pytest.mark.parametrize(("source", "name", "names"), [
    ("pod/default/first", "web:80", ("web.default.svc.cluster.local", "web.svc.cluster.local", "web.cluster.local",
                                     "web")),
    ("pod/default/custom", "web.default:80", ("web.default.other.svc.cluster.local", "web.default.svc.cluster.local",
                                              "web.default")),
    # 4 dots, ndots:5: the search list first, the name itself last (the answer comes only then)
    ("pod/default/hostdns", "web.default.svc.cluster.local:80", ("web.default.svc.cluster.local.default.svc.cluster."
                                                                 "local", "web.default.svc.cluster.local.svc.cluster."
                                                                 "local", "web.default.svc.cluster.local.cluster."
                                                                 "local", "web.default.svc.cluster.local")),
])
def test_a_pod_asking_kube_dns_sends_a_query_for_its_search_list(state: dict, source: str, name: str,
                                                                 names: tuple[str, ...]) -> None:
    dest = resolve_destination(state, name, resolve_source(state, source))
    assert (dest.query, dest.note) == (Query(KUBE_DNS, names, "A"), "")


def test_no_query_from_a_node_an_address_or_an_old_state_which_says_so(state: dict) -> None:
    assert resolve_destination(state, "web:80", resolve_source(state, "node/node1")).query is None
    assert resolve_destination(state, "10.96.0.10:80", resolve_source(state, "pod/default/first")).query is None
    old = copy.deepcopy(state)
    del old["dns_responders"]
    dest = resolve_destination(old, "web:80", resolve_source(old, "pod/default/first"))
    assert dest.query is None and dest.note == (
        "cluster 'dns' was built before `netns up` ran DNS responders in the kube-dns pods: no DNS query is sent to "
        f"{KUBE_DNS} (`send` sends one, and fails when it fails); `netns down` and `netns up` again to send it")


def test_a_cluster_without_kube_dns_answers_without_a_query_and_says_so() -> None:
    cluster = load(objects(extra=[_docs()[-1]]))  # no kube-dns Service
    state = json.loads(json.dumps(dict(topology_record(plan("bare", cluster, BASE), cluster), name="bare")))
    source = next(f"pod/{p['key']}" for p in state["pods"].values() if p.get("resolver") is not None)
    dest = resolve_destination(state, "web:80", resolve_source(state, source))
    assert (dest.ip, dest.query) == ("10.96.0.10", None)
    assert dest.note == (f"the cluster has no kube-dns Service (kube-system/kube-dns with port 53/UDP and an IPv4 "
                         f"cluster IP): {source}'s name is answered by cluster DNS without a DNS query, as `send` "
                         "answers it")


def test_a_failed_query_is_the_connection_s_failure_in_send_s_words(state: dict) -> None:
    source = resolve_source(state, "pod/default/first")
    dest = resolve_destination(state, "web:80", source)
    lookups = [{"error": "refused", "name": "web.default.svc.cluster.local"}] * 3 + \
        [{"error": "timeout", "name": "web.default.svc.cluster.local"}] + \
        [{"rcode": "NOERROR", "name": "web.default.svc.cluster.local", "addresses": ["10.96.0.10"],
          "witness": {"pod": "default/web-1", "src": "10.244.1.20:40000", "dst": "10.244.1.10:5353"}}]
    found = tally(source, dest, "tcp", [{"pod": "default/web-1", "src": "10.244.1.20:1", "dst": "10.244.1.10:8080"}],
                  verdicts=frozenset({"DROP"}), lookups=lookups)
    assert (found.count, found.dns_seen) == (5, {"default/web-1 10.244.1.10:5353": 1})
    shown = found.as_json(state)
    assert isinstance(shown["delivered"], list)
    assert shown["connections"] == 5 and [d["count"] for d in shown["delivered"]] == [1]
    assert shown["failed"] == [
        {"reason": "DROP", "count": 1, "expected": None, "why": [],
         "detail": f"DNS query to {KUBE_DNS}:53: no answer within 1.5 s (a DROP rule met this run's packets)"},
        {"reason": "REJECT", "count": 3, "expected": None, "why": [],
         "detail": f"DNS query to {KUBE_DNS}:53: connection refused (a REJECT rule answered, or nothing listens on "
                   "the port)"}]


@contextlib.contextmanager
def _serving(answer: Callable[[bytes, str], bytes | list[bytes] | None]) -> Iterator[int]:
    """``answer`` (a query and the witness to its reply: the reply, or the datagrams sent back in turn) on a
    loopback UDP port, as a kube-dns pod's server runs a responder: the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except TimeoutError:
                continue
            replies = answer(data, json.dumps({"pod": "x", "src": f"{peer[0]}:{peer[1]}"}))
            for reply in replies if isinstance(replies, list) else [replies or b""]:
                sock.sendto(reply, peer)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        done.set()
        thread.join()
        sock.close()


@pytest.fixture
def server(responder: Responder) -> Iterator[int]:
    """The responder on a loopback UDP port, as a kube-dns pod's server runs it."""
    with _serving(responder.answer) as port:
        yield port


def _scripted(rcodes: dict[str, str]) -> Callable[[bytes, str], bytes | None]:
    """A server answering each name with its rcode in ``rcodes`` (NOERROR: 10.96.0.10; a name not there: NXDOMAIN)."""
    def answer(data: bytes, witness: str) -> bytes | None:
        question = dnswire.parse_query(data)
        assert question is not None
        rcode = rcodes.get(question.name, "NXDOMAIN")
        records = [(question.name, "A", "10.96.0.10")] if rcode == "NOERROR" else []
        return dnswire.encode_response(question, rcode, records, witness)
    return answer


def test_a_cname_alone_ends_the_search_with_no_address_as_in_cluster_dns() -> None:
    """glibc's res_search returns any NOERROR answer with records: a CNAME whose target has no address ends the
    lookup (getaddrinfo finds no address), as ClusterDNS.resolve stops there."""
    def answer(data: bytes, witness: str) -> bytes | None:
        question = dnswire.parse_query(data)
        assert question is not None
        records = {"a.one": [("a.one", "CNAME", "gone.example")], "a.two": [("a.two", "A", "10.96.0.10")]}
        return dnswire.encode_response(question, "NOERROR", records.get(question.name, []), witness)

    with _serving(answer) as port:
        found = dnsquery.lookup("127.0.0.1", port, ["a.one", "a.two"], "A", 2.0, None, 0)
    assert (found["rcode"], found["name"], found["addresses"]) == ("NOERROR", "a.one", [])

@pytest.mark.parametrize(("rcodes", "expected"), [
    ({"a.one": "SERVFAIL", "a.two": "NOERROR"}, ("NOERROR", "a.two")),  # SERVFAIL: on to the next, as glibc
    ({"a.one": "SERVFAIL"}, ("SERVFAIL", "a.one")),  # none answers: the SERVFAIL beats the NXDOMAINs
    ({"a.one": "REFUSED", "a.two": "NOERROR"}, ("REFUSED", "a.one")),  # REFUSED ends the search
    ({"a.one": "NOTIMP", "a.two": "NOERROR"}, ("NOTIMP", "a.one")),
])
def test_servfail_goes_on_to_the_next_name_and_refused_ends_the_search(rcodes: dict[str, str],
                                                                      expected: tuple[str, str]) -> None:
    with _serving(_scripted(rcodes)) as port:
        found = dnsquery.lookup("127.0.0.1", port, ["a.one", "a.two", "a.three"], "A", 2.0, None, 0)
    assert (found["rcode"], found["name"]) == expected


def test_a_lookup_walks_the_search_list_to_the_first_answer_with_an_address(server: int) -> None:
    names = ["web.default.other.svc.cluster.local", "web.default.svc.cluster.local", "web.default"]
    found = dnsquery.lookups("127.0.0.1", server, names, "A", 3, 2.0)
    assert [(a["rcode"], a["name"], a["addresses"], a["witness"]["pod"]) for a in found] == \
        [("NOERROR", "web.default.svc.cluster.local", ["10.96.0.10"], "x")] * 3
    assert len({a["witness"]["src"] for a in found}) == 3  # a fresh socket (source port) per lookup
    nowhere = dnsquery.lookup("127.0.0.1", server, ["nope.default.svc.cluster.local", "default.svc.cluster.local",
                                                     "nope"], "A", 2.0, None, 0)
    assert (nowhere["rcode"], nowhere["name"], nowhere["addresses"]) == \
        ("NOERROR", "default.svc.cluster.local", [])  # no data beats NXDOMAIN, as glibc


def test_a_refused_query_ends_the_lookup() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    assert dnsquery.lookups("127.0.0.1", port, ["a.b", "c.d"], "A", 2, 2.0) == [{"error": "refused", "name": "a.b"}] * 2


def test_a_headless_service_s_addresses_come_shuffled_by_the_query_s_id_as_coredns_loadbalance(
        state: dict, responder: Responder) -> None:
    """The client connects to the first address (getaddrinfo's first), so the shuffle spreads connections over
    the pods as send's client, which takes a random one of them. Over the IDs, each address comes first about
    as often (exact counts, bounded as a binomial draw would be); one ID always gives one order (a seeded run
    gets the same answers). IDs 0-2999 stand for a run's (uniform draws)."""
    name = "web-headless.default.svc.cluster.local"
    expected = [r.value for r in cluster_dns(state).resolve(name + ".").records]
    assert len(expected) == 3

    def order(qid: int) -> list[str]:
        reply = dnswire.parse_response(_answered(responder, dnswire.encode_query(qid, name, "A")))
        return [value for _, _, value in reply.answers]

    assert order(5) == order(5) and sorted(order(5)) == sorted(expected)
    firsts = Counter(load_balanced([(name, "A", a) for a in expected], qid)[0][2] for qid in range(3000))
    low, high = binomial_range(3000, Fraction(1, 3), Fraction(1, 10**6))
    assert set(firsts) == set(expected) and all(low <= n <= high for n in firsts.values()), firsts
    cname = [("a.b", "CNAME", "c.d"), ("c.d", "A", "10.0.0.1"), ("c.d", "A", "10.0.0.2")]
    assert {tuple(load_balanced(cname, qid)[:1]) for qid in range(50)} == {(cname[0],)}  # the CNAME stays first


def test_an_ipv6_cluster_answers_aaaa() -> None:
    records = {"family": 6, "pods": {}, "slices": [], "services": {"default/web": {
        "cluster_ips": ["fd00:10:96::10"], "ports": [], "type": "ClusterIP", "cluster_ip_unset": False,
        "external_name": ""}}}
    responder = Responder(records)
    read = DNS(_answered(responder, dnswire.encode_query(5, "web.default.svc.cluster.local", "AAAA")))
    assert [(rr.type, rr.rdata) for rr in read.an] == [(28, "fd00:10:96::10")]
    assert DNS(_answered(responder, dnswire.encode_query(5, "web.default.svc.cluster.local", "A"))).ancount == 0
    reply = dnswire.parse_response(_answered(responder, dnswire.encode_query(5, "web.default.svc.cluster.local",
                                                                             "AAAA")))
    assert reply.answers == (("web.default.svc.cluster.local", "AAAA", "fd00:10:96::10"),)


def _a_response() -> bytes:
    question = dnswire.parse_query(dnswire.encode_query(5, "ext.default.svc.cluster.local", "A"))
    assert question is not None
    return dnswire.encode_response(question, "NOERROR", [
        ("ext.default.svc.cluster.local", "CNAME", "web.other.svc.cluster.local"),
        ("web.other.svc.cluster.local", "A", "10.96.0.30")], '{"pod": "kube-system/coredns"}')


@pytest.mark.parametrize("kind, length", [("A", 5), ("A", 3), ("AAAA", 4), ("AAAA", 17)])
def test_an_address_record_of_another_length_is_a_wire_error(kind: str, length: int) -> None:
    record = dnswire.encode_name("web") + struct.pack("!HHIH", dnswire.TYPES[kind], 1, 5, length) + b"\x01" * length
    raw = struct.pack("!HHHHHH", 3, dnswire.QR, 0, 1, 0, 0) + record
    with pytest.raises(dnswire.WireError, match=f"an {kind} record of {length} bytes"):
        dnswire.parse_response(raw)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=6), st.integers(0, 200))
def test_a_mutated_response_reads_or_is_a_wire_error(changes: list[tuple[int, int]], cut: int) -> None:
    """The client catches WireError alone (a datagram that is no answer is waited past): any other exception from
    a stray or damaged datagram would end the lookup with a traceback."""
    raw = bytearray(_a_response())
    for at, value in changes:
        raw[at % len(raw)] = value
    with contextlib.suppress(dnswire.WireError):
        dnswire.parse_response(bytes(raw[:len(raw) - cut % len(raw)]))


class _Broken(Responder):
    """A responder with a bug: every query makes it raise."""

    def answer(self, data: bytes, witness: str, *, over_tcp: bool = False) -> bytes | None:
        raise KeyError("services")


def test_a_responder_that_fails_answers_servfail_naming_the_fault_and_send_says_it_is_a_bug(state: dict) -> None:
    """Was: the server swallowed the exception and answered with the JSON line, which the client waits past, so
    netns send reported a TIMEOUT: a plausible wrong result. Now the server's SERVFAIL carries the fault in its
    witness, the client stops at it (SERVFAIL alone would go on to the next name) and send refuses the run as a
    bug."""
    broken = _Broken(json.loads(json.dumps(dns_records(state))))
    sock = kernel_server._bind("udp", 0, socket.AF_INET)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            if select.select([sock], [], [], 0.1)[0]:
                kernel_server._serve_udp("kube-system/coredns", sock, False, broken)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        names = ["web.default.other.svc.cluster.local", "web.default.svc.cluster.local"]
        found = dnsquery.lookup("127.0.0.1", sock.getsockname()[1], names, "A", 2.0, None, 0)
    finally:
        done.set()
        thread.join()
        sock.close()
    assert (found["rcode"], found["name"], found["addresses"]) == ("SERVFAIL", names[0], [])
    assert (found["witness"]["pod"], found["witness"]["fault"]) == ("kube-system/coredns", "KeyError: 'services'")
    dest = resolve_destination(state, "web.default:80", resolve_source(state, "pod/default/custom"))
    assert dest.query is not None and list(dest.query.names[:2]) == names
    with pytest.raises(InputError) as caught:
        check_answers(dest, [found])
    assert str(caught.value) == (
        "--to: 'web.default:80': kube-system/coredns answered the DNS query for web.default.other.svc.cluster.local "
        "with SERVFAIL (no address) (its responder failed: KeyError: 'services'), but cluster DNS resolves the name "
        "to 10.96.0.10: the responder and the simulator disagree (a bug: please report it)")


def test_a_seed_fixes_every_query_s_source_port_and_id_and_another_seed_moves_them() -> None:
    """netns send --seed N twice sends byte-identical queries from the same ports (a generator derived from the
    seed alone: the order the concurrent lookups run in does not matter); the ports are distinct across the run,
    so no two lookups contend for one."""
    planned = dnsquery.draws(7, 40, 3)
    assert planned == dnsquery.draws(7, 40, 3) != dnsquery.draws(8, 40, 3)
    ports = [d.port for lookup in planned for d in lookup]
    assert len(set(ports)) == len(ports) == 120 and all(p in range(20000, 60000) for p in ports)
    assert {d.port for lookup in dnsquery.draws(None, 5, 2) for d in lookup} == {0}  # unseeded: the kernel's
    assert len(dnsquery.draws(1, 30000, 2)) == 30000  # more queries than ports: they repeat, far apart


def _asked(port: int, seed: int | None) -> list[tuple[int, str]]:
    """Each lookup's message ID and the source port the server saw, over loopback."""
    names = ["web.default.other.svc.cluster.local", "web.default.svc.cluster.local"]
    found = dnsquery.lookups("127.0.0.1", port, names, "A", 6, 2.0, seed=seed)
    return [(a["id"], a["witness"]["src"].rsplit(":", 1)[1]) for a in found]


def test_two_lookups_of_one_seed_ask_from_the_same_ports_with_the_same_ids(server: int) -> None:
    first = _asked(server, 7)
    assert first == _asked(server, 7) != _asked(server, 8)
    # the answered name is the second of the search list: its draw is the lookup's second
    assert first == [(d[1].qid, str(d[1].port)) for d in dnsquery.draws(7, 6, 2)]


def test_a_seeded_port_that_is_taken_gives_way_to_the_next_of_its_own_generator(server: int) -> None:
    planned = dnsquery.draws(7, 6, 2)
    taken_port = planned[0][1].port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", taken_port))
        moved = _asked(server, 7)
        assert moved == _asked(server, 7)  # still reproducible
    assert moved[1:] == [(d[1].qid, str(d[1].port)) for d in planned[1:]]
    assert moved[0][0] == planned[0][1].qid and moved[0][1] != str(taken_port)


HEADLESS_NAME = "hl.default.svc.cluster.local"


def _many(count: int) -> list[tuple[str, str, str]]:
    return [(HEADLESS_NAME, "A", f"10.244.{i // 250}.{i % 250 + 1}") for i in range(count)]


@pytest.mark.parametrize(("count", "compressed", "truncated"), [
    (10, False, False),  # 12 + 34 + 10 * 44 = 486: fits uncompressed, sent so
    (15, True, False),  # 706 bytes uncompressed, 286 compressed: CoreDNS compresses it to fit
    (95, True, True),  # 1566 compressed: the records that fit, TC set
])
def test_an_answer_over_udp_is_cut_to_512_bytes_as_coredns_scrubs_it(count: int, compressed: bool,
                                                                     truncated: bool) -> None:
    """QA-dumps 1: a headless Service's whole answer in one datagram (4 KB for 95 pods) was cut by the client's
    4096-byte read and timed out. CoreDNS answers a query without EDNS0 with at most 512 bytes: uncompressed when
    it fits, else compressed, else the question and the whole records that fit with TC set (read back by scapy);
    the witness rides outside the limit and is never cut. Over TCP the answer is whole."""
    question = dnswire.parse_query(dnswire.encode_query(7, HEADLESS_NAME, "A"))
    assert question is not None
    records = _many(count)
    raw = dnswire.encode_response(question, "NOERROR", records, '{"pod": "x"}', over_tcp=False)
    witness = len(dnswire._record(dnswire.WITNESS, "TXT", '{"pod": "x"}'))
    read = DNS(raw)
    assert len(raw) - witness <= dnswire.UDP_LIMIT and (read.tc, read.qdcount, read.qd[0].qname) == \
        (int(truncated), 1, HEADLESS_NAME.encode() + b".")
    kept = [rr.rdata for rr in read.an or []]
    assert kept == [value for _, _, value in records[:len(kept)]] and (len(kept) < count) == truncated
    if truncated:  # as many as fit: one more would not
        assert len(raw) - witness + 16 > dnswire.UDP_LIMIT and len(kept) == (512 - 12 - 34) // 16
    assert (b"\xc0\x0c" in raw) == compressed  # a pointer to the question's name
    assert read.ar[0].rdata == [b'{"pod": "x"}']
    whole = dnswire.parse_response(dnswire.encode_response(question, "NOERROR", records, "w", over_tcp=True))
    assert [a[2] for a in whole.answers] == [v for _, _, v in records] and not whole.truncated


def test_a_compressed_cname_answer_reads_back_whole() -> None:
    """A CNAME's target compressed against the names before it (miekg/dns compresses the data of a CNAME too)."""
    question = dnswire.parse_query(dnswire.encode_query(3, "ext.default.svc.cluster.local", "A"))
    assert question is not None
    records = [("ext.default.svc.cluster.local", "CNAME", "web.other.svc.cluster.local"),
               *[("web.other.svc.cluster.local", "A", f"10.0.0.{i}") for i in range(1, 21)]]
    raw = dnswire.encode_response(question, "NOERROR", records, "w", over_tcp=False)
    read = DNS(raw)
    assert read.an[0].rdata == b"web.other.svc.cluster.local." and not read.tc
    assert b"\x03web\x05other\xc0" in raw  # the target's svc.cluster.local: a pointer to the question's
    assert list(dnswire.parse_response(raw).answers) == records


class _Many(Responder):
    """A responder answering every name with ``count`` addresses."""

    def __init__(self, count: int) -> None:
        self.count = count

    def answer(self, data: bytes, witness: str, *, over_tcp: bool = False) -> bytes | None:
        question = dnswire.parse_query(data)
        return None if question is None else \
            dnswire.encode_response(question, "NOERROR", _many(self.count), witness, over_tcp=over_tcp)


@contextlib.contextmanager
def _kube_dns(responder: Responder, tcp: bool = True) -> Iterator[int]:
    """The kernel server's UDP and (``tcp``) TCP sockets of a DNS port on loopback, served as a kube-dns pod's
    server serves them (server.step): the port."""
    selector = selectors.DefaultSelector()
    udp = kernel_server._bind("udp", 0, socket.AF_INET)
    port = udp.getsockname()[1]
    selector.register(udp, selectors.EVENT_READ, (functools.partial(kernel_server._serve_udp, responder=responder),
                                                  False))
    dns_tcp = kernel_server.DnsTcp(selector, responder)
    listener = kernel_server._bind("tcp", port, socket.AF_INET) if tcp else None
    if listener is not None:
        selector.register(listener, selectors.EVENT_READ, (dns_tcp.accept, False))
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            kernel_server.step("kube-system/coredns", selector, dns_tcp, 0.05)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield port
    finally:
        done.set()
        thread.join()
        for sock in (udp, listener):
            if sock is not None:
                sock.close()


def test_a_truncated_answer_is_asked_again_over_tcp_and_gives_every_address() -> None:
    """glibc's res_send asks the same server again over TCP when the answer has TC: the client gets all 95
    addresses from the server's TCP side (the same message ID, so the same shuffle), and says it went over TCP."""
    with _kube_dns(_Many(95)) as port:
        found = dnsquery.lookup("127.0.0.1", port, [HEADLESS_NAME], "A", 2.0, None, 0,
                                [dnsquery.Draw(0, 4242)])
        # a probe's TCP connection (it sends nothing) still gets the server's JSON line
        with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
            line = probe.makefile().readline()
    assert (found["rcode"], found["over"], found["id"]) == ("NOERROR", "tcp", 4242)
    assert found["addresses"] == [v for _, _, v in _many(95)]
    assert found["witness"]["pod"] == "kube-system/coredns"
    assert json.loads(line)["pod"] == "kube-system/coredns"


def test_a_truncated_answer_without_a_tcp_listener_fails_the_lookup_saying_the_retry_failed(state: dict) -> None:
    """kube-dns without its dns-tcp port: the retry over TCP is refused, and netns send's row says so."""
    with _kube_dns(_Many(95), tcp=False) as port:
        found = dnsquery.lookup("127.0.0.1", port, [HEADLESS_NAME], "A", 2.0, None, 0)
    assert found == {"error": "tcp refused", "name": HEADLESS_NAME}
    with _kube_dns(_Many(20)) as port:  # 20 fit in 512 bytes compressed: no retry
        assert dnsquery.lookup("127.0.0.1", port, [HEADLESS_NAME], "A", 2.0, None, 0)["over"] == "udp"
    client = resolve_source(state, "pod/default/custom")
    dest = resolve_destination(state, "web.default:80", client)
    row = tally(client, dest, "tcp", [], lookups=[found]).result(state).failed[0]
    assert dest.query is not None  # (a pod's source asks kube-dns)
    assert (row.reason, row.detail) == ("REJECT", f"DNS query to {dest.query.server}:53: the answer over UDP was "
                                        "truncated, and the retry over TCP failed: connection refused (a REJECT "
                                        "rule answered, or nothing listens on the port)")


def test_a_datagram_that_is_not_dns_is_passed_over_and_the_answer_after_it_read() -> None:
    """Review r4 1b: any datagram that failed to parse was the error undecodable (a bug), a probe server's JSON
    line too; a resolver drops what is not a DNS message and waits on, and so does the query now. Only a reply
    that cannot be read but carries the responder's witness is ours, broken (the test below)."""
    def answer(data: bytes, witness: str) -> list[bytes]:
        question = dnswire.parse_query(data)
        assert question is not None
        return [witness.encode() + b"\n", b"\x00", dnswire.encode_response(question, "NOERROR", [], witness)]

    with _serving(answer) as port:
        found = dnsquery.lookup("127.0.0.1", port, [HEADLESS_NAME], "A", 2.0, None, 0)
    assert (found["rcode"], found["over"], found["witness"]["pod"]) == ("NOERROR", "udp", "x")
    with _serving(lambda data, witness: [witness.encode() + b"\n"]) as port:  # nothing but the line: no answer
        assert dnsquery.lookup("127.0.0.1", port, [HEADLESS_NAME], "A", 0.3, None, 0) == \
            {"error": "timeout", "name": HEADLESS_NAME}


def test_an_answer_that_cannot_be_read_is_said_so_not_a_timeout(state: dict) -> None:
    """Was: a reply that failed to parse was waited past, and the lookup timed out (a DROP or TIMEOUT row)."""
    with _serving(lambda data, witness: data[:2] + b"\x81\x80\x00\x01\x00\x05" + dnsquery.OURS) as port:
        found = dnsquery.lookup("127.0.0.1", port, [HEADLESS_NAME], "A", 2.0, None, 0)
    assert found["error"] == "undecodable" and found["why"].startswith("over UDP: ")
    dest = resolve_destination(state, "web.default:80", resolve_source(state, "pod/default/custom"))
    with pytest.raises(InputError, match=r"the answer to the DNS query for hl\.default\.svc\.cluster\.local could "
                                         r"not be read \(over UDP: .*\(a bug: please report it\)"):
        check_answers(dest, [found])


# ---------------------------------------------------------------------------- EDNS0 (options edns0)


def test_an_edns0_query_is_answered_with_coredns_s_opt_record_as_scapy_reads_it(responder: Responder) -> None:
    """glibc's OPT (1200 bytes, version 0, no DO) read by scapy in the query; the responder's answer carries it
    back before the witness, as CoreDNS's SizeAndDo does, over UDP and over TCP; a query without one gets none."""
    name = "web.default.svc.cluster.local"
    query = DNS(dnswire.encode_query(5, name, "A", dnswire.resolver_opt(True)))
    assert (query.arcount, query.ar[0].type, query.ar[0].rclass, query.ar[0].version, query.ar[0].z) == \
        (1, 41, 1200, 0, 0)
    for over_tcp in (False, True):
        read = DNS(_answered(responder, bytes(query), over_tcp=over_tcp))
        assert [(rr.type, rr.rclass) for rr in read.ar] == [(41, 1200), (16, 1)]
        assert [rr.rdata for rr in read.an] == ["10.96.0.10"]
    assert [rr.type for rr in DNS(_answered(responder, dnswire.encode_query(5, name, "A"))).ar] == [16]


@pytest.mark.parametrize(("count", "edns0", "over"), [(29, False, "udp"), (30, False, "tcp"), (71, True, "udp"),
                                                      (72, True, "tcp")])
def test_with_edns0_the_client_takes_1200_bytes_over_udp_and_asks_over_tcp_past_them(count: int, edns0: bool,
                                                                                     over: str) -> None:
    """hl.default.svc.cluster.local, by hand: 12 + 30 + 4 = 46 bytes to the question's end and 16 per compressed
    A record: without EDNS0 (512 - 46) // 16 = 29 fit; with glibc's OPT, advertising 1200 and echoed in 11 bytes,
    (1200 - 11 - 46) // 16 = 71. The client (run as netns send runs it) asks again over TCP past them."""
    with _kube_dns(_Many(count)) as port:
        done = subprocess.run([sys.executable, "-m", "kubeproxy_sim.kernel.dnsquery", "127.0.0.1", str(port), "A",
                               "1", "2.0", "", "0", "1", "edns0" if edns0 else "", HEADLESS_NAME],
                              capture_output=True, text=True, timeout=60, check=True)
    [found] = json.loads(done.stdout)
    assert (found["rcode"], found["over"], sorted(found["addresses"])) == \
        ("NOERROR", over, sorted(v for _, _, v in _many(count)))
