"""send --proto icmp: a ping through the simulated cluster, answered by the pinged host's kernel or not, and why.

kube-proxy's iptables rules are per port and protocol, so an echo request to a Service's address is translated by
none of them and goes where the routes take it: a cluster IP out to the network (the router's net unreachable,
which a ping hears), an externalIP round between the router and the nodes (the TTL's time exceeded), a
LoadBalancer IP to the balancer (silence). A pod, a node or an outside host answers itself.
(tests/kernel/test_ping_kernel.py has the kernel's answers for the same destinations.)"""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest
from scapy.utils import rdpcap

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.errors import InputError, UsageError
from kubeproxy_sim.objects import load_paths
from kubeproxy_sim.simulator.conntrack import State
from kubeproxy_sim.simulator.network import Simulator
from kubeproxy_sim.simulator.pcap import write_pcap
from kubeproxy_sim.simulator.ping import ping_why
from kubeproxy_sim.simulator.send import PING_DESTINATION_FORMS, ping_host, send
from tests.budget import budget
from tests.simulator.builders import BASE, HOSTS, first_forward_rule, load, objects, simulator

ANSWERED = "answered"
CIRCLES = "the packet went round in circles"
NO_ROUTE_DETAIL = "router: no route to {}"
LB_SILENT = "{}: the load balancer forwards only its Services' ports; nothing answers the echo request"

# (source, destination) -> (kind, owner, what comes of it: ANSWERED by whom, or (reason, the detail's start))
CASES = {
    ("pod/default/client", "10.96.0.10"): ("cluster-ip", "default/web", ("NO_ROUTE", NO_ROUTE_DETAIL)),
    ("pod/default/client", "web.default"): ("cluster-ip", "default/web", ("NO_ROUTE", NO_ROUTE_DETAIL)),
    ("pod/default/client", "10.244.2.10"): ("pod", "default/web-2", (ANSWERED, "default/web-2")),
    ("pod/default/client", "10.244.1.10"): ("pod", "default/web-1", (ANSWERED, "default/web-1")),
    ("pod/default/client", "192.168.0.11"): ("node", "node2", (ANSWERED, "node/node2")),
    ("pod/default/client", "node/node1"): ("node", "node1", (ANSWERED, "node/node1")),
    ("pod/default/client", "203.0.113.200"): ("external-ip", "default/web-ext", ("NO_ROUTE", CIRCLES)),
    ("pod/default/client", "203.0.113.100"): ("load-balancer-ip", "default/web-local", ("TIMEOUT", LB_SILENT)),
    ("pod/default/client", "93.184.216.34"): ("outside-host", "example.com", (ANSWERED, "external/example.com")),
    ("pod/default/client", "10.244.2.99"): ("pod-subnet", None, ("NO_ROUTE", "node node2: no pod has 10.244.2.99")),
    ("node/node1", "10.244.1.99"): ("pod-subnet", None, ("NO_ROUTE", "node node1: no pod has 10.244.1.99")),
    ("pod/default/client", "127.0.0.1"): ("loopback", None, (ANSWERED, "default/client")),
    ("node/node1", "10.96.0.10"): ("cluster-ip", "default/web", ("NO_ROUTE", NO_ROUTE_DETAIL)),
    ("node/node1", "10.244.2.10"): ("pod", "default/web-2", (ANSWERED, "default/web-2")),
    ("node/node1", "node/node2"): ("node", "node2", (ANSWERED, "node/node2")),
    ("node/node1", "203.0.113.200"): ("external-ip", "default/web-ext", ("NO_ROUTE", CIRCLES)),
    ("node/node1", "203.0.113.101"): ("load-balancer-ip", "default/web-lb", ("TIMEOUT", LB_SILENT)),
    ("external", "10.96.0.10"): ("cluster-ip", "default/web", ("NO_ROUTE", NO_ROUTE_DETAIL)),
    ("external", "10.244.2.10"): ("pod", "default/web-2", ("NO_ROUTE", NO_ROUTE_DETAIL)),
    ("external", "192.168.0.10"): ("node", "node1", (ANSWERED, "node/node1")),
    ("external", "203.0.113.200"): ("external-ip", "default/web-ext", ("NO_ROUTE", CIRCLES)),
    ("external", "203.0.113.102"): ("load-balancer-ip", "default/web-proxy", ("TIMEOUT", LB_SILENT)),
    ("external", "127.0.0.1"): ("loopback", None, (ANSWERED, "external/203.0.113.10")),
}


