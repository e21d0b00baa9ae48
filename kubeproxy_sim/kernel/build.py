"""Turning a :class:`Topology` into namespaces, links, routes, rules and servers, and back to nothing.

All changes happen inside namespaces named ``kpsim-NAME.*``: links are created
from a netlink socket opened inside a namespace (pyroute2's ``netns=``), peers are
placed straight into their target namespace, sysctls and rules are written by
children that entered the namespace. The node-network namespace is created
first and at once marked with its owner (see :mod:`.state`); :func:`teardown`
removes exactly the namespaces of the cluster's prefix (that one last, so the
marker outlives the rest) and the servers running in them; :func:`up` calls it
on any failure; :func:`gc` calls it for clusters whose owner is gone.
"""

from __future__ import annotations

import dataclasses
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute, netns

from kubeproxy_sim.errors import KubeproxySimError
from kubeproxy_sim.kernel import nsexec, sysfs
from kubeproxy_sim.kernel.plan import GATEWAY, PREFIX, ROUTER, NodePlan, PodPlan, Topology, cluster_prefix
from kubeproxy_sim.kernel.state import SERVER_MARK, pid_alive, remove_state, write_state
from kubeproxy_sim.objects.model import Cluster

SCOPE_LINK = 253
RTNH_F_ONLINK = 4
SERVER_START_TIMEOUT = 15.0


class KernelError(KubeproxySimError):
    """The kernel refused a step of the build (the message names the namespace and the step)."""


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


def _sysctls(topo: Topology) -> None:
    """Forwarding, no reverse-path filter (routes here are asymmetric by design), and kube-proxy's settings.

    ICMP errors are not rate limited: a REJECT must read as "refused" on every attempt, not on the first six.
    """
    base = {"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0",
            "net.ipv4.icmp_ratelimit": "0", "net.ipv4.icmp_msgs_per_sec": "100000"}
    for name in topo.namespaces():
        nsexec.call(name, sysfs.write_sysctls, base)
    nsexec.call(topo.net_netns, sysfs.write_sysctls, {"net.ipv4.ip_forward": "1"})
    for node in topo.nodes:
        values = {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}
        if node.config.localhost_nodeports:
            values["net.ipv4.conf.all.route_localnet"] = "1"
        if node.config.conntrack_tcp_be_liberal:
            values["net.netfilter.nf_conntrack_tcp_be_liberal"] = "1"
        nsexec.call(node.netns, sysfs.write_sysctls, values)


def _lo_up(topo: Topology) -> None:
    for name in topo.namespaces():
        with IPRoute(netns=name) as ipr:
            _up(ipr, "lo")


def _uplink(topo: Topology, host_netns: str, peer: str, addresses: tuple[str, ...]) -> None:
    """``eth0`` in ``host_netns``, its peer on the node network's bridge, each address as a /32."""
    with IPRoute(netns=host_netns) as ipr:
        ipr.link("add", ifname="eth0", kind="veth", peer={"ifname": peer, "net_ns_fd": topo.net_netns})
        index = _up(ipr, "eth0")
        for address in addresses:
            ipr.addr("add", index=index, address=address, prefixlen=32)
    with IPRoute(netns=topo.net_netns) as ipr:
        _up(ipr, peer, master=_link_index(ipr, "br0"))


def _node_network(topo: Topology) -> None:
    with IPRoute(netns=topo.net_netns) as ipr:
        index = _bridge(ipr, "br0")
        ipr.addr("add", index=index, address=ROUTER, prefixlen=32)
        for address in [a for n in topo.nodes for a in n.addresses] + [c.ip for c in topo.clients]:
            ipr.route("add", dst=f"{address}/32", oif=index, scope=SCOPE_LINK)
    for node in topo.nodes:
        _uplink(topo, node.netns, node.uplink, node.addresses)
        with IPRoute(netns=node.netns) as ipr:
            index = _bridge(ipr, node.bridge)
            ipr.addr("add", index=index, address=GATEWAY, prefixlen=32, scope=SCOPE_LINK)
    for client in topo.clients:
        _uplink(topo, client.netns, client.uplink, (client.ip,))


