"""A slice of the EndpointSlice controller's label that someone else made is deleted at its Service's sync (no
ownerReference ties it to the Service's UID: reconciler.go's ownedBy, and finalize reuses only owned slices for
the slices it creates), except the one case reconcileByAddressType keeps: it is the Service's only slice of its
address type, there are no endpoints, and it is equal to the placeholder the controller would create
(placeholderSliceCompare: namespace and labels, no endpoints, no ports, the address type)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._helpers import play_steps, step_notes

SERVICE = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {tier: x}}\n"
           "spec: {selector: {app: none}, ports: [{port: 80, targetPort: 8080}]}\n")
PLACEHOLDER = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-mine\n"
               "  labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: "
               "endpointslice-controller.k8s.io, tier: x}\naddressType: IPv4\nendpoints: []\n")
SLICE_LINE = "endpointslice.discovery.k8s.io/web-mine"


def slice_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], script: str,
                **files: str) -> list[str]:
    """What each apply step says of the slice web-mine."""
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    steps = play_steps(tmp_path, monkeypatch, capsys, script, "--show", "endpoints")
    return [line.rsplit(" ", 1)[1] for step in steps for line in step_notes(step) if line.startswith(SLICE_LINE)]


def test_a_placeholder_applied_with_its_service_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Applied with the Service, before its first sync: the only slice, equal to the placeholder, so the sync
    keeps it and makes none; seconds later the same file is unchanged."""
    words = slice_words(tmp_path, monkeypatch, capsys, "apply -f both.yaml\nwait 3s\napply -f both.yaml\n",
                        both=SERVICE + "---\n" + PLACEHOLDER)
    assert words == ["created", "unchanged"]


def test_a_placeholder_next_to_the_controllers_own_is_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Applied once the controller has its own placeholder: two slices to delete, the create updates the owned
    one, so this one goes a second later and is created again."""
    words = slice_words(tmp_path, monkeypatch, capsys, "apply -f svc.yaml\napply -f ph.yaml\nwait 3s\n"
                        "apply -f ph.yaml\n", svc=SERVICE, ph=PLACEHOLDER)
    assert words == ["created", "created"]


def test_a_slice_unlike_the_placeholder_is_deleted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Without the Service's label tier (the placeholder carries the Service's labels), or with a port, it is
    not the placeholder: deleted at the first sync."""
    for other in (PLACEHOLDER.replace(", tier: x}", "}"), PLACEHOLDER + "ports: [{port: 8080}]\n"):
        words = slice_words(tmp_path, monkeypatch, capsys, "apply -f both.yaml\nwait 3s\napply -f both.yaml\n",
                            both=SERVICE + "---\n" + other)
        assert words == ["created", "created"]
