"""The rule evaluator against the real kernel, rule by rule: generated rulesets, generated packet sequences.

A hypothesis strategy writes small filter and nat rulesets (1-3 user chains, 3-12 rules) from the matches and
targets the evaluator claims to model: addresses with masks and negation, interfaces (-i/-o where the kernel
takes them), protocols, ports and port ranges, multiport, marks and MARK, addrtype (with --limit-iface-in/out
where the kernel takes them), conntrack state, statistic nth, recent --set/--rcheck, comments, jumps, gotos,
RETURN, ACCEPT/DROP/REJECT and DNAT. The
kernel side is a pair of scratch namespaces (``kpsim-<run>-ek.c`` the client, ``kpsim-<run>-ek.n`` the node)
joined by a veth (conftest.joined_pair); the node also has a second one (``out0``, its peer down in the client)
that a forwarded packet leaves by, into nothing (to a MAC no one has), and listens on every port a packet may
end at.
Each example loads its rules into the node with iptables-restore, then sends its packets one at a time as raw
frames from the client (each a new connection: conntrack is flushed first, and no two packets share a
tuple), and after each packet reads ``iptables-save -c``: the counters that moved are the rules the packet
matched (and a DROP policy that decided); at the end, conntrack's table says where each packet's connection
goes (the reply's source: a DNAT's destination), and a packet dropped or rejected has none. The evaluator,
given the same rules and the node's addresses, walks the same packets in order with a deterministic
:class:`~kubeproxy_sim.netfilter.evaluate.Sampler` (nth counters and recent lists carry over from packet to
packet as the kernel's do), and must name the same rules the same number of times for every packet, and the
same end.

Only the hooks a packet from elsewhere passes carry rules (PREROUTING, INPUT, FORWARD, POSTROUTING): what the
node sends back (a reset, an ICMP error) walks OUTPUT, which the trace of the packet does not cover.

The CI budget is small (derandomized, the same examples every run); KPSIM_DEEP=1 runs many more, new ones
each run.
"""

from __future__ import annotations

import itertools
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.kernel.build import load_rules
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import CompiledRule, compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine, NodeContext, RecentTable, Sampler
from kubeproxy_sim.netfilter.packet import Packet
from tests.budget import budget
from tests.kernel.conftest import joined_pair

pytestmark = pytest.mark.kernel

NODE = "10.9.0.1"  # on c0, facing the client (/24: 10.9.0.255 is its broadcast)
OUT_LOCAL = "10.100.0.1"  # on out0 (/16): local, though not on the interface the packets come in by
NODE_CONTEXT = NodeContext.of(
    (f"{NODE}/24", f"{OUT_LOCAL}/16"),
    interfaces={"c0": (f"{NODE}/24",), "out0": (f"{OUT_LOCAL}/16",)},
    routes=(("10.9.0.0/24", "c0"), ("10.100.0.0/16", "out0")), route_localnet_known=True)
