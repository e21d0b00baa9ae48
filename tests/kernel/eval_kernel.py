"""What the rule evaluator's kernel differentials share, IPv4 and IPv6: their rulesets and packets drawn, the
restore input and the counters read back, the scratch node (a pair of namespaces) that runs them, and the
comparison. How a comparison is made: :mod:`tests.kernel.test_eval_kernel_differential`."""

from __future__ import annotations

import itertools
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import assume
from hypothesis import strategies as st

from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.kernel.build import load_rules
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import CompiledRule, compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine, NodeContext, RecentTable, Sampler
from kubeproxy_sim.netfilter.packet import Packet
from tests.kernel.conftest import joined_pair

PORTS = (22, 53, 80, 443, 8080)
SOURCE_PORTS = (1000, 1001, 2000, 33000, 40000, 40001, 65535)
MARKS = ("0x0", "0x1", "0x2", "0x3", "0x10")
MASKS = ("0x1", "0x3", "0xf", "0xffffffff")
POLICIES = ("ACCEPT", "DROP")
RECENT_LISTS = ("A", "B")

BUILTIN = {"filter": ("INPUT", "FORWARD"), "nat": ("PREROUTING", "INPUT", "POSTROUTING")}
HOOKS = {("filter", "INPUT"): {"in"}, ("filter", "FORWARD"): {"fwd"},
         ("nat", "PREROUTING"): {"pre"}, ("nat", "INPUT"): {"in"}, ("nat", "POSTROUTING"): {"post"}}
USER_HOOKS = {"filter": {"in", "fwd"}, "nat": {"pre"}}
"""The hooks a user chain may be reached from. A nat user chain is jumped to only from PREROUTING (and other
nat user chains), so DNAT is valid in it; a filter one from INPUT and FORWARD both, so --limit-iface-out
(valid in FORWARD, not in INPUT) never appears in it. The kernel refuses a table that breaks either."""


@dataclass(frozen=True)
class Chain:
    table: str
    name: str
    policy: str | None  # None: a user chain
    rules: tuple[str, ...]  # each rule's text after "-A NAME "


@dataclass(frozen=True)
class Probe:
    proto: str
    src: str
    dst: str
    dport: int
    sport: int  # the ICMP echo identifier for icmp


def _ports(draw: st.DrawFn) -> str:
    """A port or a range (never ``P:P``: multiport's parser refuses it, "invalid portrange")."""
    low = draw(st.sampled_from(PORTS + SOURCE_PORTS[:-1]))
    if draw(st.booleans()):
        return str(low)
    return f"{low}:{draw(st.sampled_from([p for p in PORTS + SOURCE_PORTS if p > low]))}"


def port_matches(draw: st.DrawFn, proto: str) -> list[str]:
    """Maybe a ``-m tcp``/``-m udp`` port match, maybe a multiport one, of ``proto`` (either family's)."""
    out = []
    if draw(st.booleans()):
        # At most one of --sport and --dport negated: iptables-nft 1.8.9 (this machine's) loads
        # "! --sport P ! --dport Q" (two single ports) as one 32-bit compare of both, negated, so it matches
        # when either port differs (measured: a packet from port 1000 to Q matched; with a range on either
        # side it did not); xt_tcpudp (iptables-legacy), which the evaluator follows, negates each test apart.
        # A quirk of one userspace, in a form kube-proxy never writes.
        flags = draw(st.lists(st.sampled_from(("--dport", "--sport")), min_size=1, max_size=2, unique=True))
        negated = draw(st.sampled_from([None, *flags]))
        out.append(f"-m {proto} " + " ".join(f"{'! ' if f == negated else ''}{f} {_ports(draw)}" for f in flags))
    if draw(st.booleans()):
        flag = draw(st.sampled_from(("--dports", "--sports", "--ports")))
        items = ",".join(_ports(draw) for _ in range(draw(st.integers(1, 3))))
        out.append(f"-m multiport {'! ' if draw(st.booleans()) else ''}{flag} {items}")
    return out


