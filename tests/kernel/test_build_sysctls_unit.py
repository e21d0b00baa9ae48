"""The sysctls netns up writes on a node, without a kernel: the writes are captured, not made."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kubeproxy_sim.kernel import build, nsexec, sysfs
from kubeproxy_sim.kernel.plan import plan
from tests.kernel.test_kernel import small_cluster


@pytest.mark.parametrize(("localhost", "addresses", "wanted"), [
    (True, (), True),  # every local address, loopback among them
    (True, ("127.0.0.0/8", "192.168.49.0/24"), True),
    (True, ("192.168.49.0/24",), False),  # localhost NodePorts on, but loopback is not a NodePort address
    (False, (), False),
])
def test_route_localnet_is_set_only_when_nodeports_answer_on_loopback(
        monkeypatch: pytest.MonkeyPatch, localhost: bool, addresses: tuple[str, ...], wanted: bool) -> None:
    """kube-proxy's NewProxier sets route_localnet when localhost NodePorts are on and the NodePort addresses hold
    an IPv4 loopback; netns up set it whenever localhost NodePorts were on (review-h3 #9)."""
    cluster, config = small_cluster()
    config = dataclasses.replace(config, localhost_nodeports=localhost, nodeport_addresses=addresses)
    topo = plan("sysctls", cluster, config, ())
    written: dict[str, dict[str, str]] = {}

    def call(netns: str, fn: Any, values: dict[str, str], *rest: Any) -> None:
        assert fn is sysfs.write_sysctls
        written.setdefault(netns, {}).update(values)

    monkeypatch.setattr(nsexec, "call", call)
    build._sysctls(topo)
    assert topo.nodes
    for node in topo.nodes:
        assert (written[node.netns].get("net.ipv4.conf.all.route_localnet") == "1") is wanted, node.netns


def test_the_ports_a_seeded_run_binds_are_reserved_from_the_kernel_s_own_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket whose port the kernel picks (the DNS retry over TCP) took a port a seeded connection of the same
    run was about to bind, which then failed with EADDRINUSE: every namespace reserves SEEDED_PORTS, and the range
    the kernel picks from is widened so that about as many ports as its default are left to it."""
    from kubeproxy_sim.kernel.probe import SEEDED_PORTS

    cluster, config = small_cluster()
    topo = plan("sysctls", cluster, config, ())
    written: dict[str, dict[str, str]] = {}

    def call(netns: str, fn: Any, values: dict[str, str], *rest: Any) -> None:
        written.setdefault(netns, {}).update(values)

    monkeypatch.setattr(nsexec, "call", call)
    build._sysctls(topo)
    for name in topo.namespaces():
        low, high = map(int, written[name]["net.ipv4.ip_local_port_range"].split())
        reserved = written[name]["net.ipv4.ip_local_reserved_ports"]
        assert reserved == f"{SEEDED_PORTS.start}-{SEEDED_PORTS.stop - 1}", name
        free = (high - low + 1) - len(SEEDED_PORTS)
        assert low <= SEEDED_PORTS.start and SEEDED_PORTS.stop - 1 <= high and free > 20000, name