@pytest.mark.parametrize(("source", "destination"), list(CASES))
def test_a_ping_is_answered_where_a_host_has_the_address_and_nowhere_else(source: str, destination: str) -> None:
    """Every ping of the run ends alike (nothing random on the way), and the exact pass predicts that end."""
    kind, owner, (how, what) = CASES[source, destination]
    result = send(simulator(), source, destination, proto="icmp", count=5)
    assert result.proto == "icmp" and result.ping is not None
    assert (result.ping.kind, result.ping.owner) == (kind, owner)
    if how == ANSWERED:
        assert not result.failed
        assert [(d.pod, d.count, d.expected) for d in result.delivered] == [(what, 5, 1.0)]
        assert result.as_json()["answered"] == 5
    else:
        assert not [d for d in result.delivered if d.count]
        ((reason, count, expected, detail),) = [(f.reason, f.count, f.expected, f.detail) for f in result.failed]
        address = result.ping.address
        assert (reason, count, expected) == (how, 5, 1.0)
        assert detail.startswith(what.format(address)), detail


def test_the_rows_say_why_a_cluster_ip_does_not_answer() -> None:
    result = send(simulator(), "pod/default/client", "10.96.0.10", proto="icmp", count=2)
    assert result.ping is not None
    note = result.ping.note
    assert note.startswith("10.96.0.10 is Service default/web's cluster IP (ports 80/TCP): kube-proxy's iptables "
                           "rules for it are per port and protocol")
    assert "on no interface of any node" in note and "IPVS mode on kube-ipvs0" in note


def test_a_ping_is_masqueraded_out_of_the_cluster_and_its_reply_un_natted() -> None:
    """A pod's echo request to an outside host leaves masqueraded (the CNI's), its identifier kept; the echo reply
    is found by the entry's reply tuple and reaches the pod."""
    sim = simulator()
    result = send(sim, "pod/default/client", "93.184.216.34", proto="icmp", count=3)
    assert [(d.count, d.sources_seen) for d in result.delivered] == [(3, ("192.168.0.10",))]
    entries = [e for e in sim.runtimes["node1"].conntrack.entries() if e.proto == "icmp"]
    # (one ping process: its echoes are one flow, one entry)
    assert len(entries) == 1 and all(e.snat and not e.dnat and e.state is State.REPLIED for e in entries)
    # the identifier is the tuple's both ways; --random-fully (the CNI's masquerade here) draws a new one
    assert all(e.orig[3] == e.orig[5] and e.reply[3] == e.reply[5] for e in entries)
    # nf_conntrack_icmp_timeout, from the last echo (the third, 2 s after the first)
    assert all(e.expires - e.created == 32.0 for e in entries)


def test_two_pings_of_one_identifier_masqueraded_to_one_address_get_two_identifiers() -> None:
    """Two pods of node1 ping one outside host with the same identifier: masqueraded to node1's address (without
    --random-fully, which would draw anew), the first keeps it; the second would have the first's reply tuple, so
    nf_nat gives it another identifier (any of 0-65535); both are answered."""
    sim = Simulator(load(objects()), dataclasses.replace(BASE, random_fully=False), rng=random.Random(1), hosts=HOSTS)
    first = sim.connect(sim.client("pod", "default/client"), "93.184.216.34", 0, "icmp", sport=4242)
    second = sim.connect(sim.client("pod", "default/web-1"), "93.184.216.34", 0, "icmp", sport=4242)
    assert first.failure is None and second.failure is None
    replies = sorted(e.reply[3] or 0 for e in sim.runtimes["node1"].conntrack.entries() if e.proto == "icmp")
    assert len(replies) == 2 and 4242 in replies and len(set(replies)) == 2