def addrtype_match(draw: st.DrawFn, hooks: set[str], types: tuple[str, ...]) -> str:
    """An addrtype match of one or both sides, each maybe negated, of ``types`` (the family's)."""
    parts = []
    for flag in draw(st.lists(st.sampled_from(("--src-type", "--dst-type")), min_size=1, max_size=2, unique=True)):
        parts.append(f"{'! ' if draw(st.booleans()) else ''}{flag} {draw(st.sampled_from(types))}")
    limits = [""]
    if hooks <= {"pre", "in", "fwd"}:
        limits.append("--limit-iface-in")
    if hooks <= {"fwd", "post"}:
        limits.append("--limit-iface-out")
    limit = draw(st.sampled_from(limits))
    return "-m addrtype " + " ".join(parts) + (f" {limit}" if limit else "")


def address_matches(draw: st.DrawFn, hooks: set[str], address: Callable[[st.DrawFn, str], str]) -> list[str]:
    """Maybe -s, -d (drawn by the family's ``address``) and an interface the hooks allow, each maybe negated."""
    out: list[str] = []
    for flag in ("-s", "-d"):
        if draw(st.integers(0, 3)) == 0:
            out.append(address(draw, flag))
    interfaces = [flag for flag, valid in (("-i", {"pre", "in", "fwd"}), ("-o", {"fwd", "post"})) if hooks <= valid]
    if interfaces and draw(st.integers(0, 3)) == 0:
        name = draw(st.sampled_from(("c0", "out0", "lo", "c+", "eth0")))
        out.append(f"{'! ' if draw(st.booleans()) else ''}{draw(st.sampled_from(interfaces))} {name}")
    return out


def optional_matches(draw: st.DrawFn, hooks: set[str], types: tuple[str, ...],
                     recent: Callable[[st.DrawFn], str]) -> list[str]:
    """Up to two of mark, addrtype (of ``types``), conntrack, comment and recent (the family's ``recent``), then
    maybe a statistic nth match."""
    out: list[str] = []
    optional = {
        "mark": lambda: (f"-m mark {'! ' if draw(st.booleans()) else ''}--mark {draw(st.sampled_from(MARKS))}"
                         + (f"/{draw(st.sampled_from(MASKS))}" if draw(st.booleans()) else "")),
        "addrtype": lambda: addrtype_match(draw, hooks, types),
        "conntrack": lambda: (f"-m conntrack {'! ' if draw(st.booleans()) else ''}--ctstate "
                              f"{draw(st.sampled_from(('NEW', 'ESTABLISHED', 'NEW,ESTABLISHED', 'RELATED')))}"),
        "comment": lambda: f'-m comment --comment "{draw(st.sampled_from(("a b", "x", "--dport 80")))}"',
        "recent": lambda: recent(draw),
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), max_size=2, unique=True)):
        out.append(optional[name]())
    if draw(st.integers(0, 4)) == 0:
        every = draw(st.integers(2, 4))
        out.append(f"-m statistic --mode nth {'! ' if draw(st.booleans()) else ''}--every {every} "
                   f"--packet {draw(st.integers(0, every - 1))}")
    return out


def recent_match(draw: st.DrawFn, masks: tuple[str, ...], sides: tuple[str, ...] = ("--rsource",)) -> str:
    """A recent match of a drawn list, mask (of the family's ``masks``) and side (of ``sides``, drawn when there
    are several); its mask drawn too: xt_recent masks an address with the mask of the first rule naming the
    list (a77b032), which a /24 shows (10.9.0.2 and 10.9.0.3 share an entry)."""
    name = draw(st.sampled_from(RECENT_LISTS))
    mask = draw(st.sampled_from(masks))
    side = sides[0] if len(sides) == 1 else draw(st.sampled_from(sides))
    if draw(st.booleans()):
        return f"-m recent --set --name {name} --mask {mask} {side}"
    seconds = draw(st.sampled_from(("", " --seconds 10000")))
    negated = "! " if draw(st.booleans()) else ""
    return f"-m recent {negated}--rcheck{seconds} --name {name} --mask {mask} {side}"


