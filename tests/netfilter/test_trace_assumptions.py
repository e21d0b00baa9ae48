"""What a trace assumes is said: physdev's bridge port, rpfilter's route back, a routing decision's node
address, and the built-in chain policy that gave a verdict.

Regressions from a QA pass on real node dumps (s8): an unknown bridge port was silently "not bridged",
an unmodelled ``-m rpfilter --invert -j DROP`` dropped every pod packet on a Calico node, a trace without
``--node-ip`` forwarded a packet to the node's own address without a word, and a DROP by a chain's policy
ended its path at an unrelated RETURN.
"""

from __future__ import annotations

import json

import pytest

from kubeproxy_sim.cli.main import main
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.compile import CompiledChain, PathStep, compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine
from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table
from kubeproxy_sim.netfilter.packet import CtState, Packet
from kubeproxy_sim.netfilter.saveform import numbered_as_saved, render_saved, save_lines
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer, render_text
from tests.realworld import CALICO_RAW, DUMPS

NODE = NodeContext.of(["192.168.0.2"], interfaces={"eth0": ["192.168.0.2"]})
UNKNOWN_NODE = NodeContext.of((), addresses_known=False)  # a dump traced without --node-ip



def filter_table(rules: str, policy: str = "ACCEPT") -> str:
    return f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD {policy} [0:0]\n:OUTPUT ACCEPT [0:0]\n{rules}COMMIT\n"


def raw_table(rules: str) -> str:
    return f"*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{rules}COMMIT\n"


def trace(text: str, packet: Packet, node: NodeContext = NODE, **kw: bool):
    return Tracer(parse_ruleset(text), node, **kw).trace(packet)


def tcp(src: str = "10.0.0.2", dst: str = "10.96.0.1", dport: int = 80, **kw) -> Packet:
    return Packet.of("tcp", src, dst, dport, **kw)


def verdict(result) -> str:
    (outcome,) = result.outcomes
    return outcome.verdict


def reasons(result) -> list[str]:
    return [u.reason for u in result.uncertain]


