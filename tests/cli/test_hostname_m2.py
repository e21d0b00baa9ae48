"""``--hostname-override`` naming no Node (u1's walkthrough, item 12): the warning now names the Node the name
likely means, and says the name was lower-cased, as kube-proxy takes it."""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main

_NODES = "".join(f"---\napiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n"
                 "status: {addresses: [{type: InternalIP, address: 10.0.0.%d}]}\n" % (i + 1)
                 for i, name in enumerate(("node-a", "node-b", "node-c")))


@pytest.mark.parametrize(("given", "said"), [
    ("nodeA", "no Node object named 'nodea' (kube-proxy lower-cases the name given); did you mean node-a? node "
              "facts come from flags only"),
    ("node-a1", "no Node object named 'node-a1'; did you mean node-a? node facts come from flags only"),
    # as close to each Node: naming one would be a guess
    ("node-x", "no Node object named 'node-x'; node facts come from flags only"),
    ("worker", "no Node object named 'worker'; node facts come from flags only"),
])
def test_a_hostname_naming_no_node_names_the_closest(capsys, tmp_path, given, said) -> None:
    objects = tmp_path / "nodes.yaml"
    objects.write_text(_NODES)
    status = main(["rules", "-f", str(objects), "--cluster-cidr", "10.244.0.0/16", "--hostname-override", given])
    assert (status, capsys.readouterr().err) == (0, f"kubeproxy-sim: --hostname-override: warning: {said}\n")


def test_a_hostname_in_another_case_finds_its_node(capsys, tmp_path) -> None:
    objects = tmp_path / "nodes.yaml"
    objects.write_text(_NODES)
    status = main(["rules", "-f", str(objects), "--cluster-cidr", "10.244.0.0/16", "--hostname-override", "NODE-B"])
    assert (status, capsys.readouterr().err) == (0, "")