def draw_target(draw: st.DrawFn, table: str, name: str, hooks: set[str], callees: list[str],
                written: Mapping[str, Callable[[], str]]) -> str:
    """A target the chain may take: ACCEPT, RETURN, MARK, a jump or goto to ``callees``, filter's DROP and
    REJECT, DNAT where only PREROUTING reaches, and MASQUERADE in nat POSTROUTING when the family's ``written``
    has it. ``written`` writes the family's own forms of REJECT, DNAT and MASQUERADE (drawing their
    options); any other is ``-j KIND``."""
    choices = ["", "ACCEPT", "RETURN", "MARK-x", "MARK-or"]
    if table == "filter":
        choices += ["DROP", "REJECT"]
    if table == "nat" and hooks <= {"pre"}:
        choices.append("DNAT")
    if table == "nat" and name == "POSTROUTING" and "MASQUERADE" in written:
        choices.append("MASQUERADE")
    if callees:
        choices += ["jump", "goto"]
    kind = draw(st.sampled_from(choices))
    if kind in ("jump", "goto"):
        return f"{'-j' if kind == 'jump' else '-g'} {draw(st.sampled_from(callees))}"
    if kind == "MARK-x":
        return f"-j MARK --set-xmark {draw(st.sampled_from(MARKS))}/{draw(st.sampled_from(MASKS))}"
    if kind == "MARK-or":
        return f"-j MARK --or-mark {draw(st.sampled_from(MARKS))}"
    if kind in written:
        return written[kind]()
    return f"-j {kind}" if kind else ""


RuleDrawer = Callable[[st.DrawFn, str, str, set[str], list[str]], str]
"""Draws one rule of a chain: (draw, table, chain, the hooks it runs at, the user chains it may call)."""


def draw_chains(draw: st.DrawFn, rule: RuleDrawer) -> tuple[Chain, ...]:
    """Filter and nat tables: their built-in chains for a packet from elsewhere and 1-3 user chains, 3-12 rules,
    each rule drawn by ``rule`` (the family's)."""
    users = {"filter": [f"F{i}" for i in range(draw(st.integers(0, 2)))],
             "nat": [f"N{i}" for i in range(draw(st.integers(0, 2)))]}
    assume(1 <= len(users["filter"]) + len(users["nat"]) <= 3)
    names = [(t, c) for t in ("filter", "nat") for c in (*BUILTIN[t], *users[t])]
    counts = draw(st.lists(st.integers(0, 4), min_size=len(names), max_size=len(names)))
    assume(3 <= sum(counts) <= 12)
    chains = []
    for (table, name), count in zip(names, counts, strict=True):
        builtin = name in BUILTIN[table]
        hooks = HOOKS[(table, name)] if builtin else USER_HOOKS[table]
        later = users[table] if builtin else users[table][users[table].index(name) + 1:]
        callees = later if table == "filter" or name == "PREROUTING" or not builtin else []
        policy = draw(st.sampled_from(POLICIES)) if builtin and table == "filter" else "ACCEPT" if builtin else None
        rules = tuple(rule(draw, table, name, hooks, callees) for _ in range(count))
        chains.append(Chain(table, name, policy, rules))
    return tuple(chains)


def draw_probes(draw: st.DrawFn, protocols: tuple[str, ...], sources: tuple[str, ...],
                destinations: tuple[str, ...]) -> tuple[Probe, ...]:
    """1-6 packets, each a new connection (no two share a source port, or an ICMP echo identifier)."""
    sports = draw(st.lists(st.sampled_from(SOURCE_PORTS), min_size=1, max_size=6, unique=True))
    return tuple(Probe(draw(st.sampled_from(protocols)), draw(st.sampled_from(sources)),
                       draw(st.sampled_from(destinations)), draw(st.sampled_from(PORTS)), sport)
                 for sport in sports)


