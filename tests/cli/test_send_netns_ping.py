"""``netns send --proto icmp``: a ping's ``--to`` is a host without a port, checked (a usage error) before the
cluster is looked up, as ``send --proto icmp`` checks it. (tests/kernel/test_ping_kernel.py runs it on a cluster.)"""

from __future__ import annotations

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.simulator.send import PING_DESTINATION_FORMS
from tests.cli._usage_pointer import without_pointer


@pytest.mark.parametrize("proto", ["icmp", "icmpv6"])
def test_a_ping_to_a_port_is_a_usage_error(capsys: pytest.CaptureFixture[str], proto: str) -> None:
    code = main(["netns", "send", "nosuch-cluster", "--from", "external", "--to", "10.0.0.1:80", "--proto", proto])
    err = without_pointer(capsys.readouterr().err, "netns send")
    assert code == 2
    assert err == (f"kubeproxy-sim: --to: '10.0.0.1:80': a ping (--proto icmp) goes to a host, not a port; expected "
                   f"{PING_DESTINATION_FORMS}\n")


NO_CLUSTER = ("kubeproxy-sim: NAME: no running cluster 'kpsim-m5-nosuch'; start one with `netns up --name "
              "kpsim-m5-nosuch`\n")


@pytest.mark.parametrize("count", [[], ["--count", "70000"]])
def test_a_ping_host_passes_the_form_check(count: list[str], monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Past the shape, the command goes on to the machine (taken as able here) and the cluster, which is not
    there: invalid input, 1, in those words. A count past 65,535 is one ping's too: its sequence numbers wrap, as
    ping -c 70000's do (tests/kernel/test_pinger_unit.py), so it is not refused."""
    from kubeproxy_sim.kernel import env

    monkeypatch.setattr(env, "require", lambda: None)
    code = main(["netns", "send", "kpsim-m5-nosuch", "--from", "external", "--to", "10.0.0.1", "--proto", "icmp",
                 *count])
    assert (code, capsys.readouterr().err) == (1, NO_CLUSTER)
