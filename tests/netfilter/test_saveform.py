"""The save form: how iptables-save prints rules that iptables-restore loaded.

The expected lines below are what iptables-save v1.8.9 printed for the given
restore input (checked in a network namespace; tests/netfilter/test_saveform_kernel.py
repeats that check when the machine allows), and the real-world dumps in
shared/realworld-dumps are by construction already in save form.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.model import Chain, Rule, Ruleset, Table
from kubeproxy_sim.netfilter.saveform import (
    probability_text,
    render_save,
    render_save_spec,
    render_saved,
    save_address,
    save_lines,
    save_specs,
    save_string,
    to_save_form,
)
from tests.budget import budget

ROOT = Path(__file__).resolve().parents[2]
DUMPS = sorted((ROOT.parent / "shared" / "realworld-dumps").glob("*.rules"))

# (restore input, iptables-save output) for one rule each, IPv4.
EXAMPLES_V4 = [
    ("-j MARK --or-mark 0x4000", "-j MARK --set-xmark 0x4000/0x4000"),
    ("-j MARK --xor-mark 0x4000", "-j MARK --set-xmark 0x4000/0x0"),
    ("-j MARK --and-mark 0xff", "-j MARK --set-xmark 0x0/0xffffff00"),
    ("-j MARK --set-mark 0x1/0x3", "-j MARK --set-xmark 0x1/0x3"),
    ("-j CONNMARK --set-mark 5", "-j CONNMARK --set-xmark 0x5/0xffffffff"),
    ("-j CONNMARK --save-mark", "-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff"),
    ('-m comment --comment "it\'s a \\"test\\"" -j MASQUERADE --random-fully',
     '-m comment --comment "it\\\'s a \\"test\\"" -j MASQUERADE --random-fully'),
    ("-m comment --comment ns1/svc1:p80 -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-X",
     '-m comment --comment "ns1/svc1:p80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-X'),
    ("-m comment --comment ns1/svc1:p80 -m recent --name KUBE-SEP-X --rcheck --seconds 10800 --reap -j KUBE-SEP-X",
     '-m comment --comment "ns1/svc1:p80" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-X '
     "--mask 255.255.255.255 --rsource -j KUBE-SEP-X"),
    ("-m recent --set --name foo --rdest -j ACCEPT",
     "-m recent --set --name foo --mask 255.255.255.255 --rdest -j ACCEPT"),
    ('-m comment --comment "x" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j DNAT '
     "--to-destination 10.0.0.1:80",
     "! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment x -m tcp --dport 80 -j DNAT "
     "--to-destination 10.0.0.1:80"),
    ('-p tcp -m comment --comment "x" --dport 80:80 -m conntrack --ctstate ESTABLISHED,NEW,DNAT -j ACCEPT',
     "-p tcp -m comment --comment x -m tcp --dport 80 -m conntrack --ctstate NEW,ESTABLISHED,DNAT -j ACCEPT"),
    ("-s 10.1.2.3/8 -p 17 --sport :1000 -j MARK --set-mark 0x10/0xff",
     "-s 10.0.0.0/8 -p udp -m udp --sport 0:1000 -j MARK --set-xmark 0x10/0xff"),
    ("-m mark --mark 16 -m addrtype --dst-type local,UNICAST -j RETURN",
     "-m mark --mark 0x10 -m addrtype --dst-type UNICAST,LOCAL -j RETURN"),
    ('-m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT',
     '-d 172.30.0.46/32 -p tcp -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp --dport 80 '
     "-j REJECT --reject-with icmp-port-unreachable"),
    ("-p tcp --syn -j REJECT --reject-with tcp-rst",
     "-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j REJECT --reject-with tcp-reset"),
    ('-p icmp --icmp-type echo-request -j LOG --log-prefix "hi there" --log-level info',
     '-p icmp -m icmp --icmp-type 8 -j LOG --log-prefix "hi there" --log-level 6'),
    ("-i + -p all -s 0.0.0.0/0 -j RETURN", "-j RETURN"),
    ("-p tcp -m multiport --dports 80,443,8000:8080 -j REDIRECT --to-ports 8080-8080",
     "-p tcp -m multiport --dports 80,443,8000:8080 -j REDIRECT --to-ports 8080"),
    ("-p udp -j SNAT --to-source 1.2.3.4-1.2.3.4:100-200 --random --persistent",
     "-p udp -j SNAT --to-source 1.2.3.4:100-200 --random --persistent"),
    ("-m conntrack --ctorigdst 10.0.0.1/32 --ctproto tcp --ctstatus CONFIRMED,ASSURED --ctexpire 5:5 -j ACCEPT",
     "-m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctstatus ASSURED,CONFIRMED --ctexpire 5 -j ACCEPT"),
    ("-m conntrack --ctorigsrc 10.0.0.0/8 ! --ctstate NEW -j ACCEPT",
     "-m conntrack ! --ctstate NEW --ctorigsrc 10.0.0.0/8 -j ACCEPT"),
    ("-m state --state ESTABLISHED,RELATED -j ACCEPT", "-m state --state RELATED,ESTABLISHED -j ACCEPT"),
    ("-m statistic --mode random ! --probability 0.25 -j ACCEPT",
     "-m statistic --mode random ! --probability 0.25000000000 -j ACCEPT"),
    ("-p tcp --tcp-flags ALL NONE -j ACCEPT", "-p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j ACCEPT"),
    ("-p tcp ! --syn --dport 22 --sport 1024: -j ACCEPT",
     "-p tcp -m tcp --sport 1024:65535 --dport 22 ! --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT"),
    ("-m recent ! --update --hitcount 3 --rttl -j ACCEPT",
     "-m recent ! --update --hitcount 3 --rttl --name DEFAULT --mask 255.255.255.255 --rsource -j ACCEPT"),
    ("-s 10.11.12.13/255.0.255.0 -j ACCEPT", "-s 10.0.12.0/255.0.255.0 -j ACCEPT"),
    ("-m physdev --physdev-out eth0 --physdev-is-in -j ACCEPT",
     "-m physdev --physdev-is-in --physdev-out eth0 -j ACCEPT"),
    ("-o eth+ ! -i lo -p icmp --icmp-type port-unreachable -j ACCEPT",
     "! -i lo -o eth+ -p icmp -m icmp --icmp-type 3/3 -j ACCEPT"),
    ("-m connmark ! --mark 0x1/0xffffffff -j NFLOG --nflog-group 5 --nflog-prefix pre",
     "-m connmark ! --mark 0x1 -j NFLOG --nflog-prefix pre --nflog-group 5"),
    ('-m comment --comment "" -j ACCEPT', '-m comment --comment "" -j ACCEPT'),
    ("-m limit --limit 5/min --limit-burst 5 -j ACCEPT", "-m limit --limit 5/min -j ACCEPT"),
    ("-m limit --limit 300/hour --limit-burst 10 -j ACCEPT", "-m limit --limit 5/min --limit-burst 10 -j ACCEPT"),
    ("-m limit -j ACCEPT", "-m limit --limit 3/hour -j ACCEPT"),
    ("-m mark --mark 010 -j ACCEPT", "-m mark --mark 0x8 -j ACCEPT"),
]

EXAMPLES_V6 = [
    ('-m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::41 --dport 80 '
     "! -s fd00:10::/64 -j KUBE-MARK-MASQ",
     '! -s fd00:10::/64 -d fd00:172:30::41/128 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" '
     "-m tcp --dport 80 -j KUBE-MARK-MASQ"),
    ("-m recent --name KUBE-SEP-X --rcheck --seconds 10800 --reap -j KUBE-MARK-MASQ",
     "-m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-X --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
     "--rsource -j KUBE-MARK-MASQ"),
    ("-m tcp -p tcp -j DNAT --to-destination [fd00:10::0001]:80",
     "-p tcp -m tcp -j DNAT --to-destination [fd00:10::1]:80"),
    ("-p udp -j DNAT --to-destination fd00:10::1", "-p udp -j DNAT --to-destination fd00:10::1"),
    ("-s 2001:DB8::5/48 -p ipv6-icmp --icmpv6-type echo-request -j ACCEPT",
     "-s 2001:db8::/48 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT"),
    ("-p tcp -j REJECT", "-p tcp -j REJECT --reject-with icmp6-port-unreachable"),
    ("-p icmpv6 -j REJECT --reject-with adm-prohibited",
     "-p ipv6-icmp -j REJECT --reject-with icmp6-adm-prohibited"),
]


def _saved_line(spec_text: str, ipv6: bool) -> str:
    specs = save_specs(syntax.parse_spec(spec_text), ipv6)
    assert len(specs) == 1
    return render_save_spec(specs[0])


@pytest.mark.parametrize(("given_text", "saved"), EXAMPLES_V4)
def test_ipv4_rules_print_as_iptables_save_prints_them(given_text: str, saved: str) -> None:
    assert _saved_line(given_text, False) == saved
    assert _saved_line(saved, False) == saved  # the save form is a fixed point


@pytest.mark.parametrize(("given_text", "saved"), EXAMPLES_V6)
def test_ipv6_rules_print_as_ip6tables_save_prints_them(given_text: str, saved: str) -> None:
    assert _saved_line(given_text, True) == saved
    assert _saved_line(saved, True) == saved


def test_address_lists_become_one_rule_per_pair() -> None:
    specs = save_specs(syntax.parse_spec("-s 10.0.0.1,10.0.0.2 -d 1.1.1.1,2.2.2.2/24 -j RETURN"))
    assert [render_save_spec(s) for s in specs] == [
        "-s 10.0.0.1/32 -d 1.1.1.1/32 -j RETURN", "-s 10.0.0.1/32 -d 2.2.2.0/24 -j RETURN",
        "-s 10.0.0.2/32 -d 1.1.1.1/32 -j RETURN", "-s 10.0.0.2/32 -d 2.2.2.0/24 -j RETURN",
    ]


def test_values_it_cannot_read_are_kept_verbatim() -> None:
    assert save_address("x.x.x.x/32", False) == "x.x.x.x/32"
    assert _saved_line("-d x.x.x.x/32 -p udp -m udp --dport 53 -j ACCEPT", False) == (
        "-d x.x.x.x/32 -p udp -m udp --dport 53 -j ACCEPT")
    assert _saved_line("-m foo --bar baz -j ACCEPT", False) == "-m foo --bar baz -j ACCEPT"


@pytest.mark.parametrize(("given", "printed"), [
    ("0.5000000000", "0.50000000000"), ("0.3333333333", "0.33333333349"), ("0.2500000000", "0.25000000000"),
    ("0.1000000000", "0.10000000009"), ("0.0010000000", "0.00100000016"), ("1", "1.00000000000"),
    ("0", "0.00000000000"),
])
def test_probability_is_the_kernels_31_bit_fraction(given: str, printed: str) -> None:
    assert probability_text(given) == printed


@pytest.mark.parametrize(("value", "printed"), [
    ("abc-_09", "abc-_09"), ("a b", '"a b"'), ("ns1/svc1:p80", '"ns1/svc1:p80"'), ("", '""'),
    ("it's", '"it\\\'s"'), ('say "x"', '"say \\"x\\""'), ("a\\b", '"a\\\\b"'),
])
def test_save_string_quotes_like_xtables(value: str, printed: str) -> None:
    assert save_string(value) == printed


def test_chains_are_listed_builtins_first_then_sorted_and_deleted_chains_are_gone() -> None:
    table = Table("nat", (
        Chain("KUBE-SVC-B", (Rule("KUBE-SVC-B", "-j ACCEPT"),)),
        Chain("KUBE-SERVICES"), Chain("OUTPUT", (), "ACCEPT", (1, 2)), Chain("KUBE-SVC-OLD"),
        Chain("KUBE-MARK-MASQ", (Rule("KUBE-MARK-MASQ", "-j MARK --or-mark 0x4000"),)),
    ), deleted=("KUBE-SVC-OLD",))
    saved = to_save_form(Ruleset((table,))).tables[0]
    assert [(c.name, c.policy) for c in saved.chains] == [
        ("PREROUTING", "ACCEPT"), ("INPUT", "ACCEPT"), ("OUTPUT", "ACCEPT"), ("POSTROUTING", "ACCEPT"),
        ("KUBE-MARK-MASQ", None), ("KUBE-SERVICES", None), ("KUBE-SVC-B", None)]
    assert saved.deleted == ()
    assert saved.chain("KUBE-MARK-MASQ").rules[0].spec == "-j MARK --set-xmark 0x4000/0x4000"  # type: ignore[union-attr]
    assert saved.chain("OUTPUT").counters == (1, 2)  # type: ignore[union-attr]


def test_saved_rules_carry_their_typed_view() -> None:
    rs = parse_ruleset("*nat\n:X - [0:0]\n-A X -m tcp -p tcp -d 10.0.0.1 --dport 80 -j ACCEPT\nCOMMIT\n")
    rule = to_save_form(rs).tables[0].chain("X").rules[0]  # type: ignore[union-attr]
    assert rule._parsed is not None
    assert rule.spec == "-d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j ACCEPT"
    assert syntax.parse_spec(rule.spec) == rule.parsed


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.name[:2])
def test_real_dumps_are_already_in_save_form(path: Path) -> None:
    text = path.read_text()
    parsed = parse_ruleset(text, file=str(path))
    assert to_save_form(parsed) == parsed


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.name[:2])
def test_rendering_the_save_form_reproduces_every_rule_line_of_a_real_dump(path: Path) -> None:
    text = path.read_text()
    rendered = render_save(to_save_form(parse_ruleset(text)))
    assert [line for line in rendered.split("\n") if line.startswith("-A ")] == [
        line for line in text.split("\n") if line.startswith("-A ")]


def test_kube_proxy_output_normalises_to_a_fixed_point() -> None:
    for path in sorted(ROOT.glob("rulesets/*/upstream.rules")):
        saved = to_save_form(parse_ruleset(path.read_text()))
        assert to_save_form(saved) == saved
        assert parse_ruleset(render_save(saved)) == saved


rule_texts = st.lists(st.sampled_from([t for t, _ in EXAMPLES_V4] + [s for _, s in EXAMPLES_V4]), max_size=6)


@settings(max_examples=budget(60), deadline=None)
@given(rule_texts)
def test_save_form_is_idempotent_and_reparses(texts: list[str]) -> None:
    body = "".join(f"-A X {t}\n" for t in texts if "-j REJECT" not in t)
    rejects = "".join(f"-A X {t}\n" for t in texts if "-j REJECT" in t)  # the kernel takes REJECT in filter alone
    declared = ":X - [0:0]\n:KUBE-SEP-X - [0:0]\n"  # (the chains the rules jump to)
    rs = parse_ruleset(f"*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n{declared}{body}COMMIT\n"
                       f"*filter\n{declared}{rejects}COMMIT\n")
    saved = to_save_form(rs)
    assert to_save_form(saved) == saved
    assert parse_ruleset(render_save(saved), ipv6=False) == saved


def _netaddr_save_address(value: str, host_suffix: bool) -> str:
    """save_address without its fast path for hosts: netaddr's strict parse, then the network and prefix."""
    import netaddr

    addr, _, mask = value.partition("/")
    try:
        ip = netaddr.IPAddress(addr, 4, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError):
        return value
    if mask not in ("", "32"):
        return save_address(value, False, host_suffix=host_suffix)  # not the fast path's business
    return f"{ip}/32" if host_suffix else str(ip)


