"""Input iptables-restore refuses is refused here too, in one line naming the file, the line, the token and
what is expected; and a refusal says what the input most likely is.

Regressions from a QA pass on real dumps (s12, #9 and #13), each checked against iptables-restore and the
kernel by the QA.
"""

from __future__ import annotations

import pytest

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.codec import parse_ruleset

NAT_V4 = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
          "-A PREROUTING -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.0.0.5:6443\nCOMMIT\n")
NAT_V6 = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
          "-A PREROUTING -d fd00::1/128 -p tcp -m tcp --dport 443 -j DNAT --to-destination [fd00::5]:6443\nCOMMIT\n")


def refusal(text: str) -> RulesSyntaxError:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, file="node.rules")
    return info.value


def test_an_ip6tables_save_after_an_iptables_save_is_named() -> None:
    err = refusal(NAT_V4 + NAT_V6)
    assert err.line == 8 and err.token == "*nat"
    assert str(err) == (
        "node.rules:8: table 'nat' appears twice (first at line 1); from here on the addresses are IPv6, as if an "
        "ip6tables-save followed an iptables-save at '*nat'; expected each family in a file of its own: "
        "iptables-save's and ip6tables-save's output saved apart")


def test_a_table_twice_in_one_family_keeps_the_plain_words() -> None:
    err = refusal(NAT_V4 + NAT_V4)
    assert str(err) == "node.rules:8: table 'nat' appears twice (first at line 1) at '*nat'; expected each table once"
    assert "IPv6" not in str(refusal(NAT_V6 + NAT_V6))