@pytest.mark.parametrize(("rule", "reason"), [
    ("-A FORWARD -p icmp -m icmp --icmp-type echo-request -j DROP", "DROP"),
    ("-A FORWARD -p icmp -m icmp --icmp-type echo-request -j REJECT", "REJECT"),
    ("-A FORWARD -p icmp -m icmp --icmp-type echo-reply -j DROP", "DROP"),
    ("-A FORWARD -p icmp -m icmp --icmp-type timestamp-request -j DROP", None),
])
def test_a_rule_of_an_icmp_type_meets_the_ping_s_request_or_its_reply(rule: str, reason: str | None) -> None:
    """The walk's packets carry their ICMP type: the request's rule stops the first packet (expected), the reply's
    the answer on its way back (decided after the first: no expectation); another type's stops nothing."""
    result = send(simulator(docs=None, rules=first_forward_rule(rule, "node1")), "pod/default/client",
                  "10.244.2.10", proto="icmp", count=3)
    if reason is None:
        assert [(d.pod, d.count) for d in result.delivered] == [("default/web-2", 3)] and not result.failed
        return
    ((got, count, expected, detail),) = [(f.reason, f.count, f.expected, f.detail) for f in result.failed]
    assert (got, count) == (reason, 3)
    if "echo-reply" in rule:
        assert (expected, detail) == (None, f"the reply: node node1: filter table (line 16): {rule}")
    else:
        assert (expected, detail) == (1.0, f"node node1: filter table (line 16): {rule}")


def ipv6() -> Simulator:
    directory = REPO_RULESETS / "ipv6"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    return Simulator(cluster, config_from_args(scenario_args(directory), cluster), rng=random.Random(1))


@pytest.mark.parametrize(("destination", "answered"), [("fd00:10:96::10", False), ("[2001:db8:0:1::11]", True),
                                                       ("node/node1", True)])
def test_icmp_to_an_ipv6_host_is_icmpv6(destination: str, answered: bool) -> None:
    result = send(ipv6(), "external", destination, proto="icmp", count=2)
    assert result.proto == "icmpv6" and result.as_json()["answered"] == (2 if answered else 0)
    assert answered or [f.reason for f in result.failed] == ["NO_ROUTE"]


def test_icmpv6_in_an_ipv4_cluster_is_refused() -> None:
    with pytest.raises(InputError, match="icmpv6 is IPv6's ICMP, and the packet is IPv4; expected --proto icmp"):
        send(simulator(), "external", "192.168.0.10", proto="icmpv6", count=1)


@pytest.mark.parametrize("text", ["10.96.0.10:80", "[fd00::1]:80", "node/node1:30080", "web.default:80", ":80", "",
                                  "a b"])
def test_a_ping_s_destination_has_no_port(text: str) -> None:
    with pytest.raises(UsageError, match="--to"):
        ping_host(text)


@pytest.mark.parametrize("text", ["10.96.0.10", "fd00::1", "[fd00::1]", "node/node1", "web.default", "example.com"])
def test_a_ping_s_destination_is_a_host(text: str) -> None:
    assert ping_host(text) == text


def test_the_pcap_holds_echo_requests_and_replies_with_their_checksums(tmp_path: Path) -> None:
    result = send(simulator(), "pod/default/client", "10.244.2.10", proto="icmp", count=1, record=True)
    path = tmp_path / "ping.pcap"
    write_pcap(str(path), result.hops)
    frames = rdpcap(str(path))
    types = [(f[IP].src, f[IP].dst, f[ICMP].type) for f in frames]
    assert types[0] == ("10.244.1.5", "10.244.2.10", 8) and types[-1] == ("10.244.2.10", "10.244.1.5", 0)
    for frame in frames:
        written = frame[ICMP].chksum
        del frame[ICMP].chksum
        assert IP(bytes(frame[IP]))[ICMP].chksum == written


def test_the_pcap_of_an_icmpv6_ping(tmp_path: Path) -> None:
    result = send(ipv6(), "external", "node/node1", proto="icmp", count=1, record=True)
    path = tmp_path / "ping6.pcap"
    write_pcap(str(path), result.hops)
    frames = rdpcap(str(path))
    assert frames[0].haslayer(ICMPv6EchoRequest) and frames[-1].haslayer(ICMPv6EchoReply)
    written = frames[0][ICMPv6EchoRequest].cksum
    del frames[0][ICMPv6EchoRequest].cksum
    assert frames[0].__class__(bytes(frames[0]))[ICMPv6EchoRequest].cksum == written


