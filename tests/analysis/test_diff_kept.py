"""``diff`` traces only the service ports whose views can have changed (``analysis.diff.views_kept``).

Each comparison here is made twice: as ``diff`` makes it, and with every port traced in both states (the path
before views_kept: ``views_kept`` made to keep nothing) and each node's rules written on their own (no
``proxier.sync.PortMemo`` shared by the nodes or the states: ``rules_shared`` made to share nothing). The two must
print the same bytes, text and ``-o json``, with and without ``--all``; and the ports kept must be the ones nothing
reaches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.analysis import diff as diff_module
from kubeproxy_sim.analysis import exact
from kubeproxy_sim.analysis.diff import DiffReport, diff
from kubeproxy_sim.analysis.diffrender import diff_json, diff_text
from kubeproxy_sim.analysis.nodes import NodeSet, Source, node_set
from kubeproxy_sim.cli.main import main
from kubeproxy_sim.objects.model import (
    AddressType,
    Cluster,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    IPFamily,
    Node,
    NodeAddress,
    Pod,
    Protocol,
    Service,
    ServicePort,
)
from kubeproxy_sim.objects.nodes import EXCLUDE_FROM_LB_LABEL
from kubeproxy_sim.proxier.config import ProxyConfig
from kubeproxy_sim.proxier.rules.context import RuleBuffer, SyncContext
from kubeproxy_sim.proxier.rules.plan import ServicePlan
from kubeproxy_sim.proxier.state import EndpointInfo, PortKey, ServicePortInfo
from tests.budget import budget
from tests.strategies import CONDITIONS, ClusterCase, clusters

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.name for p in (ROOT / "rulesets").iterdir() if (p / "objects.yaml").exists())
OUTPUTS: tuple[list[str], ...] = ([], ["-o", "json", "--all"])


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _sharing_nothing(before: NodeSet, after: NodeSet) -> Iterator[None]:
    """``diff.rules_shared`` on the slow path: each node of each state writes every port's rules itself."""
    before.written = after.written = None
    yield


def _both_ways(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> tuple[tuple[int, str, str], list[int]]:
    """The command's result with views_kept, after asserting it is the result of tracing every port; and how
    many ports each comparison kept."""
    kept: list[int] = []
    real, shared = diff_module.views_kept, diff_module.rules_shared

    def counting(*args: Any, **kwargs: Any) -> frozenset[PortKey]:
        found = real(*args, **kwargs)
        kept.append(len(found))
        return found

    monkeypatch.setattr(diff_module, "views_kept", counting)
    skipping = _run(argv)
    monkeypatch.setattr(diff_module, "views_kept", lambda *args, **kwargs: frozenset())
    monkeypatch.setattr(diff_module, "rules_shared", _sharing_nothing)
    tracing = _run(argv)
    monkeypatch.setattr(diff_module, "views_kept", real)
    monkeypatch.setattr(diff_module, "rules_shared", shared)
    assert skipping == tracing, argv
    return skipping, kept


# every scenario against its neighbour in name order (upstream's variants of one test differ a little: a policy, an
# endpoint's condition) and against itself (every port kept); of the largest, whose tracing of every port takes
# seconds, only large-cluster mode on either side of its threshold (their pairings with other scenarios add no case
# and took 7 s of CPU); every pair of scenarios with KPSIM_DEEP=1
LARGE = ("large-cluster", "upstream-sync-proxy-rules-large-cluster-mode-")
THRESHOLD = ("upstream-sync-proxy-rules-large-cluster-mode-above-threshold",
             "upstream-sync-proxy-rules-large-cluster-mode-below-threshold")
SMALL = [name for name in SCENARIOS if not name.startswith(LARGE)]
PAIRS = [*zip(SMALL, SMALL[1:] + SMALL[:1], strict=True), THRESHOLD, *((name, name) for name in SMALL)]


def _pair(monkeypatch: pytest.MonkeyPatch, before: str, after: str) -> None:
    for extra in OUTPUTS if before != after else OUTPUTS[1:]:
        (code, out, _), kept = _both_ways(monkeypatch, ["diff", "--scenario", before, "--against-scenario", after,
                                                        *extra])
        assert code in (0, 1) and out
        if before == after:  # every port listed, unchanged, and none traced twice
            ports = json.loads(out)["services"]
            assert {p["status"] for p in ports} <= {"unchanged"} and kept == [len(ports)]


@pytest.mark.parametrize(("before", "after"), PAIRS, ids=[f"{a}--{b}" for a, b in PAIRS])
def test_scenario_pairs_print_what_tracing_every_port_prints(monkeypatch: pytest.MonkeyPatch, before: str,
                                                             after: str) -> None:
    _pair(monkeypatch, before, after)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("KPSIM_DEEP"), reason="deep run only (KPSIM_DEEP=1)")