_octets = st.one_of(st.integers(0, 255).map(str), st.sampled_from(["01", "00", "256", "1a", "", " 1", "٣"]))


@given(st.lists(_octets, min_size=3, max_size=5).map(".".join), st.sampled_from(["", "/32", "/24", "/255.0.0.0"]),
       st.booleans())
def test_the_host_fast_path_prints_what_netaddr_prints(address: str, mask: str, host_suffix: bool) -> None:
    assert save_address(address + mask, False, host_suffix=host_suffix) == \
        _netaddr_save_address(address + mask, host_suffix)


@given(st.lists(st.sampled_from(["--a", "--b", "--c", "--x", "--y"]), max_size=6),
       st.lists(st.sampled_from(["--a", "--b", "--c"]), max_size=4).map(tuple))
def test_in_order_puts_known_flags_in_order_then_the_rest_as_written(flags: list[str], order: tuple) -> None:
    from kubeproxy_sim.netfilter.model import Option
    from kubeproxy_sim.netfilter.saveform import _in_order

    options = [Option(flag, (str(i),), False, "m") for i, flag in enumerate(flags)]
    known = [o for flag in dict.fromkeys(order) for o in options if o.flag == flag]
    assert _in_order(options, order) == known + [o for o in options if o.flag not in order]


def _node_tables(scenario: str) -> Ruleset:
    from kubeproxy_sim.cli.options import REPO_RULESETS, config_from_args, scenario_args
    from kubeproxy_sim.objects import load_paths
    from kubeproxy_sim.proxier import generate
    from kubeproxy_sim.proxier.full import node_tables

    directory = REPO_RULESETS / scenario
    cluster = load_paths([str(directory / "objects.yaml")]).cluster
    result = generate(cluster, config_from_args(scenario_args(directory), cluster))
    return node_tables(result.ruleset, result.jumps)


