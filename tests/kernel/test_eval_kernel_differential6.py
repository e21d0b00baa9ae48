"""The rule evaluator against the real kernel in IPv6: ip6tables rulesets, IPv6 packets, rule by rule.

The IPv6 twin of :mod:`tests.kernel.test_eval_kernel_differential` (which says how a comparison is made: the
counters of ``ip6tables-save -c`` that each packet moves, and conntrack's table at the end), with IPv6's own
forms: addresses and prefixes up to /128 (negated too), ``-p icmpv6`` under its spellings (and ``-p icmp``,
which no IPv6 packet carries), addrtype as ip6tables reads it (LOCAL, UNICAST, MULTICAST, ANYCAST, UNSPEC,
UNREACHABLE; a list of them is not IPv4's "any of": see :data:`ADDRTYPES`), recent with IPv6 masks and
--rdest, REJECT with IPv6's --reject-with values, DNAT to ``[addr]:port`` and to an address alone, and
MASQUERADE in nat POSTROUTING (its source is compared too: conntrack's reply destination).

The node is a pair of scratch namespaces (``kpsim-<run>-e6.c`` the client, ``kpsim-<run>-e6.n`` the node); the
client's IPv6 is switched off on its link, so it sends nothing by itself (MLD reports, router solicitations)
that would walk the node's rules between two of ours: its frames are written whole (an AF_PACKET socket needs
no address). The node answers neighbour solicitation for nothing it needs: every address it sends to has a
permanent neighbour entry (a MAC no one has), as in the IPv4 differential.

CI runs a small derandomized budget; KPSIM_DEEP=1 many more.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.netfilter.evaluate import NodeContext
from kubeproxy_sim.netfilter.packet import canonical_address, host_port
from tests.budget import budget
from tests.kernel.eval_kernel import (
    NOBODY,
    NUD_PERMANENT,
    PORTS,
    Chain,
    Key,
    Probe,
    ScratchNode,
    Walk,
    address_matches,
    check_agrees,
    conntrack_entries,
    draw_chains,
    draw_probes,
    draw_target,
    listening_pair,
    optional_matches,
    out_link,
    port_matches,
    recent_match,
    walks,
)

pytestmark = pytest.mark.kernel

NODE = "fd00:9::1"  # on c0, facing the client (/64)
OUT_LOCAL = "fd00:100::1"  # on out0 (/48): local, though not on the interface the packets come in by
SMALL = "fd00:200::1"  # on out0 too (/126): its prefix's subnet-router anycast fd00:200:: is joined as well
NODE_CONTEXT = NodeContext.of(
    (f"{NODE}/64", f"{OUT_LOCAL}/48", f"{SMALL}/126"),
    interfaces={"c0": (f"{NODE}/64",), "out0": (f"{OUT_LOCAL}/48", f"{SMALL}/126")},
    routes=(("fd00:9::/64", "c0"), ("fd00:100::/48", "out0"), ("fd00:200::/126", "out0"), ("::/0", "out0")),
    route_localnet_known=True)
"""The node's facts, all of them: a default route too (as a node has), so no address is unreachable (the
evaluator assumes a route it is not given, and says so, where the kernel would find none)."""
SOURCES = ("fd00:9::2", "fd00:9::3", "fd00:77::5", "fe80::2")  # never the node's own; fe80::2 is not forwarded
FORWARDED = ("fd00:100::7", "fd00:100:0:3::9")  # routed out of out0
BACK_OUT = ("fd00:9::5",)  # routed back out of c0: a link-local source is forwarded there (ip6_forward's redirect)
ANYCASTS = ("fd00:9::", "fd00:100::", "fd00:200::")  # the prefixes' subnet-router anycasts: local when forwarding
DESTINATIONS = (NODE, OUT_LOCAL, "ff02::1", *FORWARDED, *BACK_OUT, *ANYCASTS)
ADDRESSES = (*SOURCES, *DESTINATIONS, "fd00::", "::")
PREFIXES = ("", "/128", "/126", "/64", "/48", "/16", "/8")
PROTOCOLS = ("", "tcp", "udp", "icmpv6", "ipv6-icmp", "icmp", "!tcp", "!icmpv6")
ADDRTYPES = ("LOCAL", "UNICAST", "MULTICAST", "UNREACHABLE", "ANYCAST", "UNSPEC", "LOCAL,UNICAST",
             "UNICAST,MULTICAST", "LOCAL,MULTICAST")
"""ip6tables' addrtype types: BROADCAST is refused by the kernel (addrtype_mt_checkentry_v1: "ipv6 does not
support BROADCAST matching"), and so are BLACKHOLE, PROHIBIT and the types after it."""
RECENT_MASKS = ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff::")
REJECT_WITH = ("", " --reject-with icmp6-port-unreachable", " --reject-with icmp6-adm-prohibited",
               " --reject-with icmp6-no-route", " --reject-with tcp-reset")
