"""A reload destroys the xt_recent lists its rules no longer name, as the kernel does, without a kernel.

recent_mt_destroy frees a list with the last rule naming it; iptables-restore loads a table's new rules before it
frees the old ones, table by table. So a list both rulesets name keeps its entries, mask and ring; one the new
rules do not name is gone, and a later ruleset naming it starts it empty with its own mask and ring
(tests/kernel/test_recent_reload_kernel holds the same sequences against the kernel). A reload is a new Engine on
the same Sampler, compiled lazily or not.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
from kubeproxy_sim.netfilter.compile_match_state import RecentMatch
from kubeproxy_sim.netfilter.evaluate import Engine, RecentTable, Sampler
from kubeproxy_sim.netfilter.packet import Packet, parse_address
from kubeproxy_sim.netfilter.trace import NodeContext

NODE = NodeContext.of(["192.168.0.2"], interfaces={"eth0": ["192.168.0.2"]})
A, A2 = "10.0.0.2", "10.0.0.3"  # one /24
MODES = pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])


def tables(filter_rules: str = "", nat_rules: str = "", *, nat_first: bool = False) -> str:
    """Restore input: filter INPUT and nat PREROUTING each jump to their user chain F (N), which holds the rules
    given (one per line, without ``-A``); nat written first when asked, as it then loads first."""
    filt = ("*filter\n:INPUT ACCEPT [0:0]\n:F - [0:0]\n-A INPUT -j F\n"
            + "".join(f"-A F {r}\n" for r in filter_rules.strip().splitlines()) + "COMMIT\n")
    nat = ("*nat\n:PREROUTING ACCEPT [0:0]\n:N - [0:0]\n-A PREROUTING -j N\n"
           + "".join(f"-A N {r}\n" for r in nat_rules.strip().splitlines()) + "COMMIT\n")
    return nat + filt if nat_first else filt + nat


class Node:
    """One node's xt_recent lists across reloads: each load is a new Engine on the same Sampler."""

    def __init__(self, lazy: bool) -> None:
        self.lazy = lazy
        self.sampler = Sampler(rng=lambda: 0, recent=RecentTable())
        self.engine: Engine | None = None

    def load(self, text: str) -> Node:
        self.engine = Engine(compile_ruleset(parse_ruleset(text), lazy=self.lazy), NODE, self.sampler)
        return self

    def send(self, src: str, dport: int, now: float) -> str:
        assert self.engine is not None
        self.sampler.now = now
        (finished,) = self.engine.run(Packet.of("tcp", src, "192.168.0.2", dport))
        return finished.verdict

    @property
    def recent(self) -> RecentTable:
        return self.sampler.recent

    def stamps(self, name: str, src: str) -> list[float] | None:
        return self.recent.lists.get(name, {}).get(parse_address(src)[1])


SET_X = "-p tcp --dport 1 -m recent --set --name X"
CHECK_X = "-p tcp --dport 2 -m recent --rcheck --name X -j DROP"
SET_Y = "-p tcp --dport 3 -m recent --set --name Y"


@MODES
def test_a_reload_not_naming_a_list_destroys_it_and_one_naming_it_again_starts_it_empty(lazy: bool) -> None:
    node = Node(lazy).load(tables(f"{SET_X}\n{CHECK_X}\n{SET_Y}"))
    node.send(A, 1, 0.0)
    node.send(A, 3, 0.0)
    assert node.send(A, 2, 1.0) == "DROP"
    node.load(tables(SET_Y))
    assert set(node.recent.lists) | set(node.recent.masks) | set(node.recent.rings) == {"Y"}
    assert node.stamps("Y", A) == [0.0]  # named by both rulesets: kept
    node.load(tables(f"{SET_X}\n{CHECK_X}"))
    assert node.stamps("X", A) is None and node.send(A, 2, 2.0) == "ACCEPT"  # X afresh: A forgotten
    assert "Y" not in node.recent.rings and node.stamps("Y", A) is None


@MODES
def test_a_list_the_new_rules_name_elsewhere_keeps_its_entries(lazy: bool) -> None:
    """Another rule, in another chain and table, naming X: the list outlives the rules that made it."""
    node = Node(lazy).load(tables(f"{SET_X}\n{CHECK_X}"))
    node.send(A, 1, 0.0)
    node.load(tables(nat_rules="-p tcp --dport 2 -m recent --rcheck --name X -j DNAT --to-destination 10.1.0.1",
                     nat_first=True))
    assert node.stamps("X", A) == [0.0]
    node.load(tables(f"{SET_X}\n{CHECK_X}"))  # nat first again: X lives through filter's load too
    assert node.stamps("X", A) == [0.0] and node.send(A, 2, 1.0) == "DROP"


