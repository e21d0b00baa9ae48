"""A dual-stack cluster against the kernel, once per family: kube-proxy runs one proxier per family (iptables and
ip6tables), each reading only its own family's cluster IPs, endpoints, external and load-balancer IPs and
loadBalancerSourceRanges (pkg/proxy/serviceport.go, MapIPsByIPFamily and MapCIDRsByIPFamily). The cluster is the
built-in dual-stack scenario's; the namespaces are built for the family run; every derived flow must agree with the
simulator, and the source ranges must act per family in the kernel too."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from pyroute2 import netns

from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
from kubeproxy_sim.kernel.differential import differential
from kubeproxy_sim.objects import load_paths

pytestmark = pytest.mark.kernel
SCENARIO = REPO_RULESETS / "dual-stack"
ALPHA = Fraction(1, 1000)  # per run: the file's false alarm rate is at most 0.2%


@pytest.mark.parametrize(("family", "lb_ip"), [("ipv4", "198.51.100.80:80"), ("ipv6", "[2001:db8:ffff::80]:80")])
def test_each_family_s_proxier_agrees_with_the_kernel(kernel: None, run_tag: str, state_dir: Path, family: str,
                                                      lb_ip: str) -> None:
    cluster = load_paths([str(SCENARIO / "objects.yaml")]).cluster
    config = config_from_args([*scenario_args(SCENARIO), "--ip-family", family], cluster)
    name = f"{run_tag}-ds{family[-1]}"
    report = differential(cluster, config, state_dir, name=name, alpha=ALPHA)
    bad = report.differences()
    assert report.flows and not bad, "\n".join(f"{f.flow.label}: {'; '.join(f.why)}" for f in bad)
    ipv6 = family == "ipv6"
    assert all(f.flow.dst.startswith("[") == ipv6 for f in report.flows if not f.flow.dst.startswith("node/"))
    # the outside client (203.0.113.10, 2001:db8:ffff::10) is inside web's IPv4 range and outside its IPv6 one
    (web_lb,) = [f for f in report.flows if f.flow.dst == lb_ip]
    outcomes = {row.outcome.split(" (")[0] for row in web_lb.rows if row.observed}
    assert (outcomes == {"no answer"}) == ipv6, outcomes
    assert not [n for n in netns.listnetns() if n.startswith(f"kpsim-{name}.")]
