"""An input refused as a whole (u1's walkthrough, item 15): ``-f`` given an iptables-save dump was refused, and
then came the --detect-local-mode note about rules left out, of rules for objects nobody gave."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import NOTHING_READ, follow_on
from kubeproxy_sim.errors import Diagnostic, Severity
from kubeproxy_sim.objects.model import Cluster, Node

_DUMP = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n"
_NOTE = Diagnostic("ClusterCIDR with no IPv4 cluster CIDR", field="--detect-local-mode", severity=Severity.NOTE)
_WARNING = Diagnostic("warning of a flag", field="--node-ip", severity=Severity.WARNING)
_ERROR = Diagnostic("this is an iptables-save dump", file="d.rules")


@pytest.mark.parametrize("command", [
    ["trace", "--src", "10.244.0.5", "--dst", "10.96.0.1", "--dport", "443"],
    ["dist", "--to", "10.96.0.1:443"],
])
def test_a_dump_given_as_objects_is_refused_without_follow_on_notes(capsys, tmp_path, command) -> None:
    dump = tmp_path / "d.rules"
    dump.write_text(_DUMP)
    assert main([command[0], "-f", str(dump), *command[1:]]) == 1
    err = capsys.readouterr().err
    assert "this is an iptables-save dump, not Kubernetes objects" in err
    assert "--detect-local-mode" not in err


def test_only_the_notes_go_and_only_when_nothing_was_read() -> None:
    config = [_WARNING, _NOTE]
    assert follow_on(config, [_ERROR], Cluster()) == [_WARNING]  # refused: the flag's warning stays
    node = Node(name="n")
    assert follow_on(config, [_ERROR], Cluster(nodes=(node,))) == config  # some objects read: they get rules
    assert follow_on(config, [], Cluster(nodes=(node,))) == config


def test_an_input_with_nothing_read_says_what_the_answers_then_are() -> None:
    """u1's item 16: ``rules -f empty.yaml`` warned "empty" and printed rules, exit 0, without saying what they
    are. kubectl apply refuses an empty input (exit 1), but kube-proxy with no Services writes its base chains:
    the rules are right, exit 0, and a note says so in place of the notes about rules left out."""
    warning = Diagnostic("empty; no objects in this file", file="e.yaml", severity=Severity.WARNING)
    assert follow_on([_WARNING, _NOTE], [warning], Cluster()) == [_WARNING, Diagnostic(NOTHING_READ,
                                                                                       severity=Severity.NOTE)]


def test_trace_of_an_empty_file_says_it_answers_for_a_cluster_of_nothing(capsys, tmp_path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert main(["trace", "-f", str(empty), "--src", "10.244.0.5", "--dst", "10.96.0.1", "--dport", "443"]) == 0
    assert capsys.readouterr().err == (f"kubeproxy-sim: {empty}: warning: empty; no objects in this file\n"
                                       f"kubeproxy-sim: note: {NOTHING_READ}\n")
