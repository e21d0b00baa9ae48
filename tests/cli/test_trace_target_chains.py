"""A trace of generated rules cites each step as ``rules --full`` prints it: a ``-j`` without options into a
user chain named like a target (``:TPROXY - [0:0]``, ``:REJECT - [0:0]``) is the plain jump it is, as
iptables-legacy-save and -nft-save v1.8.9 print it (saveform.chain_jumps), not the extension with the options
saveform adds to a real TPROXY or REJECT target."""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli import options
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.saveform import render_saved, save_lines

# kube-proxy names no chain like a target: the generated tables are swapped for these after generation, so the
# citation of objects' rules (SavedLines' numbering, saved_rule_text) meets such chains
TARGET_CHAINS = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:TPROXY - [0:0]
-A PREROUTING -p tcp -j TPROXY
-A TPROXY -j RETURN
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:REJECT - [0:0]
-A INPUT -p tcp -j REJECT
-A REJECT -j DROP
COMMIT
"""


@pytest.fixture
def target_chains(monkeypatch: pytest.MonkeyPatch) -> None:
    def swapped(inputs: options.Inputs) -> options.NodeRules:
        return options.NodeRules(parse_ruleset(TARGET_CHAINS), inputs)

    monkeypatch.setattr(options, "node_rules", swapped)


@pytest.mark.usefixtures("target_chains")
def test_a_jump_into_a_chain_named_like_a_target_is_cited_as_the_plain_jump(
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["trace", "--scenario", "bootcamp", "--src", "198.51.100.7", "--dst", "192.168.49.2", "--dport", "22",
            "-o", "json"]
    assert main(argv) == 0
    trace = json.loads(capsys.readouterr().out)
    assert [o["verdict"] for o in trace["outcomes"]] == ["DROP"]
    path = [step for step in trace["outcomes"][0]["path"] if step["line"]]
    full = render_saved(save_lines(parse_ruleset(TARGET_CHAINS))).splitlines()  # `rules --full`'s lines
    assert path and all(full[step["line"] - 1] == step["rule"] for step in path)
    cited = [(step["table"], step["chain"], step["rule"]) for step in path]
    assert ("mangle", "PREROUTING", "-A PREROUTING -p tcp -j TPROXY") in cited
    assert ("filter", "INPUT", "-A INPUT -p tcp -j REJECT") in cited
    assert ("filter", "REJECT", "-A REJECT -j DROP") in cited
    assert not [rule for _, _, rule in cited if "--on-ip" in rule or "--reject-with" in rule]
