"""``scenario`` and ``replay`` write each step as it is played, in every ``-o``, not all of them at the end.

The proof needs no clock: the run's last step reads standard input (a script's ``apply -f -``, replay's STATE
``-``), which the test holds open. Until the test writes it, the last step cannot run, so whatever the pipe
gives by then was written, and flushed, by the steps before it. The output is then compared, byte for byte,
with a run given its standard input at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubeproxy_sim.cli.main import main

REPO = Path(__file__).resolve().parents[2]
BOOTCAMP = REPO / "rulesets" / "bootcamp" / "objects.yaml"
SCRIPT = """create deployment web --image=nginx --replicas=2 --port=80
expose deployment/web --port=80
apply -f -
"""
LAST = """apiVersion: v1
kind: Service
metadata: {name: other, namespace: default}
spec: {clusterIP: 10.96.0.99, selector: {app: web}, ports: [{port: 81, targetPort: 80}]}
"""
GUARD_SECONDS = 300  # no timing: a run that stopped streaming would block the test forever, so it fails instead
# Where the last step's output starts, per command and -o: the steps before it end just before it.
LAST_STEP = {
    ("scenario", "text"): "# step 3:", ("scenario", "json"): ',\n    {\n      "step": 3,',
    ("scenario", "yaml"): "- step: 3\n",
    ("replay", "text"): "# sync 2 ", ("replay", "json"): ',\n    {\n      "sync": 2,',
    ("replay", "yaml"): "- sync: 2\n",
}


def _argv(command: str, output: str, tmp_path: Path) -> list[str]:
    if command == "scenario":
        script = tmp_path / "s.script"
        script.write_text(SCRIPT)
        return ["scenario", str(script), "--show", "diff", "-o", output]
    return ["replay", str(BOOTCAMP), "-", "--hostname-override", "node1", "--cluster-cidr", "10.244.0.0/16",
            "-o", output]


def _program(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "kubeproxy_sim", *argv]


def _last_stdin(command: str) -> bytes:
    """What the last step reads: objects for the script's ``apply -f -``, bootcamp less a pod for replay's ``-``."""
    if command == "scenario":
        return LAST.encode()
    docs = [d for d in yaml.safe_load_all(BOOTCAMP.read_text()) if d]
    return yaml.safe_dump_all(docs[:-1]).encode()


def _read_exactly(proc: subprocess.Popen[bytes], size: int) -> bytes:
    """``size`` bytes of the run's standard output, failing (not hanging) if they do not come."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    got = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while len(got) < size:
            assert selector.select(GUARD_SECONDS), f"no output after {got!r}: the steps were held back"
            chunk = os.read(fd, size - len(got))
            assert chunk, f"the run ended after {got!r}"
            got += chunk
    return got


def _started(argv: list[str], stderr: Path) -> subprocess.Popen[bytes]:
    """The run with its standard output buffered, as a user's is (PYTHONUNBUFFERED, if the test's environment
    has it, would hide what a buffer still holds when the reader goes away)."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    with stderr.open("wb") as err:  # (a file: a pipe nobody reads could fill and stall the run)
        return subprocess.Popen(_program(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env)


@pytest.mark.parametrize("output", ["text", "json", "yaml"])
@pytest.mark.parametrize("command", ["scenario", "replay"])
def test_the_steps_before_the_last_are_out_while_it_waits(command: str, output: str, tmp_path: Path) -> None:
    argv = _argv(command, output, tmp_path)
    stdin = _last_stdin(command)
    reference = subprocess.run(_program(argv), input=stdin, capture_output=True, check=True)
    before_last = reference.stdout[:reference.stdout.index(LAST_STEP[command, output].encode())]
    assert before_last  # (two steps' worth)
    with _started(argv, tmp_path / "err") as proc:
        assert proc.stdin is not None and proc.stdout is not None
        assert _read_exactly(proc, len(before_last)) == before_last
        assert proc.poll() is None  # still waiting for its last step's input: this came out before it ran
        proc.stdin.write(stdin)
        proc.stdin.close()
        rest = proc.stdout.read()
        assert proc.wait() == 0
    assert before_last + rest == reference.stdout
    assert (tmp_path / "err").read_bytes() == reference.stderr


@pytest.mark.parametrize("output", ["text", "json", "yaml"])
@pytest.mark.parametrize("command", ["scenario", "replay"])
def test_a_reader_that_stops_early_stops_the_run_quietly(command: str, output: str, tmp_path: Path) -> None:
    """``| head -3``: the reader goes away after the first steps; the next step's write ends the run with 0 and
    nothing said, as README's exit status 0 says (written at the end, every step met a closed pipe at once)."""
    argv = _argv(command, output, tmp_path)
    with _started(argv, tmp_path / "err") as proc:
        assert proc.stdin is not None and proc.stdout is not None
        _read_exactly(proc, 3)
        proc.stdout.close()
        with contextlib.suppress(BrokenPipeError):  # (a step's write may have met the closed pipe already)
            proc.stdin.write(_last_stdin(command))
            proc.stdin.close()
        assert proc.wait() == 0
    err = (tmp_path / "err").read_text()
    assert "cannot write" not in err and "internal error" not in err and "Exception" not in err


