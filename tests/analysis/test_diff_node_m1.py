"""diff says what the compared node's clients meet, and a masquerade change (u1's items 2 and 3).

The views' ``before``/``after`` average every node's entries (the public JSON keeps them); a Local policy makes a
node's own shares differ, and the node named (``--hostname-override``/``--node``) is the one a user asks about, so
its shares are said beside the average, in the text and as ``on_node``. externalTrafficPolicy Local -> Cluster
keeps the average shares of a balancer but masquerades every connection (upstream's KUBE-EXT 'masquerade traffic
for ... external destinations' rule): the text says so.
"""

from __future__ import annotations

import json
from pathlib import Path

from kubeproxy_sim.cli.main import main

SHOP = Path(__file__).resolve().parent / "data" / "shop_m1.yaml"
API_TYPE = "      app: api\n    type: ClusterIP\n"
ITP_LOCAL = "      app: api\n    sessionAffinity: ClientIP\n    type: ClusterIP\n    internalTrafficPolicy: Local\n"
ETP_LOCAL = "    externalTrafficPolicy: Local\n    healthCheckNodePort: 32100\n"
ETP_CLUSTER = "    externalTrafficPolicy: Cluster\n"
API = {"10.244.0.10:9090": "shop/api-1", "10.244.1.11:9090": "shop/api-2", "10.244.2.12:9090": "shop/api-3"}


def _write(tmp_path: Path, name: str, old: str = "", new: str = "") -> Path:
    text = SHOP.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new) if old else text)
    return path


def _diff(capsys, before: Path, after: Path, *flags: str) -> tuple[dict, str]:
    argv = ["diff", "-f", str(before), "--cluster-cidr", "10.244.0.0/16", "--against", str(after), *flags]
    assert main([*argv, "-o", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    return doc, capsys.readouterr().out


def _shares(outcomes: list[dict]) -> dict[str, str]:
    return {o["endpoint"] or o["verdict"]: o["probability_exact"] for o in outcomes}


def _block(text: str, heading: str) -> str:
    """The view's lines, from its heading to the next view's or the port's next part."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {heading}"))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("  ") and lines[i][2] != " "), len(lines)
    )
    return "\n".join(lines[start:end])


def test_the_named_node_s_clients_go_to_its_local_endpoint(capsys, tmp_path) -> None:
    """u1's after.yaml on node-a: the average stays a third each, node-a's clients go to api-1 alone."""
    before, after = _write(tmp_path, "before.yaml"), _write(tmp_path, "after.yaml", API_TYPE, ITP_LOCAL)
    doc, text = _diff(capsys, before, after, "--hostname-override", "node-a")
    (port,) = doc["services"]
    (view,) = port["views"]
    assert _shares(view["after"]) == dict.fromkeys(API, "1/3")  # the average, as the contract has it
    mine = view["on_node"]
    assert _shares(mine["after"]) == {"10.244.0.10:9090": "1"}
    assert set(_shares(mine["before"])) == set(API) and mine["receives_before"] and mine["receives_after"]
    assert text.startswith(
        "rules compared on node node-a\nshares: each view's average over every node's clients; "
        "node-a's own below it where they differ\n"
    )
    block = _block(text, "clusterIP 10.96.10.30:9090")
    assert "    on node-a alone (the lines above average every node's):\n" in block
    own = block.split("on node-a alone")[1].split("\n")[1:]
    assert own[0].startswith("    10.244.0.10:9090 (shop/api-1)  33.3333% ") and "-> 100.0000% " in own[0]
    assert all("->   0.0000%" in line for line in own[1:3]) and len(own) == 3


def test_node_flag_names_the_node_whose_clients_are_shown(capsys, tmp_path) -> None:
    before, after = _write(tmp_path, "before.yaml"), _write(tmp_path, "after.yaml", API_TYPE, ITP_LOCAL)
    doc, text = _diff(capsys, before, after, "--node", "node-b")
    assert _shares(doc["services"][0]["views"][0]["on_node"]["after"]) == {"10.244.1.11:9090": "1"}
    assert "on node-b alone" in text and "on node-a alone" not in text


def test_external_policy_cluster_says_client_ips_are_no_longer_kept(capsys, tmp_path) -> None:
    """u1's etpc.yaml: the balancer's average is 50/50 before and after; every connection is masqueraded after.
    node-a, which the balancer skipped (no local endpoint, health check failing), receives connections after."""
    before, after = _write(tmp_path, "before.yaml"), _write(tmp_path, "etpc.yaml", ETP_LOCAL, ETP_CLUSTER)
    doc, text = _diff(capsys, before, after, "--hostname-override", "node-a")
    (port,) = doc["services"]
    views = {v["kind"]: v for v in port["views"]}
    balancer = views["loadBalancer"]
    assert _shares(balancer["before"]) == _shares(balancer["after"])
    assert [o["masquerade_exact"] for o in balancer["before"]] == ["0", "0"]
    assert [o["masquerade_exact"] for o in balancer["after"]] == ["1/2", "1/2"]
    assert (balancer["on_node"]["receives_before"], balancer["on_node"]["receives_after"]) == (False, True)
    assert _shares(balancer["on_node"]["before"]) == {"DROP": "1"}
    said = (
        "    masqueraded: 0.0000% -> 100.0000% of the connections delivered; client source IPs are no longer "
        "kept: the pods see a node's address"
    )
    for heading in ("loadBalancer 203.0.113.50:80", "nodePort <node>:30080"):
        assert said in _block(text, heading), heading
    assert "masqueraded" not in _block(text, "clusterIP 10.96.10.20:80")  # pods' connections: neither masquerades
    assert "on node-a alone" not in _block(text, "clusterIP 10.96.10.20:80")  # node-a's shares are the average's
    assert (
        "    on node-a alone (the lines above average every node's); no new connection of this view enters it "
        "before: the shares of one that would:"
    ) in _block(text, "loadBalancer 203.0.113.50:80")


def test_external_policy_local_says_client_ips_are_kept_now(capsys, tmp_path) -> None:
    before, after = _write(tmp_path, "etpc.yaml", ETP_LOCAL, ETP_CLUSTER), _write(tmp_path, "etpl.yaml")
    _, text = _diff(capsys, before, after, "--hostname-override", "node-b")
    assert (
        "    masqueraded: 100.0000% -> 0.0000% of the connections delivered; client source IPs are kept now: "
        "the pods see the client's address"
    ) in _block(text, "loadBalancer 203.0.113.50:80")
    # node-b has web-1: its own NodePort connections go there alone after, all of them unmasqueraded
    nodeport = _block(text, "nodePort <node>:30080")
    assert "on node-b alone" in nodeport and nodeport.count("masqueraded: 100.0000% -> 0.0000%") == 2
