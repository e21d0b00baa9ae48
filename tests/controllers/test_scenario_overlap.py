"""``scenario`` warns of an endpoint two EndpointSlices of one Service list in copies kube-proxy picks between at
random as a watch does (watch.overlaps): at the step where the overlap first holds, even when its slices came in
different ``apply`` steps, once while it holds, again if it comes back; and of an address one slice lists twice.
The rules of the step are written all the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._helpers import run_cli

RANDOM = "picks one copy at random on each sync"
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{name: p, port: 80}]}
"""


def _slice(name: str, *endpoints: str) -> str:
    listed = "".join(f"\n- {e}" for e in endpoints)
    return (f"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
            f"metadata: {{name: {name}, labels: {{kubernetes.io/service-name: web}}}}\n"
            f"addressType: IPv4\nports: [{{name: p, port: 8080}}]\nendpoints:{listed}\n")


READY = "{addresses: [10.1.0.7], conditions: {ready: true}}"
NOT_READY = "{addresses: [10.1.0.7], conditions: {ready: false, serving: false}}"
OVERLAP = ("Service default/web: warning: endpoint 10.1.0.7 is in EndpointSlices web-a (ready=false, "
           "serving=false) and web-b (ready=true, serving=true), neither terminating: kube-proxy's IPv4 proxier "
           f"{RANDOM}; this simulation uses web-b's (the slice whose name sorts last)")


def _files(tmp_path: Path, script: str, **manifests: str) -> str:
    for name, text in manifests.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    path = tmp_path / "script"
    path.write_text(script)
    return str(path)


def _steps(out: str) -> list[str]:
    """Each step's text (header, notes and rules)."""
    return ["# step " + part for part in out.split("# step ")[1:]]


def test_slices_applied_in_two_steps_warn_at_the_second_once_and_rules_use_the_copy_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script = _files(tmp_path, "apply -f a.yaml\napply -f b.yaml\nwait 5s\n",
                    a=SERVICE + _slice("web-a", NOT_READY), b=_slice("web-b", READY))
    assert run_cli(["scenario", script], monkeypatch) == 0
    out, err = capsys.readouterr()
    assert [line for line in err.splitlines() if RANDOM in line] == [f"kubeproxy-sim: {script}:2: {OVERLAP}"]
    steps = _steps(out)
    assert len(steps) == 3
    assert "10.1.0.7" not in steps[0]  # web-a alone: its copy is not ready
    assert "-j DNAT --to-destination 10.1.0.7:8080" in steps[1]  # web-b's ready copy, as the warning says


def test_an_overlap_in_one_apply_is_said_once_not_by_the_load_and_again_by_the_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A cluster IP written in the manifest makes the Service one the loader would warn of by itself."""
    service = SERVICE.replace("spec: {ports", "spec: {clusterIP: 10.96.0.50, ports")
    script = _files(tmp_path, "apply -f all.yaml\n", all=service + _slice("web-a", NOT_READY) + _slice(
        "web-b", READY))
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 0
    out, err = capsys.readouterr()
    assert [line for line in err.splitlines() if RANDOM in line] == [f"kubeproxy-sim: {script}:1: {OVERLAP}"]
    assert "default/web:p 10.1.0.7:8080/TCP ready" in out


def test_said_again_when_it_comes_back_after_its_service_is_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script = _files(tmp_path, "apply -f a.yaml\napply -f b.yaml\ndelete service web\napply -f a.yaml\n",
                    a=SERVICE + _slice("web-a", NOT_READY), b=_slice("web-b", READY))
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if RANDOM in line] == [
        f"kubeproxy-sim: {script}:2: {OVERLAP}", f"kubeproxy-sim: {script}:4: {OVERLAP}"]


def test_starting_objects_that_overlap_are_said_once_at_their_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = Path(__file__).resolve().parents[2] / "rulesets" / "bootcamp" / "objects.yaml"
    script = _files(tmp_path, "wait 5s\n", start=SERVICE + _slice("web-a", NOT_READY) + _slice("web-b", READY))
    start = str(tmp_path / "start.yaml")
    assert run_cli(["scenario", script, "-f", start, "-f", str(nodes), "--hostname-override", "node1"],
                   monkeypatch) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if RANDOM in line] == [f"kubeproxy-sim: {start}: {OVERLAP}"]


def test_an_address_one_applied_slice_lists_twice_is_warned_once_with_its_field(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script = _files(tmp_path, "apply -f a.yaml\nwait 5s\n", a=SERVICE + _slice("web-a", READY, NOT_READY))
    assert run_cli(["scenario", script, "--show", "endpoints"], monkeypatch) == 0
    out, err = capsys.readouterr()
    manifest = tmp_path / "a.yaml"
    assert [line for line in err.splitlines() if "in this EndpointSlice" in line] == [
        f"kubeproxy-sim: {manifest}: EndpointSlice default/web-a: endpoints[1].addresses[0]: warning: address "
        "10.1.0.7 is listed twice in this EndpointSlice, in copies that differ: endpoints[0] (ready=true, "
        "serving=true) and endpoints[1] (ready=false, serving=false); kube-proxy keeps one copy of an address, on "
        "every sync the same: endpoints[1]'s (the last one not terminating)"]
    assert out.count("default/web:p 10.1.0.7:8080/TCP not-ready") == 2  # the copy named, at both steps
