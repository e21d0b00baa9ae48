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
from hypothesis import HealthCheck, given, settings

from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.proxier import generate
from tests.budget import budget
from tests.netfilter.test_saveform_kernel import kernel_iptables  # noqa: F401 (a fixture)

from .sequences import config_at, replay, sequences

pytestmark = pytest.mark.kernel


def _kernel_after(texts: list[str], ipv6: bool) -> str:
    """The kube-proxy chains and rules of a fresh netns after restoring ``texts`` in turn (counters left out)."""
    tool = "ip6tables" if ipv6 else "iptables"
    script = "\n".join([*(f"{tool}-restore --noflush <<'EOF{n}'\n{text}EOF{n}" for n, text in enumerate(texts)),
                        f"{tool}-save"])
    done = subprocess.run(["unshare", "--net", "sh", "-e", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = (line.split(" [", 1)[0] for line in done.stdout.splitlines())
    return "\n".join(sorted(line for line in lines if line.startswith((":KUBE-", "-A KUBE-"))))


@settings(max_examples=budget(10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences(nfacct=False))
def test_the_kernel_takes_every_partial_sync_and_ends_as_after_a_full_one(kernel_iptables, sequence):  # noqa: F811
    steps = list(replay(sequence.config, sequence.states))
    assert all(step.error is None for step in steps)
    objects, zone, _ = sequence.states[-1]
    full = render_ruleset(generate(objects, config_at(sequence.config, zone)).ruleset)
    ipv6 = sequence.config.ipv6
    assert _kernel_after([render_ruleset(step.outcome.restore) for step in steps], ipv6) == \
        _kernel_after([full], ipv6)
