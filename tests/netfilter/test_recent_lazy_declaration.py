"""xt_recent's lists are the kernel's from the moment the rules load, however the evaluator compiles them.

recent_mt_check runs for every recent match when its table is loaded: the first rule naming a list gives it its
address mask, the largest --hitcount its ring of stamps, and a reload that grows the ring empties the list. A lazy
compile (each chain when a walk first enters it) must declare the lists of chains no packet has walked yet just as
an eager compile does; these tests run the same packets through both and through reloads, without a kernel
(tests/kernel/test_eval_kernel_time holds the semantics against one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine, RecentTable, Sampler
from kubeproxy_sim.netfilter.model import Chain, Ruleset, Table
from kubeproxy_sim.netfilter.packet import Packet, parse_address
from kubeproxy_sim.netfilter.trace import NodeContext
from tests.budget import budget

NODE = NodeContext.of(["192.168.0.2"], interfaces={"eth0": ["192.168.0.2"]})
A, B, C = "10.0.0.2", "10.0.0.3", "10.0.1.9"
MODES = pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])


def filter_table(*chains: tuple[str, str]) -> str:
    """A filter table whose INPUT and FORWARD jump to F; ``chains``: (name, rules) in the order they are declared
    (the order their rules load in), each rule written without its ``-A NAME``."""
    declared = "".join(f":{name} - [0:0]\n" for name, _ in chains)
    rules = "".join(f"-A {name} {rule}\n" for name, text in chains for rule in text.strip().splitlines())
    return (f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{declared}"
            f"-A INPUT -j F\n-A FORWARD -j F\n{rules}COMMIT\n")


@dataclass
class Node:
    """One node's rules and its xt_recent lists, packets sent at the times given; ``load`` is a reload."""

    lazy: bool
    sampler: Sampler = field(default_factory=lambda: Sampler(rng=lambda: 0, recent=RecentTable()))
    engine: Engine = field(init=False)

    @staticmethod
    def of(text: str, lazy: bool) -> Node:
        node = Node(lazy)
        node.load(text)
        return node

    def load(self, text: str) -> None:
        self.engine = Engine(compile_ruleset(parse_ruleset(text), lazy=self.lazy), NODE, self.sampler)

    def send(self, src: str, dport: int, now: float) -> str:
        self.sampler.now = now
        (finished,) = self.engine.run(Packet.of("tcp", src, "10.96.0.1", dport))
        return finished.verdict

    def stamps(self, name: str, src: str) -> list[float] | None:
        return self.sampler.recent.lists.get(name, {}).get(parse_address(src)[1])


SET_THEN_JUMP = """
-p tcp --dport 1 -m recent --set --name L
-p tcp --dport 2 -j G
"""


@MODES
def test_a_larger_hitcount_in_a_chain_not_walked_yet_sizes_the_ring_at_load(lazy: bool) -> None:
    node = Node.of(filter_table(("F", SET_THEN_JUMP), ("G", "-m recent --rcheck --hitcount 40 --name L -j DROP")),
                   lazy)
    for t in range(40):
        assert node.send(A, 1, float(t)) == "ACCEPT"
    assert node.send(A, 2, 40.0) == "DROP"  # 40 stamps kept: the kernel's ring is 64 from the start
    assert len(node.stamps("L", A) or ()) == 40


@MODES
def test_21_stamps_match_hitcount_21_and_20_do_not(lazy: bool) -> None:
    node = Node.of(filter_table(("F", SET_THEN_JUMP), ("G", "-m recent --rcheck --hitcount 21 --name L -j DROP")),
                   lazy)
    for t in range(20):
        node.send(A, 1, float(t))
    assert node.send(A, 2, 20.0) == "ACCEPT"
    node.send(A, 1, 20.5)
    assert node.send(A, 2, 21.0) == "DROP"


@MODES
def test_reap_removes_the_oldest_stale_entry_not_the_asking_one(lazy: bool) -> None:
    node = Node.of(filter_table(("F", SET_THEN_JUMP), ("G", "-m recent --rcheck --seconds 1 --reap --name L -j DROP")),
                   lazy)
    node.send(A, 1, 0.0)
    node.send(B, 1, 0.2)
    assert node.send(B, 2, 2.0) == "ACCEPT"  # B is stale: no match
    assert node.stamps("L", A) is None and node.stamps("L", B) == [0.2]  # A, the least recently updated, went


@MODES
def test_a_negated_update_stamps_its_stale_entry_rather_than_reaping_it(lazy: bool) -> None:
    node = Node.of(filter_table(("F", SET_THEN_JUMP),
                                ("G", "-m recent ! --update --seconds 1 --reap --name L -j DROP")), lazy)
    node.send(C, 1, 0.0)
    assert node.send(C, 2, 2.0) == "DROP"  # not seen within the second: the negated match matches
    assert node.stamps("L", C) == [0.0, 2.0]


@MODES
def test_a_reload_that_grows_the_ring_empties_the_list(lazy: bool) -> None:
    small = filter_table(("F", SET_THEN_JUMP), ("G", "-m recent --rcheck --hitcount 3 --name L -j DROP"))
    large = filter_table(("F", SET_THEN_JUMP), ("G", "-m recent --rcheck --hitcount 33 --name L -j DROP"))
    node = Node.of(small, lazy)
    node.send(A, 1, 0.0)
    node.load(small)  # the same ring: the list is kept
    assert node.stamps("L", A) == [0.0]
    node.load(large)  # 64 stamps where there were 32: recent_mt_check flushes the list, before any packet
    assert node.stamps("L", A) is None
    node.send(A, 1, 1.0)
    node.load(small)  # a smaller ring asked for: the list keeps its 64 and its entries
    assert node.stamps("L", A) == [1.0]


