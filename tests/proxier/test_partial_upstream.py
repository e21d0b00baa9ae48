"""TestSyncProxyRulesRepeated and TestSyncProxyRulesLargeClusterMode (upstream, 531be81208e2) step by step.

Each sync's restore input is compared byte for byte with upstream's expected
dump (already in upstream's canonical sort order, which ours is written in),
and the rule-count metrics are checked the way upstream checks them: nat
"last sync" equals the rules in the dump, nat "total" moves by the deltas the
test states.
"""

from __future__ import annotations

import dataclasses

from kubeproxy_sim.netfilter.codec import render_ruleset
from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset
from kubeproxy_sim.objects.model import Cluster, EndpointPort, EndpointSlice, Protocol, Service
from kubeproxy_sim.proxier import generate
from kubeproxy_sim.proxier.partial import (
    DEFAULT_TIMING,
    RestoreError,
    Step,
    SyncState,
    SyncTiming,
    apply_restore,
    changed_services,
    sync_and_apply,
)

from .builders import cluster, ep, eps, fake_config, port, service

FILTER = """*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
{extra}-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"""  # noqa: E501
NAT_HEAD = """*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
"""
LAST_RULE = ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in'
             ' this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n')
MASQ = """-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
"""
SVC1 = '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O\n'  # noqa: E501
SVC2 = '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 -j KUBE-SVC-2VJB64SDSIJUP5T6\n'  # noqa: E501
SVC3 = '-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK\n'  # noqa: E501
SVC4 = '-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK\n'  # noqa: E501


def _dump(nat_chains: str, services: str, chain_rules: str = "", deletes: str = "", filter_extra: str = "") -> str:
    return (FILTER.format(extra=filter_extra) + NAT_HEAD + nat_chains + services + LAST_RULE + MASQ + chain_rules
            + deletes + "COMMIT\n")


SYNC1 = _dump(""":KUBE-SEP-SNQ3ZNILQDEJNDQO - [0:0]
:KUBE-SEP-UHEGFW77JX3KXTOV - [0:0]
:KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
""", SVC1 + SVC2, """-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -s 10.0.1.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:80
-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -s 10.0.2.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -m tcp -p tcp -j DNAT --to-destination 10.0.2.1:8080
-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 -> 10.0.2.1:8080" -j KUBE-SEP-UHEGFW77JX3KXTOV
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.0.1.1:80" -j KUBE-SEP-SNQ3ZNILQDEJNDQO
""")  # noqa: E501

SYNC2 = _dump(""":KUBE-SEP-BSWRHOQ77KEXZLNL - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
""", SVC1 + SVC2 + SVC3, """-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -s 10.0.3.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.1:80
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.1:80" -j KUBE-SEP-BSWRHOQ77KEXZLNL
""")  # noqa: E501

SYNC3 = _dump(""":KUBE-SEP-UHEGFW77JX3KXTOV - [0:0]
:KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]
""", SVC1 + SVC3, deletes="-X KUBE-SEP-UHEGFW77JX3KXTOV\n-X KUBE-SVC-2VJB64SDSIJUP5T6\n")

SYNC4 = _dump("", SVC1 + SVC3, filter_extra='-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j REJECT\n')  # noqa: E501

SYNC5 = _dump(""":KUBE-SEP-AYCN5HPXMIRJNJXU - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
""", SVC1 + SVC3 + SVC4, """-A KUBE-SEP-AYCN5HPXMIRJNJXU -m comment --comment ns4/svc4:p80 -s 10.0.4.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-AYCN5HPXMIRJNJXU -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.4.1:80
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.0.4.1:80" -j KUBE-SEP-AYCN5HPXMIRJNJXU
""")  # noqa: E501

SYNC6 = _dump(""":KUBE-SEP-BSWRHOQ77KEXZLNL - [0:0]
:KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
""", SVC1 + SVC3 + SVC4, """-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -s 10.0.3.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.2:80
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -j KUBE-SEP-DKCFIS26GWF2WLWC
""", deletes="-X KUBE-SEP-BSWRHOQ77KEXZLNL\n")  # noqa: E501