SOURCES = ("10.9.0.2", "10.9.0.3", "10.77.0.5")  # never the node's own (the kernel drops those on receipt)
FORWARDED = ("10.100.0.7", "10.100.3.9")  # routed out of out0
DESTINATIONS = (NODE, OUT_LOCAL, "10.9.0.255", "10.100.255.255", "255.255.255.255", "224.0.0.1", *FORWARDED)
ADDRESSES = (*SOURCES, *DESTINATIONS, "10.0.0.0", "10.9.0.0")
PORTS = (22, 53, 80, 443, 8080)
SOURCE_PORTS = (1000, 1001, 2000, 33000, 40000, 40001, 65535)
MARKS = ("0x0", "0x1", "0x2", "0x3", "0x10")
MASKS = ("0x1", "0x3", "0xf", "0xffffffff")
ADDRTYPES = ("LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "UNREACHABLE", "LOCAL,BROADCAST", "UNICAST,LOCAL")
POLICIES = ("ACCEPT", "DROP")
DNAT_TO = (NODE, OUT_LOCAL, *FORWARDED)
RECENT_LISTS = ("A", "B")
RECENT_MASKS = ("255.255.255.255", "255.255.255.0")

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


def _address(draw: st.DrawFn, flag: str) -> str:
    address = draw(st.sampled_from(ADDRESSES))
    mask = draw(st.sampled_from(("", "/32", "/30", "/24", "/16", "/8")))
    return f"{'! ' if draw(st.booleans()) else ''}{flag} {address}{mask}"


def _ports(draw: st.DrawFn) -> str:
    """A port or a range (never ``P:P``: multiport's parser refuses it, "invalid portrange")."""
    low = draw(st.sampled_from(PORTS + SOURCE_PORTS[:-1]))
    if draw(st.booleans()):
        return str(low)
    return f"{low}:{draw(st.sampled_from([p for p in PORTS + SOURCE_PORTS if p > low]))}"


def _port_matches(draw: st.DrawFn, proto: str) -> list[str]:
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


def _matches(draw: st.DrawFn, hooks: set[str]) -> list[str]:
    out = address_matches(draw, hooks, _address)
    proto = draw(st.sampled_from(("", "tcp", "udp", "icmp", "!tcp")))
    if proto == "!tcp":
        out.append("! -p tcp")
    elif proto:
        out.append(f"-p {proto}")
        if proto != "icmp":
            out.extend(_port_matches(draw, proto))
    return out + optional_matches(draw, hooks, ADDRTYPES, _recent)


def _recent(draw: st.DrawFn) -> str:
    """A recent match; its mask drawn too: xt_recent masks an address with the mask of the first rule naming
    the list (a77b032), which a /24 shows (10.9.0.2 and 10.9.0.3 share an entry)."""
    name = draw(st.sampled_from(RECENT_LISTS))
    mask = draw(st.sampled_from(RECENT_MASKS))
    if draw(st.booleans()):
        return f"-m recent --set --name {name} --mask {mask} --rsource"
    seconds = draw(st.sampled_from(("", " --seconds 10000")))
    negated = "! " if draw(st.booleans()) else ""
    return f"-m recent {negated}--rcheck{seconds} --name {name} --mask {mask} --rsource"


def _target(draw: st.DrawFn, table: str, hooks: set[str], callees: list[str]) -> str:
    choices = ["", "ACCEPT", "RETURN", "MARK-x", "MARK-or"]
    if table == "filter":
        choices += ["DROP", "REJECT"]
    if table == "nat" and hooks <= {"pre"}:
        choices.append("DNAT")
    if callees:
        choices += ["jump", "goto"]
    kind = draw(st.sampled_from(choices))
    if kind in ("jump", "goto"):
        return f"{'-j' if kind == 'jump' else '-g'} {draw(st.sampled_from(callees))}"
    if kind == "MARK-x":
        return f"-j MARK --set-xmark {draw(st.sampled_from(MARKS))}/{draw(st.sampled_from(MASKS))}"
    if kind == "MARK-or":
        return f"-j MARK --or-mark {draw(st.sampled_from(MARKS))}"
    if kind == "DNAT":
        return f"-j DNAT --to-destination {draw(st.sampled_from(DNAT_TO))}"
    return f"-j {kind}" if kind else ""


def _rule(draw: st.DrawFn, table: str, hooks: set[str], callees: list[str]) -> str:
    matches = _matches(draw, hooks)
    target = _target(draw, table, hooks, callees)
    if "DNAT" in target and any(m.startswith(("-p tcp", "-p udp")) for m in matches):
        target += f":{draw(st.sampled_from(PORTS))}"
    return " ".join([*matches, target]).strip()


@st.composite
def rulesets(draw: st.DrawFn) -> tuple[Chain, ...]:
    """Filter and nat tables: their built-in chains for a packet from elsewhere and 1-3 user chains, 3-12 rules."""
    return draw_chains(draw, lambda d, table, _name, hooks, callees: _rule(d, table, hooks, callees))


RuleDrawer = Callable[[st.DrawFn, str, str, set[str], list[str]], str]
"""Draws one rule of a chain: (draw, table, chain, the hooks it runs at, the user chains it may call)."""


def draw_chains(draw: st.DrawFn, rule: RuleDrawer) -> tuple[Chain, ...]:
    """The chains of :func:`rulesets`, each rule drawn by ``rule`` (this family's or IPv6's)."""
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


@st.composite
def probes(draw: st.DrawFn) -> tuple[Probe, ...]:
    """1-6 packets, each a new connection (no two share a source port, or an ICMP echo identifier)."""
    sports = draw(st.lists(st.sampled_from(SOURCE_PORTS), min_size=1, max_size=6, unique=True))
    return tuple(Probe(draw(st.sampled_from(("tcp", "udp", "icmp"))), draw(st.sampled_from(SOURCES)),
                       draw(st.sampled_from(DESTINATIONS)), draw(st.sampled_from(PORTS)), sport)
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


def _ends_at(probe: Probe, verdict: str, destination: str | None) -> str | None:
    if verdict == "DNAT":
        return destination
    if verdict != "ACCEPT":
        return None
    return probe.dst if probe.proto == "icmp" else f"{probe.dst}:{probe.dport}"


def evaluated(chains: tuple[Chain, ...], packets: tuple[Probe, ...]) -> list[Walk]:
    """Per packet, what the evaluator says it did, walked in order through one sampling run."""
    text = restore_text(chains)
    keys = rule_keys(text)
    engine = Engine(compile_ruleset(parse_ruleset(text)), NODE_CONTEXT,
                    Sampler(rng=lambda: 0, recent=RecentTable(), now=1.0))
    out = []
    for probe in packets:
        ports = (None, None) if probe.proto == "icmp" else (probe.dport, probe.sport)
        packet = Packet.of(probe.proto, probe.src, probe.dst, *ports, in_iface="c0")
        (finished,) = engine.run(packet)
        out.append((path_counters(finished.path, keys), _ends_at(probe, finished.verdict, finished.destination)))
    return out


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


BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"


def frame_mac(dst: str, node_mac: str) -> str:
    """The link-layer destination a sender on c0's link writes for ``dst``: a multicast group's 01:00:5e MAC,
    the broadcast MAC for 255.255.255.255 and c0's subnet broadcast, else the node's. The kernel's pkt_type
    follows it, and ip_forward forwards only a frame sent to the node (a group one DNATed on is dropped)."""
    value = int.from_bytes(socket.inet_aton(dst), "big")
    if value >> 28 == 0xE:
        low = value & 0x7FFFFF
        return "01:00:5e:" + ":".join(f"{(low >> s) & 0xFF:02x}" for s in (16, 8, 0))
    if dst in ("255.255.255.255", "10.9.0.255"):
        return BROADCAST_MAC
    return node_mac


def _frame(probe: Probe, src_mac: str, dst_mac: str) -> bytes:
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether

    dst_mac = frame_mac(probe.dst, dst_mac)

    layer = {"tcp": lambda: TCP(sport=probe.sport, dport=probe.dport, flags="S"),
             "udp": lambda: UDP(sport=probe.sport, dport=probe.dport) / b"x",
             "icmp": lambda: ICMP(type=8, id=probe.sport, seq=1)}[probe.proto]()
    return bytes(Ether(src=src_mac, dst=dst_mac) / IP(src=probe.src, dst=probe.dst, ttl=64) / layer)


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


CONNECTION = re.compile(r"^(tcp|udp|icmp) .*?src=(\S+) dst=(\S+) (?:sport=(\d+) dport=(\d+)|type=8 code=0 id=(\d+))"
                        r".*? src=(\S+) dst=\S+ (?:sport=(\d+)|type=0)")


def connections(node: str) -> dict[tuple[str, str, str, int], str]:
    """(protocol, source, destination, source port or echo id) of every connection conntrack holds -> where it
    goes: the reply's source (and port), which is the DNAT's destination when one was taken."""
    done = nsexec.run(node, ["conntrack", "-L"])
    assert done.returncode == 0, done.stderr
    found = {}
    for line in done.stdout.splitlines():
        match = CONNECTION.match(line)
        assert match is not None, f"a conntrack entry not understood: {line}"
        proto, src, dst, sport, _, ident, to, to_port = match.groups()
        found[(proto, src, dst, int(sport or ident))] = f"{to}:{to_port}" if to_port else to
    return found


MARKER = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -i c0\n"
          "-A OUTPUT -m conntrack --ctstate INVALID\nCOMMIT\n")
"""A rule that counts every packet the node receives from the client: a packet has been walked (its walk is
one softirq's work, from this hook to its verdict) once this counter has moved. And a conntrack match, for its
side effect: a namespace's connection tracking starts only when a rule needs it (measured: iptables-nft's nat
chains alone never saw a packet), and on a real node kube-proxy's rules always do."""
ARRIVAL_WAIT = 2.0
SETTLE = 0.01


class Node:
    """The scratch pair, with the MAC addresses a frame needs and a tag per example for its recent lists.

    IPv4; the IPv6 differential's subclass says how its frames and its connections are written."""

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
        return _frame(probe, self.src_mac, self.dst_mac)

    def ends(self) -> dict[tuple[str, str, str, int], str]:
        """(protocol, source, destination, source port or echo id) -> where the connection goes."""
        return connections(self.node)

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


def _configure(client: str, node: str) -> None:
    """The node's addresses, and a permanent neighbour (a MAC no one has) for every address it sends to: a
    reply or a forwarded packet leaves at once, into nothing. A neighbour that never answers would, seconds
    later, make the node send itself an ICMP host-unreachable about its own reply, which walks INPUT (from lo)
    at a moment no packet of ours explains (seen in the kernel)."""
    with nsexec.iproute(node) as ipr:
        ipr.link("add", ifname="out0", kind="veth", peer={"ifname": "out1", "net_ns_fd": client})
        (out0,) = ipr.link_lookup(ifname="out0")
        (c0,) = ipr.link_lookup(ifname="c0")
        ipr.link("set", index=out0, state="up")
        ipr.addr("add", index=c0, address=NODE, prefixlen=24)
        ipr.addr("add", index=out0, address=OUT_LOCAL, prefixlen=16)
        for address, index in [(a, c0) for a in SOURCES if a.startswith("10.9.")] + [(a, out0) for a in FORWARDED]:
            ipr.neigh("add", dst=address, lladdr=NOBODY, ifindex=index, state=NUD_PERMANENT)


LISTENER = f"""
import socket, sys, time
socks = []
for port in {sorted(set(PORTS))}:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(4096)
    socks.append(sock)
print("ready", flush=True)
time.sleep(86400)
"""
"""Listening on every port a packet may end at on the node: a SYN to a closed port is answered with a reset,
and conntrack deletes a connection whose only reply is a reset, so where it went would not be seen."""


@pytest.fixture(scope="module")
def pair(kernel: None, run_tag: str) -> Iterator[Node]:
    for client, node in joined_pair(run_tag, "ek", _configure):
        with nsexec.popen(node, [sys.executable, "-c", LISTENER], stdout=subprocess.PIPE) as listener:
            try:
                assert listener.stdout is not None and listener.stdout.readline() == "ready\n"
                yield Node(client, node)
            finally:
                listener.kill()


def _explain(chains: tuple[Chain, ...], packets: tuple[Probe, ...], number: int) -> str:
    return (f"packet {number} of {packets}\nrules:\n{restore_text(chains)}")


@settings(max_examples=budget(24))
@given(chains=rulesets(), packets=probes())
def test_the_evaluator_matches_the_rules_the_kernel_matches(pair: Node, chains: tuple[Chain, ...],
                                                            packets: tuple[Probe, ...]) -> None:
    kernel = pair.run(chains, packets)
    ours = evaluated(chains, packets)
    for number, (theirs, mine) in enumerate(zip(kernel, ours, strict=True), 1):
        assert mine[0] == theirs[0], _explain(chains, packets, number)  # the same rules, as often
        assert mine[1] == theirs[1], _explain(chains, packets, number)  # the same end: where, or nowhere


GROUP_DNAT = (Chain("filter", "INPUT", "ACCEPT", ()), Chain("filter", "FORWARD", "ACCEPT", ("-j ACCEPT",)),
              Chain("nat", "PREROUTING", "ACCEPT", ("-p udp -j DNAT --to-destination 10.100.0.7:53",
                                                    "-p tcp -j DNAT --to-destination 10.9.0.1:80")),
              Chain("nat", "INPUT", "ACCEPT", ()), Chain("nat", "POSTROUTING", "ACCEPT", ()))


@pytest.mark.parametrize("group", ["224.0.0.1", "255.255.255.255", "10.9.0.255"])
def test_a_group_or_broadcast_frame_dnated_on_is_dropped_and_one_dnated_to_the_node_delivered(
        pair: Node, group: str) -> None:
    """ip_forward drops a frame not sent to the node alone (pkt_type != PACKET_HOST) before FORWARD: measured, a
    frame to 01:00:5e:00:00:01 DNATed to 10.100.0.7: nat PREROUTING 1, FORWARD and INPUT 0. The evaluator
    forwarded it (reviewer r8 finding 4)."""
    packets = (Probe("udp", "10.9.0.2", group, 53, 1000), Probe("tcp", "10.9.0.2", group, 443, 1001))
    kernel = pair.run(GROUP_DNAT, packets)
    assert kernel[0] == (Counter({("nat", "PREROUTING", 1): 1}), None)
    assert evaluated(GROUP_DNAT, packets) == kernel


RECENT_FIRST_MASK = (
    Chain("filter", "INPUT", "ACCEPT", ()), Chain("filter", "FORWARD", "ACCEPT", ()),
    Chain("nat", "PREROUTING", "ACCEPT", ("-p tcp -m recent --set --name A --mask 255.255.255.0 --rsource",
                                          "-m recent --rcheck --name A --mask 255.255.255.255 --rsource "
                                          "-j DNAT --to-destination 10.100.0.7")),
    Chain("nat", "INPUT", "ACCEPT", ()), Chain("nat", "POSTROUTING", "ACCEPT", ()))


def test_a_recent_list_masks_with_its_first_rule_s_mask(pair: Node) -> None:
    """xt_recent keeps one mask per list, the first rule's (a77b032): the /32 --rcheck finds what the /24 --set
    stored for 10.9.0.2 when 10.9.0.3 asks, and a udp packet (no --set) from 10.9.0.3 too."""
    packets = (Probe("tcp", "10.9.0.2", NODE, 80, 1000), Probe("udp", "10.9.0.3", NODE, 53, 1001),
               Probe("udp", "10.77.0.5", NODE, 53, 1002))
    kernel = pair.run(RECENT_FIRST_MASK, packets)
    assert kernel[1][1] == "10.100.0.7:53"
    assert evaluated(RECENT_FIRST_MASK, packets) == kernel