def test_every_pair_of_scenarios_prints_what_tracing_every_port_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    for before in SCENARIOS:
        for after in SCENARIOS:
            _pair(monkeypatch, before, after)


def test_identical_states_trace_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing changed: no port is traced (QA-perf 2: 7.1 s to say so at 1,000 services); --all traces each port
    once, in the state before, for both columns."""
    calls: list[str] = []
    real = exact.service_views

    def counting(nodes: NodeSet, sel: exact.Selection, sources: Sequence[Source] | None) -> tuple[exact.View, ...]:
        calls.append(sel.svc.name_string)
        return real(nodes, sel, sources)

    monkeypatch.setattr(diff_module, "service_views", counting)
    code, out, _ = _run(["diff", "--scenario", "upstream-overall-iptables-rules", "--against-scenario",
                         "upstream-overall-iptables-rules"])
    assert code == 0 and "no service port changes" in out and calls == []
    code, out, _ = _run(["diff", "--scenario", "upstream-overall-iptables-rules", "--against-scenario",
                         "upstream-overall-iptables-rules", "--all"])
    assert code == 0 and out.count(": unchanged") == len(calls) > 5 and len(set(calls)) == len(calls)


# --------------------------------------------------------------------------- objects built here


def _compare(case: ClusterCase, after: Cluster, include_unchanged: bool) -> tuple[DiffReport, frozenset[str]]:
    """diff's report, after asserting it is the report of tracing every port; and the services whose ports it
    kept."""
    kept: set[str] = set()
    real = diff_module.views_kept

    def recording(*args: Any, **kwargs: Any) -> frozenset[PortKey]:
        found = real(*args, **kwargs)
        kept.update(key[1] for key in found)
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(diff_module, "views_kept", recording)
        skipping = diff(node_set(case.cluster, case.config), node_set(after, case.config), "node1", None,
                        include_unchanged)
        patch.setattr(diff_module, "views_kept", lambda *args, **kwargs: frozenset())
        patch.setattr(diff_module, "rules_shared", _sharing_nothing)
        tracing = diff(node_set(case.cluster, case.config), node_set(after, case.config), "node1", None,
                       include_unchanged)
    assert skipping == tracing
    assert diff_text(skipping) == diff_text(tracing) and diff_json(skipping) == diff_json(tracing)
    return skipping, frozenset(kept)


def _replace_service(cluster: Cluster, index: int, svc: Service) -> Cluster:
    services = list(cluster.services)
    services[index] = svc
    return dataclasses.replace(cluster, services=tuple(services))


def _replace_slice(cluster: Cluster, index: int, slc: EndpointSlice) -> Cluster:
    slices = list(cluster.endpoint_slices)
    slices[index] = slc
    return dataclasses.replace(cluster, endpoint_slices=tuple(slices))


@st.composite
def changes(draw: st.DrawFn) -> tuple[ClusterCase, Cluster]:
    """A cluster and the same cluster after one small change (or none)."""
    case = draw(clusters())
    cluster = case.cluster
    index = draw(st.integers(0, len(cluster.services) - 1))
    svc, slc = cluster.services[index], cluster.endpoint_slices[index]
    kind = draw(st.sampled_from(["none", "condition", "drop endpoint", "port", "external IP of another",
                                 "load balancer IP of another", "exclude node", "client pod", "node port"]))
    if kind == "condition" and slc.endpoints:
        at = draw(st.integers(0, len(slc.endpoints) - 1))
        endpoint = dataclasses.replace(slc.endpoints[at], conditions=CONDITIONS[draw(st.sampled_from(sorted(
            CONDITIONS)))])
        cluster = _replace_slice(cluster, index, dataclasses.replace(
            slc, endpoints=(*slc.endpoints[:at], endpoint, *slc.endpoints[at + 1:])))
    elif kind == "drop endpoint" and slc.endpoints:
        cluster = _replace_slice(cluster, index, dataclasses.replace(slc, endpoints=slc.endpoints[1:]))
    elif kind == "port":
        port = dataclasses.replace(svc.ports[0], port=svc.ports[0].port + draw(st.integers(1, 2)))
        cluster = _replace_service(cluster, index, dataclasses.replace(svc, ports=(port, *svc.ports[1:])))
    elif kind in ("external IP of another", "load balancer IP of another"):
        # another service's cluster IP (or a node's address): its packets may now meet this service's rules
        other = cluster.services[draw(st.integers(0, len(cluster.services) - 1))]
        address = draw(st.sampled_from([*other.cluster_ips, *(a.address for n in cluster.nodes for a in n.addresses)]))
        if kind == "external IP of another":
            cluster = _replace_service(cluster, index, dataclasses.replace(svc, external_ips=(address,)))
        elif svc.load_balancer_ingress:
            ingress = dataclasses.replace(svc.load_balancer_ingress[0], ip=address)
            cluster = _replace_service(cluster, index, dataclasses.replace(svc, load_balancer_ingress=(ingress,)))
    elif kind == "exclude node":
        node = cluster.nodes[-1]
        nodes = (*cluster.nodes[:-1], dataclasses.replace(node, labels=(*node.labels, (EXCLUDE_FROM_LB_LABEL, ""))))
        cluster = dataclasses.replace(cluster, nodes=nodes)
    elif kind == "client pod":
        ip = "fd00:10:244:1::3" if case.ipv6 else "10.244.1.3"
        cluster = dataclasses.replace(cluster, pods=(*cluster.pods, Pod("default", "client", "node1", (ip,))))
    elif kind == "node port" and svc.ports[0].node_port:
        other = cluster.services[draw(st.integers(0, len(cluster.services) - 1))]
        # the node port of another service's port (a clash the API server refuses, the simulator does not)
        taken = draw(st.sampled_from([p.node_port or p.port for p in other.ports]))
        port = dataclasses.replace(svc.ports[0], node_port=taken)
        cluster = _replace_service(cluster, index, dataclasses.replace(svc, ports=(port, *svc.ports[1:])))
    return case, cluster


@settings(max_examples=budget(60), deadline=None)
@given(changes(), st.booleans())
def test_a_small_change_reports_what_tracing_every_port_reports(change: tuple[ClusterCase, Cluster],
                                                                include_unchanged: bool) -> None:
    case, after = change
    _compare(case, after, include_unchanged)


@settings(max_examples=budget(60), deadline=None)
@given(changes(), st.booleans())
def test_a_state_written_after_another_writes_the_rules_it_writes_alone(change: tuple[ClusterCase, Cluster],
                                                                         after_first: bool) -> None:
    """``proxier.sync.PortMemo``: every node's rules, in both states, written with one memo shared by the two (in
    either order, as diff's two NodeSets may ask) are the rules each writes with none."""
    from kubeproxy_sim.proxier.sync import PortMemo, generate

    case, after = change
    configs = node_set(case.cluster, case.config).configs
    written: PortMemo = {}
    for name, config in configs.items():
        states = (after, case.cluster) if after_first else (case.cluster, after)
        for cluster in states:
            assert generate(cluster, config, written) == generate(cluster, config), name