NODE = "apiVersion: v1\nkind: Node\nmetadata: {name: node1}\n"
BAD_SERVICE = "kind: Service\napiVersion: v1\nmetadata: {name: x}\nspec: {ports: 80}\n"


@pytest.mark.parametrize("output", ["json", "yaml"])
@pytest.mark.parametrize("command", ["scenario", "replay"])
def test_a_last_step_that_fails_after_the_reader_went_away_still_says_why(
        command: str, output: str, tmp_path: Path) -> None:
    """The reader stops after the first step; the last one then fails on its input (invalid objects, a Node
    without its pod CIDR under NodeCIDR). Its document cannot be closed on the gone pipe, and that must not
    hide the failure: exit 1 with the messages, as when the output is read to the end."""
    if command == "scenario":
        (tmp_path / "s.script").write_text("create deployment web --image=nginx --port=80\napply -f -\n")
        argv, stdin = ["scenario", str(tmp_path / "s.script"), "--show", "endpoints"], BAD_SERVICE
        said = "s.script:2: apply -f: the objects above are invalid; nothing was applied"
    else:
        (tmp_path / "with.yaml").write_text(NODE + "spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24]}\n")
        argv, stdin = ["replay", str(tmp_path / "with.yaml"), "-", "--detect-local-mode", "NodeCIDR"], NODE
        said = "NodeCIDR needs the node's pod CIDR"
    argv = [*argv, "-o", output]
    reference = subprocess.run(_program(argv), input=stdin.encode(), capture_output=True).stdout
    # what the run writes before it waits for the last step's input: all but the JSON document's closing
    first_step = reference[:reference.rindex(b"\n  ]\n}")] if output == "json" else reference
    with _started(argv, tmp_path / "err") as proc:
        assert proc.stdin is not None and proc.stdout is not None
        # the whole first step, not a few bytes of it: a reader gone while the run still wrote the first step
        # ends the run quietly (exit 0), which is another test's case and made this one flaky under load
        assert _read_exactly(proc, len(first_step)) == first_step
        proc.stdout.close()
        proc.stdin.write(stdin.encode())
        proc.stdin.close()
        status = proc.wait()
    err = (tmp_path / "err").read_text()
    assert status == 1, err
    assert said in err and "Exception" not in err and "internal error" not in err


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_a_script_stopped_by_invalid_objects_ends_its_document_after_the_steps_before(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str) -> None:
    """README: "When a line fails, the steps before it are still printed" — an ``apply -f`` of invalid objects
    too (the document was left out), as a whole document; the exit status and messages as the text's."""
    (tmp_path / "bad.yaml").write_text("kind: Service\napiVersion: v1\nmetadata: {name: x}\nspec: {ports: 80}\n")
    (tmp_path / "s.script").write_text("create deployment web --image=nginx --port=80\napply -f bad.yaml\n"
                                       "scale deployments/web --replicas=3\n")
    argv = ["scenario", str(tmp_path / "s.script"), "--show", "endpoints"]
    text_status, _, text_err = _run(capsys, argv)
    status, out, err = _run(capsys, [*argv, "-o", output])
    document = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert [step["command"] for step in document["steps"]] == ["create deployment web --image=nginx --port=80"]
    assert (status, err) == (text_status, text_err) == (1, err)
    assert "s.script:2: apply -f: the objects above are invalid; nothing was applied" in err


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_a_replay_stopped_by_node_settings_ends_its_document_after_the_syncs_before(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str) -> None:
    """A state whose Node lost its pod CIDR under ``--detect-local-mode NodeCIDR``: kube-proxy would not start,
    so the replay stops there (exit 1), its document whole with the sync before."""
    node = "apiVersion: v1\nkind: Node\nmetadata: {name: node1}\n"
    (tmp_path / "with.yaml").write_text(node + "spec: {podCIDR: 10.244.0.0/24, podCIDRs: [10.244.0.0/24]}\n")
    (tmp_path / "without.yaml").write_text(node)
    argv = ["replay", str(tmp_path / "with.yaml"), str(tmp_path / "without.yaml"), "--detect-local-mode", "NodeCIDR"]
    text_status, _, text_err = _run(capsys, argv)
    status, out, err = _run(capsys, [*argv, "-o", output])
    document = json.loads(out) if output == "json" else yaml.safe_load(out)
    assert [sync["sync"] for sync in document["syncs"]] == [1]
    assert (status, err) == (text_status, text_err) == (1, err)
    assert "NodeCIDR needs the node's pod CIDR" in err
