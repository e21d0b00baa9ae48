"""``netns verify``'s predictions where the tracer states what it assumed (no namespaces: the Predictor alone).

From a QA pass on real dumps (s8): verify cited an unrelated RETURN as the line of a DROP by FORWARD's
policy, and predicted DROP for every pod flow of a Calico node (an unmodelled rpfilter rule), where the
kernel delivered them.
"""

from __future__ import annotations

from kubeproxy_sim.kernel.stage import Staged, plan_stage, read_dump
from kubeproxy_sim.kernel.verify import Flow, Origin, Predictor, _outcome_text, queued, verdict_hook
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.trace import PathStep
from tests.realworld import CALICO_RAW, DUMPS


def predictor(text: str, node_ip: str, bridge: str = "cbr0") -> Predictor:
    ruleset = parse_ruleset(text)
    facts = read_dump(ruleset)
    plan = plan_stage("t-unit", facts, [node_ip], bridge)
    return Predictor(Staged(plan, text, (), tuple(facts.ipsets), ()), ruleset)


def test_a_drop_by_forward_s_policy_is_cited_at_the_policy_s_line() -> None:
    text = (DUMPS / "04-kubeadm-docker-kubedns-noendpoints-2018.rules").read_text()
    p = predictor(text, "192.168.50.101")
    for origin in (Origin.POD, Origin.EXTERNAL):
        (expected,), traced = p.expectations(Flow(origin, "10.96.0.10", 53, "udp"))
        assert expected.outcome == "DROP (line 36)" and expected.key == ("error", "timeout")  # not line 58's RETURN
        assert traced.outcomes[0].path[-1] == PathStep("filter", "FORWARD", 36, ":FORWARD DROP [0:0]")


def test_the_hook_of_a_policy_verdict_is_its_chain() -> None:
    policy = PathStep("filter", "OUTPUT", 5, ":OUTPUT DROP [0:0]")
    assert verdict_hook((policy,)) == "OUTPUT"
    forward = PathStep("filter", "FORWARD", 3, ":FORWARD DROP [0:0]")
    assert verdict_hook((forward,)) == "FORWARD"
    assert verdict_hook(()) is None


QUEUED = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT {policy} [0:0]\n:X - [0:0]\n"
          "-A OUTPUT -p udp -m udp --dport 6021 -j X\n-A OUTPUT -j ACCEPT\n"
          "-A X -p udp -j NFQUEUE --queue-num 4\nCOMMIT\n")


def test_a_queued_drop_has_its_hook_whatever_another_chain_s_policy() -> None:
    """A node's datagram queued (no listener) from OUTPUT: the hook is OUTPUT whatever OUTPUT's policy, and the
    send is not refused (the kernel frees a queued packet and returns 0, not EPERM): the socket times out."""
    for policy in ("ACCEPT", "DROP"):
        p = predictor(QUEUED.format(policy=policy), "10.9.0.1")
        (expected,), traced = p.expectations(Flow(Origin.NODE, "10.9.0.7", 6021, "udp"))
        (outcome,) = traced.outcomes
        assert outcome.verdict == "DROP" and queued(outcome.path), policy
        assert verdict_hook(outcome.path) == "OUTPUT", policy
        assert expected.key == ("error", "timeout"), policy
    assert not queued((PathStep("filter", "OUTPUT", 9, "-A OUTPUT -p udp -j DROP"),))


def test_calico_pod_flows_pass_rpfilter_with_the_stage_s_routes() -> None:
    text = CALICO_RAW + (DUMPS / "06-kind-1.23-traefik-2022.rules").read_text()
    p = predictor(text, "172.18.0.5", bridge="cali0")
    for origin in Origin:
        (expected,), traced = p.expectations(Flow(origin, "10.96.237.231", 80, "tcp"))
        assert expected.outcome == "DNAT to 10.244.0.5:8000", origin
        assert traced.uncertain == (), origin  # the routes decide the reverse path: nothing assumed


def test_the_external_client_is_not_bridged() -> None:
    """Dump 02's externalIP rule tests ``! --physdev-is-in``: the uplink's packets are known not to be bridged."""
    text = (DUMPS / "02-vagrant-flannel-externalip-2016.rules").read_text()
    p = predictor(text, "192.168.121.10")
    _, traced = p.expectations(Flow(Origin.EXTERNAL, "192.168.121.201", 80, "tcp"))
    assert {o.verdict for o in traced.outcomes} == {"DNAT"}
    assert not any("bridge port" in u.reason for u in traced.uncertain)
    _, pod = p.expectations(Flow(Origin.POD, "192.168.121.201", 80, "tcp"))
    assert [o.verdict for o in pod.outcomes] == ["ACCEPT"]  # bridged in: the externalIP rule skips it
    assert _outcome_text(pod.outcomes[0]) == "ACCEPT"


def test_the_node_s_connection_to_its_loopback_comes_from_loopback() -> None:
    """As the kernel's source selection picks it: 127.0.0.1 (::1) for a loopback destination, else the node's first
    address. So KUBE-FIREWALL's drop of a non-loopback source to 127/8 does not apply: nothing listens, refused
    (was: the node's address, predicted DROP, and the probe's socket bound to it to match)."""
    from kubeproxy_sim.cli.options import REPO_RULESETS

    text = (REPO_RULESETS / "upstream-node-ports-ipv4-localhost-nodeports-enabled" / "full.golden").read_text()
    p = predictor(text, "192.168.0.2/24")
    assert p.source(Flow(Origin.NODE, "192.168.0.2", 3001, "tcp"))[0] == "192.168.0.2"
    for proto in ("tcp", "udp"):
        flow = Flow(Origin.NODE, "127.0.0.1", 9999, proto)
        assert p.source(flow)[0] == "127.0.0.1"
        (expected,), _ = p.expectations(flow)
        assert expected.key == ("error", "refused"), proto
    ipv6 = predictor((REPO_RULESETS / "ipv6" / "full.golden").read_text(), "fd00:198:18::a/64")
    assert ipv6.source(Flow(Origin.NODE, "::1", 9999, "tcp"))[0] == "::1"
