"""``netns verify``: the tracer's answer for a real node's dump, checked against the kernel running that dump.

For each flow (a source — the client pod, the node, the external client — and a
service address) the tracer predicts where the first packet goes, with exact
shares; each prediction is turned into what the client's socket must see: a
reply from an endpoint (with the source address the endpoint saw, so
masquerading shows), ``refused``, ``unreachable``, ``EPERM`` or ``timeout``.
The reply's way back is traced too (a filter that drops established traffic
makes a correct DNAT look like a timeout). Then N real connections are counted
and judged as objects mode judges them, by the same functions of
:mod:`kubeproxy_sim.kernel.differential`: the run's false alarm rate (``alpha``,
0.1%) split over every test of every flow, N sized per flow so that the rarest
outcome is seen and a share off by half noticed, exact binomial ranges computed
with integers, a chi-square over a flow's outcomes, a large service's endpoints
judged by group; a flow whose ranges still start at 0 (a given ``count`` too
small) cannot tell a never-reached endpoint from an unlucky one and is reported
``inconclusive``, not ``ok``. A flow that differs is run once more and judged
on the second run: a real difference repeats, while a count just outside its
range or a machine too busy to answer in time does not. The result says so.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

import netaddr

from kubeproxy_sim.errors import Diagnostic, InputError, cannot_read
from kubeproxy_sim.kernel import nsexec
from kubeproxy_sim.kernel.plan import any_net, host_len
from kubeproxy_sim.kernel.send import PROBE
from kubeproxy_sim.kernel.stage import LeftOut, Staged, StagePlan
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Rule, Ruleset
from kubeproxy_sim.netfilter.packet import (
    CtState,
    Packet,
    format_address,
    host_port,
    loopback,
    loopback_source,
    parse_address,
    split_endpoint,
)
from kubeproxy_sim.netfilter.syntax import reject_type
from kubeproxy_sim.netfilter.trace import NodeContext, Outcome, PathStep, Tracer
from kubeproxy_sim.objects.nodes import family_of
from kubeproxy_sim.objects.report import quote
from kubeproxy_sim.simulator.send import remembers_client

CONFIDENCE = Fraction(999, 1000)
DEFAULT_ALPHA = 1 - CONFIDENCE
DEFAULT_COUNT = None  # sized per flow (differential.sample_size); a number fixes every flow's count
DEFAULT_TIMEOUT = 0.3
# How long a reply may take when no outcome predicts silence: then a silent attempt is a mismatch, so it must not
# be a reply that a loaded machine delivered late (CI saw one UDP answer of 40 miss 0.3 s). Attempts run
# concurrently, so this costs time only when a packet really is lost.
PATIENT_TIMEOUT = 5.0
REFUSED, UNREACHABLE, EPERM, TIMEOUT = "refused", "unreachable", "EPERM", "timeout"
# what a socket reads from an ICMP error (REJECT's --reject-with), and whether a UDP socket hears it at all:
# the kernel reports only "fatal" codes to a UDP socket; TCP gives up on any of them while connecting
ICMP_ERRORS = {"icmp-net-unreachable": (UNREACHABLE, False), "icmp-host-unreachable": (UNREACHABLE, False),
               "icmp-port-unreachable": (REFUSED, True), "icmp-proto-unreachable": ("ENOPROTOOPT", True),
               "icmp-net-prohibited": (UNREACHABLE, True), "icmp-host-prohibited": (UNREACHABLE, True),
               "icmp-admin-prohibited": (UNREACHABLE, True), "tcp-reset": (REFUSED, True)}
# ICMPv6 (the kernel's icmpv6_err_convert): "no route" and "address unreachable" are not fatal, "administratively
# prohibited" and its kin read as EACCES, which the probe calls EPERM
ICMP_ERRORS |= {"icmp6-no-route": (UNREACHABLE, False), "icmp6-addr-unreachable": (UNREACHABLE, False),
                "icmp6-port-unreachable": (REFUSED, True), "icmp6-adm-prohibited": (EPERM, True),
                "icmp6-policy-fail": (EPERM, True), "icmp6-reject-route": (EPERM, True)}
# what answers a packet to an address nobody owns (the stage's router, see build.router_rules), and a closed port
ROUTER_ANSWER = {4: "icmp-net-unreachable", 6: "icmp6-no-route"}
PORT_UNREACHABLE = {4: "icmp-port-unreachable", 6: "icmp6-port-unreachable"}
LOCAL_FAIL_HOOKS = ("OUTPUT", "POSTROUTING")
QUEUE_TARGETS = ("QUEUE", "NFQUEUE")
SERVICE_CHAINS = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES")
KIND_WORDS = (("cluster IP", "ClusterIP"), ("external IP", "externalIP"), ("loadbalancer IP", "LoadBalancer"))


class Origin(StrEnum):
    POD = "pod"
    NODE = "node"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class Flow:
    """Connections from ``origin`` to ``dst:port``; ``kind`` and ``service`` only label it."""

    origin: Origin
    dst: str
    port: int
    proto: str
    kind: str = ""
    service: str = ""
    count: int | None = None

    @property
    def label(self) -> str:
        return f"{host_port(self.dst, self.port)}/{self.proto}"


# --------------------------------------------------------------------------- flows


def _first(rule: Rule, flag: str) -> tuple[bool, tuple[str, ...]] | None:
    for option in rule.parsed.options:
        if option.flag == flag:
            return option.negated, option.args
    return None


def _single_address(rule: Rule, family: int) -> str | None:
    dest = _first(rule, "-d")
    if dest is None or dest[0]:
        return None
    address, _, prefix = dest[1][0].partition("/")
    if prefix not in ("", str(host_len(family))):
        return None
    try:
        return str(netaddr.IPAddress(address, family))
    except (netaddr.AddrFormatError, ValueError):
        return None


def _port_proto(rule: Rule) -> tuple[int, str] | None:
    dport, proto = _first(rule, "--dport"), _first(rule, "-p")
    if dport is None or proto is None or dport[0] or proto[0] or not dport[1][0].isdigit():
        return None
    return int(dport[1][0]), proto[1][0].lower()


def _describe(rule: Rule, chain: str) -> tuple[str, str]:
    comment = _first(rule, "--comment")
    text = comment[1][0] if comment else ""
    kind = next((k for words, k in KIND_WORDS if words in text), "")
    kind = kind or ("ClusterIP" if chain == "KUBE-SERVICES" else "externalIP")
    return kind, text.split(" ")[0] if text else ""


def service_targets(ruleset: Ruleset) -> list[tuple[str, str | None, int, str, str]]:
    """(kind, address or None for a NodePort, port, proto, service) of every service address in the dump."""
    found: dict[tuple[str | None, int, str], tuple[str, str | None, int, str, str]] = {}
    family = 6 if ruleset.ipv6 else 4
    for table in (ruleset.table("nat"), ruleset.table("filter")):
        if table is None:
            continue
        for chain in table.chains:
            for rule in chain.rules:
                pp = _port_proto(rule)
                if pp is None or pp[1] not in ("tcp", "udp"):
                    continue
                address = _single_address(rule, family)
                local = _first(rule, "--dst-type")
                nodeport = chain.name == "KUBE-NODEPORTS" and table.name == "nat"
                nodeport |= chain.name == "KUBE-EXTERNAL-SERVICES" and local is not None and address is None
                if nodeport:
                    key = (None, *pp)
                    found.setdefault(key, ("NodePort", None, *pp, _describe(rule, chain.name)[1]))
                elif chain.name in SERVICE_CHAINS and address is not None:
                    kind, service = _describe(rule, chain.name)
                    found.setdefault((address, *pp), (kind, address, *pp, service))
    return list(found.values())


def _round_robin(targets: list[tuple[str, str | None, int, str, str]]) -> list[tuple[str, str | None, int, str, str]]:
    """Interleave the kinds, so that a capped list still has each kind of address."""
    by_kind: dict[str, list[tuple[str, str | None, int, str, str]]] = {}
    for target in targets:
        by_kind.setdefault(target[0], []).append(target)
    out = []
    while any(by_kind.values()):
        for queue in by_kind.values():
            if queue:
                out.append(queue.pop(0))
    return out


def derive_flows(ruleset: Ruleset, node_ip: str, origins: Sequence[Origin] = tuple(Origin),
                 limit: int | None = None) -> list[Flow]:
    """Every ClusterIP, NodePort, externalIP and LoadBalancer address of the dump, from each origin."""
    flows = [Flow(origin, address or node_ip, port, proto, kind, service)
             for kind, address, port, proto, service in _round_robin(service_targets(ruleset))
             for origin in origins]
    return flows[:limit] if limit is not None else flows


def _flow_error(file: str, index: int, key: str, message: str) -> InputError:
    return InputError(Diagnostic(message, file=file, field=f"flows[{index}].{key}"))


def _flow_entry(file: str, index: int, entry: Any, node_ip: str) -> Flow:
    if not isinstance(entry, dict):
        raise _flow_error(file, index, "from", "expected a mapping with from, to, proto and count")
    family = family_of(node_ip)
    shape = "IPv4:PORT" if family == 4 else "[IPv6]:PORT"
    for key, expected in (("from", "pod, node or external"), ("to", f"{shape} or node:PORT")):
        if key not in entry:  # (said as missing: an absent key is no null a user wrote)
            raise _flow_error(file, index, key, f"missing; expected {expected}")
    origin = entry.get("from")
    if not isinstance(origin, str) or origin not in {o.value for o in Origin}:
        raise _flow_error(file, index, "from", f"{quote(origin)} is not a source; expected pod, node or external")
    to = entry.get("to")
    host, _, port = (to if isinstance(to, str) else "").rpartition(":")
    host = node_ip if host == "node" else host
    if family == 6 and host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif family == 6 and host != node_ip:
        host = ""  # an IPv6 address must be in brackets: "fd00::1:80" could be fd00::1 port 80, or fd00::1:80
    try:
        address = str(netaddr.IPAddress(host, family))
    except (netaddr.AddrFormatError, ValueError):
        raise _flow_error(file, index, "to", f"{quote(to)}: expected {shape} or node:PORT") from None
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:  # (int() reads "٨٠" as 80)
        raise _flow_error(file, index, "to", f"{quote(to)}: the port is not 1-65535")
    proto = entry.get("proto", "tcp")
    if not isinstance(proto, str) or proto.lower() not in ("tcp", "udp"):
        raise _flow_error(file, index, "proto", f"{quote(proto)}: expected tcp or udp (this kernel has no SCTP "
                          "sockets)")
    count = entry.get("count")
    if count is not None and (type(count) is not int or count < 1):  # (a boolean is no count)
        raise _flow_error(file, index, "count", f"{quote(count)}: expected a whole number, 1 or more")
    kind = entry.get("kind", "given")  # (only a label: any value, said in YAML's words if it is no string)
    return Flow(Origin(origin), address, int(port), proto.lower(), kind if isinstance(kind, str) else quote(kind), "",
                count)


def load_flows(path: str, node_ip: str) -> list[Flow]:
    """A YAML file: ``flows: [{from: pod|node|external, to: IP:PORT|node:PORT, proto: tcp|udp, count: N}]``
    (an IPv6 address in brackets, ``[fd00::1]:80``: the family is the node's)."""
    return [_flow_entry(path, i, entry, node_ip) for i, entry in enumerate(read_flow_entries(path))]


def read_flow_entries(path: str) -> list[Any]:
    """The entries of a flows file (``flows: [...]`` or a bare list); errors name the file and what was expected."""
    import yaml

    from kubeproxy_sim.objects.load import safe_load, yaml_syntax_error
    from kubeproxy_sim.objects.stdin import read_text

    try:
        text = read_text(path)  # (the commands' one reader: /dev/zero refused)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Diagnostic(cannot_read(exc, "a YAML file of flows: [...]"), file=path,
                                    field="--flows")) from None
    try:
        data, _ = safe_load(text, single=True)
    except yaml.YAMLError as exc:
        raise InputError(yaml_syntax_error(exc, path, text=text)) from None  # (the text: a tab is named)
    entries = data.get("flows") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise InputError(Diagnostic("expected a non-empty list under `flows:`", file=path, field="flows"))
    return entries


