"""tools/gen_scale.py: the default cluster is byte for byte today's, and every kind it makes loads cleanly.

The benchmarks (tools/bench.py) and the object-count bounds in tests/objects/test_objects_bulk.py are measured on
the default output, so its bytes are pinned; the other kinds must exercise the rule families they are named for.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kubeproxy_sim.cli.main import main as cli
from tests.tool_script import load_tool


def _tool():
    return load_tool("gen_scale")


gen = _tool()


def _text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert gen.main(argv) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(("argv", "digest"), [
    (["--services", "7", "--endpoints", "3"], "cc4714c8cda18e2b734a8d35092400442c77dcf616b8487ea33d2f4782cac4b7"),
    (["--services", "3", "--endpoints", "120", "--nodes", "4", "--namespace", "other", "--format", "yaml"],
     "329e0a0f22dfe3b652ac102d49b2e154551406638018510382e72283d4007dba"),
])
def test_the_default_output_is_unchanged(argv: list[str], digest: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The digests are of the generator before it had kinds; the explicit defaults give the same bytes."""
    assert hashlib.sha256(_text(argv, capsys).encode()).hexdigest() == digest
    defaults = ["--kind", "ClusterIP", "--ports", "1", "--not-ready", "0", "--terminating", "0"]
    assert hashlib.sha256(_text([*argv, *defaults], capsys).encode()).hexdigest() == digest


MIX = "ClusterIP=3,ClusterIP+ClientIP=1,NodePort+Local=1,LoadBalancer+Local+ClientIP+SourceRanges=1"


def test_the_same_arguments_give_the_same_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--services", "12", "--endpoints", "7", "--ports", "2", "--mix", MIX, "--not-ready", "0.1",
            "--terminating", "1/7"]
    first = _text(argv, capsys)
    assert _text(argv, capsys) == first
    assert _text([*argv, "--format", "yaml"], capsys) == _text([*argv, "--format", "yaml"], capsys)


