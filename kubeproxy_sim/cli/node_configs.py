"""The node's config over the states of a run, for ``replay`` and ``watch``: the node's name fixed once known,
as kube-proxy fixes its node name at start."""

from __future__ import annotations

import argparse
from typing import Any

from kubeproxy_sim.errors import Diagnostic, Severity


def given_node_name(args: argparse.Namespace) -> str | None:
    """The node kube-proxy would run as: --hostname-override, else the --config file's hostnameOverride
    (trimmed and lower-cased, as build_config takes it); None when neither names one."""
    from kubeproxy_sim.cli.options import blank_hostname, normal_node_name

    name = args.hostname_override if not blank_hostname(args.hostname_override) else None
    if not name and getattr(args, "config", None):
        from kubeproxy_sim.cli.config_file import read_config_file

        name = read_config_file(args.config)[0].get("node_name")
    return normal_node_name(name) if isinstance(name, str) else None


class NodeConfigs:
    """``build_config`` over the states of a run (replay's steps, a watch's Node changes), with the node's name
    fixed once known: kube-proxy fixes its node name when it starts. A name given (--hostname-override, the
    --config file's hostnameOverride) is fixed at the first build. With none, kube-proxy's name is its machine's
    hostname, which names that machine's Node object: the default (the first Node object by name) is picked at
    the first build whose objects hold a Node, and kept; builds before it run as node1 unfixed, so a Node added
    later is picked, addresses and zone and all. A Node that sorts before the picked one later gets a note, and
    the node stays. Called with the objects, as the sync loop's ``Configure``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._pinned: argparse.Namespace | None = None  # args naming the node once fixed
        self._defaulted = False  # whether that name was the default, not given
        self._picked = "at the first sync"  # when the default was picked, for the note

    def __call__(self, cluster: Any) -> tuple[Any, list[Diagnostic]]:
        from kubeproxy_sim.cli.options import build_config

        if self._pinned is None:
            config, diags = build_config(self._args, cluster)
            given = given_node_name(self._args) is not None
            if given or cluster.node(config.node_name) is not None:
                self._defaulted = not given
                self._pinned = argparse.Namespace(**{**vars(self._args), "hostname_override": config.node_name})
            else:  # no name and no Node object: node1 stands in for a hostname not known yet
                self._picked = "at the first sync with a Node object"
            return config, diags
        config, diags = build_config(self._pinned, cluster)
        if self._defaulted and cluster.nodes:
            first = min(node.name for node in cluster.nodes)
            if first < config.node_name:
                diags.append(Diagnostic(f"Node {first!r} now sorts first, but the node stays {config.node_name!r}, "
                                        f"picked {self._picked} (kube-proxy fixes its node name at start; "
                                        "--hostname-override names one)", severity=Severity.NOTE))
        return config, diags