# --------------------------------------------------------------------------- statistics


def binomial_range(n: int, p: Fraction, alpha: Fraction) -> tuple[int, int]:
    """The counts a Binomial(n, p) variable falls outside with probability at most ``alpha`` (exact).

    All the probabilities share the denominator ``den**n``, so the tails are
    compared as integers: no rounding can make the bound unsound.
    """
    if p <= 0:
        return 0, 0
    if p >= 1:
        return n, n
    num, den = p.numerator, p.denominator
    weights = [math.comb(n, k) * num**k * (den - num) ** (n - k) for k in range(n + 1)]
    limit = alpha * den**n / 2  # a tail may hold at most this much weight
    low, tail = 0, 0
    while low < n and tail + weights[low] <= limit:
        tail += weights[low]
        low += 1
    high, tail = n, 0
    while high > low and tail + weights[high] <= limit:
        tail += weights[high]
        high -= 1
    return low, high


# --------------------------------------------------------------------------- prediction


@dataclass(frozen=True, slots=True)
class Expectation:
    """One predicted outcome as the client's socket sees it."""

    key: tuple[str, ...]  # ("reply", endpoint ip:port, source it saw) or ("error", reason)
    outcome: str  # the tracer's words
    share: Fraction
    masquerade: bool | None  # predicted (None: no reply to see it on)


