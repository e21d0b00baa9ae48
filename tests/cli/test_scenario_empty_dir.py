"""``--scenario DIR`` on a directory that is no scenario (neither scenario.yaml nor objects.yaml) is one usage error
naming DIR, what a scenario directory holds, and ``-f DIR`` for a directory of manifests; a scenario whose
objects.yaml is empty is an empty cluster, as ``-f`` of an empty directory or file is: kube-proxy's base rules and a
warning (kubectl's "no objects passed to apply" stops an apply; a node with no Service still has its base chains)."""

from __future__ import annotations

import os

import pytest

from kubeproxy_sim.cli.main import main
from tests.cli._usage_pointer import without_pointer


def _rules(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["rules", *argv, "--hostname-override", "node1"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_empty_directory_is_one_error_naming_it_and_what_a_scenario_holds(capsys, tmp_path) -> None:
    code, out, err = _rules(capsys, "--scenario", str(tmp_path))
    assert code == 2 and out == ""
    assert err.count("kubeproxy-sim:") == 1, err
    assert err.startswith(f"kubeproxy-sim: {tmp_path}: --scenario: no scenario.yaml and no objects.yaml in this "
                          "directory, and no manifest files (*.yaml, *.yml, *.json); expected a scenario directory:")
    assert "scenario.yaml (args: node flags) and objects.yaml" in err
    assert f"-f {tmp_path} reads a directory of manifests" in err


def test_a_directory_of_manifests_is_pointed_at_minus_f(capsys, tmp_path) -> None:
    (tmp_path / "web.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                                       "spec: {ports: [{port: 80}]}\n")
    (tmp_path / "notes.txt").write_text("not a manifest\n")
    code, out, err = _rules(capsys, "--scenario", str(tmp_path))
    assert code == 2 and out == ""
    assert "no scenario.yaml and no objects.yaml in this directory, but 1 manifest file (web.yaml)" in err
    assert f"-f {tmp_path} reads a directory of manifests" in err
    assert main(["rules", "-f", str(tmp_path), "--hostname-override", "node1"]) == 0


def test_an_empty_objects_yaml_is_an_empty_cluster_as_minus_f_of_an_empty_directory(capsys, tmp_path) -> None:
    scenario, empty = tmp_path / "scenario", tmp_path / "empty"
    scenario.mkdir()
    empty.mkdir()
    (scenario / "scenario.yaml").write_text("description: nothing yet\nargs: []\n")
    (scenario / "objects.yaml").write_text("")
    code, by_scenario, err = _rules(capsys, "--scenario", str(scenario))
    assert code == 0 and "objects.yaml: warning: empty; no objects in this file" in err
    code, by_dir, err = _rules(capsys, "-f", str(empty))
    assert code == 0 and "warning: no *.yaml, *.yml or *.json files in this directory" in err
    assert by_scenario == by_dir and "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000" in by_dir


def test_one_missing_file_is_still_named_alone(capsys, tmp_path) -> None:
    (tmp_path / "scenario.yaml").write_text("args: []\n")
    code, _, err = _rules(capsys, "--scenario", str(tmp_path))
    assert code == 2
    err = without_pointer(err, "rules")
    assert err.strip() == (f"kubeproxy-sim: {tmp_path / 'objects.yaml'}: --scenario: cannot read it: No such file "
                           "or directory; expected a YAML or JSON manifest file")


def test_diffs_against_scenario_points_at_against(capsys, tmp_path) -> None:
    before = tmp_path / "before.yaml"
    before.write_text("")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["diff", "-f", str(before), "--against-scenario", str(empty)]) == 2
    err = capsys.readouterr().err
    assert f"{empty}: --against-scenario: no scenario.yaml and no objects.yaml in this directory" in err
    assert f"; --against {empty} reads a directory of manifests" in err


def test_demo_names_no_flag_it_does_not_have(capsys, tmp_path) -> None:
    (tmp_path / "web.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")
    assert main(["demo", "--scenario", str(tmp_path)]) == 2
    err = without_pointer(capsys.readouterr().err, "demo")
    assert err.count("kubeproxy-sim:") == 1, err
    assert f"{tmp_path}: --scenario: no scenario.yaml and no objects.yaml in this directory, but 1 manifest" in err
    assert err.rstrip().endswith("or a built-in scenario's name"), err  # (demo has no -f: `demo -f DIR` is refused)
    assert " -f " not in err


def test_the_hint_quotes_the_path_as_a_shell_takes_it(capsys, tmp_path) -> None:
    spaced = tmp_path / "emp ty"
    spaced.mkdir()
    code, _, err = _rules(capsys, "--scenario", str(spaced))
    assert code == 2
    assert f"; -f '{spaced}' reads a directory of manifests" in err


def test_manifests_only_in_subdirectories_are_pointed_at_minus_r(capsys, tmp_path) -> None:
    (tmp_path / "apps" / "web").mkdir(parents=True)
    (tmp_path / "apps" / "web" / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                                                        "spec: {ports: [{port: 80}]}\n")
    (tmp_path / "README.md").write_text("not a manifest\n")
    code, _, err = _rules(capsys, "--scenario", str(tmp_path))
    err = without_pointer(err, "rules")
    assert code == 2 and err.count("kubeproxy-sim:") == 1, err
    assert ("and no manifest files (*.yaml, *.yml, *.json) of its own, but its subdirectories hold some "
            "(apps/web/svc.yaml first)") in err
    assert err.rstrip().endswith(f"; -f {tmp_path} -R reads a directory of manifests with its subdirectories"), err
    assert main(["rules", "-f", str(tmp_path), "-R", "--hostname-override", "node1"]) == 0
    assert "-A KUBE-SERVICES" in capsys.readouterr().out

    before = tmp_path / "before.yaml"  # (a manifest of its own now: -R is no longer said)
    before.write_text("")
    assert main(["diff", "-f", str(before), "--against-scenario", str(tmp_path / "apps")]) == 2
    err = capsys.readouterr().err
    assert f"; --against {tmp_path / 'apps'} -R reads a directory of manifests with its subdirectories" in err
    assert main(["demo", "--scenario", str(tmp_path / "apps")]) == 2
    err = capsys.readouterr().err
    assert "its subdirectories hold some (web/svc.yaml first)" in err and "-R" not in err, err


def test_a_directory_that_cannot_be_listed_is_not_said_empty(capsys, tmp_path, monkeypatch) -> None:
    """(Root lists a directory without read permission: the failure is made; /proc/1/fdinfo is a real one.)"""
    scandir = os.scandir

    def refuse(path=".", *rest):
        if os.fspath(path) == str(tmp_path):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path, *rest)

    monkeypatch.setattr(os, "scandir", refuse)
    code, _, err = _rules(capsys, "--scenario", str(tmp_path))
    assert code == 2
    assert "in this directory, and its entries cannot be listed (Permission denied); expected a scenario" in err
    assert "no manifest files" not in err
