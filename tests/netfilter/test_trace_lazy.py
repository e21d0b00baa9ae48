"""A tracer that compiles each chain when a packet first enters it answers exactly what one compiled up front does.

``trace`` on one packet compiles lazily (on a 10,000-service dump, compiling every chain
is most of the time); simulations and benchmarks compile up front. Both must give the same
outcomes, paths and uncertainties, whichever chains the lazy one has compiled so far.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset, parse_ruleset_file
from kubeproxy_sim.netfilter.compile import CompiledChain, LazyChain, compile_ruleset
from kubeproxy_sim.netfilter.model import Chain, Ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.budget import budget
from tests.netfilter.test_trace_memo import DUMPS, NODE_ADDRESSES, PORT, QUAD, packets


@cache
def dump(name: str) -> tuple[Ruleset, NodeContext, Tracer, Tracer, list[str], list[int]]:
    """The dump, its node, an eager tracer, a lazy one kept across examples, and what packets draw from."""
    text = (DUMPS / name).read_text()
    ruleset = parse_ruleset_file(str(DUMPS / name))
    node = NodeContext.of(NODE_ADDRESSES[name], interfaces={"eth0": NODE_ADDRESSES[name] or ["10.0.2.15"]},
                          routes=[("10.0.0.0/8", "cni0"), ("0.0.0.0/0", "eth0")])
    addresses = sorted(set(QUAD.findall(text)) | set(NODE_ADDRESSES[name]) | {"127.0.0.1", "203.0.113.9"})
    ports = sorted({int(p) for p in PORT.findall(text) if int(p) <= 65535} | {53, 80, 443})
    return ruleset, node, Tracer(ruleset, node), Tracer(ruleset, node, lazy=True), addresses, ports


@pytest.mark.parametrize("name", sorted(NODE_ADDRESSES))
@settings(max_examples=budget(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), fresh=st.booleans())
def test_lazy_tracer_equals_eager_tracer_on_real_dump(name: str, data: st.DataObject, fresh: bool) -> None:
    ruleset, node, eager, kept, addresses, ports = dump(name)
    lazy = Tracer(ruleset, node, lazy=True) if fresh else kept  # nothing compiled yet, or what earlier packets left
    packet = data.draw(packets(addresses, ports))
    assert lazy.trace(packet).to_json() == eager.trace(packet).to_json()


def test_lazy_compile_builds_only_the_chains_a_packet_enters() -> None:
    ruleset = parse_ruleset(BROKEN_BEHIND_A_JUMP, validate=False)
    compiled = compile_ruleset(ruleset, lazy=True)
    Tracer(compiled, NodeContext.of()).trace(Packet.of("tcp", "10.0.0.2", "172.30.0.1", 80))
    chains = compiled.tables["nat"]
    # a forwarded packet never enters nat OUTPUT: since 4f692db8 the pipeline no longer reads every hook's rules
    # to drop the empty ones (it records them as passed), so OUTPUT stays uncompiled too
    assert [name for name, c in chains.items() if type(c) is CompiledChain] == ["PREROUTING", "POSTROUTING", "SVC-A"]
    assert type(chains["OUTPUT"]) is LazyChain
    assert type(chains["SVC-B"]) is LazyChain and chains["SVC-B"].compiler is not None
    assert [r.line for r in chains["SVC-B"].rules] == [10, 11, 12]  # reading the rules compiles the chain
    assert type(chains["SVC-B"]) is CompiledChain and chains["SVC-B"].compiler is None


BROKEN_BEHIND_A_JUMP = """\
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SVC-A - [0:0]
:SVC-B - [0:0]
-A PREROUTING -d 172.30.0.1/32 -j SVC-A
-A PREROUTING -d 172.30.0.2/32 -j SVC-B
-A SVC-A -p tcp -j DNAT --to-destination 10.1.0.1:8080
-A SVC-B -j MARK
-A SVC-B -p tcp -j DNAT
-A SVC-B -p tcp -j DNAT --to-destination 10.1.0.2:8080
COMMIT
"""
"""Two rules iptables refuses (MARK and DNAT without the option each needs): only the bulk path, which checks no
rule (``validate=False``), takes them, and the tracer must still cope."""


@pytest.mark.parametrize("lazy", [False, True])
def test_a_rule_that_cannot_be_compiled_is_uncertain_only_where_it_is_passed(lazy: bool) -> None:
    """The answer depends on a broken rule only when the packet passes it: only then is it listed, in place."""
    tracer = Tracer(parse_ruleset(BROKEN_BEHIND_A_JUMP, validate=False), NodeContext.of(), lazy=lazy)
    to_a = tracer.trace(Packet.of("tcp", "10.0.0.2", "172.30.0.1", 80))
    assert [o.destination for o in to_a.outcomes] == ["10.1.0.1:8080"] and to_a.uncertain == ()
    to_b = tracer.trace(Packet.of("tcp", "10.0.0.2", "172.30.0.2", 80))
    assert [o.destination for o in to_b.outcomes] == ["10.1.0.2:8080"]
    assert [(u.line, u.rule) for u in to_b.uncertain] == [(10, "-A SVC-B -j MARK"), (11, "-A SVC-B -p tcp -j DNAT")]
    assert to_b.uncertain[1].reason == "the rule cannot be evaluated: DNAT needs --to-destination; it is skipped"
    assert [s.line for s in to_b.outcomes[0].path] == [8, 12]  # the skipped rules are not on the path


def test_a_released_lazy_ruleset_is_freed_without_the_cyclic_collector(collector_off: None) -> None:
    """release() cuts the link of the chains not compiled yet to their table compiler; dropping frees it at once.

    ``diff`` lets go of one state's rules before building the next, with the collector paused.
    """
    import gc

    compiled = compile_ruleset(parse_ruleset(BROKEN_BEHIND_A_JUMP, validate=False), lazy=True)
    Tracer(compiled, NodeContext.of()).trace(Packet.of("tcp", "10.0.0.2", "172.30.0.1", 80))
    assert type(compiled.tables["nat"]["SVC-B"]) is LazyChain  # not entered: still holds its table
    compiled.release()
    assert all(c.compiler is None for t in compiled.tables.values() for c in t.values())
    del compiled
    assert gc.collect() == 0  # nothing was left for the collector


def test_a_lazy_ruleset_holds_no_cycle_so_dropping_it_frees_it_without_release(collector_off: None) -> None:
    """A chain not compiled yet reaches its table's chains (itself among them) through a weak reference: a lazy
    ruleset is freed by reference counting, released or not, so compile_ruleset(lazy=True) collects a large
    one's heap on the way into its pause (objects.bulk) and a frozen one is not kept for ever. A chain kept
    after its table is dropped cannot be compiled, and says so."""
    import gc
    import weakref

    compiled = compile_ruleset(parse_ruleset(BROKEN_BEHIND_A_JUMP, validate=False), lazy=True)
    Tracer(compiled, NodeContext.of()).trace(Packet.of("tcp", "10.0.0.2", "172.30.0.1", 80))
    chains = compiled.tables["nat"]
    assert type(chains["SVC-B"]) is LazyChain and chains["SVC-B"].compiler is not None  # not entered yet
    assert type(chains["SVC-A"]) is CompiledChain
    table = weakref.ref(chains)
    kept = chains["SVC-B"]
    del compiled, chains
    assert gc.collect() == 0 and table() is None  # freed when dropped: nothing left for the collector
    with pytest.raises(TypeError, match="chain SVC-B outlived its table before it was compiled"):
        kept.rules  # noqa: B018
    del kept
    assert gc.collect() == 0


def test_a_lazy_trace_of_generated_rules_numbers_only_the_chains_it_enters() -> None:
    """trace -f numbers a chain (rules --full's lines) when the walk enters it, not the node's every chain; the
    lines and paths are those of the ruleset numbered up front."""
    from kubeproxy_sim.netfilter.saveform import SavedLines
    from tests.netfilter.test_saveform import _node_tables

    tables = _node_tables("bootcamp")
    saved = SavedLines(tables)
    numbered: list[tuple[str, str]] = []

    def renumber(table: str, chain: Chain) -> Chain:
        numbered.append((table, chain.name))
        return saved.numbered(table, chain)

    node = NodeContext.of(["192.168.49.2"])
    packet = Packet.of("tcp", "10.244.0.9", "10.96.142.87", 8080)
    tracer = Tracer(tables, node, lazy=True, renumber=renumber)
    result = tracer.trace(packet)
    assert result == Tracer(saved.every_chain(), node).trace(packet)
    entered = {(t, n) for t, chains in tracer.compiled.tables.items() for n, c in chains.items()
               if type(c) is CompiledChain}
    assert {(s.table, s.chain) for o in result.outcomes for s in o.path} <= entered
    assert sorted(numbered) == sorted(entered) and len(entered) < sum(len(t.chains) for t in tables.tables)


def test_saved_lines_number_a_chain_as_the_whole_ruleset_numbered() -> None:
    from kubeproxy_sim.netfilter.saveform import SavedLines
    from tests.netfilter.test_saveform import _node_tables

    tables = _node_tables("session-affinity")
    saved = SavedLines(tables)
    for table in saved.every_chain().tables:
        for chain in table.chains:
            alone = saved.chain(table.name, chain.name)
            assert alone is not None and alone.line == chain.line
            assert [(r.line, r.spec) for r in alone.rules] == [(r.line, r.spec) for r in chain.rules]
    assert saved.chain("nat", "KUBE-NO-SUCH") is None and saved.chain("raw", "PREROUTING") is None
