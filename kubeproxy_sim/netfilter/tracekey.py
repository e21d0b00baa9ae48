"""Which packets trace alike: the key under which a tracer keeps a whole trace's answer.

For one tracer the ruleset and the node's facts are fixed, so a trace is a function of the
packet alone, and two packets with the same key get the same answer. The key is the packet's
fields as they are, except two:

* the source port is left out when no rule reads it (kube-proxy's rules never do);
* the source address is replaced by its *class*: the answers to every source test that a
  trace to this destination can meet. Clients all over a cluster then share one answer per
  service, while a pod that is an endpoint of the service (kube-proxy's hairpin rule tests
  for exactly that address) gets its own.

Which source tests a trace can meet is read off the chains. From the built-in chains, a walk
reaches every rule of an ordinary chain, but of a chain indexed by destination only the
rules that are not in its index (``rest``): those are the tests any packet can meet. A
packet to address D also meets the rules indexed under D, and whatever they reach; a DNAT
to E makes the later hooks meet E's. So the tests for D are the global ones plus those under
D and under every address a DNAT can send it to, worked out once per destination.

When a check reads the source without saying how (an ipset, say), the class is the address
itself: still exact, only with less sharing; so it is under an SNAT or a DNAT to an address
range, whose member the kernel hashes from the source (a DNAT's may be any address of the
range: the key is then the whole packet, so where the member leads need not be followed), for
the destinations whose walk meets such a rule. When any rule does not declare what it reads,
or the chains are compiled lazily, there is no key at all and the tracer walks every packet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from kubeproxy_sim.netfilter.compile import (
    SOURCE_FIELDS,
    CompiledChain,
    CompiledRule,
    CompiledRuleset,
    Kind,
    LazyChain,
)
from kubeproxy_sim.netfilter.compile_targets import nat_reads
from kubeproxy_sim.netfilter.evaluate import Env, martian_source
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS
from kubeproxy_sim.netfilter.packet import Packet, loopback, parse_address
from kubeproxy_sim.objects.values import value_class

# Every field of a Packet that the key holds as it is; the source address and port are treated apart,
# and the family is the tracer's own. A test checks that this covers every field of Packet.
KEYED_FIELDS = ("proto", "dst", "dport", "in_iface", "out_iface", "mark", "ctstate", "ctstatus", "bridge_port",
                "reply", "ct_dnat", "ct_snat", "icmp_type", "icmp_code")

SOURCE_PORTS = frozenset({"sport", "orig_sport", "orig_dport"})
"""Branch fields that hold the packet's source port for some packet (a reply's original destination port)."""

# Sources for warming a destination's classes: documentation addresses, outside any cluster.
FOREIGN_SOURCE = {4: "203.0.113.1", 6: "2001:db8::1"}
SOURCE_TRIES = 64
QUICK_TESTS = 16  # source networks and ranges a quick key may test on every packet
SHARED_LIMIT = 1 << 12  # distinct key tails kept shared before starting afresh (equal keys still compare equal)


SPECIAL = "special"  # marks the keys of a destination that meets tests of its own beyond the global ones


class Unkeyable(Exception):
    """The chains read something the key cannot account for: trace every packet."""


@dataclass(slots=True)
class SourceTests:
    """The source tests some part of the ruleset makes, and the destinations a DNAT there can set."""

    exact: set[int] = field(default_factory=set)  # full-mask -s addresses: one class each
    nets: set[tuple[int, int]] = field(default_factory=set)  # (network, mask)
    ranges: set[tuple[int, int]] = field(default_factory=set)  # iprange (low, high)
    types: bool = False  # addrtype --src-type
    opaque: bool = False  # a test that does not say how it reads the source
    targets: set[int] = field(default_factory=set)  # DNAT destinations
    redirects: bool = False  # REDIRECT: the destination becomes a local address

    def add_rule(self, rule: CompiledRule, full: int) -> None:
        for check in rule.checks:  # every check declares its reads: TraceKeys._survey made sure
            if check.reads & SOURCE_FIELDS:  # type: ignore[attr-defined]
                self._add_test(check.source, full)  # type: ignore[attr-defined]
        if "src" in nat_reads(rule.kind, rule.nat):  # a range's member hangs on the source address itself
            self.opaque = True  # (and the key, the whole packet, needs no DNAT range's members followed)
        elif rule.kind is Kind.DNAT and rule.nat is not None and rule.nat.addr_lo is not None:
            self.targets.add(rule.nat.addr_lo)  # one address
        elif rule.kind is Kind.REDIRECT:
            self.redirects = True

    def _add_test(self, source: tuple | None, full: int) -> None:
        if source is None:
            self.opaque = True
        elif source[0] == "net":
            if source[2] == full:
                self.exact.add(source[1])
            else:
                self.nets.add((source[1], source[2]))
        elif source[0] == "range":
            self.ranges.add((source[1], source[2]))
        elif source[0] == "type":
            self.types = True


@value_class
class Destination:
    """The source tests a trace to one destination can meet, beyond or besides the global ones."""

    exact: frozenset[int]  # addresses tested exactly, beyond TraceKeys.global_exact
    nets: tuple[tuple[int, int], ...]  # every (network, mask) tested, the global ones included
    ranges: tuple[tuple[int, int], ...]
    types: bool
    opaque: bool


class TraceKeys:
    """Keys of whole traces through one compiled ruleset on one node (see the module's docstring)."""

    def __init__(self, compiled: CompiledRuleset, env: Env) -> None:
        """Raises :class:`Unkeyable` when the ruleset cannot be keyed (the tracer then walks every packet)."""
        self.env = env
        self.family = compiled.family
        self.full = (1 << (32 if compiled.family == 4 else 128)) - 1
        chains = [c for table in compiled.tables.values() for c in table.values()]
        if any(isinstance(c, LazyChain) for c in chains):
            raise Unkeyable("the chains are compiled lazily")
        self.chains = chains
        self.indexed = [c for c in chains if c.index_on == "dst"]
        self.sport = False  # whether any rule reads the source port (the survey finds out)
        every = self._survey(chains)
        self.global_tests, self._whole, self._rest_only = self._global(compiled)
        self._targets: dict[int, SourceTests] = {}
        self._nothing = SourceTests()  # under an address no index holds; this instance's own, never changed
        self._global_done: set[int] = set()
        self._global_parts = [self.global_tests, *self._closure(self.global_tests.targets,
                                                                self.global_tests.redirects, self._global_done)]
        self.global_exact = frozenset().union(*(p.exact for p in self._global_parts))
        self.everywhere = self._everywhere(every)
        self.by_dst: dict[int, Destination] = {}
        self._rests: dict[tuple, tuple] = {}
        self.special: set[int] = set()  # destinations that meet other nets, ranges or addrtype tests
        self.owners: dict[int, tuple[int, ...]] = {}  # address tested exactly -> destinations testing it

    def _survey(self, chains: list[CompiledChain]) -> SourceTests:
        """Every source test in the ruleset (one pass), noting whether any rule reads the source port."""
        every = SourceTests()
        full = self.full
        for chain in chains:
            for rule in chain.rules:
                reads = rule.reads
                if reads is None:
                    raise Unkeyable(f"{rule.text()!r} does not declare what it reads")
                if not reads.isdisjoint(SOURCE_PORTS):
                    self.sport = True
                if not reads.isdisjoint(SOURCE_FIELDS):
                    every.add_rule(rule, full)
        return every

    def _global(self, compiled: CompiledRuleset) -> tuple[SourceTests, set[int], set[int]]:
        """Tests any packet can meet: from the built-in chains, past destination indexes' ``rest`` only."""
        tests = SourceTests()
        whole: set[int] = set()  # chains walked in full
        rest_only: set[int] = set()  # destination-indexed chains walked past their index
        todo = [c for name, table in compiled.tables.items() for c in table.values()
                if c.name in BUILTIN_CHAINS.get(name, ())]
        while todo:
            chain = todo.pop()
            if chain.index_on == "dst":
                if id(chain) in rest_only:
                    continue
                rest_only.add(id(chain))
                rules: Iterable[CompiledRule] = chain.rest
            else:
                if id(chain) in whole:
                    continue
                whole.add(id(chain))
                rules = chain.rules
            for rule in rules:
                tests.add_rule(rule, self.full)
                if rule.jump is not None:
                    todo.append(rule.jump)
        return tests, whole, rest_only

    def _under(self, dst: int) -> SourceTests:
        """Tests a packet to ``dst`` meets beyond the global ones: its index entries and all they reach."""
        found = self._targets.get(dst)
        if found is not None:
            return found
        if not any(dst in chain.index for chain in self.indexed):
            return self._nothing  # an endpoint's address, say: no index holds it
        tests = SourceTests()
        todo: list[CompiledChain] = []
        for chain in self.indexed:
            for rule in chain.index.get(dst, ()):
                if rule.index_key[0] is not None:  # the rest is global already
                    tests.add_rule(rule, self.full)
                    if rule.jump is not None:
                        todo.append(rule.jump)
        seen: set[int] = set()
        while todo:
            chain = todo.pop()
            if id(chain) in seen or id(chain) in self._whole:
                continue
            seen.add(id(chain))
            for rule in self._rules_to(chain, dst):
                tests.add_rule(rule, self.full)
                if rule.jump is not None:
                    todo.append(rule.jump)
        self._targets[dst] = tests
        return tests

    def _rules_to(self, chain: CompiledChain, dst: int) -> Iterable[CompiledRule]:
        """A chain's rules a packet to ``dst`` can meet that the global tests do not already hold."""
        if chain.index_on != "dst":
            return chain.rules
        rules = chain.index.get(dst, chain.rest)
        if id(chain) in self._rest_only:
            return [r for r in rules if r.index_key[0] is not None]
        return rules

    def _closure(self, addresses: Iterable[int], redirects: bool, done: set[int],
                 skip: set[int] | frozenset[int] = frozenset()) -> list[SourceTests]:
        """The tests under each address and under every address a DNAT there leads to (``done`` grows).

        Addresses in ``skip`` (the global closure's) are left out: their tests are global already.
        """
        parts: list[SourceTests] = []
        pending = list(addresses)
        while pending or redirects:
            if not pending:  # a REDIRECT sends the packet to one of the node's own addresses
                pending = [*self._own_addresses()]
                redirects = False
            address = pending.pop()
            if address in done or address in skip:
                continue
            done.add(address)
            under = self._under(address)
            parts.append(under)
            pending.extend(under.targets)
            redirects = redirects or under.redirects
        return parts

    def _own_addresses(self) -> set[int]:
        """Where a REDIRECT can send a packet: the node's addresses, its interfaces' and loopback."""
        env = self.env
        own = {*env.local, 1 if self.family == 6 else 0x7F000001}
        for addresses in env.iface_addrs.values():
            own.update(addresses)
        if env.primary is not None:
            own.add(env.primary)
        return own

    @staticmethod
    def _merge(own: list[SourceTests], parts: list[SourceTests]) -> Destination:
        return Destination(frozenset().union(*(p.exact for p in own)),
                           tuple(sorted(set().union(*(p.nets for p in parts)))),
                           tuple(sorted(set().union(*(p.ranges for p in parts)))),
                           any(p.types for p in parts), any(p.opaque for p in parts))

    def _everywhere(self, every: SourceTests) -> Destination:
        """The tests every quick key applies: the global ones, and all the others too when they are few.

        Testing more than a trace meets only makes classes finer (still exact), and a handful of
        networks (a cluster CIDR, some source ranges) is cheaper to test on every packet than to
        look up which destination meets which. Beyond ``QUICK_TESTS`` the rest stay per destination.
        ``opaque`` is the global parts' alone: one DNAT-range rule would otherwise key every destination's
        traces by the exact client; a destination whose own walk meets one is special (:meth:`destination`).
        """
        if len(every.nets) + len(every.ranges) > QUICK_TESTS:
            return self._merge([], self._global_parts)
        merged = self._merge([], [*self._global_parts, every])
        return replace(merged, opaque=any(p.opaque for p in self._global_parts))

    def destination(self, dst: int) -> Destination:
        """Every source test a trace to ``dst`` can meet, following DNATs to where they lead (once per address)."""
        place = self.by_dst.get(dst)
        if place is not None:
            return place
        own = self._closure([dst], False, set(), self._global_done)
        place = self.by_dst[dst] = self._merge(own, [*self._global_parts, *own])
        everywhere = self.everywhere
        if not (set(place.nets) <= set(everywhere.nets) and set(place.ranges) <= set(everywhere.ranges)
                and everywhere.types >= place.types and everywhere.opaque >= place.opaque):
            self.special.add(dst)
        for address in place.exact:
            self.owners[address] = (*self.owners.get(address, ()), dst)
        return place

    def quick(self, packet: Packet) -> tuple:
        """The key, provided the destination has been seen (:meth:`destination`) and is not special.

        It reads only the global tests and the source's own entry, which stay in the CPU's cache
        however many services there are. A tracer looks it up first: an answer kept under it was
        kept for this destination once seen, and a special destination's keys are marked apart.
        """
        src, dst = packet.src, packet.dst
        # a later packet's conntrack DNAT may lead where the tests under dst do not: its source is kept as it is
        exact = src in self.global_exact or dst in self.owners.get(src, ()) or packet.ct_dnat is not None
        return self._shared(dst, self._rest(packet, self.everywhere, exact))

    def key(self, packet: Packet) -> tuple:
        """The packet's key: ``(destination, rest)``, where ``rest`` holds every other field but the source
        port (unless a rule reads it), and the source as its class; a special destination's is marked."""
        place = self.destination(packet.dst)
        if packet.dst not in self.special:
            return self.quick(packet)
        src = packet.src
        exact = src in place.exact or src in self.global_exact or packet.ct_dnat is not None
        return self._shared((SPECIAL, packet.dst), self._rest(packet, place, exact))

    def _rest(self, p: Packet, tests: Destination, exact: bool) -> tuple:
        """The key's fields besides the destination: one flat tuple of small shared objects (interned
        strings, small ints, True, False, None), so that comparing it touches no other object."""
        src, env = p.src, self.env
        head = (p.proto, p.dport, p.sport if self.sport else None, p.in_iface, p.out_iface, p.mark, p.ctstate,
                p.ctstatus or None, p.bridge_port, p.reply, p.ct_dnat, p.ct_snat, p.icmp_type, p.icmp_code)
        if tests.opaque:
            return (*head, src)
        return (*head, src if exact else None,
                *[src & mask == net for net, mask in tests.nets],
                *[low <= src <= high for low, high in tests.ranges],
                *(self._types(src) if tests.types else ()),
                # whether the packet is the node's own, and the interface it arrives on (Engine.walk); a
                # loopback source or the node's own as itself: a routing decision quotes it (route_localnet,
                # accept_local); so is a martian one, which the kernel drops for it alone (None, not False, for
                # any other: 0.0.0.0 is 0, equal to False)
                src if loopback(self.family, src) or src in env.local or martian_source(self.family, src)
                else None,
                env.route(src) if env.routes else None)

    def _shared(self, dst: object, rest: tuple) -> tuple:
        """``(dst, rest)`` with one object for equal ``rest`` tuples (they recur: clients, ports).

        Comparing a key with a kept one then reads two references and the destination: the
        shared part compares by identity, without touching the kept key's other elements.
        """
        shared = self._rests.get(rest)
        if shared is None:
            if len(self._rests) >= SHARED_LIMIT:
                self._rests.clear()
            shared = self._rests[rest] = rest
        return dst, shared

    def _types(self, src: int) -> tuple[str | None, ...]:
        """addrtype's answers for ``src`` on every interface it can be asked about (unknown ones: no answer)."""
        env, family = self.env, self.family
        return tuple(env.address_type(family, src, iface) for iface in ("", "lo", *env.iface_addrs))

    def warming(self) -> Iterator[Packet]:
        """A packet to every (address, protocol, port) a rule names, from a source of each class.

        A source of each class: the foreign one (outside every network the rules test) and one in
        each network, none of them an address a rule tests exactly or one of the node's own.
        """
        for dst, ports in self._service_ports().items():
            classes: set[tuple] = set()
            for src in self._sources(dst):
                kind = self.key(Packet("tcp", self.family, src, dst))
                if kind in classes:
                    continue
                classes.add(kind)
                for proto, port in sorted(ports):
                    yield Packet(proto, self.family, src, dst, None, port)

    def _service_ports(self) -> dict[int, set[tuple[str, int]]]:
        """Every (address, protocol, port) a rule names as its one destination: the services."""
        ports: dict[int, set[tuple[str, int]]] = {}
        for chain in self.chains:
            for rule in chain.rules:
                dst, port = rule.index_key
                if dst is not None and port is not None:
                    ports.setdefault(dst, set()).add(port)
        return ports

    def _sources(self, dst: int) -> Iterator[int]:
        tests = self.destination(dst)
        taken = tests.exact | self.global_exact | self.env.local
        starts = [parse_address(FOREIGN_SOURCE[self.family])[1], *(net + 1 for net, mask in tests.nets if mask)]
        for start in starts:
            # a few steps past the addresses rules name one by one; loopback sources are the node's own
            candidate = next((c for c in range(start, start + SOURCE_TRIES) if c not in taken), None)
            if candidate is not None and not loopback(self.family, candidate):
                yield candidate