def observation_text(key: tuple[str, ...]) -> str:
    return f"reply from {key[1]} (saw {key[2]})" if key[0] == "reply" else key[1]


class Predictor:
    """The tracer on the staged dump, with the stage's interfaces, routes, sets and sources."""

    def __init__(self, staged: Staged, ruleset: Ruleset) -> None:
        plan = staged.plan
        self.plan = plan
        self.ruleset = ruleset
        bridge = plan.node.bridge
        self.family = family = plan.topology.family
        host = host_len(family)
        routes = [(f"{p.ip}/{host}", bridge) for p in plan.topology.pods if not p.host_network]
        routes += [(f"{plan.external.ip}/{host}", "eth0"), (any_net(family), "eth0")]
        node = NodeContext.of(plan.node_ips, interfaces={"eth0": plan.node_ips, bridge: ()}, routes=routes,
                              ipsets={name: () for name in staged.ipsets})
        self.tracer = Tracer(ruleset, node)
        self.served = {p.ip: set(p.ports) for p in plan.topology.pods}
        self.node_served = {port for p in plan.topology.pods if p.host_network for port in p.ports}

    def source(self, flow: Flow) -> tuple[str, str | None, str | None]:
        """(address, input interface, bridge port) of a flow's packets. The node's own sockets take the address
        the kernel's source selection gives them: loopback's own for a loopback destination, else its first."""
        plan = self.plan
        if flow.origin is Origin.POD:
            return plan.client_pod.ip, plan.node.bridge, plan.client_pod.host_veth
        if flow.origin is Origin.NODE:
            family, value = parse_address(flow.dst)
            own = format_address(family, loopback_source(family)) if loopback(family, value) else plan.node_ips[0]
            return own, None, None
        return plan.external.ip, "eth0", ""  # routed in from the uplink: no bridge port ("" is not bridged)

    def _local(self, address: str) -> bool:
        return address in self.plan.node_ips or netaddr.IPAddress(address).is_loopback()

    def trace(self, flow: Flow) -> Any:
        src, iface, port = self.source(flow)
        return self.tracer.trace(Packet.of(flow.proto, src, flow.dst, flow.port, in_iface=iface, bridge_port=port))

    def expectations(self, flow: Flow) -> tuple[list[Expectation], Any]:
        result = self.trace(flow)
        client = self.source(flow)[0]
        return [self._expect(flow, o, client, result.origin == "local") for o in result.outcomes], result

    def _expect(self, flow: Flow, o: Outcome, client: str, local: bool) -> Expectation:
        if o.verdict in ("DROP", "REJECT"):
            return Expectation(("error", self._failure(flow, o, local)), _outcome_text(o), o.probability_exact, None)
        target = o.destination if o.verdict == "DNAT" and o.destination else host_port(flow.dst, flow.port)
        host, port = split_endpoint(target)
        text = _outcome_text(o) if o.verdict == "DNAT" else f"ACCEPT to {target} (no DNAT)"
        if not self._serves(host, flow.proto, port):
            known = self._local(host) or host in self.served
            answer = (PORT_UNREACHABLE if known else ROUTER_ANSWER)[self.family]
            return Expectation(("error", socket_error(answer, flow.proto)), text, o.probability_exact, None)
        seen = self.plan.node_ips[0] if o.masquerade else client
        lost = self._reply_lost(flow, host, port, client)
        if lost:
            return Expectation(("error", TIMEOUT), f"{text}; the reply is dropped ({lost})", o.probability_exact,
                               o.masquerade)
        return Expectation(("reply", target, seen), text, o.probability_exact, o.masquerade)

    def _serves(self, host: str, proto: str, port: int) -> bool:
        if self._local(host):
            return (proto, port) in self.node_served
        return (proto, port) in self.served.get(host, set())

    def _reply_lost(self, flow: Flow, host: str, port: int, client: str) -> str | None:
        """The verdict of the endpoint's answer on its way back (as FORWARD/INPUT see it), when not ACCEPT."""
        pod = next((p for p in self.plan.topology.pods if p.ip == host and not p.host_network), None)
        packet = Packet.of(flow.proto, host, client, None, port, in_iface=self.plan.node.bridge if pod else None,
                           bridge_port=pod.host_veth if pod else None, ctstate=CtState.ESTABLISHED)
        result = self.tracer.trace(packet)
        lost = [o for o in result.outcomes if o.verdict in ("DROP", "REJECT")]
        if not lost or sum(o.probability_exact for o in lost) < 1:
            return None
        step = lost[0].path[-1] if lost[0].path else None
        return f"{lost[0].verdict} at line {step.line}" if step and step.line else f"{lost[0].verdict} by policy"

    def _failure(self, flow: Flow, o: Outcome, local: bool) -> str:
        """What the socket sees of a REJECT or DROP: EPERM for a datagram stopped on its way out (not one queued:
        see :func:`queued`), else ICMP or nothing."""
        if local and verdict_hook(o.path) in LOCAL_FAIL_HOOKS and flow.proto == "udp" and not queued(o.path):
            return EPERM
        # TCP ignores a SYN it could not send and retries it: a DROP on the way out is a timeout, and a REJECT's
        # ICMP error reaches the local socket like any other
        if o.verdict == "DROP":
            return TIMEOUT
        step = o.path[-1] if o.path else None
        return socket_error(reject_with(step.rule if step else "", self.family), flow.proto)


