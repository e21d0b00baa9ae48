"""Every built-in chain a packet passes is on its outcome (``hooks``), those passed with nothing matching or left by
their ACCEPT policy included; the text shows them, and says when the source is kept (not masqueraded)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import CtState, Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, render_text, trace
from tests.budget import budget

RULES = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A FORWARD -p tcp --dport 9 -j MARK --set-xmark 0x1/0x1
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-1 - [0:0]
:KUBE-SEP-2 - [0:0]
:KUBE-POSTROUTING - [0:0]
-A PREROUTING -j KUBE-SERVICES
-A OUTPUT -j KUBE-SERVICES
-A POSTROUTING -j KUBE-POSTROUTING
-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-A
-A KUBE-SVC-A ! -s 10.0.0.0/8 -j MARK --or-mark 0x4000
-A KUBE-SVC-A -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-1
-A KUBE-SVC-A -j KUBE-SEP-2
-A KUBE-SEP-1 -p tcp -m tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-2 -p tcp -m tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -d 10.180.0.0/16 -j ACCEPT
COMMIT
"""
"""A node whose mangle chains are empty but FORWARD's, nat INPUT empty, filter FORWARD with a DROP policy and
an ACCEPT for the endpoints, and a service masquerading clients from outside 10/8."""
NODE = NodeContext.of(["192.168.0.2"])
SERVICE = ("tcp", "172.30.0.41", 80)


def _hooks(outcome: object) -> list[tuple[str, str, str, bool]]:
    return [(h.table, h.chain, h.verdict, h.policy) for h in outcome.hooks]  # type: ignore[attr-defined]


def test_a_forwarded_packet_lists_every_chain_it_passed_in_the_kernels_order() -> None:
    """raw is no table here, so not passed; empty mangle chains are (netfilter calls every registered hook)."""
    result = trace(parse_ruleset(RULES), Packet.of("tcp", "10.0.0.9", "172.30.0.41", 80), NODE)
    assert [o.destination for o in result.outcomes] == ["10.180.0.1:80", "10.180.0.2:80"]
    for outcome in result.outcomes:
        assert _hooks(outcome) == [
            ("mangle", "PREROUTING", "ACCEPT", True), ("nat", "PREROUTING", "ACCEPT", False),  # its DNAT decided
            ("mangle", "FORWARD", "ACCEPT", True), ("filter", "FORWARD", "ACCEPT", False),  # -j ACCEPT decided
            ("mangle", "POSTROUTING", "ACCEPT", True),
            ("nat", "POSTROUTING", "ACCEPT", True)]  # KUBE-POSTROUTING returned: the policy let it through
        assert sum(h.steps for h in outcome.hooks) == len(outcome.path)
        assert not outcome.masquerade


def test_a_drop_policy_and_local_delivery() -> None:
    tracer = Tracer(parse_ruleset(RULES), NODE)
    dropped = tracer.trace(Packet.of("tcp", "10.0.0.9", "10.99.0.1", 22)).outcomes
    assert [(o.verdict, _hooks(o)[-1]) for o in dropped] == [("DROP", ("filter", "FORWARD", "DROP", True))]
    assert dropped[0].path[-1].rule == ":FORWARD DROP [0:0]" and dropped[0].hooks[-1].steps == 1
    local = tracer.trace(Packet.of("tcp", "10.0.0.9", "192.168.0.2", 22)).outcomes
    assert [h[:2] for h in _hooks(local[0])] == [("mangle", "PREROUTING"), ("nat", "PREROUTING"),
                                                 ("mangle", "INPUT"), ("filter", "INPUT"), ("nat", "INPUT")]
    assert all(h.policy and not h.steps for h in local[0].hooks[2:])


def test_the_nodes_own_packet_comes_back_in_on_lo_and_masquerades() -> None:
    result = trace(parse_ruleset(RULES), Packet.of("tcp", "192.168.0.2", "172.30.0.41", 80), NODE)
    assert {o.masquerade for o in result.outcomes} == {True}
    assert _hooks(result.outcomes[0]) == [
        ("mangle", "OUTPUT", "ACCEPT", True), ("nat", "OUTPUT", "ACCEPT", False), ("filter", "OUTPUT", "ACCEPT", True),
        ("mangle", "POSTROUTING", "ACCEPT", True), ("nat", "POSTROUTING", "ACCEPT", False)]  # MASQUERADE decided
    to_itself = trace(parse_ruleset(RULES), Packet.of("tcp", "192.168.0.2", "192.168.0.2", 22), NODE).outcomes[0]
    assert [h[:2] for h in _hooks(to_itself)][-3:] == [("mangle", "PREROUTING"), ("mangle", "INPUT"),
                                                        ("filter", "INPUT")]  # back in on lo: no nat


def test_a_later_packet_passes_no_nat_chain() -> None:
    later = Packet.of("tcp", "10.0.0.9", "10.180.0.1", 80, ctstate=CtState.ESTABLISHED)
    hooks = _hooks(trace(parse_ruleset(RULES), later, NODE).outcomes[0])
    assert hooks and all(table != "nat" for table, *_ in hooks)


@settings(max_examples=budget(60), deadline=None)
@given(st.sampled_from(["10.0.0.9", "203.0.113.7", "192.168.0.2"]),
       st.sampled_from(["172.30.0.41", "10.180.0.2", "192.168.0.2", "8.8.8.8"]), st.sampled_from([80, 9, 22]))
def test_memoised_walks_record_the_hooks_a_fresh_walk_does(src: str, dst: str, dport: int) -> None:
    """A tracer replays its memoised filter and POSTROUTING walks (PipelineMemo): the hooks must be those of a walk
    from scratch, and each hook's steps add up to the path."""
    packet = Packet.of("tcp", src, dst, dport)
    warm = Tracer(parse_ruleset(RULES), NODE)
    warm.trace(Packet.of("tcp", "10.0.0.8", "172.30.0.41", 80))  # fills the memos
    for outcome, fresh in zip(warm.trace(packet).outcomes, trace(parse_ruleset(RULES), packet, NODE).outcomes,
                              strict=True):
        assert outcome.hooks == fresh.hooks
        assert sum(h.steps for h in outcome.hooks) == len(outcome.path)


def test_text_shows_chains_passed_by_policy_and_the_kept_source() -> None:
    text = render_text(trace(parse_ruleset(RULES), Packet.of("tcp", "10.0.0.9", "172.30.0.41", 80), NODE))
    first = text.split("\n\n")[1].splitlines()
    assert first[:3] == ["DNAT to 10.180.0.1:80: 50% (1/2)", "  not masqueraded: the source stays 10.0.0.9",
                         "  mangle PREROUTING: no rule matched; policy ACCEPT"]
    assert "  mangle FORWARD: no rule matched; policy ACCEPT" in first
    assert "  nat POSTROUTING (no rule decided; policy ACCEPT)" in first
    assert first[-1] == "      line 28: -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
    masqueraded = render_text(trace(parse_ruleset(RULES), Packet.of("tcp", "203.0.113.7", "172.30.0.41", 80), NODE))
    assert "masqueraded: 50%" in masqueraded and "not masqueraded" not in masqueraded
    dropped = render_text(trace(parse_ruleset(RULES), Packet.of("tcp", "10.0.0.9", "10.99.0.1", 22), NODE))
    assert "not masqueraded" not in dropped
    assert dropped.endswith(("  filter FORWARD\n    policy: :FORWARD DROP [0:0]\n",  # the declaration's line if known
                             "  filter FORWARD\n    line 33: :FORWARD DROP [0:0]\n"))