BOOTCAMP_POD = "pod/default/kubernetes-bootcamp-855d5cc575-4lb7w"


def test_the_text_says_how_many_pings_were_answered(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--scenario", "bootcamp", "--from", BOOTCAMP_POD, "--to", "node/node2", "--proto", "icmp",
                 "--count", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"3 icmp pings (echo requests) from {BOOTCAMP_POD} to node/node2 (seed 1)\n\nanswered: "
                          "3 of 3 (echo replies); the destination is node node2's address 192.168.49.3\n")


def test_a_ping_with_a_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--scenario", "bootcamp", "--from", "external", "--to", "node/node1:31526", "--proto",
                 "icmp"]) == 2
    assert "a ping (--proto icmp) goes to a host, not a port" in capsys.readouterr().err


def readme_example() -> tuple[list[str], str]:
    """The README's ping example: its command line's arguments and the output it shows."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n### Why does ping to a ClusterIP not answer?"):]
    block = re.search(r"```console\n\$ kubeproxy-sim (.*?)\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    return block.group(1).split(), block.group(2)


def test_the_readme_s_ping_example_is_what_send_prints(capsys: pytest.CaptureFixture[str]) -> None:
    argv, shown = readme_example()
    assert main(argv) == 0
    assert capsys.readouterr().out == shown


SOURCES = ["pod/default/client", "pod/default/client2", "pod/default/web-3", "node/node1", "node/node2", "external",
           "external:198.51.100.7"]
ADDRESSES = ["10.96.0.10", "10.96.0.11", "10.96.0.13", "10.96.0.53", "10.244.1.5", "10.244.1.10", "10.244.2.5",
             "10.244.2.11", "10.244.1.1", "10.244.2.1", "192.168.0.10", "192.168.0.11", "203.0.113.100",
             "203.0.113.101", "203.0.113.102", "203.0.113.200", "93.184.216.34", "203.0.113.10", "198.51.100.7",
             "10.244.1.77", "10.244.2.77", "10.1.2.3", "8.8.8.8", "127.0.0.1", "127.9.9.9"]


@settings(max_examples=budget(30), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), source=st.sampled_from(SOURCES), destination=st.sampled_from(ADDRESSES))
def test_every_ping_ends_as_the_exact_pass_says(seed: int, source: str, destination: str) -> None:
    """Nothing random decides a ping (no Service balances it): all of a run's pings end alike, whatever the seed,
    and that end is the one the exact pass gives the whole share (1.0): a pod, node or outside host answering, or
    one failure row. An address stands for itself alone, so every row carries that address's note (a name of
    several addresses has a note per row: test_a_name_of_several_addresses_has_each_row_s_own_note)."""
    sim = simulator(seed)
    result = ping_why(sim, send(sim, source, destination, proto="icmp", count=3, seed=seed))
    rows = [(d.pod, d.count, d.expected) for d in result.delivered if d.count] + \
        [(f.reason, f.count, f.expected) for f in result.failed]
    assert len(rows) == 1 and rows[0][1] == 3, rows
    assert rows[0][2] == 1.0 or (rows[0][2] is None and result.failed and result.failed[0].detail.startswith(
        "the reply")), rows
    assert result.ping is not None
    # (a row a node's rule decided says the rule first: test_a_row_a_rule_decided_says_the_rule_first)
    assert {d.why[-1:] for d in result.delivered} | {f.why[-1:] for f in result.failed} == {(result.ping.note,)}


def test_a_name_of_several_addresses_is_pinged_at_the_one_its_lookup_gave() -> None:
    """A headless Service's name resolves to its pods' addresses; ``ping -c 12`` looks it up once and pings the
    address the answer gave first (drawn by the run: cluster DNS shuffles them), all twelve there: one row, whose
    why is its own pod's, and ``ping`` that address's. Across runs every pod is the one pinged."""
    pinged = set()
    for seed in range(12):
        sim = simulator(seed)
        result = ping_why(sim, send(sim, "node/node1", "web-headless.default", proto="icmp", count=12))
        assert result.ping is not None and result.ping.kind == "pod" and not result.failed
        ((pod, ip, count, why),) = [(d.pod, d.ip, d.count, d.why) for d in result.delivered if d.count]
        assert (count, result.ping.address, result.ping.resolved[0]) == (12, ip, ip)
        assert why == (f"{ip} is pod {pod}'s own address: the pod's kernel answers the echo request itself (no "
                       "container has to listen), wherever the routes and the nodes' rules let the echo through",)
        pinged.add(pod)
    assert pinged == {"default/web-1", "default/web-2", "default/web-3"}


def test_a_failed_row_s_note_is_of_the_address_its_pings_went_to() -> None:
    """A headless name, node1 dropping the echo requests to one of its pods: a run that pinged that pod has one
    DROP row, its why about that pod alone; a run that pinged another is answered, its why its own pod's."""
    rule = "-A FORWARD -d 10.244.2.11/32 -p icmp -m icmp --icmp-type echo-request -j DROP"
    ends = {}
    for seed in range(12):
        sim = simulator(seed, docs=None, rules=first_forward_rule(rule, "node1"))
        result = ping_why(sim, send(sim, "pod/default/client", "web-headless.default", proto="icmp", count=3))
        assert result.ping is not None
        if result.ping.address == "10.244.2.11":
            ((reason, count, addresses, why),) = [(f.reason, f.count, f.addresses, f.why) for f in result.failed]
            assert (reason, count, addresses) == ("DROP", 3, ("10.244.2.11",))
            assert all("10.244.2.11" in w and "10.244.1.10" not in w for w in why), why
        else:
            assert not result.failed
            assert all(d.why[0].startswith(f"{d.ip} is pod {d.pod}'s") for d in result.delivered if d.count)
        ends[result.ping.address] = True
    assert "10.244.2.11" in ends and len(ends) > 1


