"""The save form against the real thing: iptables-restore, then iptables-save, in a throw-away netns.

Needs root, ``unshare`` and iptables; skipped (with the reason) otherwise, except
under CI=true where it must run. Each check runs ``unshare --net``: the network
namespace exists only for that one command, so nothing is left behind.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.saveform import render_save, render_saved, save_lines, to_save_form

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[2]


def _by_table(text: str) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            current = tables.setdefault(line, [])
        current.append(line)
    return tables


def _kernel_save(text: str, ipv6: bool) -> str:
    tool = "ip6tables" if ipv6 else "iptables"
    done = subprocess.run(["unshare", "--net", "sh", "-c", f"{tool}-restore && {tool}-save"], input=text,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _assert_same_as_kernel(text: str, ipv6: bool = False) -> None:
    ruleset = parse_ruleset(text, ipv6=ipv6)
    ours = render_saved(save_lines(ruleset))  # what `rules --full` prints
    assert ours == render_save(to_save_form(ruleset))  # the reference, rule by rule
    assert _by_table(ours) == _by_table(_kernel_save(text, ipv6))


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


KUBE_PROXY_LIKE = _lines(
    '*nat',
    ':KUBE-SVC-X - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "it\'s a \\"test\\"" -j MASQUERADE --random-fully',
    '-A KUBE-SVC-X -m comment --comment ns1/svc1:p80 -m statistic --mode random'
    ' --probability 0.3333333333 -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-X -m comment --comment ns1/svc1:p80 -m recent --name KUBE-SEP-X --rcheck'
    ' --seconds 10800 --reap -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-X -m comment --comment "x" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8'
    ' -j DNAT --to-destination 10.0.0.1:80',
    '-A KUBE-SVC-X -p tcp -m comment --comment "x" --dport 80:80 -m conntrack'
    ' --ctstate ESTABLISHED,NEW,DNAT -j ACCEPT',
    '-A KUBE-SVC-X -s 10.1.2.3/8 -p 17 --sport :1000 -j MARK --set-mark 0x10/0xff',
    '-A KUBE-SVC-X -m mark --mark 16 -m addrtype --dst-type local,UNICAST -j RETURN',
    'COMMIT',
    '*filter',
    ':KUBE-SERVICES - [0:0]',
    '-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46'
    ' --dport 80 -j REJECT',
    '-A KUBE-SERVICES -p tcp --syn -j REJECT --reject-with tcp-rst',
    '-A KUBE-SERVICES -p icmp --icmp-type echo-request -j LOG --log-prefix "hi there" --log-level info',
    'COMMIT',
)

MODULES_AND_TARGETS = _lines(
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':X - [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    '-A PREROUTING -i + -p all -s 0.0.0.0/0 -j X',
    '-A X -s 10.0.0.1,10.0.0.2 -d 1.1.1.1,2.2.2.2/24 -j RETURN',
    '-A PREROUTING -p tcp -m multiport --dports 80,443,8000:8080,9000:9001 -j REDIRECT --to-ports 8080-8080',
    '-A POSTROUTING -p udp -j SNAT --to-source 1.2.3.4-1.2.3.4:100-200 --random --persistent',
    '-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4-1.2.3.9',
    '-A X -m conntrack --ctorigdst 10.0.0.1/32 --ctproto tcp --ctstatus CONFIRMED,ASSURED --ctexpire 5:5 -j ACCEPT',
    '-A X -m conntrack --ctorigsrc 10.0.0.0/8 ! --ctstate NEW -j ACCEPT',
    '-A X -m state --state ESTABLISHED,RELATED -j ACCEPT',
    '-A X -m statistic --mode nth --every 3 --packet 0 -j ACCEPT',
    '-A X -m statistic --mode nth --every 3 --packet 2 -j ACCEPT',
    '-A X -m statistic --mode random ! --probability 0.25 -j ACCEPT',
    '-A X -p tcp --tcp-flags ALL NONE -j ACCEPT',
    '-A X -p tcp ! --syn --dport 22 --sport 1024: -j ACCEPT',
    '-A X -m recent --set --name foo --rdest -j ACCEPT',
    '-A X -m recent ! --update --hitcount 3 --rttl -j ACCEPT',
    '-A X -s 10.11.12.13/255.0.255.0 -j ACCEPT',
    '-A X -m physdev --physdev-out eth0 --physdev-is-in -j ACCEPT',
    '-A X -o eth+ ! -i lo -p icmp --icmp-type port-unreachable -j ACCEPT',
    '-A X -p icmp --icmp-type any -j ACCEPT',
    'COMMIT',
    '*mangle',
    ':OUTPUT ACCEPT [0:0]',
    '-A OUTPUT -j CONNMARK --save-mark',
    '-A OUTPUT -j CONNMARK --restore-mark --mask 0xff',
    '-A OUTPUT -j CONNMARK --set-mark 5',
    '-A OUTPUT -j MARK --and-mark 0xff',
    '-A OUTPUT -j MARK --set-mark 0x1/0x3',
    '-A OUTPUT -m connmark ! --mark 0x1/0xffffffff -j NFLOG --nflog-group 5 --nflog-prefix pre --nflog-threshold 1',
    '-A OUTPUT -m comment --comment "" -j ACCEPT',
    '-A OUTPUT -m comment --comment "a\\\\b" -j LOG --log-level warning',
    '-A OUTPUT -m limit --limit 5/min --limit-burst 5 -j ACCEPT',
    '-A OUTPUT -m mark --mark 010 -j ACCEPT',
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    '-A INPUT -m limit --limit 300/hour --limit-burst 10 -j ACCEPT',
    '-A INPUT -m limit --limit 7/s -j ACCEPT',
    '-A INPUT -m limit --limit 1/d -j ACCEPT',
    '-A INPUT -m limit --limit 1000/minute -j ACCEPT',
    '-A INPUT -m limit -j ACCEPT',
    'COMMIT',
)

IPV6 = _lines(
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':KUBE-SVC-X - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::41'
    ' --dport 80 ! -s fd00:10::/64 -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-X -m recent --name KUBE-SEP-X --rcheck --seconds 10800 --reap -j KUBE-MARK-MASQ',
    '-A PREROUTING -m tcp -p tcp -j DNAT --to-destination [fd00:10::0001]:80',
    '-A PREROUTING -p udp -j DNAT --to-destination fd00:10::1',
    '-A PREROUTING -s 2001:DB8::5/48 -p ipv6-icmp --icmpv6-type echo-request -j ACCEPT',
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    '-A INPUT -p tcp -j REJECT',
    '-A INPUT -p icmpv6 -j REJECT --reject-with adm-prohibited',
    'COMMIT',
)


def test_kube_proxy_like_rules(kernel_iptables: None) -> None:
    _assert_same_as_kernel(KUBE_PROXY_LIKE)


def test_other_modules_and_targets(kernel_iptables: None) -> None:
    _assert_same_as_kernel(MODULES_AND_TARGETS)


def test_ipv6(kernel_iptables: None) -> None:
    _assert_same_as_kernel(IPV6, ipv6=True)


@pytest.mark.parametrize("path", sorted(ROOT.glob("rulesets/*/upstream.rules")), ids=lambda p: p.parent.name)
def test_upstream_kube_proxy_dumps(kernel_iptables: None, path: Path) -> None:
    # nfacct objects do not exist in a fresh namespace; the rest loads as kube-proxy writes it.
    text = re.sub(r" -m nfacct --nfacct-name \S+", "", path.read_text())
    _assert_same_as_kernel(text, ipv6=parse_ruleset(text).ipv6)


MAPPED_SOURCES = ("::ffff:10.244.1.5", "::ffff:0.0.0.1", "::ffff:255.255.255.255")


def test_an_ipv4_mapped_address_is_printed_as_ip6tables_prints_it(kernel_iptables: None) -> None:
    """The evaluator's text of an IPv4-mapped address (a trace's source, a DNAT destination) is the one
    ip6tables-save prints for it: ``::ffff:10.244.1.5``, not Python 3.11's ``::ffff:af4:105``."""
    from kubeproxy_sim.netfilter.packet import format_address, parse_address

    rules = [f"-A INPUT -s {format_address(*parse_address(s))}/128 -j ACCEPT" for s in MAPPED_SOURCES]
    saved = _by_table(_kernel_save(_lines("*filter", ":INPUT ACCEPT [0:0]", *rules, "COMMIT"), True))
    assert [line for line in saved["*filter"] if line.startswith("-A")] == [
        f"-A INPUT -s {s}/128 -j ACCEPT" for s in MAPPED_SOURCES]
