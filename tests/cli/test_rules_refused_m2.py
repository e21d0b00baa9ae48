"""(for tests/cli/, with /tmp/m2/split_sync_follow_on.patch) rules -f DUMP: refused, no follow-on note."""

from __future__ import annotations

from kubeproxy_sim.cli.main import main


def test_rules_given_a_dump_is_refused_without_the_detect_local_note(capsys, tmp_path) -> None:
    dump = tmp_path / "d.rules"
    dump.write_text("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n")
    assert main(["rules", "-f", str(dump)]) == 1
    assert capsys.readouterr().err == (
        f"kubeproxy-sim: {dump}:1: this is an iptables-save dump, not Kubernetes objects, so it is skipped; trace, "
        "graph and netns verify read a dump with --rules DUMP\n")


def test_rules_of_an_empty_file_says_what_the_rules_then_are(capsys, tmp_path) -> None:
    from kubeproxy_sim.cli.options import NOTHING_READ

    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert main(["rules", "-f", str(empty)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("*filter\n")
    assert err == (f"kubeproxy-sim: {empty}: warning: empty; no objects in this file\n"
                   f"kubeproxy-sim: note: {NOTHING_READ}\n")