# --------------------------------------------------------------------------- what is not kept, and why


def _service(name: str, ip: str) -> Service:
    return Service("default", name, cluster_ips=(ip,), ip_families=(IPFamily.IPV4,),
                   ports=(ServicePort("", Protocol.TCP, 80, 8080),))


def _two_services() -> ClusterCase:
    """Services a and b, two endpoints each, on two nodes."""
    nodes = tuple(Node(f"node{i}", (NodeAddress("InternalIP", f"192.168.0.{10 + i}"),), (f"10.244.{i}.0/24",))
                  for i in (1, 2))
    slices = tuple(
        EndpointSlice("default", f"{name}-x", name, AddressType.IPV4,
                      tuple(Endpoint((f"10.244.{i}.{base + i}",), CONDITIONS["ready"], node_name=f"node{i}")
                            for i in (1, 2)),
                      (EndpointPort("", 8080, Protocol.TCP),))
        for name, base in (("a", 10), ("b", 20)))
    cluster = Cluster((_service("a", "10.96.0.10"), _service("b", "10.96.0.11")), slices, nodes)
    config = ProxyConfig(node_name="node1", node_ips=("192.168.0.11/32",), cluster_cidrs=("10.244.0.0/16",),
                         node_pod_cidrs=("10.244.1.0/24",))
    return ClusterCase(cluster, config, False)


