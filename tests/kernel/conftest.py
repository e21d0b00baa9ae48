"""Kernel tests: skipped (with the reason) without root or iptables, except under CI=true where they must run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubeproxy_sim.kernel import env

FORWARDING_SYSCTLS = {
    "net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv6.conf.all.forwarding": "1", "net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0",
}
"""A scratch node that forwards, with nothing in the way of what a test compares: no reverse-path filter (a
source the node has no route back to is still received) and no duplicate address detection (an IPv6 address
is usable as soon as it is added)."""


def require_kernel() -> None:
    problems = env.missing()
    if not problems:
        return
    reason = "kernel backend unavailable: " + "; ".join(problems)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: kernel tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def kernel() -> None:
    require_kernel()


@pytest.fixture(scope="session")
def run_tag() -> str:
    """A tag unique to this test run: every cluster name (and so every namespace) starts with it."""
    return f"t{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kpsim-state")


@pytest.fixture(scope="session", autouse=True)
def no_leftovers(run_tag: str) -> Iterator[None]:
    """After the run, nothing of ours may remain (and whatever a failure left is removed)."""
    yield
    if env.missing():
        return
    left = remove_leftovers(f"kpsim-{run_tag}")
    assert not left, f"namespaces left behind: {left}"


def remove_leftovers(prefix: str) -> list[str]:
    """Remove the namespaces whose name starts with ``prefix``, our servers in them first (a failed test's
    cluster: removing the name alone leaves them running, in a namespace no one can name); the names removed."""
    from pyroute2 import netns

    from kubeproxy_sim.kernel import build

    left = sorted(n for n in netns.listnetns() if n.startswith(prefix))
    build.stop_servers_in(left)
    for name in left:
        netns.remove(name)
    return left


def joined_pair(run_tag: str, tag: str, configure: Callable[[str, str], None]) -> Iterator[tuple[str, str]]:
    """The body of a module fixture (``yield from`` it) for two scratch namespaces joined by a veth:
    ``kpsim-<run>-<tag>.c`` (the client side, its end eth0) and ``kpsim-<run>-<tag>.n`` (the node, its end c0),
    both with FORWARDING_SYSCTLS and their links (lo too) up; ``configure(client, node)`` adds the test's
    addresses, routes and rules. Both are removed afterwards, however the build or the tests ended; a run
    killed before that leaves them to ``netns gc``, which the owner record beside them
    (``kpsim-<run>-<tag>.net``, :func:`~kubeproxy_sim.kernel.build.owned_netns`) tells they are garbage once
    this process is gone."""
    from kubeproxy_sim.kernel import build, nsexec, sysfs

    with build.owned_netns(f"{run_tag}-{tag}") as marker:  # (its exit removes the pair too, then itself)
        prefix = marker.removesuffix("net")
        client, node = names = (f"{prefix}c", f"{prefix}n")
        for name in names:
            nsexec.create_netns(name)
            nsexec.call(name, sysfs.write_sysctls, FORWARDING_SYSCTLS)
        with nsexec.iproute(node) as ipr:
            ipr.link("add", ifname="c0", kind="veth", peer={"ifname": "eth0", "net_ns_fd": client})
        for name, end in ((node, "c0"), (client, "eth0")):
            with nsexec.iproute(name) as ipr:
                for link in (end, "lo"):
                    ipr.link("set", index=ipr.link_lookup(ifname=link)[0], state="up")
        configure(client, node)
        yield names