def socket_error(icmp: str, proto: str) -> str:
    """The probe's reason for an ICMP error of this kind (``timeout`` when a UDP socket is not told)."""
    reason, fatal = ICMP_ERRORS.get(icmp, (UNREACHABLE, True))
    return reason if fatal or proto == "tcp" else TIMEOUT


def _outcome_text(o: Outcome) -> str:
    """The tracer's outcome in a few words; a DROP or REJECT names its line (a rule's, or the declaration of the
    chain whose policy decided: the path ends with it)."""
    head = f"DNAT to {o.destination}" if o.verdict == "DNAT" else o.verdict
    line = o.path[-1].line if o.path and o.verdict in ("DROP", "REJECT") else None
    return head + (f" (line {line})" if line else "")


def reject_with(rule_text: str, family: int) -> str:
    """The ICMP error (or tcp-reset) a REJECT rule of ``family`` (4 or 6) answers with, by its full name as
    iptables reads its ``--reject-with`` (an alias or abbreviation: ``port``, ``TCP``); the family's port
    unreachable without one."""
    words = rule_text.split()
    given = words[words.index("--reject-with") + 1] if "--reject-with" in words[:-1] else None
    found = None if given is None else reject_type(given, family == 6)
    return found or PORT_UNREACHABLE[family]


