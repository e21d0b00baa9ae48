"""The tracer's memo of routing-free pipelines answers exactly what a fresh walk answers.

The memo (``evaluate.PipelineMemo``) replays how a branch ended the last time a branch with
the same values of every field the pipeline's chains can read came through. These tests
compare a tracer that keeps its memos across many packets with one that has none, on
generated node tables and on every real dump, and pin down what the memo keys on.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.codec import parse_ruleset, parse_ruleset_file
from kubeproxy_sim.netfilter.compile import chain_reads, compile_ruleset
from kubeproxy_sim.netfilter.evaluate import Engine, Sampler
from kubeproxy_sim.netfilter.packet import CtState, Packet
from kubeproxy_sim.netfilter.trace import NodeContext, Tracer
from tests.budget import budget

DUMPS = Path(__file__).resolve().parents[3] / "shared" / "realworld-dumps"
NODE_ADDRESSES = {
    "01-gke-1.2-loadbalancer-2016.rules": ["10.240.0.5"],
    "02-vagrant-flannel-externalip-2016.rules": ["192.168.121.201"],
    "03-bind-dns-externalip-affinity-2017.rules": [],
    "04-kubeadm-docker-kubedns-noendpoints-2018.rules": ["192.168.1.10"],
    "05-kubeadm-weave-npc-2018.rules": ["192.168.1.241"],
    "06-kind-1.23-traefik-2022.rules": ["172.18.0.5"],
    "07-centos7-flannel-noendpoints-2024.rules": ["192.168.1.5"],
    "08-centos7-flannel-nodeport-2024.rules": ["192.168.1.5"],
}
IFACES = [None, "eth0", "cni0", "docker0", "lo", "weave", "flannel.1"]
QUAD = re.compile(r"\b(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b")
PORT = re.compile(r"--(?:dport|to-destination [^ ]*:|ports?) ?(\d+)")


def pair(rules, node: NodeContext) -> tuple[Tracer, Tracer]:
    """A tracer that keeps its pipeline memos and one that has none, over the same compiled rules.

    Neither keeps whole answers (tests/netfilter/test_trace_keys.py is about those): every
    packet walks, so the pipeline memo is what is tested here.
    """
    compiled = compile_ruleset(rules)
    memoised, fresh = Tracer(compiled, node), Tracer(compiled, node)
    memoised.keys = fresh.keys = None
    fresh.engine.memos = {}
    assert memoised.engine.memos, "the forward/input pipelines of these tables are memoisable"
    return memoised, fresh


def packets(addresses: list[str], ports: list[int]) -> st.SearchStrategy[Packet]:
    """Packets between the dump's own addresses (and a few others), with the fields chains test."""
    address = st.sampled_from(addresses) | st.builds(lambda a, b: f"10.{a}.0.{b}", st.integers(0, 3),
                                                     st.integers(1, 12))
    return st.builds(
        lambda proto, src, dst, dport, sport, in_iface, out_iface, mark, state: Packet.of(
            proto, src, dst, dport, sport, in_iface=in_iface, out_iface=out_iface, mark=mark, ctstate=state),
        st.sampled_from(["tcp", "udp"]), address, address, st.sampled_from(ports) | st.integers(1, 65535),
        st.none() | st.integers(1024, 65535), st.sampled_from(IFACES), st.sampled_from(IFACES),
        st.sampled_from([0, 0x4000, 0x8000, 0xC000]), st.sampled_from([CtState.NEW, CtState.NEW, CtState.ESTABLISHED]),
    )


def assert_same(memoised: Tracer, fresh: Tracer, packet: Packet) -> None:
    got, want = memoised.trace(packet), fresh.trace(packet)
    assert got == want
    assert got.to_json() == want.to_json()


# --------------------------------------------------------------------------- real dumps


@cache
def dump_pair(name: str) -> tuple[Tracer, Tracer, list[str], list[int]]:
    text = (DUMPS / name).read_text()
    node = NodeContext.of(NODE_ADDRESSES[name], interfaces={"eth0": NODE_ADDRESSES[name] or ["10.0.2.15"]},
                          routes=[("10.0.0.0/8", "cni0"), ("0.0.0.0/0", "eth0")])
    memoised, fresh = pair(parse_ruleset_file(str(DUMPS / name)), node)
    addresses = sorted(set(QUAD.findall(text)) | set(NODE_ADDRESSES[name]) | {"127.0.0.1", "203.0.113.9"})
    ports = sorted({int(p) for p in PORT.findall(text) if int(p) <= 65535} | {53, 80, 443})
    return memoised, fresh, addresses, ports


def test_every_dump_is_exercised() -> None:
    assert sorted(p.name for p in DUMPS.glob("*.rules")) == sorted(NODE_ADDRESSES)


