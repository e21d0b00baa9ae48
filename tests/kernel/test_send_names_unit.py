"""netns send's names (no root): resolved by the simulator's cluster DNS with the source's search path, as send."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from collections import Counter
from fractions import Fraction

import pytest

from kubeproxy_sim.errors import InputError, UsageError
from kubeproxy_sim.kernel.plan import plan
from kubeproxy_sim.kernel.responder import cluster_dns
from kubeproxy_sim.kernel.send import Query, resolve_destination, resolve_source, tally, targets, topology_record
from kubeproxy_sim.kernel.verify import binomial_range
from kubeproxy_sim.objects.model import Service
from kubeproxy_sim.simulator.send import parse_destination, parse_source
from tests.simulator.builders import BASE, load, objects, simulator


def _other_web() -> list[dict]:
    """other/web (10.96.0.30) beside default/web, and a client pod in namespace other."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "other"},
             "spec": {"clusterIP": "10.96.0.30", "selector": {"app": "web"}, "ports": [{"port": 80}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client3", "namespace": "other"},
             "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "x"}]},
             "status": {"phase": "Running", "podIP": "10.244.1.6", "podIPs": [{"ip": "10.244.1.6"}]}}]


def _unallocated() -> list[dict]:
    """A Service whose clusterIP is not set yet (not headless)."""
    return [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pending", "namespace": "default"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}]


@pytest.fixture(scope="module")
def state() -> dict:
    cluster = load(objects(extra=_other_web() + _unallocated()))
    return json.loads(json.dumps(topology_record(plan("names", cluster, BASE, ()), cluster)))  # as stored


@pytest.mark.parametrize(("source", "destination", "address"), [
    ("pod/other/client3", "web:80", "10.96.0.30"),  # QA-dns M1: the client's namespace first, not default
    ("pod/default/client", "web:80", "10.96.0.10"),
    ("pod/other/client3", "Web.Default:80", "10.96.0.10"),
    ("pod/other/client3", "web.other.svc.cluster.local:80", "10.96.0.30"),
    ("pod/other/client3", "web.default.svc.cluster.local.:80", "10.96.0.10"),
    ("node/node1", "web:80", "10.96.0.10"),
    ("pod/default/client", "web-1.web-headless.default:8080", "10.244.1.10"),
    ("pod/default/client", "10-244-2-10.default.pod.cluster.local:8080", "10.244.2.10"),
])
def test_netns_send_resolves_names_as_send(state: dict, source: str, destination: str, address: str) -> None:
    assert resolve_destination(state, destination, resolve_source(state, source)).ip == address
    sim = simulator(docs=objects(extra=_other_web()))
    assert parse_destination(sim, parse_source(sim, source), destination).addresses == (address,)


def test_netns_send_names_what_it_cannot_resolve(state: dict) -> None:
    client = resolve_source(state, "pod/default/client")
    with pytest.raises(InputError, match="NXDOMAIN") as caught:
        resolve_destination(state, "nope.default:80", client)
    # netns send has no --hosts: no advice names it (it said "... or a name of --hosts; netns send has no --hosts")
    assert str(caught.value).endswith("no such name (NXDOMAIN); expected a Service (NAME.NAMESPACE)")
    with pytest.raises(InputError, match=r"which this command cannot resolve \(it has no --hosts\): give its "
                       "address as IP:PORT") as caught:
        resolve_destination(state, "ext.default:80", client)
    assert "example.com" in str(caught.value) and "add it to --hosts" not in str(caught.value)


def test_a_headless_service_s_name_stands_for_all_its_addresses_in_send_s_order(state: dict) -> None:
    """Was refused (netns send connected to one address); now each connection goes to one of them (targets)."""
    sim = simulator(docs=objects(extra=_other_web()))
    for source in ("pod/default/client", "node/node1"):
        dest = resolve_destination(state, "web-headless.default:8080", resolve_source(state, source))
        expected = parse_destination(sim, parse_source(sim, source), "web-headless.default:8080").addresses
        assert dest.choices() == tuple(dict.fromkeys(expected)) and len(dest.choices()) == 3 and \
            dest.ip == dest.choices()[0]


def test_without_a_query_each_connection_takes_a_random_address_reproducibly(state: dict) -> None:
    """A node asks no DNS server: as send's client it takes a random one of the addresses per connection, from a
    generator derived from the run's seed; with lookups, each connection goes to its answer's first address."""
    dest = resolve_destination(state, "web-headless.default:8080", resolve_source(state, "node/node1"))
    assert dest.query is None
    picked = targets(dest, [], 3000, 5)
    assert picked == targets(dest, [], 3000, 5) != targets(dest, [], 3000, 6)
    low, high = binomial_range(3000, Fraction(1, 3), Fraction(1, 10**6))
    assert all(low <= picked.count(a) <= high for a in dest.choices()), Counter(picked)
    one = resolve_destination(state, "web:80", resolve_source(state, "node/node1"))
    assert targets(one, [], 3, None) == ["10.96.0.10"] * 3
    asking = dataclasses.replace(dest, query=Query("10.96.0.53", ("web-headless.default.svc.cluster.local",), "A"))
    answers = [{"addresses": ["10.244.2.11", "10.244.1.10"]}, {"error": "timeout"}, {"addresses": ["10.244.1.10"]}]
    assert targets(asking, answers, 3, 5) == ["10.244.2.11", "10.244.1.10"]


def _fields(service: Service) -> tuple:
    return (service.key, service.type, service.cluster_ips, service.cluster_ip_unset, service.headless,
            service.external_name)


def _rebuilt(state: dict) -> dict[str, Service]:
    return {f"{ns}/{name}": s for (ns, name), s in cluster_dns(state).services.items()}


def test_the_state_record_keeps_the_services_as_cluster_dns_reads_them(state: dict) -> None:
    """cluster_ip_unset is recorded as it is, not worked back from headless (which gave every ExternalName
    Service cluster_ip_unset=True)."""
    cluster = load(objects(extra=_other_web() + _unallocated()))
    assert {s.key: s.cluster_ip_unset for s in cluster.services}["default/pending"]  # the case is there
    rebuilt = _rebuilt(state)
    assert [_fields(rebuilt[s.key]) for s in cluster.services] == [_fields(s) for s in cluster.services]
    assert not rebuilt["default/ext"].cluster_ip_unset


def test_a_record_that_kept_headless_reads_as_it_did(state: dict) -> None:
    """A cluster left up by an earlier version keeps headless (derived) in place of cluster_ip_unset."""
    cluster = load(objects(extra=_other_web() + _unallocated()))
    old = copy.deepcopy(state)
    for s in cluster.services:
        del old["services"][s.key]["cluster_ip_unset"]
        old["services"][s.key]["headless"] = s.headless
    rebuilt = _rebuilt(old)
    assert [_fields(rebuilt[s.key]) for s in cluster.services] == [_fields(s) for s in cluster.services]


def test_a_tally_keeps_the_address_it_connected_to(state: dict) -> None:
    """netns send's note on a LoadBalancer or external IP reads it there, without resolving the name again."""
    source = resolve_source(state, "pod/other/client3")
    dest = resolve_destination(state, "web:80", source)
    assert tally(source, dest, "tcp", [{"error": "timeout"}]).address == dest.ip == "10.96.0.30"


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_a_timeout_says_a_udp_socket_does_not_hear_the_router_s_no_route(state: dict, proto: str) -> None:
    """The router's net unreachable reaches a pod (masqueraded there), as send says: a TCP connect hears it, so
    it is no cause of a TCP timeout; a UDP socket takes it as a soft error and waits."""
    source = resolve_source(state, "pod/other/client3")
    dest = resolve_destination(state, "web:80", source)
    (failed,) = tally(source, dest, proto, [{"error": "timeout"}]).result(state).failed
    assert failed.reason == "TIMEOUT" and "could not reach" not in failed.detail
    assert ("ICMP net unreachable is a soft error to a UDP socket, which hears nothing" in failed.detail) is (
        proto == "udp")


NXDOMAIN = "no such name (NXDOMAIN); expected a Service (NAME.NAMESPACE)"
OTHER_FAMILY = ("the cluster is built for IPv4; expected such an address",
                "the packet is IPv6 but the node's proxier is IPv4")  # (netns send's words, send's)


@pytest.mark.parametrize(("destination", "outcome"), [
    ("010.96.0.10:80", NXDOMAIN), (" 10.96.0.10:80", NXDOMAIN), ("[fe80::1%eth0]:80", NXDOMAIN),
    ("[10.96.0.10:80", NXDOMAIN), ("10.96.0.10]:80", NXDOMAIN), ("[fd00::1:80", NXDOMAIN),
    ("[::ffff:10.96.0.10]:80", OTHER_FAMILY), ("[fd00::1]:80", OTHER_FAMILY),
    ("10.96.0.0/24:80", "of the forms only node/NAME:NODEPORT holds a '/'"), ("[10.96.0.10]:80", "10.96.0.10"),
])
def test_netns_send_tells_an_address_from_a_name_as_send(state: dict, destination: str,
                                                          outcome: str | tuple[str, str]) -> None:
    """One judge of address text (packet.is_address) for both: a leading zero, a space, a zone or a bracket left
    unpaired make a name, looked up and not found (netns send's own judge took '[10.96.0.10' and 'fd00::1]' for
    addresses); an IPv6 address, a mapped one too, is of the other family; a CIDR is of no form."""
    netns_words, send_words = outcome if isinstance(outcome, tuple) else (outcome, outcome)
    try:
        netns = resolve_destination(state, destination, resolve_source(state, "pod/default/client")).ip
    except InputError as error:
        netns = str(error)
    sim = simulator()
    try:
        send = parse_destination(sim, parse_source(sim, "pod/default/client"), destination).addresses[0]
    except InputError as error:
        send = str(error)
    assert netns_words in netns and send_words in send
    if not isinstance(outcome, tuple):  # the same words; send's NXDOMAIN also offers --hosts, which netns has not
        assert send == (f"{netns} or a name of --hosts" if outcome == NXDOMAIN else netns)


@pytest.mark.parametrize(("destination", "message"), [
    ("bogus", "expected IP:PORT"),  # no port
    ("10.96.0.10:", "expected IP:PORT"),
    (":80", "expected IP:PORT"),
    ("10.96.0.10:http", "expected IP:PORT"),
    ("10.96.0.10:\u00b2", "expected IP:PORT"),  # a digit to str.isdigit, no number to int(): was a ValueError
    ("fd00::1:80", r"written \[ADDRESS\]:PORT"),
])
def test_a_destination_not_of_the_forms_is_a_usage_error(state: dict, destination: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):  # exit 2, as send --to bogus
        resolve_destination(state, destination, resolve_source(state, "pod/default/client"))


@pytest.mark.parametrize("source", ["bogus", "12", "external:nohost", "pod", "10.244.1"])
def test_a_source_not_of_the_forms_is_a_usage_error(state: dict, source: str) -> None:
    with pytest.raises(UsageError, match="expected"):
        resolve_source(state, source)


@pytest.mark.parametrize(("source", "destination", "message"), [
    ("pod/default/client", "10.96.0.10:70000", "port 70000 is out of range; expected a port 1-65535"),  # (#21b)
    ("pod/default/client", "nope.default:80", "NXDOMAIN"),
    ("pod/default/client", "node/nope:30080", "no such node"),
    ("pod/default/nope", "10.96.0.10:80", "no such pod"),
    ("node/nope", "10.96.0.10:80", "no such node"),
    ("external:198.51.100.99", "10.96.0.10:80", "no external client 198.51.100.99"),
])
def test_a_value_of_the_right_shape_that_names_nothing_stays_invalid_input(
        state: dict, source: str, destination: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        resolve_destination(state, destination, resolve_source(state, source))
    assert not isinstance(caught.value, UsageError)  # exit 1


@pytest.mark.parametrize("gateway", ["10.244.1.1", "10.244.2.1"])
def test_a_bridge_address_is_its_node_bound_to_it_as_in_send(state: dict, gateway: str) -> None:
    """``--from`` a node's pod bridge address: that node, its socket bound there, in netns send (which refused
    it) as in send (which took it for a machine outside); the node's row of a reply there names the node."""
    name = "node1" if gateway == "10.244.1.1" else "node2"
    source = resolve_source(state, gateway)
    assert (source.label, source.netns, source.bind) == (f"node/{name} ({gateway})", state["nodes"][name]["netns"],
                                                         gateway)
    sim = simulator()
    assert parse_source(sim, gateway).label == source.label
    dest = resolve_destination(state, f"{gateway}:10256", source)
    row = tally(source, dest, "tcp", [{"pod": f"node/{name}", "dst": f"{gateway}:10256", "src": f"{gateway}:4000"}])
    assert [(d.pod, d.node) for d in row.result(state).delivered] == [(f"node/{name}", name)]


def test_an_address_no_workload_has_says_what_is_expected(state: dict) -> None:
    old = copy.deepcopy(state)  # a state recorded before the nodes' gateways: the address is nobody's there
    for node in old["nodes"].values():
        del node["gateways"]
    for record, address in ((state, "10.244.1.77"), (old, "10.244.1.1")):
        with pytest.raises(InputError, match=r"expected one of theirs .*netns up --client IP") as caught:
            resolve_source(record, address)
        assert not isinstance(caught.value, UsageError)  # of the right shape: invalid input (1)


@pytest.mark.parametrize(("source", "noted"), [("external", True), ("external:203.0.113.10", True),
                                                ("203.0.113.10", True), ("pod/default/client", False),
                                                ("node/node2", False)])
def test_netns_send_notes_the_first_node_only_for_external_clients(state: dict, capsys, source: str,
                                                                   noted: bool) -> None:
    """QA-kernel 5: a LoadBalancer IP or externalIP enters the first node only from an external client; a pod or
    a node sends it through its own node."""
    import argparse
    from unittest import mock

    from kubeproxy_sim.cli import netns_cmd
    from kubeproxy_sim.kernel.send import Tally

    address = "198.51.100.20"
    args = argparse.Namespace(name="names", src=source, dst=f"{address}:80", proto="tcp", count=1, seed=None,
                              timeout=1.0, output="json", quiet=False, color="never", verbose=0)
    found = Tally(source, f"{address}:80", "tcp", 1, failures={"timeout": 1}, address=address)
    with mock.patch("kubeproxy_sim.kernel.env.require"), \
            mock.patch.object(netns_cmd, "_state", return_value=dict(state, via_first_node=[address])), \
            mock.patch("kubeproxy_sim.kernel.send.send", return_value=found):
        assert netns_cmd.run_send(args) == 0
    err = capsys.readouterr().err
    assert (f"{address} is a LoadBalancer or external IP" in err) is noted, err
    if noted:
        assert "so it enters node/node1" in err


def test_a_seeded_run_of_more_connections_than_source_ports_reuses_them_in_order() -> None:
    """netns send --count 40001 --seed 1 was an internal error (a sample larger than the 40000 seeded ports); the
    ports now come back in the same order, for connections too far apart to be open together, as the queries'
    do (dnsquery.draws); a run within the range is what it was."""
    from kubeproxy_sim.kernel.send import source_ports

    ports = source_ports(1, 40001)
    assert ports is not None and len(ports) == 40001
    assert len(set(ports[:40000])) == 40000 and ports[40000] == ports[0]
    assert source_ports(1, 100) == random.Random(1).sample(range(20000, 60000), 100)
    assert source_ports(None, 5) is None


@pytest.mark.parametrize("source", ["127.0.0.1", "127.0.0.2", "[::1]"])
def test_a_bare_loopback_source_is_refused_alike_by_send_and_netns_send(state: dict, source: str) -> None:
    """Every node has a loopback: netns send took the first node bound there and send an outside host, so their
    outcomes differed (the kernel reached node1's NodePort). Both now ask for node/NAME, in the same words."""
    with pytest.raises(UsageError) as kernel:
        resolve_source(state, source)
    with pytest.raises(UsageError) as sim:
        parse_source(simulator(), source)
    assert str(kernel.value) == str(sim.value)
    assert "a loopback address is a node's own, and which node's is not said; expected node/NAME" in str(sim.value)


@pytest.mark.parametrize(("source", "kind"), [("external:127.0.0.1", "a loopback address"),
                                              ("external:[::1]", "the loopback address"),
                                              ("external:224.0.0.9", "a multicast address"),
                                              ("external:0.0.0.0", "the unspecified address"),
                                              ("external:255.255.255.255", "the broadcast address"),
                                              ("external:[fe80::1]", "a link-local address")])
def test_an_outside_source_of_no_machine_s_address_is_refused_alike(state: dict, source: str, kind: str) -> None:
    """send took external:127.0.0.1 for a host out there (whose packets a node takes for martians, and whose
    replies went to a node's loopback: "the reply went to node node1"), netns send asked for a client that
    ``netns up --client`` refuses to make ("not a unicast address"). Both now refuse it as a usage error."""
    with pytest.raises(UsageError) as kernel:
        resolve_source(state, source)
    with pytest.raises(UsageError) as sim:
        parse_source(simulator(), source)
    assert str(kernel.value) == str(sim.value) == (f"--from: {source!r}: {kind} is no outside machine's; expected "
                                                   "external:IP with a routable unicast address (`netns up --client` "
                                                   "refuses it too)")


@pytest.mark.parametrize(("source", "kind"), [("224.0.0.1", "a multicast address"),
                                              ("0.0.0.0", "the unspecified address"),
                                              ("255.255.255.255", "the broadcast address"),
                                              ("[fe80::1]", "a link-local address")])
def test_a_bare_source_of_no_machine_s_address_is_refused_alike(state: dict, source: str, kind: str) -> None:
    """send took a bare 224.0.0.1 (or 0.0.0.0) for a host out there and delivered 5/5 where every row expected
    0.0%; netns send advised ``netns up --client`` with it, which refuses it. Both now refuse it as a usage error,
    the test external:IP meets (a loopback one keeps its own words, asking for node/NAME)."""
    with pytest.raises(UsageError) as kernel:
        resolve_source(state, source)
    with pytest.raises(UsageError) as sim:
        parse_source(simulator(), source)
    assert str(kernel.value) == str(sim.value) == (f"--from: {source!r}: {kind} is no pod's, node's or outside "
                                                   "machine's; expected a routable unicast address (`netns up "
                                                   "--client` refuses it too)")