SVC3_TWO_ENDPOINTS = """-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -s 10.0.3.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.2:80
-A KUBE-SEP-JVVZVJ7BSEPPRNBS -m comment --comment ns3/svc3:p80 -s 10.0.3.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-JVVZVJ7BSEPPRNBS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.3:80
"""
SVC3_CHAIN = """-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-DKCFIS26GWF2WLWC
-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.3:80" -j KUBE-SEP-JVVZVJ7BSEPPRNBS
"""  # noqa: E501

SYNC7 = _dump(""":KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]
:KUBE-SEP-JVVZVJ7BSEPPRNBS - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
""", SVC1 + SVC3 + SVC4, SVC3_TWO_ENDPOINTS + SVC3_CHAIN)

SYNC8 = _dump("", SVC1 + SVC3 + SVC4)

SYNC10 = _dump(""":KUBE-SEP-AYCN5HPXMIRJNJXU - [0:0]
:KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]
:KUBE-SEP-JVVZVJ7BSEPPRNBS - [0:0]
:KUBE-SEP-SNQ3ZNILQDEJNDQO - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
""", SVC1 + SVC3, SVC3_TWO_ENDPOINTS + """-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -s 10.0.1.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:80
""" + SVC3_CHAIN + """-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.0.1.1:80" -j KUBE-SEP-SNQ3ZNILQDEJNDQO
""", deletes="-X KUBE-SEP-AYCN5HPXMIRJNJXU\n-X KUBE-SVC-4SW47YFZTEDKD3PK\n")  # noqa: E501


def _nat_rules(text: str) -> int:
    """upstream's countRules for the nat table: the -A lines of its block."""
    nat = text.split("*nat\n", 1)[1]
    return sum(1 for line in nat.splitlines() if line.startswith("-A "))


class Driver:
    """Feeds successive object sets to the syncer and applies each restore to a simulated node."""

    def __init__(self, config, timing: SyncTiming = DEFAULT_TIMING) -> None:
        self.config = config
        self.timing = timing
        self.node = Ruleset()
        self.state = SyncState()
        self.objects = Cluster()
        self.now = 0.0
        self.last: Step | None = None

    def sync(self, objects: Cluster, advance: float = 1.0) -> Step:
        self.now += advance
        step = sync_and_apply(self.node, self.state, objects, self.config, changed_services(self.objects, objects),
                              self.now, self.timing)
        self.node, self.state, self.objects, self.last = step.node, step.state, objects, step
        return step

    def text(self) -> str:
        assert self.last is not None
        return render_ruleset(self.last.outcome.restore)


def _svc(ns: str, name: str, ip: str, name_port: str = "p80", number: int = 80) -> Service:
    return service(ns, name, ip, port(name_port, number))


def _slice(ns: str, name: str, *ips: str, name_port: str = "p80", number: int = 80) -> EndpointSlice:
    return eps(ns, name, *(ep(ip) for ip in ips), ports=(EndpointPort(name_port, number, Protocol.TCP),))


