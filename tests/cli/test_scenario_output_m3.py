"""``scenario``'s text after each step: one full dump of the rules per state they take (a step that leaves them as
they were says so in one line, naming the step whose dump they are), the -o json contract unchanged (every step's
whole rules), and ``apply -f`` paths read from the script's folder, as docs/scenario.md and ``--help`` say."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

UNCHANGED = re.compile(r"^# rules unchanged: as after step (\d+)$")

SCRIPT = """\
create deployment web --image=nginx --replicas=2 --port=8080
get pods
expose deployment web --port=80 --target-port=8080
get svc
wait 30s
get pods
scale deployments/web --replicas=3
# a comment, no step
get deployments
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 81, targetPort: 8080}]
"""


def _play(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str, script: str = SCRIPT) -> str:
    path = tmp_path / "story"
    path.write_text(script)
    assert main(["--color", "never", "scenario", str(path), "--seed", "3", *flags]) == 0
    return capsys.readouterr().out


def _bodies(text: str) -> list[str]:
    """Each step's body after its ``# step N`` header and kubectl's ``# ...`` notes."""
    bodies: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("# step "):
            bodies.append([])
        elif bodies and not (line.startswith("# ") and not UNCHANGED.match(line)):
            bodies[-1].append(line)
    return ["\n".join(b) for b in bodies]


def test_a_step_that_leaves_the_rules_prints_one_line_naming_the_step_whose_dump_they_are(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _play(tmp_path, capsys)
    json_steps = json.loads(_play(tmp_path, capsys, "-o", "json"))["steps"]
    bodies = _bodies(text)
    assert len(bodies) == len(json_steps) == 8
    named = [m.group(1) if (m := UNCHANGED.match(body)) else None for body in bodies]
    assert named[1] == "1" and named[3] == "3"  # get pods: as after step 1; get svc: expose's rules
    assert named[7] is not None, bodies[7]  # get deployments
    dumps = {i + 1: body for i, body in enumerate(bodies) if not UNCHANGED.match(body)}
    for number, body in enumerate(bodies, start=1):
        found = UNCHANGED.match(body)
        # the step named printed its full rules, and they are this step's (the JSON's, step by step)
        source = int(found.group(1)) if found else number
        assert source in dumps and source <= number
        assert json_steps[number - 1]["rules"] == json_steps[source - 1]["rules"]
        if found:  # no step in between changed them: the one named is the last full dump before this step
            assert max(k for k in dumps if k < number) == source
    # a full dump is printed only when the rules differ from the step before
    full = sorted(dumps)
    assert all(json_steps[k - 1]["rules"] != json_steps[k - 2]["rules"] for k in full if k > 1)
    assert text.count("*nat\n") == len(full)


def test_the_json_document_still_gives_every_step_its_whole_rules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps = json.loads(_play(tmp_path, capsys, "-o", "json"))["steps"]
    assert [s["command"] for s in steps][1] == "get pods"
    assert all({t["name"] for t in s["rules"]["tables"]} >= {"nat", "filter"} for s in steps)
    assert "unchanged" not in json.dumps(steps)


def test_show_diff_and_endpoints_are_as_before(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    diff = _play(tmp_path, capsys, "--show", "diff")
    assert "# rules unchanged\n" in diff and "as after step" not in diff
    endpoints = _play(tmp_path, capsys, "--show", "endpoints")
    assert "rules unchanged" not in endpoints


def test_apply_reads_a_relative_path_from_the_script_folder_not_the_working_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    story = tmp_path / "story-dir"
    story.mkdir()
    (story / "svc.yaml").write_text(SERVICE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "svc.yaml").write_text(SERVICE.replace("extra", "wrong"))
    monkeypatch.chdir(elsewhere)
    text = _play(story, capsys, "--show", "endpoints",
                 script="create deployment web --image=nginx --port=8080\napply -f svc.yaml\n")
    assert "service/extra created" in text and "wrong" not in text


def test_help_says_where_apply_reads_and_what_an_unchanged_step_prints(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["scenario", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "apply -f reads a relative FILE from the script's folder (kubectl: the working directory)" in out
    assert "a step that leaves them as they were says so in one line" in out
