"""A tracer that answers from memory answers exactly what a walk answers.

The tracer keeps each answer under the packet's key (``netfilter.tracekey``): the packet with
its source address replaced by the class of source tests a trace to its destination can
meet, and its source port left out when no rule reads it. These tests check the one thing
that makes that sound (two packets with equal keys get equal walks) on every real dump and
every scenario, compare warmed tracers kept across many packets with tracers that walk every
packet, and pin down what the key tells apart.
"""

from __future__ import annotations

from dataclasses import fields, replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset, parse_ruleset_file
from kubeproxy_sim.netfilter.compile import INDEX_MIN_RULES, compile_ruleset
from kubeproxy_sim.netfilter.packet import CtState, Packet, format_address
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, TraceResult
from kubeproxy_sim.netfilter.tracekey import KEYED_FIELDS, TraceKeys
from tests.budget import budget
from tests.netfilter.test_trace_memo import DUMPS, IFACES, NODE_ADDRESSES, PORT, QUAD

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent for p in (ROOT / "rulesets").glob("*/scenario.yaml"))


def walker(compiled, node: NodeContext) -> Tracer:
    """A tracer that walks every packet: no answers kept, no pipeline memo."""
    tracer = Tracer(compiled, node)
    tracer.keys = None
    tracer.engine.memos = {}
    return tracer


def answer(result: TraceResult) -> tuple:
    """A trace's answer without the packet it was asked for."""
    return result.origin, result.outcomes, result.uncertain


def boundary_sources(keys: TraceKeys) -> list[str]:
    """Addresses at the edges of every network the rules test the source against, and every exact one."""
    values: set[int] = set(keys.global_exact) | set(keys.global_tests.exact)
    for net, mask in keys.global_tests.nets:
        last = net | (keys.full ^ mask)
        values |= {net - 1, net, net + 1, last, last + 1}
    return sorted(format_address(keys.family, v) for v in values if 0 <= v <= keys.full)


MARTIANS = ("0.0.0.0", "0.1.2.3", "224.0.0.5", "255.255.255.255", "ff02::1", "ff01::1", "ff00::1", "::1")
"""Addresses the kernel treats apart (zeronet, multicast, broadcast, scopes, loopback): drawn as sources and
destinations, each pool holding those of its family."""


def with_martians(addresses: list[str], family: int) -> list[str]:
    return sorted(set(addresses) | {a for a in MARTIANS if (":" in a) == (family == 6)})


def drawn(values: list[str]) -> st.SearchStrategy[str]:
    """One of ``values``, a martian among them as often as all the others (else a large pool hides them)."""
    martians = [v for v in values if v in MARTIANS]
    return st.sampled_from(values) | st.sampled_from(martians) if martians else st.sampled_from(values)


def packets(sources: list[str], destinations: list[str], ports: list[int]) -> st.SearchStrategy[Packet]:
    def build(proto, src, dst, dport, sport, in_iface, out_iface, mark, state) -> Packet:
        return Packet.of(proto, src, dst, dport, sport, in_iface=in_iface, out_iface=out_iface, mark=mark,
                         ctstate=state)

    return st.builds(
        build, st.sampled_from(["tcp", "udp"]), drawn(sources), drawn(destinations),
        st.sampled_from(ports), st.none() | st.integers(1024, 65535), st.sampled_from(IFACES),
        st.sampled_from(IFACES), st.sampled_from([0, 0x4000, 0x8000]),
        st.sampled_from([CtState.NEW, CtState.NEW, CtState.ESTABLISHED]))


def check_keys_and_answers(kept: Tracer, walks: Tracer, packet: Packet, other_src: str, sport: int) -> None:
    """Equal keys, equal walks; and the kept tracer (warmed, shared across examples) answers as a walk does."""
    other = Packet.of(packet.proto, other_src, packet.dst_text, packet.dport, sport, in_iface=packet.in_iface,
                      out_iface=packet.out_iface, mark=packet.mark, ctstate=packet.ctstate)
    keys = kept.keys
    assert keys is not None
    if keys.key(packet) == keys.key(other):
        assert answer(walks.trace(packet)) == answer(walks.trace(other))
    assert kept.trace(packet) == walks.trace(packet)
    assert kept.trace(other) == walks.trace(other)