DNAT_TO = (NODE, OUT_LOCAL, *FORWARDED, *BACK_OUT)


def _address(draw: st.DrawFn, flag: str) -> str:
    address = draw(st.sampled_from(ADDRESSES))
    return f"{'! ' if draw(st.booleans()) else ''}{flag} {address}{draw(st.sampled_from(PREFIXES))}"


def _recent(draw: st.DrawFn) -> str:
    return recent_match(draw, RECENT_MASKS, ("--rsource", "--rdest"))


def _protocol(draw: st.DrawFn, out: list[str]) -> str:
    """Appends the protocol match (and its port matches); returns the protocol a port match names, or ""."""
    proto = draw(st.sampled_from(PROTOCOLS))
    if proto.startswith("!"):
        out.append(f"! -p {proto[1:]}")
    elif proto:
        out.append(f"-p {proto}")
        if proto in ("tcp", "udp"):
            out.extend(port_matches(draw, proto))
            return proto
    return ""


def _matches(draw: st.DrawFn, hooks: set[str]) -> tuple[list[str], str]:
    out = address_matches(draw, hooks, _address)
    proto = _protocol(draw, out)
    return out + optional_matches(draw, hooks, ADDRTYPES, _recent), proto


def _target(draw: st.DrawFn, table: str, name: str, hooks: set[str], callees: list[str], proto: str) -> str:
    def reject() -> str:  # tcp-reset only with -p tcp: the kernel refuses it for any other (reject_tg6_check)
        return f"-j REJECT{draw(st.sampled_from(REJECT_WITH if proto == 'tcp' else REJECT_WITH[:-1]))}"

    def dnat() -> str:
        to = draw(st.sampled_from(DNAT_TO))
        if proto:
            return f"-j DNAT --to-destination [{to}]:{draw(st.sampled_from(PORTS))}"
        return f"-j DNAT --to-destination {to}"

    return draw_target(draw, table, name, hooks, callees, {
        "REJECT": reject, "DNAT": dnat,
        "MASQUERADE": lambda: f"-j MASQUERADE{draw(st.sampled_from(('', ' --random-fully')))}"})


def _rule(draw: st.DrawFn, table: str, name: str, hooks: set[str], callees: list[str]) -> str:
    matches, proto = _matches(draw, hooks)
    return " ".join([*matches, _target(draw, table, name, hooks, callees, proto)]).strip()


@st.composite
def rulesets(draw: st.DrawFn) -> tuple[Chain, ...]:
    """Filter and nat tables: their built-in chains for a packet from elsewhere and 1-3 user chains, 3-12 rules."""
    return draw_chains(draw, _rule)


@st.composite
def probes(draw: st.DrawFn) -> tuple[Probe, ...]:
    return draw_probes(draw, ("tcp", "udp", "icmpv6"), SOURCES, DESTINATIONS)


def _end(address: str, port: int | None, masquerade: str | None) -> str:
    """Where a connection goes, in one text for both sides: ``[ADDR]:PORT`` (ADDR alone for ICMPv6), then
    `` from SRC`` when its source was rewritten."""
    where = canonical_address(address) if port is None else host_port(canonical_address(address), port)
    return where + (f" from {canonical_address(masquerade)}" if masquerade else "")


def _masquerade(masqueraded: bool, address: str) -> str | None:
    """The source MASQUERADE gave a packet to ``address``: the address of the interface it leaves by (c0's for
    one routed back out of c0, else out0's)."""
    if not masqueraded:
        return None
    return NODE if address.startswith("fd00:9:") else OUT_LOCAL


