"""The member of a NAT range the kernel picks (natrange), pinned to what Linux 6.18 chose.

Every constant here was read from a real kernel's conntrack table (tests/kernel/test_natrange_kernel.py runs
the same comparison live, flow by flow): a reimplementation checked against itself would prove nothing.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import INDEX_MIN_RULES, compile_ruleset
from kubeproxy_sim.netfilter.compile_targets import ct_zone
from kubeproxy_sim.netfilter.natrange import best_address, jhash2
from kubeproxy_sim.netfilter.packet import Packet, format_address, parse_address
from kubeproxy_sim.netfilter.syntax import parse_spec
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.budget import budget


def _value(text: str) -> int:
    return parse_address(text)[1]


def _le(text: str) -> int:
    """An IPv4 address's network-order bytes as a little-endian host reads them (a word of the kernel's tuple)."""
    return int.from_bytes(bytes(int(part) for part in text.split(".")), "little")


@pytest.mark.parametrize(("src", "member"), [
    ("10.77.27.233", "246.189.121.20"),
    ("10.77.26.30", "196.110.122.100"),
    ("10.77.63.41", "49.18.213.249"),
    ("10.77.44.184", "11.7.11.125"),
])
def test_jhash2_is_the_kernels(src: str, member: str) -> None:
    """jhash2 read off the kernel directly: a DNAT to 0.0.0.1-255.255.255.255 spans 2**32-1 addresses, so the
    member is 1 + reciprocal_scale(j, 2**32-1), which is j itself (j > 0). Here UDP from ``src`` to 10.96.0.99
    under that rule: the hash of the source's four words (the address, then three zero words) seeded with the
    destination's word."""
    assert jhash2([_le(src), 0, 0, 0], _le("10.96.0.99")) == _value(member)


def test_jhash2_of_no_words_is_its_seed_state() -> None:
    """With nothing to hash, jhash2 returns its initial state: 0xdeadbeef plus the seed (lookup3's rule)."""
    assert jhash2([], 0) == 0xDEADBEEF
    assert jhash2([], 0x21524111) == 0  # 0xdeadbeef + 0x21524111 wraps to 0


# (family, source, destination before the NAT, range, persistent, DNAT?) -> the member Linux 6.18 chose.
# The SNAT rows are the same flows after the DNAT above them: the destination is the DNAT's member.
KERNEL = [
    (4, "10.77.165.247", "10.96.0.10", ("10.100.0.1", "10.100.0.13"), False, True, "10.100.0.12"),
    (4, "10.77.211.85", "10.96.0.10", ("10.100.0.1", "10.100.0.13"), False, True, "10.100.0.11"),
    (4, "10.77.111.35", "10.96.0.10", ("10.100.0.1", "10.100.0.13"), False, True, "10.100.0.5"),
    (4, "10.77.165.247", "10.100.0.12", ("10.200.0.1", "10.200.0.11"), False, False, "10.200.0.2"),
    (4, "10.77.211.85", "10.100.0.11", ("10.200.0.1", "10.200.0.11"), False, False, "10.200.0.4"),
    (4, "10.77.111.35", "10.100.0.5", ("10.200.0.1", "10.200.0.11"), False, False, "10.200.0.3"),
    (4, "10.77.64.244", "10.96.0.11", ("10.100.1.1", "10.100.1.7"), True, True, "10.100.1.4"),
    (4, "10.77.193.181", "10.96.0.11", ("10.100.1.1", "10.100.1.7"), True, True, "10.100.1.1"),
    (4, "10.77.64.244", "10.100.1.4", ("10.201.0.1", "10.201.0.11"), True, False, "10.201.0.6"),
    (4, "10.77.193.181", "10.100.1.1", ("10.201.0.1", "10.201.0.11"), True, False, "10.201.0.1"),
    (6, "fd77::1bfa:41e", "fd00:96::10", ("fd00:100::1", "fd00:100::d"), False, True, "fd00:100::2"),
    (6, "fd77::78c7:47b", "fd00:96::10", ("fd00:100::1", "fd00:100::d"), False, True, "fd00:100::a"),
    (6, "fd77::1bfa:41e", "fd00:100::2", ("fd00:200::1", "fd00:200::b"), False, False, "fd00:200::8"),
    (6, "fd77::78c7:47b", "fd00:100::a", ("fd00:200::1", "fd00:200::b"), False, False, "fd00:200::1"),
    (6, "fd77::fcfc:3ff", "fd00:96::12", ("fd00:100::2:1", "fd00:100::2:9"), True, True, "fd00:100::2:3"),
    (6, "fd77::7e4b:782", "fd00:96::12", ("fd00:100::2:1", "fd00:100::2:9"), True, True, "fd00:100::2:7"),
    # a range across a 32-bit word: once a word is below the high one, the next comes from the whole word,
    # so the kernel may leave the range (the first) or stay in it (the second)
    (6, "fd77::7e4b:782", "fd00:96::11", ("fd00:100::ffff:fff0", "fd00:100::1:0:10"), False, True,
     "fd00:100::23d2:bd36"),
    (6, "fd77::4bdb:24d", "fd00:96::11", ("fd00:100::ffff:fff0", "fd00:100::1:0:10"), False, True,
     "fd00:100::1:0:3"),
]