def restore_text(chains: tuple[Chain, ...], lists_tag: str = "") -> str:
    """iptables-restore input for the chains; the recent lists' names get ``lists_tag`` (a list outlives the
    rules that named it while any rule names it, so every example names its own)."""
    out = []
    for table in ("filter", "nat"):
        mine = [c for c in chains if c.table == table]
        out.append(f"*{table}")
        out.extend(f":{c.name} {c.policy or '-'} [0:0]" for c in mine)
        for chain in mine:
            out.extend(f"-A {chain.name} {rule}".rstrip() for rule in chain.rules)
        out.append("COMMIT")
    text = "\n".join(out) + "\n"
    return re.sub(r"--name (\w+)", rf"--name \g<1>{lists_tag}", text) if lists_tag else text


Key = tuple[str, str, int]  # table, chain, rule number (0: the chain's policy)


def rule_keys(text: str) -> dict[int, Key]:
    """Line number (1-based) -> (table, chain, rule number) of every rule line in restore input."""
    keys: dict[int, Key] = {}
    numbers: Counter[tuple[str, str]] = Counter()
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A "):
            chain = line.split()[1]
            numbers[(table, chain)] += 1
            keys[number] = (table, chain, numbers[(table, chain)])
    return keys


Walk = tuple[Counter[Key], str | None]
"""What one packet did: the rules it matched (and a DROP policy that decided), with multiplicity, and where its
connection goes (``IP`` or ``IP:PORT``, after any DNAT; None when the packet was dropped or rejected)."""


def walks(chains: tuple[Chain, ...], packets: tuple[Probe, ...], context: NodeContext, *, icmp: str,
          end: Callable[[Probe, Any], str | None], ipv6: bool = False) -> list[Walk]:
    """Per packet, what the evaluator says it did, walked in order through one sampling run on the node
    ``context`` describes: the counters its path moves and ``end(probe, finished walk)``, where it goes."""

    def packet(probe: Probe) -> Packet:
        ports = (None, None) if probe.proto == icmp else (probe.dport, probe.sport)
        return Packet.of(probe.proto, probe.src, probe.dst, *ports, in_iface="c0")

    return [(counters, end(probe, finished))
            for probe, counters, finished in evaluated(chains, packets, context, packet, ipv6=ipv6)]


ProbeT = TypeVar("ProbeT", bound=Probe)


def evaluated(chains: tuple[Chain, ...], probes: Iterable[ProbeT], context: NodeContext,
              packet: Callable[[ProbeT], Packet], *, ipv6: bool = False) -> Iterator[tuple[ProbeT, Counter[Key], Any]]:
    """Each probe, as ``packet`` builds it, walked by the evaluator in order through one sampling run (the
    kernel's order: a walk may find what an earlier one left, a recent list's entry): the probe, the counters
    its path moves and the finished walk."""
    text = restore_text(chains)
    keys = rule_keys(text)
    engine = Engine(compile_ruleset(parse_ruleset(text, ipv6=ipv6)), context,
                    Sampler(rng=lambda: 0, recent=RecentTable(), now=1.0))
    for probe in probes:
        (finished,) = engine.run(packet(probe))
        yield probe, path_counters(finished.path, keys), finished


def path_counters(path: Iterable[CompiledRule], keys: dict[int, Key]) -> Counter[Key]:
    """The counters a walk moves: one per rule or policy of ``path`` (by ``keys``, the dump's rule lines);
    a routing decision moves none."""
    seen: Counter[Key] = Counter()
    for rule in path:
        step = rule.step
        assert step is not None  # compiling gives every rule its step
        if not step.table:
            continue  # a routing decision: no counter holds it
        seen[keys.get(step.line or 0, (step.table, step.chain, 0))] += 1  # 0: a policy
    return seen