def _pod_link(node: NodePlan, pod: PodPlan) -> None:
    """A veth from the node's bridge to the pod; the pod routes everything through the bridge address."""
    with IPRoute(netns=node.netns) as ipr:
        ipr.link("add", ifname=pod.host_veth, kind="veth", peer={"ifname": "eth0", "net_ns_fd": pod.netns})
        index = _up(ipr, pod.host_veth, master=_link_index(ipr, node.bridge))
        # hairpin: with bridge-nf-call-iptables, a pod's packet DNATed back to itself leaves by the port it came in
        ipr.brport("set", index=index, mode=1)
    with IPRoute(netns=pod.netns) as ipr:
        index = _up(ipr, "eth0")
        ipr.addr("add", index=index, address=pod.ip, prefixlen=32)
        ipr.route("add", dst=f"{GATEWAY}/32", oif=index, scope=SCOPE_LINK)
        ipr.route("add", dst="0.0.0.0/0", gateway=GATEWAY, oif=index)


def _node_routes(topo: Topology, node: NodePlan) -> None:
    """Host routes: local pods on the bridge, remote pods via their node, other hosts on the wire."""
    primary = node.addresses[0]
    others = [a for n in topo.nodes if n is not node for a in n.addresses] + [c.ip for c in topo.clients]
    with IPRoute(netns=node.netns) as ipr:
        eth0 = _link_index(ipr, "eth0")
        bridge = _link_index(ipr, node.bridge)
        for address in [*others, ROUTER]:
            ipr.route("add", dst=f"{address}/32", oif=eth0, scope=SCOPE_LINK, prefsrc=primary)
        # like a real host, a default route: destinations nobody owns come back as ICMP unreachable
        ipr.route("add", dst="0.0.0.0/0", gateway=ROUTER, oif=eth0, prefsrc=primary)
        for pod in topo.pods:
            if pod.host_network:
                continue
            if pod.node == node.name:
                ipr.route("add", dst=f"{pod.ip}/32", oif=bridge, scope=SCOPE_LINK, prefsrc=primary)
            else:
                via = topo.node(pod.node).addresses[0]
                ipr.route("add", dst=f"{pod.ip}/32", gateway=via, oif=eth0, flags=RTNH_F_ONLINK)


def _client_routes(topo: Topology) -> None:
    """External clients reach every node address on the wire and everything else through the first node."""
    first = topo.nodes[0].addresses[0]
    for client in topo.clients:
        with IPRoute(netns=client.netns) as ipr:
            eth0 = _link_index(ipr, "eth0")
            for address in (a for n in topo.nodes for a in n.addresses):
                ipr.route("add", dst=f"{address}/32", oif=eth0, scope=SCOPE_LINK)
            ipr.route("add", dst="0.0.0.0/0", gateway=first, oif=eth0, flags=RTNH_F_ONLINK)


def node_rules(cluster: Cluster, node: NodePlan) -> str:
    """The node's full nat and filter tables, as ``rules --full`` prints them."""
    from kubeproxy_sim.netfilter.codec import render_ruleset
    from kubeproxy_sim.proxier import generate
    from kubeproxy_sim.proxier.full import node_tables

    result = generate(cluster, node.config)
    return render_ruleset(node_tables(result.ruleset, result.jumps))


def load_rules(netns_name: str, text: str, *, noflush: bool = False) -> None:
    """iptables-restore inside the namespace; the kernel applies a table all or nothing."""
    argv = ["iptables-restore", "-w", "5"] + (["--noflush"] if noflush else [])
    done = nsexec.run(netns_name, argv, stdin=text)
    if done.returncode != 0:
        raise KernelError(f"{netns_name}: iptables-restore rejected the rules: {done.stderr.strip()}")


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
    """Load every node's tables; without nfacct support, regenerate them with --nfacct=false."""
    notes = []
    nodes = []
    for node in topo.nodes:
        text = node_rules(cluster, node)
        if not _nfacct_ready(node, text):
            node = dataclasses.replace(node, config=dataclasses.replace(node.config, nfacct=False))
            text = node_rules(cluster, node)
            notes.append(f"{node.name}: this kernel has no nfacct counters; rules generated with --nfacct=false")
        load_rules(node.netns, text)
        nodes.append(node)
    return dataclasses.replace(topo, nodes=tuple(nodes)), notes


