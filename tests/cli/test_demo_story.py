"""``kubeproxy-sim demo`` end to end: the tutorial's story on the bootcamp cluster, seeded and fast."""

from __future__ import annotations

import re

import pytest

from kubeproxy_sim.cli.main import main

NODE1_PODS = {"default/kubernetes-bootcamp-855d5cc575-4lb7w", "default/kubernetes-bootcamp-855d5cc575-9qzkx"}


def demo(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["demo", *argv]) == 0
    return capsys.readouterr().out


def section(text: str, number: int) -> str:
    """The text of section ``== N. ... ==`` up to the next one (or the closing hints)."""
    match = re.search(rf"^== {number}\. .*?(?=^== {number + 1}\. |^Raw restore input)", text, re.M | re.S)
    assert match, f"no section {number}"
    return match.group(0)


def rows(text: str) -> dict[str, list[str]]:
    """The send table's rows by pod: the words after the pod's name."""
    return {line.split()[0]: line.split()[1:] for line in text.splitlines()
            if re.match(r"^(default|external)/\S+\s+\d", line)}


@pytest.fixture(scope="module")
def story() -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["demo"]) == 0  # its speed: tools/bench.py
    return out.getvalue()


def test_rules_are_explained_first(story: str) -> None:
    rules = section(story, 1)
    assert "== 1. The rules kube-proxy writes on this node (iptables-restore input), explained ==" in rules
    assert "KUBE-SVC-2TYZFXBKM236ELT2  # the service port's load balancer" in rules
    assert "# new connections split: 25.0%, 25.0%, 25.0%, 25.0%" in rules
    assert story.index("SERVICE ") < story.index("== 1.")


def test_a_thousand_requests_from_outside_spread_over_every_pod_masqueraded(story: str) -> None:
    text = section(story, 2)
    assert "== 2. 1,000 requests from outside to default/kubernetes-bootcamp's NodePort on node1 ==" in text
    assert "$ kubeproxy-sim send --scenario bootcamp --from external --to node/node1:31526 --count 1000 --seed 1" \
        in text
    table = rows(text)
    assert len(table) == 4 and sum(int(r[2]) for r in table.values()) == 1000
    # masqueraded: node1's own pods see its pod bridge's address, node2's its node address
    assert all(r[4] == "25.0%" and r[5] == ("10.244.0.1" if r[1] == "node1" else "192.168.49.2")
               for r in table.values())
    assert all(set(r[6]) == {"#"} for r in table.values())  # the bar chart
    assert "masqueraded" in text


def test_local_policy_keeps_the_source_stays_local_and_drops_without_local_pods(story: str) -> None:
    text = section(story, 3)
    assert "externalTrafficPolicy\":\"Local\"" in text
    assert "+ -A KUBE-EXT-2TYZFXBKM236ELT2 -j KUBE-SVL-2TYZFXBKM236ELT2" in text
    assert "- -A KUBE-EXT-2TYZFXBKM236ELT2 -m comment --comment \"masquerade traffic for" in text
    table = rows(text)
    assert set(table) == NODE1_PODS and sum(int(r[2]) for r in table.values()) == 1000
    assert all(r[4] == "50.0%" and r[5] == "203.0.113.10" for r in table.values())
    drop = next(line for line in text.splitlines() if line.startswith("DROP "))
    assert drop.split()[1:4] == ["100", "100.0%", "100.0%"] and "node node3" in drop
    assert "has no local endpoints" in drop


def test_external_name_goes_through_cluster_dns(story: str) -> None:
    text = section(story, 4)
    assert "kube-proxy ignores ExternalName services (unchanged)" in text
    assert "bootcamp-docs.default.svc.cluster.local CNAME docs.example.com" in text
    assert "docs.example.com A 198.51.100.20" in text
    (row,) = rows(text).items()
    assert row[0] == "external/docs.example.com" and row[1][0] == "198.51.100.20" and row[1][2] == "1"
    egress = " ".join(text.split("It leaves the cluster", 1)[1].split())
    assert egress.startswith("like any pod egress, through the CNI's masquerade on the node (kube-proxy's rules do "
                             "not masquerade it), so the outside host saw 192.168.49.2")