def _send_frame(frame_hex: str) -> int:
    """One raw frame out of eth0 (run inside the client's namespace)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind(("eth0", 0))
        return sock.send(bytes.fromhex(frame_hex))


def _mac(name: str, link: str) -> str:
    with nsexec.iproute(name) as ipr:
        (info,) = ipr.link("get", index=ipr.link_lookup(ifname=link)[0])
        return str(info.get_attr("IFLA_ADDRESS"))


COUNTED = re.compile(r"^\[(\d+):\d+\] -A (\S+)")
POLICY = re.compile(r"^:(\S+) (ACCEPT|DROP) \[(\d+):\d+\]")


def kernel_counters(node: str, family: int = 4) -> dict[Key, int]:
    """Every rule's packet counter and every built-in chain's policy counter, from (ip6)iptables-save -c."""
    done = nsexec.run(node, ["iptables-save" if family == 4 else "ip6tables-save", "-c"])
    assert done.returncode == 0, done.stderr
    counters: dict[Key, int] = {}
    numbers: Counter[tuple[str, str]] = Counter()
    table = ""
    for line in done.stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif (policy := POLICY.match(line)) is not None:
            counters[(table, policy[1], 0)] = int(policy[3]) if policy[2] == "DROP" else 0
        elif (rule := COUNTED.match(line)) is not None:
            numbers[(table, rule[2])] += 1
            counters[(table, rule[2], numbers[(table, rule[2])])] = int(rule[1])
    return counters


def conntrack_entries(node: str, pattern: re.Pattern[str], *args: str) -> Iterator[tuple[Any, ...]]:
    """The groups of ``pattern`` in each entry ``conntrack -L ARGS`` lists on the node (an entry it does not
    match fails the test: the family's pattern must understand every connection)."""
    done = nsexec.run(node, ["conntrack", "-L", *args])
    assert done.returncode == 0, done.stderr
    for line in done.stdout.splitlines():
        match = pattern.match(line)
        assert match is not None, f"a conntrack entry not understood: {line}"
        yield match.groups()


MARKER = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -i c0\n"
          "-A OUTPUT -m conntrack --ctstate INVALID\nCOMMIT\n")
"""A rule that counts every packet the node receives from the client: a packet has been walked (its walk is
one softirq's work, from this hook to its verdict) once this counter has moved. And a conntrack match, for its
side effect: a namespace's connection tracking starts only when a rule needs it (measured: iptables-nft's nat
chains alone never saw a packet), and on a real node kube-proxy's rules always do."""
ARRIVAL_WAIT = 2.0
SETTLE = 0.01


class ScratchNode:
    """The scratch pair, with the MAC addresses a frame needs and a tag per example for its recent lists; a
    family's subclass says how its frames and its connections are written."""

    family = 4

    def __init__(self, client: str, node: str) -> None:
        self.client, self.node = client, node
        self.src_mac, self.dst_mac = _mac(client, "eth0"), _mac(node, "c0")
        self.tags = itertools.count()

    def run(self, chains: tuple[Chain, ...], packets: tuple[Probe, ...]) -> list[Walk]:
        """Per packet, the counters that moved (each rule's and each DROP policy's) and where conntrack says its
        connection goes (none: the packet was dropped before conntrack confirmed it), in the kernel."""
        load_rules(self.node, MARKER + self.restore(chains, f"k{next(self.tags)}"), family=self.family)
        flushed = nsexec.run(self.node, ["conntrack", "-F"])
        assert flushed.returncode == 0, flushed.stderr
        before = self.counters()
        out = []
        for probe in packets:
            nsexec.call(self.client, _send_frame, self.frame(probe).hex())
            after = self._after(before)
            out.append(Counter({k: n - before.get(k, 0) for k, n in after.items()
                                if k[0] != "raw" and n != before.get(k, 0)}))
            before = after
        ends = self.ends()
        return [(seen, ends.get((p.proto, p.src, p.dst, p.sport))) for seen, p in zip(out, packets, strict=True)]

    def restore(self, chains: tuple[Chain, ...], lists_tag: str) -> str:
        """The restore input of the rules (the marker aside)."""
        return restore_text(chains, lists_tag)

    def counters(self) -> dict[Key, int]:
        return kernel_counters(self.node, self.family)

    def frame(self, probe: Probe) -> bytes:
        raise NotImplementedError

    def ends(self) -> dict[tuple[str, str, str, int], str]:
        """(protocol, source, destination, source port or echo id) -> where the connection goes."""
        raise NotImplementedError

    def _after(self, before: dict[Key, int]) -> dict[Key, int]:
        """The counters once the packet has arrived (the marker moved) and its walk is over (two reads a moment
        apart agree: on a loaded machine the walk's softirq may be preempted between the marker and the rest)."""
        marker = ("raw", "PREROUTING", 1)
        deadline = time.monotonic() + ARRIVAL_WAIT
        last = None
        while True:
            after = self.counters()
            if after[marker] > before[marker] and after == last:
                return after
            last = after
            assert time.monotonic() < deadline, "the packet never reached the node, or its counters kept moving"
            time.sleep(SETTLE)


