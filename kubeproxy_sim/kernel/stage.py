"""A real node's dump staged in network namespaces: the node, its endpoints, a pod client and an external client.

``read_dump`` learns from the dump what the stage needs (DNAT targets and their
ports, ipsets, nfacct counters, the cluster CIDR); ``plan_stage`` turns that into a
:class:`~kubeproxy_sim.kernel.plan.Topology` (pure, no root needed); ``stage``
builds it with the kernel builder, creates the empty sets and counters, loads the
dump with iptables-restore and starts a server in every endpoint. A rule this
kernel refuses is commented out (so every other line keeps its number), reported
with its line, and the load is retried. The state record is written as soon as
the stage's name is claimed (see :func:`~kubeproxy_sim.kernel.build.claimed`), with
status ``verifying``: it lives exactly as long as this process, so ``netns gc``
removes whatever a killed run left.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netaddr

from kubeproxy_sim.errors import Diagnostic, InputError, KubeproxySimError
from kubeproxy_sim.kernel import build, nsexec, sysfs
from kubeproxy_sim.kernel.build import KernelError
from kubeproxy_sim.kernel.plan import (
    DEFAULT_CLIENT,
    DEFAULT_CLIENT6,
    GATEWAY,
    GATEWAY6,
    ROUTER,
    ROUTER6,
    ClientPlan,
    NodePlan,
    PodPlan,
    Topology,
    check_name,
    cluster_prefix,
    host_len,
)
from kubeproxy_sim.kernel.state import write_state
from kubeproxy_sim.netfilter.codec import crlf_as_lf
from kubeproxy_sim.netfilter.dumpfile import dump_node_addresses
from kubeproxy_sim.netfilter.model import Rule, Ruleset
from kubeproxy_sim.objects.model import IPFamily
from kubeproxy_sim.objects.nodes import synthesised_node_addresses
from kubeproxy_sim.proxier.config import ProxyConfig

NODE = "node"
SERVED = ("tcp", "udp")
MAX_LOAD_ATTEMPTS = 200
LEFT_OUT = "# left out by kubeproxy-sim netns verify: "
SET_TYPES = {1: "hash:net", 2: "hash:ip,port", 3: "hash:ip,port,ip"}
# where the client pod lives when the dump names no cluster CIDR and no endpoint subnet
FALLBACK_POD_SUBNET = {4: "10.244.0.0/24", 6: "fd00:10:244::/64"}
# the subnet an endpoint outside every cluster CIDR is given (a node's pod range is commonly this size)
ENDPOINT_PREFIX = {4: 24, 6: 64}
# the shortest prefix read as a cluster CIDR: a shorter one would hold the stage's own addresses
SHORTEST_CLUSTER_PREFIX = {4: 8, 6: 16}
ERROR_LINE = (re.compile(r"Error occurred at line: (\d+)"), re.compile(r"\bline (\d+):"))
RESTORE_PREFIX = re.compile(r"^ip6?tables-restore v[\d.]+ \([^)]*\):\s*")
NO_REASON = "iptables-restore failed without saying why"


@dataclass(frozen=True, slots=True)
class DumpFacts:
    """What a dump asks of the stage, read from its rules alone."""

    endpoints: dict[str, frozenset[tuple[str, int]]]  # DNAT target address -> (proto, port) to serve
    ipsets: dict[str, tuple[int, tuple[int, ...]]]  # set name -> (dimensions, lines of the rules using it)
    nfacct: dict[str, tuple[int, ...]]  # counter name -> lines
    cluster_cidrs: tuple[str, ...]  # from the "! -s CIDR -j KUBE-MARK-MASQ" rules, most used first
    skipped: tuple[tuple[int, str], ...] = ()  # (line, why) for DNAT targets that cannot be served
    family: int = 4  # an iptables-save (4) or an ip6tables-save (6)


@dataclass(frozen=True, slots=True)
class StagePlan:
    topology: Topology
    node_ips: tuple[str, ...]
    client_pod: PodPlan
    external: ClientPlan
    pod_subnets: tuple[str, ...]
    facts: DumpFacts

    @property
    def node(self) -> NodePlan:
        return self.topology.nodes[0]


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A rule commented out of the staged dump, and why."""

    line: int
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Staged:
    plan: StagePlan
    text: str  # the dump as loaded (left-out rules commented, line numbers kept)
    left_out: tuple[LeftOut, ...]
    ipsets: tuple[str, ...]  # created empty
    nfacct: tuple[str, ...]  # created
    state: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading the dump (pure)