@pytest.mark.parametrize("scenario", sorted(p.parent.name for p in
                                            (Path(__file__).resolve().parents[2] / "rulesets").glob("*/full.golden")))
def test_generated_rules_are_numbered_as_rules_full_prints_them(scenario: str) -> None:
    """A trace of generated rules names lines of `rules --full`'s output: each rule's number is the line where
    the save form prints that rule."""
    from kubeproxy_sim.netfilter.saveform import numbered_as_saved, save_rule_line

    tables = _node_tables(scenario)
    saved = to_save_form(tables)
    printed = render_saved(save_lines(tables)).splitlines()  # what `rules --full` prints
    for table, saved_table in zip(numbered_as_saved(tables).tables, saved.tables, strict=True):
        for chain in table.chains:
            saved_rules = saved_table.chain(chain.name).rules
            assert len(saved_rules) == len(chain.rules)  # one line per rule: nothing expanded
            for rule, saved_rule in zip(chain.rules, saved_rules, strict=True):
                assert printed[rule.line - 1] == save_rule_line(chain.name, saved_rule)


TEXTS_OF_ONE_PASS = [
    '-m comment --comment default/kubernetes:https -j KUBE-SVC-X',
    '-m comment --comment "it\'s \\"quoted\\"" -m nfacct --nfacct-name acct -j ACCEPT',
    '-p tcp -m tcp --dport 80 -j LOG --log-prefix "hi there" --log-level 6',
    '-j NFLOG --nflog-prefix pre --nflog-group 5',
    '-s 10.0.0.1/32 -j "-odd"',
    '! -d 10.0.0.0/8 -m comment --comment x -g "-odd"',
    '-m nfacct --nfacct-name n',
    '-p tcp -m tcp --dport 80',
    '',
]


