"""A trace's path cites lines: each step's rule reads exactly as that line does (``rules --full``'s, or the
dump's own with ``--rules``), so a user can find it with grep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import without_pointer

if TYPE_CHECKING:
    from kubeproxy_sim.netfilter.model import Rule

PACKETS = [["--src", "10.244.0.9", "--dst", "10.96.142.87", "--dport", "8080"],
           ["--src", "198.51.100.7", "--dst", "192.168.49.2", "--dport", "31526"],
           ["--src", "192.168.49.2", "--dst", "127.0.0.1", "--dport", "31526"]]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def _cited(trace: dict) -> list[tuple[int, str]]:
    return [(step["line"], step["rule"]) for o in trace["outcomes"] for step in o["path"] if step["line"]]


@pytest.mark.parametrize("packet", PACKETS)
def test_steps_read_as_the_lines_they_cite(packet: list[str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    full = _run(["rules", "--scenario", "bootcamp", "--full"], capsys).splitlines()
    cited = _cited(json.loads(_run(["trace", "--scenario", "bootcamp", *packet, "-o", "json"], capsys)))
    assert cited and all(full[line - 1] == rule for line, rule in cited)
    dump = tmp_path / "node1.rules"  # hand-edited spacing: the dump's own text is what is cited
    dump.write_text("\n".join(line.replace(" -j ", "  -j ") if line.startswith("-A") else line for line in full))
    argv = ["trace", "--rules", str(dump), "--node-ip", "192.168.49.2", *packet, "-o", "json"]
    text = dump.read_text().splitlines()
    cited = _cited(json.loads(_run(argv, capsys)))
    assert cited and all(text[line - 1] == rule and "  -j " in rule for line, rule in cited)


def test_an_empty_dump_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.rules"
    empty.write_text("")
    assert main(["trace", "--rules", str(empty), "--src", "10.0.0.3", "--dst", "10.96.0.1", "--dport", "80"]) == 0
    assert f"{empty}: warning: no tables in this file" in capsys.readouterr().err


def test_affinity_lists_are_read_off_the_specs(capsys: pytest.CaptureFixture[str]) -> None:
    """--affinity's check reads the rules' texts: the same lists as the typed rules name, no Rule built for
    a chain kept as texts (at 10,000 services building them cost more than the trace)."""
    from kubeproxy_sim.cli.trace_cmd import _recent_lists
    from kubeproxy_sim.netfilter.codec import parse_ruleset

    ruleset = parse_ruleset(_run(["rules", "--scenario", "session-affinity", "--full"], capsys))
    assert any(c.specs is not None for t in ruleset.tables for c in t.chains)
    named = _recent_lists(ruleset)
    assert not [c.name for t in ruleset.tables for c in t.chains if c.specs is not None and c._rules is not None]
    typed = {o.value for t in ruleset.tables for c in t.chains for r in c.rules for o in r.parsed.options
             if o.module == "recent" and o.flag == "--name"}
    assert named == typed and any(name.startswith("KUBE-SEP-") for name in named)


def test_a_recent_match_without_a_name_uses_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "node.rules"
    dump.write_text("*filter\n:FORWARD ACCEPT [0:0]\n:X - [0:0]\n-A FORWARD -j X\n"
                    "-A X -m recent --rcheck --seconds 60 --reap -j DROP\nCOMMIT\n")
    argv = ["trace", "--rules", str(dump), "--src", "10.0.0.3", "--dst", "10.0.0.4", "--dport", "80"]
    assert main([*argv, "--affinity", "DEFAULT", "-o", "json"]) == 0
    out, err = capsys.readouterr()
    assert "--affinity" not in err and [o["verdict"] for o in json.loads(out)["outcomes"]] == ["DROP"]
    assert main([*argv, "--affinity", "OTHER", "-o", "json"]) == 0
    assert "the lists they use: DEFAULT" in capsys.readouterr().err


def test_plain_text_labels_a_policy_step_as_the_tracer_does() -> None:
    """A generated chain never numbered: its policy's step has no line; both texts call it ``policy``."""
    from kubeproxy_sim.cli.trace_cmd import trace_text
    from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table
    from kubeproxy_sim.netfilter.packet import Packet
    from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, render_text

    forward = Chain("FORWARD", (Rule("FORWARD", "-j KUBE-FORWARD"),), "DROP")
    ruleset = Ruleset((Table("filter", (forward, Chain.of_specs("KUBE-FORWARD", ["-j RETURN"]))),))
    result = Tracer(ruleset, NodeContext.of(("10.9.0.1",))).trace(Packet.of("tcp", "10.1.0.2", "10.2.0.3", 80))
    text = trace_text(result)
    assert text == render_text(result) and "    policy: :FORWARD DROP [0:0]\n" in text


