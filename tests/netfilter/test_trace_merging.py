"""Splits whose branches go on: equal branches are merged (the walk is linear, not exponential, in the splits),
the answer stays the depth-first walk's to the last path and doubt, and past BRANCH_LIMIT distinct branches the
trace stops with an input error at the split."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kubeproxy_sim.netfilter.evaluate as evaluate
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.errors import InputError
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.packet import Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, TraceResult, render_text
from tests.budget import budget

PACKET = Packet.of("tcp", "10.0.0.2", "172.30.0.41", 80)
HALF = "-m statistic --mode random --probability 0.5"


def marks(n: int, bits: bool = False) -> str:
    """``n`` splits each setting a mark at random: one bit for all (the branches meet again), or a bit each."""
    lines = [f"-A PREROUTING {HALF} -j MARK --or-mark {hex(1 << i if bits else 1)}" for i in range(n)]
    return "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" + "\n".join(lines) + "\nCOMMIT\n"


@contextmanager
def walking(*, merged: bool) -> Iterator[None]:
    """Every walk merging from its first split (merged), or depth first however many forks wait (not merged)."""
    saved = evaluate.TANGLE_PENDING, evaluate.DFS_FORKS
    evaluate.TANGLE_PENDING, evaluate.DFS_FORKS = (0, 1 << 62) if merged else (1 << 62, 1 << 62)
    try:
        yield
    finally:
        evaluate.TANGLE_PENDING, evaluate.DFS_FORKS = saved


def counted_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    made = [0]
    fork = evaluate.Branch.fork

    def counting(self: evaluate.Branch, num: int, den: int) -> evaluate.Branch:
        made[0] += 1
        return fork(self, num, den)

    monkeypatch.setattr(evaluate.Branch, "fork", counting)
    return made


def test_random_marks_meeting_again_are_walked_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """F1 (fuzzing): 20 splits that each may set the same mark took > 11 s and 24 took 1.5 GB (2^n branches,
    one outcome). Merged: about two branches per split (counted as forks, not timed)."""
    made = counted_forks(monkeypatch)
    result = Tracer(parse_ruleset(marks(16)), NodeContext.of()).trace(PACKET)
    assert [(o.verdict, o.probability_exact) for o in result.outcomes] == [("ACCEPT", 1)]
    assert made[0] < 16 * 8  # depth first: 2^16 - 1 forks


def test_chains_entered_twice_are_walked_once_per_call_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzzer's second shape (8 chains took > 7 s and 1.25 GB): each chain jumps to the next one at random,
    then always. Each entry of a chain splits, so depth first there are 2^(2^n) branches (n = 4: 1,806 forks,
    n = 6 did not end in minutes); merged, about two per call stack (n = 8: 2^8 stacks)."""
    chains = [f":C{i} - [0:0]" for i in range(9)]
    rules = ["-A PREROUTING -j C0"]
    for i in range(8):
        rules += [f"-A C{i} {HALF} -j C{i + 1}", f"-A C{i} -j C{i + 1}"]
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n" + "\n".join(chains + rules) + "\nCOMMIT\n"
    made = counted_forks(monkeypatch)
    result = Tracer(parse_ruleset(text), NodeContext.of()).trace(PACKET)
    assert [(o.verdict, o.probability_exact) for o in result.outcomes] == [("ACCEPT", 1)]
    assert made[0] < 4 << 8


def test_call_stacks_past_the_step_limit_stop_at_a_split() -> None:
    """14 such chains: 2^14 call stacks, the first branch's path alone 2^15 steps; the trace stops (in about a
    second) at a split, an input error, instead of walking them all."""
    chains = [f":C{i} - [0:0]" for i in range(15)]
    rules = ["-A PREROUTING -j C0"]
    for i in range(14):
        rules += [f"-A C{i} {HALF} -j C{i + 1}", f"-A C{i} -j C{i + 1}"]
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n" + "\n".join(chains + rules) + "\nCOMMIT\n"
    with pytest.raises(InputError) as caught:
        Tracer(parse_ruleset(text), NodeContext.of()).trace(PACKET)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message.endswith("make branches whose paths take more than 33,554,432 steps in all in this "
                                       "table (chains entered again from each branch); the trace stops here; "
                                       "expected splits whose branches end (kube-proxy's each jump to a chain "
                                       "that DNATs) or meet again")
    assert diagnostic.line is not None and text.splitlines()[diagnostic.line - 1].startswith("-A C")


def test_too_many_distinct_branches_stop_at_the_split() -> None:
    """Each split sets another bit: at the 14th split (line 17) 2^13 branches that differ wait, over BRANCH_LIMIT;
    the trace gives up there, an input error, not a walk of all 2^14."""
    with pytest.raises(InputError) as caught:
        Tracer(parse_ruleset(marks(14, bits=True)), NodeContext.of()).trace(PACKET)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.line == 17
    assert diagnostic.message == (
        "nat PREROUTING: the probability splits (-m statistic) up to this rule make more than 4,096 branches of the "
        "packet that differ (in marks, addresses or conntrack state) at once; the trace stops here; expected splits "
        "whose branches end (kube-proxy's each jump to a chain that DNATs) or meet again")


def test_branches_at_the_limit_are_all_followed() -> None:
    """13 bits: 4,096 branches wait at the 13th split, the limit itself, and all 8,192 ends are followed (one
    outcome, as they end alike)."""
    result = Tracer(parse_ruleset(marks(13, bits=True)), NodeContext.of()).trace(PACKET)
    assert [(o.verdict, o.probability_exact) for o in result.outcomes] == [("ACCEPT", 1)]