@pytest.mark.parametrize("text", TEXTS_OF_ONE_PASS)
def test_to_save_form_keeps_each_rules_iptables_save_text(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """to_save_form renders a rule's canonical text and its iptables-save text in one pass and keeps the latter
    with the rule, so render_save and save_rule_line print it without rendering the rule a second time
    (QA-perf 5: each rule was rendered twice at 10,000 services)."""
    from kubeproxy_sim.netfilter import saveform

    ruleset = to_save_form(Ruleset((Table("filter", (Chain("X", (Rule("X", text),)),)),)))
    rule = next(r for t in ruleset.tables for c in t.chains for r in c.rules)
    assert rule.spec == syntax.render_spec(rule.parsed)
    assert rule._save_text == render_save_spec(rule.parsed)
    expected = render_save(ruleset)
    monkeypatch.setattr(saveform, "render_save_spec", lambda spec: pytest.fail("rendered again"))
    assert render_save(ruleset) == expected
    assert saveform.save_rule_line("X", rule) in expected.splitlines()


@pytest.mark.skipif(not DUMPS, reason="no real-world dumps")
def test_kept_save_texts_are_what_render_save_spec_prints_for_every_real_world_rule() -> None:
    for path in DUMPS:
        ruleset = to_save_form(parse_ruleset(path.read_text()))
        for rule in (r for t in ruleset.tables for c in t.chains for r in c.rules):
            assert rule.spec == syntax.render_spec(rule.parsed), (path.name, rule.spec)
            assert rule._save_text == render_save_spec(rule.parsed), (path.name, rule.spec)


def _every_ruleset() -> list[Ruleset]:
    from tests.realworld import DUMPS as REALWORLD

    texts = [path.read_text() for path in [*sorted(ROOT.glob("rulesets/*/*.rules")),
                                           *sorted(ROOT.glob("rulesets/*/*.golden")),
                                           *sorted(REALWORLD.glob("*.rules"))]]
    parsed = []
    for text in texts:
        try:
            parsed.append(parse_ruleset(text))
        except RulesSyntaxError:  # a golden file that is no ruleset
            continue
    generated = [_node_tables(p.parent.name) for p in sorted(ROOT.glob("rulesets/*/full.golden"))]
    return parsed + generated


def test_rules_planned_by_shape_save_as_save_specs_saves_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """save_lines (`rules --full`) converts each skeleton once and each group's values once (RuleShapes), and
    prints exactly what converting every rule through save_specs prints (to_save_form, then render_save), on
    every scenario's node, golden ruleset and real-world dump."""
    from kubeproxy_sim.netfilter import saveform

    rulesets = _every_ruleset()
    assert len(rulesets) > 20 and any(r.ipv6 for r in rulesets)
    with monkeypatch.context() as patched:  # the reference shares no plan with what it checks
        patched.setattr(saveform, "RuleShapes", lambda *a, **k: pytest.fail("the reference planned by shape"))
        reference = [render_save(to_save_form(ruleset)) for ruleset in rulesets]
    for ruleset, text in zip(rulesets, reference, strict=True):
        assert render_saved(save_lines(ruleset)) == text


_HOSTS = st.sampled_from(["10.0.0.1", "10.0.0.1/32", "10.0.0.0/8", "010.0.0.1", "256.0.0.1", "0.0.0.0/0", "a.b",
                          "x.x.x.x", "10.0.0.1,10.0.0.2", "1.2.3.4/255.255.255.0", "-1", "::1"])
_DESTINATIONS = st.sampled_from(["10.0.0.1:80", "10.0.0.1:080", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1",
                                 "10.0.0.1-10.0.0.9:80", "10.0.0.1:80-80", "010.0.0.1:80", "x.x.x.x:80",
                                 "10.0.0.1:", "10.0.0.1:٣"])
_NAMES = st.sampled_from(["KUBE-SEP-ABC", "ACCEPT", "MARK", "REJECT", "DNAT", "MASQUERADE", '"-odd"', "-5",
                          "LOG"])


@settings(max_examples=budget(200), deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.sampled_from(["-s", "! -s", "-d", "! -d"]), _HOSTS).map(lambda t: f"{t[0]} {t[1]} -j RETURN"),
    _DESTINATIONS.map(lambda d: f"-m tcp -p tcp -j DNAT --to-destination {d}"),
    st.tuples(st.sampled_from(["-j", "-g"]), _NAMES).map(" ".join),
), min_size=1, max_size=8), st.booleans())
def test_the_shortcut_groups_save_as_save_specs_saves_them(texts: list[str], ipv6: bool) -> None:
    """A host, a DNAT destination and a jump, the values unique to a rule, are written directly when in
    kube-proxy's form: any value gives what save_specs gives (or, like it, expands or is left as it is)."""
    from kubeproxy_sim.netfilter import saveform

    body = "".join(f"-A X {t}\n" for t in texts)
    try:
        ruleset = parse_ruleset(f"*nat\n:X - [0:0]\n{body}COMMIT\n", ipv6=ipv6)
    except RulesSyntaxError:
        return  # text the parser refuses (an address of the other family)
    shapes = saveform.RuleShapes(ipv6)
    memo: saveform.SaveMemo = {}
    for rule in ruleset.tables[0].chains[0].rules:
        reference = [render_save_spec(s) for s in save_specs(rule.parsed, ipv6, memo)]
        save_text = shapes.save_text(rule.spec)
        if save_text is None:  # no plan: save_specs decides (a rule iptables expands)
            continue
        assert [save_text] == reference


