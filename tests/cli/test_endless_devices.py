"""A device that never ends (/dev/zero) given to any flag that reads a file is refused after DEVICE_READ_CAP bytes,
as -f's is, rather than read until memory runs out; a block device, which has a size, is read whole."""

from __future__ import annotations

import os
import stat

import pytest

from kubeproxy_sim.cli import main as cli
from kubeproxy_sim.objects import stdin
from kubeproxy_sim.objects.stdin import ENDLESS_DEVICE, read_all

SERVICE = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns1}\n"
           "spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}\n")


def test_the_cap_is_said_in_the_words_of_its_size() -> None:
    assert ENDLESS_DEVICE == "a device that gave more than 64 MiB, and may never end (as /dev/zero does)"


@pytest.mark.parametrize(("argv", "expected"), [
    (["rules", "-f", "{svc}", "--config", "/dev/zero"],
     "/dev/zero: --config: cannot read it: {endless}; expected a KubeProxyConfiguration file"),
    (["send", "-f", "{svc}", "--hosts", "/dev/zero", "--from", "external", "--to", "10.96.0.10:80"],
     "/dev/zero: --hosts: cannot read it: {endless}; expected an /etc/hosts-style file (ADDRESS NAME [ALIAS...] "
     "lines)"),
    (["trace", "--rules", "/dev/zero", "--src", "10.0.0.5", "--dst", "10.96.0.10", "--dport", "80"],
     "/dev/zero: --rules: cannot read it: {endless}; expected an iptables-save dump"),
    (["scenario", "/dev/zero"],
     "/dev/zero: FILE|NAME: cannot read it: {endless}; expected a text file of kubectl commands or a built-in "
     "scenario's name (bootcamp)"),
    (["watch", "--kubeconfig", "/dev/zero", "--once"],
     "/dev/zero: --kubeconfig: cannot read it: {endless}; expected a kubeconfig (what `kubectl config view --raw` "
     "prints)"),
])
def test_a_flags_file_that_never_ends_is_refused_after_the_cap(tmp_path, capsys, argv: list[str],
                                                                expected: str) -> None:
    """(``rules --config /dev/zero``, ``send --hosts``, ``trace --rules``, ``scenario`` and ``watch --kubeconfig``
    read /dev/zero forever: about 5 GB resident in 6 s.)"""
    svc = tmp_path / "svc.yaml"
    svc.write_text(SERVICE)
    names = {"svc": str(svc), "endless": ENDLESS_DEVICE}
    code = cli.main([part.format(**names) for part in argv])
    assert code in (1, 2)
    errors = [line for line in capsys.readouterr().err.splitlines() if "--detect-local-mode" not in line]
    assert errors == ["kubeproxy-sim: " + expected.format(**names)]


@pytest.mark.parametrize(("mode", "whole"), [(stat.S_IFCHR, False), (stat.S_IFBLK, True), (stat.S_IFREG, True)])
def test_only_a_character_device_is_capped(tmp_path, monkeypatch, mode: int, whole: bool) -> None:
    """(A block device, a disk or a loop device holding an image, has a size and ends: it was refused past the cap
    as /dev/zero is.)"""
    path = tmp_path / "data"
    path.write_bytes(b"x" * 10)
    real_fstat = os.fstat
    monkeypatch.setattr(stdin, "DEVICE_READ_CAP", 4)
    monkeypatch.setattr(stdin.os, "fstat", lambda fd: os.stat_result(
        (mode | 0o600, *tuple(real_fstat(fd))[1:])))
    with open(path, "rb") as handle:
        assert read_all(handle) == (b"x" * 10 if whole else None)
