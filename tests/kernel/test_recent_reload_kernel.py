"""xt_recent lists across reloads, the evaluator against the kernel: /proc/net/xt_recent after each step of one
sequence of iptables-restores, packets and list writes, beside the evaluator's RecentTable after the same steps
(each reload a new Engine on the same Sampler).

The kernel destroys a list with the last rule naming it (recent_mt_destroy), and iptables-restore loads a table's
new rules before it frees the old ones, table by table as written: a list both rulesets name keeps its entries,
its mask and its ring; one the new rules do not name is gone, and named again it starts empty with the new
rules' mask and ring; one moved from filter to nat survives only when nat is written first. One scratch namespace
(``kpsim-<run>-rr<n>.net``, lo alone) per restore backend: a locally generated UDP packet to 127.0.0.x walks
filter OUTPUT, where ``--rdest`` stores its destination masked by the list's mask (the mask shows in the entry's
address); writing ``+ADDR`` to the list's file stamps an entry without masking it, enough to fill a ring.
"""

from __future__ import annotations

import itertools
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.kernel import build, nsexec
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine, NodeContext, RecentTable, Sampler
from kubeproxy_sim.netfilter.packet import Packet, format_address, parse_address

pytestmark = pytest.mark.kernel

PROC = Path("/proc/net/xt_recent")
Lists = dict[str, dict[str, int]]
"""Each list the namespace has, its entries' addresses with how many stamps each keeps."""

_TAGS = itertools.count()


def filter_output(*rules: str) -> str:
    return "*filter\n:OUTPUT ACCEPT [0:0]\n" + "".join(f"-A OUTPUT {r}\n" for r in rules) + "COMMIT\n"


def nat_output(*rules: str) -> str:
    return "*nat\n:OUTPUT ACCEPT [0:0]\n" + "".join(f"-A OUTPUT {r}\n" for r in rules) + "COMMIT\n"


SET_X_24 = "-p udp --dport 9 -m recent --set --name X --rdest --mask 255.255.255.0"
CHECK_X_40 = "-p udp --dport 10 -m recent --rcheck --hitcount 40 --name X --rdest"
SET_X = "-p udp --dport 9 -m recent --set --name X --rdest"
SET_Y = "-p udp --dport 11 -m recent --set --name Y --rdest"
NAT_X = "-p udp --dport 12 -m recent --set --name X --rdest"


def _send_udp(address: str, port: int) -> None:
    """(Run inside the namespace.) One datagram, walked through OUTPUT before sendto returns."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"x", (address, port))


def _write(name: str, lines: list[str]) -> None:
    """(Run inside the namespace.) Each line written to the list's file on its own, as ``echo`` would."""
    for line in lines:
        (PROC / name).write_text(line + "\n")


def _read_lists() -> Lists:
    """(Run inside the namespace.) Every list's entries: ``src=ADDR ttl: T last_seen: J oldest_pkt: I S1, S2``."""
    out: Lists = {}
    for path in sorted(PROC.iterdir()) if PROC.exists() else ():
        entries = out[path.name] = {}
        for line in path.read_text().splitlines():
            match = re.match(r"src=(\S+) .*oldest_pkt: \d+ (.*)$", line)
            assert match is not None, f"an xt_recent line not understood: {line!r}"
            entries[match[1]] = len(re.findall(r"\d+", match[2]))
    return out


class Kernel:
    """The scratch namespace, loaded with ``tool`` (an iptables-restore)."""

    def __init__(self, netns: str, tool: str) -> None:
        self.netns, self.tool = netns, tool

    def load(self, text: str) -> None:
        done = nsexec.run(self.netns, [self.tool, "-w", "30"], stdin=text)
        assert done.returncode == 0, done.stderr

    def send(self, address: str, port: int) -> None:
        nsexec.call(self.netns, _send_udp, address, port)

    def write(self, name: str, address: str, times: int) -> None:
        nsexec.call(self.netns, _write, name, [f"+{address}"] * times)

    def lists(self) -> Lists:
        return dict(nsexec.call(self.netns, _read_lists))


