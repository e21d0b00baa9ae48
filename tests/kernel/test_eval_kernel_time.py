"""The rule evaluator against the real kernel where time matters: xt_recent's ``--seconds`` window, with
``--update``, ``--hitcount`` and ``--reap``, over packet sequences with waits between their packets.

The comparison is the eval differential's (:mod:`tests.kernel.test_eval_kernel_differential`: per packet, the
counters it moves in ``iptables-save -c``, and where conntrack says its connection goes), on a scratch pair of
its own (``kpsim-<run>-et.*``, configured as that one's). What is added is the clock: the test sleeps between
packets, notes the monotonic moments around each packet's walk (just before it is sent; once its counters have
settled), and the evaluator's sampler is set to the first of each pair before that packet's walk, so both sides
age the lists' stamps alike.

The kernel counts in jiffies (HZ 100-1000): a stamp is judged stale when strictly older than ``N * HZ``
jiffies. Waits are drawn far from every window (0.2 s, or the window plus 0.7 s), and an example is judged only
when, for every two packets, the whole range their walks' distance in time may have had (the moments noted,
widened by two jiffies of the slowest HZ) lies on one side of every ``--seconds`` its rules use: a machine so
loaded that a packet's walk straddled a boundary gives no verdict, rather than a false one.

Real sleeping is kept small in CI (about 7 s: the two fixed cases that need time sleep once each, and two drawn
examples, derandomized, one long wait each); KPSIM_DEEP=1 draws 33 new ones, with windows of 1 and 2 s and up to
two long waits each.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.kernel.build import load_rules
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine, RecentTable, Sampler
from kubeproxy_sim.netfilter.packet import Packet
from tests.budget import budget
from tests.kernel import test_eval_kernel_differential as v4
from tests.kernel.eval_kernel import (
    MARKER,
    PORTS,
    Chain,
    Probe,
    Walk,
    _send_frame,
    draw_chains,
    explain,
    listening_pair,
    path_counters,
    restore_text,
    rule_keys,
)

pytestmark = pytest.mark.kernel

DEEP = os.environ.get("KPSIM_DEEP") == "1"
SHORT = 0.2
MARGIN = 0.7  # a long wait: the window and this much more
SLACK = 2 / 100  # two jiffies at HZ=100, the coarsest: a stamp and "now" are each rounded down to a jiffy
WINDOWS = (1, 2) if DEEP else (1,)
LONG_WAITS = 2 if DEEP else 1


@dataclass(frozen=True)
class Step:
    """A packet, sent after ``wait`` seconds (from the moment the one before it had been walked)."""

    probe: Probe
    wait: float = 0.0


Moment = tuple[float, float]
"""When a packet was walked, in monotonic seconds from the sequence's first send: not before the first, not after
the second (its counters seen settled)."""


class TimedNode(v4.Node):
    """The IPv4 scratch pair, sending a sequence with its waits and noting when each packet was walked."""

    def run_timed(self, chains: tuple[Chain, ...], steps: Sequence[Step]) -> tuple[list[Walk], list[Moment]]:
        """Per packet, the counters it moved and where its connection goes (as :meth:`ScratchNode.run`), and when
        it was walked."""
        load_rules(self.node, MARKER + self.restore(chains, f"k{next(self.tags)}"), family=self.family)
        flushed = nsexec.run(self.node, ["conntrack", "-F"])
        assert flushed.returncode == 0, flushed.stderr
        before = self.counters()
        seen: list[Counter[tuple[str, str, int]]] = []
        moments: list[Moment] = []
        start: float | None = None
        for step in steps:
            time.sleep(step.wait)
            low = time.monotonic()
            start = low if start is None else start
            nsexec.call(self.client, _send_frame, self.frame(step.probe).hex())
            after = self._after(before)
            moments.append((low - start, time.monotonic() - start))
            seen.append(Counter({k: n - before.get(k, 0) for k, n in after.items()
                                 if k[0] != "raw" and n != before.get(k, 0)}))
            before = after
        ends = self.ends()
        probes = [s.probe for s in steps]
        return [(c, ends.get((p.proto, p.src, p.dst, p.sport))) for c, p in zip(seen, probes, strict=True)], moments


@pytest.fixture(scope="module")
def pair(kernel: None, run_tag: str) -> Iterator[TimedNode]:
    yield from listening_pair(run_tag, "et", v4._configure, TimedNode)


def evaluated_at(chains: tuple[Chain, ...], probes: Sequence[Probe], moments: Sequence[float]) -> list[Walk]:
    """Per packet, what the evaluator says it did, walked in order through one sampling run whose clock reads
    that packet's moment."""
    text = restore_text(chains)
    keys = rule_keys(text)
    sampler = Sampler(rng=lambda: 0, recent=RecentTable())
    engine = Engine(compile_ruleset(parse_ruleset(text)), v4.NODE_CONTEXT, sampler)
    out: list[Walk] = []
    for probe, moment in zip(probes, moments, strict=True):
        sampler.now = moment
        ports = (None, None) if probe.proto == "icmp" else (probe.dport, probe.sport)
        (finished,) = engine.run(Packet.of(probe.proto, probe.src, probe.dst, *ports, in_iface="c0"))
        out.append((path_counters(finished.path, keys), v4._ends_at(probe, finished)))
    return out