# kind -> lines (or parts of lines) its rules must hold, and parts they must not
FAMILIES = {
    "ClusterIP": (["cluster IP\" -m tcp -p tcp -d 10.96.0.1 --dport 80 -j KUBE-SVC-"],
                  ["-A KUBE-NODEPORTS", "KUBE-EXT-", "KUBE-FW-", "-m recent"]),
    "ClusterIP+ClientIP": (["-m recent --name KUBE-SEP-", "--rcheck --seconds 10800 --reap", "--set -m tcp"],
                           ["-A KUBE-NODEPORTS", "KUBE-EXT-"]),
    "NodePort": (["-A KUBE-NODEPORTS -m comment --comment scale/svc-00000:http -m tcp -p tcp --dport 30000 "
                  "-j KUBE-EXT-", "--dport 30001 -j KUBE-EXT-", "-A KUBE-EXT-"],
                 ["KUBE-SVL-", "health check node port", "loadbalancer IP"]),
    "NodePort+Local": (["--dport 30000 -j KUBE-EXT-", "-A KUBE-SVL-", "-j KUBE-SVL-"],
                       ["health check node port", "loadbalancer IP"]),
    "LoadBalancer": (["loadbalancer IP\" -m tcp -p tcp -d 172.16.0.1 --dport 80 -j KUBE-EXT-",
                      "--dport 30000 -j KUBE-EXT-"], ["KUBE-FW-", "KUBE-SVL-"]),
    "LoadBalancer+Local": (["health check node port\" -m tcp -p tcp --dport 30002 -j ACCEPT", "-A KUBE-SVL-",
                            "-d 172.16.0.2 --dport 81 -j KUBE-EXT-"], ["KUBE-FW-"]),
    "LoadBalancer+SourceRanges": (["-d 172.16.0.1 --dport 80 -j KUBE-FW-", "-s 203.0.113.0/24 -j KUBE-EXT-",
                                   "-s 198.51.100.0/24 -j KUBE-EXT-", "-A KUBE-PROXY-FIREWALL",
                                   "--dport 80 -j DROP"], ["KUBE-SVL-"]),
    "LoadBalancer+Local+ClientIP+SourceRanges": (["-j KUBE-FW-", "-A KUBE-SVL-", "health check node port",
                                                  "-m recent --name KUBE-SEP-"], []),
}


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_every_kind_loads_without_a_message_and_makes_its_rule_families(
        kind: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two ports (so the node ports of a service and its health check port differ), some endpoints not ready or
    terminating: `rules` says nothing on stderr and writes the families the kind stands for."""
    cluster = tmp_path / f"cluster.{fmt}"
    assert gen.main(["--services", "3", "--endpoints", "6", "--ports", "2", "--kind", kind, "--not-ready", "1/6",
                     "--terminating", "1/6", "--format", fmt, "-o", str(cluster)]) == 0
    code = cli(["rules", "-f", str(cluster), "--hostname-override", "node1", "--cluster-cidr", "10.0.0.0/8"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    wanted, unwanted = FAMILIES[kind]
    assert [w for w in wanted if w not in out] == []
    assert [u for u in unwanted if u in out] == []


def test_the_mix_loads_without_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = tmp_path / "mix.json"
    assert gen.main(["--services", "18", "--endpoints", "4", "--mix", MIX + ",NodePort=1,LoadBalancer=2",
                     "--not-ready", "0.25", "-o", str(cluster)]) == 0
    code = cli(["rules", "-f", str(cluster), "--hostname-override", "node2", "--cluster-cidr", "10.0.0.0/8"])
    assert (code, capsys.readouterr().err) == (0, "")


def test_the_ipv6_cluster_makes_the_ipv4_clusters_rules_in_ipv6(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """--family 6 moves every address to its IPv6 base and nothing else: `rules` says nothing on stderr and writes
    the IPv4 cluster's endpoint, firewall, affinity and health check rules (not its IPv4-only localhost node port and
    route_localnet rules), with no IPv4 address left and the IPv6 ones where the IPv4 ones were."""
    outs = []
    for family, cidr in (("4", "10.0.0.0/8"), ("6", "fd00:10::/32")):
        cluster = tmp_path / f"mix{family}.json"
        assert gen.main(["--services", "6", "--endpoints", "3", "--mix", MIX, "--family", family,
                         "-o", str(cluster)]) == 0
        code = cli(["rules", "-f", str(cluster), "--hostname-override", "node1", "--cluster-cidr", cidr])
        out, err = capsys.readouterr()
        assert (code, err) == (0, "")
        outs.append(out)
    for family_rule in ("-j DNAT", "-j KUBE-FW-", "health check node port", "-j KUBE-SVL-", "-m recent"):
        assert outs[1].count(family_rule) == outs[0].count(family_rule) > 0
    assert re.search(r"\d+\.\d+\.\d+\.\d+", outs[1]) is None
    for wanted in ("-d fd00:10:96::1 --dport 80", "--to-destination [fd00:10:128::1]:8080", "-s 2001:db8:1::/48",
                   "-d fd00:172:16::1 --dport 80 -j KUBE-FW-"):
        assert wanted in outs[1]


def _services(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] == "Service"]


KINDS = st.sampled_from(list(FAMILIES)).map(lambda text: gen.Kind.parse(text))


@given(st.lists(st.tuples(KINDS, st.integers(1, 5)), min_size=1, max_size=5, unique_by=lambda pair: pair[0]),
       st.integers(1, 3), st.integers(1, 60))
def test_node_ports_and_ingress_ips_are_unique_and_valid(pairs: list, ports: int, services: int) -> None:
    kinds, weights = zip(*pairs, strict=True)
    shape = gen.Shape(kinds, weights, ports)
    svcs = _services(gen.generate(services, 1, shape=shape))
    node_ports = [p["nodePort"] for s in svcs for p in s["spec"]["ports"] if "nodePort" in p]
    checks = [s["spec"]["healthCheckNodePort"] for s in svcs if "healthCheckNodePort" in s["spec"]]
    taken = node_ports + checks
    assert len(set(taken)) == len(taken) == shape.node_ports_needed(shape.deal(services))
    assert all(30000 <= port <= 32767 for port in taken)
    ingress = [s["status"]["loadBalancer"]["ingress"][0]["ip"] for s in svcs if s["spec"]["type"] == "LoadBalancer"]
    assert len(set(ingress)) == len(ingress)
    assert all(ip.startswith("172.16.") for ip in ingress)


@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.integers(1, 4))
def test_the_mix_deals_each_kind_its_weight_in_every_round(weights: list[int], rounds: int) -> None:
    """Smooth weighted round robin: every run of sum(weights) services holds kind i exactly weights[i] times."""
    kinds = tuple(gen.Kind.parse(k) for k in list(FAMILIES)[: len(weights)])
    total = sum(weights)
    dealt = gen.Shape(kinds, tuple(weights)).deal(total * rounds)
    for start in range(0, len(dealt), total):
        assert Counter(dealt[start:start + total]) == dict(zip(kinds, weights, strict=True))


@given(st.fractions(0, 1, max_denominator=20), st.fractions(0, 1, max_denominator=20), st.integers(1, 200))
def test_not_ready_and_terminating_endpoints_hold_their_fractions(not_ready: Fraction, terminating: Fraction,
                                                                  count: int) -> None:
    """Endpoints 1..count: floor(count * F) of each state, never both (the marked set is split, not overlapped)."""
    assume(not_ready + terminating <= 1)  # more is refused (test_bad_arguments_are_refused_with_a_message)
    shape = gen.Shape(not_ready=not_ready, terminating=terminating)
    states = Counter(json.dumps(gen.conditions(k, shape)) for k in range(1, count + 1))
    marked = int(count * (not_ready + terminating))
    assert states[json.dumps(gen.TERMINATING)] == int(marked * terminating / (not_ready + terminating) if marked
                                                      else 0)
    assert states[json.dumps(gen.NOT_READY)] + states[json.dumps(gen.TERMINATING)] == marked


def test_a_cluster_needing_more_node_ports_than_the_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """10,000 NodePort services x 2 ports need 20,000; 2,768 fit, the 2,769th is refused, naming the range."""
    with pytest.raises(SystemExit) as exit_:
        gen.main(["--services", "10000", "--endpoints", "1", "--ports", "2", "--kind", "NodePort"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "10000 NodePort/LoadBalancer services x 2 ports + 0 healthCheckNodePorts need 20000 node ports" in err
    assert "30000-32767 holds 2768" in err
    ports = [p["nodePort"] for s in _services(gen.generate(2768, 1, shape=gen.Shape((gen.Kind("NodePort"),))))
             for p in s["spec"]["ports"]]
    assert (min(ports), max(ports), len(set(ports))) == (30000, 32767, 2768)
    with pytest.raises(ValueError, match="need 2769 node ports"):
        gen.generate(2769, 1, shape=gen.Shape((gen.Kind("NodePort"),)))
    local = gen.Shape((gen.Kind("LoadBalancer", local=True),))  # a port and a health check port each
    assert len(_services(gen.generate(1384, 1, shape=local))) == 1384
    with pytest.raises(ValueError, match=re.escape("1385 NodePort/LoadBalancer services x 1 ports + 1385 "
                                                   "healthCheckNodePorts need 2770 node ports")):
        gen.generate(1385, 1, shape=local)


@pytest.mark.parametrize(("argv", "message"), [
    (["--kind", "ClusterIP+Local"], "'ClusterIP+Local': externalTrafficPolicy Local needs a NodePort or "
                                    "LoadBalancer service"),
    (["--kind", "NodePort+SourceRanges"], "loadBalancerSourceRanges needs a LoadBalancer service"),
    (["--kind", "Headless"], "'Headless' is not a service type; expected one of ClusterIP, NodePort, LoadBalancer"),
    (["--kind", "NodePort+Local+Local"], "each once"),
    (["--mix", "ClusterIP=2,NodePort"], "'NodePort': expected KIND=WEIGHT with a positive whole weight"),
    (["--mix", "ClusterIP=0"], "positive whole weight"),
    (["--mix", "NodePort=1,NodePort=2"], "a kind is given twice"),
    (["--kind", "NodePort", "--mix", "NodePort=1"], "not allowed with argument"),
    (["--not-ready", "0.6", "--terminating", "1/2"], "add up to more than 1"),
    (["--not-ready", "1.5"], "1.5 is not in 0-1"),
    (["--terminating", "x"], "'x' is not a fraction like 0.1 or 1/10"),
    (["--family", "5"], "invalid choice: 5 (choose from 4, 6)"),
])
def test_bad_arguments_are_refused_with_a_message(argv: list[str], message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        gen.main(["--services", "2", "--endpoints", "1", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