def _option(rule: Rule, flag: str) -> tuple[str, ...] | None:
    for option in rule.parsed.options:
        if option.flag == flag:
            return option.args
    return None


def _split_target(text: str, family: int) -> tuple[str, str]:
    """(address, port text) of a --to-destination: ``A``, ``A:P`` in IPv4; ``A``, ``[A]`` or ``[A]:P`` in IPv6."""
    if family == 4:
        return text.rpartition(":")[::2] if text.count(":") == 1 else (text, "")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else rest
    return text, ""


def _dnat_target(rule: Rule, family: int = 4) -> tuple[str, int | None] | str:
    """(address, port) of a DNAT rule, or why it cannot be served."""
    target = rule.target
    option = target.option("--to-destination") if target else None
    if option is None or not option.args:
        return "DNAT without --to-destination"
    text = option.args[0]
    host, port = _split_target(text, family)
    if "-" in host or "-" in port:
        return f"DNAT to a range ({text}); only single addresses are served"
    try:
        address = str(netaddr.IPAddress(host, family))
    except (netaddr.AddrFormatError, ValueError):
        return f"DNAT to {text!r}, not an IPv{family} address"
    return address, int(port) if port.isdigit() else None


def _protocols(rule: Rule) -> tuple[str, ...]:
    proto = _option(rule, "-p")
    return (proto[0].lower(),) if proto else SERVED


def _dnat_endpoints(ruleset: Ruleset) -> tuple[dict[str, set[tuple[str, int]]], list[tuple[int, str]]]:
    family = 6 if ruleset.ipv6 else 4
    endpoints: dict[str, set[tuple[str, int]]] = {}
    skipped: list[tuple[int, str]] = []
    nat = ruleset.table("nat")
    for rule in nat.rules() if nat else ():
        if rule.target is None or rule.target.name != "DNAT":
            continue
        found = _dnat_target(rule, family)
        if isinstance(found, str):
            skipped.append((rule.line, found))
            continue
        address, port = found
        served = endpoints.setdefault(address, set())
        if port is not None:
            served.update((proto, port) for proto in _protocols(rule) if proto in SERVED)
    return endpoints, skipped


def read_dump(ruleset: Ruleset) -> DumpFacts:
    """DNAT targets, ipsets, nfacct counters and the cluster CIDR the dump uses."""
    endpoints, skipped = _dnat_endpoints(ruleset)
    ipsets: dict[str, tuple[int, tuple[int, ...]]] = {}
    nfacct: dict[str, tuple[int, ...]] = {}
    cidrs: Counter[str] = Counter()
    for table in ruleset.tables:
        for rule in table.rules():
            for option in rule.parsed.options:
                if option.flag == "--match-set" and len(option.args) == 2:
                    dims, lines = ipsets.get(option.args[0], (0, ()))
                    ipsets[option.args[0]] = (max(dims, len(option.args[1].split(","))), (*lines, rule.line))
                elif option.flag == "--nfacct-name" and option.args:
                    nfacct[option.args[0]] = (*nfacct.get(option.args[0], ()), rule.line)
                elif option.flag == "-s" and option.negated and rule.target and rule.target.name == "KUBE-MARK-MASQ":
                    cidrs[option.args[0]] += 1
    return DumpFacts({a: frozenset(p) for a, p in endpoints.items()}, ipsets, nfacct,
                     tuple(c for c, _ in cidrs.most_common()), tuple(skipped), 6 if ruleset.ipv6 else 4)