@pytest.mark.parametrize("name", sorted(NODE_ADDRESSES))
@settings(max_examples=budget(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_memoised_tracer_equals_fresh_tracer_on_real_dump(name: str, data: st.DataObject) -> None:
    memoised, fresh, addresses, ports = dump_pair(name)
    assert_same(memoised, fresh, data.draw(packets(addresses, ports)))


# --------------------------------------------------------------------------- generated node tables


@cache
def generated_pair(masquerade_all: bool) -> tuple[Tracer, Tracer, list[str]]:
    from kubeproxy_sim.proxier import generate
    from kubeproxy_sim.proxier.config import ProxyConfig
    from kubeproxy_sim.proxier.full import node_tables
    from kubeproxy_sim.simulator.bench import scale_cluster

    cluster = scale_cluster(12, 4)
    config = ProxyConfig(node_name="node1", cluster_cidrs=("10.0.0.0/8",), node_ips=("192.168.0.10",),
                         masquerade_all=masquerade_all)
    result = generate(cluster, config)
    node = NodeContext.of(("192.168.0.10",), interfaces={"eth0": ["192.168.0.10"]})
    memoised, fresh = pair(node_tables(result.ruleset, result.jumps), node)
    addresses = [ip for s in cluster.services for ip in s.cluster_ips]
    addresses += [e.addresses[0] for es in cluster.endpoint_slices for e in es.endpoints]
    return memoised, fresh, [*addresses, "192.168.0.10", "203.0.113.9"]


@pytest.mark.parametrize("masquerade_all", [False, True])
@settings(max_examples=budget(200), deadline=None)
@given(data=st.data())
def test_memoised_tracer_equals_fresh_tracer_on_generated_tables(masquerade_all: bool,
                                                                 data: st.DataObject) -> None:
    memoised, fresh, addresses = generated_pair(masquerade_all)
    assert_same(memoised, fresh, data.draw(packets(addresses, [80, 8080, 30000])))


# --------------------------------------------------------------------------- what the memo keys on

MARKS_THEN_MASQUERADES = """\
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SVC - [0:0]
-A PREROUTING -d 172.30.0.1/32 -p tcp -m tcp --dport 80 -j SVC
-A PREROUTING -d 172.30.0.2/32 -p tcp -m tcp --dport 80 -j SVC
-A SVC -p tcp -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.1.0.1:8080
-A SVC -p tcp -j DNAT --to-destination 10.1.0.2:8080
-A POSTROUTING -m mark --mark 0x1/0x1 -j MASQUERADE
COMMIT
*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -s 10.9.0.0/16 -j MARK --set-xmark 0x1/0x1
-A FORWARD -m mark --mark 0x1/0x1 -m comment --comment "marked" -j ACCEPT
COMMIT
"""


def test_forward_pipeline_is_shared_by_every_endpoint_and_service() -> None:
    """The pipeline reads the source (-s), the mark and the output interface (MASQUERADE), not the destination."""
    memoised, fresh = pair(parse_ruleset(MARKS_THEN_MASQUERADES),
                           NodeContext.of(["192.168.0.10"], interfaces={"eth0": ["192.168.0.10"]}))
    for vip in ("172.30.0.1", "172.30.0.2"):
        for src in ("10.9.0.5", "10.9.0.6", "10.8.0.5"):
            assert_same(memoised, fresh, Packet.of("tcp", src, vip, 80))
    (memo,) = [memoised.engine.memos[id(memoised.engine.pipelines["TO_FORWARD"])]]
    assert len(memo.ends) == 3  # one key per source: four endpoints and two services share each
    marked = memoised.trace(Packet.of("tcp", "10.9.0.7", "172.30.0.2", 80))
    assert {(o.destination, o.masquerade) for o in marked.outcomes} == {("10.1.0.1:8080", True),
                                                                        ("10.1.0.2:8080", True)}
    assert [s.rule for s in marked.outcomes[0].path][-3:] == [
        "-A FORWARD -s 10.9.0.0/16 -j MARK --set-xmark 0x1/0x1",
        "-A FORWARD -m mark --mark 0x1/0x1 -m comment --comment marked -j ACCEPT",
        "-A POSTROUTING -m mark --mark 0x1/0x1 -j MASQUERADE"]


def test_chain_reads_follow_jumps_and_indexes() -> None:
    compiled = compile_ruleset(parse_ruleset(MARKS_THEN_MASQUERADES))
    assert chain_reads(compiled.chain("filter", "FORWARD")) == {"src", "mark", "ctmark"}
    assert chain_reads(compiled.chain("nat", "PREROUTING")) == {"dst", "proto", "dport"}
    assert chain_reads(compiled.chain("nat", "POSTROUTING")) == {"mark", "out_iface"}


def test_a_check_that_does_not_declare_its_reads_disables_the_memo() -> None:
    compiled = compile_ruleset(parse_ruleset(MARKS_THEN_MASQUERADES))
    rule = compiled.chain("filter", "FORWARD").rules[0]
    rule.reads = None  # as compile_rule leaves it for a check without a declaration
    assert chain_reads(compiled.chain("filter", "FORWARD")) is None
    engine = Engine(compiled, NodeContext.of(["192.168.0.10"]))
    assert id(engine.pipelines["TO_FORWARD"]) not in engine.memos


def test_sampled_engines_have_no_memo() -> None:
    """Sampling draws randomness and updates recent lists: a walk is not a function of the packet there."""
    compiled = compile_ruleset(parse_ruleset(MARKS_THEN_MASQUERADES))
    assert Engine(compiled, NodeContext.of(), Sampler(lambda: 0)).memos == {}


def test_memo_starts_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubeproxy_sim.netfilter import evaluate

    monkeypatch.setattr(evaluate, "MEMO_LIMIT", 2)
    memoised, fresh = pair(parse_ruleset(MARKS_THEN_MASQUERADES), NodeContext.of(["192.168.0.10"]))
    for third in range(1, 6):
        assert_same(memoised, fresh, Packet.of("tcp", f"10.{third}.0.5", "172.30.0.1", 80))
    assert len(memoised.engine.memos[id(memoised.engine.pipelines["TO_FORWARD"])].ends) <= 2