def test_scaling_and_rolling_update_show_endpoints_and_changed_rules(story: str) -> None:
    text = section(story, 5)
    steps = re.split(r"\n(?=\$ kubectl |\.\.\. )", text)
    played = [(s.splitlines()[0], s) for s in steps[1:]]
    by_command = dict(played)  # the last of a repeated command
    scale_up = by_command["$ kubectl scale deployments/kubernetes-bootcamp --replicas=4"]
    assert scale_up.count(" not-ready ") == 3 and "(no rule changed)" in scale_up
    ready = [s for c, s in played if c == "$ kubectl rollout status deployments/kubernetes-bootcamp"]
    assert any(s.count(" ready ") == 4 and s.count("+ -A KUBE-SEP-") == 6 for s in ready)
    scale_down = by_command["$ kubectl scale deployments/kubernetes-bootcamp --replicas=2"]
    assert scale_down.count("serving-terminating") == 2 and "- -A KUBE-SEP-" in scale_down
    image = by_command["$ kubectl set image deployments/kubernetes-bootcamp "
                       "kubernetes-bootcamp=docker.io/jocatalin/kubernetes-bootcamp:v2"]
    assert "not-ready" in image
    assert "successfully rolled out" in ready[-1] and "- -A KUBE-SVC-2TYZFXBKM236ELT2" in ready[-1]
    assert "... 30s later" in by_command