def test_a_port_another_port_s_new_rules_catch_is_traced() -> None:
    """b takes a's cluster IP and port as an external IP: a's packets now meet b's KUBE-SERVICES rule, so a is
    traced again though none of its own rules or endpoints changed."""
    case = _two_services()
    b = case.cluster.services[1]
    after = _replace_service(case.cluster, 1, dataclasses.replace(b, external_ips=("10.96.0.10",)))
    report, kept = _compare(case, after, include_unchanged=True)
    assert kept == frozenset()
    assert {p.name: p.status for p in report.ports}["default/b"] == "changed"


def test_a_port_nothing_reaches_is_kept() -> None:
    """b loses an endpoint: a is kept (not traced twice), b is traced in both states."""
    case = _two_services()
    slc = case.cluster.endpoint_slices[1]
    after = _replace_slice(case.cluster, 1, dataclasses.replace(slc, endpoints=slc.endpoints[:1]))
    report, kept = _compare(case, after, include_unchanged=False)
    assert kept == {"a"} and [p.name for p in report.ports] == ["default/b"]


def test_a_change_of_node_wide_rules_keeps_nothing() -> None:
    """A node excluded from load balancers (the node objects differ): every port is traced."""
    case = _two_services()
    node = case.cluster.nodes[1]
    after = dataclasses.replace(case.cluster, nodes=(case.cluster.nodes[0], dataclasses.replace(
        node, labels=((EXCLUDE_FROM_LB_LABEL, ""),))))
    _, kept = _compare(case, after, include_unchanged=True)
    assert kept == frozenset()


def test_a_new_client_pod_on_a_node_is_a_new_source() -> None:
    """The first pod on node1 becomes the clusterIP view's client there: every port with a cluster IP is traced."""
    case = _two_services()
    after = dataclasses.replace(case.cluster, pods=(Pod("default", "client", "node1", ("10.244.1.3",)),))
    report, kept = _compare(case, after, include_unchanged=False)
    assert kept == frozenset()
    assert report.ports == ()  # the shares are the same from the new client


def test_a_shared_rule_is_a_port_s_entry_only_when_its_match_is_plain() -> None:
    """Only a protocol and destination port (and one address) that no negation widens make a rule an entry of its
    port; any other rule of a shared chain is node-wide, compared as it is in both states."""
    from kubeproxy_sim.analysis.diff import _destination, _entry

    names = {"default/a"}
    rule = '-d 10.96.0.10/32 -p tcp -m comment --comment "default/a cluster IP" -m tcp --dport 80 -j KUBE-SVC-X'
    entry = _entry(rule, names)
    assert entry is not None and (entry.port, entry.proto, entry.dport) == ("default/a", "tcp", 80)
    assert entry.destination == _destination("10.96.0.10")
    assert _entry("! " + rule, names).destination is None  # type: ignore[union-attr]  # every other address
    assert _entry(rule.replace("-d 10.96.0.10/32", "-d 127.0.0.0/8"), names).destination is None  # type: ignore
    assert _entry(rule.replace("--dport 80", "! --dport 80"), names) is None
    assert _entry(rule.replace("-m tcp --dport 80 ", ""), names) is None
    assert _entry(rule, {"default/b"}) is None
    in_comment = rule.replace("-d 10.96.0.10/32 ", "").replace("cluster IP", "-d 10.0.0.1")  # words, no options
    assert _entry(in_comment, names) == dataclasses.replace(entry, destination=None)