def test_a_ping_is_one_flow_one_identifier_rising_sequence(tmp_path: Path) -> None:
    """``ping -c 3`` is one process: its three echo requests carry one identifier and sequence numbers 1, 2, 3, a
    second apart, and each node's conntrack holds one entry for them (conntrack keys an echo by its identifier,
    not its sequence), where three ``ping -c 1`` would each draw an identifier and make an entry."""
    sim = simulator()
    result = send(sim, "pod/default/client", "10.244.2.10", proto="icmp", count=3, record=True)
    assert [(d.pod, d.count) for d in result.delivered] == [("default/web-2", 3)]
    requests = [hop for hop in result.hops if hop.flags == "S" and hop.where == "pod default/client eth0"]
    assert [hop.sequence for hop in requests] == [1, 2, 3]
    assert len({hop.packet[3] for hop in result.hops}) == 1  # (no NAT on the way: one identifier both ways)
    assert [h.time for h in requests] == [0.0, 1.0, 2.0]
    for node in ("node1", "node2"):
        assert len([e for e in sim.runtimes[node].conntrack.entries() if e.proto == "icmp"]) == 1, node
    write_pcap(str(tmp_path / "ping.pcap"), result.hops)
    echoes = [p for p in rdpcap(str(tmp_path / "ping.pcap")) if ICMP in p and p[ICMP].type == 8
              and p[IP].src == "10.244.1.5"]
    assert sorted({(p[ICMP].id, p[ICMP].seq) for p in echoes}) == [(requests[0].packet[3], n) for n in (1, 2, 3)]


@pytest.mark.parametrize(("rule", "what"), [
    ("-A FORWARD -p icmp -m icmp --icmp-type echo-request -j DROP", "echo request"),
    ("-A FORWARD -p icmp -m icmp --icmp-type echo-reply -j DROP", "echo reply"),
])
def test_a_row_a_rule_decided_says_the_rule_first(rule: str, what: str) -> None:
    """A rule of a node stops the echo: the row's why says that rule stopped it before the note of who would answer
    (hedged: wherever the routes and rules let it through), not the pod's answer alone, which the row belies."""
    sim = simulator(docs=None, rules=first_forward_rule(rule, "node1"))
    result = ping_why(sim, send(sim, "pod/default/client", "10.244.2.10", proto="icmp", count=2))
    ((why,),) = [f.why[:1] for f in result.failed]
    assert why == (f"node node1's rule in its filter table's FORWARD chain ({rule}) stopped the {what}, so no answer "
                   "reached the client")
    assert result.failed[0].why[1].endswith("wherever the routes and the nodes' rules let the echo through")