def windows_of(chains: tuple[Chain, ...]) -> set[int]:
    """The ``--seconds`` values the rules use."""
    return {int(rule.split("--seconds ")[1].split()[0]) for c in chains for rule in c.rules if "--seconds " in rule}


def straddled(moments: Sequence[Moment], windows: set[int]) -> tuple[int, int, int] | None:
    """Two packets (by index) and a window their distance in time may have been on either side of, or None: no
    stamp one packet left can have been judged differently by the kernel than by the evaluator at the other."""
    for i, (low_i, high_i) in enumerate(moments):
        for j in range(i + 1, len(moments)):
            low_j, high_j = moments[j]
            for window in windows:
                if low_j - high_i - SLACK <= window <= high_j - low_i + SLACK:
                    return i, j, window
    return None


def check_timed(pair: TimedNode, chains: tuple[Chain, ...], steps: Sequence[Step], *, drawn: bool) -> list[Walk]:
    """The kernel and the evaluator agree packet by packet; the kernel's walks. A sequence whose timing straddled
    a window is discarded when drawn, and fails when fixed (its waits leave 0.7 s of margin: a machine that
    slow cannot judge time)."""
    kernel, moments = pair.run_timed(chains, steps)
    close = straddled(moments, windows_of(chains))
    if drawn:
        assume(close is None)
    assert close is None, f"packets {close[0] + 1} and {close[1] + 1} came too close to {close[2]} s apart: " \
                          f"{moments}"
    probes = tuple(s.probe for s in steps)
    ours = evaluated_at(chains, probes, [low for low, _ in moments])
    for number, (theirs, mine) in enumerate(zip(kernel, ours, strict=True), 1):
        waits = f"waits {[s.wait for s in steps]}, walked at {[round(m[0], 3) for m in moments]}\n"
        assert mine[0] == theirs[0], waits + explain(chains, probes, number)
        assert mine[1] == theirs[1], waits + explain(chains, probes, number)
    return kernel


# --------------------------------------------------------------------------- fixed cases


def _nat(*prerouting: str) -> tuple[Chain, ...]:
    return (Chain("filter", "INPUT", "ACCEPT", ()), Chain("filter", "FORWARD", "ACCEPT", ()),
            Chain("nat", "PREROUTING", "ACCEPT", prerouting), Chain("nat", "INPUT", "ACCEPT", ()),
            Chain("nat", "POSTROUTING", "ACCEPT", ()))


A, B, C = v4.SOURCES
LONG = 1 + MARGIN

