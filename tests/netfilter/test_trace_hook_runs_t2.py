"""The tracer keeps each distinct run of hook passes once (Tracer._hook_run) and branches share their hooks as
tuples: neither may change what a trace says. A tracer walked through many packets answers each as a fresh one does;
forked branches never see each other's passes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Branch, Engine
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import Tracer, trace
from tests.budget import budget
from tests.netfilter.test_trace_hooks_t1 import NODE, RULES

PACKETS = st.builds(lambda src, dst, dport: Packet.of("tcp", src, dst, dport),
                    st.sampled_from(["10.0.0.9", "203.0.113.7", "192.168.0.2"]),
                    st.sampled_from(["172.30.0.41", "10.180.0.2", "192.168.0.2", "8.8.8.8"]),
                    st.sampled_from([80, 9, 22]))


@settings(max_examples=budget(40), deadline=None)
@given(st.lists(PACKETS, min_size=1, max_size=6))
def test_a_tracer_reused_for_many_packets_answers_each_as_a_fresh_one(packets: list[Packet]) -> None:
    """Uncached walks (no answer keys) through one tracer reuse its hook runs; the JSON and the hooks' steps stay
    a fresh tracer's."""
    ruleset = parse_ruleset(RULES)
    reused = Tracer(ruleset, NODE)
    reused.keys = None  # every packet walked: the hook runs, not the answers, are what is kept
    for packet in packets:
        got = reused.trace(packet)
        want = trace(ruleset, packet, NODE)
        assert got.to_json() == want.to_json()
        assert [[h.steps for h in o.hooks] for o in got.outcomes] == [[h.steps for h in o.hooks]
                                                                      for o in want.outcomes]


def test_equal_runs_of_hook_passes_share_one_record() -> None:
    tracer = Tracer(parse_ruleset(RULES), NODE)
    tracer.keys = None
    first, second = (tracer.trace(Packet.of("tcp", src, "172.30.0.41", 80)).outcomes
                     for src in ("10.0.0.9", "10.0.0.8"))
    assert first[0].hooks == second[0].hooks and first[0].hooks is second[0].hooks


def test_a_fork_shares_its_hooks_and_a_pass_on_one_branch_stays_off_the_other() -> None:
    engine = Engine(compile_ruleset(parse_ruleset(RULES)), NODE)
    parent = Branch(Packet.of("tcp", "10.0.0.9", "172.30.0.41", 80), engine.env)
    parent.hooks += (("mangle", "PREROUTING", "ACCEPT", True, 0),)
    child = parent.fork(1, 2)
    assert child.hooks is parent.hooks
    child.hooks += (("nat", "PREROUTING", "ACCEPT", False, 4),)
    assert len(parent.hooks) == 1 and len(child.hooks) == 2
