"""featureGates (--config) and --feature-gates as kube-proxy's feature gate takes them: an unknown gate or a locked
one set to its other value stops kube-proxy, a GA or deprecated one is a warning, the rest is accepted."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubeproxy_sim.cli.feature_gates import GATES, Stage, gate_problems
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.cli.options import add_node_flags, build_config, check_node_settings
from kubeproxy_sim.errors import InputError, Severity
from kubeproxy_sim.objects.model import Cluster

CONFIG_HEAD = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_node_flags(parser)
    return parser.parse_args(list(argv))


def _config_file(tmp_path: Path, gates: str) -> str:
    path = tmp_path / "kube-proxy.yaml"
    path.write_text(CONFIG_HEAD + "featureGates:\n" + gates)
    return str(path)


def test_an_unrecognized_gate_is_refused_naming_the_file_field_and_the_closest_gate(tmp_path: Path) -> None:
    config = _config_file(tmp_path, "  NodeSwp: true\n  WatchList: false\n")
    with pytest.raises(InputError) as info:
        check_node_settings(_args("--config", config))
    assert [str(d) for d in info.value.diagnostics] == [
        f"{config}: featureGates.NodeSwp: unrecognized feature gate, which kube-proxy refuses to start with; "
        f"expected one of NodeSwap (the closest of {len(GATES)} gates of 1.34)"]


def test_a_locked_gate_set_to_its_other_value_is_refused(tmp_path: Path) -> None:
    config = _config_file(tmp_path, "  NodeSwap: false\n  AllowServiceLBStatusOnNonLB: true\n")
    with pytest.raises(InputError) as info:
        check_node_settings(_args("--config", config))
    assert [str(d) for d in info.value.diagnostics] == [
        f"{config}: featureGates.NodeSwap: cannot be set to false: the gate is GA and locked to true, which "
        "kube-proxy refuses to start with; expected true or no entry",
        f"{config}: featureGates.AllowServiceLBStatusOnNonLB: cannot be set to true: the gate is deprecated and "
        "locked to false, which kube-proxy refuses to start with; expected false or no entry"]


def test_known_gates_are_accepted_and_ga_or_deprecated_ones_warned_of(tmp_path: Path) -> None:
    config = _config_file(tmp_path, "  NodeSwap: true\n  ExecProbeTimeout: false\n  KMSv1: true\n"
                          "  WatchList: false\n  AllAlpha: true\n  ContextualLogging: true\n  ClientsAllowCBOR: true\n")
    args = _args("--config", config)
    check_node_settings(args)  # no error
    _, diags = build_config(args, Cluster())
    assert [(str(d), d.severity) for d in diags if "featureGates" in (d.field or "")] == [
        (f"{config}: featureGates.{name}: warning: the gate is {stage} and will be removed in a future release "
         "(kube-proxy warns when it is set)", Severity.WARNING)
        for name, stage in (("NodeSwap", "GA"), ("ExecProbeTimeout", "GA"), ("KMSv1", "deprecated"))]


EMPTY_NAME = ("an empty gate name, which kube-proxy refuses to start with (an unrecognized feature gate); expected "
              "a gate's name, such as NodeSwap")


@pytest.mark.parametrize("value", ["=true", " = false,NodeSwap=true"])
def test_an_empty_gate_name_is_said_so_by_the_flag(value: str) -> None:
    """Not "--feature-gates: : unrecognized feature gate": the name is empty (kube-proxy looks "" up, and refuses)."""
    with pytest.raises(InputError) as info:
        check_node_settings(_args("--feature-gates", value))
    assert [str(d) for d in info.value.diagnostics] == [f"--feature-gates: {EMPTY_NAME}"]


def test_an_empty_gate_name_in_the_file_is_said_so(tmp_path: Path) -> None:
    config = _config_file(tmp_path, "  '': true\n")
    with pytest.raises(InputError) as info:
        check_node_settings(_args("--config", config))
    assert [str(d) for d in info.value.diagnostics] == [f"{config}: featureGates.: {EMPTY_NAME}"]


def test_a_gate_that_is_no_boolean_is_said_once_and_not_looked_up(tmp_path: Path) -> None:
    config = _config_file(tmp_path, "  SomeGate: 'yes'\n")
    with pytest.raises(InputError) as info:
        check_node_settings(_args("--config", config))
    assert [str(d) for d in info.value.diagnostics] == [
        f'{config}: featureGates.SomeGate: expected true or false, got a string "yes"']


def test_the_feature_gates_flag_takes_kube_proxy_s_syntax_and_is_checked_the_same_way(
        capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--feature-gates", " WatchList = false ,,KMSv1=True", "--feature-gates", "NodeSwap=1")
    assert args.feature_gates == [{"WatchList": False, "KMSv1": True}, {"NodeSwap": True}]
    _, diags = build_config(args, Cluster())
    assert [str(d) for d in diags if d.field == "--feature-gates"] == [
        "--feature-gates: warning: KMSv1: the gate is deprecated and will be removed in a future release "
        "(kube-proxy warns when it is set)",
        "--feature-gates: warning: NodeSwap: the gate is GA and will be removed in a future release (kube-proxy "
        "warns when it is set)"]
    with pytest.raises(InputError) as info:  # the later value wins: NodeSwap=false, locked to true
        check_node_settings(_args("--feature-gates", "NodeSwap=true,Watchlist=true", "--feature-gates",
                                  "NodeSwap=false"))
    assert [str(d) for d in info.value.diagnostics] == [
        "--feature-gates: NodeSwap: cannot be set to false: the gate is GA and locked to true, which kube-proxy "
        "refuses to start with; expected true or no entry",
        "--feature-gates: Watchlist: unrecognized feature gate, which kube-proxy refuses to start with; expected "
        f"one of WatchList, WatchListClient (the closest of {len(GATES)} gates of 1.34)"]
    rules = ["rules", "-f", str(Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml")]
    assert main([*rules, "--feature-gates", "NoSuchGate=true"]) == 1  # invalid input, as a bad --config value
    capsys.readouterr()
    for malformed, said in (("NodeSwap", "'NodeSwap' is no NAME=true|false pair"),
                            ("NodeSwap=yes", "'NodeSwap=yes': 'yes' is not a boolean; expected NodeSwap=true or "
                             "NodeSwap=false")):
        with pytest.raises(SystemExit) as exc:
            main([*rules, "--feature-gates", malformed])
        assert exc.value.code == 2  # a value of the wrong shape: a usage error
        assert f"error: argument --feature-gates: {said}" in capsys.readouterr().err


def test_prefer_same_traffic_distribution_reaches_the_proxier_config_as_component_base_resolves_it(
        tmp_path: Path) -> None:
    """Its own value, else AllBeta's (it is beta at 1.34), else on; the file's gates under the flag's, gate by gate;
    setting it is no warning, as kube-proxy gives none for a beta gate."""
    def gate(*argv: str) -> bool:
        config, diags = build_config(_args(*argv), Cluster())
        assert not [d for d in diags if d.severity is not Severity.NOTE], diags
        return config.prefer_same_traffic_distribution

    off = _config_file(tmp_path, "  PreferSameTrafficDistribution: false\n")
    assert gate() is True
    assert gate("--feature-gates", "PreferSameTrafficDistribution=false") is False
    assert gate("--feature-gates", "AllBeta=false") is False
    assert gate("--feature-gates", "AllBeta=false,PreferSameTrafficDistribution=true") is True
    assert gate("--feature-gates", "AllAlpha=false,WatchList=true") is True
    assert gate("--config", off) is False
    assert gate("--config", off, "--feature-gates", "PreferSameTrafficDistribution=true") is True
    assert gate("--config", off, "--feature-gates", "AllBeta=true") is False  # the file's own value stays
    assert gate_problems({"PreferSameTrafficDistribution": False}) == []


def test_the_gate_table_holds_the_global_gates_and_each_stage_s_rules() -> None:
    """AllAlpha and AllBeta are every feature gate's; an alpha gate is off by default, and a locked gate is GA or
    deprecated (kube-proxy locks only graduated or deprecated gates)."""
    assert GATES["AllAlpha"].stage is Stage.ALPHA and GATES["AllBeta"].stage is Stage.BETA
    assert all(not g.default for g in GATES.values() if g.stage is Stage.ALPHA)
    assert all(g.stage in (Stage.GA, Stage.DEPRECATED) for g in GATES.values() if g.locked)
    assert "LegacySidecarContainers" not in GATES and "GangScheduling" not in GATES  # gone by, and after, 1.34
