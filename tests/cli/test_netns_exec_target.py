"""``netns exec``'s TARGET: its help names every form the command takes, the address form too.

exec resolves TARGET as ``netns send --from`` resolves a source (``kernel.send.resolve_source``), so an address of a
pod, node, pod bridge or outside client is a target; its usage error said so, while its help and README named only
node/NAME, pod/NS/NAME and external[:IP].
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import build_parser, main


def _exec_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["netns", "exec", "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_help_names_the_forms_the_usage_error_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["netns", "exec", "nosuch", "bogus", "--", "true"]) == 2  # the form, before any cluster is looked at
    error = capsys.readouterr().err
    assert "expected pod/NS/NAME, node/NAME, external, external:IP or an IP address" in error
    shown = _exec_help(capsys)
    assert "node/NAME, pod/NS/NAME, external[:IP] or an address of a pod, node, pod bridge or outside client" in shown


def test_an_address_is_a_target_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """An address passes the form check: what fails then is the machine (3) or the cluster that is not there (1),
    never the usage (2) a malformed TARGET is."""
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    assert main(["netns", "exec", "nosuch", "10.244.0.3", "--", "true"]) in (1, 3)
    assert "TARGET" not in capsys.readouterr().err