def test_sync_proxy_rules_repeated():
    d = Driver(fake_config())
    svc1, svc2 = _svc("ns1", "svc1", "172.30.0.41"), _svc("ns2", "svc2", "172.30.0.42", "p8080", 8080)
    eps1, eps2 = _slice("ns1", "svc1", "10.0.1.1"), _slice("ns2", "svc2", "10.0.2.1", name_port="p8080", number=8080)
    svc3, svc4 = _svc("ns3", "svc3", "172.30.0.43"), _svc("ns4", "svc4", "172.30.0.44")
    expected_totals = []

    def check(step: Step, expected: str, full: bool, delta: int | None) -> None:
        assert d.text() == expected
        assert step.outcome.full is full and step.error is None
        assert step.outcome.metrics.nat_rules_synced == _nat_rules(expected)
        total = _nat_rules(expected) if delta is None else expected_totals[-1] + delta
        assert step.outcome.metrics.nat_rules_total == total
        expected_totals.append(total)

    check(d.sync(cluster(svc1, svc2, eps1, eps2)), SYNC1, True, None)
    check(d.sync(cluster(svc1, svc2, svc3, eps1, eps2, _slice("ns3", "svc3", "10.0.3.1"))), SYNC2, False, +5)
    check(d.sync(cluster(svc1, svc3, eps1, eps2, _slice("ns3", "svc3", "10.0.3.1"))), SYNC3, False, -5)
    check(d.sync(cluster(svc1, svc3, svc4, eps1, eps2, _slice("ns3", "svc3", "10.0.3.1"))), SYNC4, False, 0)
    eps4 = _slice("ns4", "svc4", "10.0.4.1")
    check(d.sync(cluster(svc1, svc3, svc4, eps1, eps2, _slice("ns3", "svc3", "10.0.3.1"), eps4)), SYNC5, False, +5)
    check(d.sync(cluster(svc1, svc3, svc4, eps1, eps2, _slice("ns3", "svc3", "10.0.3.2"), eps4)), SYNC6, False, 0)
    eps3 = _slice("ns3", "svc3", "10.0.3.2", "10.0.3.3")
    check(d.sync(cluster(svc1, svc3, svc4, eps1, eps2, eps3, eps4)), SYNC7, False, +3)
    check(d.sync(d.objects), SYNC8, False, 0)

    # A foreign jump from svc3's chain to svc4's endpoint: the partial sync deleting svc4 cannot delete
    # that endpoint's chain, so the restore is refused and the next sync is a full one.
    d.node = _append_rule(d.node, "nat", "KUBE-SVC-X27LE4BHSL4DOUIK", "-j KUBE-SEP-AYCN5HPXMIRJNJXU")
    failed = d.sync(cluster(svc1, svc3, eps1, eps2, eps3, eps4))
    assert not failed.outcome.full and isinstance(failed.error, RestoreError)
    assert "KUBE-SEP-AYCN5HPXMIRJNJXU" in str(failed.error)
    assert d.state.need_full_sync
    assert _chain(d.node, "nat", "KUBE-SEP-AYCN5HPXMIRJNJXU") is not None
    check(d.sync(d.objects), SYNC10, True, -5)
    assert _chain(d.node, "nat", "KUBE-SEP-AYCN5HPXMIRJNJXU") is None
    assert "KUBE-SEP-AYCN5HPXMIRJNJXU" not in str(_chain(d.node, "nat", "KUBE-SVC-X27LE4BHSL4DOUIK"))


def _chain(node: Ruleset, table: str, name: str):
    t = node.table(table)
    return t.chain(name) if t is not None else None


def _append_rule(node: Ruleset, table: str, chain: str, spec: str) -> Ruleset:
    t = node.table(table)
    assert t is not None
    chains = tuple(Chain(c.name, (*c.rules, Rule(chain, spec)), c.policy, c.counters) if c.name == chain else c
                   for c in t.chains)
    return node.replace_table(dataclasses.replace(t, chains=chains))


def _dnat_lines(text: str, match: str) -> tuple[str, int, int]:
    """upstream's countEndpointsAndComments: (the SEP DNAT line containing match, DNAT count, commented count)."""
    matched, count, comments = "", 0, 0
    for line in text.splitlines():
        if line.startswith("-A KUBE-SEP-") and "-j DNAT" in line:
            count += 1
            comments += "--comment" in line
            if match in line:
                matched = line
    return matched, count, comments


def _big_slice(ns: str, name: str, second: int, name_port: str, number: int) -> EndpointSlice:
    ips = [f"10.{second}.{i % 256}.{i // 256}" for i in range(499)]
    return _slice(ns, name, *ips, name_port=name_port, number=number)