def test_a_later_packet_s_graph_is_of_its_connection_s_service(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """An ESTABLISHED packet walks no nat rule; its first packet's path tells the service the graph is of."""
    out = tmp_path / "later.dot"
    _run(["trace", "--scenario", "bootcamp", *PACKETS[0], "--ctstate", "ESTABLISHED", "--graph", str(out)], capsys)
    title = next(line for line in out.read_text().splitlines() if line.strip().startswith("label="))
    assert "service default/kubernetes-bootcamp" in title and "hits no service" not in title


def test_a_later_packet_s_graph_highlights_the_rules_its_path_matched(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Its path is filter's: those rules are drawn beside the service's and highlighted, not a silent graph."""
    from kubeproxy_sim.cli.trace_cmd import LATER_UNMARKED

    out = tmp_path / "later.dot"
    argv = ["trace", "--scenario", "bootcamp", *PACKETS[0], "--ctstate", "ESTABLISHED"]
    assert main([*argv, "--graph", str(out)]) == 0
    err = capsys.readouterr().err
    steps = {(s["chain"], s["line"]) for o in json.loads(_run([*argv, "-o", "json"], capsys))["outcomes"]
             for s in o["path"]}
    assert steps == {("FORWARD", 17), ("KUBE-FORWARD", 26)}
    marked = [line for line in out.read_text().splitlines() if " -> " in line and "#d62728" in line]
    assert sorted(m.split(" [")[0].strip() for m in marked) == [
        '"filter:FORWARD" -> "filter:KUBE-FORWARD"', '"filter:KUBE-FORWARD" -> "filter:KUBE-FORWARD:ACCEPT"']
    assert all("filter line 17:" in m or "filter line 26:" in m for m in marked)
    assert "(2 traced rules highlighted)" in err and LATER_UNMARKED not in out.read_text()
    assert '"nat:KUBE-SVC-2TYZFXBKM236ELT2"' in out.read_text()  # still the service's picture


def test_a_later_packet_s_other_tables_are_drawn_in_the_order_its_path_enters_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """raw before mangle, as the packet meets them (and as a packet no service catches has them drawn), after the
    service's nat and filter: not in name order."""
    full = _run(["rules", "--scenario", "bootcamp", "--full"], capsys)
    dump = tmp_path / "more.rules"
    dump.write_text("*mangle\n:PREROUTING ACCEPT [0:0]\n:MARKED - [0:0]\n-A PREROUTING -s 10.244.0.9/32 -j MARKED\n"
                    "COMMIT\n*raw\n:PREROUTING ACCEPT [0:0]\n:SEEN - [0:0]\n-A PREROUTING -s 10.244.0.9/32 -j SEEN\n"
                    "COMMIT\n" + full)
    out = tmp_path / "later.dot"
    assert main(["trace", "--rules", str(dump), "--node-ip", "192.168.49.2", *PACKETS[0], "--ctstate",
                 "ESTABLISHED", "--graph", str(out)]) == 0
    assert "(4 traced rules highlighted)" in capsys.readouterr().err
    clusters = [line.split('"')[1] for line in out.read_text().splitlines() if line.strip().startswith("subgraph")]
    assert clusters == ["cluster_nat", "cluster_filter", "cluster_raw", "cluster_mangle"]


def test_a_later_packet_matching_no_drawn_rule_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dump of the nat table alone: the later packet matches no rule, and the graph and stderr say why."""
    from kubeproxy_sim.cli.trace_cmd import LATER_UNMARKED

    full = _run(["rules", "--scenario", "bootcamp", "--full"], capsys)
    dump = tmp_path / "nat.rules"
    dump.write_text(full[full.index("*nat"):full.index("COMMIT", full.index("*nat")) + len("COMMIT\n")])
    out = tmp_path / "later.dot"
    assert main(["trace", "--rules", str(dump), "--node-ip", "192.168.49.2", *PACKETS[0], "--ctstate",
                 "ESTABLISHED", "--graph", str(out)]) == 0
    err = capsys.readouterr().err
    title = next(line for line in out.read_text().splitlines() if line.strip().startswith("label="))
    assert "service default/kubernetes-bootcamp" in title and f"nothing highlighted: {LATER_UNMARKED}" in title
    assert f"(0 traced rules highlighted: {LATER_UNMARKED})" in err and "#d62728" not in out.read_text()


def test_an_empty_graph_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """``--graph "$OUT"`` with OUT unset: refused before the trace, not taken as no --graph."""
    assert main(["trace", "--scenario", "bootcamp", *PACKETS[0], "--graph", ""]) == 2
    out, err = capsys.readouterr()
    assert out == "" and without_pointer(err, "trace").endswith("--graph: an empty file name; expected FILE\n")


@pytest.mark.parametrize("raised, kind", [
    ("syntax", "InputError"), ("input", "InputError"), ("usage", "UsageError")])
def test_an_error_at_a_dump_line_names_the_dump_and_keeps_its_exit_status(raised: str, kind: str) -> None:
    """in_dump adds the dump's file to a diagnostic that names only a line. A RulesSyntaxError takes one message,
    not a list: rebuilt as its own type, its text was the list's. A usage error stays one (exit 2)."""
    from kubeproxy_sim.cli.trace_cmd import in_dump
    from kubeproxy_sim.errors import Diagnostic, InputError, RulesSyntaxError, UsageError

    errors = {"syntax": RulesSyntaxError("unknown option", line=7, token="--bogus", expected="a match"),
              "input": InputError(Diagnostic("chains jump in a circle", line=7)),
              "usage": UsageError(Diagnostic("chains jump in a circle", line=7))}
    with pytest.raises(InputError) as caught, in_dump("node.rules"):
        raise errors[raised]
    assert type(caught.value) is {"InputError": InputError, "UsageError": UsageError}[kind]
    text = ("unknown option at '--bogus'; expected a match" if raised == "syntax" else "chains jump in a circle")
    assert str(caught.value) == f"node.rules:7: {text}"
    assert [(d.file, d.line) for d in caught.value.diagnostics] == [("node.rules", 7)]
    with pytest.raises(RulesSyntaxError) as untouched, in_dump(None):  # rules generated: raised as it was
        raise RulesSyntaxError("unknown option", line=7)
    assert str(untouched.value) == "line 7: unknown option"


def test_a_trace_renders_each_cited_rule_once(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Outcomes' paths share their first steps (PREROUTING, KUBE-SERVICES, the service's chain): each cited line
    is rendered in iptables-save's form once for the whole trace, not once per step that cites it (20,002 steps
    for one packet to a service of 2,000 endpoints), and every step still reads as `rules --full`'s line."""
    from kubeproxy_sim.netfilter import saveform

    full = _run(["rules", "--scenario", "bootcamp", "--full"], capsys).splitlines()
    rendered: list[str] = []
    real = saveform.saved_rule_text

    def counted(rule: Rule, ipv6: bool, shapes: saveform.RuleShapes | None = None,
                jumps: frozenset[str] = frozenset()) -> str:
        rendered.append(rule.spec)
        return real(rule, ipv6, shapes, jumps)

    monkeypatch.setattr(saveform, "saved_rule_text", counted)
    trace = json.loads(_run(["trace", "--scenario", "bootcamp", *PACKETS[0], "-o", "json"], capsys))
    cited = _cited(trace)
    assert len(trace["outcomes"]) > 1 and len(cited) > len({line for line, _ in cited})  # steps shared
    assert all(full[line - 1] == rule for line, rule in cited)
    assert sorted(rendered) == sorted(set(rendered)) and len(rendered) == len({line for line, _ in cited})