@pytest.mark.parametrize(("family", "src", "dst", "bounds", "persistent", "dnat", "member"), KERNEL)
def test_best_address_is_the_kernels(family: int, src: str, dst: str, bounds: tuple[str, str], persistent: bool,
                                     dnat: bool, member: str) -> None:
    low, high = (_value(b) for b in bounds)
    chosen = best_address(family, _value(src), _value(dst), low, high, dnat=dnat, persistent=persistent)
    assert format_address(family, chosen) == member


def _bounds(family: int) -> st.SearchStrategy[tuple[int, int]]:
    """IPv4 ranges of any size; IPv6 ranges within one last word (the kernel's walk keeps those inside)."""
    if family == 4:
        return st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2).map(lambda p: (min(p), max(p)))
    return st.tuples(st.integers(0, 2**96 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(
        lambda t: (t[0] << 32 | min(t[1:]), t[0] << 32 | max(t[1:])))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[int, int, int, int, int, bool, bool]:
    family = draw(st.sampled_from([4, 6]))
    top = 2 ** (32 if family == 4 else 128) - 1
    low, high = draw(_bounds(family))
    return (family, draw(st.integers(0, top)), draw(st.integers(0, top)), low, high, draw(st.booleans()),
            draw(st.booleans()))


@settings(max_examples=budget(300), deadline=None)
@given(_cases())
def test_the_member_is_inside_the_range(case: tuple[int, int, int, int, int, bool, bool]) -> None:
    family, src, dst, low, high, persistent, dnat = case
    assert low <= best_address(family, src, dst, low, high, dnat=dnat, persistent=persistent) <= high


@settings(max_examples=budget(300), deadline=None)
@given(_cases(), st.integers(0, 2**128 - 1))
def test_persistent_leaves_the_destination_out(case: tuple[int, int, int, int, int, bool, bool], other: int) -> None:
    """--persistent: a client gets one member whatever it talks to (and a DNAT's own choice feeds nothing)."""
    family, src, dst, low, high, _, dnat = case
    other &= 2 ** (32 if family == 4 else 128) - 1
    assert best_address(family, src, dst, low, high, dnat=dnat, persistent=True) == \
        best_address(family, src, other, low, high, dnat=not dnat, persistent=True)


RANGE_RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.100.0.1-10.100.0.13{flags}
COMMIT
"""


@settings(max_examples=budget(60), deadline=None)
@given(st.integers(0x0A000000, 0x0AFFFFFF), st.integers(1, 65535), st.integers(1, 65535))
def test_a_connection_gets_its_member_whatever_its_source_port(src: int, port: int, other: int) -> None:
    """The hash reads addresses only: a client's connections (from 10/8: no martian source) from any port go
    to one member, the one natrange gives, and with no port range nothing about it is uncertain."""
    tracer = Tracer(parse_ruleset(RANGE_RULES.format(flags="")), NodeContext.of([]))
    text = format_address(4, src)
    first, second = (tracer.trace(Packet.of("udp", text, "10.96.0.10", 53, p)) for p in (port, other))
    member = format_address(4, best_address(4, src, _value("10.96.0.10"), _value("10.100.0.1"),
                                            _value("10.100.0.13"), dnat=True, persistent=False))
    assert [o.destination for o in first.outcomes] == [o.destination for o in second.outcomes] == [f"{member}:53"]
    assert not [u for u in first.uncertain if u.line == 6]


def test_persistent_is_read_from_the_rule() -> None:
    """--persistent changes the member (the destination leaves the hash); --random changes no address."""
    def member(flags: str) -> str | None:
        tracer = Tracer(parse_ruleset(RANGE_RULES.format(flags=flags)), NodeContext.of([]))
        return tracer.trace(Packet.of("udp", "10.77.0.2", "10.96.0.10", 53, 40000)).outcomes[0].destination

    def kernel(persistent: bool) -> str:
        return format_address(4, best_address(4, _value("10.77.0.2"), _value("10.96.0.10"), _value("10.100.0.1"),
                                              _value("10.100.0.13"), dnat=True, persistent=persistent)) + ":53"

    assert kernel(False) != kernel(True)
    assert member("") == member(" --random") == kernel(False)
    assert member(" --persistent") == member(" --persistent --random") == kernel(True)


ZONE_RULES = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -j CT {zone}\nCOMMIT\n"


@pytest.mark.parametrize(("zone", "mark", "seed"), [
    ("--zone 5", 0, 5), ("--zone-orig 0x7", 0, 7), ("--zone-reply 9", 0, 9), ("--zone mark", 0x30006, 6),
])
def test_a_ct_zone_seeds_the_range_s_hash(zone: str, mark: int, seed: int) -> None:
    """find_best_ips_proto XORs the conntrack zone's id into the hash's seed, so the zone a raw CT rule gives the
    connection (its number, or the packet's mark cut to 16 bits) moves it to another member (review r1 #3); that
    conntrack keeps zones apart is said, not modelled."""
    tracer = Tracer(parse_ruleset(ZONE_RULES.format(zone=zone) + RANGE_RULES.format(flags="")), NodeContext.of([]))
    result = tracer.trace(Packet.of("udp", "10.1.2.3", "10.96.0.10", 53, 40000, mark=mark))
    member = best_address(4, _value("10.1.2.3"), _value("10.96.0.10"), _value("10.100.0.1"), _value("10.100.0.13"),
                          dnat=True, persistent=False, zone=seed)
    unzoned = best_address(4, _value("10.1.2.3"), _value("10.96.0.10"), _value("10.100.0.1"),
                           _value("10.100.0.13"), dnat=True, persistent=False)
    assert member != unzoned or seed == 0
    assert [o.destination for o in result.outcomes] == [f"{format_address(4, member)}:53"]
    assert [u.reason for u in result.uncertain if u.line == 4] == [
        f"target CT {zone}: conntrack keeps each zone's connections apart, which is not modelled: the packet's "
        "conntrack state is assumed to be its state in that zone (the zone's number is followed into a NAT range's "
        "choice)"]


@pytest.mark.parametrize(("zone", "seed"), [
    ("--zone-orig 1 --zone-reply 2", 2), ("--zone-reply 0x9 --zone-orig 3", 3),
    ("--zone-orig mark --zone-reply 5", None), ("--zone-orig 5 --zone-reply MARK", None),
])
def test_of_several_ct_zones_the_last_is_kept(zone: str, seed: int | None) -> None:
    """(review r5 #4) each zone option sets the target's one zone id (libxt_CT's ct_parse_zone_id), so the last
    given is the connection's; a ``mark`` among them sets a flag no later option clears: the packet's mark."""
    assert ct_zone(parse_spec(f"-j CT {zone}").target) == seed  # type: ignore[arg-type]
    tracer = Tracer(parse_ruleset(ZONE_RULES.format(zone=zone) + RANGE_RULES.format(flags="")), NodeContext.of([]))
    result = tracer.trace(Packet.of("udp", "10.1.2.3", "10.96.0.10", 53, 40000, mark=0x30006))
    member = best_address(4, _value("10.1.2.3"), _value("10.96.0.10"), _value("10.100.0.1"), _value("10.100.0.13"),
                          dnat=True, persistent=False, zone=6 if seed is None else seed)
    assert [o.destination for o in result.outcomes] == [f"{format_address(4, member)}:53"]


SNAT_RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.77.0.0/16 -p udp -j SNAT --to-source {range}
COMMIT
"""


def _snat_doubt(nat: str, src: str, sport: int) -> tuple[bool, str]:
    tracer = Tracer(parse_ruleset(SNAT_RULES.format(range=nat)), NodeContext.of(["10.0.0.1"]))
    result = tracer.trace(Packet.of("udp", src, "10.100.0.12", 53, sport))
    (doubt,) = [u.reason for u in result.uncertain if u.line == 6]
    return result.outcomes[0].masquerade, doubt


def test_an_snat_to_a_range_takes_the_kernels_member_and_says_what_hangs_on_other_connections() -> None:
    masquerade, doubt = _snat_doubt("10.200.0.1-10.200.0.11", "10.77.165.247", 40001)
    assert masquerade
    assert doubt == ("--to-source 10.200.0.1-10.200.0.11 is a range: the kernel gives each connection one of its "
                     "members (the mapping an earlier connection from the same source address and port has in the "
                     "range, if any (conntrack's by-source table); the address by a hash of the connection's "
                     "addresses, which the trace computes as the kernel does); assumed no earlier connection, "
                     "10.200.0.2:40001")


@pytest.mark.parametrize(("nat", "sport", "ending"), [
    ("10.200.0.1:1000-2000", 1500, "assumed no earlier connection and the packet's port, 10.200.0.1:1500"),
    ("10.200.0.1:1000-2000", 40001, "assumed no earlier connection and the first port, 10.200.0.1:1000"),
    ("10.200.0.1:1000-2000 --random-fully", 1500, "assumed the first port, 10.200.0.1:1000"),
])
def test_an_snat_to_a_port_range_keeps_a_port_inside_unless_random(nat: str, sport: int, ending: str) -> None:
    _, doubt = _snat_doubt(nat, "10.77.165.247", sport)
    assert doubt.endswith(ending)
    assert ("searched from a random port" in doubt) == (sport != 1500 or "random" in nat)


def test_an_snat_keeps_a_source_already_in_its_range() -> None:
    """get_unique_tuple's first step: a source inside the range is kept as it is (no translation) unless its
    reply tuple is taken; --random skips that step."""
    masquerade, doubt = _snat_doubt("10.77.0.1-10.77.0.9", "10.77.0.5", 40001)
    assert not masquerade
    assert doubt == ("--to-source 10.77.0.1-10.77.0.9 is a range and the packet's source 10.77.0.5:40001 is in it: "
                     "the kernel keeps the source, unless another connection holds that reply tuple; assumed kept "
                     "(no translation)")
    masquerade, doubt = _snat_doubt("10.77.0.1-10.77.0.9 --random", "10.77.0.5", 40001)
    member = best_address(4, _value("10.77.0.5"), _value("10.100.0.12"), _value("10.77.0.1"), _value("10.77.0.9"),
                          dnat=False, persistent=False)
    assert masquerade
    assert doubt == ("--to-source 10.77.0.1-10.77.0.9 is a range: the kernel gives each connection one of its "
                     "members (the address by a hash of the connection's addresses, which the trace computes as "
                     "the kernel does; a source port drawn at random (--random)); assumed the packet's port, "
                     f"{format_address(4, member)}:40001")


def test_trace_keys_keep_each_source_apart_under_an_snat_range() -> None:
    """A kept answer is per source class; under an SNAT to a range each source has its own member, so two
    sources of one class must not share an answer (their doubts name different members)."""
    tracer = Tracer(parse_ruleset(SNAT_RULES.format(range="10.200.0.1-10.200.0.11")), NodeContext.of(["10.0.0.1"]))
    assert tracer.keys is not None
    for src in ("10.77.165.247", "10.77.211.85"):
        member = best_address(4, _value(src), _value("10.100.0.12"), _value("10.200.0.1"), _value("10.200.0.11"),
                              dnat=False, persistent=False)
        result = tracer.trace(Packet.of("udp", src, "10.100.0.12", 53, 40001))
        assert result.uncertain[-1].reason.endswith(f", {format_address(4, member)}:40001")


def test_the_walk_memo_keeps_each_source_apart_under_an_snat_range_no_check_reads() -> None:
    """With no trace keys, the tracer memoises walks on the fields their rules read; an SNAT range whose rule
    tests no source still reads it (the member is hashed from it), so two sources must not share a walk (the
    NAT's reads are part of the rule's: review r1 #4)."""
    rules = SNAT_RULES.replace("-s 10.77.0.0/16 ", "").format(range="10.200.0.1-10.200.0.11")
    tracer = Tracer(parse_ruleset(rules), NodeContext.of(["10.0.0.1"]))
    tracer.keys = None
    members = []
    for src in ("10.77.165.247", "10.77.211.85"):
        member = format_address(4, best_address(4, _value(src), _value("10.100.0.12"), _value("10.200.0.1"),
                                                _value("10.200.0.11"), dnat=False, persistent=False))
        result = tracer.trace(Packet.of("udp", src, "10.100.0.12", 53, 40001))
        assert result.uncertain[-1].reason.endswith(f", {member}:40001")
        members.append(member)
    assert members[0] != members[1]


def test_trace_keys_keep_each_source_apart_under_a_dnat_to_an_address_range() -> None:
    """A DNAT to an address range keys its destination's traces by the exact source (its member is hashed from
    it), as an SNAT range does, instead of turning the keys off for the whole ruleset (review r1 #6)."""
    compiled = compile_ruleset(parse_ruleset(RANGE_RULES.format(flags="")))
    tracer = Tracer(compiled, NodeContext.of(["10.0.0.1"]))
    assert tracer.keys is not None
    clients = ("10.77.165.247", "10.77.211.85", "10.77.111.35")
    for src in clients:
        member = best_address(4, _value(src), _value("10.96.0.10"), _value("10.100.0.1"), _value("10.100.0.13"),
                              dnat=True, persistent=False)
        result = tracer.trace(Packet.of("udp", src, "10.96.0.10", 53, 40000))
        assert [o.destination for o in result.outcomes] == [f"{format_address(4, member)}:53"]
    keys = tracer.keys
    assert len({keys.key(Packet.of("udp", src, "10.96.0.10", 53, 40000)) for src in clients}) == 3


@pytest.mark.parametrize(("target", "ports", "random", "persistent"), [
    ("MASQUERADE", None, False, False),
    ("MASQUERADE --random-fully", None, True, False),
    ("MASQUERADE --random", None, True, False),
    ("MASQUERADE --to-ports 1000-2000 --random-fully", (1000, 2000), True, False),
    ("MASQUERADE --to-ports 1000-2000", (1000, 2000), False, False),
    ("REDIRECT --to-ports 8000-8010 --random", (8000, 8010), True, False),
    ("SNAT --to-source 10.200.0.1:1000-2000 --random-fully", (1000, 2000), True, False),
    ("SNAT --to-source 10.200.0.1-10.200.0.9 --persistent", None, False, True),
])
def test_a_nat_rule_s_flags_are_read_once_into_its_range(target: str, ports: tuple[int, int] | None, random: bool,
                                                         persistent: bool) -> None:
    """QA-dumps #6: the simulator read --random/--random-fully off a MASQUERADE's options itself; now every NAT
    kind's flags are the compiled rule's NatRange, which the tracer and the simulator both read."""
    chain_name = "PREROUTING" if target.startswith("REDIRECT") else "POSTROUTING"
    rules = SNAT_RULES.format(range="10.200.0.1").replace("-A POSTROUTING", f"-A {chain_name}")
    compiled = compile_ruleset(parse_ruleset(rules.replace("-j SNAT --to-source 10.200.0.1", f"-j {target}")))
    chain = compiled.chain("nat", chain_name)
    assert chain is not None
    (rule,) = chain.rules
    nat = rule.nat
    if not (ports or random or persistent):
        assert nat is None
        return
    assert nat is not None
    assert ((nat.port_lo, nat.port_hi) if nat.port_lo is not None else None) == ports
    assert (nat.random, nat.persistent) == (random, persistent)


@pytest.mark.parametrize(("flags", "port", "random"), [("", 8005, False), (" --random", 8000, True)])
def test_a_redirect_to_a_port_range_draws_its_port_under_random(flags: str, port: int, random: bool) -> None:
    """REDIRECT is a DNAT to the node itself: under --random (NF_NAT_RANGE_PROTO_RANDOM) nf_nat_l4proto_unique_tuple
    draws the port from a random start, as for a DNAT, instead of keeping the packet's own port inside the range."""
    rules = RANGE_RULES.format(flags="").replace("--dport 53 -j DNAT --to-destination 10.100.0.1-10.100.0.13",
                                                 f"--dport 8005 -j REDIRECT --to-ports 8000-8010{flags}")
    result = Tracer(parse_ruleset(rules), NodeContext.of(["10.0.0.1"])).trace(
        Packet.of("udp", "10.77.0.2", "10.96.0.10", 8005, 40000, in_iface="eth0"))
    (outcome,) = result.outcomes
    assert outcome.destination is not None and outcome.destination.endswith(f":{port}")
    (doubt,) = [u.reason for u in result.uncertain if u.reason.startswith("--to-ports 8000-8010 is a range")]
    assert ("searched from a random port" in doubt) == random


def _masquerade_doubts(target: str, sport: int) -> list[str]:
    rules = SNAT_RULES.format(range="10.200.0.1").replace("-j SNAT --to-source 10.200.0.1", f"-j {target}")
    node = NodeContext.of(["10.0.0.1"], interfaces={"eth0": ["10.0.0.1"]}, routes=[("0.0.0.0/0", "eth0")])
    result = Tracer(parse_ruleset(rules), node).trace(Packet.of("udp", "10.77.0.2", "10.100.0.12", 53, sport))
    assert [o.masquerade for o in result.outcomes] == [True]
    return [u.reason for u in result.uncertain if u.line == 6]


@pytest.mark.parametrize(("target", "sport", "ending"), [
    ("MASQUERADE --to-ports 1000-2000", 1500, "assumed no earlier connection and the packet's port, 10.0.0.1:1500"),
    ("MASQUERADE --to-ports 1000-2000", 40001, "assumed no earlier connection and the first port, 10.0.0.1:1000"),
    ("MASQUERADE --to-ports 1000-2000 --random", 1500, "assumed the first port, 10.0.0.1:1000"),
])
def test_a_masquerade_to_a_port_range_keeps_a_port_inside_unless_random(target: str, sport: int,
                                                                         ending: str) -> None:
    """get_unique_tuple keeps a source port already inside --to-ports, as for an SNAT (and as the simulator
    does); the trace took the first port whatever the packet's (review r1 #5)."""
    (doubt,) = _masquerade_doubts(target, sport)
    assert doubt.startswith("--to-ports 1000-2000 is a range: the kernel gives each connection one of its members")
    assert doubt.endswith(ending)



def _services(count: int) -> str:
    """A dump as kube-proxy's: KUBE-SERVICES indexed by destination (10.96.0.N), each Service's endpoint chain
    DNATing to 10.100.0.N, but the first Service's to a range, and one source network tested for all."""
    lines = ["*nat", *(f":{c} ACCEPT [0:0]" for c in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")),
             ":KUBE-SERVICES - [0:0]", *(f":KUBE-SEP-{n} - [0:0]" for n in range(1, count + 1)),
             "-A PREROUTING ! -s 10.77.0.0/16 -j MARK --set-xmark 0x4000/0x4000", "-A PREROUTING -j KUBE-SERVICES"]
    lines += [f"-A KUBE-SERVICES -d 10.96.0.{n}/32 -p udp -m udp --dport 53 -j KUBE-SEP-{n}"
              for n in range(1, count + 1)]
    lines += [f"-A KUBE-SEP-{n} -p udp -m udp -j DNAT --to-destination 10.100.0.{n}:53" for n in range(2, count + 1)]
    return "\n".join([*lines, "-A KUBE-SEP-1 -p udp -m udp -j DNAT --to-destination 10.100.1.1-10.100.1.9:53",
                      "COMMIT", ""])

def test_a_dnat_range_keys_only_its_own_destination_by_the_exact_source() -> None:
    """(review r5 #1) with few source tests every quick key takes them all; the range rule's 'opaque' came
    along, so every Service's keys held the exact client. Only the range's destination keeps them apart now,
    and the keyed tracer answers as a tracer that walks every packet does."""
    compiled = compile_ruleset(parse_ruleset(_services(INDEX_MIN_RULES + 4)))
    keyed = Tracer(compiled, NodeContext.of(["10.0.0.1"]))
    walker = Tracer(compiled, NodeContext.of(["10.0.0.1"]))
    walker.keys = None
    walker.engine.memos = {}
    keys = keyed.keys
    assert keys is not None
    clients = ("10.77.165.247", "10.77.211.85", "10.77.111.35", "10.78.0.9", "10.78.3.4")

    def distinct(dst: str, sources: tuple[str, ...]) -> int:
        return len({keys.key(Packet.of("udp", src, dst, 53, 40000)) for src in sources})

    assert distinct("10.96.0.1", clients) == len(clients)
    for dst in ("10.96.0.2", "10.96.0.20"):
        assert distinct(dst, clients[:3]) == distinct(dst, clients[3:]) == 1
        assert distinct(dst, clients) == 2  # the -s test still splits the classes
    for dst in ("10.96.0.1", "10.96.0.2", "10.96.0.20", "10.100.1.1", "10.96.0.99"):
        for src in clients:
            packet = Packet.of("udp", src, dst, 53, 40000)
            first, again, walked = keyed.trace(packet), keyed.trace(packet), walker.trace(packet)
            assert (first.origin, first.outcomes, first.uncertain) == (walked.origin, walked.outcomes,
                                                                       walked.uncertain)
            assert (again.outcomes, again.uncertain) == (walked.outcomes, walked.uncertain)