# --------------------------------------------------------------------------- the plan (pure)


def _cidr(text: str, family: int) -> netaddr.IPNetwork | None:
    """A network of the dump's family that could be a cluster CIDR, or None."""
    try:
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError):
        return None
    return net if net.version == family and net.prefixlen >= SHORTEST_CLUSTER_PREFIX[family] else None


def _own(address: str, node_ips: Iterable[str]) -> bool:
    """Served in the node namespace: one of the node's addresses, or loopback."""
    return address in node_ips or netaddr.IPAddress(address).is_loopback()


def pod_subnets(addresses: Iterable[str], cluster_cidrs: Iterable[str], family: int = 4) -> tuple[str, ...]:
    """The subnets the endpoints live in: the cluster CIDR that holds them, else their /24 (IPv6: /64)."""
    nets = [n for n in (_cidr(c, family) for c in cluster_cidrs) if n is not None]
    found: dict[str, None] = {}
    for address in addresses:
        ip = netaddr.IPAddress(address)
        net = (next((n for n in nets if ip in n), None)
               or netaddr.IPNetwork(f"{address}/{ENDPOINT_PREFIX[family]}").cidr)
        found[str(net.cidr)] = None
    return tuple(found)


def _free_in(net: netaddr.IPNetwork, taken: set[str]) -> str | None:
    """A host address of ``net`` nobody uses, preferring high last octets (endpoints are usually low)."""
    for offset in range(200, min(net.size - 1, 200 + 4096)):
        candidate = str(netaddr.IPAddress(net.first + offset, net.version))
        if candidate not in taken and not candidate.endswith((".0", ".255")):
            return candidate
    return next((str(ip) for ip in net.iter_hosts() if str(ip) not in taken), None)


def _client_pod_ip(facts: DumpFacts, subnets: tuple[str, ...], taken: set[str]) -> str:
    """Inside the cluster CIDR when the dump names one (then kube-proxy does not masquerade it)."""
    for text in (*facts.cluster_cidrs, *subnets, FALLBACK_POD_SUBNET[facts.family]):
        net = _cidr(text, facts.family)
        free = _free_in(net, taken) if net is not None else None
        if free is not None:
            return free
    raise InputError(Diagnostic("no free address for the client pod", field="--rules"))


def _external_ip(taken: set[str], family: int) -> str:
    candidate = netaddr.IPAddress(DEFAULT_CLIENT if family == 4 else DEFAULT_CLIENT6)
    while str(candidate) in taken:
        candidate += 1
    return str(candidate)


def _node_ips(given: Iterable[str], family: int, taken: set[str]) -> tuple[str, ...]:
    """The ``--node-ip`` addresses (without prefixes), which must be of the dump's family; else one made up."""
    return dump_node_addresses(given, family) or (next(synthesised_node_addresses(taken, family)),)


