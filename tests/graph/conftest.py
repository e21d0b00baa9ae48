"""Shared inputs: the rules of two built-in scenarios, generated once per session, and a restore input."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubeproxy_sim.netfilter.model import Ruleset


def node_rules(scenario: str) -> Ruleset:
    from kubeproxy_sim.cli.options import add_input_flags, load_node_rules

    parser = argparse.ArgumentParser()
    add_input_flags(parser)
    return load_node_rules(parser.parse_args(["--scenario", scenario])).ruleset


def restore_input(tmp_path: Path) -> Path:
    """kube-proxy's restore input for bootcamp (``rules --scenario bootcamp``): its chains, no built-in ones."""
    from kubeproxy_sim.cli.options import add_input_flags, load_inputs
    from kubeproxy_sim.cli.rules_cmd import rules_text

    parser = argparse.ArgumentParser()
    add_input_flags(parser)
    restore = tmp_path / "restore.rules"
    restore.write_text(rules_text(load_inputs(parser.parse_args(["--scenario", "bootcamp"])), full=False))
    return restore


@pytest.fixture(scope="session")
def bootcamp() -> Ruleset:
    return node_rules("bootcamp")


@pytest.fixture(scope="session")
def overall() -> Ruleset:
    return node_rules("upstream-overall-iptables-rules")