@MODES
def test_a_recreated_list_takes_the_new_rules_mask_and_ring(lazy: bool) -> None:
    wide = ("-p tcp --dport 1 -m recent --set --name X --mask 255.255.255.0\n"
            "-p tcp --dport 2 -m recent --rcheck --hitcount 40 --name X -j DROP")
    narrow = f"{SET_X}\n{CHECK_X}"
    kept = Node(lazy).load(tables(wide))
    kept.send(A, 1, 0.0)
    kept.load(tables(narrow))  # named by both: the /24 and the 64 stamps stay, and A's entry
    assert (kept.recent.masks, kept.recent.rings) == ({"X": 0xFFFFFF00}, {"X": 64})
    assert kept.stamps("X", "10.0.0.0") == [0.0] and kept.send(A2, 2, 0.5) == "DROP"
    fresh = Node(lazy).load(tables(wide))
    fresh.send(A, 1, 0.0)
    fresh.load(tables(SET_Y)).load(tables(narrow))
    assert (fresh.recent.masks, fresh.recent.rings) == ({"X": -1}, {"X": 32})
    for t in range(40):
        fresh.send(A, 1, float(t))
    assert len(fresh.stamps("X", A) or ()) == 32 and fresh.send(A2, 2, 40.0) == "ACCEPT"


@MODES
def test_tables_load_in_the_order_written_each_before_its_old_rules_go(lazy: bool) -> None:
    """X moves from filter to nat: written filter first, filter's load frees the last rule naming X before nat's
    names it (the kernel destroys it); nat first, nat's rule holds it through filter's load."""
    nat_x = "-p tcp --dport 1 -m recent --set --name X"
    for nat_first, kept in ((False, None), (True, [0.0])):
        node = Node(lazy).load(tables(SET_X))
        node.send(A, 1, 0.0)
        node.load(tables(nat_rules=nat_x, nat_first=nat_first))
        assert node.stamps("X", A) == kept, nat_first
        assert node.recent.named == {(4, "filter"): frozenset(), (4, "nat"): frozenset({"X"})}


def test_a_table_the_new_ruleset_has_not_is_emptied() -> None:
    node = Node(False).load(tables(SET_X, SET_Y))
    node.send(A, 1, 0.0)
    node.load("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -m recent --set --name Y\nCOMMIT\n")
    assert set(node.recent.rings) == {"Y"} and node.recent.named == {(4, "nat"): frozenset({"Y"})}


def test_lists_no_rule_declared_live_while_a_loaded_rule_names_them() -> None:
    """A table filled without rules (a fresh table handed to a Sampler whose Engine is built): its lists' tables are
    not known, so they last through every table's load and go at the end when no new rule names them."""
    table = RecentTable()
    table.apply("--set", "X", 1, 0.0, 0, 0, False)
    table.apply("--set", "Z", 1, 0.0, 0, 0, False)
    table.load(4, [("filter", []), ("nat", [RecentMatch("X", "--set", "src", -1, 0, 0, False, False)])])
    assert set(table.lists) == {"X"} and table.holds("X", 1) and table.rings == {"X": 32}


def test_a_reload_of_one_family_keeps_the_lists_the_others_rules_name() -> None:
    """A namespace's IPv4 and IPv6 rules share its lists: an IPv4 reload naming X no more leaves it to the IPv6
    nat table that names it, and drops Y, which only the IPv4 rules named."""
    def uses(*names: str) -> list[RecentMatch]:
        return [RecentMatch(n, "--set", "src", -1, 0, 0, False, False) for n in names]

    table = RecentTable()
    table.load(4, [("nat", uses("X", "Y"))])
    table.load(6, [("nat", uses("X"))])
    table.add("X", 1, 0.0)
    table.add("Y", 1, 0.0)
    table.load(4, [("nat", [])])
    assert set(table.rings) == {"X"} and table.holds("X", 1)
    assert table.named == {(4, "nat"): frozenset(), (6, "nat"): frozenset({"X"})}


def test_a_table_that_holds_no_one_remembers_nothing() -> None:
    table = RecentTable()
    table.declare("X", -1)
    assert not table.remembers()
    table.add("X", 1, 0.0)
    assert table.remembers()