def verdict_hook(path: Sequence[PathStep]) -> str | None:
    """The built-in chain a verdict was given in: the nearest one at or above the path's last step, in that step's
    table (a policy's verdict ends the path with its chain's declaration: that chain); None for an empty path."""
    if not path:
        return None
    table = path[-1].table
    return next((s.chain for s in reversed(path) if s.table == table and s.chain in BUILTIN_CHAINS.get(table, ())),
                None)


def queued(path: Sequence[PathStep]) -> bool:
    """Whether a QUEUE or NFQUEUE rule (without --queue-bypass: the tracer's DROP) decided. With no listener the
    kernel frees the packet and reports success (``nf_queue`` returns 0, not NF_DROP's -EPERM): the sender is
    not told, even on its way out."""
    return bool(path) and path[-1].rule.split(" -j ")[-1].split()[0] in QUEUE_TARGETS


# --------------------------------------------------------------------------- observation


def observe(plan: StagePlan, flow: Flow, source: str, count: int, timeout: float) -> Counter[tuple[str, ...]]:
    """``count`` real connections from the flow's origin namespace, keyed like :class:`Expectation`.

    A failed probe's error names the flow, as objects mode's do (differential.of_flow): the namespace alone is
    the same for every flow from that origin, and left the user to guess which of them it was. So does one that
    ran past its limit (:class:`.nsexec.Overran`), which reached the CLI as a bug of ours before."""
    namespace = {Origin.POD: plan.client_pod.netns, Origin.NODE: plan.node.netns,
                 Origin.EXTERNAL: plan.external.netns}[flow.origin]
    bind = source if flow.origin is Origin.NODE else ""
    argv = nsexec.python_module(PROBE, flow.dst, str(flow.port), flow.proto, str(count), str(timeout), bind)
    try:
        done = nsexec.run(namespace, argv, timeout=60 + count * timeout)
    except nsexec.Overran as exc:
        raise InputError([Diagnostic(f"flow {flow_name(flow, source)}: {d}") for d in exc.diagnostics]) from None
    if done.returncode != 0:
        raise InputError(Diagnostic(f"flow {flow_name(flow, source)}: the probe failed in {namespace}: "
                                    f"{done.stderr.strip()[-300:]}"))
    seen: Counter[tuple[str, ...]] = Counter()
    for result in json.loads(done.stdout):
        if "error" in result:
            seen[("error", result["error"])] += 1
        else:  # the server writes ADDRESS:PORT, an IPv6 address without brackets
            host, _, port = result["dst"].rpartition(":")
            seen[("reply", host_port(host, int(port)), result["src"].rsplit(":", 1)[0])] += 1
    return seen


def flow_name(flow: Flow, source: str) -> str:
    """A flow as the result table's "from" and "to" columns show it: ``external 203.0.113.10 -> 10.0.0.1:80/tcp``."""
    return f"{flow.origin.value} {source} -> {flow.label}"


# --------------------------------------------------------------------------- judging


@dataclass(frozen=True, slots=True)
class Row:
    outcome: str
    expect: str
    share: Fraction
    low: int
    high: int
    observed: int
    masq_predicted: bool | None
    masq_observed: bool | None

    @property
    def ok(self) -> bool:
        return self.low <= self.observed <= self.high


@dataclass(frozen=True, slots=True)
class FlowResult:
    flow: Flow
    source: str
    count: int
    rows: tuple[Row, ...]
    uncertain: int
    note: str = ""  # set when the flow was run twice
    sticky: bool = False  # ClientIP affinity: one client's connections all take one of the predicted outcomes
    why: tuple[str, ...] = ()  # how it differs ((): it does not)
    blind: tuple[str, ...] = ()  # outcomes whose range starts at 0: one never seen would pass

    @property
    def ok(self) -> bool:
        return not self.why

    @property
    def verdict(self) -> str:
        return "mismatch" if self.why else ("inconclusive" if self.blind else "ok")

    def differences(self) -> str:
        return "; ".join(self.why)

    def as_json(self) -> dict[str, Any]:
        f = self.flow
        return {"from": f.origin.value, "source": self.source, "to": host_port(f.dst, f.port), "proto": f.proto,
                "kind": f.kind, "service": f.service, "count": self.count, "verdict": self.verdict,
                "uncertain_rules": self.uncertain,
                "outcomes": [{"predicted": r.outcome, "expect": r.expect, "share": str(r.share),
                              "range": [r.low, r.high], "observed": r.observed,
                              "masquerade_predicted": r.masq_predicted, "masquerade_observed": r.masq_observed,
                              "ok": r.ok} for r in self.rows],
                "sticky": self.sticky, "note": self.note}