def plan_stage(name: str, facts: DumpFacts, node_ips: Iterable[str] = (), bridge: str = "cbr0") -> StagePlan:
    """Namespaces and addresses: the node, one namespace per endpoint, a client pod and an external client."""
    check_name(name)
    prefix = cluster_prefix(name)
    family = facts.family
    taken = {*facts.endpoints, GATEWAY, ROUTER} if family == 4 else {*facts.endpoints, GATEWAY6, ROUTER6}
    ips = _node_ips(node_ips, family, taken)
    taken |= set(ips)
    config = ProxyConfig(node_name=NODE, node_ips=tuple(f"{i}/{host_len(family)}" for i in ips),
                         ip_family=IPFamily.IPV4 if family == 4 else IPFamily.IPV6)
    node = NodePlan(NODE, f"{prefix}n0", ips, config, uplink="n0", bridge=bridge)
    pods: list[PodPlan] = []
    remote = sorted((a for a in facts.endpoints if not _own(a, ips)), key=netaddr.IPAddress)
    for address in sorted(facts.endpoints, key=netaddr.IPAddress):
        ports = tuple(sorted(facts.endpoints[address]))
        if _own(address, ips):
            pods.append(PodPlan(f"node/{address}", NODE, node.netns, address, ports, host_network=True))
        else:
            index = len([p for p in pods if not p.host_network])
            pods.append(PodPlan(f"endpoint/{address}", NODE, f"{prefix}p{index}", address, ports,
                                host_veth=f"veth{index}"))
    subnets = pod_subnets(remote, facts.cluster_cidrs, family)
    client_ip = _client_pod_ip(facts, subnets, taken)
    taken.add(client_ip)
    index = len([p for p in pods if not p.host_network])
    client_pod = PodPlan("client/pod", NODE, f"{prefix}p{index}", client_ip, (), host_veth=f"veth{index}")
    external = ClientPlan(_external_ip(taken, family), f"{prefix}c0", "c0")
    topo = Topology(name, f"{prefix}net", (node,), (*pods, client_pod), (external,), family=family)
    return StagePlan(topo, ips, client_pod, external, subnets, facts)


# --------------------------------------------------------------------------- loading the dump (kernel)


def _create_ipsets(sets: dict[str, int]) -> list[str]:
    """Empty sets of the dimensions the rules use (runs inside the node namespace)."""
    from pyroute2.ipset import IPSet

    with IPSet() as ipset:
        for name, dims in sets.items():
            ipset.create(name, stype=SET_TYPES.get(dims, "hash:ip,port,ip"))
    return list(sets)


def _prepare_sets(plan: StagePlan, lines: list[str]) -> tuple[list[str], list[str], list[LeftOut]]:
    """Create the ipsets and nfacct counters; when this kernel cannot, their rules are left out."""
    node_ns, facts = plan.node.netns, plan.facts
    left: list[LeftOut | None] = []  # None: a line already left out (dropped at the end)
    sets: list[str] = []
    counters: list[str] = []
    if facts.ipsets:
        try:
            sets = nsexec.call(node_ns, _create_ipsets, {n: d for n, (d, _) in facts.ipsets.items()})
        except OSError as exc:
            why = f"the ipsets cannot be created here ({exc})"
            left += [_leave_out(lines, n, why) for _, ns in facts.ipsets.values() for n in ns]
    if facts.nfacct:
        try:
            counters = nsexec.call(node_ns, sysfs.create_nfacct, sorted(facts.nfacct))
        except OSError as exc:
            why = f"the nfacct counters cannot be created here ({exc})"
            left += [_leave_out(lines, n, why) for ns in facts.nfacct.values() for n in ns]
    return sets, counters, [x for x in left if x is not None]


def _leave_out(lines: list[str], number: int, reason: str) -> LeftOut | None:
    """Comment out line ``number`` (1-based), keeping every other line's number."""
    text = lines[number - 1]
    if text.startswith(LEFT_OUT):
        return None
    lines[number - 1] = LEFT_OUT + text
    return LeftOut(number, text, reason)


def failing_line(stderr: str) -> tuple[int | None, str]:
    """The line iptables-restore stopped at, and its complaint without the program banner (iptables-nft puts the
    banner on a line of its own before the complaint: that line says nothing). When nothing is said but where,
    that; when nothing at all, :data:`NO_REASON`."""
    number = None
    for pattern in ERROR_LINE:
        match = pattern.search(stderr)
        if match:
            number = int(match.group(1))
            break
    said = (RESTORE_PREFIX.sub("", s).strip() for s in stderr.splitlines()
            if not s.startswith(("Error occurred", "Try `")))
    return number, next((s for s in said if s), RESTORE_PREFIX.sub("", stderr.strip()).strip()) or NO_REASON


