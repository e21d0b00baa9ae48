"""watch --kubeconfig: a server's host as Go parses and dials it, at its edges (kubectl 1.33, built with go1.24.2,
the oracle, with strace for where it dialed)."""

from __future__ import annotations

import pytest

from kubeproxy_sim.watch.apiserver import _cluster_as_dialed, _server_name_problem, _server_problem


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