def check_drawn(tracers: tuple[Tracer, Tracer, list[str], list[str], list[int]], data: st.DataObject) -> None:
    """Draw a packet and a second source from what the rules name, and check both (see above)."""
    kept, walks, sources, destinations, ports = tracers
    packet = data.draw(packets(sources, destinations, ports))
    check_keys_and_answers(kept, walks, packet, data.draw(drawn(sources)),
                           data.draw(st.integers(1024, 65535)))


# --------------------------------------------------------------------------- real dumps


@cache
def dump_tracers(name: str) -> tuple[Tracer, Tracer, list[str], list[str], list[int]]:
    text = (DUMPS / name).read_text()
    node = NodeContext.of(NODE_ADDRESSES[name], interfaces={"eth0": NODE_ADDRESSES[name] or ["10.0.2.15"]},
                          routes=[("10.0.0.0/8", "cni0"), ("0.0.0.0/0", "eth0")])
    compiled = compile_ruleset(parse_ruleset_file(str(DUMPS / name)))
    kept = Tracer(compiled, node)
    assert kept.keys is not None, "every real dump can be keyed"
    kept.warm()
    addresses = sorted(set(QUAD.findall(text)) | set(NODE_ADDRESSES[name]) | {"127.0.0.1", "203.0.113.9"})
    addresses = with_martians(addresses, compiled.family)
    sources = sorted(set(addresses) | set(boundary_sources(kept.keys)))
    ports = sorted({int(p) for p in PORT.findall(text) if int(p) <= 65535} | {53, 80, 443})
    return kept, walker(compiled, node), sources, addresses, ports


