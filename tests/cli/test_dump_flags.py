"""Session 10 M-opts: what the command line gives with a dump (``--rules``) or as a flag's value: the picture of
a packet that hits no service quotes the dump's lines, node flags a dump makes idle are named, ``--rules -``
reads standard input, and a value of the wrong shape is a usage error (2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

# counters and no `-m tcp`: the line reads otherwise than iptables-save would print the rule
NO_SERVICE = "*filter\n:FORWARD DROP [0:0]\n[3:180] -A FORWARD -p tcp --dport 80 -j ACCEPT\nCOMMIT\n"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_graph_of_a_packet_that_hits_no_service_quotes_the_dump_s_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "plain.rules"
    dump.write_text(NO_SERVICE)
    picture = tmp_path / "t.dot"
    code, _, err = run(["trace", "--rules", str(dump), "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80",
                        "--graph", str(picture)], capsys)
    assert code == 0, err
    dot = picture.read_text()
    assert "it hits no service" in dot
    assert re.search(r'tooltip="filter line 3: \[3:180\] -A FORWARD -p tcp --dport 80 -j ACCEPT"', dot), dot


def _kind_dump() -> Path:
    from tests.realworld import DUMPS

    return DUMPS / "06-kind-1.23-traefik-2022.rules"


IDLE = ("kubeproxy-sim: --rules: warning: --hostname-override, --ip-family, --cluster-cidr and --masquerade-all "
        "have no effect with a dump: kube-proxy's settings shape the rules it makes, and the dump's rules are made "
        "already (its family is its own: IPv4)")
IDLE_FLAGS = ["--masquerade-all", "--cluster-cidr", "10.0.0.0/8", "--hostname-override", "foo", "--ip-family", "ipv6"]


def test_trace_with_a_dump_names_the_node_flags_it_ignores_in_one_warning(
        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["trace", "--rules", str(_kind_dump()), "--src", "10.244.0.9", "--dst", "10.96.0.10", "--dport", "53",
            "--proto", "udp", "-o", "json"]
    code, _, err = run([*base, *IDLE_FLAGS], capsys)
    assert code == 0 and err.count("warning") == 1 and IDLE in err.splitlines()
    code, _, err = run([*base, "--node-ip", "172.18.0.5"], capsys)  # --node-ip is read: no warning
    assert code == 0 and "no effect" not in err
    code, _, err = run(base, capsys)
    assert code == 0 and "no effect" not in err


def test_graph_with_a_dump_names_the_node_flags_it_ignores_node_ip_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["graph", "--rules", str(_kind_dump()), "--node-ip", "1.2.3.4", "--format", "dot"], capsys)
    assert code == 0
    assert err.splitlines() == ["kubeproxy-sim: --rules: warning: --node-ip has no effect with a dump: kube-proxy's "
                                "settings shape the rules it makes, and the dump's rules are made already"]
    code, _, err = run(["graph", "--rules", str(_kind_dump()), *IDLE_FLAGS, "--format", "dot"], capsys)
    assert code == 0 and IDLE in err.splitlines()


def test_netns_verify_with_a_dump_names_the_node_flags_it_ignores(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from kubeproxy_sim.errors import EnvironmentMissing
    from kubeproxy_sim.kernel import env

    def missing() -> None:  # stop before anything is staged: the warning comes first
        raise EnvironmentMissing("not here")

    monkeypatch.setattr(env, "require", missing)
    code, _, err = run(["netns", "verify", "--rules", str(_kind_dump()), "--node-ip", "172.18.0.5",
                        "--masquerade-all", "--config", "kp.yaml"], capsys)
    assert code == 3
    assert ("kubeproxy-sim: --rules: warning: --config and --masquerade-all have no effect with a dump: "
            "kube-proxy's settings shape the rules it makes, and the dump's rules are made already") in err


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_trace_rules_dash_reads_standard_input_and_cites_its_lines_as_read(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    _stdin(monkeypatch, NO_SERVICE)
    code, out, err = run(["trace", "--rules", "-", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80",
                          "-o", "json"], capsys)
    assert code == 0, err
    assert [(s["line"], s["rule"]) for s in json.loads(out)["outcomes"][0]["path"]] == [
        (3, "[3:180] -A FORWARD -p tcp --dport 80 -j ACCEPT")]  # the line as read, counters and all
    _stdin(monkeypatch, "*filter\nbogus\n")
    code, _, err = run(["trace", "--rules", "-", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--dport", "80"], capsys)
    assert code == 1 and err.startswith("kubeproxy-sim: <stdin>:2: ")


def test_graph_rules_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, NO_SERVICE)
    code, dot, err = run(["graph", "--rules", "-", "--format", "dot"], capsys)
    assert code == 0, err
    assert dot.startswith('digraph "<stdin>"') and "FORWARD" in dot


def test_a_dump_on_standard_input_is_read_once_by_the_one_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard input can be read once: asked again (trace reads its dump in the packet's family too), the
    reader gives the text it read; a file is read as it is now."""
    from kubeproxy_sim.errors import InputError
    from kubeproxy_sim.netfilter.codec import parse_ruleset_file
    from kubeproxy_sim.netfilter.dumpfile import read_dump_text

    _stdin(monkeypatch, NO_SERVICE)
    assert read_dump_text("-") == NO_SERVICE and read_dump_text("-") == NO_SERVICE
    assert parse_ruleset_file("-").table("filter") is not None
    _stdin(monkeypatch, "")  # another stream: read afresh
    assert read_dump_text("-") == ""
    with pytest.raises(InputError, match=r"^/nonexistent\.rules: cannot read rules: No such file or directory$"):
        read_dump_text("/nonexistent.rules")