def test_cli_names_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "bits.rules"
    dump.write_text(marks(14, bits=True))
    code = main(["trace", "--rules", str(dump), "--src", "1.1.1.1", "--dst", "2.2.2.2", "--dport", "80"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith(f"kubeproxy-sim: {dump}:17: nat PREROUTING: the probability splits (-m statistic)")
    assert "Traceback" not in err


# ----------------------------------------------------------------------------------------- the same answer

TARGETS = ("-j MARK --or-mark 0x1", "-j MARK --or-mark 0x2", "-j MARK --set-mark 0x0", "-j ACCEPT", "-j DROP",
           "-j RETURN", "-p tcp -j DNAT --to-destination 10.9.0.1:80", "-p tcp -j DNAT --to-destination 10.9.0.2:80",
           "-j MASQUERADE", "-j CONNMARK --set-mark 0x4")
MATCHES = ("", HALF, "-m statistic --mode random --probability 0.25", "-m statistic --mode nth --every 3 --packet 0",
           "-m mark --mark 0x1/0x1", "-m mark ! --mark 0x2/0x2", "-m connlimit --connlimit-above 2",
           "-m limit --limit 5/second")


@st.composite
def tangled(draw: st.DrawFn) -> str:
    """A small dump of mangle and nat PREROUTING/POSTROUTING and filter FORWARD, with user chains (jumps only to a
    later one: no circle), splits that go on, mark tests, doubts (connlimit, limit), RETURNs and gotos."""
    out = []
    for table, hooks in (("mangle", ("PREROUTING", "FORWARD")), ("nat", ("PREROUTING", "POSTROUTING")),
                         ("filter", ("FORWARD",))):
        users = [f"{table[0].upper()}{i}" for i in range(draw(st.integers(0, 3)))]
        lines = [f"*{table}", *(f":{h} ACCEPT [0:0]" for h in hooks), *(f":{u} - [0:0]" for u in users)]
        for index, chain in enumerate([*hooks, *users]):
            later = users[max(0, index - len(hooks) + 1):] if chain != "POSTROUTING" else []  # no DNAT from there
            for _ in range(draw(st.integers(0, 5))):
                match = draw(st.sampled_from(MATCHES))
                targets = [t for t in TARGETS if "DNAT" not in t or (table == "nat" and chain != "POSTROUTING")]
                targets = [t for t in targets if "MASQUERADE" not in t or (table == "nat" and chain == "POSTROUTING")]
                if table == "nat":
                    targets = [t for t in targets if "DROP" not in t]
                if chain in hooks:
                    targets = [t for t in targets if t != "-j RETURN"]
                choices = targets + [f"-j {u}" for u in later] + [f"-g {u}" for u in later if chain not in hooks]
                lines.append(f"-A {chain} {match} {draw(st.sampled_from(choices))}".replace("  ", " "))
        out += [*lines, "COMMIT"]
    return "\n".join(out) + "\n"


def answer(result: TraceResult) -> tuple[str, dict]:
    return render_text(result), result.to_json()


@settings(max_examples=budget(300), deadline=None)
@given(tangled(), st.sampled_from(["10.0.0.2", "192.168.0.10"]))
def test_merged_walk_answers_as_the_depth_first_walk(dump: str, src: str) -> None:
    """Merged or not (every walk merging from its first split, or none), the same outcomes with the same exact
    probabilities, paths and doubts, in the same order: the text and -o json are equal."""
    rules = parse_ruleset(dump)
    node = NodeContext.of(["192.168.0.10/24"])
    packet = Packet.of("tcp", src, "172.30.0.41", 80)
    with walking(merged=False):
        plain = answer(Tracer(rules, node)._walk(packet))
    with walking(merged=True):
        merged = answer(Tracer(rules, node)._walk(packet))
    assert merged == plain
    outcomes = plain[1]["outcomes"]
    assert sum(Fraction(o["probability_exact"]) for o in outcomes) == 1


def test_splits_in_several_tables_stop_past_the_walk_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each table's splits merge, but the next table walks every branch it is handed: distinct marks set at random
    in raw and then in mangle multiply (9 and 9 bits: 262,144 branches, 10 s). Past WALK_LIMIT branches in all the
    trace stops before the next table, at the last split the next branch passed (the limit lowered to 1,000 here:
    6 bits and 6 bits make 4,096)."""
    monkeypatch.setattr(evaluate, "WALK_LIMIT", 1000)
    lines = []
    for table, bits in (("raw", range(6)), ("mangle", range(6, 12))):
        lines += [f"*{table}", ":PREROUTING ACCEPT [0:0]",
                  *(f"-A PREROUTING {HALF} -j MARK --or-mark {hex(1 << bit)}" for bit in bits), "COMMIT"]
    text = "\n".join(lines) + "\n"
    with pytest.raises(InputError) as caught:
        Tracer(parse_ruleset(text), NodeContext.of()).trace(PACKET)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message.startswith("raw PREROUTING: the probability splits (-m statistic) up to this rule "
                                         "make more than 1,000 branches of the packet in all (each table's splits "
                                         "multiply the branches the tables before it made); the trace stops here")
    assert diagnostic.line == 8  # raw's last split, which the branch next for mangle passed
