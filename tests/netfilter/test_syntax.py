"""One rule's syntax: tokenizing as iptables-restore does, option ownership, canonical text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter.model import Option
from kubeproxy_sim.netfilter.syntax import parse_spec, quote, render_spec, tokenize

KUBE_PROXY_SPECS = [
    '-m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 '
    "-j KUBE-SVC-XPGD46QRK7WJZT7O",
    "-m comment --comment ns1/svc1:p80 -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-X",
    "-m comment --comment ns1/svc1:p80 -m recent --name KUBE-SEP-X --rcheck --seconds 10800 --reap -j KUBE-SEP-X",
    "-m mark ! --mark 0x4000/0x4000 -j RETURN",
    "-j MASQUERADE --random-fully",
    "-m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80",
    '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" '
    "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS",
    "-m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP",
    "-m tcp -p tcp -d fd00:172:30::41 --dport 80 -j DNAT --to-destination [fd00:10::1]:80",
]


@pytest.mark.parametrize("spec", KUBE_PROXY_SPECS)
def test_kube_proxy_text_is_canonical(spec: str) -> None:
    assert render_spec(parse_spec(spec)) == spec


def test_options_belong_to_their_module() -> None:
    parsed = parse_spec(KUBE_PROXY_SPECS[0])
    owners = {o.flag: o.module for o in parsed.options}
    assert owners["--comment"] == "comment" and owners["--dport"] == "tcp"
    assert owners["-p"] == "" and owners["-d"] == ""
    assert parsed.target is not None and parsed.target.name == "KUBE-SVC-XPGD46QRK7WJZT7O"


def test_implicit_protocol_module_and_negation() -> None:
    parsed = parse_spec("-p udp --dport 53 ! -s 10.0.0.0/8 -j ACCEPT")
    assert Option("--dport", ("53",), False, "udp") in parsed.options
    assert Option("-s", ("10.0.0.0/8",), True, "") in parsed.options
    assert render_spec(parsed) == "-p udp --dport 53 ! -s 10.0.0.0/8 -j ACCEPT"


def test_long_flags_and_aliases_become_canonical() -> None:
    parsed = parse_spec("--protocol tcp --match tcp --destination-port 80 --source 1.2.3.4 --jump ACCEPT")
    assert render_spec(parsed) == "-p tcp -m tcp --dport 80 -s 1.2.3.4 -j ACCEPT"


def test_target_options_and_goto() -> None:
    parsed = parse_spec("-g KUBE-X")
    assert parsed.target is not None and parsed.target.goto and render_spec(parsed) == "-g KUBE-X"
    dnat = parse_spec("-p tcp -j DNAT --to-destination 10.0.0.1:80 --random").target
    assert dnat is not None
    assert dnat.option("--to-destination") == Option("--to-destination", ("10.0.0.1:80",), False, "DNAT")


def test_unknown_module_keeps_its_options_verbatim() -> None:
    spec = "-m weird --frob 1 2 --flag -j ACCEPT"
    parsed = parse_spec(spec)
    assert [o.module for o in parsed.options] == ["weird", "weird", "weird"]
    assert render_spec(parsed) == spec


def test_tokenizer_quotes_and_escapes() -> None:
    assert [t.text for t in tokenize(r'-m comment --comment "a \"b\" c\\d" -j X')] == [
        "-m", "comment", "--comment", 'a "b" c\\d', "-j", "X"]
    assert [t.text for t in tokenize("a  'b c'")] == ["a", "'b", "c'"]  # single quotes are plain characters


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("foo", "line 7: unexpected value at 'foo'; expected an option such as -s, -m or -j"),
        ("-m", "line 7: -m needs a match module name at 'end of rule'; expected a match module name"),
        ("-p tcp --frob 1",
         "line 7: unknown option at '--frob'; expected an option of a loaded match (-m MODULE) or target"),
        ("-j A -j B", "line 7: a rule has one target at '-j'; expected no second -j/-g"),
        ('-p "tcp', 'line 7: unknown protocol "tcp\\n" specified at \'tcp\\n\'; expected a protocol number 0-255, all '
                    "or a name such as tcp, udp, icmp, ipv6-icmp, esp, gre or ospf (Debian netbase's /etc/protocols)"),
        ("! foo", "line 7: '!' must precede an option at 'foo'; expected an option such as -s or --dport"),
    ],
)
def test_syntax_errors_name_line_token_and_expectation(spec: str, message: str) -> None:
    with pytest.raises(RulesSyntaxError) as info:
        parse_spec(spec, line=7)
    assert str(info.value) == message


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30))
def test_any_value_round_trips_through_quoting(value: str) -> None:
    tokens = tokenize(f"-m comment --comment {quote(value)} -j ACCEPT")
    assert tokens[3].text == value