def test_rules_full_prints_the_lines_without_building_the_saved_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """rules --full (text and -o json) prints save_lines' lines: the same as the saved ruleset's, and no saved Rule
    is made for them (they were most of its memory at 10,000 services)."""
    from kubeproxy_sim.cli.rules_cmd import render_rules, rules_data
    from kubeproxy_sim.netfilter import saveform
    from kubeproxy_sim.netfilter.saveform import save_rule_line

    tables = _node_tables("bootcamp")
    saved = to_save_form(tables)
    monkeypatch.setattr(saveform, "_save_rules", lambda *a: pytest.fail("a saved rule was built"))
    form = save_lines(tables)
    assert render_rules(form) == render_save(saved)
    assert rules_data(form) == {"tables": [
        {"name": table.name, "chains": [{"name": c.name, "policy": c.policy,
                                         "rules": [save_rule_line(c.name, r) for r in c.rules]} for c in table.chains]}
        for table in saved.tables]}


def test_numbering_builds_no_rule_and_makes_no_garbage_cycle(collector_off: None) -> None:
    """numbered_as_saved works out each chain's first line only: a generated chain numbers its rules when they are
    first read (a trace reads the chains its packet enters), as lines of the same `rules --full` output; it runs
    with the collector paused (and frozen on the way out at 10,000 services), so it may make no reference cycle."""
    import gc

    from kubeproxy_sim.netfilter.saveform import numbered_as_saved, save_rule_line

    tables = _node_tables("session-affinity")
    saved = to_save_form(tables)
    printed = render_saved(save_lines(tables)).splitlines()  # what `rules --full` prints
    gc.collect()  # loading the objects may leave some
    numbered = numbered_as_saved(tables)
    assert gc.collect() == 0
    generated = [(t.name, c) for t in numbered.tables for c in t.chains if c.specs is not None]
    assert generated and all(c._rules is None for _, c in generated)
    for table, chain in generated:
        saved_rules = saved.table(table).chain(chain.name).rules  # type: ignore[union-attr]
        assert [printed[r.line - 1] for r in chain.rules] == [save_rule_line(chain.name, r) for r in saved_rules]