def restore_lines(text: str) -> list[str]:
    """A dump's lines as iptables-restore is given them again: split at "\n" only, as the parser and restore
    split (a CR, form feed or U+2028 inside a comment is part of its line: str.splitlines cut the rule in two,
    and restore then refused its second half, at a line number the dump does not have), with the parser's line
    ends (codec.crlf_as_lf: a file all of CRLF lines loses each final CR and loads, though iptables-restore
    refuses one; a CR anywhere else stays in its word, as the parser and restore read it)."""
    lines = crlf_as_lf(text).split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def load_dump(netns_name: str, text: str, file: str, facts: DumpFacts,
              lines: list[str] | None = None) -> tuple[str, list[LeftOut]]:
    """iptables-restore (ip6tables-restore, by the family of ``facts``) the dump's ``lines`` (default: its text's);
    each rule the kernel refuses is left out and the load retried. ``facts``: the dump's (:func:`read_dump`). (A
    jump to a chain the dump never declares, which iptables-nft reports at COMMIT, never gets here: the parser
    refuses it at its line, as iptables-legacy-restore does.)"""
    lines = restore_lines(text) if lines is None else lines
    left: list[LeftOut] = []
    tool = "iptables-restore" if facts.family == 4 else "ip6tables-restore"
    for _ in range(MAX_LOAD_ATTEMPTS):
        staged = "\n".join(lines) + "\n"
        done = nsexec.run(netns_name, [tool, "-w", "5"], stdin=staged)
        if done.returncode == 0:
            return staged, left
        number, complaint = failing_line(done.stderr)
        if number is None or not 0 < number <= len(lines) or not lines[number - 1].lstrip().startswith("-A"):
            where = f"{file}:{number}" if number else file
            raise KernelError(f"{where}: this kernel refused the dump: {complaint}")
        out = _leave_out(lines, number, f"this kernel refused it: {complaint}")
        if out is None:
            raise KernelError(f"{file}:{number}: this kernel refused the dump: {complaint}")
        left.append(out)
    raise KernelError(f"{file}: this kernel refused more than {MAX_LOAD_ATTEMPTS} of its rules")


def _answer_unknown(plan: StagePlan) -> None:
    """The router (see :func:`build._router_answers`) gets a route back to the pods, through the node, so its
    "network unreachable" answers reach them too."""
    topo = plan.topology
    with nsexec.iproute(topo.net_netns) as ipr:
        bridge = ipr.link_lookup(ifname="br0")[0]
        for pod in topo.pods:
            if not pod.host_network:
                ipr.route("add", dst=f"{pod.ip}/{host_len(topo.family)}", gateway=plan.node_ips[0], oif=bridge,
                          flags=build.RTNH_F_ONLINK)


def stage(plan: StagePlan, text: str, file: str, directory: Path) -> Staged:
    """Build the stage; on any failure everything built so far is removed and the error re-raised."""
    topo = plan.topology
    state = build.initial_state(topo, directory)
    state.update(status="verifying", kind="verify", rules=file)
    try:
        with build.claimed(topo, directory, state):  # what it built is removed on any failure
            build.wire(topo)
            _answer_unknown(plan)
            lines = restore_lines(text)
            sets, counters, left = _prepare_sets(plan, lines)
            staged, refused = load_dump(plan.node.netns, text, file, plan.facts, lines)
            state["servers"] = build.start_servers(topo)
            write_state(directory, state)
    except KubeproxySimError:
        raise
    except Exception as exc:  # netlink and OS errors: said in one line, never a traceback
        raise KernelError(f"{topo.name}: staging {file} failed: {type(exc).__name__}: {exc}") from exc
    return Staged(plan, staged, tuple(sorted(left + refused, key=lambda x: x.line)), tuple(sets), tuple(counters),
                  state)


def unstage(staged: Staged, directory: Path) -> list[str]:
    return build.teardown(staged.plan.topology.name, directory, staged.state)
