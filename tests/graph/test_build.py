"""The graph model built from real scenarios: chains, exact edges and labels, scoping, folding, highlighting."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubeproxy_sim.errors import InputError, UsageError
from kubeproxy_sim.graph import (
    NodeKind,
    ServiceRef,
    build_graph,
    collapse_endpoints,
    highlight,
    parse_service_ref,
    scope_graph,
    scope_service,
    select_service,
)
from kubeproxy_sim.graph.model import Graph
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.model import Ruleset

SVC = "KUBE-SVC-2TYZFXBKM236ELT2"
EXT = "KUBE-EXT-2TYZFXBKM236ELT2"
SEPS = {  # in the SVC chain's order, with their DNAT destination
    "KUBE-SEP-O3PN3INVTYMV5S2K": "10.244.0.3:8080",
    "KUBE-SEP-YLLYWTEE6MTFMIU3": "10.244.0.4:8080",
    "KUBE-SEP-MQZR7KM7KFJ4PDHU": "10.244.1.2:8080",
    "KUBE-SEP-YBRCQ2MN75WMSUM6": "10.244.1.3:8080",
}


def labelled(graph: Graph, table: str = "nat") -> list[tuple[str, str, str]]:
    """Edges as (source chain, target node, label), without the table prefix."""
    cut = len(table) + 1
    return [(e.source[cut:], e.target[cut:], e.label) for e in graph.edges if e.table == table]


def test_bootcamp_service_edges_are_exact(bootcamp: Ruleset) -> None:
    graph = scope_graph(build_graph(bootcamp), select_service(bootcamp, ServiceRef("default", "kubernetes-bootcamp")))
    edges = labelled(graph)
    assert ("KUBE-SERVICES", SVC, "10.96.142.87:8080/tcp") in edges
    assert [e for e in edges if e[0] == SVC] == [
        (SVC, "KUBE-MARK-MASQ", "10.96.142.87:8080/tcp, src ! 10.244.0.0/16"),
        *[(SVC, sep, "25.0%") for sep in SEPS],
    ]
    for sep, destination in SEPS.items():
        ip = destination.split(":")[0]
        assert [e for e in edges if e[0] == sep] == [
            (sep, "KUBE-MARK-MASQ", f"src {ip}"),
            (sep, f"{sep}:DNAT {destination}", "tcp"),
        ]
    assert ("PREROUTING", "KUBE-SERVICES", "") in edges and ("OUTPUT", "KUBE-SERVICES", "") in edges
    assert ("KUBE-SERVICES", "KUBE-NODEPORTS", "dst-type LOCAL") in edges
    assert ("KUBE-NODEPORTS", EXT, "port 31526/tcp") in edges
    assert (EXT, SVC, "") in edges
    # the masquerade mark takes effect in POSTROUTING, so that path comes along
    assert ("POSTROUTING", "KUBE-POSTROUTING", "") in edges
    assert ("KUBE-POSTROUTING", "KUBE-POSTROUTING:MASQUERADE random-fully", "") in edges
    # nothing of the filter table is about this service
    assert graph.tables() == ("nat",)


def test_bootcamp_shares_are_exact_fractions(bootcamp: Ruleset) -> None:
    graph = build_graph(bootcamp)
    shares = [e.share for e in graph.edges if e.source == f"nat:{SVC}" and e.share is not None]
    assert len(shares) == 4 and sum(shares, Fraction(0)) == 1
    assert shares[0] == Fraction(1, 4)


def test_node_kinds_and_shapes_of_the_whole_node(bootcamp: Ruleset) -> None:
    graph = build_graph(bootcamp)
    kinds = {n.id: n.kind for n in graph.nodes}
    assert kinds["nat:PREROUTING"] is NodeKind.HOOK and kinds["filter:FORWARD"] is NodeKind.HOOK
    assert kinds["nat:KUBE-SERVICES"] is NodeKind.DISPATCH
    assert kinds[f"nat:{SVC}"] is NodeKind.SERVICE and kinds[f"nat:{EXT}"] is NodeKind.EXTERNAL
    assert all(kinds[f"nat:{sep}"] is NodeKind.ENDPOINT for sep in SEPS)
    assert kinds["nat:KUBE-SEP-O3PN3INVTYMV5S2K:DNAT 10.244.0.3:8080"] is NodeKind.DNAT
    assert kinds["nat:KUBE-MARK-MASQ:MARK or 0x4000"] is NodeKind.MARK
    assert kinds["nat:KUBE-POSTROUTING:RETURN"] is NodeKind.RETURN
    assert kinds["filter:KUBE-FORWARD:DROP"] is NodeKind.DROP
    assert kinds["filter:KUBE-FORWARD:ACCEPT"] is NodeKind.ACCEPT
    assert "nat:INPUT" not in kinds  # an empty hook carries no path
    svc = graph.node(f"nat:{SVC}")
    assert svc is not None and svc.label == f"{SVC}\ndefault/kubernetes-bootcamp"
    # jumps to KUBE-MARK-MASQ come back: drawn as side trips
    assert all(e.call for e in graph.edges if e.target == "nat:KUBE-MARK-MASQ")
    assert not any(e.call for e in graph.edges if e.target == f"nat:{SVC}")


def test_table_choice(bootcamp: Ruleset) -> None:
    graph = build_graph(bootcamp, tables=("filter",))
    assert graph.tables() == ("filter",)
    assert {n.table for n in graph.nodes} == {"filter"}


def test_service_scope_with_firewall_affinity_and_filter_rules(overall: Ruleset) -> None:
    selection = select_service(overall, parse_service_ref("ns5/svc5:p80"))
    graph = scope_graph(build_graph(overall), selection)
    nat = labelled(graph)
    fw, ext, svc, sep = ("KUBE-FW-NUKIZ6OKUXPJNT4C", "KUBE-EXT-NUKIZ6OKUXPJNT4C", "KUBE-SVC-NUKIZ6OKUXPJNT4C",
                         "KUBE-SEP-I77PXRDZVX7PMWMN")
    assert ("KUBE-SERVICES", svc, "172.30.0.45:80/tcp") in nat
    assert ("KUBE-SERVICES", fw, "5.6.7.8:80/tcp") in nat
    assert (fw, ext, "src 203.0.113.0/25") in nat
    assert (svc, sep, "recent: sticky 10800s") in nat
    assert (sep, f"{sep}:DNAT 10.180.0.3:80", "tcp, recent: remember source") in nat
    assert ("KUBE-NODEPORTS", ext, "port 3002/tcp") in nat
    # only this service's rules in the shared chains
    assert not any("svc1" in n.label or "XPGD46QRK7WJZT7O" in n.id for n in graph.nodes)
    assert all(t == ext for s, t, _ in nat if s == "KUBE-NODEPORTS")
    # the filter table's firewall drop for the LB IP, reached from the hooks
    assert labelled(graph, "filter") == [
        ("INPUT", "KUBE-PROXY-FIREWALL", "ctstate NEW"),
        ("FORWARD", "KUBE-PROXY-FIREWALL", "ctstate NEW"),
        ("OUTPUT", "KUBE-PROXY-FIREWALL", "ctstate NEW"),
        ("KUBE-PROXY-FIREWALL", "KUBE-PROXY-FIREWALL:DROP", "5.6.7.8:80/tcp"),
    ]
    # positions are those of the whole chain
    services = [e for e in graph.edges if e.chain == "KUBE-SERVICES" and e.table == "nat"]
    assert [e.position for e in services] == [8, 9, 10]


def test_service_scope_by_port_number_and_errors(overall: Ruleset, bootcamp: Ruleset) -> None:
    by_name = select_service(overall, parse_service_ref("ns2/svc2:p80"))
    assert select_service(overall, parse_service_ref("ns2/svc2:80")) == by_name
    assert select_service(overall, parse_service_ref("ns2/svc2")) == by_name
    assert select_service(bootcamp, parse_service_ref("default/kubernetes-bootcamp:8080")) == \
        select_service(bootcamp, parse_service_ref("default/kubernetes-bootcamp"))
    with pytest.raises(InputError, match=r"--service: no rules for service port ns9/nope.*expected one of: "
                       r"ns1/svc1:p80, ns2/svc2:p80"):
        select_service(overall, parse_service_ref("ns9/nope"))
    with pytest.raises(InputError, match="in the filter table; no rule there names a service"):
        select_service(bootcamp, parse_service_ref("default/kubernetes-bootcamp"), ("filter",))
    with pytest.raises(InputError, match=r"in the filter table; expected one of: ns2/svc2:p80, ns5/svc5:p80, "
                       r"ns6/svc6:p80$"):  # the filter table's own
        select_service(overall, parse_service_ref("ns1/svc1"), ("filter",))
    with pytest.raises(UsageError, match="'default/nginx:' has an empty port; expected NAMESPACE/NAME"):
        parse_service_ref("default/nginx:")  # refused by the pattern itself (it was read as no port)
    with pytest.raises(InputError, match="expected NAMESPACE/NAME"):
        parse_service_ref("just-a-name")
    for text in ("just-a-name", "default/nginx::", "Default/nginx:", "default/nginx:p 80"):
        with pytest.raises(UsageError, match=f"{text!r} is not a service; expected NAMESPACE/NAME"):
            parse_service_ref(text)
    assert parse_service_ref(" default/nginx:80 ") == ServiceRef("default", "nginx", "80")


def test_health_check_and_no_local_endpoints_rules_in_filter(overall: Ruleset) -> None:
    scoped = scope_service(overall, ServiceRef("ns2", "svc2", "p80"), ("filter",))
    graph = build_graph(scoped, tables=("filter",))
    edges = labelled(graph, "filter")
    assert ("KUBE-NODEPORTS", "KUBE-NODEPORTS:ACCEPT", "port 30000/tcp") in edges
    assert ("KUBE-EXTERNAL-SERVICES", "KUBE-EXTERNAL-SERVICES:DROP", "192.168.99.22:80/tcp") in edges
    assert ("KUBE-EXTERNAL-SERVICES", "KUBE-EXTERNAL-SERVICES:DROP", "dst-type LOCAL, port 3001/tcp") not in edges
    assert any(s == "KUBE-EXTERNAL-SERVICES" and "port 3001/tcp" in lab and "dst-type LOCAL" in lab
               for s, _, lab in edges)


def big_service(endpoints: int) -> Ruleset:
    """A restore input with one service port of ``endpoints`` endpoints and a Local-policy SVL chain."""
    lines = ["*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-SVC-BIG - [0:0]", ":KUBE-SVL-BIG - [0:0]",
             ":KUBE-MARK-MASQ - [0:0]"]
    lines += [f":KUBE-SEP-E{i} - [0:0]" for i in range(endpoints)]
    lines.append('-A KUBE-SERVICES -m comment --comment "ns/big:web cluster IP" -m tcp -p tcp -d 10.0.0.9 '
                 "--dport 80 -j KUBE-SVC-BIG")
    lines.append("-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000")
    for i in range(endpoints - 1):
        lines.append(f"-A KUBE-SVC-BIG -m statistic --mode random --probability {1 / (endpoints - i):.10f} "
                     f"-j KUBE-SEP-E{i}")
    lines.append(f"-A KUBE-SVC-BIG -j KUBE-SEP-E{endpoints - 1}")
    lines.append("-A KUBE-SVL-BIG -j KUBE-SEP-E0")
    for i in range(endpoints):
        lines.append(f"-A KUBE-SEP-E{i} -s 10.1.0.{i} -j KUBE-MARK-MASQ")
        lines.append(f"-A KUBE-SEP-E{i} -m tcp -p tcp -j DNAT --to-destination 10.1.0.{i}:80")
    return parse_ruleset("\n".join([*lines, "COMMIT", ""]))


def test_large_endpoint_fans_fold_into_a_summary() -> None:
    graph = build_graph(big_service(20))
    folded = collapse_endpoints(graph, 8)
    from_svc = [e for e in folded.edges if e.source == "nat:KUBE-SVC-BIG"]
    assert [e.target for e in from_svc[:8]] == [f"nat:KUBE-SEP-E{i}" for i in range(8)]
    summary = from_svc[-1]
    assert len(from_svc) == 9 and summary.target == "nat:KUBE-SVC-BIG:+12 endpoints"
    assert summary.share is not None
    assert summary.share == Fraction(12, 20) or abs(summary.share - Fraction(12, 20)) < Fraction(1, 10**8)
    assert summary.label == "12 endpoints, 60.0%"
    node = folded.node(summary.target)
    assert node is not None and node.kind is NodeKind.SUMMARY and node.label == "+12 more endpoints"
    ids = {n.id for n in folded.nodes}
    assert "nat:KUBE-SEP-E12" not in ids and "nat:KUBE-SEP-E12:DNAT 10.1.0.12:80" not in ids
    assert "nat:KUBE-SEP-E0" in ids and "nat:KUBE-SEP-E0:DNAT 10.1.0.0:80" in ids  # also the SVL's endpoint
    assert {e.source for e in folded.edges} <= ids and {e.target for e in folded.edges} <= ids
    assert collapse_endpoints(graph, 0) == graph and collapse_endpoints(graph, 20) == graph


def test_a_summary_under_affinity_says_it_folds_the_sticky_checks_too() -> None:
    """Under ClientIP affinity the folded endpoints' sticky checks jump to the summary as well, and its label says
    so (QA wording #3); without affinity it does not, and one endpoint is said in the singular."""
    lines = ["*nat", ":KUBE-SVC-AFF - [0:0]", *[f":KUBE-SEP-A{i} - [0:0]" for i in range(4)]]
    lines += [f"-A KUBE-SVC-AFF -m recent --name KUBE-SEP-A{i} --rcheck --seconds 10800 --reap -j KUBE-SEP-A{i}"
              for i in range(4)]
    lines += [f"-A KUBE-SVC-AFF -m statistic --mode random --probability {1 / (4 - i):.10f} -j KUBE-SEP-A{i}"
              for i in range(3)]
    lines += ["-A KUBE-SVC-AFF -j KUBE-SEP-A3", *[f"-A KUBE-SEP-A{i} -m recent --name KUBE-SEP-A{i} --set "
                                                  f"-m tcp -p tcp -j DNAT --to-destination 10.1.0.{i}:80"
                                                  for i in range(4)], "COMMIT", ""]
    graph = build_graph(parse_ruleset("\n".join(lines)))
    labels = {e.label for e in collapse_endpoints(graph, 2).edges if e.source == "nat:KUBE-SVC-AFF"}
    assert "2 endpoints, 50.0%, and their sticky checks" in labels
    labels = {e.label for e in collapse_endpoints(graph, 3).edges if e.source == "nat:KUBE-SVC-AFF"}
    assert "1 endpoint, 25.0%, and its sticky check" in labels
    plain = collapse_endpoints(build_graph(big_service(9)), 8)
    assert [e.label for e in plain.edges if e.source == "nat:KUBE-SVC-BIG"][-1] == "1 endpoint, 11.1%"
    assert plain.node("nat:KUBE-SVC-BIG:+1 endpoints").label == "+1 more endpoint"  # type: ignore[union-attr]


def test_highlight_a_hand_made_path(bootcamp: Ruleset) -> None:
    graph = build_graph(bootcamp)
    path = [
        ("nat", "PREROUTING", None, '-A PREROUTING -m comment --comment "kubernetes service portals" '
         "-j KUBE-SERVICES"),
        ("nat", "KUBE-SERVICES", None, '-A KUBE-SERVICES -m comment --comment "default/kubernetes-bootcamp '
         'cluster IP" -m tcp -p tcp -d 10.96.142.87 --dport 8080 -j KUBE-SVC-2TYZFXBKM236ELT2'),
        ("nat", SVC, None, f'-A {SVC} -m comment --comment "default/kubernetes-bootcamp -> 10.244.0.3:8080" '
         "-m statistic --mode random --probability 0.2500000000 -j KUBE-SEP-O3PN3INVTYMV5S2K"),
        ("nat", "KUBE-SEP-O3PN3INVTYMV5S2K", None, "-A KUBE-SEP-O3PN3INVTYMV5S2K -m comment --comment "
         "default/kubernetes-bootcamp -m tcp -p tcp -j DNAT --to-destination 10.244.0.3:8080"),
        ("nat", "NO-SUCH-CHAIN", 7),
    ]
    marked = highlight(graph, path)
    assert {(e.source, e.target) for e in marked.edges if e.highlighted} == {
        ("nat:PREROUTING", "nat:KUBE-SERVICES"),
        ("nat:KUBE-SERVICES", f"nat:{SVC}"),
        (f"nat:{SVC}", "nat:KUBE-SEP-O3PN3INVTYMV5S2K"),
        ("nat:KUBE-SEP-O3PN3INVTYMV5S2K", "nat:KUBE-SEP-O3PN3INVTYMV5S2K:DNAT 10.244.0.3:8080"),
    }
    assert {n.id for n in marked.nodes if n.highlighted} == {
        "nat:PREROUTING", "nat:KUBE-SERVICES", f"nat:{SVC}", "nat:KUBE-SEP-O3PN3INVTYMV5S2K",
        "nat:KUBE-SEP-O3PN3INVTYMV5S2K:DNAT 10.244.0.3:8080"}
    assert not any(e.highlighted for e in graph.edges)  # the input graph is untouched


def test_highlight_by_dump_line() -> None:
    graph = build_graph(big_service(3))
    # line 9 of the dump: "-A KUBE-SERVICES ... -j KUBE-SVC-BIG"; line 13: "-A KUBE-SVC-BIG -j KUBE-SEP-E2"
    marked = highlight(graph, [("nat", "KUBE-SERVICES", 9), ("nat", "KUBE-SVC-BIG", 13),
                               ("nat", "KUBE-SVC-BIG", 9)])  # a line of another chain marks nothing
    assert [(e.line, e.target) for e in marked.edges if e.highlighted] == [
        (9, "nat:KUBE-SVC-BIG"), (13, "nat:KUBE-SEP-E2")]


def test_highlight_a_traced_path(bootcamp: Ruleset) -> None:
    from kubeproxy_sim.netfilter import trace
    from kubeproxy_sim.netfilter.packet import Packet

    result = trace.trace(bootcamp, Packet.of("tcp", "10.244.0.9", "10.96.142.87", 8080),
                         trace.NodeContext.of(["192.168.49.2"]))
    outcome = next(o for o in result.outcomes if o.destination == "10.244.1.3:8080")
    marked = highlight(build_graph(bootcamp), outcome.path)
    lit = [(e.source, e.target) for e in marked.edges if e.highlighted]
    assert (f"nat:{SVC}", "nat:KUBE-SEP-YBRCQ2MN75WMSUM6") in lit
    assert ("nat:KUBE-SEP-YBRCQ2MN75WMSUM6", "nat:KUBE-SEP-YBRCQ2MN75WMSUM6:DNAT 10.244.1.3:8080") in lit
    assert ("nat:KUBE-SERVICES", f"nat:{SVC}") in lit


def test_a_port_number_two_protocols_share_draws_both() -> None:
    from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
    from kubeproxy_sim.objects import load_paths
    from kubeproxy_sim.proxier import generate

    directory = REPO_RULESETS / "sctp-udp"
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    ruleset = generate(cluster, config_from_args(scenario_args(directory), cluster)).ruleset
    both = select_service(ruleset, parse_service_ref("default/dns:53"))
    udp = select_service(ruleset, parse_service_ref("default/dns:dns-udp"))
    tcp = select_service(ruleset, parse_service_ref("default/dns:dns-tcp"))
    assert both.full == udp.full | tcp.full and udp.full != tcp.full


def _nat(rules: list[str], chains: list[str]) -> Ruleset:
    from kubeproxy_sim.netfilter.codec import parse_ruleset

    declared = [f":{name} - [0:0]" for name in chains]
    return parse_ruleset("\n".join(["*nat", ":PREROUTING ACCEPT [0:0]", *declared, *rules, "COMMIT"]) + "\n")


def test_jumps_nested_thousands_deep_are_drawn_without_recursion() -> None:
    """A walk of its own stack: 3,000 nested jumps (trace handles as many) used to end in RecursionError at 1,000."""
    from kubeproxy_sim.graph.build import returning_test

    depth = 3000
    names = [f"DEEP{i}" for i in range(depth)]
    ruleset = _nat(["-A PREROUTING -j DEEP0", *(f"-A DEEP{i} -j DEEP{i + 1}" for i in range(depth - 1)),
                    f"-A DEEP{depth - 1} -j DNAT --to-destination 10.0.0.9"], names)
    graph = build_graph(ruleset, tables=("nat",))
    assert len(graph.edges) == depth + 1 and not any(e.call for e in graph.edges)  # each leads to the DNAT
    table = ruleset.table("nat")
    assert table is not None
    returns = returning_test(table)
    assert not returns("DEEP0") and not returns(f"DEEP{depth // 2}")
    side = _nat(["-A PREROUTING -j DEEP0", *(f"-A DEEP{i} -j DEEP{i + 1}" for i in range(depth - 1)),
                 f"-A DEEP{depth - 1} -j MARK --set-xmark 0x4000/0x4000"], names).table("nat")
    assert side is not None and returning_test(side)("DEEP0")  # a side trip however deep: every packet comes back


def test_returning_test_keeps_its_answers_for_cycles_and_terminal_branches() -> None:
    from kubeproxy_sim.graph.build import returning_test

    table = _nat(["-A A -j B", "-A B -j A", "-A B -j C", "-A C -j ACCEPT", "-A D -j B", "-A E -j F", "-A F -j E",
                  "-A G -j KUBE-MARK-MASQ", "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
                  "-A H -g G"], ["A", "B", "C", "D", "E", "F", "G", "H", "KUBE-MARK-MASQ"]).table("nat")
    assert table is not None
    returns = returning_test(table)
    assert [returns(n) for n in "ABCDEFGH"] == [False, False, False, False, True, True, True, False]