def _merged(expectations: Iterable[Expectation]) -> dict[tuple[str, ...], list[Any]]:
    """Predictions that look alike to the socket, as one: key -> [tracer outcomes, share, masquerade]."""
    merged: dict[tuple[str, ...], list[Any]] = {}
    for e in expectations:
        entry = merged.setdefault(e.key, [[], Fraction(0), e.masquerade])
        entry[0].append(e.outcome)
        entry[1] += e.share
    return merged


def prediction_of(expectations: Iterable[Expectation], sticky: bool = False) -> Any:
    """The flow's :class:`~kubeproxy_sim.kernel.differential.Prediction`, so that both modes size and judge alike;
    a flow of more than LARGE_SERVICE endpoints has its endpoints grouped as objects mode groups them."""
    from kubeproxy_sim.kernel.differential import LARGE_SERVICE, Prediction, fixed_groups, group_key

    shares = {key: share for key, (_, share, _) in _merged(expectations).items() if share > 0}
    sticky = sticky and len(shares) > 1
    targets = sorted({key[1] for key in shares if key[0] == "reply"})
    groups: dict[str, str] = {}
    if len(targets) > LARGE_SERVICE and not sticky:
        labels = fixed_groups([("the node", split_endpoint(t)[0], t) for t in targets])
        groups = dict(labels)
        grouped: dict[tuple[str, ...], Fraction] = {}
        for key, share in shares.items():
            new = group_key(key, groups)
            grouped[new] = grouped.get(new, Fraction(0)) + share
        shares = grouped
    return Prediction(shares, sticky, True, "", groups)


