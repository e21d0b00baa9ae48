"""Partial syncs against the real iptables-restore: each sync's restore input, applied in order with
``iptables-restore --noflush`` (ip6tables-restore for IPv6) in a throw-away netns, is accepted, and leaves the
kernel holding exactly what a fresh restore of the full sync of the last objects gives. What decides here is the
kernel, not :func:`~kubeproxy_sim.proxier.partial.apply_restore` (the model test_partial_property uses): it checks
that a partial sync never jumps to a chain the kernel lacks, never deletes one still in use, and that flushing
by declaring a chain is what the real tool does.

Needs root, ``unshare`` and iptables (``kernel`` marker); each example runs two ``unshare --net`` commands, so
nothing is left behind. The counters of nfacct are off: kube-proxy creates its nfacct object through netlink,
outside the restore input, and a fresh netns has none.
"""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, example, given, settings

from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    Protocol,
    Service,
    ServicePort,
    ServiceType,
)
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.config import IPFamily, ProxyConfig
from tests.budget import budget

from .sequences import NODE, StateSequence, config_at, replay, sequences

pytestmark = pytest.mark.kernel


def _kernel_after(texts: list[str], ipv6: bool) -> dict[tuple[str, str], list[str]]:
    """The kube-proxy chains of a fresh netns after restoring ``texts`` in turn: each (table, chain)'s rules in
    their order (counters left out); only the order the chains are declared in is not compared (the kernel lists
    them as it holds them, and which come first is no behaviour)."""
    tool = "ip6tables" if ipv6 else "iptables"
    script = "\n".join([*(f"{tool}-restore --noflush <<'EOF{n}'\n{text}EOF{n}" for n, text in enumerate(texts)),
                        f"{tool}-save"])
    done = subprocess.run(["unshare", "--net", "sh", "-e", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    chains: dict[tuple[str, str], list[str]] = {}
    table = ""
    for line in done.stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":KUBE-"):
            chains.setdefault((table, line[1:].split()[0]), [])
        elif line.startswith("-A "):
            chain = line.split()[1]
            if chain.startswith("KUBE-"):
                chains.setdefault((table, chain), []).append(line)
    return chains


def _svc(name: str, index: int) -> Service:
    return Service("ns1", name, type=ServiceType.CLUSTER_IP, cluster_ips=(f"172.30.0.{10 + index}",),
                   ports=(ServicePort("p80", Protocol.TCP, 80, 80),))


def _slice(name: str, *ips: str) -> EndpointSlice:
    return EndpointSlice("ns1", f"{name}-0", name, AddressType.IPV4,
                         endpoints=tuple(Endpoint((ip,), EndpointConditions(), node_name=NODE) for ip in ips),
                         ports=(EndpointPort("p80", 80, Protocol.TCP),))


_CONFIG = ProxyConfig(node_name=NODE, ip_family=IPFamily.IPV4, node_ips=("192.168.0.2/24",),
                      cluster_cidrs=("10.0.0.0/8",), random_fully=False, nfacct=False)
_BOTH = Cluster((_svc("a", 0), _svc("b", 1)), (_slice("a", "10.0.0.1"), _slice("b", "10.0.1.1", "10.0.1.2")))
# a partial sync that deletes ns1/a and leaves ns1/b as it was
DELETE_ONE_KEEP_ONE = StateSequence(_CONFIG, (
    (_BOTH, "z1", 1.0), (Cluster((_svc("b", 1),), (_slice("b", "10.0.1.1", "10.0.1.2"),)), "z1", 1.0)))
# a partial sync that gives ns1/b a third endpoint (its chain's rules in order) and leaves ns1/a as it was
CHANGE_ONE_KEEP_ONE = StateSequence(_CONFIG, (
    (_BOTH, "z1", 1.0),
    (Cluster(_BOTH.services, (_slice("a", "10.0.0.1"), _slice("b", "10.0.1.1", "10.0.1.2", "10.0.1.3"))), "z1", 1.0)))


@settings(max_examples=budget(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences(nfacct=False))
@example(DELETE_ONE_KEEP_ONE)
@example(CHANGE_ONE_KEEP_ONE)
def test_the_kernel_takes_every_partial_sync_and_ends_as_after_a_full_one(kernel_iptables, sequence):
    steps = list(replay(sequence.config, sequence.states))
    assert all(step.error is None for step in steps)
    objects, zone, _ = sequence.states[-1]
    full = render_ruleset(generate(objects, config_at(sequence.config, zone)).ruleset)
    ipv6 = sequence.config.ipv6
    assert _kernel_after([render_ruleset(step.outcome.restore) for step in steps], ipv6) == \
        _kernel_after([full], ipv6)