def cli_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main([*argv, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------- physdev


@pytest.mark.parametrize(("rule", "answer"), [
    ("-m physdev --physdev-is-in", "ACCEPT"), ("-m physdev ! --physdev-is-in", "DROP"),
    ("-m physdev --physdev-in veth+", "ACCEPT"), ("-m physdev ! --physdev-in veth1", "DROP"),
])
def test_an_unknown_bridge_port_is_assumed_not_bridged_and_said(rule: str, answer: str) -> None:
    result = trace(filter_table(f"-A FORWARD {rule} -j DROP\n"), tcp())
    assert verdict(result) == answer  # the assumed answer is the one it always was
    (doubt,) = result.uncertain
    assert doubt.line == 5 and rule.removeprefix("-m ") in doubt.reason
    assert "bridge port the packet came in through is not known; assumed not bridged (give --bridge-port)" in \
        doubt.reason


@pytest.mark.parametrize(("rule", "port", "answer"), [
    ("-m physdev --physdev-is-in", "veth1", "DROP"), ("-m physdev --physdev-is-in", "", "ACCEPT"),
    ("-m physdev ! --physdev-is-in", "", "DROP"), ("-m physdev --physdev-in veth+", "veth1", "DROP"),
    ("-m physdev --physdev-in veth+", "cali1", "ACCEPT"), ("-m physdev ! --physdev-in veth1", "veth1", "ACCEPT"),
])
def test_a_known_bridge_port_or_none_is_certain(rule: str, port: str, answer: str) -> None:
    result = trace(filter_table(f"-A FORWARD {rule} -j DROP\n"), tcp(bridge_port=port))
    assert verdict(result) == answer and result.uncertain == ()


def test_a_packet_from_the_node_came_through_no_bridge() -> None:
    text = filter_table("-A OUTPUT -m physdev ! --physdev-is-in -j DROP\n")
    result = trace(text, tcp(src="192.168.0.2", dst="8.8.8.8"))
    assert result.origin == "local" and verdict(result) == "DROP" and result.uncertain == ()


def test_the_externalip_rule_of_2016_says_it_hangs_on_the_bridge_port(capsys: pytest.CaptureFixture[str]) -> None:
    """s8 HIGH 2: a pod calling the externalIP was DNATed with no word; the kernel does not DNAT it."""
    dump = str(DUMPS / "02-vagrant-flannel-externalip-2016.rules")
    argv = ["trace", "--rules", dump, "--node-ip", "192.168.121.10", "--src", "10.246.92.5", "--in-iface", "docker0",
            "--dst", "192.168.121.201", "--dport", "80"]
    unknown = cli_json(argv, capsys)
    assert {o["verdict"] for o in unknown["outcomes"]} == {"DNAT"}  # as before: assumed not bridged
    (physdev,) = [u for u in unknown["uncertain"] if u["line"] == 47]
    assert "physdev ! --physdev-is-in" in physdev["rule"] and "give --bridge-port" in physdev["reason"]
    bridged = cli_json([*argv, "--bridge-port", "veth1"], capsys)
    assert [(o["verdict"], o["masquerade"]) for o in bridged["outcomes"]] == [("ACCEPT", True)]
    assert all(u["line"] != 47 for u in bridged["uncertain"])


@pytest.mark.parametrize(("rule", "answer"), [
    ("--physdev-out veth2", "ACCEPT"), ("! --physdev-out veth2", "ACCEPT"),  # no port out: neither matches
    ("--physdev-is-out", "ACCEPT"), ("! --physdev-is-out", "DROP"),
    ("--physdev-is-bridged", "ACCEPT"), ("! --physdev-is-bridged", "DROP"),
])
def test_a_routed_packet_has_no_bridge_port_out(rule: str, answer: str) -> None:
    """s8 LOW 3: bridged in through veth1, routed out of eth0: br_netfilter set no port out (xt_physdev)."""
    text = filter_table(f"-A FORWARD -m physdev {rule} -j DROP\n")
    result = trace(text, tcp(in_iface="cni0", out_iface="eth0", bridge_port="veth1"))
    assert verdict(result) == answer and result.uncertain == ()


@pytest.mark.parametrize(("rule", "answer"), [
    ("--physdev-out veth2", "ACCEPT"), ("! --physdev-out veth2", "DROP"), ("--physdev-is-out", "ACCEPT"),
    ("! --physdev-is-bridged", "DROP"),
])
def test_a_packet_not_bridged_carries_no_bridge_information(rule: str, answer: str) -> None:
    text = filter_table(f"-A FORWARD -m physdev {rule} -j DROP\n")
    result = trace(text, tcp(in_iface="eth1", out_iface="eth0", bridge_port=""))
    assert verdict(result) == answer and result.uncertain == ()


def test_a_packet_leaving_by_the_bridge_it_came_in_on_may_be_forwarded_by_it() -> None:
    """Bridged in and out of the same bridge (a DNAT to a pod behind it), br_netfilter hands the frame back to
    the bridge, which picks a port out the tracer does not know: assumed routed (no match), and said."""
    text = filter_table("-A FORWARD -o weave -m physdev --physdev-out vethwe-bridge -j ACCEPT\n"
                        "-A FORWARD -o weave -j DROP\n")
    result = trace(text, tcp(in_iface="weave", out_iface="weave", bridge_port="vethwepl1"))
    assert verdict(result) == "DROP"
    (doubt,) = result.uncertain
    assert doubt.line == 5 and "may leave by that bridge" in doubt.reason and "assumed routed" in doubt.reason
    out_unknown = trace(text, tcp(in_iface="weave", bridge_port="vethwepl1"))  # where it leaves is not known
    assert any("may leave by that bridge" in reason for reason in reasons(out_unknown))


def test_an_unknown_port_changes_physdev_out_only_when_negated() -> None:
    routed = {"in_iface": "cni0", "out_iface": "eth0"}
    plain = trace(filter_table("-A FORWARD -m physdev --physdev-out veth2 -j DROP\n"), tcp(**routed))
    assert verdict(plain) == "ACCEPT" and plain.uncertain == ()  # no match, bridged in or not
    negated = trace(filter_table("-A FORWARD -m physdev ! --physdev-out veth2 -j DROP\n"), tcp(**routed))
    assert verdict(negated) == "DROP" and "assumed not bridged" in reasons(negated)[0]


# --------------------------------------------------------------------------- rpfilter


RPF_DROP = raw_table("-A PREROUTING -m rpfilter --invert -j DROP\n")
ROUTES = NodeContext.of(["192.168.0.2"], interfaces={"eth0": ["192.168.0.2"]},
                        routes=[("10.0.0.0/24", "cni0"), ("0.0.0.0/0", "eth0")])


def test_rpfilter_without_routes_is_assumed_to_pass_and_said() -> None:
    result = trace(RPF_DROP, tcp(in_iface="cni0"))
    assert verdict(result) == "ACCEPT"
    (doubt,) = result.uncertain
    assert doubt.line == 4 and doubt.reason == ("rpfilter --invert: the route back to the source is not known; "
                                                "assumed to pass the reverse-path check (so --invert does not match)")
    plain = trace(raw_table("-A PREROUTING -m rpfilter --loose -j DROP\n"), tcp(in_iface="cni0"))
    assert verdict(plain) == "DROP" and "assumed to pass the reverse-path check" in reasons(plain)[0]


@pytest.mark.parametrize(("rule", "src", "iface", "answer"), [
    ("--invert", "10.0.0.7", "cni0", "ACCEPT"),  # routed back through the interface it came in on
    ("--invert", "10.0.0.7", "eth0", "DROP"),  # a spoofed pod address from the uplink
    ("--loose --invert", "10.0.0.7", "eth0", "ACCEPT"),  # loose: any route back will do
    ("--invert", "203.0.113.9", "eth0", "ACCEPT"),  # the default route
    ("--invert", "203.0.113.9", None, "ACCEPT"),  # no interface given: the one its source is routed through
    ("--invert", "192.168.0.2", "eth0", "DROP"),  # the node's own address from outside: a local route
    ("--accept-local --loose --invert", "192.168.0.2", "eth0", "ACCEPT"),
    ("--invert", "10.0.0.7", "lo", "ACCEPT"),  # loopback always passes
    ("", "10.0.0.7", "eth0", "ACCEPT"),
    ("--validmark --invert", "10.0.0.7", "cni0", "ACCEPT"),
])
def test_rpfilter_with_the_node_s_routes_is_decided(rule: str, src: str, iface: str | None, answer: str) -> None:
    text = raw_table(f"-A PREROUTING -m rpfilter {rule} -j DROP\n".replace("  ", " "))
    result = trace(text, tcp(src=src, dst="10.96.0.1", in_iface=iface), ROUTES)
    assert verdict(result) == answer
    # the node's own address from elsewhere: the kernel's routing drops it too, unless accept_local
    assert [u.reason for u in result.uncertain if "accept_local is set" not in u.reason] == []
    assert len(result.uncertain) == (src == "192.168.0.2" and answer == "ACCEPT")


def test_rpfilter_without_all_the_facts_is_a_doubt() -> None:
    partial = NodeContext.of(["192.168.0.2"], routes=[("10.0.0.0/24", "cni0")])  # no default route
    result = trace(RPF_DROP, tcp(src="203.0.113.9", in_iface="eth0"), partial)
    assert verdict(result) == "ACCEPT" and "assumed to pass" in reasons(result)[0]
    unknown = NodeContext.of((), routes=[("0.0.0.0/0", "eth0")], addresses_known=False)  # it may be the node's
    result = trace(RPF_DROP, tcp(src="203.0.113.9", in_iface="eth0"), unknown)
    assert verdict(result) == "ACCEPT" and "assumed to pass" in reasons(result)[0]
    local_strict = raw_table("-A PREROUTING -m rpfilter --accept-local --invert -j DROP\n")
    result = trace(local_strict, tcp(src="192.168.0.2", in_iface="eth0"), ROUTES)  # which interface holds it?
    assert verdict(result) == "ACCEPT" and "assumed to pass" in reasons(result)[0]


def test_rpfilter_answers_by_key_as_walked() -> None:
    """The tracer keeps answers under a key that classes sources: rpfilter's answers must not be shared wrongly."""
    tracer = Tracer(parse_ruleset(RPF_DROP), ROUTES)
    assert tracer.keys is not None
    for src in ("10.0.0.7", "10.0.0.8", "203.0.113.9", "192.168.0.2", "0.0.0.0", "127.0.0.1"):
        for iface in ("cni0", "eth0", None):
            packet = tcp(src=src, dst="255.255.255.255", in_iface=iface)
            fresh = Tracer(parse_ruleset(RPF_DROP), ROUTES)._walk(packet)
            assert tracer.trace(packet) == fresh, (src, iface)


def test_calico_pod_traffic_passes_rpfilter(capsys: pytest.CaptureFixture[str]) -> None:
    """s8 HIGH 3: every pod packet on a Calico node was "dropped" by the unmodelled rpfilter rule."""
    text = CALICO_RAW + (DUMPS / "06-kind-1.23-traefik-2022.rules").read_text()
    node = NodeContext.of(["172.18.0.5"])
    result = trace(text, tcp(src="10.244.0.9", dst="10.96.237.231", in_iface="cali12d4a061371"), node)
    assert [(o.verdict, o.destination) for o in result.outcomes] == [("DNAT", "10.244.0.5:8000")]
    (doubt,) = [u for u in result.uncertain if u.line == 8]
    assert "rpfilter --validmark --invert" in doubt.rule and "assumed to pass" in doubt.reason
    routed = NodeContext.of(["172.18.0.5"], routes=[("10.244.0.9/32", "cali12d4a061371"), ("0.0.0.0/0", "eth0")])
    result = trace(text, tcp(src="10.244.0.9", dst="10.96.237.231", in_iface="cali12d4a061371"), routed)
    assert [o.verdict for o in result.outcomes] == ["DNAT"] and result.uncertain == ()
    spoofed = trace(text, tcp(src="10.244.0.9", dst="10.96.237.231", in_iface="cali0000"), routed)
    assert [o.verdict for o in spoofed.outcomes] == ["DROP"] and spoofed.outcomes[0].path[-1].line == 8


# --------------------------------------------------------------------------- routing without the node's addresses


ROUTING = "routing decision"


def test_routing_to_an_address_that_may_be_the_node_s_is_said() -> None:
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -d 10.96.0.1/32 -p tcp -j DNAT " \
           "--to-destination 192.168.0.9:6443\nCOMMIT\n" + filter_table("", policy="DROP")
    # from eth0: where it comes from is given (else it may be from the node itself: another doubt, tested below)
    result = trace(text, tcp(dst="10.96.0.1", dport=443, in_iface="eth0"), UNKNOWN_NODE)
    assert verdict(result) == "DROP"  # forwarded: FORWARD's policy, as before
    (doubt,) = result.uncertain
    assert (doubt.line, doubt.rule) == (None, ROUTING)
    assert doubt.reason == ("the DNAT destination 192.168.0.9 is assumed not to be an address of this node "
                            "(give --node-ip)")
    plain = trace(text, tcp(dst="10.1.2.3", in_iface="eth0"), UNKNOWN_NODE)
    assert reasons(plain) == ["the destination 10.1.2.3 is assumed not to be an address of this node (give --node-ip)"]
    known = trace(text, tcp(dst="10.96.0.1", dport=443), NodeContext.of(["192.168.0.9"]))
    assert verdict(known) == "DNAT" and known.uncertain == ()  # delivered to INPUT
    assert trace(text, tcp(dst="10.96.0.1", dport=443), NodeContext.of(())).uncertain == ()  # API default: known


def test_loopback_is_local_everywhere_and_a_local_packet_s_doubt_is_listed_once() -> None:
    text = filter_table("-A OUTPUT -p tcp -j ACCEPT\n")
    loop = trace(text, tcp(src="127.0.0.1", dst="127.0.0.1"), UNKNOWN_NODE)
    assert loop.origin == "local" and loop.uncertain == ()
    out = trace(text, tcp(src="127.0.0.1", dst="10.1.2.3"), UNKNOWN_NODE)  # ROUTE_OUT and LOOPBACK both ask
    assert [(u.line, u.rule) for u in out.uncertain] == [(None, ROUTING)] * 2
    assert reasons(out)[0] == "the destination 10.1.2.3 is assumed not to be an address of this node (give --node-ip)"
    assert reasons(out)[1].startswith("the source 127.0.0.1 is a loopback address")  # leaving: route_localnet


def test_a_kubeadm_dump_without_node_ip_says_why_the_api_server_looks_dropped(
        capsys: pytest.CaptureFixture[str]) -> None:
    """s8 MEDIUM 1: the API server's endpoint is the node; without --node-ip the answer flipped silently."""
    dump = str(DUMPS / "04-kubeadm-docker-kubedns-noendpoints-2018.rules")
    argv = ["trace", "--rules", dump, "--src", "10.32.0.5", "--dst", "10.96.0.1", "--dport", "443"]
    unknown = cli_json(argv, capsys)
    assert [o["verdict"] for o in unknown["outcomes"]] == ["DROP"]
    assert {"line": None, "rule": ROUTING, "reason": "the DNAT destination 192.168.50.101 is assumed not to be an "
            "address of this node (give --node-ip)"} in unknown["uncertain"]
    known = cli_json([*argv, "--node-ip", "192.168.50.101"], capsys)
    assert [o["verdict"] for o in known["outcomes"]] == ["DNAT"]
    assert all(u["rule"] != ROUTING for u in known["uncertain"])
    assert main(argv) == 0
    assert "  rule: routing decision\n    the DNAT destination 192.168.50.101 is assumed" in capsys.readouterr().out


# --------------------------------------------------------------------------- a chain's policy on the path


def test_a_verdict_by_policy_ends_the_path_with_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    """s8 MEDIUM 2: the path ended at DOCKER-ISOLATION-STAGE-1's RETURN, and verify cited that line."""
    dump = str(DUMPS / "04-kubeadm-docker-kubedns-noendpoints-2018.rules")
    argv = ["trace", "--rules", dump, "--src", "10.32.0.5", "--dst", "10.96.0.10", "--dport", "53", "--proto", "udp"]
    data = cli_json(argv, capsys)
    (outcome,) = data["outcomes"]
    assert outcome["verdict"] == "DROP"
    assert outcome["path"][-2:] == [
        {"table": "filter", "chain": "DOCKER-ISOLATION-STAGE-1", "line": 58,
         "rule": "-A DOCKER-ISOLATION-STAGE-1 -j RETURN"},
        {"table": "filter", "chain": "FORWARD", "line": 36, "rule": ":FORWARD DROP [0:0]"}]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "      line 58: -A DOCKER-ISOLATION-STAGE-1 -j RETURN\n    line 36: :FORWARD DROP [0:0]\n" in text


def test_the_policy_step_has_the_declaration_s_line_counters_and_survives_every_walk() -> None:
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [7:420]\n:OUTPUT ACCEPT [0:0]\n:KEEP - [0:0]\n"
            "-A FORWARD -j KEEP\n-A KEEP -d 10.9.0.0/16 -j ACCEPT\n-A KEEP -j RETURN\nCOMMIT\n")
    policy = PathStep("filter", "FORWARD", 3, ":FORWARD DROP [7:420]")
    for lazy in (False, True):
        tracer = Tracer(parse_ruleset(text), NODE, lazy=lazy)
        recorded: list[object] = []
        record = tracer.engine._record
        tracer.engine._record = (  # type: ignore[method-assign]
            lambda *a, seen=recorded, real=record: seen.append(a) or real(*a))
        for dst in ("10.1.0.1", "10.2.0.1", "10.1.0.1"):  # the third walk replays the first's memo
            (outcome,) = tracer._walk(tcp(dst=dst)).outcomes
            assert outcome.verdict == "DROP" and outcome.path[-1] == policy, (lazy, dst)
            assert [s.line for s in outcome.path] == [6, 8, 3]
        assert len(recorded) == 2, lazy  # KEEP reads the destination: two walks recorded, the third replayed
    assert Tracer(parse_ruleset(text), NODE).engine.memos  # the memo was there to be replayed
    (accepted,) = trace(text, tcp(dst="10.9.0.1")).outcomes
    assert accepted.verdict == "ACCEPT" and accepted.path[-1].line == 7  # a rule decided: no policy step
    assert "    line 3: :FORWARD DROP [7:420]\n" in render_text(trace(text, tcp(dst="10.1.0.1")))


def test_an_accept_policy_adds_no_step_and_a_set_policy_cites_its_line() -> None:
    (accepted,) = trace(filter_table("-A FORWARD -j RETURN\n"), tcp()).outcomes
    assert [s.line for s in accepted.path] == [5]
    restore = "*filter\n:FORWARD ACCEPT [0:0]\n-P FORWARD DROP\nCOMMIT\n"  # -P in a restore input
    (dropped,) = trace(restore, tcp()).outcomes
    assert dropped.path == (PathStep("filter", "FORWARD", 3, ":FORWARD DROP [0:0]"),)


def test_a_policy_of_a_chain_not_read_from_a_dump_has_no_line() -> None:
    """A generated chain never numbered (line 0): its policy's step has no line and reads ``policy``."""
    compiled = compile_ruleset(Ruleset((Table("filter", (Chain("FORWARD", (), "DROP"),)),)))
    forward = compiled.chain("filter", "FORWARD")
    assert isinstance(forward, CompiledChain) and forward.policy_rule is not None
    (end,) = Engine(compiled, NODE).run(tcp())
    assert end.verdict == "DROP" and end.path[-1].step == PathStep("filter", "FORWARD", None, ":FORWARD DROP [0:0]")
    assert "    policy: :FORWARD DROP [0:0]\n" in render_text(Tracer(compiled, NODE).trace(tcp()))


def test_generated_rules_number_their_declarations_as_iptables_save_prints_them() -> None:
    forward = Chain("FORWARD", (Rule("FORWARD", "-j KUBE-FORWARD"),), "DROP")
    ruleset = Ruleset((Table("filter", (forward, Chain.of_specs("KUBE-FORWARD", ["-j RETURN"]))),))
    numbered = numbered_as_saved(ruleset)
    lines = render_saved(save_lines(ruleset)).splitlines()  # what `rules --full` prints
    chain = numbered.tables[0].chain("FORWARD")
    assert chain is not None and lines[chain.line - 1] == ":FORWARD DROP [0:0]"
    (outcome,) = Tracer(numbered, NODE).trace(tcp()).outcomes
    assert outcome.path[-1] == PathStep("filter", "FORWARD", chain.line, ":FORWARD DROP [0:0]")
    read = parse_ruleset(render_saved(save_lines(ruleset))).tables[0].chain("FORWARD")
    assert read is not None and read.line == chain.line  # the same line read back


def test_the_engine_lists_the_origin_and_route_localnet_assumptions() -> None:
    """What the walk took for granted is recorded by the engine beside its routing doubt, so every Tracer user
    gets it (it was added by trace's command line after the walk): a packet given no input interface, traced
    without the node's addresses, may be from the node itself; one from elsewhere DNATed to 127/8 is delivered
    only where route_localnet is set."""
    from kubeproxy_sim.netfilter.established import REVERSE_NAT, trace_later, trace_reply

    text = ("*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A PREROUTING -d 10.96.0.10/32 -p udp -j DNAT --to-destination 127.0.0.11:53\n"
            "-A OUTPUT -d 10.96.0.10/32 -p udp -j DNAT --to-destination 127.0.0.11:53\nCOMMIT\n")
    tracer = Tracer(parse_ruleset(text), UNKNOWN_NODE)
    origin = ("the source {} is assumed not to be an address of this node, so the packet comes from elsewhere, not "
              "from the node itself (give --node-ip)")
    localnet = ("the DNAT destination 127.0.0.11 is a loopback address, which a packet from elsewhere reaches only "
                "where route_localnet is set (net.ipv4.conf.all or the input interface's); assumed set (the rules do "
                "not say; kube-proxy sets it when it serves NodePorts on localhost), else the kernel drops it as a "
                "martian")
    for src in ("10.0.0.2", "10.0.0.3"):  # each its own source, not an answer kept for another
        result = tracer.trace(Packet.of("udp", src, "10.96.0.10", 53))
        assert [(u.line, u.rule, u.reason) for u in result.uncertain] == [
            (None, "packet origin", origin.format(src)), (None, ROUTING, localnet)]
    later = trace_later(tracer, Packet.of("udp", "10.0.0.2", "10.96.0.10", 53, ctstate=CtState.ESTABLISHED))
    assert [u.rule for u in later.uncertain] == ["packet origin", ROUTING]
    reply = trace_reply(tracer, Packet.of("udp", "10.0.0.9", "10.0.0.2", 40000, 53, ctstate=CtState.ESTABLISHED))
    assert reply.uncertain[:2] == (REVERSE_NAT, reply.uncertain[1]) and reply.uncertain[1].rule == "packet origin"
    # given an interface, or the node's addresses, the origin is known; from the node itself no martian
    known = trace(text, Packet.of("udp", "10.0.0.2", "10.96.0.10", 53, in_iface="eth0"), UNKNOWN_NODE)
    assert [u.rule for u in known.uncertain] == [ROUTING]
    node = NodeContext.of(["192.168.0.2"])
    assert [u.rule for u in trace(text, Packet.of("udp", "10.0.0.2", "10.96.0.10", 53), node).uncertain] == [ROUTING]
    local = trace(text, Packet.of("udp", "192.168.0.2", "10.96.0.10", 53), node)
    assert local.origin == "local" and local.uncertain == ()
