"""Turning a :class:`Topology` into namespaces, links, routes, rules and servers, and back to nothing.

All changes happen inside namespaces named ``kpsim-NAME.*``: links are created
from a netlink socket opened inside a namespace (pyroute2's ``netns=``), peers are
placed straight into their target namespace, sysctls and rules are written by
children that entered the namespace. The node-network namespace is created
first (which claims the name, see :func:`claimed`) and at once marked with its
owner (see :mod:`.state`); :func:`teardown` removes exactly the namespaces of the
cluster's prefix (that one last, so the marker outlives the rest) and the
servers running in them; :func:`claimed` calls it when a build that got the
name fails; :func:`gc` calls it for clusters whose owner is gone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import netaddr
from pyroute2 import IPRoute, netns

from kubeproxy_sim import signals
from kubeproxy_sim.errors import KubeproxySimError
from kubeproxy_sim.kernel import dscp, nsexec, sysfs
from kubeproxy_sim.kernel.plan import PREFIX, NodePlan, PodPlan, Topology, any_net, cluster_prefix, host_len
from kubeproxy_sim.kernel.probe import SEEDED_PORTS
from kubeproxy_sim.kernel.responder import dns_records
from kubeproxy_sim.kernel.server import answers_dns
from kubeproxy_sim.kernel.state import (
    SERVER_MARK,
    Owner,
    being_built,
    building_owner,
    owner_of,
    pid_alive,
    read_state,
    read_state_file,
    remove_state,
    stat_fields,
    state_owner_alive,
    state_path,
    write_state,
)
from kubeproxy_sim.objects.model import Cluster
from kubeproxy_sim.proxier.rules.context import serves_localhost_nodeports

SCOPE_LINK = 253
RTNH_F_ONLINK = 4
IFA_F_NOPREFIXROUTE = 0x200
SERVER_START_TIMEOUT = 60.0  # a Python start on a loaded 2-core machine can take seconds
RESTORE_TIMEOUT = 120.0
POOL_TABLE, POOL_LOCAL_PRIORITY = 200, 32000  # a pool's own routes, and where its local table moves to
OWNER_LINK = "kpsim-owner"
GC_GRACE = 600.0  # seconds: a namespace without an owner marker this young may be a build still starting
KEEPER = "keeper"
VOID = "void"  # the router's dead-end link
# per namespace only in newer kernels (where older ones keep them global, the namespace has no such file);
# tcp_reflect_tos is 5.10's
REFLECT_TOS = "net.ipv4.tcp_reflect_tos"
OPTIONAL_SYSCTLS = ("net.ipv4.icmp_msgs_per_sec", "net.ipv4.icmp_msgs_burst", REFLECT_TOS)


class KernelError(KubeproxySimError):
    """The kernel refused a step of the build (the message names the namespace and the step)."""


class NameTaken(KernelError):
    """The cluster's name is another cluster's (or another build's): nothing was created."""


def _link_index(ipr: IPRoute, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise KernelError(f"no link {name}")
    return found[0]


def _up(ipr: IPRoute, name: str, **extra: Any) -> int:
    index = _link_index(ipr, name)
    ipr.link("set", index=index, state="up", **extra)
    return index


def _bridge(ipr: IPRoute, name: str) -> int:
    ipr.link("add", ifname=name, kind="bridge")
    return _up(ipr, name)


# --------------------------------------------------------------------------- ownership


def mark_owner(net_netns: str, owner: Owner) -> None:
    """Record the owner in the namespace itself: a link (dummy, else an empty bridge) whose alias names it."""
    with nsexec.iproute(net_netns) as ipr:
        if not ipr.link_lookup(ifname=OWNER_LINK):
            try:
                ipr.link("add", ifname=OWNER_LINK, kind="dummy")
            except Exception:  # no dummy driver in this kernel: any link can carry an alias
                ipr.link("add", ifname=OWNER_LINK, kind="bridge")
        ipr.link("set", index=_link_index(ipr, OWNER_LINK), ifalias=owner.text())


def read_owner(net_netns: str) -> Owner | None:
    """The owner the marker names; None when the namespace or the marker is missing (a bare mount point file,
    which no namespace is mounted on, holds no marker).

    Any other failure to read it (out of file descriptors, a netlink error) raises: "no marker" lets
    :func:`gc` tear the cluster down, which must never happen to a live one because a read failed.
    """
    if not os.path.exists(nsexec.netns_path(net_netns)):
        return None  # pyroute2 would create a namespace it is asked to open
    if not nsexec.mounted(net_netns):
        return None  # setns(2) on it fails (EINVAL), which is no failure to read a marker that is there
    try:
        with nsexec.iproute(net_netns) as ipr:
            found = ipr.link_lookup(ifname=OWNER_LINK)
            links = ipr.get_links(found[0]) if found else []
    except Exception:
        if not os.path.exists(nsexec.netns_path(net_netns)):
            return None  # the namespace went away meanwhile
        raise
    return Owner.parse(links[0].get_attr("IFLA_IFALIAS")) if links else None


# --------------------------------------------------------------------------- namespaces, links, routes


def _sysctls(topo: Topology) -> None:
    """Forwarding, no reverse-path filter (routes here are asymmetric by design), and kube-proxy's settings.

    ICMP errors are not rate limited, per peer nor per namespace (the burst too: flows run side by side, and a
    REJECT or "no route" answer dropped by the limiter would read as silence, a DROP). IPv6 addresses skip
    duplicate address detection, so they are usable at once. A TCP server answers with the DSCP value of the
    SYN it accepted (IPv4 and IPv6): ``netns send`` counts its run's packets by it (see :mod:`.dscp`).
    The ports a seeded run binds (:data:`.probe.SEEDED_PORTS`) are reserved from the kernel's own picks (IPv4
    and IPv6 alike), so a socket whose port the kernel chooses (a DNS retry over TCP, an unseeded connection)
    never takes one a seeded connection is about to bind (EADDRINUSE); the range the kernel picks from keeps
    about as many ports as its default (1024-19999 and 60000-65535).
    """
    base = {"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0",
            "net.ipv4.icmp_ratelimit": "0", "net.ipv4.icmp_msgs_per_sec": "1000000",
            "net.ipv4.icmp_msgs_burst": "1000000", REFLECT_TOS: "1",
            "net.ipv4.ip_local_port_range": "1024 65535",
            "net.ipv4.ip_local_reserved_ports": f"{SEEDED_PORTS.start}-{SEEDED_PORTS.stop - 1}"}
    if topo.family == 6:
        base |= {"net.ipv6.icmp.ratelimit": "0", "net.ipv6.conf.all.accept_dad": "0",
                 "net.ipv6.conf.default.accept_dad": "0", "net.ipv6.conf.all.disable_ipv6": "0",
                 "net.ipv6.conf.default.disable_ipv6": "0"}
    for name in topo.namespaces():
        nsexec.call(name, sysfs.write_sysctls, base, OPTIONAL_SYSCTLS)
    nsexec.call(topo.net_netns, sysfs.write_sysctls, _forwarding(topo.family))
    for node in topo.nodes:
        values = _forwarding(topo.family) | {"net.bridge.bridge-nf-call-iptables": "1",
                                             "net.bridge.bridge-nf-call-ip6tables": "1"}
        if serves_localhost_nodeports(node.config):  # as NewProxier: only when NodePorts answer on loopback
            values["net.ipv4.conf.all.route_localnet"] = "1"
        if node.config.conntrack_tcp_be_liberal:
            values["net.netfilter.nf_conntrack_tcp_be_liberal"] = "1"
        nsexec.call(node.netns, sysfs.write_sysctls, values)


def _forwarding(family: int) -> dict[str, str]:
    return {"net.ipv4.ip_forward": "1"} if family == 4 else {"net.ipv6.conf.all.forwarding": "1"}


def _lo_up(topo: Topology) -> None:
    for name in topo.namespaces():
        with nsexec.iproute(name) as ipr:
            _up(ipr, "lo")


def _host(address: str, family: int) -> str:
    return f"{address}/{host_len(family)}"


def _uplink(topo: Topology, host_netns: str, peer: str, addresses: tuple[str, ...]) -> None:
    """``eth0`` in ``host_netns``, its peer on the node network's bridge, each address as a host address."""
    with nsexec.iproute(host_netns) as ipr:
        ipr.link("add", ifname="eth0", kind="veth", peer={"ifname": peer, "net_ns_fd": topo.net_netns})
        index = _up(ipr, "eth0")
        # IPv6 MASQUERADE picks its source by address selection, not the route's prefsrc: among equals the
        # address added last wins, so the primary (the simulator's masquerade source) is added last
        for address in addresses if topo.family == 4 else reversed(addresses):
            ipr.addr("add", index=index, address=address, prefixlen=host_len(topo.family))
    with nsexec.iproute(topo.net_netns) as ipr:
        _up(ipr, peer, master=_link_index(ipr, "br0"))


def _gateway_address(ipr: IPRoute, index: int, topo: Topology) -> None:
    """The pods' next hop on a node-side link (IPv6: the link-local fe80::1/64)."""
    if topo.family == 4:
        ipr.addr("add", index=index, address=topo.gateway, prefixlen=32, scope=SCOPE_LINK)
    else:
        ipr.addr("add", index=index, address=topo.gateway, prefixlen=64)


def _bridge_gateways(ipr: IPRoute, index: int, node: NodePlan, family: int) -> None:
    """The bridge's pod CIDR gateways (:attr:`NodePlan.gateways`), where kubenet, the bridge plugin and Flannel put
    them, so MASQUERADE to a local pod picks one as they do: IPv4 inet_select_addr takes the bridge's address of
    global scope (``169.254.1.1`` is link-scoped, so without one it falls back to eth0's, the node's), IPv6 address
    selection prefers an address of the outgoing interface. A host address without a prefix route (a real bridge's
    has the CIDR's prefix and its connected route, which :func:`pod_cidr_routes` already is here, its source this
    address): the choice is the same, as it is the bridge's only such address, and no broadcast route is added."""
    for address in node.gateways:
        ipr.addr("add", index=index, address=address, prefixlen=host_len(family), IFA_FLAGS=IFA_F_NOPREFIXROUTE)


def _bridge_source(node: NodePlan) -> str:
    """The source of the node's routes by its bridge: its gateway, as the connected route of a real pod bridge
    says (``src 10.244.1.1``), else its primary address."""
    return node.gateways[0] if node.gateways else node.addresses[0]


def router_rules(family: int) -> str:
    """The router's answer for destinations it has no route to (see :func:`_router_answers`)."""
    answer = "icmp-net-unreachable" if family == 4 else "icmp6-no-route"
    return f"*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -o {VOID} -j REJECT --reject-with {answer}\nCOMMIT\n"


def _router_answers(topo: Topology) -> None:
    """The node network's router answers every packet it has no route for with "network unreachable".

    The kernel's own answer (IPv4 ``ip_error``) is rate limited per sender by the global, root-namespace-only
    ``net.ipv4.route.error_cost``/``error_burst`` (about five, then one a second), which would turn most
    answers into silence; a REJECT rule obeys this namespace's ICMP limits, which are lifted. So the default
    route leads to a dead-end link (a veth pair: this kernel has no dummy driver) whose traffic is REJECTed.
    """
    with nsexec.iproute(topo.net_netns) as ipr:
        ipr.link("add", ifname=VOID, kind="veth", peer={"ifname": VOID + "-end"})
        for name in (VOID + "-end", VOID):
            ipr.link("set", index=_link_index(ipr, name), state="up")
        ipr.route("add", dst=any_net(topo.family), oif=_link_index(ipr, VOID))
    load_rules(topo.net_netns, router_rules(topo.family), family=topo.family)


def _node_network(topo: Topology) -> None:
    with nsexec.iproute(topo.net_netns) as ipr:
        index = _bridge(ipr, "br0")
        ipr.addr("add", index=index, address=topo.router, prefixlen=host_len(topo.family))
        for address in [a for n in topo.nodes for a in n.addresses] + [c.ip for c in topo.clients]:
            ipr.route("add", dst=_host(address, topo.family), oif=index, scope=SCOPE_LINK)
    _router_answers(topo)
    for node in topo.nodes:
        _uplink(topo, node.netns, node.uplink, node.addresses)
        with nsexec.iproute(node.netns) as ipr:
            index = _bridge(ipr, node.bridge)
            _gateway_address(ipr, index, topo)
            _bridge_gateways(ipr, index, node, topo.family)
    for client in topo.clients:
        _uplink(topo, client.netns, client.uplink, (client.ip,))


def _pod_link(topo: Topology, node: NodePlan, pods: list[PodPlan]) -> None:
    """A veth from the node to the pod (on the node's bridge, or routed); the pod routes all through the gateway.

    A pool (several pods in one namespace) gets every address on its one veth, and a rule that routes whatever
    it sends itself by the gateway too: an address of the pool reached through a Service answers by the node.
    """
    pod = pods[0]
    with nsexec.iproute(node.netns) as ipr:
        ipr.link("add", ifname=pod.host_veth, kind="veth", peer={"ifname": "eth0", "net_ns_fd": pod.netns})
        if node.routed:
            _gateway_address(ipr, _up(ipr, pod.host_veth), topo)
        else:
            index = _up(ipr, pod.host_veth, master=_link_index(ipr, node.bridge))
            # hairpin: with bridge-nf-call-iptables, a pod's packet DNATed back to itself leaves by its own port
            ipr.brport("set", index=index, mode=1)
    with nsexec.iproute(pod.netns) as ipr:
        index = _up(ipr, "eth0")
        for member in pods:
            ipr.addr("add", index=index, address=member.ip, prefixlen=host_len(topo.family))
        tables = (254, POOL_TABLE) if pod.pooled else (254,)
        for table in tables:
            if topo.family == 4:
                ipr.route("add", dst=f"{topo.gateway}/32", oif=index, scope=SCOPE_LINK, table=table)
            ipr.route("add", dst=any_net(topo.family), gateway=topo.gateway, oif=index, table=table)
        if pod.pooled:
            _pool_rules(ipr, topo.family)


def _pool_rules(ipr: IPRoute, family: int) -> None:
    """Locally generated packets (``iif lo``) take the pool's table, before the local table is looked at."""
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    ipr.rule("add", family=af, table=POOL_TABLE, priority=100, iifname="lo")
    ipr.rule("add", family=af, table=255, priority=POOL_LOCAL_PRIORITY)
    ipr.rule("del", family=af, table=255, priority=0)


def _node_routes(topo: Topology, node: NodePlan) -> None:
    """Host routes: local pods on the bridge (or their veth), remote pods via their node, other hosts on the wire;
    the pod CIDRs (:func:`pod_cidr_routes`); a default route to the router."""
    primary, bridged = node.addresses[0], _bridge_source(node)
    family = topo.family
    others = [a for n in topo.nodes if n is not node for a in n.addresses] + [c.ip for c in topo.clients]
    with nsexec.iproute(node.netns) as ipr:
        eth0 = _link_index(ipr, "eth0")
        bridge = _link_index(ipr, node.bridge)
        for address in [*others, topo.router]:
            ipr.route("add", dst=_host(address, family), oif=eth0, scope=SCOPE_LINK, prefsrc=primary)
        for cidr, via in pod_cidr_routes(topo, node):
            if via is None:
                ipr.route("add", dst=cidr, oif=bridge, scope=SCOPE_LINK, prefsrc=bridged)
            else:
                ipr.route("add", dst=cidr, gateway=via, oif=eth0, flags=RTNH_F_ONLINK)
        # like a real host, a default route: destinations nobody owns come back as ICMP unreachable
        ipr.route("add", dst=any_net(family), gateway=topo.router, oif=eth0, prefsrc=primary)
        veths: dict[str, int] = {}
        # a pool's other addresses are reached through its first: one neighbour entry per pool, not thousands
        # (the kernel's ARP/NDP table is shared by every namespace and overflows near 1024 entries)
        anchors: dict[str, str] = {}
        for pod in topo.pods:
            if pod.pooled:
                anchors.setdefault(pod.netns, pod.ip)
        for pod in topo.pods:
            if pod.host_network:
                continue
            if pod.node == node.name:
                if node.routed and pod.host_veth not in veths:
                    veths[pod.host_veth] = _link_index(ipr, pod.host_veth)
                oif = veths[pod.host_veth] if node.routed else bridge
                anchor = anchors.get(pod.netns, pod.ip)
                if anchor != pod.ip:
                    ipr.route("add", dst=_host(pod.ip, family), gateway=anchor, oif=oif, flags=RTNH_F_ONLINK)
                    continue
                ipr.route("add", dst=_host(pod.ip, family), oif=oif, scope=SCOPE_LINK, prefsrc=bridged)
            else:
                via = topo.node(pod.node).addresses[0]
                ipr.route("add", dst=_host(pod.ip, family), gateway=via, oif=eth0, flags=RTNH_F_ONLINK)


def pod_cidr_routes(topo: Topology, node: NodePlan) -> list[tuple[str, str | None]]:
    """(CIDR, next hop) of the pod ranges a real node routes, as the simulator's node routes them: its own pod CIDRs
    on-link on its pods' bridge (None: no next hop), every other node's through that node. The pods' own host
    routes are more specific, so these decide only for an address no pod has: the owning node asks for it on
    its bridge and nobody answers ARP, so a pod's connection hears nothing until the kernel gives up (ICMP host
    unreachable after neigh mcast_solicit x retrans_time, 3 x 1 s by default), later than the tools' timeouts.
    Routed-veth (Calico-like) nodes get the same route (their bridge is the gateway's home): their pods' traffic
    there is silent alike; a connection a real such node itself makes there is not (Calico blackholes its block,
    so connect fails at once with EINVAL).

    A range whose destination the node already routes is left out (the kernel refuses a second route to it,
    EEXIST): one that is a single address with a host route (a pod's, another node's; ``podCIDRs: [A/32]`` with
    a pod at A), where the host route says the same or more. (A /0 or a /1 is no pod CIDR of the stage's:
    :func:`.simulator.topology.staged_pod_cidrs`.)"""
    hops: list[tuple[str, str | None]] = [(c, None) for c in node.pod_cidrs]
    hops += [(c, n.addresses[0]) for n in topo.nodes if n is not node for c in n.pod_cidrs]
    routes: dict[str, str | None] = {}
    hosts: set[netaddr.IPAddress] | None = None
    for cidr, via in hops:  # a range two nodes claim goes where the simulator's first match sends it: its own
        net = netaddr.IPNetwork(cidr).cidr
        if net.size == 1:
            hosts = _host_routed(topo, node) if hosts is None else hosts
            if net.ip in hosts:
                continue
        routes.setdefault(str(net), via)
    return list(routes.items())


def _host_routed(topo: Topology, node: NodePlan) -> set[netaddr.IPAddress]:
    """The addresses :func:`_node_routes` gives ``node`` a host route to: the other nodes', the clients', the
    router's and every pod's with an address of its own."""
    found = [a for n in topo.nodes if n is not node for a in n.addresses]
    found += [c.ip for c in topo.clients] + [topo.router] + [p.ip for p in topo.pods if not p.host_network]
    return {netaddr.IPAddress(a) for a in found}


def _client_routes(topo: Topology) -> None:
    """External clients reach node addresses on the wire, LoadBalancer IPs and externalIPs through the first
    node, and everything else through the node network's router, which routes no cluster range (unreachable).
    A plan without that list (a staged dump) sends everything through the first node."""
    family = topo.family
    first = topo.nodes[0].addresses[0]
    on_wire = {a for n in topo.nodes for a in n.addresses} | {topo.router}
    for client in topo.clients:
        with nsexec.iproute(client.netns) as ipr:
            eth0 = _link_index(ipr, "eth0")
            for address in (a for n in topo.nodes for a in n.addresses):
                ipr.route("add", dst=_host(address, family), oif=eth0, scope=SCOPE_LINK)
            if topo.via_first_node is None:
                ipr.route("add", dst=any_net(family), gateway=first, oif=eth0, flags=RTNH_F_ONLINK)
                continue
            for address in (a for a in topo.via_first_node if a not in on_wire):
                ipr.route("add", dst=_host(address, family), gateway=first, oif=eth0, flags=RTNH_F_ONLINK)
            ipr.route("add", dst=_host(topo.router, family), oif=eth0, scope=SCOPE_LINK)
            ipr.route("add", dst=any_net(family), gateway=topo.router, oif=eth0, flags=RTNH_F_ONLINK)


# --------------------------------------------------------------------------- rules


def restore_tool(family: int) -> str:
    return "iptables-restore" if family == 4 else "ip6tables-restore"


def node_rules(cluster: Cluster, node: NodePlan) -> str:
    """The node's full nat and filter tables (``rules --full``'s rules) as restore input, in kube-proxy's text:
    ``rules --full`` prints them in iptables-save's form, which is what a node's iptables-save shows."""
    from kubeproxy_sim.netfilter.codec import render_ruleset
    from kubeproxy_sim.proxier import generate
    from kubeproxy_sim.proxier.full import node_tables

    result = generate(cluster, node.config)
    return render_ruleset(node_tables(result.ruleset, result.jumps))


def load_rules(netns_name: str, text: str, *, noflush: bool = False, family: int = 4) -> None:
    """(ip6)iptables-restore inside the namespace; the kernel applies a table all or nothing."""
    argv = [restore_tool(family), "-w", "30"] + (["--noflush"] if noflush else [])
    done = nsexec.run(netns_name, argv, stdin=text, timeout=RESTORE_TIMEOUT)
    if done.returncode != 0:
        raise KernelError(f"{netns_name}: {argv[0]} rejected the rules: {done.stderr.strip()}")


def _nfacct_ready(node: NodePlan, text: str) -> bool:
    """Create the nfacct counters the rules name; False when this kernel cannot."""
    names = sysfs.nfacct_names(text)
    if not names:
        return True
    try:
        nsexec.call(node.netns, sysfs.create_nfacct, names)
    except OSError:
        return False
    return True


def _install_rules(cluster: Cluster, topo: Topology) -> tuple[Topology, list[str]]:
    """Load every node's tables; without nfacct support, regenerate them with --nfacct=false.

    Beside kube-proxy's rules go ``netns send``'s counting copies of its DROP and REJECT rules (the
    ``KPSIM-COUNT-*`` chains, see :mod:`.dscp`): they have no verdict, so every packet meets the generated rules
    exactly as generated."""
    notes = []
    nodes = []
    for node in topo.nodes:
        text = node_rules(cluster, node)
        if not _nfacct_ready(node, text):
            node = dataclasses.replace(node, config=dataclasses.replace(node.config, nfacct=False))
            text = node_rules(cluster, node)
            notes.append(f"{node.name}: this kernel has no nfacct counters; rules generated with --nfacct=false")
        try:
            load_rules(node.netns, dscp.with_counting(text), family=topo.family)
        except KernelError:
            load_rules(node.netns, text, family=topo.family)  # kube-proxy's own rules fail here: their error
            notes.append(f"{node.name}: iptables-restore refused the counting copies of the DROP and REJECT rules "
                         "(this kernel has no dscp match, xt_dscp?); the rules are loaded without them, so netns "
                         "send names a silent failure TIMEOUT, not DROP (a datagram refused with EPERM DROP, not "
                         "REJECT)")
        nodes.append(node)
    return dataclasses.replace(topo, nodes=tuple(nodes)), notes


def reflect_tos_notes(topo: Topology) -> list[str]:
    """A note when TCP servers cannot answer with the DSCP value of the SYN (``tcp_reflect_tos``, Linux 5.10)."""
    if not topo.nodes or nsexec.call(topo.nodes[0].netns, sysfs.has_sysctl, REFLECT_TOS):
        return []
    return [f"this kernel has no {REFLECT_TOS} (Linux 5.10): TCP answers carry no DSCP mark, so netns send names a "
            "dropped TCP answer TIMEOUT, not DROP"]


EGRESS_CHAIN = "KPSIM-POD-EGRESS"  # not kube-proxy's: the CNI's part of the node's nat table


def egress_rules(topo: Topology, node: NodePlan) -> str:
    """The CNI's masquerade of pod egress on ``node``, as the simulator models it (flat CNIs do this, kube-proxy
    does not): a new connection from any pod's address, this node's or another's, leaving by ``eth0`` for an
    address that is no node's and no pod's is masqueraded to the node's address, so the outside host's answer
    can come back. It is decided where the packet leaves the cluster, whichever node the pod is on (a pod's packet
    DNATed on another node to an outside address leaves as that node's). A pod's packet to a node's address is not
    masqueraded (as ip-masq-agent with the node and pod ranges among its nonMasqueradeCIDRs leaves it); kindnet,
    Flannel (its MasqRules) and Calico's natOutgoing masquerade that too, to the pod's node's address, which this
    does not model (README says so). The port is drawn as the node's own ``--random-fully`` says, as the simulator
    draws it. Appended after kube-proxy's ``KUBE-POSTROUTING`` jump, so its own masquerade comes first; empty when
    the cluster has no pods. A node's pod CIDR is inside too: a packet for it goes to that node, not out of the
    cluster (:func:`pod_cidr_routes`), as the simulator masquerades only what goes to the router."""
    pods = [p.ip for p in topo.pods if not p.host_network]
    if not pods:
        return ""
    inside = [a for n in topo.nodes for a in n.addresses] + pods + [c for n in topo.nodes for c in n.pod_cidrs]
    random_fully = " --random-fully" if node.config.random_fully else ""
    lines = ["*nat", f":{EGRESS_CHAIN} - [0:0]", f"-A POSTROUTING -o eth0 -j {EGRESS_CHAIN}"]
    lines += [f"-A {EGRESS_CHAIN} -d {net} -j RETURN" for net in netaddr.cidr_merge(inside)]
    lines += [f"-A {EGRESS_CHAIN} -s {net} -j MASQUERADE{random_fully}" for net in netaddr.cidr_merge(pods)]
    return "\n".join([*lines, "COMMIT", ""])


def _pod_egress(topo: Topology) -> None:
    for node in topo.nodes:
        text = egress_rules(topo, node)
        if text:
            load_rules(node.netns, text, noflush=True, family=topo.family)


CATCH_ALL_PORT = 65535  # where a pod that declares no port listens (see :func:`catch_all_rules`)


def catch_all_rules() -> str:
    """A port-less pod answers on every port, as the simulator has it: new TCP and UDP connections to the pod
    (from outside its namespace, or from itself to one of its own addresses) are redirected to one server, which
    reports the port asked for (the conntrack original). The pod's own connections elsewhere are left alone."""
    lines = ["*nat"]
    for proto in ("tcp", "udp"):
        lines.append(f"-A PREROUTING -p {proto} -j REDIRECT --to-ports {CATCH_ALL_PORT}")
        lines.append(f"-A OUTPUT -p {proto} -m addrtype --dst-type LOCAL -j REDIRECT --to-ports {CATCH_ALL_PORT}")
    return "\n".join([*lines, "COMMIT", ""])


def _catch_all(topo: Topology) -> None:
    for name in dict.fromkeys(p.netns for p in topo.pods if p.any_port):
        load_rules(name, catch_all_rules(), noflush=True, family=topo.family)


# --------------------------------------------------------------------------- servers


def _spawn(netns_name: str, label: str, specs: Iterable[str], records: str | None = None) -> subprocess.Popen[str]:
    """A server in the background; ``records``: the cluster's DNS records, for a server with a dns:PORT."""
    proc = nsexec.popen(netns_name, nsexec.python_module(SERVER_MARK, label, *specs),
                        stdin=subprocess.DEVNULL if records is None else subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
    if records is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):  # a server that died at once says why in _await_ready
            proc.stdin.write(records)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    return proc


def _specs(pods: list[PodPlan], dns: bool) -> list[str]:
    """A namespace's server's ports: PROTO:PORT, dns:PORT for a kube-dns endpoint's DNS port and dnstcp:PORT for
    its DNS-over-TCP port (when ``dns``: the records are known), any:PORT for a workload that declares none. A
    port is dns:PORT (dnstcp:PORT) for the whole namespace when any member answers DNS on it: a pool can hold
    kube-dns endpoints and another Service's on the same port, and one socket must take both (two would bind with
    SO_REUSEADDR, and the last bound would get every datagram); the responder gives a probe's datagram the JSON
    line all the same (and DnsTcp a connection that does not ask)."""
    answering = {("udp", port): "dns" for pod in pods for port in pod.dns_ports} if dns else {}
    answering |= {("tcp", port): "dnstcp" for pod in pods for port in pod.dns_tcp_ports} if dns else {}
    specs = sorted({f"{answering.get((proto, port), proto)}:{port}" for pod in pods for proto, port in pod.ports})
    if any(pod.any_port for pod in pods):
        specs.append(f"any:{CATCH_ALL_PORT}")
    return specs


def start_servers(topo: Topology, dns_records: dict[str, Any] | None = None) -> dict[str, int]:
    """One server per workload namespace, and one per node for kube-proxy's healthz and health-check node
    ports (answering as the node, as the simulator's listeners do), each a background process in its own
    session. A kube-dns endpoint's server also answers DNS on its target port, from ``dns_records``
    (:func:`.responder.dns_records`; None: it answers as any other pod)."""
    groups: dict[str, list[PodPlan]] = {}
    for pod in topo.pods:
        if pod.ports or pod.any_port:
            groups.setdefault(pod.netns, []).append(pod)
    records = json.dumps(dns_records) if dns_records else None
    started: dict[str, subprocess.Popen[str]] = {}
    try:
        for name, pods in groups.items():
            ports = _specs(pods, records is not None)
            label = pods[0].key if len(pods) == 1 else ("pool/" if pods[0].pooled else "node/") + pods[0].node
            started[name] = _spawn(name, label, ports, records if answers_dns(ports) else None)
        for node in topo.nodes:  # kube-proxy's own listeners, on the ports no host-network pod took
            taken = {port for pod in groups.get(node.netns, ()) for proto, port in pod.ports if proto == "tcp"}
            ports = [f"tcp:{port}" for port in node.listeners if port not in taken]
            if ports:
                started[f"{node.netns}:kube-proxy"] = _spawn(node.netns, f"node/{node.name}", ports)
        for name, proc in started.items():
            _await_ready(name, proc)
    except BaseException:
        _kill(proc.pid for proc in started.values())
        raise
    return {name: proc.pid for name, proc in started.items()}


def start_keeper(topo: Topology) -> int:
    """A process that only waits, in the node network: the owner of a cluster left up by ``netns up``."""
    proc = _spawn(topo.net_netns, KEEPER, ())
    try:
        _await_ready(topo.net_netns, proc)
    except BaseException:
        _kill([proc.pid])
        raise
    return proc.pid


def _await_ready(name: str, proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    line = ""
    while not line and proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(deadline - time.monotonic(), 0))
        line = proc.stdout.readline() if ready else ""
        if ready and not line:
            break  # end of file: the server exited
    if line.strip() != "ready":
        problem = proc.stderr.read() if proc.stderr and proc.poll() is not None else \
            f"no answer within {SERVER_START_TIMEOUT:g} s"
        raise KernelError(f"{name}: the server did not start: {problem.strip()[-500:]}")
    proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()


def _kill(pids: Iterable[int]) -> None:
    """SIGKILL our servers (checked against pid reuse), and reap those that are our children."""
    pids = [int(p) for p in pids]
    for pid in pids:
        if pid_alive(pid, SERVER_MARK):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            deadline = time.monotonic() + 5
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)


def _servers_in(namespaces: Iterable[str]) -> list[int]:
    """Our server processes whose network namespace is one of ``namespaces`` (found without any state file)."""
    return [pid for pid in _processes_in(namespaces) if pid_alive(pid, SERVER_MARK)]


def stop_servers_in(namespaces: Iterable[str]) -> None:
    """SIGKILL our servers running in ``namespaces`` (and reap those that are our children): what removing a
    namespace does not stop, as a process keeps its namespace alive once the name is gone."""
    _kill(_servers_in(namespaces))


def stop_children_in(namespaces: Iterable[str]) -> int:
    """SIGKILL this process's own children (not its servers) that run in one of ``namespaces``: the probes,
    DNS lookups and counter reads a flow still runs there when a run is stopped, so the threads waiting for
    them return at once instead of after the flow's connections have timed out. Only a child is touched (a
    pid is not reused before its parent reaps it), and it is left to its waiter to reap. How many were sent
    the signal."""
    me = os.getpid()
    killed = 0
    for pid in _processes_in(namespaces):
        if _parent(pid) == me and not pid_alive(pid, SERVER_MARK):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed


def _parent(pid: int) -> int | None:
    """The parent of ``pid`` (field 4 of /proc/PID/stat), or None when it is gone."""
    fields = stat_fields(pid)
    return int(fields[1]) if fields is not None and len(fields) > 1 else None


def _processes_in(namespaces: Iterable[str]) -> list[int]:
    """The processes whose network namespace is one of ``namespaces``."""
    inodes = set()
    for name in namespaces:
        if not nsexec.mounted(name):
            continue  # a bare mount point file: its inode is no namespace's
        try:
            inodes.add(f"net:[{os.stat(nsexec.netns_path(name)).st_ino}]")
        except OSError:
            continue
    found = []
    for entry in os.scandir("/proc") if inodes else ():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/ns/net") in inodes:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


# --------------------------------------------------------------------------- the whole cluster


@contextlib.contextmanager
def claimed(topo: Topology, directory: Path, state: dict[str, Any]) -> Iterator[None]:
    """Take the cluster's name, record ``state`` and run the body (the build); on any failure, a Ctrl-C
    included, remove whatever was built and re-raise.

    The name is taken by creating the node network's namespace, marked with this process as its owner at
    once. Its mount point is created exclusively (O_EXCL), so of two builds of one name started together
    exactly one gets it; the other raises :class:`NameTaken` (naming a live builder the state file of
    ``directory`` records). Only a build that got the name tears down: it knows from a flag set with the
    signals held, together with the creation, so an interrupt while the name is checked, or one held over a
    creation that lost, removes nothing of the cluster that has the name."""
    ours = False
    try:
        if exists(topo.name):
            raise NameTaken(_taken(topo.name, directory))
        try:
            with signals.held():
                nsexec.create_netns(topo.net_netns)
                ours = True
        except FileExistsError:
            raise NameTaken(_taken(topo.name, directory)) from None
        mark_owner(topo.net_netns, owner_of(os.getpid(), state_path(directory, topo.name)))
        write_state(directory, state)  # the name is ours now: another build of it never gets this far
        yield
    except BaseException:
        if ours:
            teardown(topo.name, directory, state)
        raise


def _taken(name: str, directory: Path) -> str:
    builder = building_owner(read_state(directory, name))
    if builder is not None:
        return being_built(name, builder)
    return f"cluster {name!r} already exists; run `netns down {name}` first"


def wire(topo: Topology) -> None:
    """The rest of a claimed plan's namespaces (see :func:`claimed`), its sysctls, links and routes, without
    rules or servers (the caller tears down)."""
    for name in topo.namespaces():
        if name != topo.net_netns:
            nsexec.create_netns(name)
    _sysctls(topo)
    _lo_up(topo)
    _node_network(topo)
    by_netns: dict[str, list[PodPlan]] = {}
    for pod in topo.pods:
        if not pod.host_network:
            by_netns.setdefault(pod.netns, []).append(pod)
    for pods in by_netns.values():
        _pod_link(topo, topo.node(pods[0].node), pods)
    for node in topo.nodes:
        _node_routes(topo, node)
    _client_routes(topo)


def exists(name: str) -> bool:
    """Whether any namespace of cluster ``name`` is present."""
    return any(n.startswith(cluster_prefix(name)) for n in netns.listnetns())


def initial_state(topo: Topology, directory: Path | None = None) -> dict[str, Any]:
    """The state a build starts with, owned by this process."""
    state: dict[str, Any] = {
        "name": topo.name,
        "status": "building",
        "owner_pid": os.getpid(),
        "namespaces": topo.namespaces(),
        "servers": {},
        "notes": list(topo.notes),
        "family": topo.family,
    }
    if directory is not None:
        state["owner"] = owner_of(os.getpid(), state_path(directory, topo.name)).as_json()
        state["dscp_leases"] = str(dscp.lease_dir(directory, topo.name))
    return state


def require_tools(family: int) -> None:
    tool = restore_tool(family)
    if not shutil.which(tool):
        raise KernelError(f"an IPv{family} cluster needs the {tool} command (install the iptables package)")


def up(cluster: Cluster, topo: Topology, directory: Path, extra_state: dict[str, Any] | None = None, *,
       persistent: bool = False) -> dict[str, Any]:
    """Build everything; on any failure remove whatever was built and re-raise.

    The cluster is owned by this process, so a killed caller's cluster is garbage; ``persistent`` (``netns
    up``) hands it over to a keeper process that lives until ``netns down``.
    """
    require_tools(topo.family)
    state = initial_state(topo, directory)
    state.update(extra_state or {})
    with claimed(topo, directory, state):
        wire(topo)
        topo, notes = _install_rules(cluster, topo)
        _pod_egress(topo)
        _catch_all(topo)
        state["notes"] += notes + reflect_tos_notes(topo)
        state["servers"] = start_servers(topo, dns_records(state) if "services" in state else None)
        if persistent:
            keeper = start_keeper(topo)
            state["servers"][topo.net_netns] = keeper
            owner = owner_of(keeper, state_path(directory, topo.name))
            state["owner"] = owner.as_json()
            write_state(directory, state)
            mark_owner(topo.net_netns, owner)
        state["status"] = "up"
        write_state(directory, state)
    return state


def teardown(name: str, directory: Path, state: dict[str, Any] | None) -> list[str]:
    """Kill the cluster's servers, delete every namespace of its prefix (the marked one last), forget its state."""
    prefix = cluster_prefix(name)
    ours = sorted(n for n in netns.listnetns() if n.startswith(prefix) and n.startswith(PREFIX))
    pids = set(_servers_in(ours))
    if state:
        pids |= {int(p) for p in state.get("servers", {}).values()}
    _kill(pids)
    net = f"{prefix}net"
    removed = []
    for ns_name in sorted(ours, key=lambda n: n == net):
        try:
            netns.remove(ns_name)
        except FileNotFoundError:
            continue  # removed meanwhile (by a `netns down` or gc at the same time): what was asked is done
        removed.append(ns_name)
    remove_state(directory, name)
    dscp.forget(directory, name)
    return removed


def _owner_name(ns_name: str) -> str | None:
    """``kpsim-NAME.role`` -> NAME."""
    if not ns_name.startswith(PREFIX) or "." not in ns_name:
        return None
    return ns_name[len(PREFIX):].rsplit(".", 1)[0]


def _age(names: Iterable[str], now: float) -> float:
    """Seconds since the youngest of ``names`` was created (its nsfs inode's time, or a bare mount point file's
    own); 0 when unknown."""
    times = []
    for name in names:
        try:
            times.append(os.stat(nsexec.netns_path(name)).st_mtime)
        except OSError:
            continue
    return now - max(times) if times else 0.0


@contextlib.contextmanager
def scratch_netns(tag: str) -> Iterator[str]:
    """A network namespace of this process's own for a one-off job (tools/bench.py's iptables-restore timing),
    removed on exit: :func:`owned_netns` of the cluster ``TAG-PID`` (``kpsim-TAG-PID.net``), the pid keeping two
    runs of one job apart."""
    with owned_netns(f"{tag}-{os.getpid()}") as net:
        yield net


@contextlib.contextmanager
def owned_netns(name: str) -> Iterator[str]:
    """The node-network namespace of a cluster ``NAME`` that is no cluster (``kpsim-NAME.net``), marked with this
    process as its owner and removed on exit: the owner record of scratch namespaces the caller names
    ``kpsim-NAME.<role>`` beside it (a test's client and node pair), so that :func:`gc` removes them all once
    this process is gone without its cleanup (killed), and never while it runs; one killed before the marker
    is set goes after the grace. The caller removes its own namespaces first; whatever it leaves of the
    prefix (an interrupt between two steps of its cleanup) is removed here too, the marked one last, as
    :func:`teardown` removes a cluster's. The namespace is taken as :func:`claimed` takes a cluster's name:
    only a creation that won removes anything."""
    net = f"{cluster_prefix(name)}net"
    ours = False
    try:
        with signals.held():
            nsexec.create_netns(net)
            ours = True
        mark_owner(net, owner_of(os.getpid()))
        yield net
    finally:
        if ours:
            prefix = cluster_prefix(name)
            for ns_name in sorted((n for n in netns.listnetns() if n.startswith(prefix)), key=lambda n: n == net):
                with contextlib.suppress(FileNotFoundError):
                    netns.remove(ns_name)


def gc(directory: Path, *, now: float | None = None, grace: float = GC_GRACE, only: str = "") -> list[str]:
    """Remove the namespaces (and state) of clusters whose owner is gone, whoever started them.

    A cluster is judged by the owner marker in its own namespace, never by the state files of one
    directory: a live cluster of another run or another state directory is left alone. A cluster without a
    marker (a build killed in its first instant, a teardown cut short, a bare mount point file of ours
    that a crash left with no namespace mounted on it) is removed once it is ``grace`` seconds old. State
    files of this directory whose cluster has no namespace left go when their owner is. ``only`` limits it
    to clusters whose name starts with it.
    """
    now = time.time() if now is None else now
    clusters: dict[str, list[str]] = {}
    for ns_name in netns.listnetns():
        owner_name = _owner_name(ns_name)
        if owner_name and owner_name.startswith(only):
            clusters.setdefault(owner_name, []).append(ns_name)
    removed = []
    for name, names in sorted(clusters.items()):
        try:
            owner = read_owner(f"{cluster_prefix(name)}net")
        except Exception:  # the marker is there but unreadable just now: the cluster may be live, keep it
            continue
        if owner is not None and owner.alive():
            continue
        if owner is None and _age(names, now) < grace:
            continue
        state_file = Path(owner.state) if owner is not None and owner.state.endswith(".json") else \
            state_path(directory, name)
        removed += teardown(name, state_file.parent, read_state_file(state_file))
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
        state = read_state_file(path)
        if path.stem.startswith(only) and path.stem not in clusters and (state is None or
                                                                        not state_owner_alive(state)):
            path.unlink(missing_ok=True)
            dscp.forget(directory, path.stem)
    return removed