def judge(flow: Flow, source: str, expectations: Iterable[Expectation], seen: Counter[tuple[str, ...]],
          count: int, confidence: Fraction = CONFIDENCE, uncertain: int = 0, masq_visible: bool = True,
          sticky: bool = False, alpha: Fraction | None = None) -> FlowResult:
    """Merge predictions that look alike to the socket, add what was seen but not predicted, bound each count
    (:func:`~kubeproxy_sim.kernel.differential.check_counts`, objects mode's judging).

    ``alpha`` is the level of each of the flow's tests (its share of the run's); without it the flow's own
    ``1 - confidence`` split over its random outcomes. ``masq_visible`` is False for the node's own connections
    from its own address: masquerading to it leaves their source unchanged, so the endpoint cannot tell (from
    loopback's, it can). A ``sticky`` flow (ClientIP affinity: the first connection's endpoint is remembered for
    the client) is right when all its connections took one predicted outcome, whichever.
    """
    from kubeproxy_sim.kernel.differential import check_counts, group_key

    expectations = list(expectations)
    prediction = prediction_of(expectations, sticky)
    merged = _merged(expectations)
    if prediction.groups:  # a large service: its endpoints' rows become their groups' rows
        grouped: dict[tuple[str, ...], list[Any]] = {}
        for key, (outcomes, share, masq) in merged.items():
            new = group_key(key, prediction.groups) if share > 0 else key
            entry = grouped.setdefault(new, [[], Fraction(0), masq])
            entry[0].extend(outcomes)
            entry[1] += share
        merged = grouped
    seen = prediction.reduce(seen)
    for key in seen:
        merged.setdefault(key, [["(not predicted)"], Fraction(0), None])
    if alpha is None:
        alpha = (1 - confidence) / max(sum(1 for _, share, _ in merged.values() if 0 < share < 1), 1)
    checked = check_counts(prediction, Counter(seen), alpha)
    rows = []
    for key, (outcomes, share, masq) in merged.items():
        low, high = checked.ranges.get(key, (0, 0))
        masq_seen = key[2] != source if key[0] in ("reply", "group") and masq_visible else None
        text = f"reply from one of {key[1]} (saw {key[2]})" if key[0] == "group" else observation_text(key)
        if key[0] == "group":
            outcomes = [f"DNAT to one of {key[1]}"]
        rows.append(Row("; ".join(dict.fromkeys(outcomes)), text, share, low, high, seen.get(key, 0), masq,
                        masq_seen))
    rows.sort(key=lambda r: (-r.share, r.expect))
    why = []
    if prediction.sticky and sum(1 for row in rows if row.observed) > 1:
        why.append(f"session affinity: one client reached {sum(1 for row in rows if row.observed)} different "
                   "outcomes, expected one")
    why += [f"{row.expect}: {row.observed} of {count}, expected {row.low}-{row.high}" for row in rows
            if not row.ok and (not prediction.grouped or row.share == 0)]
    blind = tuple(observation_text(k) for k in checked.blind)
    return FlowResult(flow, source, count, tuple(rows), uncertain, sticky=prediction.sticky,
                      why=tuple(why) + checked.why, blind=blind)


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def render_table(results: Sequence[FlowResult]) -> str:
    from kubeproxy_sim.kernel.differential import cannot_tell

    head = ("#", "from", "to", "kind", "predicted", "share", "range", "observed", "masq pred/obs",
            "socket sees", "verdict")
    table: list[tuple[str, ...]] = [head]
    for number, result in enumerate(results, start=1):
        f = result.flow
        for i, row in enumerate(result.rows):
            first = i == 0
            verdict = {"ok": "ok", "mismatch": "MISMATCH", "inconclusive": "CANNOT TELL"}[result.verdict] if first \
                else ("" if row.ok else "<-")
            table.append((str(number) if first else "", f"{f.origin.value} {result.source}" if first else "",
                          f.label if first else "", f.kind if first else "", row.outcome,
                          f"{float(row.share):.1%}", f"{row.low}-{row.high}", f"{row.observed}/{result.count}",
                          f"{_yes(row.masq_predicted)}/{_yes(row.masq_observed)}", row.expect, verdict))
    widths = [max(len(r[c]) for r in table) for c in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines += [f"#{number}: sticky (ClientIP affinity): one client's connections must all take one of these "
              "outcomes" for number, result in enumerate(results, start=1) if result.sticky]
    lines += [f"#{number}: {why}" for number, result in enumerate(results, start=1) for why in result.why
              if not why.startswith(tuple(f"{row.expect}: " for row in result.rows))]
    lines += [f"#{number}: {cannot_tell(result.blind, result.count)}" for number, result in
              enumerate(results, start=1) if result.ok and result.blind]
    lines += [f"#{number}: {result.note}" for number, result in enumerate(results, start=1) if result.note]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the whole run


@dataclass(frozen=True, slots=True)
class Report:
    file: str
    plan: StagePlan
    left_out: tuple[LeftOut, ...]
    ipsets: tuple[str, ...]
    nfacct: tuple[str, ...]
    results: tuple[FlowResult, ...]
    notes: tuple[str, ...] = ()
    alpha: Fraction = DEFAULT_ALPHA

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def inconclusive(self) -> int:
        """Flows that could not tell (a range starts at 0): not a mismatch, yet no pass either (exit status 1)."""
        return sum(r.verdict == "inconclusive" for r in self.results)

    def warnings(self) -> list[str]:
        """One line per rule left out of the staged dump, naming its line."""
        return [f"{self.file}:{x.line}: warning: left out of the staged dump ({x.reason}): {x.rule}"
                for x in self.left_out]

    def summary(self) -> list[str]:
        plan = self.plan
        served = [p for p in plan.topology.pods if p.ports]
        lines = [f"staged {self.file} in {plan.node.netns}: node {', '.join(plan.node_ips)}, "
                 f"{len(served)} endpoints ({sum(p.host_network for p in served)} on the node), pod subnets "
                 f"{', '.join(plan.pod_subnets) or 'none'} behind {plan.node.bridge}, client pod "
                 f"{plan.client_pod.ip}, external client {plan.external.ip}"]
        if self.ipsets or self.nfacct:
            lines.append(f"created empty: {len(self.ipsets)} ipsets, {len(self.nfacct)} nfacct counters")
        if self.left_out:
            lines.append(f"left out: {len(self.left_out)} rules this kernel refused (lines "
                         f"{', '.join(str(x.line) for x in self.left_out)})")
        lines += list(self.notes)
        mismatches = sum(not r.ok for r in self.results)
        blind = self.inconclusive
        unsure = f", {blind} cannot tell (a range starts at 0: more connections needed)" if blind else ""
        lines.append(f"{len(self.results)} flows: {len(self.results) - mismatches - blind} ok, {mismatches} "
                     f"mismatched{unsure} (false alarm rate of the whole run at most {float(self.alpha):.2%})")
        return lines

    def as_json(self) -> dict[str, Any]:
        plan = self.plan
        return {"rules": self.file, "node_ips": list(plan.node_ips), "pod_subnets": list(plan.pod_subnets),
                "client_pod": plan.client_pod.ip, "external_client": plan.external.ip,
                "endpoints": {p.ip: {"on_node": p.host_network, "ports": [f"{a}:{b}" for a, b in p.ports]}
                              for p in plan.topology.pods if p.ports},
                "ipsets": list(self.ipsets), "nfacct": list(self.nfacct),
                "left_out": [{"line": x.line, "rule": x.rule, "reason": x.reason} for x in self.left_out],
                "notes": list(self.notes), "ok": self.ok, "inconclusive": self.inconclusive,
                "flows": [r.as_json() for r in self.results]}


def _notes(ruleset: Ruleset) -> list[str]:
    if any(chain.builtin for table in ruleset.tables for chain in table.chains):
        return []
    return ["note: the dump has no built-in chains (a kube-proxy restore input?): packets never reach its chains; "
            "expected an iptables-save of a node"]


def reply_wait(expectations: Iterable[Expectation], timeout: float) -> float:
    """Seconds an attempt waits: ``timeout`` when silence is a predicted outcome, else at least PATIENT_TIMEOUT."""
    if any(e.key == ("error", TIMEOUT) for e in expectations):
        return timeout
    return max(timeout, PATIENT_TIMEOUT)


def run_flow(predictor: Predictor, flow: Flow, count: int | None, timeout: float, alpha: Fraction | None = None,
             predicted: tuple[list[Expectation], Any] | None = None) -> FlowResult:
    """Observe and judge one flow: ``flow.count``, else ``count``, else sized for its tests at ``alpha`` (each
    test's level; None: the flow's own 0.1%)."""
    from kubeproxy_sim.kernel.differential import sample_size

    expectations, traced = predicted or predictor.expectations(flow)
    source = predictor.source(flow)[0]
    sticky = remembers_client(traced.outcomes)
    n = flow.count or count or sample_size(prediction_of(expectations, sticky), alpha or DEFAULT_ALPHA)
    wait = reply_wait(expectations, timeout)

    def run_once() -> FlowResult:
        seen = observe(predictor.plan, flow, source, n, wait)
        return judge(flow, source, expectations, seen, n, uncertain=len(traced.uncertain),
                     masq_visible=flow.origin is not Origin.NODE or netaddr.IPAddress(source).is_loopback(),
                     sticky=sticky, alpha=alpha)

    first = run_once()
    if first.ok:
        return first
    again = run_once()  # see the module doc: judged on this run, and the first one's difference is reported
    note = f"run twice: the first run differed too: {again.differences()}" if not again.ok else \
        f"the first run differed: {first.differences()}"
    return dataclasses.replace(again, note=note)


def verify(path: str, directory: Path, *, name: str, node_ips: Sequence[str] = (), flows_file: str | None = None,
           count: int | None = DEFAULT_COUNT, timeout: float = DEFAULT_TIMEOUT, max_flows: int | None = None,
           origins: Sequence[Origin] = tuple(Origin), bridge: str = "cbr0", progress: Any = None,
           alpha: Fraction = DEFAULT_ALPHA) -> Report:
    """Stage the dump, predict and observe every flow, remove the stage (also on error).

    ``alpha`` is the whole run's false alarm rate, split over every flow's tests as objects mode splits it;
    ``count`` None sizes each flow (a flows file's ``count`` fixes its flow's).
    ``progress`` (label, total) -> a context giving a tick function: the command line's progress display."""
    from kubeproxy_sim.kernel.differential import no_progress, per_row_alpha
    from kubeproxy_sim.kernel.stage import plan_stage, read_dump, stage, unstage
    from kubeproxy_sim.netfilter.codec import parse_ruleset, partial_input
    from kubeproxy_sim.netfilter.dumpfile import dump_name, read_dump_text

    text = read_dump_text(path)  # "-": standard input
    path = dump_name(path)
    ruleset = parse_ruleset(text, file=path)  # the family is the dump's: iptables-save or ip6tables-save
    partial = partial_input(ruleset, path, "a scratch node has no such chains, so iptables-restore would refuse "
                            "it at COMMIT; expected the node's iptables-save output")
    if partial:
        raise InputError(partial)
    plan = plan_stage(name, read_dump(ruleset), node_ips, bridge)
    given = load_flows(flows_file, plan.node_ips[0]) if flows_file else None
    progress = progress or no_progress
    with progress("staging the node"):
        staged = stage(plan, text, path, directory)
    try:
        loaded = parse_ruleset(staged.text, file=path, ipv6=ruleset.ipv6)
        flows = given[:max_flows] if given is not None else derive_flows(loaded, plan.node_ips[0], origins,
                                                                          max_flows)
        predictor = Predictor(staged, loaded)
        predicted = [predictor.expectations(flow) for flow in flows]
        row_alpha = per_row_alpha([prediction_of(e, remembers_client(t.outcomes)) for e, t in predicted], alpha)
        results_list = []
        with progress("running flows", len(flows)) as tick:
            for flow, guess in zip(flows, predicted, strict=True):
                results_list.append(run_flow(predictor, flow, count, timeout, row_alpha, guess))
                tick()
        results = tuple(results_list)
    finally:
        unstage(staged, directory)
    return Report(path, plan, staged.left_out, staged.ipsets, staged.nfacct, results, tuple(_notes(ruleset)), alpha)
