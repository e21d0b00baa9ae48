"""Shared inputs: the rules of two built-in scenarios, generated once per session."""

from __future__ import annotations

import argparse

import pytest

from kubeproxy_sim.netfilter.model import Ruleset


def node_rules(scenario: str) -> Ruleset:
    from kubeproxy_sim.cli.options import add_input_flags, load_node_rules

    parser = argparse.ArgumentParser()
    add_input_flags(parser)
    return load_node_rules(parser.parse_args(["--scenario", scenario])).ruleset  # type: ignore[return-value]


@pytest.fixture(scope="session")
def bootcamp() -> Ruleset:
    return node_rules("bootcamp")


@pytest.fixture(scope="session")
def overall() -> Ruleset:
    return node_rules("upstream-overall-iptables-rules")