class Evaluator:
    """The same steps through the evaluator: one Sampler, a new Engine per load, a tick of its clock per step."""

    def __init__(self) -> None:
        self.sampler = Sampler(rng=lambda: 0, recent=RecentTable())
        self.engine: Engine | None = None

    def load(self, text: str) -> None:
        self.engine = Engine(compile_ruleset(parse_ruleset(text)), NodeContext.of(()), self.sampler)

    def send(self, address: str, port: int) -> None:
        assert self.engine is not None
        self.sampler.now += 1.0
        self.engine.run(Packet.of("udp", "127.0.0.1", address, port, 40000))

    def write(self, name: str, address: str, times: int) -> None:
        for _ in range(times):
            self.sampler.now += 1.0
            self.sampler.recent.add(name, parse_address(address)[1], self.sampler.now)

    def lists(self) -> Lists:
        recent = self.sampler.recent
        return {name: {format_address(4, a): len(s) for a, s in recent.lists.get(name, {}).items()}
                for name in sorted(set(recent.rings) | set(recent.lists))}


STEPS: tuple[tuple[str, tuple[object, ...], Lists], ...] = (
    # a /24 list with a 64-stamp ring; 41 stamps on 127.0.0.0, one entry in Y
    ("load", (filter_output(SET_X_24, CHECK_X_40, SET_Y),), {"X": {}, "Y": {}}),
    ("send", ("127.0.0.7", 9), {"X": {"127.0.0.0": 1}, "Y": {}}),
    ("write", ("X", "127.0.0.0", 40), {"X": {"127.0.0.0": 41}, "Y": {}}),
    ("send", ("127.0.0.1", 11), {"X": {"127.0.0.0": 41}, "Y": {"127.0.0.1": 1}}),
    # both named again (X by a full-mask rule with no hit count): kept, with the /24 and the 64 stamps
    ("load", (filter_output(SET_Y, SET_X),), {"X": {"127.0.0.0": 41}, "Y": {"127.0.0.1": 1}}),
    ("send", ("127.0.0.8", 9), {"X": {"127.0.0.0": 42}, "Y": {"127.0.0.1": 1}}),
    # X not named: destroyed; Y kept
    ("load", (filter_output(SET_Y),), {"Y": {"127.0.0.1": 1}}),
    # X named again, Y not: X afresh with a full mask and 32 stamps; Y destroyed
    ("load", (filter_output(SET_X),), {"X": {}}),
    ("send", ("127.0.0.7", 9), {"X": {"127.0.0.7": 1}}),
    ("write", ("X", "127.0.0.7", 40), {"X": {"127.0.0.7": 32}}),
    # X moves to nat, nat written first: nat's rule holds it through filter's reload
    ("load", (nat_output(NAT_X) + filter_output(),), {"X": {"127.0.0.7": 32}}),
    # back to filter, filter written first: filter names it before nat frees its rule
    ("load", (filter_output(SET_X) + nat_output(),), {"X": {"127.0.0.7": 32}}),
    # to nat again, filter first: filter's reload frees X's last rule before nat names it: destroyed, then new
    ("load", (filter_output() + nat_output(NAT_X),), {"X": {}}),
)


@pytest.fixture(params=["iptables-legacy-restore", "iptables-nft-restore"])
def scratch(request: pytest.FixtureRequest, kernel: None, run_tag: str) -> Iterator[Kernel]:
    tool = request.param
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    with build.owned_netns(f"{run_tag}-rr{next(_TAGS)}") as netns:
        with nsexec.iproute(netns) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        yield Kernel(netns, tool)


def test_lists_across_reloads_are_the_kernels(scratch: Kernel) -> None:
    ours = Evaluator()
    for number, (step, args, expected) in enumerate(STEPS, 1):
        for side in (scratch, ours):
            getattr(side, step)(*args)
        assert scratch.lists() == expected, f"the kernel, step {number} ({step} {args})"
        assert ours.lists() == expected, f"the evaluator, step {number} ({step} {args})"