def test_the_printed_scenario_commands_reproduce_the_section(story: str, capsys: pytest.CaptureFixture[str],
                                                              tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The section says it abridges the two commands it prints, which name the built-in script and so run from
    any directory (QA-docs 6: it printed one repository-relative path, whose output looks different)."""
    text = section(story, 5)
    assert "abridged" in text
    commands = [line.split() for line in re.findall(r"^\$ kubeproxy-sim (scenario .*)$", text, re.M)]
    assert [c[:4] for c in commands] == [["scenario", "bootcamp", "--show", "diff"],
                                         ["scenario", "bootcamp", "--show", "endpoints"]]
    monkeypatch.chdir(tmp_path)  # not the repository
    replayed = {}
    for command in commands:
        assert command[-2:] == ["--seed", "1"]
        assert main(command) == 0
        replayed[command[3]] = capsys.readouterr().out
    ports = set(re.findall(r"--dport (3\d{4})", text))
    assert ports and ports <= set(re.findall(r"--dport (3\d{4})", replayed["diff"]))  # the same allocated NodePort
    pods = set(re.findall(r"kubernetes-bootcamp-[0-9a-z]+-[0-9a-z]{5}", text))
    assert pods and pods <= set(re.findall(r"pod=(\S+)", replayed["endpoints"]))  # the same pods, by name


def test_seeded_and_reproducible(story: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo(capsys) == story
    other = demo(capsys, "--seed", "7")
    assert section(other, 2) != section(story, 2) and section(other, 1) == section(story, 1)


def test_colour_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    out = demo(capsys, "--color", "always")
    assert "\x1b[1m== 2. 1,000 requests" in out and "\x1b[32m+ -A KUBE-" in out


def test_another_scenario_gets_its_rules_and_one_send(capsys: pytest.CaptureFixture[str]) -> None:
    out = demo(capsys, "--scenario", "externalname-and-headless")
    assert "== 1. " in out and "== 2. 1,000 requests from node1 to default/web's cluster IP ==" in out
    assert "== 3. " not in out
    out = demo(capsys, "--scenario", "upstream-no-endpoints-reject")
    assert "No connection reached a pod (REJECT)" in out and "== 3. " not in out


def test_the_shares_are_judged_by_a_chi_square_test(story: str) -> None:
    assert "a chi-square test over all 4 destinations finds nothing chance would not explain" in section(story, 2)


def test_shares_not_exact_in_six_decimals_are_judged_too() -> None:
    """Three pods: EXPECTED is 0.333333 each (rounded), which must not hide the verdict."""
    from kubeproxy_sim.cli.demo_cmd import share_verdict
    from kubeproxy_sim.simulator.send import send
    from tests.simulator.builders import simulator

    result = send(simulator(), "pod/default/client", "web.default:80", count=1000, seed=1)
    assert [d.expected for d in result.delivered] == [0.333333] * 3
    assert "a chi-square test over all 3 destinations finds nothing chance would not explain" in \
        share_verdict(result)


def test_a_udp_node_port_gets_udp_requests(capsys: pytest.CaptureFixture[str]) -> None:
    """sctp-udp's first NodePort is dns-udp: sent as TCP, every connection would be refused."""
    text = section(demo(capsys, "--scenario", "sctp-udp"), 2)
    assert "--to node/node1:30053 --count 1000 --seed 1 --proto udp" in text
    assert sum(int(r[2]) for r in rows(text).values()) == 1000 and "REJECT" not in text


def test_a_node_without_pods_says_why_nothing_answers_and_sections_have_no_gap(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = demo(capsys, "--hostname-override", "node9")
    local = section(out, 3)
    assert "No connection reached a pod (DROP): node9 has no ready pod of the app" in local
    assert "Only node9's own pods answer" not in local
    assert "== 4. Scaling and a rolling update" in out and "== 5. " not in out  # no pod on node9 to ask the DNS


def test_another_node_is_named_in_the_opening_line(capsys: pytest.CaptureFixture[str]) -> None:
    first = demo(capsys, "--hostname-override", "node2").splitlines()[0]
    assert first.endswith("seen from node1. Here seen from node2, as --hostname-override asks.")
    # the scenario's own node, however spelt, moves nothing
    assert demo(capsys, "--hostname-override", " Node1").splitlines()[0].endswith("seen from node1.")


def test_the_demo_plays_the_first_steps_of_scenario_bootcamp_s_script() -> None:
    """Section text says the tutorial is "the script's first N steps" of ``scenario bootcamp``: TUTORIAL is a copy
    of them, which this keeps true."""
    from kubeproxy_sim.cli.demo_cmd import TUTORIAL
    from kubeproxy_sim.cli.scenario_cmd import script_path
    from kubeproxy_sim.controllers.script import parse_script

    steps = parse_script(script_path("bootcamp").read_text(encoding="utf-8"))
    assert len(steps) > len(TUTORIAL)
    assert tuple(step.text for step in steps[: len(TUTORIAL)]) == TUTORIAL


def test_the_local_summary_follows_the_rows_not_a_fixed_reason(capsys: pytest.CaptureFixture[str]) -> None:
    """QA-cli 4: with --nodeport-addresses holding no node address the connections are refused before any rule of
    the Local policy; node1 has ready pods, so the summary must not blame them."""
    local = section(demo(capsys, "--nodeport-addresses", "10.0.0.0/8"), 3)
    assert "nothing listens on tcp/31526" in local
    assert "No connection reached a pod (REJECT): the DETAIL column says what decided." in local
    assert "node1 has no ready pod" not in local


def test_a_node_port_service_is_not_credited_with_a_health_check(story: str) -> None:
    """QA-cli 4: only a LoadBalancer Service with externalTrafficPolicy Local has a healthCheckNodePort."""
    local = section(story, 3)
    assert "node3 has no local endpoint, so its rules drop the traffic" in local
    assert "which is what kube-proxy's health check (healthCheckNodePort) tells it" not in local
    assert "A NodePort Service has no health check to tell it so" in local


def test_the_newcomer_sentence_is_read_from_its_rows() -> None:
    import dataclasses

    from kubeproxy_sim.cli.demo_cmd import local_summary, newcomer_summary
    from kubeproxy_sim.netfilter.trace import PathStep
    from kubeproxy_sim.objects.model import Service, ServiceType, TrafficPolicy
    from kubeproxy_sim.simulator.network import Decided
    from kubeproxy_sim.simulator.send import Delivered, Failed, SendResult

    rule = '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/web has no local endpoints" -j DROP'
    drop = Failed("DROP", 100, f"node node3: filter table: {rule}", 1.0,
                  decided_by=Decided("node3", PathStep("filter", "KUBE-EXTERNAL-SERVICES", None, rule)))
    dropped = SendResult("external", "node/node3:30080", "tcp", 100, 1, (), (drop,))
    svc = Service("ns", "web", ServiceType.LOAD_BALANCER, external_traffic_policy=TrafficPolicy.LOCAL)
    assert newcomer_summary(dropped, "node3", svc).endswith(
        "which is what kube-proxy's health check (healthCheckNodePort) tells it.")
    node_port = dataclasses.replace(svc, type=ServiceType.NODE_PORT)
    assert "has no health check" in newcomer_summary(dropped, "node3", node_port)
    refused = dataclasses.replace(dropped, failed=(Failed("REJECT", 100, "node node3 (192.168.49.4): nothing "
                                                          "listens on tcp/30080 (connection refused)", 1.0),))
    assert "drop the traffic" not in newcomer_summary(refused, "node3", svc)
    assert "has no ready pod" not in local_summary(refused, "node3")
    answered = dataclasses.replace(dropped, failed=(), delivered=(
        Delivered("ns/web-1", "10.244.1.2", "node2", 100, 1.0, 1.0, ("192.168.49.4",)),))
    text = local_summary(answered, "node3", {"192.168.49.4"})
    assert "Only node3's own pods" not in text and "client's own address" not in text


def test_demo_reads_the_no_local_endpoints_drop_by_the_comment_plan_writes() -> None:
    """R-core 6: the text demo matches is the one the rule generator writes, defined once (plan.py); demo reads it
    in the rule that decided the row (Failed.decided_by), never in the row's words, so a rewording changes nothing."""
    from kubeproxy_sim.cli.demo_cmd import no_local_endpoint
    from kubeproxy_sim.netfilter.trace import PathStep
    from kubeproxy_sim.proxier.rules.plan import NO_LOCAL_ENDPOINTS, _verdicts
    from kubeproxy_sim.simulator.network import Decided
    from kubeproxy_sim.simulator.send import Failed

    internal, external = _verdicts("ns/web", True, False, False)
    assert internal == external and external is not None and external.comment == f'"ns/web {NO_LOCAL_ENDPOINTS}"'
    rule = f"-A KUBE-EXTERNAL-SERVICES -m comment --comment {external.comment} -j DROP"
    decided = Decided("node3", PathStep("filter", "KUBE-EXTERNAL-SERVICES", None, rule))
    row = Failed("DROP", 1, "dropped", 1.0, decided_by=decided)  # the words say nothing of it
    assert no_local_endpoint(row, "node3") and not no_local_endpoint(row, "node2")
    local_lb = Decided("node3", PathStep("nat", "KUBE-SVL-ABC", None, "-A KUBE-SVL-ABC -j DROP"))
    assert no_local_endpoint(Failed("DROP", 1, "dropped", 1.0, decided_by=local_lb), "node3")
    words = Failed("DROP", 1, f"node node3: filter table: {rule}", 1.0)  # no facts: no rule said it
    assert not no_local_endpoint(words, "node3") and not no_local_endpoint(
        Failed("DROP", 1, "dropped", 1.0, decided_by=Decided("node3")), "node3")


def test_a_family_the_objects_do_not_have_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """QA-cli 5: ``--ip-family ipv6`` on bootcamp printed nothing and blamed a ``--from`` never given."""
    assert main(["demo", "--ip-family", "ipv6"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("kubeproxy-sim: demo --ip-family: scenario bootcamp has no IPv6 Service or endpoint")
    assert line.endswith("run it with --ip-family ipv4") and "--from" not in line
    assert main(["demo", "--scenario", "ipv6", "--ip-family", "ipv4"]) == 1
    assert capsys.readouterr().err.rstrip().endswith("run it with --ip-family ipv6")
    assert main(["demo", "--scenario", "ipv6"]) == 0  # its own family runs


def test_a_section_that_cannot_run_is_named_and_the_others_stay(capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from kubeproxy_sim.cli import demo_cmd
    from kubeproxy_sim.errors import Diagnostic, InputError

    def refused(*_args: object) -> list[str]:
        raise InputError(Diagnostic("no such pod", field="--from"))

    monkeypatch.setattr(demo_cmd, "external_name_section", refused)
    out = demo(capsys)
    assert "(Section 4 of the story cannot run here and is left out: no such pod)" in out
    assert "== 3. The same with externalTrafficPolicy: Local ==" in out
    assert "== 4. Scaling and a rolling update" in out


def test_the_printed_commands_carry_the_node_flags_given(capsys: pytest.CaptureFixture[str]) -> None:
    """QA-cli 11: with --hostname-override node2 the commands printed named node1's view (the scenario's own)."""
    import shlex

    out = demo(capsys, "--hostname-override", "node2", "--masquerade-all", "--random-fully=false")
    flags = " --hostname-override node2 --masquerade-all --random-fully=false"
    commands = re.findall(r"^(?:\$ |Raw restore input: |Follow a packet: +|Draw the chains: +)(kubeproxy-sim .*)$",
                          out, re.M)
    assert len(commands) == 6 and all(flags in c for c in commands)
    assert "--cluster-cidr" not in out  # the scenario's own args are not repeated
    send = next(c for c in commands if c.startswith("kubeproxy-sim send "))
    assert main(shlex.split(send)[1:]) == 0  # it reproduces section 2's table
    assert len(rows(section(out, 2))) == 4 and rows(capsys.readouterr().out) == rows(section(out, 2))
    assert "--seed 1 --hostname-override node2 --masquerade-all --random-fully=false" not in demo(capsys)


def test_session_affinity_captions_name_the_recent_rules(capsys: pytest.CaptureFixture[str]) -> None:
    """QA-dumps #9: the bootcamp captions left out the recent --rcheck rules first in KUBE-SVC and the --set that
    records the client in KUBE-SEP; another scenario gets its rules and one batch of requests, no more."""
    out = demo(capsys, "--scenario", "session-affinity")
    captions = {line.split("  # ", 1)[0]: line.split("  # ", 1)[1] for line in out.splitlines()
                if line.startswith(("KUBE-SVC-", "KUBE-SEP-")) and "  # " in line}
    svc = [c for name, c in captions.items() if name.startswith("KUBE-SVC-")]
    sep = [c for name, c in captions.items() if name.startswith("KUBE-SEP-")]
    assert svc and all(c.startswith("the service port's load balancer: first one recent --rcheck rule per endpoint")
                       for c in svc)
    assert len(sep) == 2 and all("recording the client in this endpoint's recent list (--set)" in c for c in sep)
    assert re.findall(r"^== (\d+)\. ", out, re.M) == ["1", "2"]
    plain = demo(capsys)
    assert "recent" not in " ".join(line for line in plain.splitlines() if line.startswith(("KUBE-SVC-", "KUBE-SEP-")))


@pytest.mark.parametrize(("ready", "serving", "terminating", "state"), [
    (False, None, True, "serving, terminating"), (False, True, True, "serving, terminating"),
    (False, False, True, "terminating"), (False, None, None, "not ready"), (False, True, False, "not ready"),
    (None, False, True, "ready"),
])
def test_an_endpoint_s_state_reads_unset_conditions_as_kube_proxy_does(
        ready: bool | None, serving: bool | None, terminating: bool | None, state: str) -> None:
    """Unset serving counts as serving and unset ready as ready (kube-proxy's reading); unset terminating is not."""
    from kubeproxy_sim.cli.demo_cmd import _state
    from kubeproxy_sim.objects.model import EndpointConditions

    assert _state(EndpointConditions(ready=ready, serving=serving, terminating=terminating)) == state