@pytest.mark.parametrize("name", sorted(NODE_ADDRESSES))
@settings(max_examples=budget(120), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_equal_keys_trace_alike_on_real_dump(name: str, data: st.DataObject) -> None:
    check_drawn(dump_tracers(name), data)


# --------------------------------------------------------------------------- scenarios


@cache
def scenario_tracers(folder: Path) -> tuple[Tracer, Tracer, list[str], list[str], list[int]]:
    from tests.test_flows_upstream import _scenario_rules

    ruleset, node = _scenario_rules(folder)
    compiled = compile_ruleset(ruleset)
    kept = Tracer(compiled, node)
    assert kept.keys is not None
    kept.warm()
    family = compiled.family
    text = (folder / "rules.golden").read_text()
    addresses = _addresses(text, family) | set(node.addresses)
    addresses |= {"203.0.113.9", "2001:db8:ffff::9", "127.0.0.1", "::1"}
    addresses = set(with_martians([a for a in addresses if _family(a) == family], family))
    sources = sorted(addresses | set(boundary_sources(kept.keys)))
    ports = sorted({int(p) for p in PORT.findall(text) if int(p) <= 65535} | {80})
    return kept, walker(compiled, node), sources, sorted(addresses), ports


def _addresses(text: str, family: int) -> set[str]:
    """The addresses the rules name (for IPv6, the words that parse as one: ``-s fd00::1/128``, ``[fd00::1]:80``)."""
    if family == 4:
        return set(QUAD.findall(text))
    words = {w.split("/")[0].rsplit("]:", 1)[0].strip("[]") for w in text.split()}
    return {w for w in words if ":" in w and _family(w) == 6}


def _family(text: str) -> int | None:
    try:
        return Packet.of("tcp", text, text, 1).family
    except ValueError:
        return None


@pytest.mark.parametrize("folder", SCENARIOS, ids=[f.name for f in SCENARIOS])
@settings(max_examples=budget(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_equal_keys_trace_alike_in_scenario(folder: Path, data: st.DataObject) -> None:
    check_drawn(scenario_tracers(folder), data)


# --------------------------------------------------------------------------- what the key tells apart

HAIRPIN = """\
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SERVICES - [0:0]
:SVC - [0:0]
:SEP-1 - [0:0]
:SEP-2 - [0:0]
:MARK-MASQ - [0:0]
-A PREROUTING -j SERVICES
-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
-A MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A SERVICES -d 172.30.0.1/32 -p tcp -m tcp --dport 80 -j SVC
-A SVC ! -s 10.0.0.0/8 -d 172.30.0.1/32 -p tcp -m tcp --dport 80 -j MARK-MASQ
-A SVC -m statistic --mode random --probability 0.5 -j SEP-1
-A SVC -j SEP-2
-A SEP-1 -s 10.1.0.1/32 -j MARK-MASQ
-A SEP-1 -p tcp -j DNAT --to-destination 10.1.0.1:8080
-A SEP-2 -s 10.1.0.2/32 -j MARK-MASQ
-A SEP-2 -p tcp -j DNAT --to-destination 10.1.0.2:8080
COMMIT
"""
NODE = NodeContext.of(["192.168.0.10"], interfaces={"eth0": ["192.168.0.10"]})


def keyed(rules: str = HAIRPIN) -> Tracer:
    tracer = Tracer(parse_ruleset(rules), NODE)
    assert tracer.keys is not None
    return tracer


def test_clients_share_a_class_and_the_endpoints_and_outsiders_do_not() -> None:
    keys = keyed().keys
    assert keys is not None

    def key(src: str, sport: int | None = None) -> tuple:
        return keys.key(Packet.of("tcp", src, "172.30.0.1", 80, sport))

    assert key("10.2.0.5") == key("10.9.9.9") == key("10.2.0.5", 40000)  # no rule reads the source port
    assert len({key("10.2.0.5"), key("10.1.0.1"), key("10.1.0.2"), key("203.0.113.9")}) == 4
    masquerades = {src: {o.masquerade for o in keyed().trace(Packet.of("tcp", src, "172.30.0.1", 80)).outcomes}
                   for src in ("10.2.0.5", "10.1.0.1", "203.0.113.9")}
    assert masquerades == {"10.2.0.5": {False}, "10.1.0.1": {True, False}, "203.0.113.9": {True}}


def test_a_source_tested_only_under_another_destination_shares_the_class() -> None:
    """10.1.0.1 is an endpoint of 172.30.0.1, not of 172.30.0.2: to the latter it is any client.

    (Only once SERVICES is long enough to be indexed by destination; a short chain is walked
    whole by every packet, so its tests are everyone's.)
    """
    others = "".join(f"-A SERVICES -d 172.30.0.{n}/32 -p tcp -m tcp --dport 80 -j DNAT "
                     f"--to-destination 10.1.0.{n}:8080\n" for n in range(2, 2 + INDEX_MIN_RULES))
    keys = keyed(HAIRPIN.replace("COMMIT", others + "COMMIT", 1)).keys
    assert keys is not None

    def key(src: str, dst: str) -> tuple:
        return keys.key(Packet.of("tcp", src, dst, 80))

    assert key("10.1.0.1", "172.30.0.2") == key("10.2.0.5", "172.30.0.2")
    assert key("10.1.0.1", "172.30.0.1") != key("10.2.0.5", "172.30.0.1")


def test_every_other_packet_field_is_in_the_key() -> None:
    keys = keyed().keys
    assert keys is not None
    base = Packet.of("tcp", "10.2.0.5", "172.30.0.1", 80)
    changed = {"proto": "udp", "dst": 2, "dport": 81, "in_iface": "eth0", "out_iface": "eth0", "mark": 1,
               "ctstate": CtState.ESTABLISHED, "ctstatus": frozenset({"ASSURED"}), "bridge_port": "veth0",
               "reply": True, "ct_dnat": (3, 8080), "ct_snat": True, "icmp_type": 8, "icmp_code": 1}
    assert set(changed) == set(KEYED_FIELDS)
    assert {f.name for f in fields(Packet)} == {*KEYED_FIELDS, "family", "src", "sport"}, "key every new field"
    for name, value in changed.items():
        assert keys.key(replace(base, **{name: value})) != keys.key(base), name


def test_a_rule_reading_the_source_port_puts_it_in_the_key() -> None:
    text = HAIRPIN.replace("-A SEP-2 -p tcp -j DNAT", "-A SEP-2 -p tcp -m tcp --sport 1000:2000 -j DNAT")
    keys = keyed(text).keys
    assert keys is not None and keys.sport
    assert keys.key(Packet.of("tcp", "10.2.0.5", "172.30.0.1", 80, 1500)) != keys.key(
        Packet.of("tcp", "10.2.0.5", "172.30.0.1", 80, 3000))


def test_a_source_test_that_does_not_say_how_keeps_every_address_apart() -> None:
    text = HAIRPIN.replace("-A SEP-1 -s 10.1.0.1/32", "-A SEP-1 -m set --match-set clients src")
    keys = keyed(text).keys
    assert keys is not None
    assert keys.key(Packet.of("tcp", "10.2.0.5", "172.30.0.1", 80)) != keys.key(
        Packet.of("tcp", "10.2.0.6", "172.30.0.1", 80))


def test_no_keys_when_lazy_or_when_a_rule_does_not_declare_its_reads() -> None:
    assert Tracer(parse_ruleset(HAIRPIN), NODE, lazy=True).keys is None
    compiled = compile_ruleset(parse_ruleset(HAIRPIN))
    compiled.chain("nat", "SVC").rules[0].reads = None
    tracer = Tracer(compiled, NODE)
    assert tracer.keys is None
    assert tracer.trace(Packet.of("tcp", "10.2.0.5", "172.30.0.1", 80)).outcomes  # it walks instead


def test_warm_traces_each_service_port_once_per_class_and_then_answers_without_walking() -> None:
    tracer = keyed()
    assert tracer.warm() == 2  # 172.30.0.1:80 from outside 10.0.0.0/8 and from inside it
    tracer.engine.walk = None  # type: ignore[assignment,method-assign]  # any walk now fails
    for src in ("10.2.0.5", "10.200.1.1", "198.51.100.7"):
        result = tracer.trace(Packet.of("tcp", src, "172.30.0.1", 80, 5555))
        assert result.packet.src_text == src and len(result.outcomes) == 2


def test_answers_start_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubeproxy_sim.netfilter import trace

    monkeypatch.setattr(trace, "ANSWER_LIMIT", 2)
    tracer = keyed()
    walks = walker(tracer.compiled, NODE)
    for src in ("10.2.0.5", "10.1.0.1", "10.1.0.2", "203.0.113.9", "10.2.0.5"):
        packet = Packet.of("tcp", src, "172.30.0.1", 80)
        assert tracer.trace(packet) == walks.trace(packet)
        assert len(tracer._answers) <= 2


RPFILTER = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -m rpfilter --invert -j DROP\nCOMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")


def test_rpfilter_keeps_only_the_zero_source_apart() -> None:
    """reverse_path passes 0.0.0.0 to a broadcast whatever the routes (zeronet); the rest of 0.0.0.0/8 is routed
    as any address since Linux 5.3, so 0.1.2.3 shares a class with any source routed alike."""
    node = NodeContext.of(["192.168.0.10/24"], interfaces={"eth0": ["192.168.0.10/24"]}, routes=[("0.0.0.0/0", "eth0")])
    tracer = Tracer(parse_ruleset(RPFILTER), node)
    keys = tracer.keys
    assert keys is not None

    def key(src: str, dst: str = "255.255.255.255") -> tuple:
        return keys.key(Packet.of("udp", src, dst, 67, in_iface="eth1"))

    assert key("0.1.2.3") == key("10.2.0.5") != key("0.0.0.0")
    walks = walker(compile_ruleset(parse_ruleset(RPFILTER)), node)
    verdicts = {src: walks.trace(Packet.of("udp", src, "255.255.255.255", 67, in_iface="eth1")).outcomes[0].verdict
                for src in ("0.0.0.0", "0.1.2.3")}
    assert verdicts == {"0.0.0.0": "ACCEPT", "0.1.2.3": "DROP"}
