"""Unreadable addresses leave no reference cycles behind (objects.netaddr_safe.drop_tracebacks).

netaddr's errors are cycles (its str_to_int keeps the OSError it chains from in a local), and
their tracebacks reach the callers' frames: with the collector paused (objects.bulk), one bad
value would keep a whole build alive. Every entry point that reads untrusted text with netaddr
and goes on after a refusal is run here with the collector off; ``gc.collect()`` must then find
nothing unreachable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import weakref
from collections.abc import Callable

import netaddr
import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile_tables import compile_ruleset
from kubeproxy_sim.netfilter.packet import parse_address, parse_network
from kubeproxy_sim.netfilter.saveform import save_address, to_save_form
from kubeproxy_sim.objects import load_text
from kubeproxy_sim.objects.addr import ParsedCIDR, parse_cidr, parse_ip
from kubeproxy_sim.objects.model import IPFamily, Service
from kubeproxy_sim.objects.netaddr_safe import drop_tracebacks, netaddr_address, netaddr_network
from kubeproxy_sim.proxier.state import family_service_ports

BAD_RANGES = ("x.x.x.x/8", "1.2.3.4/99", "zz::/64", "::1::2/64", " 10.0.0.0/8 ", "fd00::/64")

REDACTED_RULES = """*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-X - [0:0]
-A KUBE-SERVICES -d x.x.x.x/32 -p udp -m udp --dport 53 -j KUBE-SVC-X
-A KUBE-SERVICES -s 10.0.0.0/x.x.x.x -j ACCEPT
-A KUBE-SERVICES -d zz::1/64 -j ACCEPT
-A KUBE-SERVICES -m iprange --src-range x.x.x.x-10.0.0.9 -j ACCEPT
-A KUBE-SERVICES -p tcp -j DNAT --to-destination x.x.x.x:53
-A KUBE-SERVICES -m recent --rcheck --mask x.x.x.x -j ACCEPT
COMMIT
"""

SERVICE_DOC = """apiVersion: v1
kind: Service
metadata: {name: s, namespace: ns}
spec:
  type: LoadBalancer
  clusterIP: "zz::1"
  externalIPs: ["x.x.x.x", "gg::1", "1:2:3:4:5:6:7:8:9"]
  loadBalancerSourceRanges: ["x.x.x.x/8", "zz::/64", "fd00::/64"]
  ports: [{port: 80}]
status:
  loadBalancer: {ingress: [{ip: "::ffff:x.x.x.x"}]}
"""


def _leaves_nothing(work: Callable[[], object]) -> None:
    work()  # the first call may import modules, whose objects are not this test's business
    gc.collect()
    work()
    assert gc.collect() == 0


def _service(ranges: tuple[str, ...] = BAD_RANGES) -> Service:
    """A LoadBalancer Service whose loadBalancerSourceRanges are ``ranges`` as the loader reads them (it parses
    them, once; the proxier only files them by family)."""
    doc = f"""apiVersion: v1
kind: Service
metadata: {{name: s, namespace: ns}}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.1
  loadBalancerSourceRanges: {json.dumps(list(ranges))}
  ports: [{{port: 80, nodePort: 30080}}]
"""
    (service,) = load_text(doc, "t.yaml").cluster.services
    return service


def test_netaddr_itself_leaves_a_cycle(collector_off: None) -> None:
    """The premise: a caught netaddr error, and netaddr reading IPv6 text without a family (it tries
    IPv4 first), is garbage only the collector frees."""
    def caught() -> None:
        with contextlib.suppress(netaddr.AddrFormatError):
            netaddr.IPNetwork("x.x.x.x")
    for work in (caught, lambda: netaddr.IPNetwork("fd00::/64"), lambda: netaddr.IPAddress("fd00::1")):
        work()
        gc.collect()
        work()
        assert gc.collect() > 0


def test_helpers_refuse_bad_text_without_a_cycle(collector_off: None) -> None:
    def work() -> None:
        assert netaddr_network("x.x.x.x/8") is None
        assert netaddr_network(None) is None
        assert netaddr_address("x.x.x.x") is None
        assert netaddr_address("x.x.x.x", 4, netaddr.INET_PTON) is None
        assert netaddr_address("zz::1", 6) is None
        assert str(netaddr_network("10.1.0.0/16")) == "10.1.0.0/16"
        assert str(netaddr_address("fd00::1", 6)) == "fd00::1"
        # valid IPv6 too: netaddr without a family tries IPv4 first and leaves that error as a cycle
        assert str(netaddr_network("fd00::/64")) == "fd00::/64"
        assert str(netaddr_address("fd00::1")) == "fd00::1"
    _leaves_nothing(work)


def test_drop_tracebacks_follows_cause_and_context() -> None:
    def chained() -> BaseException:
        try:
            try:
                netaddr.IPAddress("x.x.x.x", 4)
            except netaddr.AddrFormatError as inner:
                raise ValueError("outer") from inner
        except ValueError as exc:
            drop_tracebacks(exc)
            return exc
        raise AssertionError("unreachable")
    exc = chained()
    seen = []
    pending: list[BaseException | None] = [exc]
    while pending:
        one = pending.pop()
        if one is not None and one not in seen:
            seen.append(one)
            pending += [one.__cause__, one.__context__]
    assert len(seen) >= 3  # ValueError, netaddr's AddrFormatError(s), the OSError under them
    assert all(e.__traceback__ is None for e in seen)


def test_state_source_ranges(collector_off: None) -> None:
    svc = _service()
    assert family_service_ports(svc, False)[0].source_ranges == ("10.0.0.0/8",)
    assert family_service_ports(dataclasses.replace(svc, cluster_ips=("fd00::1",)), True)[0].source_ranges == (
        "fd00::/64",)
    _leaves_nothing(lambda: family_service_ports(svc, False))
    _leaves_nothing(lambda: family_service_ports(svc, True))


def test_a_bad_source_range_keeps_no_caller_data_alive(collector_off: None) -> None:
    """What the finding measured (41 MB a generate()): the caller's data outlived a bad range."""
    class Big:
        def __init__(self) -> None:
            self.data = list(range(1000))

    def generate(text: str) -> weakref.ref[Big]:
        big = Big()
        family_service_ports(_service((text,)), False)
        return weakref.ref(big)

    for text in ("x.x.x.x/8", "fd00::/64"):  # a valid IPv6 range did it as well
        alive = generate(text)
        assert alive() is None