def test_an_unreadable_destination_leaves_no_cycle() -> None:
    """views_kept runs with the collector paused (objects.bulk): a refused address must not leave a cycle."""
    import gc

    from kubeproxy_sim.analysis.diff import _destination

    gc.collect()
    gc.disable()
    try:
        assert _destination("x.x.x.x/32") is None and _destination("zz::1/128") is None
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_the_threshold_pair_is_compared_by_default() -> None:
    """The one large pairing the default run keeps: large-cluster mode on and off (R-sim 5)."""
    assert THRESHOLD in PAIRS and all(name in SCENARIOS for name in THRESHOLD)
    assert not any(name.startswith(LARGE) for pair in PAIRS if pair != THRESHOLD for name in pair)


def test_the_state_after_writes_only_the_ports_that_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """diff's two states share each port's rules (``rules_shared``): b lost an endpoint, so the state after writes
    b's rules and takes a's from the state before; neither port reads anything of its node (no Local policy, no
    hints, ClusterCIDR detection), so the second node takes the first's in both states; the memo goes with the
    comparison."""
    from kubeproxy_sim.proxier import sync

    case = _two_services()
    slc = case.cluster.endpoint_slices[1]
    after = _replace_slice(case.cluster, 1, dataclasses.replace(slc, endpoints=slc.endpoints[:1]))
    written: list[tuple[int, str]] = []
    real = sync.write_service_port

    def counting(ctx: SyncContext, svc: ServicePortInfo, eps: tuple[EndpointInfo, ...], zone: str | None,
                 out: RuleBuffer) -> ServicePlan:
        written.append((id(ctx.config), svc.name))
        return real(ctx, svc, eps, zone, out)

    monkeypatch.setattr(sync, "write_service_port", counting)
    before_nodes, after_nodes = node_set(case.cluster, case.config), node_set(after, case.config)
    diff(before_nodes, after_nodes, "node1")
    configs = {id(config): state for state, nodes in (("before", before_nodes), ("after", after_nodes))
               for config in nodes.configs.values()}
    by_state = sorted((configs[config], name) for config, name in written)
    assert by_state == [("after", "b"), ("before", "a"), ("before", "b")]
    assert after_nodes.written is not before_nodes.written


def test_states_share_compiled_rules_of_one_family_only() -> None:
    """share_rules: the state after compiles with the memo of the state before (KUBE-SERVICES' rules are compiled
    once for the two), which forgetting the state before's rules leaves to it; never across families (a text
    compiled for IPv4 is no IPv6 rule)."""
    case = _two_services()
    before, after = node_set(case.cluster, case.config), node_set(case.cluster, case.config)
    after.share_rules(before)
    assert after._memo is before._memo and after.written is before.written is not None
    before.tracer("node1")
    compiled = dict(before._memo)
    assert compiled
    before.forget_rules()
    assert after._memo == compiled and before._memo == {}
    ipv6 = node_set(case.cluster, dataclasses.replace(case.config, ip_family=IPFamily.IPV6, node_ips=("fd00::11/128",)))
    ipv6.share_rules(before)
    assert ipv6._memo is not before._memo and ipv6.written is before.written


@given(st.sampled_from(["default/a", "ns/b:http"]), st.sampled_from(list(Protocol)),
       st.lists(st.sampled_from(["10.0.0.1:80", "10.0.0.2:80", "[fd00::1]:80"]), max_size=5))
