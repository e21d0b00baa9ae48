"""Walking a packet through the hooks of a compiled ruleset, with the kernel's semantics.

The walk follows every branch of every probability split: a branch is a copy
of the packet's state with its own call stack, path and probability (kept as
an integer fraction until the end, since Fractions are slow). A sampling run
(``Sampler``) instead draws each split with injected randomness, as the kernel
does, and keeps xt_recent's lists in a :class:`RecentTable` with injected time.

Hook order (the first packet of a connection):

* from elsewhere: raw, mangle, nat PREROUTING; routing (a local destination
  goes to INPUT, any other is forwarded); mangle, filter, security, nat INPUT,
  or mangle, filter, security FORWARD then mangle, nat POSTROUTING;
* locally generated: raw, mangle, nat OUTPUT; routing; filter, security
  OUTPUT; mangle, nat POSTROUTING; a packet for a local address then comes
  back in on ``lo`` through raw, mangle PREROUTING and mangle, filter,
  security INPUT (its connection is already NATed, so nat is not consulted).

The nat table is consulted only for a connection's first packet: NEW, or
RELATED in the original direction (a connection a conntrack helper expected,
which nf_nat_inet_fn treats as new unless the helper bound its NAT already:
assumed not, and listed as uncertain); not for an established or untracked one,
nor for an ICMP error RELATED to a connection (translated from that connection's NAT).

Every built-in chain a branch passes is recorded in its ``hooks`` (:data:`HookPass`): table, chain,
the verdict it left with, whether the chain's policy gave it (no rule decided: the packet fell off the
end, or returned from it) and how many path steps it took there. The path lists only the rules that
matched, so a hook the packet went through with nothing matching, or left by its ACCEPT policy, shows
only here (a trace's ``hooks``). A chain that exists but is empty with an ACCEPT policy is passed
without a walk.

A walk that falls off the end of a built-in chain with a DROP policy ends its
path with that policy (a :class:`~kubeproxy_sim.netfilter.compile.PseudoRule`),
so the path names what decided. A routing decision that hangs on the node's
addresses when they are not known records a doubt charged to :data:`ROUTING`, and
so does one that routes a loopback address to or from another host (which hangs
on route_localnet, a sysctl, unless the node says it is set), and one that
delivers a packet to a multicast group the node may not have joined; that a packet
comes from elsewhere at all, when it may be from one of the node's unknown
addresses, is charged to :data:`ORIGIN`.

When tracing (no Sampler), the pipelines after a routing decision are memoised
(:class:`PipelineMemo`): keyed on the branch fields their chains can read, so
every endpoint of every service shares one walk of filter FORWARD and POSTROUTING.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from heapq import heappop, heappush
from itertools import count
from operator import attrgetter, itemgetter

from kubeproxy_sim.errors import Diagnostic, InputError, RulesSyntaxError
from kubeproxy_sim.netfilter.compile import (
    TERMINAL_NAT,
    CompiledChain,
    CompiledRule,
    CompiledRuleset,
    Kind,
    LazyChain,
    PseudoRule,
    chain_reads,
)
from kubeproxy_sim.netfilter.compile_match_state import RecentMatch
from kubeproxy_sim.netfilter.compile_rules import recent_matches
from kubeproxy_sim.netfilter.compile_types import Doubt, NatRange
from kubeproxy_sim.netfilter.model import Rule, Table
from kubeproxy_sim.netfilter.natrange import best_address
from kubeproxy_sim.netfilter.packet import (
    ICMP_PROTOS,
    V6_ALL,
    CtState,
    Packet,
    format_address,
    format_endpoint,
    loopback,
    parse_address,
    parse_network,
)
from kubeproxy_sim.objects.values import value_class

ACCEPT, DROP, REJECT = "ACCEPT", "DROP", "REJECT"
ROUTING = PseudoRule("", "", 0, "routing decision")
"""What a doubt about a routing decision is charged to: ``uncertain`` lists it with no line and this text."""
ORIGIN = PseudoRule("", "", 0, "packet origin")
"""What a doubt about where a packet comes from is charged to (no rule decides it): listed like :data:`ROUTING`."""
LOOPBACK6_DROP = PseudoRule("", "", 0, "routing decision: ::1 as the source or destination of a packet from elsewhere "
                                      "(ip6_rcv_core drops it before PREROUTING)", Kind.DROP)
"""The step that ends an IPv6 packet from elsewhere carrying the loopback address: the kernel drops it on receipt,
whatever the sysctls, before any hook."""
MULTICAST6_DROP = PseudoRule("", "", 0, "routing decision: a multicast source, or a multicast destination of reserved "
                                       "or interface-local scope (ffx0::, ffx1::) on a packet from elsewhere "
                                       "(ip6_rcv_core drops it before PREROUTING)", Kind.DROP)
"""The step that ends an IPv6 packet from elsewhere that RFC 4291 says no node sends: dropped on receipt, as
:data:`LOOPBACK6_DROP` (the reserved scope and a multicast source on lo too)."""
LOOPBACK6_NO_ROUTE = PseudoRule("", "", 0, "routing decision: a packet from elsewhere DNATed to ::1 finds no route "
                                          "(ip6_route_input looks ::1 up only among the input interface's routes, "
                                          "and ::1 is on lo)", Kind.DROP)
"""The step that ends an IPv6 packet from elsewhere that PREROUTING sent to ::1: no route (the kernel answers
ICMPv6 no-route, which quotes ::1, so the client does not take it for its connection's)."""
LINKLOCAL6_NOT_FORWARDED = PseudoRule("", "", 0, "routing decision: a packet from a link-local source (fe80::/10) "
                                                "is not forwarded (ip6_forward drops it before FORWARD and answers "
                                                "ICMPv6 beyond-scope)", Kind.DROP)
"""The step that ends an IPv6 packet from elsewhere from a link-local source that routing sends on to another
host: a link-local address means nothing off its link. Measured on veth namespaces (nat PREROUTING counted it,
FORWARD did not); a link-local destination is forwarded, and so is a link-local source routed back out of the
interface it came in by (ip6_forward's redirect branch)."""
UNSPECIFIED6_NOT_FORWARDED = PseudoRule("", "", 0, "routing decision: a packet from the unspecified source (::) is "
                                                  "not forwarded (ip6_forward drops it before FORWARD)", Kind.DROP)
"""As :data:`LINKLOCAL6_NOT_FORWARDED`, for the source :: (ip6_forward's IPV6_ADDR_ANY test, same branch, no ICMPv6
answer): measured on veth namespaces, a :: source forwarded out of another interface was not counted on FORWARD."""
MULTICAST6_NOT_FORWARDED = PseudoRule("", "", 0, "routing decision: a packet sent to a multicast group, DNATed to "
                                                "another host, is not forwarded (it came as a link-layer multicast "
                                                "frame, and ip6_forward forwards only frames sent to the node)",
                                      Kind.DROP)
"""The step that ends an IPv6 packet from elsewhere to a multicast group that PREROUTING sent on to another host:
measured on veth namespaces (a frame to 33:33:00:00:00:01, DNATed: nat PREROUTING counted it, FORWARD did
not)."""
GROUP4_NOT_FORWARDED = PseudoRule("", "", 0, "routing decision: a packet sent to a multicast group or a broadcast "
                                            "address, DNATed to another host, is not forwarded (it came as a "
                                            "link-layer multicast or broadcast frame, and ip_forward forwards only "
                                            "frames sent to the node)", Kind.DROP)
"""The IPv4 twin of :data:`MULTICAST6_NOT_FORWARDED` (ip_forward: ``pkt_type != PACKET_HOST``, drop): measured on
veth namespaces (10.9.0.2 -> 224.0.0.1 in a frame to 01:00:5e:00:00:01, DNATed to a host out of another
interface: nat PREROUTING counted it, FORWARD and INPUT did not). A frame to 255.255.255.255 or to the broadcast
of the input interface's subnet is assumed sent to ff:ff:ff:ff:ff:ff, as a sender on that link writes it."""
EXPECTATION = PseudoRule("", "", 0, "conntrack expectation")
"""What the doubt about a RELATED packet's NAT is charged to: listed like :data:`ROUTING`."""
EXPECTED_NAT = ("a RELATED packet opens a connection a conntrack helper expected (FTP data, say), whose nat rules the "
                "kernel reads as for a NEW one; assumed read, as they are unless the helper bound its NAT to its "
                "master connection's (a NATed master with the helper's nf_nat module loaded)")
LOOKED_UP6 = frozenset({"LOCAL", "ANYCAST", "UNREACHABLE"})
"""The addrtype types an IPv6 match answers with a route lookup (match_lookup_rt6), not from the address alone."""
# An ICMP packet RELATED to a connection is an error about it (Packet.of refuses any other type RELATED, as conntrack
# gives it none), translated from that connection's NAT (nf_nat_ipv4_fn and nf_nat_ipv6_fn hand it to
# nf_nat_icmp_reply_translation and return): no nat rule is read for it (ICMP_PROTOS, from packet).
ALL_HOSTS = {4: frozenset({0xE0000001}), 6: frozenset({0xFF01 << 112 | 1, 0xFF02 << 112 | 1})}
"""The all-hosts (all-nodes) multicast groups, which every interface joins: 224.0.0.1, ff01::1 and ff02::1."""
TCP_FLAGS_NEW = frozenset({"SYN"})
TCP_FLAGS_LATER = frozenset({"ACK"})


@value_class
class NodeContext:
    """What the node knows that the rules do not say.

    ``addresses``: the node's own addresses (``IP`` or ``IP/PREFIX``); with
    loopback they are LOCAL for addrtype and make a packet from them locally
    generated. ``interfaces``: name -> its addresses (for MASQUERADE's source
    and addrtype --limit-iface-*). ``routes``: (CIDR, interface) pairs, to
    know the output interface (by destination) and, when a packet does not
    say, the input interface (by source). ``affinity``: the names of the xt_recent lists
    (session affinity) that already hold the client; ``affinity_known``: whether those are all
    that do (a new client: none), else a list not named is uncertain and assumed not to hold
    it. ``ipsets``: name -> members (``IP``, ``CIDR`` or ``IP,proto:port``); a set not given is
    uncertain. ``route_localnet_known``: whether net.ipv4.conf.all.route_localnet is known to be 1
    (kube-proxy sets it when it serves NodePorts on localhost); else a routing decision that hangs on it (a
    loopback address on a packet from elsewhere, or leaving the node) is uncertain, and assumed set. The
    name says *known* because False never means "the sysctl is 0": it means not known (a dump does not say),
    and the trace still routes as if it were 1, listing the doubt; a node known to have it 0 is not modelled.
    """

    addresses: tuple[str, ...] = ()
    interfaces: tuple[tuple[str, tuple[str, ...]], ...] = ()
    routes: tuple[tuple[str, str], ...] = ()
    affinity: frozenset[str] = frozenset()
    ipsets: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    addresses_known: bool = True
    affinity_known: bool = True
    route_localnet_known: bool = False

    @classmethod
    def of(cls, addresses: Iterable[str] = (), *, interfaces: dict[str, Iterable[str]] | None = None,
           routes: Iterable[tuple[str, str]] = (), affinity: Iterable[str] = (),
           ipsets: dict[str, Iterable[str]] | None = None, addresses_known: bool = True,
           affinity_known: bool = True, route_localnet_known: bool = False) -> NodeContext:
        return cls(
            tuple(addresses),
            tuple((name, tuple(addrs)) for name, addrs in (interfaces or {}).items()),
            tuple(routes),
            frozenset(affinity),
            None if ipsets is None else tuple((n, tuple(m)) for n, m in ipsets.items()),
            addresses_known,
            affinity_known,
            route_localnet_known,
        )


TableKey = tuple[int, str]
"""A loaded table as :class:`RecentTable` tells who names a list: (family, table). A namespace's IPv4 and IPv6
rules share its lists (xt_recent keeps one set per network namespace), so their tables count alike."""
UNDECLARED: TableKey = (0, "")
"""Where :meth:`RecentTable.load` counts the lists no loaded rule declared: a table no ruleset has."""


class RecentTable:
    """xt_recent's lists: per name, addresses with their hit times, LRU-evicted.

    The kernel keeps ``ip_list_tot`` (100) entries per list; a new address in a full list evicts the least
    recently updated one. Each entry keeps its last hit times in a ring whose size the list takes from the rules
    naming it (:func:`stamp_ring`: 32, or more for a larger ``--hitcount``; the module's ``ip_pkt_list_tot``
    is 0 unless set at load, as on the kernels measured). A list lives while a loaded rule names it: an Engine
    loads its rules into the table it is given (:meth:`load`), so a new Engine on the same Sampler is a reload.
    Time is whatever the caller passes.
    """

    def __init__(self, size: int = 100, stamps: int = 32) -> None:
        self.size = size
        self.stamps = stamps
        self.lists: dict[str, OrderedDict[int, list[float]]] = {}
        self.masks: dict[str, int] = {}
        """Each list's address mask: the --mask of the first rule that named it (-1: all ones). The kernel masks
        an address with its list's mask, not the rule's (recent_mt reads t->mask, set by recent_mt_check when
        the rule that created the list was loaded; measured in ip6tables: a /64 --rcheck found an address that a
        full-mask --set of the same list had stored), and a list outlives a reload while a rule names it."""
        self.rings: dict[str, int] = {}
        """Each list's ring of hit times per entry: the largest any rule naming it asked for (recent_mt_check).
        An Engine declares every list its rules name before the first packet, compiled lazily or not; a list no
        rule declared (a table used alone) takes the ring of the first match run on it, as it takes its mask, and
        an address added to it without one keeps ``stamps``."""
        self.named: dict[TableKey, frozenset[str]] = {}
        """The lists each loaded table's rules name (:meth:`load`): a list lives while some table names it."""

    def declare(self, name: str, mask: int, hitcount: int = 0) -> None:
        """A rule naming the list was loaded: the list takes its mask unless it has one, and its ring grows to
        the rule's; a list whose ring grows is emptied, as recent_mt_check flushes it."""
        self.masks.setdefault(name, mask)
        ring = stamp_ring(hitcount)
        if name in self.rings and ring > self.rings[name]:
            self.lists.pop(name, None)
        self.rings[name] = max(ring, self.rings.get(name, 0))

    def load(self, family: int, tables: Iterable[tuple[str, Iterable[RecentMatch]]]) -> None:
        """A ruleset of the family replaces the node's, table by table in the order given (iptables-restore
        replaces each at its COMMIT): a table's new rules declare their lists (:meth:`declare`) before the rules
        they replace are freed, and a list then named by no loaded rule is destroyed (recent_mt_destroy drops it
        with its last rule), its entries, mask and ring gone: a later rule naming it creates it afresh. So a
        Service whose affinity is removed and later set again, or an endpoint removed and added back, forgets its
        clients, while a list both rulesets name keeps them. Measured with both iptables-restores (v1.8.9, kernel
        6.18: tests/kernel/test_recent_reload_kernel), a list moved from filter to nat survives only when nat is
        loaded first. The family's tables the ruleset has not are emptied after its own (the other family's
        stay), and so are lists no loaded rule declared (a table used alone): which table named them is not
        known."""
        self.named[UNDECLARED] = frozenset(self._names().difference(*self.named.values()))
        loaded: set[TableKey] = set()
        for table, matches in tables:
            key = (family, table)
            names = set()
            for match in matches:
                self.declare(match.name, match.mask, match.hitcount)
                names.add(match.name)
            self.named[key] = frozenset(names)
            loaded.add(key)
            self._destroy_unnamed()
        for key in [k for k in self.named if k not in loaded and k[0] in (family, UNDECLARED[0])]:
            del self.named[key]
        self._destroy_unnamed()

    def _names(self) -> set[str]:
        """Every list the table has: declared, masked or holding entries."""
        return set(self.masks).union(self.rings, self.lists)

    def _destroy_unnamed(self) -> None:
        for name in self._names().difference(*self.named.values()):
            self.lists.pop(name, None)
            self.masks.pop(name, None)
            self.rings.pop(name, None)

    def remembers(self) -> bool:
        """Whether any list holds an address (a reload may then destroy what a packet would find)."""
        return any(self.lists.values())

    def masked(self, name: str, addr: int, mask: int) -> int:
        """The address as the list holds it (``mask``: the rule's, which a list not declared yet takes)."""
        return addr & self.masks.setdefault(name, mask)

    def holds(self, name: str, addr: int) -> bool:
        return addr in self.lists.get(name, {})

    def add(self, name: str, addr: int, now: float) -> None:
        """--set (and a matching --update): a new timestamp, and the entry becomes the most recent."""
        entries = self.lists.setdefault(name, OrderedDict())
        stamps = entries.pop(addr, None)
        if stamps is None:
            if len(entries) >= self.size:
                entries.popitem(last=False)
            stamps = []
        stamps.append(now)
        del stamps[:-self.rings.get(name, self.stamps)]
        entries[addr] = stamps

    def apply(self, command: str, name: str, addr: int, now: float, seconds: int, hitcount: int,
              negated: bool, reap: bool = False) -> bool:
        """Run one recent match as xt_recent does; returns whether the rule matches. The ring is the one the list
        was declared with: the kernel sizes it when the rules load, never when a packet is matched."""
        if name not in self.rings:
            self.rings[name] = stamp_ring(hitcount)
        entries = self.lists.setdefault(name, OrderedDict())
        stamps = entries.get(addr)
        if stamps is None:
            if command == "--set":
                self.add(name, addr, now)
                return not negated
            return negated
        matched = negated
        if command == "--set":
            matched = not negated
        elif command == "--remove":
            del entries[addr]
            return not negated
        else:
            recent = [t for t in stamps if not seconds or t >= now - seconds]
            if recent and len(recent) >= max(hitcount, 1):
                matched = not negated
            if reap and seconds:
                self.reap(entries, now - seconds, addr if command == "--update" and matched else None)
        if command == "--set" or (command == "--update" and matched):
            self.add(name, addr, now)
        return matched

    @staticmethod
    def reap(entries: OrderedDict[int, list[float]], horizon: float, updating: int | None) -> None:
        """--reap (recent_entry_reap): the list's least recently updated entry goes when its newest hit is older
        than ``horizon``, whichever address the packet has, unless it is the entry (``updating``) the same
        --update is about to stamp. Measured (tests/kernel/test_eval_kernel_time): a stale check of B removed A,
        set before B, and left B; a negated --update that found its stale entry stamped it, not reaped it."""
        oldest, stamps = next(iter(entries.items()))
        if oldest != updating and stamps[-1] < horizon:
            del entries[oldest]


def stamp_ring(hitcount: int) -> int:
    """How many hit times an entry keeps for a rule of this --hitcount (recent_mt_check with ip_pkt_list_tot 0):
    32 without one, else the power of two at or above it (a list's --set rule asks for 32, so a list that
    holds anyone keeps at least 32)."""
    return 1 << (hitcount - 1).bit_length() if hitcount else 32


@dataclass(slots=True)
class Sampler:
    """Resolve splits by drawing, as the kernel does: ``rng()`` returns 32 random bits."""

    rng: Callable[[], int]
    recent: RecentTable = field(default_factory=RecentTable)
    now: float = 0.0
    nth_counters: dict[int, int] = field(default_factory=dict)

    def draw(self, rule: CompiledRule) -> bool:
        """A split: random draws 31 bits; nth was decided by the match's own check, in the rule's order."""
        if rule.split_mode == "nth":
            return True
        return (self.rng() & 0x7FFFFFFF) < rule.split[0]  # type: ignore[index]

    def nth(self, key: int, every: int, packet: int) -> bool:
        """One evaluation of an nth match (``key``: the match's), as xt_statistic counts: the counter starts at
        ``(every - 1) - packet`` (libxt_statistic) and the match holds when it stands at ``every - 1``, then
        wraps to 0."""
        count = self.nth_counters.get(key, every - 1 - packet)
        self.nth_counters[key] = 0 if count == every - 1 else count + 1
        return count == every - 1


def multicast(family: int, value: int) -> bool:
    """224.0.0.0/4 or ff00::/8."""
    return value >> 28 == 0xE if family == 4 else value >> 120 == 0xFF


def zeronet(value: int) -> bool:
    """The kernel's ipv4_is_zeronet, which its routing, addrtype and rpfilter read: 0.0.0.0 alone since Linux
    5.3 ("Allow 0.0.0.0/8 as a valid address range"), which made the rest of 0.0.0.0/8 ordinary unicast
    (measured: a packet from 0.1.2.3 reaches INPUT, a DNAT to 0.0.0.1 finds no route); 0.0.0.0/8 before."""
    return value == 0


@value_class
class SpecialRange:
    """Addresses the kernel treats apart from unicast ones, so that no machine of a network has one: neither a pod,
    a node nor a client out there (:data:`SPECIAL_RANGES`)."""

    cidr: str
    one: str
    """One address of the range in a sentence: 'a multicast address'."""
    many: str
    """The range in a sentence: 'multicast addresses'."""
    martian_source: bool
    """Whether the kernel may drop a packet from elsewhere for such a source alone, whatever the sysctls (a
    link-local one where ip6_forward sends it on): a trace key then keeps it as itself (:func:`martian_source`)."""

    def holds(self, family: int, value: int) -> bool:
        net_family, net, mask = parse_network(self.cidr)
        return family == net_family and value & mask == net


SPECIAL_RANGES = {
    4: (SpecialRange("0.0.0.0/32", "the unspecified address", "the unspecified address", True),
        SpecialRange("127.0.0.0/8", "a loopback address", "loopback addresses", False),
        SpecialRange("224.0.0.0/4", "a multicast address", "multicast addresses", True),
        SpecialRange("255.255.255.255/32", "the broadcast address", "the broadcast address", True)),
    6: (SpecialRange("::/128", "the unspecified address", "the unspecified address", True),
        SpecialRange("::1/128", "the loopback address", "the loopback address", True),
        SpecialRange("fe80::/10", "a link-local address", "link-local addresses", True),
        SpecialRange("ff00::/8", "a multicast address", "multicast addresses", True))}
"""The addresses no machine of a network has, by family, as this kernel treats them. 0.0.0.0 (:func:`zeronet`:
the rest of 0.0.0.0/8 is unicast since Linux 5.3) and 255.255.255.255 are broadcast to input routing
(inet_dev_addr_type), which drops them as sources from elsewhere, as it does a multicast one (ip_route_input_slow);
every network namespace's local table sends 127.0.0.0/8 to lo (a packet to it never leaves the host; from
elsewhere it is routed only with route_localnet, which the tracer assumes set, :data:`LOCALNET_ASSUMED`);
ip6_rcv_core drops ::1 and a multicast source from elsewhere, ip6_forward forwards a link-local source only back
out of the interface it came in by, and :: is no host's. The simulator's pod ranges, send's and netns's clients
and the tracer's martian sources all read them here."""


def special_range(family: int, value: int) -> SpecialRange | None:
    """The range of :data:`SPECIAL_RANGES` holding the address; None for one a machine may have."""
    return next((r for r in SPECIAL_RANGES[family] if r.holds(family, value)), None)


def martian_source(family: int, src: int) -> bool:
    """Whether the kernel may drop a packet from elsewhere for its source alone, before INPUT or FORWARD:
    IPv4 a multicast, limited-broadcast or zero source (:func:`_martian`; 0.0.0.0 still reaches a broadcast);
    IPv6 ::1 or a multicast source (:func:`_received6_drop`), or a link-local or unspecified (::) one, which
    ip6_forward drops (LINKLOCAL6_NOT_FORWARDED, UNSPECIFIED6_NOT_FORWARDED). A trace key keeps such a source
    as itself: two sources of one class must not share an answer that depends on one of them being such.

    The tests are :data:`SPECIAL_RANGES`' martian sources written out, not looked up: every trace-key lookup asks
    this of its source, and calling helpers took 1.7 times as long as comparing (a test holds the two in step)."""
    if family == 4:
        return src >> 28 == 0xE or src == 0xFFFFFFFF or src == 0
    return src <= 1 or src >> 120 == 0xFF or src >> 118 == 0x3FA


class Env:
    """The node's facts in the form the checks look them up (sets of integers)."""

    def __init__(self, node: NodeContext, family: int, sampler: Sampler | None = None) -> None:
        self.family = family
        self.sampler = sampler
        self.affinity = node.affinity
        self.affinity_known = node.affinity_known
        self.addresses_known = node.addresses_known
        self.route_localnet_known = node.route_localnet_known
        self.local = frozenset(v for f, v in map(_address, node.addresses) if f == family)
        self.primary = next((v for f, v in map(_address, node.addresses) if f == family), None)
        self.iface_addrs = {
            name: tuple(v for f, v in map(_address, addrs) if f == family) for name, addrs in node.interfaces
        }
        # an IPv4 node's subnets give it broadcasts, an IPv6 one's anycasts (_subnet_addresses), never both
        subnets = _subnet_addresses(family, node.addresses)
        per_iface = {name: _subnet_addresses(family, addrs) for name, addrs in node.interfaces}
        self.broadcasts = subnets if family == 4 else frozenset()
        self.anycasts = subnets if family == 6 else frozenset()
        self.iface_broadcasts = per_iface if family == 4 else {name: frozenset() for name in per_iface}
        self.iface_anycasts = per_iface if family == 6 else {name: frozenset() for name in per_iface}
        nets = [(parse_network(cidr), iface) for cidr, iface in node.routes]
        self.routes = sorted(((n, m, i) for (f, n, m), i in nets if f == family), key=lambda r: -r[1])
        self.ipsets = None if node.ipsets is None else {n: _parse_members(m) for n, m in node.ipsets}

    def address_type(self, family: int, value: int, iface: str | None = "") -> str | None:
        """addrtype's answer for an address (None: the interface's addresses are not known).

        IPv4 as inet_dev_addr_type answers: 0.0.0.0 (:func:`zeronet`) and 255.255.255.255 are BROADCAST and
        224/4 is MULTICAST on any interface; any other address is its route's type in the local table (LOCAL, or
        BROADCAST for a subnet's broadcast address, and for 127.255.255.255 on lo: the local table's
        ``broadcast 127.255.255.255 dev lo`` comes before 127/8's LOCAL), on the interface asked about
        (--limit-iface-*), else UNICAST.

        IPv6: a class of the address that holds all :meth:`addrtype6` reads of it (a trace key compares sources by
        their classes): MULTICAST, UNSPEC, else LOCAL, ANYCAST or UNICAST (on the interface asked about), then
        UNREACHABLE when the lookup finds no route, ``?`` appended when that is not known, and ``MAPPED-``
        prefixed to a ::ffff:0:0/96 address (not UNICAST to ip6tables)."""
        if family == 6 and iface is not None and not multicast(6, value) and value:
            if iface and iface not in self.iface_addrs and iface != "lo":
                return "MAPPED-?" if value >> 32 == 0xFFFF else None  # (UNICAST or not is known still)
            return self._class6(value, iface)
        lo_broadcast = family == 4 and value == 0x7FFFFFFF
        if multicast(family, value):
            return "MULTICAST"
        if family == 4:
            if zeronet(value) or value == 0xFFFFFFFF:
                return "BROADCAST"
        elif value == 0:
            return "UNSPEC"
        if iface:
            addrs = self.iface_addrs.get(iface)
            if addrs is None and iface != "lo":
                return None
            if lo_broadcast and iface == "lo":
                return "BROADCAST"
            if value in (addrs or ()) or (iface == "lo" and loopback(family, value)):
                return "LOCAL"
            if value in self.iface_broadcasts.get(iface, ()):
                return "BROADCAST"
        elif iface is None:
            return None
        elif lo_broadcast:
            return "BROADCAST"
        elif value in self.local or loopback(family, value):
            return "LOCAL"
        elif value in self.broadcasts:
            return "BROADCAST"
        return "UNICAST"

    def addrtype6(self, value: int, iface: str | None, wanted: frozenset[str]) -> bool | Doubt | None:
        """Whether an IPv6 address is of the types ``wanted`` as xt_addrtype's match_type6 answers (None: the
        interface's addresses are not known). Not IPv4's "any of the types": MULTICAST, UNICAST and UNSPEC are
        each required of the address itself (ipv6_addr_type: UNICAST is any address but a multicast one, :: and
        ::ffff:0:0/96, so a local address is UNICAST too), then, when any of LOCAL, ANYCAST and UNREACHABLE is
        wanted, one of them must be what a route lookup of the address says (match_lookup_rt6). ``iface`` ""
        is no --limit-iface-*; with one, the lookup is strict (ip6_route_output: an output interface and no
        source), so an address no route through that interface covers is UNREACHABLE (measured: a source routed
        out of another interface, limited to the input one), and LOCAL and ANYCAST are its own addresses'."""
        if "MULTICAST" in wanted and not multicast(6, value):
            return False
        if "UNICAST" in wanted and (multicast(6, value) or value == 0 or value >> 32 == 0xFFFF):
            return False
        if "UNSPEC" in wanted and value != 0:
            return False
        lookup = wanted & LOOKED_UP6
        if not lookup:
            return True
        if iface is None or (iface and iface not in self.iface_addrs and iface != "lo"):
            return None
        reachable = self._reachable6(value, iface)
        if reachable is False:
            return "UNREACHABLE" in lookup
        local, anycast = self._local_anycast6(value, iface)
        hit = bool(lookup & {*(["LOCAL"] if local else []), *(["ANYCAST"] if anycast else [])})
        if reachable is None and "UNREACHABLE" in lookup:
            return Doubt(f"addrtype: no route given covers {format_address(6, value)}"
                         f"{f' through {iface}' if iface else ''}; assumed reachable (not UNREACHABLE)", hit)
        return hit

    def _class6(self, value: int, iface: str) -> str:
        """:meth:`address_type` of a unicast-range IPv6 address, on a known interface (or none: "")."""
        local, anycast = self._local_anycast6(value, iface)
        kind = "LOCAL" if local else "ANYCAST" if anycast else "UNICAST"
        reachable = self._reachable6(value, iface)
        kind = "UNREACHABLE" if reachable is False else kind if reachable else f"{kind}?"
        return f"MAPPED-{kind}" if value >> 32 == 0xFFFF else kind

    def _local_anycast6(self, value: int, iface: str) -> tuple[bool, bool]:
        """Whether an IPv6 address is one of the node's own, and whether it is one of its prefixes' subnet-router
        anycasts: on ``iface`` when one is given (::1 is lo's), else on any interface."""
        if iface:
            local = value in self.iface_addrs.get(iface, ()) or (iface == "lo" and value == 1)
            return local, value in self.iface_anycasts.get(iface, ())
        return self.is_local(value), value in self.anycasts

    def _reachable6(self, value: int, iface: str) -> bool | None:
        """Whether an IPv6 route lookup (strict to ``iface`` when one is given) finds a route: every interface
        has ff00::/8, an address has its local route and its prefix's anycast one on its interface. None: no
        given route covers it and the node's table is not known whole (no default route was given)."""
        if multicast(6, value) or any(self._local_anycast6(value, iface)):
            return True
        if (self.routes_through(value, iface) if iface else self.route(value) is not None):
            return True
        return False if any(mask == 0 for _, mask, _ in self.routes) else None

    def is_local(self, value: int) -> bool:
        return value in self.local or loopback(self.family, value)

    def received(self, b: Branch) -> bool:
        """Whether the kernel delivers a packet from elsewhere to the node itself (INPUT), not forwarding it.

        A local address, as well as a broadcast (255.255.255.255, a node address's subnet-directed one)
        or a multicast group the node has joined (ip_route_input_mc): the all-hosts group every interface
        joins; any other is assumed joined, and said so, since the kernel drops one it has not joined
        (without multicast routing) rather than forwarding it. And an IPv6 prefix's subnet-router anycast
        address (:func:`_subnet_addresses`).
        """
        dst, family = b.dst, b.family
        if dst in self.local or loopback(family, dst) or dst in self.anycasts:
            return True
        if family == 4 and (dst == 0xFFFFFFFF or dst in self.broadcasts):
            return True
        if not multicast(family, dst):
            return False
        if dst not in ALL_HOSTS[family]:
            b.doubts.append((ROUTING, f"the destination {format_address(family, dst)} is a multicast group, "
                                      "delivered to the node only where one of its sockets joined it; assumed "
                                      "joined, else the kernel drops the packet"))
        return True

    def group_frame4(self, dst: int, in_iface: str | None) -> bool:
        """Whether an IPv4 packet to ``dst`` (as sent, before any DNAT) came in a frame not addressed to the node
        alone: to a multicast group, 255.255.255.255 or the input interface's subnet broadcast (any node
        subnet's when the interfaces are not known). ip_forward drops such a frame (pkt_type not PACKET_HOST)."""
        if dst >> 28 == 0xE or dst == 0xFFFFFFFF:
            return True
        return dst in self.iface_broadcasts.get(in_iface or "", self.broadcasts)

    def reverse_path(self, src: int, dst: int, in_iface: str | None, loose: bool, accept_local: bool) -> bool | None:
        """Whether a packet passes xt_rpfilter's test (None: the node's facts do not say).

        As the kernel: a packet on ``lo`` passes; so does one from the unspecified address
        (IPv4: 0.0.0.0, :func:`zeronet`, to a broadcast or link-local multicast address, as DHCP sends).
        Otherwise the source is looked up as a destination: a local route passes only with
        --accept-local (and then, strict, when the address is on the input interface: not known
        here), a unicast one when it leaves by the input interface (or any interface, --loose).
        A source the given routes do not cover is not known (the node's table may hold more),
        nor is any source when the node's own addresses are not known (it may be one of them),
        nor an IPv6 link-local or multicast one (looked up on its link).
        """
        if in_iface == "lo":
            return True
        family = self.family
        if family == 6 and src == 0:
            return True
        if family == 4 and zeronet(src) and (dst == 0xFFFFFFFF or dst >> 8 == 0xE00000):
            return True
        if family == 6 and (src >> 118 == 0x3FA or multicast(6, src)):  # fe80::/10, ff00::/8: looked up per link
            return None
        if self.is_local(src):
            if not accept_local:
                return False
            return True if loose or family == 6 else None
        if not self.addresses_known or not self.routes:
            return None
        out = self.route(src)
        if out is None:
            return None
        if loose:
            return True
        return None if in_iface is None else out == in_iface

    def route(self, value: int) -> str | None:
        for net, mask, iface in self.routes:
            if value & mask == net:
                return iface
        return None

    def routes_through(self, value: int, iface: str | None) -> bool:
        """Whether a given route through ``iface`` covers ``value`` (an IPv6 strict lookup, on that interface)."""
        return any(out == iface and value & mask == net for net, mask, out in self.routes)

    def source_for(self, iface: str | None) -> int | None:
        """MASQUERADE's new source: the output interface's address, else the primary node address."""
        addrs = self.iface_addrs.get(iface or "")
        return addrs[0] if addrs else self.primary

    def recent(self, command: str, name: str, addr: int, mask: int, seconds: int, hitcount: int, negated: bool,
               reap: bool) -> bool | None:
        """A recent match: sampled against the RecentTable, traced against the node's affinity lists.

        None (traced only): the match reads a list (--rcheck, --update, --remove) that is not among
        ``affinity`` when those are not known to be all the lists holding the client."""
        if self.sampler is not None:
            table = self.sampler.recent
            return table.apply(command, name, table.masked(name, addr, mask), self.sampler.now, seconds, hitcount,
                               negated, reap)
        hit = command == "--set" or name in self.affinity
        if not hit and not self.affinity_known:
            return None
        return hit != negated

    def ipset_member(self, name: str, dims: tuple[str, ...], b: Branch) -> bool | None:
        if self.ipsets is None or name not in self.ipsets:
            return None
        singles, tuples = self.ipsets[name]
        addr = b.src if dims[0] == "src" else b.dst
        if len(dims) == 1 or not tuples:
            return any(addr & m == n for n, m in singles)
        port = b.sport if dims[1] == "src" else b.dport
        return (addr, b.proto, port) in tuples


def _address(text: str) -> tuple[int, int]:
    return parse_address(text.partition("/")[0])


def _subnet_addresses(family: int, addresses: Iterable[str]) -> frozenset[int]:
    """The addresses beside its own that the node's addresses given with a prefix make its, by family.

    IPv4: the subnet-directed broadcasts: the kernel gives each prefix under /31 a broadcast route in the local
    table (fib_add_ifaddr). IPv6: the subnet-router anycasts (RFC 4291 2.6.1: the prefix, the rest zero) of a
    prefix shorter than /127 (RFC 6164: none for /127 and /128) and not :: itself: a forwarding node joins each on
    the address's interface (addrconf_join_anycast), so a packet to it from elsewhere is delivered to the node
    (INPUT), not forwarded, and addrtype calls it ANYCAST. kube-proxy's nodes forward; measured on veth namespaces
    with forwarding on (fd00:9::1/126 too: anycast fd00:9:: in table local)."""
    found = set()
    for net, mask in _prefixed(family, addresses):
        if family == 4:
            host = ~mask & 0xFFFFFFFF
            if host > 1:
                found.add(net | host)
        elif mask >> 1 != V6_ALL >> 1 and net != 0:
            found.add(net)
    return frozenset(found)


def _prefixed(family: int, addresses: Iterable[str]) -> Iterator[tuple[int, int]]:
    """The network and mask of each address of ``family`` given with a prefix (``10.0.0.1/24``), in order."""
    for text in addresses:
        if "/" in text:
            f, net, mask = parse_network(text)
            if f == family:
                yield net, mask


def _parse_members(members: Iterable[str]) -> tuple[list[tuple[int, int]], set[tuple[int, str, int]]]:
    singles: list[tuple[int, int]] = []
    tuples: set[tuple[int, str, int]] = set()
    for member in members:
        addr, _, rest = member.partition(",")
        _, net, mask = parse_network(addr)
        if rest:
            proto, _, port = rest.partition(":")
            tuples.add((net, proto.lower(), int(port)))
        else:
            singles.append((net, mask))
    return singles, tuples


class Branch:
    """One possible history of the packet: its state now, how likely it is, and how it got here."""

    __slots__ = ("bridge_port", "ct_dnat", "ctmark", "ctstate", "ctstatus", "den", "dnat", "doubts", "dport", "dst",
                 "env", "family", "hooks", "icmp_code", "icmp_type", "in_iface", "mark", "masq", "nat_text", "num",
                 "orig_dport", "orig_dst", "orig_sport", "orig_src", "out_iface", "path", "proto", "reply", "snat",
                 "sport", "src", "tcp_flags", "zone")

    def __init__(self, packet: Packet, env: Env) -> None:
        self.env = env
        self.family = packet.family
        self.proto = packet.proto
        self.src = self.orig_src = packet.src
        self.dst = self.orig_dst = packet.dst
        self.sport = self.orig_sport = packet.sport
        self.dport = self.orig_dport = packet.dport
        self.icmp_type, self.icmp_code = packet.icmp_type, packet.icmp_code
        if packet.reply:  # the connection's original tuple went the other way (as the reply is walked: no NAT)
            self.orig_src, self.orig_dst = packet.dst, packet.src
            self.orig_sport, self.orig_dport = packet.dport, packet.sport
        self.in_iface = packet.in_iface
        self.out_iface = packet.out_iface
        self.mark = packet.mark
        self.ctmark = 0
        self.zone = 0  # the conntrack zone: 0 unless a CT --zone rule sets one
        self.ctstate = packet.ctstate.value
        self.ctstatus = packet.ctstatus
        self.reply = packet.reply
        self.tcp_flags = TCP_FLAGS_NEW if packet.ctstate is CtState.NEW else TCP_FLAGS_LATER
        self.bridge_port = packet.bridge_port
        self.ct_dnat = packet.ct_dnat  # conntrack's binding for a later packet: applied before routing
        self.dnat = packet.ct_dnat is not None  # the connection's status (--ctstate DNAT), not only this walk's
        self.snat = packet.ct_snat
        self.masq = False
        self.nat_text: str | None = None
        self.num = self.den = 1
        self.path: list[CompiledRule] = []
        self.doubts: list[tuple[CompiledRule, str]] = []
        self.hooks: tuple[HookPass, ...] = ()  # immutable: a fork shares it, a pass makes a new one

    def fork(self, num: int, den: int) -> Branch:
        """A copy that takes ``num/den`` of this branch's probability."""
        other = Branch.__new__(Branch)
        other.env, other.family, other.proto = self.env, self.family, self.proto
        other.src, other.dst, other.sport, other.dport = self.src, self.dst, self.sport, self.dport
        other.icmp_type, other.icmp_code = self.icmp_type, self.icmp_code
        other.orig_src, other.orig_dst = self.orig_src, self.orig_dst
        other.orig_sport, other.orig_dport = self.orig_sport, self.orig_dport
        other.in_iface, other.out_iface, other.bridge_port = self.in_iface, self.out_iface, self.bridge_port
        other.mark, other.ctmark, other.ctstate, other.ctstatus = self.mark, self.ctmark, self.ctstate, self.ctstatus
        other.zone = self.zone
        other.tcp_flags, other.nat_text, other.reply = self.tcp_flags, self.nat_text, self.reply
        other.dnat, other.snat, other.masq, other.ct_dnat = self.dnat, self.snat, self.masq, self.ct_dnat
        other.path = list(self.path)
        other.doubts = list(self.doubts)
        other.hooks = self.hooks
        other.num, other.den = self.num * num, self.den * den
        return other

    @property
    def repl_src(self) -> int:
        """The source of the connection's reply tuple (``--ctreplsrc``): a reply's own; in the original direction,
        where the packet is sent (its destination after DNAT; a later packet's, conntrack's binding)."""
        if self.reply:
            return self.src
        return self.dst if self.ct_dnat is None else self.ct_dnat[0]

    @property
    def repl_dst(self) -> int:
        """The destination of the connection's reply tuple (``--ctrepldst``): a reply's own; in the original
        direction, the packet's source (after SNAT; a later packet of a source-NATed connection carries the
        client, and its check says the address is not known: see compile_match_state's _repl_dst_check)."""
        return self.dst if self.reply else self.src

    def destination(self) -> str:
        """Where a DNATed packet goes, as ``IP:PORT`` (a range's member for this connection: see :func:`_nat`)."""
        # a DNAT to one IP:PORT carries its text from compiling (NatRange.endpoint); others are rare
        return self.nat_text or format_endpoint(self.family, self.dst, self.dport)


def rule_matches(rule: CompiledRule, b: Branch) -> bool:
    """All checks of a rule (the split aside); doubts are recorded when the answer hangs on them."""
    doubts = None
    for check in rule.checks:
        result = check(b)
        if result is True:
            continue
        if result is False:
            return False
        if doubts is None:
            doubts = [result]
        else:
            doubts.append(result)
    return _settle_doubts(rule, b, doubts)


def _settle_doubts(rule: CompiledRule, b: Branch, doubts: list | None) -> bool:
    """Record what a rule's answer hangs on; False when a doubt was assumed not to match."""
    matched = True
    if doubts is not None:
        for doubt in doubts:
            b.doubts.append((rule, doubt.reason))
            matched = matched and doubt.assume
    if matched and rule.doubts:
        b.doubts.extend((rule, reason) for reason in rule.doubts)
    return matched


Frame = tuple[CompiledChain, tuple[CompiledRule, ...], int]


def walk_chain(chain: CompiledChain, b: Branch, sampler: Sampler | None, goes_on: bool = True,
               ) -> list[tuple[Branch, str]]:
    """Every (branch, verdict) a packet entering a built-in chain can leave with; the first is ``b``'s.

    ``goes_on``: whether hooks follow this chain (which decides how the engine lists the ends, and so which of
    merged branches stands for them: see :func:`_walk_merging`).

    Depth first (:func:`_walk`): kube-proxy's splits each jump to a chain that ends the walk (a KUBE-SEP's
    DNAT), so at most one fork waits at a time. Splits whose branches go on (random marks, chains that
    return) make a tree exponential in their number whose branches mostly meet again in equal states:
    past :data:`TANGLE_PENDING` waiting forks (or :data:`DFS_FORKS` in all), the walk starts again from
    its first split and merges equal branches as they meet (:func:`_walk_merging`), with the same answer.
    """
    pending: list[tuple[Branch, list[Frame]]] = []
    first: list[tuple[Branch, list[Frame]]] = []  # b's state and place at its first split (tracing)
    try:
        results = [(b, _walk(b, [(chain, chain.rules_for(b), 0)], pending, sampler, first))]
        while pending:
            if len(results) > DFS_FORKS:
                raise _Tangled
            branch, stack = pending.pop()
            results.append((branch, _walk(branch, stack, pending, sampler, first)))
    except _Tangled:
        snapshot, stack = first[0]
        _copy_into(b, snapshot)
        return _walk_merging(b, stack, chain, goes_on)
    return results


TANGLE_PENDING = 4
"""Forks waiting at once in a depth-first walk of one table's chains before it merges instead (kube-proxy's: 1)."""
DFS_FORKS = 1 << 14
"""Branches a depth-first walk of one table's chains ends before it merges instead (a service's endpoints)."""
BRANCH_LIMIT = 4096
"""Distinct branches a walk of one table's chains follows at once: past it the trace gives up (an InputError at
the split), rather than running for ever. Equal branches are merged (:func:`_walk_merging`), so only splits
whose branches stay apart (each setting another mark bit, say) come near it; kube-proxy's follow 2."""
STEP_LIMIT = 1 << 25
"""Steps (rules on the paths of the branches a split forks, summed) of a merging walk of one table's chains: past
it the trace gives up too. Branches merge only where their call stacks are equal, and a chain entered at random
from two places in each of n chains makes 2^n stacks (and a path of 2^n entries, which the kernel walks as well):
n = 12 takes 0.8 s to answer, n = 14 stops after 1.2 s. A service of 100,000 endpoints takes about 10 steps a fork."""


WALK_LIMIT = 1 << 17
"""Branches (ended or waiting) of one packet's walk over all its hooks: past it the trace gives up too. A table's
splits merge, but the next table walks each branch it is handed, so splits in several tables multiply (9 distinct
marks in raw, 9 in mangle: 262,144 branches, 10 s); a kube-proxy walk has one a service endpoint."""


def _last_split(b: Branch) -> CompiledRule | None:
    """The split a branch passed last (where a walk of too many branches is said to stop)."""
    return next((rule for rule in reversed(b.path) if rule.split is not None), None)


class _Tangled(Exception):
    """A depth-first walk met splits whose branches go on: walk again, merging them."""


# The kinds the walk loop tests on every matched rule, as module globals: a global lookup is
# cheaper than an attribute of the enum class, and this loop runs for every rule of every branch.
_CONTINUE, _JUMP, _GOTO, _RETURN = Kind.CONTINUE, Kind.JUMP, Kind.GOTO, Kind.RETURN

def _walk(b: Branch, stack: list[Frame], pending: list[tuple[Branch, list[Frame]]],
          sampler: Sampler | None, first: list[tuple[Branch, list[Frame]]]) -> str:
    """Walk one branch until this table's verdict; forks go to ``pending``.

    ``first`` gets a copy of the branch and its stack at the first split taken, whence a walk that turns
    out tangled starts again (:func:`walk_chain`); raises :class:`_Tangled` when too many forks wait.
    The match loop of :func:`rule_matches` is inlined: this is the hot path.
    """
    base = stack[0][0]
    path = b.path
    while stack:
        chain, rules, i = stack.pop()
        n = len(rules)
        while i < n:
            rule = rules[i]
            i += 1
            doubts = None
            for check in rule.checks:
                result = check(b)
                if result is True:
                    continue
                if result is False:
                    break
                if doubts is None:
                    doubts = [result]
                else:
                    doubts.append(result)
            else:
                if (doubts is not None or rule.doubts) and not _settle_doubts(rule, b, doubts):
                    continue
                split = rule.split
                if split is not None:
                    if sampler is not None:
                        if not sampler.draw(rule):
                            continue
                    else:
                        if not first:
                            first.append((b.fork(1, 1), [*stack, (chain, rules, i - 1)]))
                        num, den = split
                        pending.append((b.fork(den - num, den), [*stack, (chain, rules, i)]))
                        if len(pending) > TANGLE_PENDING:
                            raise _Tangled
                        b.num *= num
                        b.den *= den
                path.append(rule)
                kind = rule.kind
                if kind is _CONTINUE:
                    continue
                if kind is _JUMP or kind is _GOTO:  # (no circle: compiling refused any, see refuse_circles)
                    if kind is _JUMP:
                        stack.append((chain, rules, i))
                    chain = rule.jump  # type: ignore[assignment]
                    rules = chain.rules if not chain.index_on else chain.rules_for(b)
                    i, n = 0, len(rules)
                    continue
                if kind is _RETURN:
                    break
                verdict = _apply(rule, kind, b)
                if verdict is not None:
                    return verdict
    return _policy_verdict(base, path)


HookPass = tuple[str, str, str, bool, int]
"""A built-in chain a branch passed: (table, chain, verdict, by its policy, path steps taken in it)."""
_DECIDING = frozenset({Kind.ACCEPT, Kind.DROP, Kind.REJECT, *TERMINAL_NAT})
"""The kinds of rule whose target ends a built-in chain's walk with a verdict (:func:`_apply`)."""


def hook_passes(chain: CompiledChain, outcomes: list[tuple[Branch, str]], start: int) -> None:
    """Record on each branch how it left the built-in chain it entered with ``start`` steps on its path: a rule
    decided when the path's last step since then has a target that ends the walk; else the policy did (nothing
    matched, only jumps, marks or a RETURN did; a DROP policy's own step counts as the policy). One call for
    all of a walk's branches: a call per branch was a measurable part of an uncached trace."""
    table, name, policy_rule = chain.table, chain.name, chain.policy_rule
    for branch, verdict in outcomes:
        path = branch.path
        steps = len(path) - start
        last = path[-1] if steps else None
        by_rule = last is not None and last.kind in _DECIDING and last is not policy_rule
        branch.hooks += ((table, name, verdict, not by_rule, steps),)


def _policy_verdict(base: CompiledChain, path: list[CompiledRule]) -> str:
    """The verdict of a walk that ran out of rules: ``base``'s policy. The path ends with the policy when it
    decided a DROP (rare: not worth a step per ACCEPT)."""
    if base.policy == DROP:
        policy = base.policy_rule
        assert policy is not None  # compile_tables gives every DROP-policy chain its step
        path.append(policy)
        return DROP
    return ACCEPT


MFrame = tuple[CompiledChain, tuple[CompiledRule, ...], int, int]
"""A frame of a merging walk: a chain, its rules for the branch, the next rule's index, and how many gotos the
frame has taken (a goto leaves a chain for another at its first rule: the count keeps places increasing)."""
_LAST = float("inf")  # in a place, after every rule of the frame: a caller's frame comes after its callees'
_NO_DOUBTS: frozenset[tuple[int, str]] = frozenset()
STATE_FIELDS = tuple(sorted(set(Branch.__slots__) - {"den", "doubts", "env", "hooks", "num", "path"}))
"""What a branch's future walk reads of it: every field but its history (path, doubts, hooks) and its probability."""
_state = attrgetter(*STATE_FIELDS)


def _copy_into(b: Branch, other: Branch) -> None:
    """Make ``b`` what ``other`` is, ``b`` keeping its identity (its caller goes on with it)."""
    for name in Branch.__slots__:
        setattr(b, name, getattr(other, name))


def _doubt_set(b: Branch) -> frozenset[tuple[int, str]]:
    return frozenset((id(rule), reason) for rule, reason in b.doubts) if b.doubts else _NO_DOUBTS


def _place(frames: list[MFrame]) -> tuple[float, ...]:
    """Where a branch is, as a key that grows along every walk: rules in order, a callee's before its caller's next
    rule, a goto's target after the chain it left."""
    return (*(v for _, _, i, gotos in frames for v in (gotos, i)), _LAST)


def _decided(order: tuple[int, ...], bit: int) -> tuple[int, ...]:
    """A branch's decisions with one more (0 taken, 1 not), run-length coded: runs of 0s negative, of 1s positive,
    so that tuples compare as the decision strings do (a depth-first walk ends them in that order)."""
    if order and (order[-1] < 0) == (bit == 0):
        return (*order[:-1], order[-1] + (1 if bit else -1))
    return (*order, 1 if bit else -1)


class _Group:
    """Branches merged into one (equal in place, state and doubts, so of one future), walked as up to three: ``first``
    (the walk's first branch, when merged in: its end is always listed first), ``lo`` and ``hi``, the others of the
    least and the greatest decisions (:func:`_decided`), whose descendants stand for the group's in the answer."""

    __slots__ = ("den", "first", "frames", "hi", "hi_order", "lo", "lo_order", "num")

    def __init__(self, first: Branch | None, lo: Branch | None, lo_order: tuple[int, ...], hi: Branch | None,
                 hi_order: tuple[int, ...], num: int, den: int, frames: list[MFrame]) -> None:
        self.first, self.lo, self.lo_order, self.hi, self.hi_order = first, lo, lo_order, hi, hi_order
        self.num, self.den, self.frames = num, den, frames

    def members(self) -> list[Branch]:
        return [b for b in (self.first, self.lo, self.hi if self.hi is not self.lo else None) if b is not None]

    def lead(self) -> Branch:
        return self.first or self.lo  # type: ignore[return-value]  # a group has one at least

    def absorb(self, other: _Group) -> None:
        """Take ``other``'s branches in: the least and greatest decisions of both, the sum of the probabilities."""
        self.first = self.first or other.first
        if other.lo is not None:
            if self.lo is None or other.lo_order < self.lo_order:
                self.lo, self.lo_order = other.lo, other.lo_order
            if self.hi is None or other.hi_order > self.hi_order:
                self.hi, self.hi_order = other.hi, other.hi_order
        self.num, self.den = _summed(self.num, self.den, other.num, other.den)


def _summed(num: int, den: int, other_num: int, other_den: int) -> tuple[int, int]:
    """Two probabilities summed, exactly (the denominators are products of the splits', mostly powers of two)."""
    if den == other_den:
        return num + other_num, den
    if den % other_den == 0:
        return num + other_num * (den // other_den), den
    if other_den % den == 0:
        return num * (other_den // den) + other_num, other_den
    return num * other_den + other_num * den, den * other_den


def _walk_merging(b0: Branch, stack: list[Frame], base: CompiledChain, goes_on: bool) -> list[tuple[Branch, str]]:
    """:func:`walk_chain`'s answer from ``b0`` at a split (its checks matched; ``stack``'s last frame at the
    split's rule), merging branches that meet in equal states, so that splits whose branches go on cost what
    their distinct states do, not what their paths do.

    Branches advance in the order of their places (:func:`_place`), each to its next split whose checks match,
    where it waits: waiting branches at one place, equal in every field a walk reads (:data:`STATE_FIELDS`) and
    with the same doubts, have the same future, and become one :class:`_Group` of their summed probability; so do
    ends of one verdict, state and doubts. The answer is the depth-first walk's, every path and doubt as it lists
    them: its order is the decisions' (a depth-first walk ends branches in that order), and of a group one branch
    is listed, the one the trace would list first of them: the engine lists a table's ends that stop there
    (``goes_on`` False, or a verdict other than ACCEPT) in this order, the walk's first branch last, and walks
    the others on last-forked first, the first branch first (:meth:`Engine._advance`). So a group's end is its
    ``lo`` (its least decisions) when it stops, its ``hi`` when it goes on, with the group's probability; the
    first branch's end is listed too, of no probability when it has company. The others would have repeated
    outcomes and doubts listed before them.

    Raises an InputError at the split where more than :data:`BRANCH_LIMIT` distinct branches wait, or where the
    walk has taken :data:`STEP_LIMIT` steps.
    """
    heap: list[tuple[tuple[float, ...], int, tuple, _Group]] = []  # (place, order of arrival, key in waiting, group)
    waiting: dict[tuple, _Group] = {}
    ends: dict[tuple, tuple[str, _Group]] = {}
    seq = count()

    def wait(group: _Group) -> None:
        lead, frames = group.lead(), group.frames
        key = (tuple((id(c), id(r), i) for c, r, i, _ in frames), _state(lead), _doubt_set(lead))
        there = waiting.get(key)
        if there is not None:
            there.absorb(group)
            return
        if len(heap) >= BRANCH_LIMIT:
            _, rules, i, _ = frames[-1]
            raise _too_many(rules[i], f"more than {BRANCH_LIMIT:,} branches of the packet that differ (in marks, "
                                      "addresses or conntrack state) at once")
        waiting[key] = group
        heappush(heap, (_place(frames), next(seq), key, group))

    def advance(group: _Group, taken: bool) -> None:
        lead, frames = group.lead(), group.frames
        others = [(b, list(frames)) for b in group.members() if b is not lead]
        verdict = _walk_to_split(lead, frames, base, taken)
        for b, own in others:  # the same walk (one state, one future): only their paths and doubts differ
            _walk_to_split(b, own, base, taken)
        if verdict is None:
            wait(group)
            return
        key = (verdict, _state(lead), _doubt_set(lead))
        there = ends.get(key)
        if there is None:
            ends[key] = (verdict, group)
        else:
            there[1].absorb(group)

    wait(_Group(b0, None, (), None, (), b0.num, b0.den, [(c, r, i, 0) for c, r, i in stack]))
    first_order: tuple[int, ...] = ()
    steps = 0
    while heap:
        _, _, key, group = heappop(heap)
        frames = group.frames
        del waiting[key]
        chain, rules, j, gotos = frames[-1]
        steps += sum(len(b.path) + 1 for b in group.members())  # what forking them copies
        if steps > STEP_LIMIT:
            raise _too_many(rules[j], f"branches whose paths take more than {STEP_LIMIT:,} steps in all in this "
                                      "table (chains entered again from each branch)")
        num, den = rules[j].split  # type: ignore[misc]  # it waits at a split
        rest = [*frames[:-1], (chain, rules, j + 1, gotos)]
        if group.first is not None:  # the first branch's fork has the least decisions of the branches not taken
            lo, lo_order = group.first.fork(1, 1), _decided(first_order, 1)
            first_order = _decided(first_order, 0)
        else:
            lo, lo_order = group.lo.fork(1, 1), _decided(group.lo_order, 1)  # type: ignore[union-attr]
        if group.hi is not None and (group.first is not None or group.hi is not group.lo):
            hi, hi_order = group.hi.fork(1, 1), _decided(group.hi_order, 1)
        else:  # one branch not taken
            hi, hi_order = lo, lo_order
        if group.lo is not None:
            group.lo_order, group.hi_order = _decided(group.lo_order, 0), _decided(group.hi_order, 0)
        other = _Group(None, lo, lo_order, hi, hi_order, group.num * (den - num), group.den * den, rest)
        group.num *= num
        group.den *= den
        advance(other, False)
        advance(group, True)
    return _ends_in_order(ends.values(), goes_on)


def _ends_in_order(ends: Iterable[tuple[str, _Group]], goes_on: bool) -> list[tuple[Branch, str]]:
    """The merged walk's ends as the depth-first walk lists them (see :func:`_walk_merging`): the first branch's,
    then each group's representative in the order of its decisions, each with its group's probability."""
    first: list[tuple[Branch, str]] = []
    listed: list[tuple[tuple[int, ...], Branch, str]] = []
    for verdict, group in ends:
        stops = verdict != ACCEPT or not goes_on
        if group.lo is not None:
            b, order = (group.lo, group.lo_order) if stops else (group.hi, group.hi_order)
            assert b is not None  # lo and hi come together
            b.num, b.den = group.num, group.den
            listed.append((order, b, verdict))
        if group.first is not None:
            group.first.num, group.first.den = (0, 1) if group.lo is not None else (group.num, group.den)
            first.append((group.first, verdict))
    listed.sort(key=itemgetter(0))
    return [*first, *((b, verdict) for _, b, verdict in listed)]


def _too_many(rule: CompiledRule | None, what: str) -> InputError:
    """The trace gives up at a split: the branches it would follow are too many."""
    where = f"{rule.table} {rule.rule.chain}: " if rule is not None else ""
    return InputError(Diagnostic(
        f"{where}the probability splits (-m statistic) up to this rule make {what}; the trace stops here; expected "
        "splits whose branches end (kube-proxy's each jump to a chain that DNATs) or meet again",
        line=(rule.line or None) if rule is not None else None))


def _walk_to_split(b: Branch, frames: list[MFrame], base: CompiledChain, taken: bool) -> str | None:
    """:func:`_walk` for a merging walk: on to this table's verdict, or None at the next split whose checks match
    (``frames`` then ends at its rule). ``taken``: the last frame is at a split taken, whose checks are done."""
    path = b.path
    while frames:
        chain, rules, i, gotos = frames.pop()
        n = len(rules)
        while i < n:
            rule = rules[i]
            i += 1
            if taken:
                taken = False
            elif not rule_matches(rule, b):
                continue
            elif rule.split is not None:
                frames.append((chain, rules, i - 1, gotos))
                return None
            path.append(rule)
            kind = rule.kind
            if kind is _CONTINUE:
                continue
            if kind is _JUMP or kind is _GOTO:
                if kind is _JUMP:
                    frames.append((chain, rules, i, gotos))
                    gotos = 0
                else:
                    gotos += 1
                chain = rule.jump  # type: ignore[assignment]
                rules = chain.rules if not chain.index_on else chain.rules_for(b)
                i, n = 0, len(rules)
                continue
            if kind is _RETURN:
                break
            verdict = _apply(rule, kind, b)
            if verdict is not None:
                return verdict
    return _policy_verdict(base, path)


def _apply(rule: CompiledRule, kind: Kind, b: Branch) -> str | None:
    """The effect of a non-jump target; returns the table's verdict when it ends the walk."""
    if kind is Kind.ACCEPT:
        return ACCEPT
    if kind is Kind.DROP:
        return DROP
    if kind is Kind.REJECT:
        return REJECT
    if kind in TERMINAL_NAT:
        return _nat(rule, kind, b)
    if kind is Kind.MARK or kind is Kind.CONNMARK:
        _mark(rule, kind, b)
    elif kind is Kind.NOTRACK:
        b.ctstate = CtState.UNTRACKED.value
    elif kind is Kind.CT_ZONE:
        b.zone = rule.zone if rule.zone is not None else b.mark & 0xFFFF
    return None


def _mark(rule: CompiledRule, kind: Kind, b: Branch) -> None:
    value, mask, op = rule.mark  # type: ignore[misc]
    attr = "mark" if kind is Kind.MARK else "ctmark"
    old = getattr(b, attr)
    if op == "xset":
        new = (old & ~mask) ^ value
    elif op == "set":
        new = (old & ~mask) | value
    elif op == "or":
        new = old | value
    elif op == "xor":
        new = old ^ value
    elif op == "and":
        new = old & value
    elif op == "save":  # CONNMARK --save-mark (value: nfmask, mask: ctmask), as xt_CONNMARK computes it
        b.ctmark = ((b.ctmark & ~mask) ^ (b.mark & value)) & 0xFFFFFFFF
        return
    else:  # --restore-mark
        b.mark = ((b.mark & ~value) ^ (b.ctmark & mask)) & 0xFFFFFFFF
        return
    setattr(b, attr, new & 0xFFFFFFFF)


def _nat(rule: CompiledRule, kind: Kind, b: Branch) -> str:
    """DNAT/REDIRECT rewrite the destination, SNAT/MASQUERADE the source (a range's member as the kernel picks
    it: see :mod:`.natrange`); the verdict: ACCEPT, or DROP for a REDIRECT with no address to send the packet to."""
    nat = rule.nat
    if kind is Kind.DNAT or kind is Kind.REDIRECT:
        if kind is Kind.REDIRECT:
            address = _redirect_address(rule, b)
            if address is None:
                return DROP
            b.dst = address
        elif nat is not None and nat.addr_lo is not None:
            b.dst = _member(nat, b, dnat=True)
        kept = False
        if nat is not None:
            b.dport, kept = _nat_port(nat, b.dport)
        b.dnat = True
        ranged = nat is not None and (nat.addr_lo != nat.addr_hi or nat.port_lo != nat.port_hi)
        b.nat_text = None if ranged or nat is None else nat.endpoint  # one member: destination() formats it
        if nat is not None and nat.port_lo != nat.port_hi:
            b.doubts.append((rule, _range_doubt(rule, b, kept)))
        return ACCEPT
    if kind is Kind.SNAT:
        assert nat is not None  # nat_of refuses an SNAT without --to-source
        _snat(rule, nat, b)
        return ACCEPT
    source = b.env.source_for(b.out_iface)  # MASQUERADE
    if source is None:
        b.doubts.append((rule, "the outgoing interface's address is not known; the source is unchanged"))
    else:
        b.src = source
    b.snat = b.masq = True
    if nat is not None:
        _source_port(rule, nat, b)
    return ACCEPT


def _source_port(rule: CompiledRule, nat: NatRange, b: Branch) -> None:
    """A MASQUERADE's port as get_unique_tuple maps an SNAT's (its address already set): the packet's own when
    inside ``--to-ports`` (unless random), else the range's first, said (see :func:`_range_doubt`). A port drawn
    under --random or --random-fully with no range is not said: no output of a trace shows the source port after
    the last hook, and kube-proxy's own MASQUERADE has --random-fully."""
    b.sport, kept = _nat_port(nat, b.sport)
    if nat.port_lo != nat.port_hi:
        b.doubts.append((rule, _range_doubt(rule, b, kept)))


def _member(nat: NatRange, b: Branch, dnat: bool) -> int:
    """The address of ``nat``'s range that the kernel gives this connection (the packet's own without one)."""
    if nat.addr_lo is None or nat.addr_hi is None:
        return b.dst if dnat else b.src
    return best_address(b.family, b.src, b.dst, nat.addr_lo, nat.addr_hi, dnat=dnat, persistent=nat.persistent,
                        zone=b.zone)


def _snat(rule: CompiledRule, nat: NatRange, b: Branch) -> None:
    """SNAT as nf_nat's get_unique_tuple maps the source: a source already inside a range stays as it is (unless
    ``--random``), else the range's member for this connection and, with a port range, the packet's own port
    when inside it; what hangs on other connections is assumed and said (see :func:`_range_doubt`)."""
    ranged = nat.addr_lo != nat.addr_hi or nat.port_lo != nat.port_hi
    if ranged and not nat.random and _source_in_range(nat, b):
        b.doubts.append((rule, f"--to-source {nat.text} is a range and the packet's source "
                               f"{format_endpoint(b.family, b.src, b.sport)} is in it: the kernel keeps the source, "
                               "unless another connection holds that reply tuple; assumed kept (no translation)"))
        return
    b.src = _member(nat, b, dnat=False)
    b.sport, kept = _nat_port(nat, b.sport)
    b.snat = b.masq = True
    if ranged:
        b.doubts.append((rule, _range_doubt(rule, b, kept)))


def _source_in_range(nat: NatRange, b: Branch) -> bool:
    """nf_nat's in_range for the packet's own source: its address inside the address range (when there is one)
    and its port inside the port range (when there is one)."""
    lo, hi, plo, phi = nat.addr_lo, nat.addr_hi, nat.port_lo, nat.port_hi
    address_in = lo is None or hi is None or lo <= b.src <= hi
    port_in = plo is None or phi is None or (b.sport is not None and plo <= b.sport <= phi)
    return address_in and port_in


def _redirect_address(rule: CompiledRule, b: Branch) -> int | None:
    """REDIRECT's new destination, as nf_nat_redirect_ipv4/6 choose it: loopback for a packet generated on the
    node (OUTPUT), else the input interface's primary address; the kernel drops the packet (None) when that
    interface has none of the family (Calico's cali* veths have no IPv4 address). It is known when the
    interface's addresses are given; otherwise the node's first address is assumed, and said so."""
    env, family = b.env, b.family
    if b.in_iface == "":  # generated on the node
        return 1 if family == 6 else 0x7F000001
    own = env.iface_addrs.get(b.in_iface) if b.in_iface else None
    if own is not None:
        return own[0] if own else None
    assumed = env.primary
    iface = f"interface {b.in_iface}, not known here" if b.in_iface else "interface, which is not known"
    if assumed is None:
        assumed = 1 if family == 6 else 0x7F000001
        what = f"the node's addresses are not known (give --node-ip): {format_address(family, assumed)} stands in"
    elif len(env.local) == 1 and env.addresses_known:
        what = f"assumed the node's only address, {format_address(family, assumed)}"
    else:
        what = f"the node has several addresses: assumed the first, {format_address(family, assumed)}"
    b.doubts.append((rule, f"REDIRECT sends the packet to the primary address of its input {iface}; {what} (if the "
                           "interface has no address the kernel drops the packet)"))
    return assumed


def _nat_port(nat: NatRange, port: int | None) -> tuple[int | None, bool]:
    """The port a NAT leaves the packet with, and whether it is the packet's own: kept when inside the range
    (see :func:`_keeps_port`) and not ``--random``, else the range's first (the packet's own without a range)."""
    kept = not nat.random and _keeps_port(nat, port)
    return (nat.port_lo if nat.port_lo is not None and not kept else port), kept


def _keeps_port(nat: NatRange, port: int | None) -> bool:
    """Whether a NAT keeps the packet's own port (the destination's for DNAT and REDIRECT, the source's for
    SNAT): nf_nat's get_unique_tuple maps the port only when it is not already inside the range (and its reply
    tuple free, which the rules do not tell); a range of one port is that port either way."""
    lo, hi = nat.port_lo, nat.port_hi
    return lo is not None and hi is not None and lo != hi and port is not None and lo <= port <= hi


def _range_doubt(rule: CompiledRule, b: Branch, kept: bool) -> str:
    """What a trace assumes of a NAT to a range (``b`` already sent to the member it takes).

    The kernel gives each connection one member (nf_nat's get_unique_tuple). The address is computed
    here as the kernel does (:mod:`.natrange`): no doubt. What hangs on other connections is: the port
    stays the packet's own when it is inside the range (``kept``) and no other connection holds that
    reply tuple, else a free port of the range is searched for (nf_nat_l4proto_unique_tuple), from the
    range's first port for a DNAT and from a random one for an SNAT or under ``--random``: the trace
    assumes the first. An SNAT first reuses the mapping of an earlier connection from the same source
    address and port (conntrack's by-source table): assumed none. The destination stays one ``IP:PORT``.
    """
    nat = rule.nat
    assert nat is not None  # only a rule with a range asks
    snat = rule.kind is Kind.SNAT or rule.kind is Kind.MASQUERADE
    flag = {Kind.REDIRECT: "--to-ports", Kind.MASQUERADE: "--to-ports", Kind.SNAT: "--to-source"}.get(
        rule.kind, "--to-destination")
    how, which = [], []
    if snat and not nat.random:
        how.append("the mapping an earlier connection from the same source address and port has in the range, "
                   "if any (conntrack's by-source table)")
        which.append("no earlier connection")
    if nat.addr_lo != nat.addr_hi:
        how.append("the address by a hash of the connection's addresses, which the trace computes as the kernel does")
    if kept:
        how.append("the packet's own port when it is in the range, unless another connection holds that reply "
                   "tuple")
        which.append("the packet's port")
    elif nat.port_lo != nat.port_hi:
        start = "a random port" if snat or nat.random else "the first port"
        how.append(f"a port of the range whose reply tuple is free, searched from {start}")
        which.append("the first port")
    elif nat.random:  # an SNAT with no port range under --random: a free port from a random start all the same
        how.append("a source port drawn at random (--random)")
        which.append("the packet's port")
    return (f"{flag} {nat.text} is a range: the kernel gives each connection one of its members "
            f"({'; '.join(how)}); assumed {' and '.join(which)}, {format_endpoint(b.family, *_side(b, snat))}")


def _side(b: Branch, snat: bool) -> tuple[int, int | None]:
    """The endpoint a NAT rewrote: the source after an SNAT, else the destination."""
    return (b.src, b.sport) if snat else (b.dst, b.dport)


@value_class
class Finished:
    """One branch at the end of its walk."""

    verdict: str  # DNAT, ACCEPT, DROP, REJECT
    destination: str | None
    masquerade: bool
    num: int
    den: int
    path: tuple[CompiledRule, ...]
    doubts: tuple[tuple[CompiledRule, str], ...]
    hooks: tuple[HookPass, ...] = ()


PRE_REMOTE = (("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("nat", "PREROUTING"), "ROUTE")
TO_INPUT = (("mangle", "INPUT"), ("filter", "INPUT"), ("security", "INPUT"), ("nat", "INPUT"))
TO_FORWARD = (("mangle", "FORWARD"), ("filter", "FORWARD"), ("security", "FORWARD"),
              ("mangle", "POSTROUTING"), ("nat", "POSTROUTING"))
FROM_LOCAL = (("raw", "OUTPUT"), ("mangle", "OUTPUT"), ("nat", "OUTPUT"), "ROUTE_OUT", ("filter", "OUTPUT"),
              ("security", "OUTPUT"), ("mangle", "POSTROUTING"), ("nat", "POSTROUTING"), "LOOPBACK")
LOOPBACK_IN = (("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("mangle", "INPUT"), ("filter", "INPUT"),
               ("security", "INPUT"))


Step = CompiledChain | tuple[str, CompiledChain] | str  # a chain (nat chains as ("nat", chain)), or a routing step
Pipeline = tuple[Step, ...]
End = tuple[Branch, str]  # a branch at the end of its walk, with its verdict

# The pipelines that follow a routing decision and hold no routing step themselves: what they do
# to a branch depends only on the branch's fields, so the tracer can memoise them.
MEMO_PIPELINES = ("TO_INPUT", "TO_FORWARD", "LOOPBACK_IN")
MEMO_LIMIT = 1 << 16  # entries per pipeline before the memo starts afresh (bounded memory)
EFFECT_KINDS = frozenset({*TERMINAL_NAT, Kind.MARK, Kind.CONNMARK, Kind.NOTRACK, Kind.CT_ZONE})


@value_class
class Replay:
    """One way a memoised pipeline ends, relative to the branch that entered it.

    ``path``/``doubts`` are appended to the branch's, ``effects`` are the matched rules whose
    targets change the branch (applied again, in order), ``num/den`` scales its probability.
    """

    verdict: str
    path: tuple[CompiledRule, ...]
    doubts: tuple[tuple[CompiledRule, str], ...]
    effects: tuple[CompiledRule, ...]
    num: int
    den: int
    hooks: tuple[HookPass, ...] = ()


class PipelineMemo:
    """Walks of one routing-free pipeline, keyed on the branch fields its chains can read.

    Two branches that agree on every field a check, an index or an effect of these chains
    reads take the same rules, forks and verdicts (:func:`chain_reads`), so the second one
    replays the first one's ends instead of walking: after DNAT, every endpoint of every
    service meets the same filter and POSTROUTING rules, and this makes them nearly free.
    Only for tracing (no Sampler): sampled walks draw randomness and change recent lists.
    """

    __slots__ = ("ends", "key")

    def __init__(self, fields: frozenset[str]) -> None:
        names = sorted(fields)
        self.key: Callable[[Branch], object] = attrgetter(*names) if names else (lambda b: ())
        self.ends: dict[object, tuple[Replay, ...]] = {}


class Engine:
    """A compiled ruleset and a node: runs packets through the hooks."""

    def __init__(self, compiled: CompiledRuleset, node: NodeContext, sampler: Sampler | None = None) -> None:
        self.compiled = compiled
        self.env = Env(node, compiled.family, sampler)
        self.sampler = sampler
        self.pipelines: dict[str, Pipeline] = {
            name: self._pipeline(steps) for name, steps in (
                ("PRE_REMOTE", PRE_REMOTE), ("TO_INPUT", TO_INPUT), ("TO_FORWARD", TO_FORWARD),
                ("FROM_LOCAL", FROM_LOCAL), ("LOOPBACK_IN", LOOPBACK_IN))
        }
        self.memos: dict[int, PipelineMemo] = {} if sampler is not None else self._memos()
        if sampler is not None:  # the node's rules are these from now on: its lists are theirs
            sampler.recent.load(compiled.family, _recent_tables(compiled))

    def _memos(self) -> dict[int, PipelineMemo]:
        """A memo for each routing-free pipeline whose chains all declare what they read."""
        memos: dict[int, PipelineMemo] = {}
        for name in MEMO_PIPELINES:
            steps = self.pipelines[name]
            fields: set[str] = {"ctstate", "reply", "proto"}  # whether the nat table is consulted
            for step in steps:
                chain = step[1] if isinstance(step, tuple) else step
                assert not isinstance(chain, str)  # these pipelines hold no routing step
                reads = chain_reads(chain)
                if reads is None:
                    break
                fields |= reads
            else:
                memos[id(steps)] = PipelineMemo(frozenset(fields))
        return memos

    def _pipeline(self, steps: tuple[str | tuple[str, str], ...]) -> Pipeline:
        """The hooks' chains that exist; an empty chain with an ACCEPT policy cannot change anything, but is kept:
        the packet passes it (see :meth:`_advance`, which records it without a walk)."""
        out: list[Step] = []
        for step in steps:
            if isinstance(step, str):
                out.append(step)
                continue
            table, hook = step
            chain = self.compiled.chain(table, hook)
            if chain is None:
                continue
            out.append(("nat", chain) if table == "nat" else chain)
        return tuple(out)

    def is_local_origin(self, packet: Packet) -> bool:
        """Locally generated: from one of the node's addresses (or loopback), not received on an interface."""
        return packet.in_iface is None and self.env.is_local(packet.src)

    def run(self, packet: Packet) -> list[Finished]:
        """Every way the packet can end, each with its probability as an integer fraction."""
        finish = self._finish
        return [finish(b, verdict) for b, verdict in self.walk(packet)]

    def check_family(self, packet: Packet) -> None:
        """Raise ValueError for a packet of the other IP family than the rules'."""
        if packet.family != self.compiled.family:
            raise ValueError(f"the packet is IPv{packet.family} but the rules are IPv{self.compiled.family}")

    def walk(self, packet: Packet) -> list[End]:
        """Every branch of the packet at its end, with its verdict (what :meth:`run` makes records of)."""
        self.check_family(packet)
        start = Branch(packet, self.env)
        local = self.is_local_origin(packet)
        if local:
            start.in_iface = ""
            if start.bridge_port is None:  # generated on the node: it came in through no bridge
                start.bridge_port = ""
        elif packet.in_iface is None:
            # With routes known, a packet arrives on the interface its source is routed through
            # (what reverse-path filtering enforces); without them the interface stays unknown.
            start.in_iface = self.env.route(packet.src)
            if not self.env.addresses_known:  # the source may be the node's: it would start in OUTPUT
                _origin_doubt(start, packet)
        ends: list[End] = []
        if not local and start.family == 6:
            dropped = _received6_drop(packet.src, packet.dst, start.in_iface)
            if dropped is not None:
                start.path.append(dropped)
                return [(start, DROP)]
        self._run(start, self.pipelines["FROM_LOCAL" if local else "PRE_REMOTE"], packet, ends)
        return ends

    def _run(self, start: Branch, steps: Pipeline, packet: Packet, ends: list[End]) -> None:
        """Run a branch and every branch it forks to the end, depth first (the order of ``ends`` is the output's)."""
        memos = self.memos
        pending = [(start, steps)]
        while pending:
            if len(pending) + len(ends) > WALK_LIMIT:
                raise _too_many(_last_split(pending[-1][0]), f"more than {WALK_LIMIT:,} branches of the packet in all "
                                "(each table's splits multiply the branches the tables before it made)")
            branch, steps = pending.pop()
            memo = memos.get(id(steps)) if memos else None
            if memo is None:
                self._advance(branch, steps, packet, pending, ends)
            else:
                self._memoised(memo, branch, steps, packet, ends)

    def _memoised(self, memo: PipelineMemo, b: Branch, steps: Pipeline, packet: Packet,
                  ends: list[End]) -> None:
        """A routing-free pipeline from the memo: recorded once per key, replayed for every branch.

        Replaying is also how a fresh recording is applied, so the memo's answer is checked on
        every trace, first time included. A branch's forks end contiguously after it (the run is
        depth first), so appending all its ends here keeps the output's order.
        """
        key = memo.key(b)
        replays = memo.ends.get(key)
        if replays is None:
            replays = self._record(b, steps, packet)
            if len(memo.ends) >= MEMO_LIMIT:
                memo.ends.clear()
            memo.ends[key] = replays
        first = replays[0]
        forks = [b.fork(r.num, r.den) for r in replays[1:]] if len(replays) > 1 else ()
        b.num *= first.num
        b.den *= first.den
        _replay(b, first)
        ends.append((b, first.verdict))
        for target, replay in zip(forks, replays[1:], strict=True):
            _replay(target, replay)
            ends.append((target, replay.verdict))

    def _record(self, b: Branch, steps: Pipeline, packet: Packet) -> tuple[Replay, ...]:
        """Walk a blank copy of the branch (no path, doubts or probability yet) and keep how each fork ended."""
        blank = b.fork(1, 1)
        blank.path, blank.doubts, blank.hooks, blank.num, blank.den = [], [], (), 1, 1
        ends: list[End] = []
        pending = [(blank, steps)]
        while pending:
            branch, rest = pending.pop()
            self._advance(branch, rest, packet, pending, ends)
        return tuple(Replay(verdict, tuple(x.path), tuple(x.doubts),
                            tuple(r for r in x.path if r.kind in EFFECT_KINDS), x.num, x.den, x.hooks)
                     for x, verdict in ends)

    def _advance(self, b: Branch, steps: Pipeline, packet: Packet,
                 pending: list[tuple[Branch, Pipeline]], finished: list[End]) -> None:
        """Run one branch through its remaining hooks; forks are queued with the steps they still need."""
        for pos, step in enumerate(steps):
            if step.__class__ is str:
                following = self._route(step, b, packet, steps[pos + 1:])
                if following is None:
                    finished.append((b, DROP))
                elif following:
                    pending.append((b, following))
                else:
                    finished.append((b, ACCEPT))
                return
            if step.__class__ is tuple:  # nat: only the first packet of a connection
                state = b.ctstate
                if state != "NEW":
                    if state != "RELATED" or b.reply or b.proto in ICMP_PROTOS:
                        continue
                    b.doubts.append((EXPECTATION, EXPECTED_NAT))
                step = step[1]
            chain: CompiledChain = step  # type: ignore[assignment]  # (above)
            if not chain.rules and chain.policy != DROP:  # passed: nothing to walk
                b.hooks += ((chain.table, chain.name, ACCEPT, True, 0),)
                continue
            start = len(b.path)
            outcomes = walk_chain(chain, b, self.sampler, pos + 1 < len(steps))
            hook_passes(chain, outcomes, start)
            if len(outcomes) > 1:
                rest = steps[pos + 1:]
                for other, verdict in outcomes[1:]:
                    self._settle(other, verdict, rest, pending, finished)
            verdict = outcomes[0][1]
            if verdict != ACCEPT:
                finished.append((b, verdict))
                return
        finished.append((b, ACCEPT))

    @staticmethod
    def _settle(b: Branch, verdict: str, rest: Pipeline,
                pending: list[tuple[Branch, Pipeline]], finished: list[End]) -> None:
        if verdict != ACCEPT:
            finished.append((b, verdict))
        elif rest:
            pending.append((b, rest))
        else:
            finished.append((b, ACCEPT))

    def _route(self, step: str, b: Branch, packet: Packet, rest: Pipeline) -> Pipeline | None:
        """Routing decisions: they pick the next hooks and the output interface (None: the kernel drops the
        packet there, its path ending with a routing-decision step)."""
        env = self.env
        if b.ct_dnat is not None and step != "LOOPBACK":
            b.dst, b.dport = b.ct_dnat  # conntrack's DNAT of a later packet: at the nat hook, before routing
        if step == "ROUTE" and b.in_iface != "lo":  # the destination as PREROUTING left it
            if b.family == 6 and b.dst == 1:  # DNATed there: a packet sent to ::1 was dropped on receipt
                return self._loopback6_route(b, packet)
            martian = _martian(b.src, b.dst) if b.family == 4 else None
            if martian is not None:
                b.path.append(martian)
                return None
        local = env.received(b) if step == "ROUTE" else env.is_local(b.dst)
        if not local and not env.addresses_known:
            _routing_doubt(b)
        if step == "ROUTE":  # from elsewhere
            if b.family == 6 and not local and b.in_iface != "lo":
                if (b.src == 0 or b.src >> 118 == 0x3FA) and not self._back_out_of_its_link(b, packet):
                    b.path.append(LINKLOCAL6_NOT_FORWARDED if b.src else UNSPECIFIED6_NOT_FORWARDED)
                    return None
                if multicast(6, packet.dst) and not packet.reply:
                    b.path.append(MULTICAST6_NOT_FORWARDED)
                    return None
            if b.family == 4 and b.in_iface != "lo":
                if not local and not packet.reply and env.group_frame4(packet.dst, b.in_iface):
                    b.path.append(GROUP4_NOT_FORWARDED)
                    return None
                if not env.route_localnet_known:
                    _martian_doubt(b)
                _own_source_doubt(b, env.local)
            self._set_out_iface(b, packet, local)
            return self.pipelines["TO_INPUT" if local else "TO_FORWARD"]
        if step == "ROUTE_OUT":
            self._set_out_iface(b, packet, local)
            if (b.family == 4 and not local and b.out_iface != "lo" and loopback(4, b.src)
                    and not env.route_localnet_known):
                _loopback_source_out_doubt(b)
            return rest
        # LOOPBACK: a locally generated packet for a local address comes back in on lo (not bridged).
        if local:
            b.in_iface, b.out_iface, b.bridge_port = "lo", None, ""
            return self.pipelines["LOOPBACK_IN"]
        return ()

    def _loopback6_route(self, b: Branch, packet: Packet) -> Pipeline | None:
        """A packet from elsewhere DNATed to ::1 is looked up among the input interface's routes only (::1 needs a
        strict lookup, rt6_need_strict), and ::1/128 is on lo: a wider route through the input interface (a
        default route) forwards it back out there, else there is none. Measured on veth namespaces. Only with the
        node's routes unknown is "none" an assumption (a doubt); given, they settle it."""
        if self.env.routes_through(1, b.in_iface):
            b.out_iface = packet.out_iface if packet.out_iface is not None else b.in_iface
            return self.pipelines["TO_FORWARD"]
        if not self.env.routes:
            b.doubts.append((ROUTING, "the node is assumed to have no route covering ::1 through the input "
                                      "interface (a default route through it would forward the packet back out there)"))
        b.path.append(LOOPBACK6_NO_ROUTE)
        return None

    def _back_out_of_its_link(self, b: Branch, packet: Packet) -> bool:
        """Whether an IPv6 packet from a link-local or unspecified source leaves by the interface it came in on,
        which ip6_forward lets through (sending a redirect): it drops those sources only in its else branch
        (measured: fe80::2 -> fd00:9::3 in and out of c0 counted on FORWARD, fe80::2 -> fd00:100::7 out of
        out0 not). Not known without the node's routes (or the input interface): assumed another, said so."""
        out = packet.out_iface or (self.env.route(b.dst) if self.env.routes else None)
        if out is not None and b.in_iface is not None:
            return out == b.in_iface
        kind = "link-local" if b.src else "unspecified"
        b.doubts.append((ROUTING, f"a packet from the {kind} source {format_address(6, b.src)} is dropped "
                                  "unless its route leads back out of the interface it came in by, which the "
                                  "node's routes would tell; assumed dropped"))
        return False

    def _set_out_iface(self, b: Branch, packet: Packet, local: bool) -> None:
        if packet.out_iface is not None:
            b.out_iface = packet.out_iface
        elif local:
            b.out_iface = "lo"
        else:
            b.out_iface = self.env.route(b.dst)

    @staticmethod
    def _finish(b: Branch, verdict: str) -> Finished:
        """The public record of an end (see :func:`end_of`)."""
        verdict, destination, masquerade = end_of(b, verdict)
        return Finished(verdict, destination, masquerade, b.num, b.den, tuple(b.path), tuple(b.doubts), b.hooks)


def _recent_tables(compiled: CompiledRuleset) -> Iterator[tuple[str, Iterator[RecentMatch]]]:
    """Each table's recent matches as its rules load (recent_mt_check), tables and chains in the order the dump
    writes them: for :meth:`RecentTable.load`, whose first rule naming a list gives its mask, the largest
    --hitcount its ring. Read from the rules as written, compiled or not: a lazy chain's lists are the kernel's
    from the start too, so a lazy and an eager compile give the same verdicts (a list sized when first walked
    had cut its entries)."""
    for table, chains in compiled.tables.items():
        yield table, _table_recent_matches(chains.values(), compiled.family)  # (a view: read twice)


def _table_recent_matches(chains: Collection[CompiledChain], family: int) -> Iterator[RecentMatch]:
    if not _names_recent(chains):
        return
    for chain in chains:
        for rule in _rules_naming_recent(chain):
            try:
                spec = rule.parsed
            except RulesSyntaxError:  # compiled, the rule never matches and says why
                continue
            yield from recent_matches(spec, family)


def _names_recent(chains: Collection[CompiledChain]) -> bool:
    """Whether any rule of a table's chains says ``recent``, read in one flat pass over the rules as written (a
    lazy chain's in its table as written, once for all of them), before any chain is read one by one: a node
    without session affinity names no list, and chain by chain its 110,000 chains at 10,000 services cost ~90 ms
    for every Engine made on them (one per node of a simulated cluster), against ~45 ms so."""
    written: dict[int, Table] = {}
    for chain in chains:
        if not isinstance(chain, LazyChain):
            if any("recent" in r.rule.spec for r in chain.rules):
                return True
        elif chain.compiler is not None:
            table = chain.compiler[0].table
            written[id(table)] = table
    for table in written.values():
        for source in table.chains:  # (a chain's texts joined, one search: a generator per text took twice this)
            specs = source.specs
            if "recent" in "\n".join(specs if specs is not None else [r.spec for r in source.rules]):
                return True
    return False


def _rules_naming_recent(chain: CompiledChain) -> Iterable[Rule]:
    """The chain's rules as written that may have a recent match (their text says ``recent``), without compiling
    a lazy chain nor building the rules of a generated one: its texts are searched joined, in C (50 ms for the
    430,000 rules of 10,000 services, against 75 ms one by one). A lazy chain whose ruleset was released can no
    longer be read (nor walked): it declares nothing."""
    if not isinstance(chain, LazyChain):
        return (r.rule for r in chain.rules if "recent" in r.rule.spec)
    if chain.compiler is None:
        return ()
    source = chain.compiler[0].source(chain.name)
    specs = source.specs
    if specs is None:
        return (r for r in source.rules if "recent" in r.spec)
    if "recent" not in "\n".join(specs):
        return ()
    return (Rule(chain.name, spec) for spec in specs if "recent" in spec)


MARTIAN_SOURCE = PseudoRule("", "", 0, "routing decision: a source 0.0.0.0, multicast or 255.255.255.255 "
                                      "from elsewhere is a martian (ip_route_input_slow drops it)", Kind.DROP)
MARTIAN_DESTINATION = PseudoRule("", "", 0, "routing decision: a destination 0.0.0.0 from elsewhere is a "
                                           "martian (ip_route_input_slow drops it)", Kind.DROP)


def _martian(src: int, dst: int) -> PseudoRule | None:
    """The step that ends an IPv4 packet from elsewhere the kernel's input routing drops whatever the sysctls,
    in ip_route_input_slow's order (ip_mc_validate_source for a multicast destination): a multicast or limited
    broadcast source; then, unless it is sent to 255.255.255.255 (DHCP's 0.0.0.0 -> 255.255.255.255 is
    delivered), to a link-local group (224.0.0.0/24) or 0.0.0.0 -> 0.0.0.0 (a broadcast to the kernel), the
    source 0.0.0.0; the destination 0.0.0.0, where PREROUTING left it (a DNAT there, say). Zero as
    :func:`zeronet` says; :func:`martian_source` is the sources' part."""
    if multicast(4, src) or src == 0xFFFFFFFF:
        return MARTIAN_SOURCE
    if dst == 0xFFFFFFFF or dst >> 8 == 0xE00000 or src == dst == 0:
        return None
    if zeronet(src):
        return MARTIAN_SOURCE
    return MARTIAN_DESTINATION if zeronet(dst) else None


def _received6_drop(src: int, dst: int, iface: str | None) -> PseudoRule | None:
    """The step that ends an IPv6 packet from elsewhere ip6_rcv_core drops on receipt, before PREROUTING, in its
    order: ::1 as source or destination off lo; a multicast destination of interface-local scope off lo, or of
    the reserved scope 0; a multicast source (RFC 4291 2.5.3, 2.7). Measured on veth namespaces."""
    lo = iface == "lo"
    if not lo and 1 in (src, dst):
        return LOOPBACK6_DROP
    if multicast(6, dst) and ((dst >> 112) & 0xF == 0 or ((dst >> 112) & 0xF == 1 and not lo)):
        return MULTICAST6_DROP
    return MULTICAST6_DROP if multicast(6, src) else None


def _routing_doubt(b: Branch) -> None:
    """A routing decision took the destination for another host's, not knowing the node's addresses: it may
    be one of them (any address but loopback, which is local on every node)."""
    what = "DNAT destination" if b.dnat else "destination"
    b.doubts.append((ROUTING, f"the {what} {format_address(b.family, b.dst)} is assumed not to be an address of "
                              "this node (give --node-ip)"))


def _origin_doubt(b: Branch, packet: Packet) -> None:
    """A packet given no input interface was taken as from elsewhere, not knowing the node's addresses: its
    source may be one of them (loopback is local on every node: such a packet starts in OUTPUT anyway)."""
    b.doubts.append((ORIGIN, f"the source {packet.src_text} is assumed not to be an address of this node, so the "
                             "packet comes from elsewhere, not from the node itself (give --node-ip)"))


LOCALNET_ASSUMED = "assumed set (the rules do not say; kube-proxy sets it when it serves NodePorts on localhost)"


def _martian_doubt(b: Branch) -> None:
    """A packet from elsewhere to 127/8 (DNATed there, as kind's DOCKER_OUTPUT does to 127.0.0.11, or sent
    there) or from 127/8 is routed only where route_localnet is set, else dropped as a martian before INPUT
    or FORWARD (ip_route_input_slow); the sysctl is not in the rules. A REDIRECT's 127.0.0.1 only stands in
    for the input interface's address when the node's are not known (see :func:`_redirect_address`)."""
    if loopback(4, b.dst) and not any(rule.kind is Kind.REDIRECT for rule in b.path):
        what = "DNAT destination" if b.dnat else "destination"
        b.doubts.append((ROUTING, f"the {what} {format_address(4, b.dst)} is a loopback address, which a packet "
                                  "from elsewhere reaches only where route_localnet is set (net.ipv4.conf.all or the "
                                  f"input interface's); {LOCALNET_ASSUMED}, else the kernel drops it as a martian"))
    elif loopback(4, b.src):
        b.doubts.append((ROUTING, f"the source {format_address(4, b.src)} is a loopback address, which a packet "
                                  "from elsewhere may carry only where route_localnet is set (net.ipv4.conf.all or "
                                  f"the input interface's); {LOCALNET_ASSUMED}, else the kernel drops it as a "
                                  "martian"))


def _own_source_doubt(b: Branch, local: frozenset[int]) -> None:
    """A packet from elsewhere whose source is the node's own (lo's 127.0.0.1, any other address of the node)
    or another loopback address: fib_validate_source drops it, whatever route_localnet says, unless
    accept_local is set (for an address of the node's) and rp_filter is off (for any 127/8 source: its
    reverse route is local, on lo); the sysctls are not in the rules. Measured on veth namespaces."""
    src = b.src
    own = src == 0x7F000001 or src in local
    if not own and not loopback(4, src):
        return
    text = format_address(4, src)
    if own and loopback(4, src):
        what = (f"lo's own address {text}, which a packet from elsewhere may carry only where accept_local is set "
                "and rp_filter is off (net.ipv4.conf.all and the input interface's); assumed so")
    elif own:
        what = (f"an address of this node, {text}, which a packet from elsewhere may carry only where accept_local "
                "is set (net.ipv4.conf.all or the input interface's); assumed set")
    else:
        what = (f"the loopback address {text}, which a packet from elsewhere may carry only where rp_filter is off "
                "(net.ipv4.conf.all and the input interface's; systemd sets 2); assumed off")
    b.doubts.append((ROUTING, f"the source is {what}, else the kernel drops it (fib_validate_source)"))


def _loopback_source_out_doubt(b: Branch) -> None:
    """A packet from 127/8 routed out of the node (a localhost NodePort DNATed to a pod in OUTPUT: masquerading
    comes later, in POSTROUTING) is refused a route unless route_localnet is set on the output interface or all
    (__mkroute_output): the connection then fails."""
    b.doubts.append((ROUTING, f"the source {format_address(4, b.src)} is a loopback address, which a packet "
                              "routed out of the node (to an address not its own) may carry only where "
                              "route_localnet is set (net.ipv4.conf.all or the output interface's); "
                              f"{LOCALNET_ASSUMED}, else the kernel refuses the route and drops the packet"))


def end_of(b: Branch, verdict: str) -> tuple[str, str | None, bool]:
    """(verdict, destination, masquerade) of a branch at its end: a DNATed packet that is accepted ends as DNAT."""
    if verdict == ACCEPT and b.dnat:
        return "DNAT", b.destination(), b.masq
    return verdict, None, b.masq if verdict == ACCEPT else False


def _replay(b: Branch, replay: Replay) -> None:
    """Apply a recorded ending to a branch that has its entry state (and, if forked, its probability)."""
    b.path.extend(replay.path)
    b.hooks += replay.hooks  # (a tuple joined to an empty one is that tuple: no copy for a branch with none)
    if replay.effects:
        doubts, b.doubts = b.doubts, []  # the recorded doubts already hold what the effects report
        for rule in replay.effects:
            _apply(rule, rule.kind, b)
        b.doubts = doubts
    if replay.doubts:
        b.doubts.extend(replay.doubts)