def test_sync_proxy_rules_large_cluster_mode():
    d = Driver(fake_config(masquerade_all=True), SyncTiming(sync_period=30.0))
    base = [_svc("ns1", "svc1", "172.30.0.41"), _svc("ns2", "svc2", "172.30.0.42", "p8080", 8080),
            _svc("ns3", "svc3", "172.30.0.43", "p8081", 8081),
            _big_slice("ns1", "svc1", 0, "p80", 80), _big_slice("ns2", "svc2", 1, "p8080", 8080)]
    d.sync(cluster(*base))
    line, count, comments = _dnat_lines(d.text(), "10.0.0.0")
    assert line == ("-A KUBE-SEP-DKGQUZGBKLTPAR56 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT"
                    " --to-destination 10.0.0.0:80")
    assert count == comments == 998

    base.append(_slice("ns3", "svc3", "203.0.113.4", "203.0.113.8", "203.0.113.12", name_port="p8081", number=8081))
    step = d.sync(cluster(*base))
    line, count, comments = _dnat_lines(d.text(), "203.0.113.4")
    assert not step.outcome.full
    assert line == "-A KUBE-SEP-RUVVH7YV3PHQBDOS -m tcp -p tcp -j DNAT --to-destination 203.0.113.4:8081"
    assert (count, comments) == (3, 0)

    d.state = d.state.forcing_full()
    d.sync(d.objects)
    line, count, comments = _dnat_lines(d.text(), "10.0.0.0")
    assert line == "-A KUBE-SEP-DKGQUZGBKLTPAR56 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80"
    assert (count, comments) == (1001, 0)

    svc4 = _svc("ns4", "svc4", "172.30.0.44", "p8082", 8082)
    eps4 = _slice("ns4", "svc4", "10.4.0.1", name_port="p8082", number=8082)
    d.sync(cluster(*base, svc4, eps4))
    line, count, _ = _dnat_lines(d.text(), "10.4.0.1")
    assert line == "-A KUBE-SEP-SU5STNODRYEWJAUF -m tcp -p tcp -j DNAT --to-destination 10.4.0.1:8082"
    assert count == 1

    # Deleting a service in large-cluster mode leaves its chains until a sync period has passed.
    d.state = dataclasses.replace(d.state, last_cleanup=d.now + 1.0)
    d.sync(cluster(*base, eps4))
    line, count, _ = _dnat_lines(d.text(), "10.4.0.1")
    assert (line, count) == ("", 0)
    assert "-X " not in d.text()
    assert _chain(d.node, "nat", "KUBE-SVC-EBDQOQU5SJFXRIL3") is not None

    d.state = dataclasses.replace(d.state, last_cleanup=d.now + 1.0 - 30.0 - 1e-9)
    d.sync(d.objects)
    line, count, _ = _dnat_lines(d.text(), "10.4.0.1")
    assert (line, count) == ("", 0)
    assert "-X KUBE-SVC-EBDQOQU5SJFXRIL3" in d.text()
    assert "-X KUBE-SEP-SU5STNODRYEWJAUF" in d.text()
    assert _chain(d.node, "nat", "KUBE-SVC-EBDQOQU5SJFXRIL3") is None

    d.state = d.state.forcing_full()
    d.sync(d.objects)
    assert _dnat_lines(d.text(), "10.0.0.0")[1] == 1001


def test_first_sync_is_the_full_sync_of_generate():
    objects = cluster(_svc("ns1", "svc1", "172.30.0.41"), _slice("ns1", "svc1", "10.0.1.1"))
    d = Driver(fake_config())
    d.sync(objects)
    assert d.text() == render_ruleset(generate(objects, fake_config()).ruleset)
    assert d.last is not None and d.last.outcome.jumps == generate(objects, fake_config()).jumps


def test_apply_restore_refuses_a_dangling_jump():
    objects = cluster(_svc("ns1", "svc1", "172.30.0.41"), _slice("ns1", "svc1", "10.0.1.1"))
    restore = generate(objects, fake_config()).ruleset
    nat = restore.table("nat")
    assert nat is not None
    broken = restore.replace_table(dataclasses.replace(
        nat, chains=tuple(c for c in nat.chains if not c.name.startswith("KUBE-SEP-"))))
    try:
        apply_restore(Ruleset(), broken)
    except RestoreError as exc:
        assert "KUBE-SEP-SNQ3ZNILQDEJNDQO" in str(exc)
    else:
        raise AssertionError("a jump to a missing chain was accepted")
