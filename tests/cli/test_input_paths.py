"""Paths given to -f and --against that are not there stop the command, each named with what it is (QA-cli #15)."""

from __future__ import annotations

import json
import os

import pytest

from kubeproxy_sim.cli import main as cli
from kubeproxy_sim.cli.options import REPO_RULESETS


def test_a_loop_of_links_and_a_dangling_link_given_are_named_so(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    loop, dangling, missing = tmp_path / "loop.yaml", tmp_path / "dangling.yaml", tmp_path / "missing.yaml"
    os.symlink("loop.yaml", loop)
    os.symlink("/nonexistent", dangling)
    assert cli.main(["rules", "-f", str(loop), "-f", str(dangling), "-f", str(missing)]) == 1
    expected = "expected a YAML or JSON manifest file, a directory of them, or - for standard input"
    assert capsys.readouterr().err.splitlines() == [
        f"kubeproxy-sim: {loop}: -f: cannot read it: a loop of symbolic links (too many levels to follow); {expected}",
        f'kubeproxy-sim: {dangling}: -f: cannot read it: a symbolic link to "/nonexistent", which does not exist; '
        f"{expected}",
        f"kubeproxy-sim: {missing}: -f: cannot read it: No such file or directory; {expected}"]


def test_a_scenario_yaml_of_excessive_aliases_is_refused(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """QA-cli #1: a billion laughs in a scenario directory's args hung the run as it was quoted whole."""
    lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a, a]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]" for i in range(1, 9)]
    (tmp_path / "scenario.yaml").write_text("\n".join(lines) + "\nargs: *x8\n")
    (tmp_path / "objects.yaml").write_text("")
    assert cli.main(["rules", "--scenario", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines()[0].startswith(
        f"kubeproxy-sim: {tmp_path}/scenario.yaml:4: x3[2]: document contains excessive aliasing")


def test_an_object_without_api_version_is_an_error_and_the_others_are_used(
        tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl refuses a manifest without apiVersion; it was a note, exit 0, and its Service silently had no rules."""
    manifest = tmp_path / "x.yaml"
    manifest.write_text("kind: Service\nmetadata: {name: api, namespace: shop}\n"
                        "spec: {clusterIP: 10.96.10.12, ports: [{port: 80}]}\n---\n"
                        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
                        "spec: {clusterIP: 10.96.10.13, ports: [{port: 80}]}\n")
    assert cli.main(["rules", "-f", str(manifest), "--cluster-cidr", "10.244.0.0/16"]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"kubeproxy-sim: {manifest}: Service shop/api: apiVersion: not set; expected v1"]
    assert "shop/web" in out and "shop/api" not in out


def test_scenario_notes_only_the_kinds_it_does_not_read(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """scenario plays Deployments, so its note of a file's skipped objects counts the others alone."""
    deployment = ("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{0}}}\nspec: {{replicas: 1, "
                  "selector: {{matchLabels: {{app: d{0}}}}}, template: {{metadata: {{labels: {{app: d{0}}}}}, "
                  "spec: {{containers: [{{name: c, image: nginx}}]}}}}}}\n")
    config_map = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{0}}}\n"
    mine = tmp_path / "mine.yaml"
    mine.write_text("".join(deployment.format(i) + config_map.format(i) for i in range(2)))
    script = tmp_path / "s.script"
    script.write_text("wait 30s\n")
    assert cli.main(["scenario", str(script), "-f", str(REPO_RULESETS / "bootcamp" / "objects.yaml"), "-f", str(mine),
                     "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16", "--show", "endpoints"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"kubeproxy-sim: {mine}: note: skipped 2 ConfigMap objects: kube-proxy does not read this kind"]


def test_a_built_in_scenario_does_not_note_the_kinds_its_own_files_hold(
        tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """bootcamp's Deployment (there for scenario, which plays it) was noted by every bootcamp command; the same
    objects in a file of the user's are still noted."""
    assert cli.main(["rules", "--scenario", "bootcamp"]) == 0
    assert capsys.readouterr().err == ""
    mine = tmp_path / "objects.yaml"
    mine.write_text((REPO_RULESETS / "bootcamp" / "objects.yaml").read_text())
    assert cli.main(["rules", "-f", str(mine), "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"kubeproxy-sim: {mine}: Deployment default/kubernetes-bootcamp: note: skipped: kube-proxy does not read "
        "this kind"]


def test_the_loader_names_the_built_in_scenarios_folder_as_the_cli_does() -> None:
    from kubeproxy_sim.objects.load import BUILT_IN

    assert str(REPO_RULESETS.resolve()) == BUILT_IN


def _nested(tmp_path):
    """A directory whose one Service is in a subdirectory."""
    (tmp_path / "d" / "svc").mkdir(parents=True)
    (tmp_path / "d" / "svc" / "web.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: 10.96.0.5, ports: [{port: 80}]}\n")
    return tmp_path / "d"


NODE = ["--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16"]


def test_recursive_reads_the_subdirectories_of_a_directory(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """kubectl's -R/--recursive: it was an unrecognised argument, and manifests in subdirectories unreachable."""
    directory = _nested(tmp_path)
    assert cli.main(["rules", "-f", str(directory), *NODE]) == 0
    out, err = capsys.readouterr()
    assert "default/web" not in out
    lines = err.splitlines()
    assert lines[0] == (f"kubeproxy-sim: {directory}: warning: no *.yaml, *.yml or *.json files in this "
                        "directory; its subdirectories hold some, which are read with -R (--recursive), as "
                        "kubectl reads them")
    assert len(lines) == 2 and "no Service, EndpointSlice, Endpoints, Node or Pod was read" in lines[1]  # (afa63cfd)
    for flag in ("-R", "--recursive"):
        assert cli.main(["rules", "-f", str(directory), flag, *NODE]) == 0
        out, err = capsys.readouterr()
        assert "default/web" in out and err == ""


def test_recursive_is_taken_by_every_command_that_takes_f(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = _nested(tmp_path)
    script = tmp_path / "s.script"
    script.write_text("wait 1s\n")
    nodes = str(REPO_RULESETS / "bootcamp" / "objects.yaml")
    assert cli.main(["scenario", str(script), "-f", nodes, "-f", str(directory), "-R", "--show", "endpoints",
                     *NODE]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["diff", "-f", nodes, "--against", str(directory), "-R", "-o", "json", *NODE]) == 0
    out, err = capsys.readouterr()
    assert err == "" and any(s["name"] == "default/web" and s["status"] == "added"
                             for s in json.loads(out)["services"])


def test_recursive_reads_around_a_subdirectory_that_cannot_be_listed(tmp_path, monkeypatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Review R3: -R with one unreadable subdirectory dropped the whole tree, exit 0; kubectl's walk fails on it.
    The files that could be read are read, and the subdirectory is named as an error (we run as root, so the
    refusal is made by os.scandir)."""
    import errno

    directory = _nested(tmp_path)
    (directory / "a.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec: {clusterIP: 10.96.0.6, ports: [{port: 80}]}\n")
    (directory / "locked").mkdir()
    scandir = os.scandir

    def refusing(path):
        if os.path.basename(os.fspath(path)) == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    assert cli.main(["rules", "-f", str(directory), "-R", *NODE]) == 1
    out, err = capsys.readouterr()
    assert "default/web" in out and "default/api" in out
    assert err.splitlines() == [  # (a directory is read by listing it)
        f"kubeproxy-sim: {directory / 'locked'}: -f: cannot read it: Permission denied; expected a YAML or JSON "
        "manifest file, a directory of them, or - for standard input"]


def test_recursive_walks_a_tree_deeper_than_pythons_recursion_limit(tmp_path) -> None:
    """Review R3: the walk recursed once a level, so a tree over ~1,000 levels deep raised RecursionError."""
    import sys

    from kubeproxy_sim.objects.load import manifest_entries

    levels = [tmp_path]
    for _ in range(sys.getrecursionlimit() + 100):  # (made and removed a level at a time: pathlib, os.makedirs
        levels.append(levels[-1] / "d")               # and shutil.rmtree recurse too)
        levels[-1].mkdir()
    (levels[-1] / "s.yaml").write_text("")
    (tmp_path / "z.yaml").write_text("")
    try:
        assert manifest_entries(str(tmp_path), recursive=True) == [str(levels[-1] / "s.yaml"),
                                                                   str(tmp_path / "z.yaml")]
    finally:
        (levels[-1] / "s.yaml").unlink()
        for level in reversed(levels[1:]):
            level.rmdir()
