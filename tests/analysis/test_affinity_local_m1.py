"""dist's affinity model balances a client no longer listed by the chain its node uses (u1's item 4).

With internalTrafficPolicy Local each node's KUBE-SVL chain holds its local endpoints only (upstream writes the
localPolicyChain's ``--rcheck`` rules and split over ``localEndpoints``), so a client balanced anew on a node with
one local endpoint lands on it again: ClientIP affinity keeps 100% there, whatever the list holds.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from kubeproxy_sim.analysis.affinity import client_load, rebalanced_same
from kubeproxy_sim.analysis.exact import Entry, Share
from kubeproxy_sim.analysis.nodes import Source
from kubeproxy_sim.cli.main import main

SHOP = Path(__file__).resolve().parent / "data" / "shop_m1.yaml"
API_TYPE = "      app: api\n    type: ClusterIP\n"
AFFINITY = "      app: api\n    sessionAffinity: ClientIP\n    type: ClusterIP\n"
LOCAL = AFFINITY + "    internalTrafficPolicy: Local\n"


def _dist(capsys, tmp_path: Path, spec: str, *edits: tuple[str, str]) -> tuple[dict, str]:
    text = SHOP.read_text().replace(API_TYPE, spec)
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    argv = ["dist", "-f", str(path), "--cluster-cidr", "10.244.0.0/16", "--to", "api.shop"]
    assert main([*argv, "-o", "json"]) == 0
    (service,) = json.loads(capsys.readouterr().out)["services"]
    assert main(argv) == 0
    return service["affinity"], capsys.readouterr().out


def _same(affinity: dict) -> dict[int, str]:
    return {load["clients"]: load["same_endpoint_exact"] for load in affinity["clients_per_endpoint"]}


def test_internal_policy_local_keeps_every_client_on_its_node_s_one_endpoint(capsys, tmp_path) -> None:
    """u1's after.yaml: one api endpoint per node, internalTrafficPolicy Local: 100% for every m (was 7/9 at
    m=150, the Service's three endpoints' 1/3)."""
    affinity, text = _dist(capsys, tmp_path, LOCAL)
    assert (
        affinity["endpoints"] == 3 and affinity["sticky"] and all(c["returns_exact"] == "1" for c in affinity["sticky"])
    )
    assert _same(affinity) == {m: "1" for m in (50, 100, 150, 200, 400, 1000)}
    assert "m=  150: still listed  66.6667%   back on the same endpoint 100.0000%" in text
    assert "balanced again by its node's chain, over 1 of the 3 endpoints" in text


def test_cluster_policy_balances_over_every_endpoint_as_before(capsys, tmp_path) -> None:
    """u1's aff-only.yaml: one chain over the three endpoints on every node: listed + (1 - listed)/3."""
    affinity, text = _dist(capsys, tmp_path, AFFINITY)
    assert _same(affinity) == {50: "1", 100: "1", 150: "7/9", 200: "2/3", 400: "1/2", 1000: "2/5"}
    assert "back on the same endpoint  77.7778%" in text and "by its node's chain" not in text


def test_nodes_with_different_local_endpoint_counts_are_averaged(capsys, tmp_path) -> None:
    """api-2's endpoint said to be on node-a: node-a's chain splits over 2, node-c's holds 1, node-b's none (its
    clients are dropped, so they have no endpoint to return to): a client balanced anew is back with
    (1/2 + 1) / 2 = 3/4; at m=200 (listed 1/2) 1/2 + 1/2 * 3/4 = 7/8."""
    moved = (
        "    nodeName: node-b\n    targetRef: {kind: Pod, name: api-2",
        "    nodeName: node-a\n    targetRef: {kind: Pod, name: api-2",
    )
    affinity, text = _dist(capsys, tmp_path, LOCAL, moved)
    assert _same(affinity) == {50: "1", 100: "1", 150: "11/12", 200: "7/8", 400: "13/16", 1000: "31/40"}
    assert "over 1 to 2 of the 3 endpoints" in text


def _entry(node: str, weight: Fraction, *shares: Share) -> Entry:
    return Entry(node, Source("pod", "10.244.0.20"), "10.96.10.30:9090", weight, shares)


def test_rebalanced_same_weighs_entries_by_what_they_deliver() -> None:
    """An entry that drops half its connections counts half; entries without weight count alike."""
    half = Fraction(1, 2)
    two = (Share("DNAT", "10.0.0.1:80", half / 2), Share("DNAT", "10.0.0.2:80", half / 2), Share("DROP", None, half))
    one = (Share("DNAT", "10.0.0.3:80", Fraction(1)),)
    assert rebalanced_same([_entry("a", half, *two), _entry("b", half, *one)]) == (
        (half * half * half + half * 1) / (half * half + half),
        (2, 1),
    )  # (1/8 + 1/2) / (3/4) = 5/6
    assert rebalanced_same([_entry("a", Fraction(0), *two), _entry("b", Fraction(0), *one)]) == (Fraction(3, 4), (2, 1))
    assert rebalanced_same([_entry("a", Fraction(1), Share("REJECT", None, Fraction(1)))]) == (Fraction(1), ())
    assert client_load(200, 3).same_endpoint == Fraction(2, 3)  # the default: one chain over every endpoint
    assert client_load(200, 3, rebalanced=Fraction(1)).same_endpoint == 1
