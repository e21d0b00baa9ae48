"""The node's config over the states of a run, for ``replay`` and ``watch``: the node's name fixed once known,
as kube-proxy fixes its node name at start."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.model import Cluster, Node
from kubeproxy_sim.proxier.config import DetectLocalMode

if TYPE_CHECKING:
    from kubeproxy_sim.watch.sync_loop import NodeWait


def given_node_name(args: argparse.Namespace) -> str | None:
    """The node kube-proxy would run as: --hostname-override, else the --config file's hostnameOverride
    (trimmed and lower-cased, as build_config takes it); None when neither names one."""
    from kubeproxy_sim.cli.options import node_settings, normal_node_name

    name = node_settings(args)[0].get("node_name")
    return normal_node_name(name) if isinstance(name, str) else None


def _pod_cidrs_hint(args: argparse.Namespace) -> str:
    """What to do about NodeCIDR without the node's pod CIDR once the watch's wait for it is over, per source."""
    if getattr(args, "kubeconfig", None):
        return "the cluster allocates them: kube-controller-manager --allocate-node-cidrs; or choose another mode"
    return "write spec.podCIDRs into the Node object in the -f directory before the wait ends, or choose another mode"


class NodeConfigs:
    """``build_config`` over the states of a run (replay's steps, a watch's Node changes), with the node's name
    fixed once known: kube-proxy fixes its node name when it starts. A name given (--hostname-override, the
    --config file's hostnameOverride) is fixed at the first build. With none, kube-proxy's name is its machine's
    hostname, which names that machine's Node object: the default (the first Node object by name) is picked at
    the first build whose objects hold a Node, and kept; builds before it run unfixed as the default node of their
    objects (without a Node, the first node the pods and endpoints name, else node1), so a Node added
    later is picked, addresses and zone and all. A Node that sorts before the picked one later gets a note, and
    the node stays. The Node's node IPs and pod CIDRs stay those of the first build with the node fixed (kube-proxy
    reads them at start), but for a restart: see :meth:`_as_started`. A restart of kube-proxy (a new --config
    file) keeps the node: see :meth:`restarted`. Called with the objects, as the sync loop's ``Configure``.
    ``exits`` (the watch): kube-proxy's exit on a Node change is raised, and its wait at start for its Node is
    the sync loop's (:meth:`node_wait`), which says a missing Node and after which the pod CIDR's absence is put
    in the words of the watch's source."""

    def __init__(self, args: argparse.Namespace, *, exits: bool = False) -> None:
        from kubeproxy_sim.cli.options import POD_CIDRS_HINT

        self._args = args
        self._exits = exits  # kube-proxy's exit is raised (SyncLoop's Exited), not followed here by its restart
        self._hint = _pod_cidrs_hint(args) if exits else POD_CIDRS_HINT
        self._given = given_node_name(args)  # the name args give, if any
        self._pinned: argparse.Namespace | None = None  # args naming the node once fixed
        self._defaulted = False  # whether that name was the default, not given
        self._picked = "at the first sync"  # when the default was picked, for the note
        self._started: Node | None = None  # the node's Node object as kube-proxy read it at (re)start
        self._node_cidr = False  # whether kube-proxy runs with detect-local-mode NodeCIDR (it watches pod CIDRs)
        self._host: str | None = None  # the default name picked before a restart (:meth:`restarted`)

    def restarted(self, args: argparse.Namespace) -> NodeConfigs:
        """The configs of kube-proxy restarted with ``args`` (its new --config file): a node picked by default
        stays the node, as the machine's hostname survives the restart, unless ``args`` name one (the new file's
        hostnameOverride, say); the Node is read afresh at the first build."""
        fresh = NodeConfigs(args, exits=self._exits)
        if self._defaulted and self._pinned is not None:
            fresh._host, fresh._picked = self._pinned.hostname_override, self._picked
        return fresh

    def node_wait(self) -> NodeWait | None:
        """What kube-proxy started with these configs waits for before its first sync (:class:`NodeWait`): its Node,
        named (--hostname-override, the --config file's hostnameOverride) or picked before a restart (the machine's
        hostname, which the restart keeps), with node IPs (unless --node-ip gives them), and its pod CIDRs under
        detect-local-mode NodeCIDR. None while no node is known: it is then picked from the Node objects there
        are."""
        from kubeproxy_sim.cli.options import node_settings
        from kubeproxy_sim.watch.sync_loop import NodeWait

        name = self._given or self._host
        if name is None:
            return None
        mode = node_settings(self._args)[0].get("detect_local_mode")
        return NodeWait(name, ips=not self._args.node_ip, pod_cidrs=mode is DetectLocalMode.NODE_CIDR)

    def _build(self, args: argparse.Namespace, cluster: Cluster) -> tuple[Any, list[Diagnostic]]:
        from kubeproxy_sim.cli.options import build_config

        waited = self._exits and (self._given or self._host) is not None  # (the node's Node: see node_wait)
        return build_config(args, cluster, node_said=waited, pod_cidrs_hint=self._hint)

    def __call__(self, cluster: Any) -> tuple[Any, list[Diagnostic]]:
        if self._pinned is None:
            given = self._given is not None
            host = None if given else self._host
            args = self._args if host is None else argparse.Namespace(**{**vars(self._args),
                                                                          "hostname_override": host})
            config, diags = self._build(args, cluster)
            if given or host is not None or cluster.node(config.node_name) is not None:
                self._defaulted = not given
                self._pinned = argparse.Namespace(**{**vars(self._args), "hostname_override": config.node_name})
                self._started = cluster.node(config.node_name)
                self._node_cidr = config.detect_local_mode is DetectLocalMode.NODE_CIDR  # (read at start)
            else:  # no name and no Node object: the default node stands in for a hostname not known yet
                self._picked = "at the first sync with a Node object"
            return config, diags
        cluster, restart = self._as_started(cluster, self._pinned.hostname_override)
        config, diags = self._build(self._pinned, cluster)
        diags[:0] = restart
        if self._defaulted and cluster.nodes:
            first = min(node.name for node in cluster.nodes)
            if first < config.node_name:
                diags.append(Diagnostic(f"Node {first!r} now sorts first, but the node stays {config.node_name!r}, "
                                        f"picked {self._picked} (kube-proxy fixes its node name at start; "
                                        "--hostname-override names one)", severity=Severity.NOTE))
        return config, diags

    def _as_started(self, cluster: Cluster, name: str) -> tuple[Cluster, list[Diagnostic]]:
        """The objects with the node's Node carrying the node IPs and pod CIDRs kube-proxy started with, and what
        it does about a change (kubernetes 531be81208e2, NodeManager.OnNodeChange): new node IPs it logs and
        ignores until it restarts; new spec.podCIDRs under detect-local-mode NodeCIDR make it exit. With
        ``exits`` (the watch) that is raised (:class:`~kubeproxy_sim.watch.sync_loop.Exited`), for a restarted
        loop to wait for the Node as the restarted kube-proxy does; else (replay, per state) the restart is
        followed here: it reads the Node afresh (IPs too), and the new config makes the next sync full. Pod CIDRs
        in other modes are read at start only and used by no rule. Its zone is not kept: the topology handler
        follows it."""
        node, started = cluster.node(name), self._started
        if node is None or node == started:
            return cluster, []
        before = started.pod_cidrs if started is not None else ()
        if self._node_cidr and node.pod_cidrs != before:
            exits = [Diagnostic(f"Node {name}: spec.podCIDRs changed from {_listed(before)} to "
                                f"{_listed(node.pod_cidrs)}: kube-proxy exits (detect-local-mode NodeCIDR) "
                                "and its restart does a full sync", severity=Severity.WARNING)]
            if self._exits:
                from kubeproxy_sim.watch.sync_loop import Exited

                raise Exited(exits)
            self._started = node
            return cluster, exits
        notes = []
        ips_then, ips_now = _host_ips(started), _host_ips(node)
        if ips_now != ips_then:
            notes.append(Diagnostic(f"Node {name}: its node IPs changed from {_listed(ips_then)} to "
                                    f"{_listed(ips_now)}: kube-proxy logs it and keeps those it started with until "
                                    "it restarts", severity=Severity.NOTE))
        kept = replace(node, addresses=started.addresses if started is not None else (), pod_cidrs=before)
        return replace(cluster, nodes=tuple(kept if n.name == name else n for n in cluster.nodes)), notes


def _host_ips(node: Node | None) -> tuple[str, ...]:
    """The node IPs kube-proxy takes from a Node (Node.host_ips), none without one; what NodeManager compares."""
    return node.host_ips if node is not None else ()


def _listed(items: tuple[str, ...]) -> str:
    return ", ".join(items) if items else "none"