def _ends_at(probe: Probe, finished: Any) -> str | None:
    """Where the connection of a walk that ended so goes (see :func:`_end`): a DNAT's destination, or the
    packet's own; with its new source when MASQUERADE took it."""
    port = None if probe.proto == "icmpv6" else probe.dport
    if finished.verdict == "DNAT":
        assert finished.destination is not None
        address, _, to = finished.destination.rpartition(":") if port else (finished.destination, "", "")
        address = address.strip("[]")
        return _end(address, int(to) if to else None, _masquerade(finished.masquerade, address))
    if finished.verdict == "ACCEPT":
        return _end(probe.dst, port, _masquerade(finished.masquerade, probe.dst))
    return None


def evaluated(chains: tuple[Chain, ...], packets: tuple[Probe, ...]) -> list[Walk]:
    """Per packet, what the evaluator says it did, walked in order through one sampling run."""
    return walks(chains, packets, NODE_CONTEXT, icmp="icmpv6", end=_ends_at, ipv6=True)


def _frame6(probe: Probe, src_mac: str, dst_mac: str) -> bytes:
    """The frame of a probe; a multicast destination goes to its 33:33 group MAC, as any sender writes it."""
    import netaddr
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    from scapy.layers.l2 import Ether

    layer = {"tcp": lambda: TCP(sport=probe.sport, dport=probe.dport, flags="S"),
             "udp": lambda: UDP(sport=probe.sport, dport=probe.dport) / b"x",
             "icmpv6": lambda: ICMPv6EchoRequest(id=probe.sport, seq=1)}[probe.proto]()
    group = int(netaddr.IPAddress(probe.dst))
    if group >> 120 == 0xFF:
        dst_mac = "33:33:" + ":".join(f"{(group >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))
    return bytes(Ether(src=src_mac, dst=dst_mac) / IPv6(src=probe.src, dst=probe.dst, hlim=64) / layer)


CONNECTION = re.compile(r"^(tcp|udp|icmpv6) .*?src=(\S+) dst=(\S+) (?:sport=(\d+) dport=(\d+)|type=128 code=0 "
                        r"id=(\d+)).*? src=(\S+) dst=(\S+) (?:sport=(\d+)|type=129)")


def connections(node: str) -> dict[tuple[str, str, str, int], str]:
    """(protocol, source, destination, source port or echo id) of every IPv6 connection conntrack holds -> where
    it goes (the reply's source: a DNAT's destination) and, when its source was rewritten, to what (the reply's
    destination)."""
    found = {}
    for proto, src, dst, sport, _, ident, to, back, to_port in conntrack_entries(node, CONNECTION, "-f", "ipv6"):
        masquerade = None if canonical_address(back) == canonical_address(src) else back
        key = (proto, canonical_address(src), canonical_address(dst), int(sport or ident))
        found[key] = _end(to, int(to_port) if to_port else None, masquerade)
    return found


RESET_GUARD = "-A POSTROUTING -p tcp -m tcp --tcp-flags RST RST -j ACCEPT"
"""The node's own resets end their nat POSTROUTING walk here, before the example's rules, and this rule is left
out of the comparison. What the node sends is not the packet the evaluator follows, and a reset that
``REJECT --reject-with tcp-reset`` sends for a SYN rejected in INPUT or FORWARD walks nat POSTROUTING's rules
(measured): it carries the SYN's connection, whose source NAT was not set up yet (the SYN never reached nat
INPUT or POSTROUTING), and nf_nat_inet_fn runs the chain for a RELATED_REPLY packet of such a connection. An
ICMPv6 error does not (nf_nat_ipv6_fn translates it from its connection's NAT)."""


class Node6(ScratchNode):
    """The IPv6 scratch pair."""

    family = 6

    def restore(self, chains: tuple[Chain, ...], lists_tag: str) -> str:
        return super().restore(chains, lists_tag).replace(":POSTROUTING ACCEPT [0:0]\n",
                                                          f":POSTROUTING ACCEPT [0:0]\n{RESET_GUARD}\n", 1)

    def counters(self) -> dict[Key, int]:
        """The counters, :data:`RESET_GUARD` left out (the rules after it numbered as the example numbers them)."""
        out = {}
        for (table, chain, number), count in super().counters().items():
            if (table, chain) != ("nat", "POSTROUTING") or number == 0:
                out[(table, chain, number)] = count
            elif number > 1:
                out[(table, chain, number - 1)] = count
        return out

    def frame(self, probe: Probe) -> bytes:
        return _frame6(probe, self.src_mac, self.dst_mac)

    def ends(self) -> dict[tuple[str, str, str, int], str]:
        return connections(self.node)

    def run(self, chains: tuple[Chain, ...], packets: tuple[Probe, ...]) -> list[Walk]:
        flushed = nsexec.run(self.node, ["conntrack", "-F", "-f", "ipv6"])
        assert flushed.returncode == 0, flushed.stderr
        canonical = tuple(Probe(p.proto, canonical_address(p.src), canonical_address(p.dst), p.dport, p.sport)
                          for p in packets)
        return super().run(chains, canonical)


def _configure(client: str, node: str) -> None:
    """The node's addresses, a default route out of out0 and permanent neighbours (fd00:77::5, the source no
    prefix of the node's holds, out there); the client's IPv6 off (it only writes frames)."""
    from kubeproxy_sim.kernel import sysfs

    nsexec.call(client, sysfs.write_sysctls, {"net.ipv6.conf.eth0.disable_ipv6": "1"})
    with nsexec.iproute(node) as ipr:
        c0, out0 = out_link(ipr, client)
        ipr.addr("add", index=c0, address=NODE, prefixlen=64)
        ipr.addr("add", index=out0, address=OUT_LOCAL, prefixlen=48)
        ipr.addr("add", index=out0, address=SMALL, prefixlen=126)
        ipr.route("add", dst="::/0", oif=out0, family=socket.AF_INET6)
        neighbours = [(a, c0 if a.startswith(("fd00:9:", "fe80:")) else out0)
                      for a in (*SOURCES, *FORWARDED, *BACK_OUT)]
        for address, index in neighbours:
            ipr.neigh("add", dst=address, lladdr=NOBODY, ifindex=index, state=NUD_PERMANENT, family=socket.AF_INET6)


@pytest.fixture(scope="module")
def pair6(kernel: None, run_tag: str) -> Iterator[Node6]:
    yield from listening_pair(run_tag, "e6", _configure, Node6)


def _tables(filter_input: tuple[str, ...] = (), prerouting: tuple[str, ...] = (), postrouting: tuple[str, ...] = (),
            forward: tuple[str, ...] = ()) -> tuple[Chain, ...]:
    return (Chain("filter", "INPUT", "ACCEPT", filter_input), Chain("filter", "FORWARD", "ACCEPT", forward),
            Chain("nat", "PREROUTING", "ACCEPT", prerouting), Chain("nat", "INPUT", "ACCEPT", ()),
            Chain("nat", "POSTROUTING", "ACCEPT", postrouting))


PINNED = {
    # ip6tables' addrtype is not iptables': UNICAST is any unicast address, a local one too; a list's
    # MULTICAST/UNICAST/UNSPEC are each required (LOCAL,UNICAST: local and unicast); LOCAL with
    # --limit-iface-in is the address being on the input interface, and with it the route lookup is strict:
    # fd00:77::5, routed out of out0 (the default route), is UNREACHABLE limited to c0. The evaluator read it
    # all as IPv4's "any of" the address's one type.
    "addrtype": (_tables(filter_input=("-m addrtype --src-type LOCAL,UNICAST", "-m addrtype --dst-type UNICAST",
                                       "-m addrtype --dst-type LOCAL --limit-iface-in",
                                       "-m addrtype ! --dst-type LOCAL,MULTICAST",
                                       "-m addrtype --src-type UNREACHABLE --limit-iface-in",
                                       "-m addrtype --src-type UNREACHABLE")),
                 (Probe("tcp", "fd00:9::2", NODE, 80, 1000), Probe("udp", "fd00:9::3", OUT_LOCAL, 53, 1001),
                  Probe("icmpv6", "fd00:77::5", "ff02::1", 0, 1002))),
    # a forwarding node delivers its prefixes' subnet-router anycast addresses to itself, and addrtype calls
    # them ANYCAST (a /126's too); the evaluator forwarded them (the /126's until r8's finding 3)
    "anycast": (_tables(filter_input=("-m addrtype --dst-type ANYCAST",), forward=("-j DROP",)),
                (Probe("tcp", "fd00:9::2", "fd00:9::", 80, 1000), Probe("udp", "fd00:9::3", "fd00:100::", 53, 1001),
                 Probe("tcp", "fd00:9::2", "fd00:100::7", 80, 1002),
                 Probe("udp", "fd00:9::3", "fd00:200::", 53, 1003))),
    # kube-proxy's IPv6 forms: DNAT to [addr]:port, MASQUERADE of a marked connection, REJECT's IPv6 answers,
    # recent with an IPv6 mask shared by a /64
    # xt_recent masks an address with its list's mask (the first rule naming the list), not the rule's: a /64
    # --rcheck finds what a full-mask --set stored, and a full-mask --rcheck of list B finds a neighbour of the
    # /64 --set's address; the evaluator applied each rule's own mask
    "recent-mask": (_tables(prerouting=("-m recent --set --name A --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                        "--rsource", "-m recent --set --name B --mask ffff:ffff:ffff:ffff:: --rsource"),
                            postrouting=("-m recent --rcheck --name A --mask ffff:ffff:ffff:ffff:: --rsource",
                                         "-m recent --rcheck --name B --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                         "--rdest")),
                    (Probe("tcp", "fd00:9::2", "fd00:100::7", 80, 1000),
                     Probe("udp", "fd00:100::7", "fd00:9::3", 53, 1001))),
    # a frame to a multicast group that PREROUTING DNATs to another host is not forwarded (not sent to the node's
    # MAC), one DNATed to the node is delivered; the evaluator forwarded the first
    "multicast-dnat": (_tables(forward=("-j ACCEPT",),
                               prerouting=("-p udp -j DNAT --to-destination [fd00:100::7]:53",
                                           f"-p tcp -j DNAT --to-destination [{NODE}]:80")),
                       (Probe("udp", "fd00:9::2", "ff02::1", 53, 1000),
                        Probe("tcp", "fd00:9::2", "ff02::1", 443, 1001))),
    # ip6_forward drops a packet from a link-local source (beyond scope) before FORWARD, unless it leaves by the
    # interface it came in on (a redirect, then forwarded), and so does one from :: (no ICMPv6); the evaluator
    # forwarded the first, then dropped the fourth, and forwarded :: out of out0
    "link-local": (_tables(forward=("-j ACCEPT",), postrouting=("-j MASQUERADE",)),
                   (Probe("tcp", "fe80::2", "fd00:100::7", 80, 1000), Probe("udp", "fe80::2", NODE, 53, 1001),
                    Probe("udp", "fd00:9::2", "fd00:100::7", 53, 1002),
                    Probe("tcp", "fe80::2", "fd00:9::5", 80, 1003), Probe("tcp", "::", "fd00:100::7", 80, 1004),
                    Probe("udp", "::", "fd00:9::5", 53, 1005))),
    "kube-proxy": (_tables(
        filter_input=("-p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset", "-p udp -j REJECT"),
        prerouting=(f"-d {NODE}/128 -p tcp -m tcp --dport 8080 -j MARK --or-mark 0x4000",
                    f"-d {NODE}/128 -p tcp -m tcp --dport 8080 -m recent --set --name A "
                    "--mask ffff:ffff:ffff:ffff:: --rsource -j DNAT --to-destination [fd00:100::7]:80",
                    "-p tcp -m tcp --dport 80 -m recent --rcheck --seconds 10800 --name A "
                    "--mask ffff:ffff:ffff:ffff:: --rsource -j DNAT --to-destination [fd00:100:0:3::9]:443"),
        postrouting=("-m mark ! --mark 0x4000/0x4000 -j RETURN", "-j MARK --xor-mark 0x4000",
                     "-j MASQUERADE --random-fully")),
        (Probe("tcp", "fd00:9::2", NODE, 8080, 1000), Probe("tcp", "fd00:9::3", OUT_LOCAL, 80, 1001),
         Probe("tcp", "fd00:9::2", NODE, 22, 1002), Probe("udp", "fd00:77::5", NODE, 53, 1003))),
}
"""Examples every run compares (each divergence found, and the forms kube-proxy writes for IPv6)."""


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_examples_agree_with_the_kernel(pair6: Node6, name: str) -> None:
    check_agrees(pair6, *PINNED[name], evaluated)



@settings(max_examples=budget(24))
@given(chains=rulesets(), packets=probes())
def test_the_evaluator_matches_the_rules_the_kernel_matches_in_ipv6(pair6: Node6, chains: tuple[Chain, ...],
                                                                    packets: tuple[Probe, ...]) -> None:
    check_agrees(pair6, chains, packets, evaluated)