def start_servers(topo: Topology) -> dict[str, int]:
    """One server per workload namespace, each a background process in its own session."""
    groups: dict[str, list[PodPlan]] = {}
    for pod in topo.pods:
        if pod.ports:
            groups.setdefault(pod.netns, []).append(pod)
    started: dict[str, subprocess.Popen[str]] = {}
    for name, pods in groups.items():
        ports = sorted({f"{proto}:{port}" for pod in pods for proto, port in pod.ports})
        label = pods[0].key if len(pods) == 1 else "node/" + pods[0].node
        started[name] = nsexec.popen(name, nsexec.python_module(SERVER_MARK, label, *ports),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True, close_fds=True)
    pids = {name: proc.pid for name, proc in started.items()}
    try:
        for name, proc in started.items():
            _await_ready(name, proc)
    except BaseException:
        _kill(pids.values())
        raise
    return pids


def _await_ready(name: str, proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], SERVER_START_TIMEOUT)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != "ready":
        problem = proc.stderr.read() if proc.stderr and proc.poll() is not None else "no answer"
        raise KernelError(f"{name}: the server did not start: {problem.strip()[-500:]}")
    proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()


def _kill(pids: Any) -> None:
    """SIGKILL our recorded servers (checked against pid reuse), and reap those that are our children."""
    for pid in pids:
        if pid_alive(int(pid), SERVER_MARK):
            os.kill(int(pid), signal.SIGKILL)
    for pid in pids:
        try:
            os.waitpid(int(pid), 0)
        except ChildProcessError:
            deadline = time.monotonic() + 2
            while pid_alive(int(pid)) and time.monotonic() < deadline:
                time.sleep(0.01)


def wire(topo: Topology) -> None:
    """Namespaces, sysctls, links and routes of a plan, without rules or servers (the caller tears down)."""
    for name in topo.namespaces():
        netns.create(name)
    _sysctls(topo)
    _lo_up(topo)
    _node_network(topo)
    for pod in topo.pods:
        if not pod.host_network:
            _pod_link(topo.node(pod.node), pod)
    for node in topo.nodes:
        _node_routes(topo, node)
    _client_routes(topo)


def exists(name: str) -> bool:
    """Whether any namespace of cluster ``name`` is present."""
    return any(n.startswith(cluster_prefix(name)) for n in netns.listnetns())


def initial_state(topo: Topology) -> dict[str, Any]:
    return {
        "name": topo.name,
        "status": "building",
        "owner_pid": os.getpid(),
        "namespaces": topo.namespaces(),
        "servers": {},
        "notes": list(topo.notes),
    }


def up(cluster: Cluster, topo: Topology, directory: Path, extra_state: dict[str, Any] | None = None
       ) -> dict[str, Any]:
    """Build everything; on any failure remove whatever was built and re-raise."""
    if exists(topo.name):
        raise KernelError(f"cluster {topo.name!r} already exists; run `netns down {topo.name}` first")
    state = initial_state(topo)
    state.update(extra_state or {})
    write_state(directory, state)
    try:
        wire(topo)
        topo, notes = _install_rules(cluster, topo)
        state["notes"] += notes
        state["servers"] = start_servers(topo)
        state["status"] = "up"
        write_state(directory, state)
    except BaseException:
        teardown(topo.name, directory, state)
        raise
    return state


def teardown(name: str, directory: Path, state: dict[str, Any] | None) -> list[str]:
    """Kill the cluster's servers, delete every namespace of its prefix, forget its state."""
    if state:
        _kill(state.get("servers", {}).values())
    prefix = cluster_prefix(name)
    removed = []
    for ns_name in sorted(netns.listnetns()):
        if ns_name.startswith(prefix) and ns_name.startswith(PREFIX):
            netns.remove(ns_name)
            removed.append(ns_name)
    remove_state(directory, name)
    return removed


def _owner_name(ns_name: str) -> str | None:
    """``kpsim-NAME.role`` -> NAME."""
    if not ns_name.startswith(PREFIX) or "." not in ns_name:
        return None
    return ns_name[len(PREFIX):].rsplit(".", 1)[0]


def gc(directory: Path) -> list[str]:
    """Remove the namespaces and state of clusters nobody owns any more (a killed build, killed servers)."""
    from kubeproxy_sim.kernel.state import cluster_alive, read_state

    names = {n for n in (_owner_name(ns) for ns in netns.listnetns()) if n}
    if directory.is_dir():
        names |= {p.stem for p in directory.glob("*.json")}
    removed = []
    for name in sorted(names):
        state = read_state(directory, name)
        if state is None or not cluster_alive(state):
            removed += teardown(name, directory, state)
    return removed