@MODES
def test_the_first_rule_loaded_gives_the_list_its_mask_though_walked_last(lazy: bool) -> None:
    """G is declared (so loaded) before F: its /24 --rcheck creates the list, and F's --set stores A's /24."""
    text = filter_table(("G", "-m recent --rcheck --mask 255.255.255.0 --name M -j DROP"),
                        ("F", "-p tcp --dport 1 -m recent --set --name M\n-p tcp --dport 2 -j G"))
    node = Node.of(text, lazy)
    node.send(A, 1, 0.0)
    assert node.stamps("M", "10.0.0.0") == [0.0]
    assert node.send(B, 2, 1.0) == "DROP"  # another address of A's /24
    assert node.send(C, 2, 1.0) == "ACCEPT"


def test_each_recent_match_of_a_rule_declares_its_list() -> None:
    """Two recent matches in one rule: each list is the kernel's at load (compiling kept the last one only)."""
    text = filter_table(("F", "-p tcp --dport 1 -m recent --set --name P\n-p tcp --dport 2 -j G"),
                        ("G", "-m recent --rcheck --name P -m recent --rcheck --hitcount 40 --name Q -j DROP"))
    for lazy in (False, True):
        node = Node.of(text, lazy)
        assert node.sampler.recent.rings == {"P": 32, "Q": 64}


def test_a_recent_match_the_rules_cannot_hold_declares_nothing() -> None:
    """Rules made without the parser (as the proxier's are: each chain its spec texts): a recent value iptables
    refuses leaves that match, and a text that is no rule leaves the rule, undeclared in both compiles."""
    specs = ("-m recent --rcheck --hitcount 40 --mask ffff:: --name Z -j DROP",  # an IPv6 mask: refused
             "-m recent --rcheck --hitcount 40 --name Y --bogus -j DROP",  # no rule at all
             "-m recent --rcheck --hitcount 5 --name X -m recent --update --hitcount 40 --mask ffff:: --name W")
    rules = Ruleset((Table("filter", (Chain("INPUT", (), "ACCEPT"), Chain.of_specs("F", specs))),))
    for lazy in (False, True):
        node = Node(lazy)
        node.engine = Engine(compile_ruleset(rules, lazy=lazy), NODE, node.sampler)
        assert node.sampler.recent.rings == {"X": 8}


# ------------------------------------------------------------------------------------------- lazy against eager

COMMANDS = ("--set", "--rcheck", "--update", "--remove")


@st.composite
def recent_rule(draw: st.DrawFn) -> str:
    """A recent match the kernel loads (no window or hit count on --set/--remove, --reap only with --seconds)."""
    command = draw(st.sampled_from(COMMANDS))
    words = ["-m recent", "!" if draw(st.booleans()) else "", command, "--name", draw(st.sampled_from("LM"))]
    if command in ("--rcheck", "--update"):
        seconds = draw(st.sampled_from((0, 1, 3)))
        words += [f"--seconds {seconds}"] if seconds else []
        words += ["--reap"] if seconds and draw(st.booleans()) else []
        hitcount = draw(st.sampled_from((0, 2, 21, 33, 40)))
        words += [f"--hitcount {hitcount}"] if hitcount else []
    if draw(st.booleans()):
        words.append("--mask 255.255.255.0")
    return " ".join(w for w in words if w) + draw(st.sampled_from((" -j DROP", " -j RETURN", "")))


@st.composite
def ruleset(draw: st.DrawFn) -> str:
    """F sends each port to one of the chains G, H, K (or walks its own rules), in an order of declaration drawn."""
    chains = {name: "\n".join(draw(st.lists(recent_rule(), min_size=1, max_size=3))) for name in "GHK"}
    jumps = "\n".join(f"-p tcp --dport {port} -j {name}" for port, name in zip((1, 2, 3), "GHK", strict=True))
    chains["F"] = f"{jumps}\n" + "\n".join(draw(st.lists(recent_rule(), max_size=2)))
    order = draw(st.permutations(sorted(chains)))
    return filter_table(*((name, chains[name]) for name in order))


PACKETS = st.lists(st.tuples(st.sampled_from((A, B, C)), st.integers(1, 4), st.sampled_from((0.1, 0.5, 1.5, 4.0))),
                   min_size=1, max_size=60)


@settings(max_examples=budget(150), deadline=None)
@given(ruleset(), ruleset(), PACKETS, st.integers(0, 60))
def test_lazy_and_eager_compiles_give_the_same_verdicts_and_lists(first: str, second: str,
                                                                  packets: list[tuple[str, int, float]],
                                                                  reload_at: int) -> None:
    nodes = [Node.of(first, lazy) for lazy in (False, True)]
    now = 0.0
    for i, (src, dport, step) in enumerate(packets):
        if i == reload_at:
            for node in nodes:
                node.load(second)
        now += step
        eager, lazy = (node.send(src, dport, now) for node in nodes)
        assert eager == lazy, (i, src, dport, now)
    eager_lists, lazy_lists = (node.sampler.recent for node in nodes)
    assert lazy_lists.lists == eager_lists.lists
    assert (lazy_lists.masks, lazy_lists.rings) == (eager_lists.masks, eager_lists.rings)


def test_a_packet_never_resizes_a_ring() -> None:
    """A table used alone: a list takes the ring of the first match run on it (as it takes its mask), and a later
    match asking for more does not grow it, as the kernel's rings change only when rules load."""
    table = RecentTable()
    for t in range(40):
        table.apply("--set", "L", 1, float(t), 0, 0, False)
    assert not table.apply("--rcheck", "L", 1, 40.0, 0, 33, False)
    assert table.rings == {"L": 32} and len(table.lists["L"][1]) == 32
