"""What the directory watch says of a file it cannot use (u1): a finished file with a YAML syntax error, moved
into place at once, was said twice, the second time guessed "half-written?"; after the debounce the file is as its
writer left it, so the syntax error alone says it, in one line, with the objects the file keeps."""

from __future__ import annotations

import os

from kubeproxy_sim.errors import Severity
from kubeproxy_sim.watch import DirectorySource

SERVICE = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
           "spec: {clusterIP: 10.96.0.9, ports: [{port: 80}]}\n")
BROKEN = "apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: shop\nspec:\n  ports: [{port: 80}]\n"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def moved_into_place(directory: str, name: str, text: str) -> None:
    """As an editor or `kubectl ... > tmp && mv tmp x.yaml` does: the file appears finished, at once."""
    tmp = os.path.join(directory, "." + name + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, os.path.join(directory, name))


def texts(batch: object) -> list[str]:
    return [str(d) for d in batch.diagnostics]  # type: ignore[attr-defined]


def test_a_file_with_a_syntax_error_at_the_first_list_is_said_once_without_a_guess(tmp_path) -> None:
    moved_into_place(str(tmp_path), "bad.yaml", BROKEN)
    first = DirectorySource(str(tmp_path), clock=Clock(), debounce=0.5).poll()
    said = texts(first)
    assert len(said) == 1, said
    assert said[0].startswith(f"{tmp_path}/bad.yaml:") and "syntax error" in said[0]
    assert said[0].endswith("; the whole file is held back until it parses")
    assert first.diagnostics[0].severity is Severity.ERROR


def test_a_file_that_held_objects_says_what_it_keeps_in_the_same_line(tmp_path) -> None:
    clock = Clock()
    moved_into_place(str(tmp_path), "svc.yaml", SERVICE)
    src = DirectorySource(str(tmp_path), clock=clock, debounce=0.5)
    src.poll()
    moved_into_place(str(tmp_path), "svc.yaml", SERVICE + "---\n" + BROKEN)
    clock.now += 0.1
    assert not src.poll()  # still settling
    clock.now += 1.0
    batch = src.poll()
    assert batch.events == ()
    assert [t.split(": ", 1)[1] for t in texts(batch)] == [
        "syntax error: did not find expected ',' or '}' (while parsing a flow mapping) at column 5; the whole file "
        "is held back until it parses; its 1 object read before is kept"]
    clock.now += 1.0
    assert not src.poll()  # read again, unchanged: not said again


def test_a_file_that_is_not_text_is_not_readable_and_read_again(tmp_path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"kind: \xff\xfe\xfa\n")
    said = texts(DirectorySource(str(tmp_path), clock=Clock(), debounce=0.5).poll())
    assert said[-1] == f"{tmp_path}/bin.yaml: warning: not readable; will read it again"
    assert not any("half-written" in t for t in said)


def test_a_file_gone_to_no_object_keeps_its_objects_and_says_why(tmp_path) -> None:
    clock = Clock()
    moved_into_place(str(tmp_path), "svc.yaml", SERVICE)
    src = DirectorySource(str(tmp_path), clock=clock, debounce=0.5)
    src.poll()
    moved_into_place(str(tmp_path), "svc.yaml", "oops, a stray line\n")
    clock.now += 1.0
    src.poll()
    clock.now += 1.0
    said = texts(src.poll())
    assert said[-1] == (f"{tmp_path}/svc.yaml: warning: no object in it now, yet it is not empty: taken for an edit "
                        "gone wrong, not a removal (emptying the file removes its objects); will read it again; its 1 "
                        "object read before is kept")
