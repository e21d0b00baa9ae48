"""An input refused as a whole (u1's walkthrough, item 15): ``-f`` given an iptables-save dump was refused, and
then came the --detect-local-mode note about rules left out, of rules for objects nobody gave."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import follow_on
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
    assert follow_on(config, [], Cluster()) == config  # an empty input, no error: a cluster of nothing
    node = Node(name="n")
    assert follow_on(config, [_ERROR], Cluster(nodes=(node,))) == config  # some objects read: they get rules