def test_a_node_s_address_the_routes_do_not_reach_is_said_hedged() -> None:
    """From outside, a node's pod bridge address (10.244.1.1) is in a pod CIDR the outside does not route: NO_ROUTE,
    and the node note says it answers only wherever the routes let the echo through."""
    sim = simulator()
    result = ping_why(sim, send(sim, "external", "10.244.1.1", proto="icmp", count=2))
    ((reason, why),) = [(f.reason, f.why) for f in result.failed]
    assert reason == "NO_ROUTE" and why == (
        "10.244.1.1 is node node1's own address: its kernel answers the echo request itself, wherever the routes and "
        "the nodes' rules let the echo through; a NodePort is a port, which a ping has none of, so the Service plays "
        "no part",)


@pytest.mark.parametrize(("text", "said"), [
    ("10.96.142.87/32", "a ping goes to one host, not a network: 10.96.142.87, without '/32'"),
    ("fd00::1/64", "a ping goes to one host, not a network: fd00::1, without '/64'"),
    ("default/web", "a Service is NAME.NAMESPACE here (web.default; NS/NAME is dist's form)"),
    ("a/b/c", "of a ping's forms only node/NAME holds a '/'"),
])
def test_a_ping_s_destination_with_a_slash_is_said_as_a_ping_s(text: str, said: str) -> None:
    """A ping's --to holds no port: its '/' errors name a ping's forms (not node/NAME:NODEPORT, nor NAME.NS:PORT)."""
    with pytest.raises(UsageError) as raised:
        ping_host(text)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message == f"'{text}': {said}; expected {PING_DESTINATION_FORMS}", diagnostic.message


def test_a_hosts_name_at_a_cluster_ip_is_answered_and_said_so() -> None:
    """--hosts puts an outside host at a Service's cluster IP (its line ``10.96.0.10 myname``): the echo request,
    untranslated, leaves by the default route and that host answers it; the note says so, naming the line, not
    that the network has no route to it (which the answered row belied)."""
    sim = Simulator(load(objects()), BASE, rng=random.Random(1), hosts=(*HOSTS, ("myname", "10.96.0.10")))
    result = ping_why(sim, send(sim, "node/node1", "myname", proto="icmp", count=2))
    assert result.ping is not None and (result.ping.kind, result.ping.owner) == ("cluster-ip", "default/web")
    assert [(d.pod, d.count) for d in result.delivered] == [("external/myname", 2)]
    (why,) = result.delivered[0].why
    assert "no route to it either" not in why
    assert why.endswith("where --hosts puts an outside host at it (10.96.0.10 myname), whose kernel answers the echo "
                        "request: the Service's cluster IP range overlaps that network's")


def test_an_endpoint_without_a_pod_is_named_in_notes_as_in_rows(capsys: pytest.CaptureFixture[str]) -> None:
    """The ipv6 scenario's endpoints have no Pod objects: the text's row names one by the JSON's key, marked (u-walk
    1), and the head and the note call it an endpoint, not ``pod default/ep-...``."""
    assert main(["send", "--scenario", "ipv6", "--from", "node/node1", "--to", "fd00:10:244:1::10", "--proto",
                 "icmp", "--count", "1"]) == 0
    out = capsys.readouterr().out
    assert "default/ep-fd00-10-244-1--10*   fd00:10:244:1::10" in out
    assert "the destination is endpoint default/ep-fd00-10-244-1--10's address fd00:10:244:1::10" in out
    assert "note: fd00:10:244:1::10 is endpoint default/ep-fd00-10-244-1--10's own address (an EndpointSlice's, no " \
        "Pod object read)" in out
    assert "pod default/" not in out