def test_object_decode_of_bad_addresses(collector_off: None) -> None:
    def work() -> None:
        for text in ("zz::1", "1:2:3:4:5:6:7:8:9", "::ffff:x.x.x.x", ":::", "x.x.x.x"):
            assert parse_ip(text) is None
        assert parse_cidr("zz::/64") is None
        assert parse_cidr("fd00::1/64") == ParsedCIDR("fd00::/64", IPFamily.IPV6, True)  # valid, and no cycle
        result = load_text(SERVICE_DOC, "t.yaml")
        assert result.diagnostics
    _leaves_nothing(work)


def test_netfilter_parse_compile_and_save_form_of_redacted_addresses(collector_off: None) -> None:
    ruleset = parse_ruleset(REDACTED_RULES, validate=False)

    def work() -> None:
        parse_ruleset(REDACTED_RULES, validate=False)
        compile_ruleset(ruleset)
        to_save_form(ruleset)
        assert save_address("x.x.x.x/32", False) == "x.x.x.x/32"
        assert save_address("10.0.0.0/x.x.x.x", False) == "10.0.0.0/x.x.x.x"
        assert save_address("zz::1/64", True) == "zz::1/64"
        for text in ("x.x.x.x", "[zz::1]", "10.0.0.0/x.x.x.x"):
            with pytest.raises(ValueError, match="is not an IP address"):
                parse_network(text) if "/" in text else parse_address(text)
    _leaves_nothing(work)


def test_node_object_addresses(collector_off: None) -> None:
    """A Node's addresses of one family (objects.nodes.of_family): netaddr is given the family, so IPv6 text
    leaves no cycle; text that is no address is skipped, as kube-proxy skips it."""
    from kubeproxy_sim.objects.model import Node, NodeAddress
    from kubeproxy_sim.objects.nodes import node_object_addresses, of_family

    node = Node("n1", (NodeAddress("ExternalIP", "2001:db8::0:1"), NodeAddress("InternalIP", "fd00::10"),
                       NodeAddress("InternalIP", "10.0.0.1"), NodeAddress("Hostname", "n1")))

    def work() -> None:
        assert node_object_addresses(node, 6) == ["fd00::10", "2001:db8::1"]
        assert node_object_addresses(node, 4) == ["10.0.0.1"]
        assert of_family(["fd00::1/64", "zz::1", "10.0.0.1/24", "x.x.x.x"], 6) == ["fd00::1"]
        assert of_family(["fd00::1/64", "zz::1", "10.0.0.1/24", "x.x.x.x"], 4) == ["10.0.0.1"]
    _leaves_nothing(work)


def test_the_firewall_chain_s_node_ip_check_on_an_ipv6_proxier(collector_off: None) -> None:
    """KUBE-FW's "is the node inside a source range" (every LoadBalancer with source ranges, every sync): netaddr is
    given the family, so an IPv6 node IP and ranges leave no cycle inside generate()'s collector pause."""
    from types import SimpleNamespace

    from kubeproxy_sim.proxier.rules.external import _node_ip_allowed

    def work() -> None:
        for node_ip, allowed in (("fd00::10", True), ("2001:db8::1", False), ("10.0.0.5", True)):
            ctx = SimpleNamespace(node_ip=node_ip)
            assert _node_ip_allowed(ctx, ("fd00::/64", "10.0.0.0/8", "fd01::/64")) is allowed  # type: ignore[arg-type]
    _leaves_nothing(work)


def test_the_node_s_interface_addresses_and_nodeport_cidrs_on_an_ipv6_proxier(collector_off: None) -> None:
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.proxier.rules.context import _interface_addresses, nodeport_destinations

    config = ProxyConfig(ip_family=IPFamily.IPV6, node_ips=("10.0.0.5/24", "fd00::10/64"),
                         nodeport_addresses=("fd00::/64", "10.0.0.0/8"))
    every = dataclasses.replace(config, nodeport_addresses=())

    def work() -> None:
        assert [str(a) for a in _interface_addresses(config)] == ["127.0.0.1", "::1", "10.0.0.5", "fd00::10"]
        assert nodeport_destinations(config).addresses == ("fd00::10",)
        assert nodeport_destinations(every).match_all
    _leaves_nothing(work)
