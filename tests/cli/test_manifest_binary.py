"""A ``!!binary`` value in a manifest, through ``rules -f`` as the user sees it: one that is no base64 (go-yaml:
"!!binary value contains invalid base64 data") is refused at its object and field, as kubectl refuses the object,
not as a syntax error of the whole document; the other objects are still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.cli.main import main

SERVICE = """apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: ns, labels: {{tag: {label}}}}}
spec:
  clusterIP: {ip}
  ports:
  - port: 80
"""


def _rules(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> tuple[Path, str, str]:
    path = tmp_path / "svc.yaml"
    path.write_text(text)
    main(["rules", "-f", str(path), "--hostname-override", "n1"])
    out, err = capsys.readouterr()
    return path, out, err


@pytest.mark.parametrize("written, why", [("!!binary AAA", "illegal base64 data at input byte 0"),
                                          ('!!binary "a@b="', "illegal base64 data at input byte 1"),
                                          ('!!binary "d2Vi="', "illegal base64 data at input byte 4"),
                                          ('!!binary "YWJj=="', "illegal base64 data at input byte 4")])
def test_a_bad_binary_value_names_its_object_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       written: str, why: str) -> None:
    """It was 'svc.yaml:3: syntax error: failed to decode base64 data: Incorrect padding at column 50; this
    document is skipped', naming neither; and PyYAML's reader took "a@b=" (skipping the @), which go-yaml refuses.
    Python's base64 takes padding after a full group ("d2Vi=" as "web"); Go's StdEncoding refuses it ("illegal
    base64 data at input byte 4")."""
    text = SERVICE.format(name="bad", label=written, ip="10.0.0.1") + "---\n" + SERVICE.format(
        name="good", label="x", ip="10.0.0.2")
    path, out, err = _rules(tmp_path, capsys, text)
    errors = [line for line in err.splitlines() if "ns/bad" in line or "syntax" in line]
    assert errors == [f"kubeproxy-sim: {path}:3: Service ns/bad: metadata.labels.tag: !!binary value contains "
                      f"invalid base64 data ({why}); kubectl refuses the object, so it is skipped"]
    assert '"ns/good has no endpoints"' in out and "ns/bad" not in out


def test_in_a_list_only_the_item_that_holds_it_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = "".join("- " + SERVICE.format(name=name, label=label, ip=ip).replace("\n", "\n  ").rstrip() + "\n"
                    for name, label, ip in [("a", "x", "10.0.0.1"), ("b", "!!binary AAA", "10.0.0.2"),
                                            ("c", "x", "10.0.0.3")])
    path, out, err = _rules(tmp_path, capsys, "apiVersion: v1\nkind: List\nitems:\n" + items)
    assert [line for line in err.splitlines() if "binary" in line] == [
        f"kubeproxy-sim: {path}:13: Service ns/b: metadata.labels.tag: !!binary value contains invalid base64 data "
        "(illegal base64 data at input byte 0); kubectl refuses the object, so it is skipped"]
    assert '"ns/a has no endpoints"' in out and '"ns/c has no endpoints"' in out and "ns/b" not in out


def test_a_good_binary_value_across_lines_is_the_text_it_decodes_to(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Go's base64 skips line breaks, as a block scalar has them: "d2Vi\\nMQ==" is "web1" (a valid label)."""
    text = SERVICE.format(name="s", label="x", ip="10.0.0.1").replace("tag: x", 'tag: !!binary "d2Vi\\nMQ=="')
    _, out, err = _rules(tmp_path, capsys, text)
    assert "binary" not in err and "syntax" not in err and '"ns/s has no endpoints"' in out


def test_an_alias_to_a_bad_value_refuses_every_item_that_uses_it(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """go-yaml decodes an alias again, so it fails again: item b, whose selector is ``*sel``, is refused as item a
    is (it was kept with "" for app2); item c, with no alias, is read."""
    text = """apiVersion: v1
kind: List
items:
- {kind: Service, apiVersion: v1, metadata: {name: a, namespace: ns},
   spec: {clusterIP: 10.0.0.1, ports: [{port: 80}], selector: &sel {app: !!binary "d2Vi", app2: !!binary AAA}}}
- {kind: Service, apiVersion: v1, metadata: {name: b, namespace: ns},
   spec: {clusterIP: 10.0.0.2, ports: [{port: 80}], selector: *sel}}
- {kind: Service, apiVersion: v1, metadata: {name: c, namespace: ns}, spec: {clusterIP: 10.0.0.3, ports: [{port: 80}]}}
"""
    path, out, err = _rules(tmp_path, capsys, text)
    assert [line for line in err.splitlines() if "binary" in line] == [
        f"kubeproxy-sim: {path}:5: Service ns/{name}: spec.selector.app2: !!binary value contains invalid base64 "
        "data (illegal base64 data at input byte 0); kubectl refuses the object, so it is skipped" for name in "ab"]
    assert '"ns/c has no endpoints"' in out and "ns/a" not in out and "ns/b" not in out
