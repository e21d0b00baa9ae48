"""Shared builders for the controller tests: two nodes, a deployment, and running the scenario command."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubeproxy_sim.cli import main as main_module
from kubeproxy_sim.controllers import world as W
from kubeproxy_sim.controllers.model import World
from kubeproxy_sim.objects.model import Node, NodeAddress

IMAGE_V1 = "gcr.io/google-samples/kubernetes-bootcamp:v1"
IMAGE_V2 = "docker.io/jocatalin/kubernetes-bootcamp:v2"
IMAGE_BROKEN = "gcr.io/google-samples/kubernetes-bootcamp:v10"
SCENARIO_MODULE = "kubeproxy_sim.cli.scenario_cmd"


def node(name: str, cidr: str, ip: str, zone: str) -> Node:
    return Node(name=name, addresses=(NodeAddress("InternalIP", ip),), pod_cidrs=(cidr,),
                labels=(("topology.kubernetes.io/zone", zone),))


NODES = (node("node1", "10.244.0.0/24", "192.168.49.2", "zone-a"),
         node("node2", "10.244.1.0/24", "192.168.49.3", "zone-b"))


def world(nodes: tuple[Node, ...] = NODES, **changes: object) -> World:
    return World(nodes=nodes, **changes)  # type: ignore[arg-type]


def deployed(replicas: int, seed: int = 0, **changes: Any) -> tuple[World, random.Random]:
    """A world with app 'web' at ``replicas`` pods, rolled out and ready."""
    import dataclasses

    rng = random.Random(seed)
    d = dataclasses.replace(W.new_deployment("default", "web", [IMAGE_V1], replicas, 8080), **changes)
    w = W.create_deployment(world(), d, rng)
    w = W.wait_for_rollout(w, "default", "web", rng).world
    return w, rng


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run ``kubeproxy-sim`` with the scenario command registered (whether or not main.py lists it yet)."""
    if SCENARIO_MODULE not in main_module.COMMAND_MODULES:
        monkeypatch.setattr(main_module, "COMMAND_MODULES", (*main_module.COMMAND_MODULES, SCENARIO_MODULE))
    return main_module.main(argv)
