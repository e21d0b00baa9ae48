"""``netns exec``'s TARGET and ``netns verify``'s objects-mode flows file: their help names every form they take.

exec resolves TARGET as ``netns send --from`` resolves a source (``kernel.send.resolve_source``), so an address of a
pod, node, pod bridge or outside client is a target; its usage error said so, while its help and README named only
node/NAME, pod/NS/NAME and external[:IP]. An objects-mode flows file's entries are read with send's addressing
(``kernel.differential.load_flows``), names and ``external:IP`` too, where verify's help named fewer forms.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import build_parser, main
from kubeproxy_sim.kernel.differential import Flow, load_flows
from tests.cli._usage_pointer import without_pointer


def _help(capsys: pytest.CaptureFixture[str], verb: str) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["netns", verb, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_help_names_the_forms_the_usage_error_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["netns", "exec", "nosuch", "bogus", "--", "true"]) == 2  # the form, before any cluster is looked at
    error = without_pointer(capsys.readouterr().err, "netns exec")
    assert "expected pod/NS/NAME, node/NAME, external, external:IP or an IP address" in error
    shown = _help(capsys, "exec")
    assert "node/NAME, pod/NS/NAME, external[:IP] or an address of a pod, node, pod bridge or outside client" in shown


def test_an_address_is_a_target_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """An address passes the form check: what fails then is the machine (3) or the cluster that is not there (1),
    never the usage (2) a malformed TARGET is."""
    monkeypatch.setenv("KPSIM_STATE_DIR", str(tmp_path))
    assert main(["netns", "exec", "nosuch", "10.244.0.3", "--", "true"]) in (1, 3)
    assert "TARGET" not in capsys.readouterr().err


def test_verify_help_names_the_flow_forms_an_objects_mode_file_takes(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    flows = tmp_path / "flows.yaml"
    flows.write_text("flows:\n- {from: 'external:203.0.113.10', to: 'web.default:http'}\n"
                     "- {from: 10.244.0.3, to: 'node/node1:31526', proto: udp}\n", encoding="utf-8")
    assert load_flows(str(flows)) == [Flow("external:203.0.113.10", "web.default:http", "tcp"),
                                      Flow("10.244.0.3", "node/node1:31526", "udp")]
    shown = _help(capsys, "verify")
    assert "(pod/NS/NAME, node/NAME, external[:IP] or an address; IP:PORT, node/NAME:PORT or a Service's name" in shown


def test_gc_help_names_bench_s_scratch_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    """gc removes a killed tools/bench.py's kpsim-bench-PID.net too (README, bench.py's own help): its help says so."""
    assert "the scratch namespace a killed tools/bench.py left (kpsim-bench-PID.net)" in _help(capsys, "gc")