NOBODY = "02:00:00:00:00:01"
NUD_PERMANENT = 0x80


N = TypeVar("N", bound=ScratchNode)


def out_link(ipr: Any, client: str) -> tuple[int, int]:
    """The node's second veth, ``out0`` (up; its peer ``out1`` down in the client), that a forwarded packet
    leaves by; the node's two links' indexes, c0's and out0's."""
    ipr.link("add", ifname="out0", kind="veth", peer={"ifname": "out1", "net_ns_fd": client})
    (out0,) = ipr.link_lookup(ifname="out0")
    (c0,) = ipr.link_lookup(ifname="c0")
    ipr.link("set", index=out0, state="up")
    return c0, out0


def listener(family: int) -> str:
    """A program listening on every port a packet may end at on the node: a SYN to a closed port is answered
    with a reset, and conntrack deletes a connection whose only reply is a reset, so where it went would not
    be seen. It dies with the test process that started it (PR_SET_PDEATHSIG, and its parent checked once
    that is set): a killed run's listener would otherwise sleep on for a day in the namespace ``netns gc``
    removes, which kills only our servers."""
    kind, anywhere = ("socket.AF_INET6", "::") if family == 6 else ("socket.AF_INET", "0.0.0.0")
    return f"""
import ctypes, os, signal, socket, sys, time
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != {os.getpid()}:
    sys.exit("the test process is gone")
socks = []
for port in {sorted(set(PORTS))}:
    sock = socket.socket({kind})
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("{anywhere}", port))
    sock.listen(4096)
    socks.append(sock)
print("ready", flush=True)
time.sleep(86400)
"""


def listening_pair(run_tag: str, tag: str, configure: Callable[[str, str], None],
                   node: Callable[[str, str], N]) -> Iterator[N]:
    """The body of a module fixture (``yield from`` it): conftest.joined_pair's scratch pair, configured,
    with :func:`listener` running in the node, as ``node(client, node)``."""
    for client, name in joined_pair(run_tag, tag, configure):
        made = node(client, name)
        with nsexec.popen(name, [sys.executable, "-c", listener(made.family)], stdout=subprocess.PIPE) as program:
            try:
                assert program.stdout is not None and program.stdout.readline() == "ready\n"
                yield made
            finally:
                program.kill()


def explain(chains: tuple[Chain, ...], packets: tuple[Probe, ...], number: int) -> str:
    return f"packet {number} of {packets}\nrules:\n{restore_text(chains)}"


def check_agrees(node: ScratchNode, chains: tuple[Chain, ...], packets: tuple[Probe, ...],
                 evaluated: Callable[[tuple[Chain, ...], tuple[Probe, ...]], list[Walk]]) -> None:
    """The kernel and the evaluator, packet by packet: the same rules, as often, and the same end."""
    kernel = node.run(chains, packets)
    ours = evaluated(chains, packets)
    for number, (theirs, mine) in enumerate(zip(kernel, ours, strict=True), 1):
        assert mine[0] == theirs[0], explain(chains, packets, number)  # the same rules, as often
        assert mine[1] == theirs[1], explain(chains, packets, number)  # the same end: where, or nowhere
