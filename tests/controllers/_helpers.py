"""Shared builders for the controller tests: two nodes, a deployment, and running the scenario command."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
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


def split_steps(out: str) -> list[list[str]]:
    """Each step's lines of the scenario command's output (``--show``), its ``# step N: ...`` header left out."""
    steps: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith("# step "):
            steps.append([])
        else:
            assert steps, f"output before the first step: {line!r}"
            steps[-1].append(line)
    return steps


def step_notes(lines: list[str]) -> list[str]:
    """A step's notes (what an apply, a controller or a failing sync said): its ``# `` lines, the marker dropped;
    not ``--show rules``' line for rules as they were (``# rules unchanged: as after step K``), which is no note."""
    return [line[2:] for line in lines if line.startswith("# ") and not line.startswith("# rules unchanged: ")]


def play_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
               *options: str) -> list[list[str]]:
    """Play ``script`` (written as ``tmp_path``/script) with the scenario command and ``options``: each step's
    lines (:func:`split_steps`)."""
    (tmp_path / "script").write_text(script)
    assert run_cli(["scenario", str(tmp_path / "script"), *options], monkeypatch) == 0
    return split_steps(capsys.readouterr().out)


def played_worlds(tmp_path: Path, lines: list[str], strict: bool = False,
                  **files: str) -> list[tuple[World, list[str]]]:
    """Each step of ``lines`` played (script.play) on a World with app 'web' at no pods, the files written in
    ``tmp_path`` as NAME.yaml: (the World after it, its notes); ``strict``: every step must play without error."""
    from kubeproxy_sim.cli.scenario_cmd import load_manifests
    from kubeproxy_sim.controllers.script import parse_line, play

    state, rng = deployed(0)
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    out = []
    for number, text in enumerate(lines, start=1):
        step = parse_line(number, text)
        assert step is not None
        step = replace(step, paths=tuple(str(tmp_path / p) for p in step.paths))
        played = play(state, step, rng, load_manifests)
        assert not strict or played.error is None, played.error
        state = played.world
        out.append((state, list(played.notes)))
    return out
