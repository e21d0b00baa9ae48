"""watch --kubeconfig: a server's host as Go parses and dials it, at its edges (kubectl 1.33, built with go1.24.2,
the oracle, with strace for where it dialed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproxy_sim.watch import Kind
from kubeproxy_sim.watch.apiserver import _cluster_as_dialed, _server_name_problem, _server_problem

from ._kubeconfigs import kubeconfig_for, port_of, synced, with_user

pytest.importorskip("kubernetes")


@pytest.mark.parametrize(("server", "dialed"), [("http://[]", "http://0.0.0.0:80"),
                                                ("https://[]", "https://0.0.0.0:443")])
def test_an_empty_host_in_brackets_without_a_port_is_the_local_system_s_port_of_the_scheme(
        server: str, dialed: str) -> None:
    """kubectl dialed 0.0.0.0:80 for http://[] (Get "http://[]/api": dial tcp :80); before, "no host"."""
    assert _server_problem(server) is None
    assert _cluster_as_dialed({"server": server})["server"] == dialed


@pytest.mark.parametrize("server", ["http://:", "http://@:"])
def test_an_empty_host_not_in_brackets_and_without_a_port_is_no_host(server: str) -> None:
    """kubectl: 'http: no Host in request URL' for both."""
    assert _server_problem(server) == "no host"


def test_an_https_empty_host_in_brackets_has_no_server_name_to_check() -> None:
    assert _server_name_problem("https://[]", {}) is not None
    assert _server_name_problem("https://[]", {"insecure-skip-tls-verify": True}) is None


def test_a_named_server_without_a_port_is_left_as_written() -> None:
    cluster = {"server": "https://api.example"}
    assert _cluster_as_dialed(cluster) is cluster


@pytest.mark.parametrize(("server", "dialed"), [
    ("http://[::1%25lo]:6443", "http://[::1]:6443"), ("http://::1%25lo:6443", "http://[::1]:6443"),
    ("http://[fe80::1%25eth0]:6443", "http://[fe80::1%25eth0]:6443"),
    ("http://fe80::1%25eth0:6443", "http://[fe80::1%25eth0]:6443"),
    ("http://[127.0.0.1]:6443", "http://127.0.0.1:6443"), ("https://[localhost]", "https://localhost:443")])
def test_a_zone_or_a_bracketed_ipv4_address_or_name_is_dialed_as_go1_24_2_dials_it(server: str, dialed: str) -> None:
    """Go unescapes a zone's %25 and dials the address with it (glibc refuses ::1%lo, and the kernel reads a scope
    id for a link-local address only, so elsewhere it is dropped); go1.24.2's url.Parse takes [127.0.0.1] and
    [localhost] (the CVE-2025-47912 fix of 1.24.8 refuses them) and dials the name without brackets."""
    assert _server_problem(server) is None
    assert _cluster_as_dialed({"server": server})["server"] == dialed


@pytest.mark.parametrize("server", ["http://[::1%25lo]:{port}", "http://::1%25lo:{port}"])
def test_an_ipv6_server_with_a_zone_is_reached(fake6, tmp_path: Path, server: str) -> None:
    """Reviewer r5 finding 4: kubectl 1.33 reached both; the bracketed one was retried for ever ("cannot connect to
    [::1%25lo]:PORT: Name or service not known"), the other refused at start. kubectl sent "Host: [::1]:PORT" for
    both (a server on [::1] that printed it)."""
    port = port_of(fake6)
    kubeconfig = with_user(fake6, tmp_path / "kc", {}, server=server.format(port=port))
    assert synced(kubeconfig).keys(Kind.SERVICE) == {"default/s1"}
    assert set(fake6.host_headers) == {f"[::1]:{port}"}


def test_a_bracketed_ipv4_address_is_reached(populated, tmp_path: Path) -> None:
    """Reviewer r5 finding 3: kubectl 1.33 (go1.24.2) reached http://[127.0.0.1]:PORT, sending that Host; the
    watch said "cannot use this kubeconfig: An IPv4 address cannot be in brackets" (urlsplit's words)."""
    port = port_of(populated)
    kubeconfig = with_user(populated, tmp_path / "kc", {}, server=f"http://[127.0.0.1]:{port}")
    assert synced(kubeconfig).keys(Kind.SERVICE) == {"default/s1"}
    assert set(populated.host_headers) == {f"[127.0.0.1]:{port}"}


@pytest.mark.parametrize(("server", "reason"), [
    ("http://a:b:6443", "lookup a:b: no such host (an IPv6 address goes in brackets: [ADDRESS]:PORT)"),
    ("http://::1", "lookup :: no such host (an IPv6 address goes in brackets: [ADDRESS]:PORT)"),
    ("127.0.0.1:1:6443", "lookup 127.0.0.1:1: no such host (an IPv6 address goes in brackets: [ADDRESS]:PORT)"),
    ("http://127.0.0.1:70000", "address 70000: invalid port"),
    ("http://a:b:70000", "address 70000: invalid port"),
])
def test_a_server_go_cannot_dial_fails_each_request(tmp_path: Path, server: str, reason: str) -> None:
    """kubectl 1.33 (the oracle) takes the kubeconfig and fails each request as Go dials: "Unable to connect to the
    server: dial tcp: lookup a:b: no such host", "dial tcp: address 70000: invalid port"; the watch refused the
    kubeconfig at start. A bounded run gives up at the first list, as kubectl's one request fails."""
    from ._kubeconfigs import given_up

    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(kubeconfig_for(server))
    sleeps: list[float] = []
    failed = given_up(kubeconfig, sleep=sleeps.append)
    host = server.removeprefix("http://")
    assert str(failed) == f"http://{host}: list failed: cannot connect to {host}: dial tcp: {reason}"
    assert sleeps == []