def test_a_port_owns_the_chains_naming_gives_it(name: str, protocol: Protocol, endpoints: list[str]) -> None:
    """chain_owners names a port's chains with one hash for SVC/SVL/EXT/FW and each endpoint once: the names
    proxier.naming gives each of them."""
    from kubeproxy_sim.proxier import naming

    namespace, _, rest = name.partition("/")
    service, _, port_name = rest.partition(":")
    svc = ServicePortInfo(namespace, service, port_name, protocol, "10.96.0.1", 80)
    proto = protocol.value.lower()
    expected = {naming.service_chain(name, proto), naming.local_chain(name, proto), naming.external_chain(name, proto),
                naming.firewall_chain(name, proto), *(naming.endpoint_chain(name, proto, ep) for ep in endpoints)}
    assert diff_module.chain_owners({svc.key: (svc, endpoints)}) == dict.fromkeys(expected, name)


def test_no_port_that_can_be_kept_scans_no_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-port checks come before the scan of every node's rules (R-sim 1): when every port compared
    changed (``diff --to`` naming the changed service), no node's rules are generated to be compared."""
    case = _two_services()
    slc = case.cluster.endpoint_slices[1]
    after = _replace_slice(case.cluster, 1, dataclasses.replace(slc, endpoints=slc.endpoints[:1]))

    def scanned(*args: Any, **kwargs: Any) -> NoReturn:
        pytest.fail("the rules were scanned with no port left to keep")

    monkeypatch.setattr(diff_module, "_rules_apart", scanned)
    before_nodes, after_nodes = node_set(case.cluster, case.config), node_set(after, case.config)
    report = diff(before_nodes, after_nodes, "node1", {("default", "b", "", Protocol.TCP)})
    assert [p.name for p in report.ports] == ["default/b"]


def test_each_node_s_addresses_and_each_port_s_ipmode_proxy_ingress_are_read_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """views_kept reads every node's addresses once for every port's packet targets, and each port's ipMode Proxy
    ingress once a state (R-sim 6: every node's addresses were read and parsed again for each port)."""
    case = _two_services()
    c_slice = dataclasses.replace(case.cluster.endpoint_slices[0], name="c-x", service_name="c")
    cluster = dataclasses.replace(case.cluster, services=(*case.cluster.services, _service("c", "10.96.0.12")),
                                  endpoint_slices=(*case.cluster.endpoint_slices, c_slice))
    slc = cluster.endpoint_slices[1]
    after = _replace_slice(cluster, 1, dataclasses.replace(slc, endpoints=slc.endpoints[:1]))
    before_nodes, after_nodes = node_set(cluster, case.config), node_set(after, case.config)
    addresses: list[str] = []
    ingress: list[tuple[int, str]] = []
    real_addresses, real_ingress = NodeSet.addresses, diff_module.proxy_ingress

    def reading(self: NodeSet, node: str) -> tuple[str, ...]:
        addresses.append(node)
        return real_addresses(self, node)

    def asking(nodes: NodeSet, svc: ServicePortInfo) -> tuple[str, ...]:
        ingress.append((id(nodes), svc.name_string))
        return real_ingress(nodes, svc)

    real_kept = diff_module.views_kept
    kept: list[frozenset[PortKey]] = []

    def recording(*args: Any, **kwargs: Any) -> frozenset[PortKey]:
        monkeypatch.setattr(NodeSet, "addresses", reading)
        monkeypatch.setattr(diff_module, "proxy_ingress", asking)
        kept.append(real_kept(*args, **kwargs))
        monkeypatch.setattr(NodeSet, "addresses", real_addresses)
        monkeypatch.setattr(diff_module, "proxy_ingress", real_ingress)
        return kept[-1]

    monkeypatch.setattr(diff_module, "views_kept", recording)
    diff(before_nodes, after_nodes, "node1")
    assert {key[1] for key in kept[0]} == {"a", "c"}
    assert len(ingress) == len(set(ingress)) == 4  # a and c, each in both states
    assert sorted(addresses) == sorted(before_nodes.order)