WINDOW = _nat("-p udp -m recent --set --name W --rsource",
              "-p tcp -m recent --rcheck --seconds 1 --name W --rsource",
              "-p tcp -m recent --update --seconds 1 --hitcount 2 --name W --rsource",
              "-p icmp -m recent ! --rcheck --seconds 1 --name W --rsource")


def test_a_window_holds_a_stamp_until_it_is_older_than_its_seconds(pair: TimedNode) -> None:
    """--rcheck --seconds 1 finds a stamp a moment old, not one 1.7 s old; --update --hitcount 2 matches once two
    stamps are within the window (and adds a third), and no more after the wait; ! --rcheck then matches."""
    steps = [Step(Probe("udp", A, v4.NODE, 53, 1000)), Step(Probe("tcp", A, v4.NODE, 80, 1001)),
             Step(Probe("udp", A, v4.NODE, 53, 1002)), Step(Probe("tcp", A, v4.NODE, 80, 1003)),
             Step(Probe("tcp", A, v4.NODE, 80, 1004), LONG), Step(Probe("icmp", A, v4.NODE, 0, 1005))]
    kernel = check_timed(pair, WINDOW, steps, drawn=False)
    rcheck, update, negated = (("nat", "PREROUTING", n) for n in (2, 3, 4))
    assert [sorted(k for k in seen if k in (rcheck, update, negated)) for seen, _ in kernel] == \
        [[], [rcheck], [], [rcheck, update], [], [negated]]


REAP = _nat("-p udp -m udp --dport 53 -m recent --set --name R --rsource",
            "-p tcp -m tcp --dport 80 -m recent --rcheck --seconds 1 --reap --name R --rsource",
            "-p tcp -m tcp --dport 22 -m recent --rcheck --name R --rsource",
            "-p udp -m udp --dport 22 -m recent --set --name U --rsource",
            "-p udp -m udp --dport 80 -m recent ! --update --seconds 1 --reap --name U --rsource",
            "-p udp -m udp --dport 443 -m recent --rcheck --seconds 1 --name U --rsource")


def test_reap_removes_the_list_s_oldest_entry_unless_it_is_being_updated(pair: TimedNode) -> None:
    """xt_recent's --reap (recent_entry_reap) removes the head of the list's LRU order when its newest stamp is
    stale, whichever address the packet has, and not when that head is the entry the same match updates. A
    and B set in R, then stale: B's --reap check removes A (the older), not B; C's stale entry in U, found
    outside the window by ! --update --reap, is updated, not reaped: the next --rcheck --seconds finds it."""
    steps = [Step(Probe("udp", A, v4.NODE, 53, 1000)), Step(Probe("udp", B, v4.NODE, 53, 1001)),
             Step(Probe("udp", C, v4.NODE, 22, 1002)),
             Step(Probe("tcp", B, v4.NODE, 80, 1003), LONG), Step(Probe("tcp", A, v4.NODE, 22, 1004)),
             Step(Probe("tcp", B, v4.NODE, 22, 1005)), Step(Probe("udp", C, v4.NODE, 80, 1006)),
             Step(Probe("udp", C, v4.NODE, 443, 1007))]
    kernel = check_timed(pair, REAP, steps, drawn=False)
    presence, kept = ("nat", "PREROUTING", 3), ("nat", "PREROUTING", 6)
    assert [presence in seen or kept in seen for seen, _ in kernel] == [False] * 4 + [False, True, False, True]


def test_hitcount_counts_beyond_twenty_stamps(pair: TimedNode) -> None:
    """The kernel keeps 32 stamps an entry, not 20 (the module's ip_pkt_list_tot is 0 on the kernels measured: a
    list's ring then holds 32, or the power of two at or above the largest --hitcount of its rules): 21 --set
    stamps within the window match --hitcount 21 (the evaluator kept 20 and never matched)."""
    chains = _nat("-p udp -m recent --set --name H --rsource",
                  "-p tcp -m recent --rcheck --seconds 60 --hitcount 21 --name H --rsource")
    steps = [Step(Probe("udp", A, v4.NODE, 53, 2000 + i)) for i in range(21)] + [Step(Probe("tcp", A, v4.NODE,
                                                                                           80, 3000))]
    kernel = check_timed(pair, chains, steps, drawn=False)
    assert ("nat", "PREROUTING", 2) in kernel[-1][0]


