"""A dump that leaves rules out says so in the trace: a table it lacks (``iptables-save -t nat``), and the rules
iptables-nft-save's own warning lines say it did not write (iptables-legacy's tables, a table only nft can show).

Regressions from a QA pass on real dumps (s12, #1 and #6): the nat table alone of a node whose filter table
rejects DNS to a service without endpoints traced as "ACCEPT, masqueraded: 100%" with nothing uncertain, and
a dump headed by iptables-nft-save's warnings was read as complete.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.netfilter.dumpfile import dump_gaps
from tests.realworld import DUMPS

FLANNEL = DUMPS / "07-centos7-flannel-noendpoints-2024.rules"
DNS = ["--node-ip", "192.168.1.5", "--src", "10.1.0.70", "--dst", "10.2.0.10", "--dport", "53", "--proto", "udp",
       "--in-iface", "cni0"]
NFT_WARNINGS = ("# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n"
                "# Table `filter' is incompatible, use 'nft' tool.\n")


def nat_only(text: str) -> str:
    """What ``iptables-save -t nat`` prints of a node: its nat table alone."""
    found = re.search(r"^\*nat\n.*?^COMMIT\n", text, re.M | re.S)
    assert found is not None
    return found.group(0)


def traced(path: Path, capsys: pytest.CaptureFixture[str], *more: str) -> dict:
    assert main(["trace", "--rules", str(path), *DNS, *more, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_nat_only_dump_says_the_filter_table_is_unknown(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    full = traced(FLANNEL, capsys)
    assert [o["verdict"] for o in full["outcomes"]] == ["REJECT"]  # filter's KUBE-SERVICES: no endpoints
    assert not any("not in the dump" in u["rule"] for u in full["uncertain"])
    part = tmp_path / "nat.rules"
    part.write_text(nat_only(FLANNEL.read_text()))
    data = traced(part, capsys)
    assert [o["verdict"] for o in data["outcomes"]] == ["ACCEPT"]  # what an empty filter table does ...
    filter_gap, others = data["uncertain"][:2]  # ... and said first
    assert filter_gap == {"line": None, "rule": "table filter (not in the dump)", "reason": (
        "the dump has no filter table, which kube-proxy writes on every node (saved in part, with -t?); what it "
        "does is unknown, assumed empty: every packet passes it unchanged (save every table: iptables-save "
        "without -t)")}
    assert others["rule"] == "tables raw, mangle, security (not in the dump)"


def test_the_text_lists_the_missing_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    part = tmp_path / "nat.rules"
    part.write_text(nat_only(FLANNEL.read_text()))
    assert main(["trace", "--rules", str(part), *DNS]) == 0
    out = capsys.readouterr().out
    assert "Uncertain (the answer depends on these):\n  rule: table filter (not in the dump)\n" in out


def test_a_complete_dump_without_raw_or_mangle_is_not_doubted() -> None:
    """iptables-save leaves out a table whose module is not loaded, which holds no rule: most nodes' raw."""
    text = FLANNEL.read_text()
    assert "*raw" not in text
    assert dump_gaps(text, ["mangle", "nat", "filter"], False) == ()


def test_a_reply_reads_no_nat_rule_so_a_missing_nat_table_is_no_doubt() -> None:
    gaps = dump_gaps("", ["filter"], False, nat_read=False)
    assert [g.rule for g in gaps] == ["tables raw, mangle, security (not in the dump)"]
    assert [g.rule for g in dump_gaps("", ["filter"], False)] == [
        "table nat (not in the dump)", "tables raw, mangle, security (not in the dump)"]


def test_iptables_nft_save_s_warnings_are_cited_and_say_what_to_run(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "nft.rules"
    dump.write_text(NFT_WARNINGS + nat_only(FLANNEL.read_text()))
    legacy, incompatible, *rest = traced(dump, capsys)["uncertain"]
    assert legacy["line"] == 1 and legacy["rule"] == NFT_WARNINGS.splitlines()[0]
    assert legacy["reason"].endswith("(run iptables-legacy-save and trace that dump too)")
    assert "the kernel applies as well" in legacy["reason"]
    assert incompatible["line"] == 2 and incompatible["rule"] == "# Table `filter' is incompatible, use 'nft' tool."
    assert incompatible["reason"] == (
        "table filter holds rules iptables-nft cannot write, so the dump leaves it out; what it does is unknown, "
        "assumed empty: every packet passes it unchanged (run nft list table ip filter to see it)")
    assert not any(u["rule"] == "table filter (not in the dump)" for u in rest)  # said once, by its own line


def test_the_legacy_warning_at_the_end_and_ip6tables_words() -> None:
    text = "*nat\nCOMMIT\n*filter\nCOMMIT\n# Warning: iptables-legacy tables present, use ip6tables-legacy-save " \
           "to see them\n# Table `mangle' is incompatible, use 'nft' tool.\n"
    legacy, mangle = dump_gaps(text, ["nat", "filter"], True)
    assert legacy.line == 5 and "(run ip6tables-legacy-save and trace that dump too)" in legacy.reason
    assert mangle.line == 6 and "nft list table ip6 mangle" in mangle.reason
