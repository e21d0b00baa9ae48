"""Edge and verdict labels in their short human form, and the exact shares of a statistic split."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.graph.labels import chain_shares, match_label, percent, service_port_of, verdict_label
from kubeproxy_sim.netfilter.syntax import parse_spec


def label(spec: str) -> str:
    return match_label(parse_spec(spec))


def test_destination_port_and_protocol_read_as_an_address() -> None:
    assert label('-m comment --comment "ns/svc:p cluster IP" -m tcp -p tcp -d 10.96.0.1/32 --dport 443 '
                 "-j KUBE-SVC-X") == "10.96.0.1:443/tcp"
    assert label("-m udp -p udp -d fd00::10 --dport 53 -j KUBE-SVC-X") == "[fd00::10]:53/udp"
    assert label("-m tcp -p tcp --dport 31526 -j KUBE-EXT-X") == "port 31526/tcp"
    assert label("-m tcp -p tcp -j DNAT --to-destination 10.0.0.1:80") == "tcp"


def test_sources_negations_and_other_matches() -> None:
    assert label("-m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ") == \
        "172.30.0.41:80/tcp, src ! 10.0.0.0/8"
    assert label("-m mark ! --mark 0x4000/0x4000 -j RETURN") == "mark ! 0x4000/0x4000"
    assert label("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS") == "dst-type LOCAL"
    assert label("-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP") == \
        "dst 127.0.0.0/8, src ! 127.0.0.0/8, ctstate ! RELATED,ESTABLISHED,DNAT"
    assert label("-i eth0 ! -o lo -j ACCEPT") == "in eth0, out ! lo"
    assert label("-m conntrack --ctstate INVALID -m nfacct --nfacct-name x -j DROP") == "ctstate INVALID"
    assert label("-j KUBE-SVC-X") == ""


def test_affinity_reads_as_sticky_with_its_timeout() -> None:
    assert label("-m recent --name KUBE-SEP-X --rcheck --seconds 10800 --reap -j KUBE-SEP-X") == \
        "recent: sticky 10800s"
    assert label("-m recent --name KUBE-SEP-X --set -m tcp -p tcp -j DNAT --to-destination 1.2.3.4:80") == \
        "tcp, recent: remember source"


def test_verdicts() -> None:
    def verdict(spec: str) -> str:
        target = parse_spec(spec).target
        assert target is not None
        return verdict_label(target)

    assert verdict("-p tcp -j DNAT --to-destination 10.244.1.2:8080") == "DNAT 10.244.1.2:8080"
    assert verdict("-j MARK --or-mark 0x4000") == "MARK or 0x4000"
    assert verdict("-j MARK --xor-mark 0x4000") == "MARK xor 0x4000"
    assert verdict("-j MASQUERADE --random-fully") == "MASQUERADE random-fully"
    # iptables-save writes every MARK as --set-xmark V/M, mark = (mark & ~M) ^ V: named by what it does, in
    # iptables -L's words, so a dump's rules read as the generated ones (KUBE-POSTROUTING's is an xor, real dump 06)
    assert verdict("-j MARK --set-xmark 0x4000/0x0") == "MARK xor 0x4000"
    assert verdict("-j MARK --set-xmark 0x4000/0x4000") == "MARK or 0x4000"
    assert verdict("-j MARK --set-xmark 0x0/0x4000") == "MARK and 0xffffbfff"
    assert verdict("-j MARK --set-xmark 0x4000/0xffffffff") == "MARK set 0x4000"
    assert verdict("-j MARK --set-xmark 0x4000") == "MARK set 0x4000"  # no mask: all 32 bits
    assert verdict("-j MARK --set-xmark 0x1/0x3") == "MARK set-xmark 0x1/0x3"
    assert verdict("-j MARK --set-xmark junk") == "MARK set-xmark junk"
    assert verdict("-j REJECT") == "REJECT"
    assert verdict("-j DROP") == "DROP"


def test_service_port_from_comment() -> None:
    assert service_port_of(parse_spec('-m comment --comment "ns2/svc2:p80 cluster IP" -j X')) == ("ns2", "svc2",
                                                                                                  "p80")
    assert service_port_of(parse_spec("-m comment --comment default/kubernetes-bootcamp -j X")) == (
        "default", "kubernetes-bootcamp", None)
    assert service_port_of(parse_spec('-m comment --comment "kubernetes service nodeports; NOTE" -j X')) is None
    # before kube-proxy 1.9 or so, an unnamed port was written with a trailing colon (real dump 01)
    assert service_port_of(parse_spec('-m comment --comment "default/nginx: cluster IP" -j X')) == (
        "default", "nginx", None)


def kube_proxy_split(n: int) -> list[str]:
    """The SVC chain kube-proxy writes for n endpoints: 1/(n-i) with 10 decimals, the last rule plain."""
    rules = ["-m tcp -p tcp -d 10.0.0.1 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"]
    rules += [f"-m statistic --mode random --probability {1 / (n - i):.10f} -j KUBE-SEP-{i}" for i in range(n - 1)]
    return [*rules, f"-j KUBE-SEP-{n - 1}"]


@given(st.integers(min_value=1, max_value=60))
def test_split_shares_are_exact_and_even(n: int) -> None:
    specs = [parse_spec(s) for s in kube_proxy_split(n)]
    calls = [True] + [False] * n
    shares = chain_shares(specs, calls)
    assert shares[0] is None  # the masquerade side trip takes no traffic
    endpoint_shares = shares[1:]
    if n == 1:
        assert endpoint_shares == [None]  # no split: the only rule takes everything
        return
    split = [s for s in endpoint_shares if s is not None]
    assert len(split) == n  # every rule has its share
    assert sum(split, Fraction(0)) == 1
    assert all(abs(s - Fraction(1, n)) < Fraction(1, 10**8) for s in split)
    assert {percent(s) for s in split} == {percent(Fraction(1, n))}


def test_affinity_checks_take_no_share() -> None:
    specs = [parse_spec(s) for s in (
        "-m recent --name A --rcheck --seconds 60 --reap -j KUBE-SEP-A",
        "-m recent --name B --rcheck --seconds 60 --reap -j KUBE-SEP-B",
        "-m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-A",
        "-j KUBE-SEP-B",
    )]
    assert chain_shares(specs, [False] * 4) == [None, None, Fraction(1, 2), Fraction(1, 2)]
    assert percent(Fraction(1, 3)) == "33.3%"


def test_a_split_past_a_conditional_rule_has_no_known_shares() -> None:
    """A plain rule with a condition inside a split takes an unknown part: the shares after it are unknown."""
    specs = [parse_spec(t) for t in ("-m statistic --mode random --probability 0.5 -j A", "-s 10.9.0.0/16 -j B",
                                     "-m statistic --mode random --probability 0.5 -j B", "-j C")]
    assert chain_shares(specs, [False] * 4) == [Fraction(1, 2), None, None, None]


def test_a_random_rule_into_a_returning_chain_consumes_nothing() -> None:
    """What it sends into a chain that returns comes back: the last rule still takes everything (as trace)."""
    specs = [parse_spec(t) for t in ("-m statistic --mode random --probability 0.5 -j A", "-j B")]
    assert chain_shares(specs, [True, False]) == [Fraction(1, 2), Fraction(1)]