# --------------------------------------------------------------------------- drawn cases


def _recent(draw: st.DrawFn, window: int) -> str:
    """A recent match of list A or B (its mask /32 or /24), any command, maybe negated; a check maybe with the
    window, --reap (with the window), --hitcount 2 or 3."""
    name = draw(st.sampled_from(("A", "B")))
    mask = draw(st.sampled_from(v4.RECENT_MASKS))
    command = draw(st.sampled_from(("--set", "--rcheck", "--update", "--remove")))
    options = ""
    if command in ("--rcheck", "--update"):
        if draw(st.integers(0, 3)):
            options += f" --seconds {window}" + (" --reap" if draw(st.booleans()) else "")
        options += draw(st.sampled_from(("", "", " --hitcount 2", " --hitcount 3")))
    negated = "! " if draw(st.integers(0, 3)) == 0 else ""
    return f"-m recent {negated}{command}{options} --name {name} --mask {mask} --rsource"


def _rule(draw: st.DrawFn, table: str, hooks: set[str], callees: list[str], window: int) -> str:
    """Maybe a protocol (a port too) and a source, most often a recent match, and any target the chain may take."""
    out = []
    proto = draw(st.sampled_from(("", "tcp", "udp", "icmp")))
    if proto:
        out.append(f"-p {proto}")
        if proto != "icmp" and draw(st.integers(0, 2)) == 0:
            out.append(f"-m {proto} --dport {draw(st.sampled_from(PORTS))}")
    if draw(st.integers(0, 3)) == 0:
        out.append(f"-s {draw(st.sampled_from(v4.SOURCES))}")
    if draw(st.integers(0, 3)):
        out.append(_recent(draw, window))
    target = v4._target(draw, table, hooks, callees)
    if "DNAT" in target and proto in ("tcp", "udp"):
        target += f":{draw(st.sampled_from(PORTS))}"
    return " ".join([*out, target]).strip()


@st.composite
def sequences(draw: st.DrawFn) -> tuple[tuple[Chain, ...], tuple[Step, ...]]:
    """Rules whose recent matches share one window (some rule reads it), and 2-6 packets from the three sources,
    each after no wait, a short one or the window and 0.7 s more (once, or up to LONG_WAITS times)."""
    window = draw(st.sampled_from(WINDOWS))
    chains = draw_chains(draw, lambda d, table, _name, hooks, callees: _rule(d, table, hooks, callees, window))
    assume(windows_of(chains))  # (every example sleeps: one that never reads a window would sleep for nothing)
    count = draw(st.integers(2, 6))
    later = st.lists(st.sampled_from((0.0, SHORT, window + MARGIN)), min_size=count - 1, max_size=count - 1)
    waits = [0.0, *draw(later)]
    assume(1 <= sum(w > 1 for w in waits) <= LONG_WAITS)
    steps = tuple(Step(Probe(draw(st.sampled_from(("tcp", "udp", "icmp"))), draw(st.sampled_from(v4.SOURCES)),
                             v4.NODE, draw(st.sampled_from(PORTS)), 1000 + i), wait) for i, wait in enumerate(waits))
    return chains, steps


@settings(max_examples=budget(2))
@given(drawn=sequences())
def test_the_evaluator_ages_recent_lists_as_the_kernel_does(pair: TimedNode,
                                                             drawn: tuple[tuple[Chain, ...], tuple[Step, ...]]) -> None:
    chains, steps = drawn
    check_timed(pair, chains, steps, drawn=True)
