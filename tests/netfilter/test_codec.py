"""iptables-save / iptables-restore text <-> Ruleset: parsing, restore commands, errors, round trips."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import codec, syntax
from kubeproxy_sim.netfilter.codec import is_canonical_text, parse_ruleset, render_ruleset
from kubeproxy_sim.netfilter.model import BUILTIN_CHAINS, Chain, Option, Rule, Ruleset, RuleSpec, Table, Target
from tests.budget import budget
from tests.netfilter.restore_cases import filter_with

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_DUMPS = sorted(ROOT.glob("rulesets/*/upstream.rules"))

# ---------------------------------------------------------------------------
# Strategies: rule specs as the interpreter types them, and whole rulesets
# ---------------------------------------------------------------------------

names = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=28).filter(
    lambda n: n[0] not in "-" and n not in {c for cs in BUILTIN_CHAINS.values() for c in cs}
    and n not in codec.NEW_CHAIN_CLASHES  # (a chain named as a target is refused, or shadows it)
)
ipv4 = st.builds(lambda a, b, c, d, p: f"{a}.{b}.{c}.{d}" + (f"/{p}" if p is not None else ""),
                 *[st.integers(0, 255)] * 4, st.none() | st.integers(0, 32))
free_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e"
                                  "\x85\u2028\u2029"), max_size=30)
ports = st.integers(0, 65535).map(str) | st.tuples(st.integers(0, 65535), st.integers(0, 65535)).map(
    lambda t: f"{min(t)}:{max(t)}")
multiports = st.integers(0, 65535).map(str) | st.lists(st.integers(0, 65535), min_size=2, max_size=2,
                                                       unique=True).map(lambda t: f"{min(t)}:{max(t)}")
"""A multiport item: its range must ascend strictly (iptables: "invalid portrange specified" for 80:80)."""
neg = st.booleans()


@st.composite
def builtin_options(draw: st.DrawFn) -> list[Option]:
    out = []
    for flag in draw(st.lists(st.sampled_from(["-s", "-d", "-i", "-o"]), unique=True, max_size=3)):
        value = draw(ipv4) if flag in ("-s", "-d") else draw(st.sampled_from(["eth0", "cni0", "veth+", "lo"]))
        out.append(Option(flag, (value,), draw(neg)))
    return out


@st.composite
def match_groups(draw: st.DrawFn, protocol: str | None) -> list[Option]:
    out: list[Option] = []
    kinds = ["comment", "mark", "conntrack", "statistic", "recent", "addrtype"]
    if protocol:  # (iptables takes multiport only in a rule of a protocol with ports)
        kinds += [protocol, "multiport"]
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=4)):
        m = Option("-m", (kind,), False, kind)
        if kind == "comment":
            body = [Option("--comment", (draw(free_text),), False, kind)]
        elif kind in ("tcp", "udp"):
            body = [Option(f, (draw(ports),), draw(neg), kind)
                    for f in draw(st.lists(st.sampled_from(["--sport", "--dport"]), unique=True))]
        elif kind in ("mark",):
            body = [Option("--mark", (f"{draw(st.integers(0, 2**32 - 1)):#x}",), draw(neg), kind)]
        elif kind == "conntrack":
            states = draw(st.lists(st.sampled_from(["NEW", "ESTABLISHED", "RELATED", "INVALID", "DNAT"]),
                                   min_size=1, unique=True))
            body = [Option("--ctstate", (",".join(states),), draw(neg), kind)]
        elif kind == "statistic":
            body = [Option("--mode", ("random",), False, kind),
                    Option("--probability", (f"{draw(st.floats(0, 1)):0.10f}",), False, kind)]
        elif kind == "recent":
            body = [Option("--name", (draw(names),), False, kind), Option("--rcheck", (), draw(neg), kind),
                    Option("--seconds", (str(draw(st.integers(1, 100000))),), False, kind),
                    Option("--reap", (), False, kind)]
        elif kind == "addrtype":
            body = [Option(draw(st.sampled_from(["--src-type", "--dst-type"])), ("LOCAL",), draw(neg), kind)]
        else:
            body = [Option("--dports", (",".join(draw(st.lists(multiports, min_size=1, max_size=3))),), draw(neg),
                           kind)]
        out += [m, *body]
    return out


@st.composite
def targets(draw: st.DrawFn, protocol: str | None) -> Target | None:
    kind = draw(st.sampled_from(["none", "verdict", "jump", "goto", "dnat", "mark", "masq"]))
    if kind == "none":
        return None
    if kind == "verdict":
        return Target(draw(st.sampled_from(["ACCEPT", "DROP", "RETURN"])))
    if kind in ("jump", "goto"):
        return Target(draw(names), (), kind == "goto")
    if kind == "dnat":
        port = ":80" if protocol else ""  # iptables takes a port only in a rule of a protocol with ports
        return Target("DNAT", (Option("--to-destination", (f"10.0.0.{draw(st.integers(0, 255))}{port}",), False,
                                      "DNAT"),))
    if kind == "mark":
        return Target("MARK", (Option(draw(st.sampled_from(["--or-mark", "--xor-mark", "--set-xmark"])),
                                      (f"{draw(st.integers(0, 2**32 - 1)):#x}",), False, "MARK"),))
    return Target("MASQUERADE", (Option("--random-fully", (), False, "MASQUERADE"),))


@st.composite
def rule_specs(draw: st.DrawFn) -> RuleSpec:
    options = draw(builtin_options())
    protocol = draw(st.none() | st.sampled_from(["tcp", "udp"]))
    if protocol:
        options.append(Option("-p", (protocol,), False))
    options += draw(match_groups(protocol))
    return RuleSpec(tuple(draw(st.permutations(options)) if not any(o.module for o in options) else options),
                    draw(targets(protocol)))


counters = st.none() | st.tuples(st.integers(0, 10**12), st.integers(1, 10**15))


@st.composite
def rulesets(draw: st.DrawFn) -> Ruleset:
    tables = []
    for table in draw(st.lists(st.sampled_from(sorted(BUILTIN_CHAINS)), unique=True, max_size=3)):
        builtins = [Chain(n, (), draw(st.sampled_from(["ACCEPT", "DROP"])), draw(counters))
                    for n in draw(st.lists(st.sampled_from(BUILTIN_CHAINS[table]), unique=True))]
        users = [Chain(n, (), None, None) for n in draw(st.lists(names, unique=True, max_size=4))]
        # the built-in chains that may reach each chain (kube-proxy's shape: DNAT in chains only PREROUTING and
        # OUTPUT reach, MASQUERADE in one only POSTROUTING reaches); a chain jumps only to one that they all may
        reach = {c.name: frozenset({c.name}) for c in builtins}
        reach |= {c.name: frozenset(draw(st.lists(st.sampled_from([b.name for b in builtins]), unique=True)))
                  if builtins else frozenset() for c in users}
        chains = []
        for chain in builtins + users:
            specs = draw(st.lists(rule_specs().filter(partial(placed, table, chain.name, reach=reach[chain.name])),
                                  max_size=3))
            below = [c.name for c in users[users.index(chain) + 1 if chain in users else 0:]  # (no circle: the
                     if reach[chain.name] <= reach[c.name]]  # kernel refuses one, and so does the parse)
            specs = [draw(jumping_to(below, spec)) for spec in specs]
            rules = tuple(Rule(chain.name, syntax.render_spec(s), 0, draw(counters)) for s in specs)
            chains.append(Chain(chain.name, rules, chain.policy, chain.counters))
        if draw(st.booleans()):  # a circle no built-in chain reaches (no chain jumps into it): both iptables-restores
            # load it, and so must the parse (lower-case names: no drawn name is one)
            chains += [Chain(a, (Rule(a, f"-j {b}", 0, draw(counters)),), None, None)
                       for a, b in (("loop-a", "loop-b"), ("loop-b", "loop-a"))]
        targets = {r.parsed.target.name for c in chains for r in c.rules if r.parsed.target is not None}
        free = sorted(c.name for c in chains
                      if c.name not in BUILTIN_CHAINS[table] and not c.rules and c.name not in targets)
        deleted = tuple(draw(st.lists(st.sampled_from(free), unique=True, max_size=2))) if free else ()  # (-X
        # deletes a declared chain without rules that no rule jumps to: iptables-restore refuses any other)
        tables.append(Table(table, tuple(chains), deleted))
    return Ruleset(tuple(tables), False)


@st.composite
def jumping_to(draw: st.DrawFn, chains: list[str], spec: RuleSpec) -> RuleSpec:
    """``spec`` with its jump (or goto) to one of ``chains``, the table's user chains (iptables-restore refuses a
    jump to no chain declared before it); without its jump when there are none."""
    target = spec.target
    if target is None or target.options or target.name in codec.VERDICTS:
        return spec
    return RuleSpec(spec.options, Target(draw(st.sampled_from(chains)), (), target.goto) if chains else None)


def placed(table: str, chain: str, spec: RuleSpec, reach: frozenset[str] = frozenset()) -> bool:
    """The kernel takes ``spec``'s target in that chain of that table (DNAT only in nat, REJECT only in filter,
    CLASSIFY in any; each only in the built-in chains of its hooks and the user chains only they reach: ``reach``,
    the built-in chains that may jump to a user chain ``chain``), and iptables its interfaces (no -o in INPUT, no
    -i in OUTPUT)."""
    wrong = {"PREROUTING": "-o", "INPUT": "-o", "OUTPUT": "-i", "POSTROUTING": "-i"}.get(chain)
    if any(o.flag == wrong and not o.module for o in spec.options):
        return False
    if spec.target is None or spec.target.name not in codec.TARGET_PLACES:
        return True
    home, hooks = codec.TARGET_PLACES[spec.target.name]
    reached = {chain} if chain in BUILTIN_CHAINS[table] else reach
    return home in (table, None) and reached.issubset(hooks)


def noisy(spec: RuleSpec, draw: st.DrawFn) -> str:
    """Text for ``spec`` in the forms people write: aliases, quotes, blanks."""
    alias = {"-s": "--source", "-d": "--destination", "-p": "--protocol", "-i": "--in-interface",
             "-o": "--out-interface", "--sport": "--source-port", "--dport": "--destination-port",
             "--dports": "--destination-ports", "-m": "--match"}
    words: list[str] = []
    for o in [*spec.options]:
        flag = alias.get(o.flag, o.flag) if draw(st.booleans()) else o.flag
        values = [f'"{a}"' if draw(st.booleans()) and '"' not in a and "\\" not in a else syntax.quote(a)
                  for a in o.args]
        words += (["!"] if o.negated else []) + [flag, *values]  # (not -s ! 10.0.0.1: gone from iptables 1.8.9)
    if spec.target is not None:
        words += [("--goto " if spec.target.goto else "--jump ") + syntax.quote(spec.target.name)]
        words += [syntax.render_option(o) for o in spec.target.options]
    return draw(st.sampled_from([" ", "  ", "\t"])).join(words)


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", UPSTREAM_DUMPS, ids=lambda p: p.parent.name)
def test_kube_proxy_restore_input_round_trips_byte_for_byte(path: Path) -> None:
    text = path.read_text()
    assert render_ruleset(parse_ruleset(text, file=str(path))) == text
    assert render_ruleset(parse_ruleset(text, validate=False)) == text


@settings(max_examples=budget(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rulesets())
def test_parse_of_render_is_identity(ruleset: Ruleset) -> None:
    text = render_ruleset(ruleset)
    parsed = parse_ruleset(text, ipv6=False)
    assert parsed == ruleset
    assert parse_ruleset(text, ipv6=False, validate=False) == ruleset
    assert render_ruleset(parsed) == text
    for table in parsed.tables:
        for rule in table.rules():
            assert syntax.render_spec(rule.parsed) == rule.spec  # (checked while parsing, built on first use)


@settings(max_examples=budget(200), deadline=None)
@given(rule_specs())
def test_typed_view_survives_rendering(spec: RuleSpec) -> None:
    assert syntax.parse_spec(syntax.render_spec(spec)) == spec


@settings(max_examples=budget(200), deadline=None)
@given(rule_specs(), st.data())
def test_any_spelling_renders_to_one_canonical_form(spec: RuleSpec, data: st.DataObject) -> None:
    text = noisy(spec, data.draw)
    canonical = syntax.render_spec(spec)
    table = "nat" if not placed("filter", "X", spec) else "filter"  # X: a user chain, where nat's targets go
    jump = spec.target.name if spec.target is not None and not spec.target.options else "X"
    declared = "" if jump in codec.VERDICTS or jump == "X" else f":{jump} - [0:0]\n"  # (a jump's chain exists)
    dump = f"*{table}\n:X - [0:0]\n{declared}-A X {text}\nCOMMIT\n"
    for validate in (True, False):
        rule = next(parse_ruleset(dump, validate=validate).tables[0].rules())
        assert rule.spec == canonical
        assert rule.parsed == spec


@settings(max_examples=budget(300), deadline=None)
@given(st.text(" \t\"\\!-abcs0:", max_size=30))
def test_fast_tokenizer_agrees_with_the_character_tokenizer(text: str) -> None:
    expected = syntax._tokenize_chars(text)
    assert syntax.tokenize(text) == expected
    split = syntax._split_words(text)
    if split is not None:
        assert split[0] == [t.text for t in expected]


@settings(max_examples=budget(300), deadline=None)
@given(st.text(' \t"\\!-scjm0a', max_size=25))
def test_canonical_check_is_never_wrong(text: str) -> None:
    if not is_canonical_text(text):
        return
    try:
        parsed = syntax.parse_spec(text)
    except RulesSyntaxError:
        return  # not a rule at all: the bulk path reports it when the typed view is first used
    assert syntax.render_spec(parsed) == text


# ---------------------------------------------------------------------------
# What a dump may contain
# ---------------------------------------------------------------------------

SAVE_TEXT = """\
# Warning: iptables-legacy tables present, use iptables-legacy-save to see them
# Generated by iptables-nft-save v1.8.7 on Tue Jan  2 10:00:00 2024
*mangle
:PREROUTING ACCEPT [10:600]
:KUBE-KUBELET-CANARY - [0:0]
COMMIT
# Completed on Tue Jan  2 10:00:00 2024

*nat
:PREROUTING ACCEPT [3:180]
:KUBE-SERVICES - [0:0]
[7:420] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/k8s:https cluster IP" -m tcp --dport 443 -j ACCEPT
COMMIT
"""


def test_iptables_save_text_with_comments_blank_lines_and_counters() -> None:
    rs = parse_ruleset(SAVE_TEXT, file="node.rules")
    assert [t.name for t in rs.tables] == ["mangle", "nat"]
    nat = rs.table("nat")
    assert nat is not None
    pre = nat.chain("PREROUTING")
    assert pre is not None and pre.policy == "ACCEPT" and pre.counters == (3, 180) and pre.builtin
    user = nat.chain("KUBE-SERVICES")
    assert user is not None and user.policy is None and user.counters is None  # [0:0] is stored as None
    first = pre.rules[0]
    assert first.counters == (7, 420) and first.line == 12
    assert first.spec == '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
    svc = user.rules[0]
    assert svc.spec == ('-d 10.96.0.1/32 -p tcp -m comment --comment "default/k8s:https cluster IP" '
                        "-m tcp --dport 443 -j ACCEPT")
    assert svc.parsed.module_options("tcp") == (Option("--dport", ("443",), False, "tcp"),)
    assert render_ruleset(rs).startswith("*mangle\n:PREROUTING ACCEPT [10:600]\n:KUBE-KUBELET-CANARY - [0:0]\n")


def test_quoted_values_are_unescaped_and_requoted_only_when_needed() -> None:
    text = ('*filter\n:X - [0:0]\n-A X -m comment --comment "NOTE: go before \\\'-j KUBE-FORWARD\\\'" -j DROP\n'
            '-A X -m comment --comment "plain" -j DROP\n-A X -m comment --comment "say \\"hi\\"" -j DROP\nCOMMIT\n')
    rules = list(parse_ruleset(text).tables[0].rules())
    assert rules[0].parsed.options[1].args == ("NOTE: go before '-j KUBE-FORWARD'",)
    assert rules[0].spec == "-m comment --comment \"NOTE: go before '-j KUBE-FORWARD'\" -j DROP"
    assert rules[1].spec == "-m comment --comment plain -j DROP"
    assert rules[2].spec == '-m comment --comment "say \\"hi\\"" -j DROP'
    assert rules[2].parsed.options[1].args == ('say "hi"',)


def test_kube_proxy_restore_input_with_deleted_chains() -> None:
    # A partial sync's shape: KUBE-SVC-NEW is not declared (kube-proxy left it as the node holds it, and loads
    # this with iptables-restore --noflush), KUBE-SVC-OLD is declared to be deleted.
    text = ("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-OLD - [0:0]\n"
            "-A KUBE-SERVICES -m comment --comment ns1/svc1:p80 -j KUBE-SVC-NEW\n-X KUBE-SVC-OLD\nCOMMIT\n")
    rs = parse_ruleset(text)
    assert rs.tables[0].deleted == ("KUBE-SVC-OLD",)
    assert [c.name for c in rs.tables[0].chains] == ["KUBE-SERVICES", "KUBE-SVC-OLD"]
    assert render_ruleset(rs) == text
    assert codec.undeclared_jumps(rs) == [("nat", "KUBE-SVC-NEW", 4)]


@pytest.mark.parametrize("path", sorted(ROOT.glob("rulesets/upstream-sync-proxy-rules-repeated/syncs/sync-*.rules")),
                         ids=lambda p: p.name)
def test_upstream_partial_syncs_are_read_with_the_chains_they_leave_on_the_node(path: Path) -> None:
    """kube-proxy's partial restore inputs (TestSyncProxyRulesRepeated) jump to the unchanged services' chains,
    which they do not declare; iptables-restore --noflush takes them (the node holds those chains)."""
    rs = parse_ruleset(path.read_text(), file=str(path))
    missing = codec.undeclared_jumps(rs)
    assert all(table == "nat" and chain.startswith("KUBE-SVC-") for table, chain, _ in missing)
    assert bool(missing) == ("recovery" not in path.name)  # (the recovery sync is a full one)


def test_a_full_dump_still_refuses_a_jump_to_an_undeclared_chain() -> None:
    """Only a table without built-in chains is a --noflush input; one declaring them is a whole table."""
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-NEW\nCOMMIT\n"
    with pytest.raises(RulesSyntaxError, match=r"target KUBE-SVC-NEW is neither") as caught:
        parse_ruleset(text)
    assert caught.value.line == 4


def _chain_specs(text: str, chain: str = "X") -> list[str]:
    table = parse_ruleset(text).tables[0]
    found = table.chain(chain)
    assert found is not None
    return [r.spec for r in found.rules]


def test_restore_commands_edit_the_table_in_order() -> None:
    text = """*filter
:INPUT ACCEPT [0:0]
-N X
-A X -j RETURN
-I X -s 10.0.0.1 -j DROP
-I X 2 -s 10.0.0.2 -j DROP
-A X -s 10.0.0.3 -j DROP
-D X -s 10.0.0.1 -j DROP
-R X 1 -s 10.0.0.9 -j ACCEPT
-D X 3
-P INPUT DROP
COMMIT
"""
    assert _chain_specs(text) == ["-s 10.0.0.9 -j ACCEPT", "-j RETURN"]
    rs = parse_ruleset(text)
    chain = rs.tables[0].chain("INPUT")
    assert chain is not None and chain.policy == "DROP"


def test_flush_zero_and_counters_in_restore_input() -> None:
    text = ("*filter\n:X - [0:0]\n:Y - [0:0]\n-A X -j DROP\n[5:6] -A Y -j ACCEPT\n-A Y -c 1 2 -j DROP\n"
            "-F X\n-Z Y\nCOMMIT\n")
    rs = parse_ruleset(text)
    assert _chain_specs(text) == []
    y = rs.tables[0].chain("Y")
    assert y is not None and [(r.spec, r.counters) for r in y.rules] == [("-j ACCEPT", (0, 0)), ("-j DROP", (0, 0))]
    text = "*filter\n:X - [0:0]\n-A X -j DROP\n-A X -j ACCEPT\n-F\nCOMMIT\n"
    assert _chain_specs(text) == []


def test_options_after_the_target_go_to_the_target_unless_a_later_match_knows_them() -> None:
    spec = syntax.parse_spec("-p tcp -j DNAT --to-destination 10.0.0.1:80 -m comment --comment x")
    assert spec.target == Target("DNAT", (Option("--to-destination", ("10.0.0.1:80",), False, "DNAT"),))
    assert spec.options[-1] == Option("--comment", ("x",), False, "comment")
    assert syntax.render_spec(spec) == "-p tcp -m comment --comment x -j DNAT --to-destination 10.0.0.1:80"


def test_protocol_numbers_load_the_protocol_match() -> None:
    spec = syntax.parse_spec("-p 6 --dport 80 -j ACCEPT")
    assert spec.module_options("tcp") == (Option("--dport", ("80",), False, "tcp"),)
    spec = syntax.parse_spec("-p ipv6-icmp --icmpv6-type 128 -j ACCEPT")
    assert spec.module_options("icmp6") == (Option("--icmpv6-type", ("128",), False, "icmp6"),)


# ---------------------------------------------------------------------------
# Address family
# ---------------------------------------------------------------------------


def test_family_is_guessed_from_addresses_or_given() -> None:
    v6 = "*nat\n:X - [0:0]\n-A X -d fd00:172:30::41/128 -p tcp -j DNAT --to-destination [fd00:10::1]:80\nCOMMIT\n"
    assert parse_ruleset(v6).ipv6 is True
    assert parse_ruleset(v6, validate=False).ipv6 is True
    assert parse_ruleset(SAVE_TEXT).ipv6 is False
    assert parse_ruleset("*filter\n:X - [0:0]\n-A X -j DROP\nCOMMIT\n").ipv6 is False
    assert parse_ruleset("*filter\n:X - [0:0]\n-A X -j DROP\nCOMMIT\n", ipv6=True).ipv6 is True


@pytest.mark.parametrize("text", [
    filter_with("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j DROP"),
    filter_with("-A INPUT -p tcp -j REJECT --reject-with icmp6-adm-prohibited"),
    "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j HL --hl-set 5\nCOMMIT\n",
])
def test_a_dump_without_addresses_is_ipv6_when_only_ipv6_loads_its_extensions(text: str) -> None:
    """No address tells the family, but only ip6tables-restore loads these (iptables-restore v1.8.9 refuses each
    at the rule: "Couldn't load match `icmp6'", ...): an ip6tables-save's dump, not a refused IPv4 one."""
    assert parse_ruleset(text).ipv6 is True
    with pytest.raises(RulesSyntaxError):
        parse_ruleset(text, ipv6=False)


def test_a_dump_without_addresses_loading_in_neither_family_is_refused_as_ipv4() -> None:
    text = filter_with("-A INPUT -p icmp -m icmp --icmp-type 8 -j DROP",
                       "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j DROP")
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text)
    assert info.value.line == 6 and "Couldn't load match `icmp6'" in str(info.value)


def test_mixed_families_are_reported() -> None:
    text = "*filter\n:X - [0:0]\n-A X -s 10.0.0.1 -j DROP\n-A X -s fd00::1 -j DROP\nCOMMIT\n"
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, file="mixed.rules")
    assert info.value.line == 4 and "mixed.rules:4" in str(info.value)
    with pytest.raises(RulesSyntaxError):
        parse_ruleset("*filter\n:X - [0:0]\n-A X -s 10.0.0.1 -j DROP\nCOMMIT\n", ipv6=True)


# ---------------------------------------------------------------------------
# Errors: the line, the offending token and what was expected
# ---------------------------------------------------------------------------

ERRORS = [
    ("*bogus\nCOMMIT\n", 1, "unknown table", "bogus"),
    ("-A X -j DROP\n", 1, "before any *table", "-A X -j DROP"),
    ("*filter\n:X - [0:0]\n-A X -j DROP\n", 4, "no COMMIT", "end of input"),
    ("*filter\n:X - [0:0]\n*nat\nCOMMIT\n", 3, "no COMMIT", "*nat"),
    ("COMMIT\n", 1, "COMMIT outside a table", "COMMIT"),
    ("*filter\n-A KUBE-MISSING -j DROP\nCOMMIT\n", 2, "KUBE-MISSING is not declared", "KUBE-MISSING"),
    ("*filter\n:INPUT ACCEPT [a:b]\nCOMMIT\n", 2, "bad counters for chain INPUT", "[a:b]"),
    ("*filter\n:X - [0:0]\n[1:x] -A X -j DROP\nCOMMIT\n", 3, "bad counters", "[1:x]"),
    ("*filter\n:X ACCEPT [0:0]\nCOMMIT\n", 2, "has no policy", "ACCEPT"),
    ("*filter\n:INPUT MAYBE [0:0]\nCOMMIT\n", 2, "bad policy", "MAYBE"),
    ("*filter\n:X - [0:0]\n-A X -s \"10.0.0.1 -j DROP\nCOMMIT\n", 3, "not found", "10.0.0.1 -j DROP\n"),  # (open)
    ("*filter\n:X - [0:0]\n-A X --bogus 1 -j DROP\nCOMMIT\n", 3, "unknown option", "--bogus"),
    ("*filter\n:X - [0:0]\n-A X -j DROP -j ACCEPT\nCOMMIT\n", 3, "one target", "-j"),
    ("*filter\n:X - [0:0]\n-D X -j DROP\nCOMMIT\n", 3, "no such rule", "-j DROP"),
    ("*filter\n:X - [0:0]\n-I X 5 -j DROP\nCOMMIT\n", 3, "out of range", "5"),
    ("*filter\n-N X\n-N X\nCOMMIT\n", 3, "already exists", "X"),
    ("*filter\n-X INPUT\nCOMMIT\n", 2, "built-in", "INPUT"),
    ("*filter\n-P X DROP\nCOMMIT\n", 2, "only built-in", "X"),
    ("*filter\n-Q X\nCOMMIT\n", 2, "unknown command", "-Q"),
    ("*filter\nhello\nCOMMIT\n", 2, "unexpected line", "hello"),
    ("*filter\n:X - [0:0]\n-X X\n-A X -j DROP\nCOMMIT\n", 4, "was deleted (-X at line 3)", "X"),
    ("*filter\n:" + "L" * 29 + " - [0:0]\nCOMMIT\n", 2, "too long", "L" * 29),
]


def test_a_jump_replaced_after_an_earlier_delete_holds_its_chain_no_more() -> None:
    """-X counts the targets kept up to date since the table's first -X: -R takes the old rule's target away and
    counts the new one's. (What iptables-legacy-restore does; iptables-nft-restore v1.8.9 crashes on -R of a rule
    before a -X, so these are no restore cases.)"""
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FOO - [0:0]\n:BAR - [0:0]\n-X BAR\n-A INPUT -j FOO\n-R INPUT 1 -j DROP\n"
            "-X FOO\nCOMMIT\n")
    table = parse_ruleset(text).tables[0]
    assert [r.spec for r in table.rules()] == ["-j DROP"]
    assert table.deleted == ("BAR", "FOO")
    with pytest.raises(RulesSyntaxError, match="still the target") as info:
        parse_ruleset(text.replace("-A INPUT -j FOO\n-R INPUT 1 -j DROP", "-A INPUT -j DROP\n-R INPUT 1 -j FOO"))
    assert info.value.line == 8


@pytest.mark.parametrize(("text", "line", "message", "token"), ERRORS)
def test_syntax_errors_name_line_token_and_expectation(text: str, line: int, message: str,
                                                       token: str | None) -> None:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(text, file="bad.rules")
    err = info.value
    assert err.line == line
    assert message in str(err)
    assert err.expected
    if token is not None:
        assert err.token == token
    assert str(err).startswith(f"bad.rules:{line}: ")


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize("blank", ["", " ", "  ", "\t", " \t", " \r"])
@pytest.mark.parametrize("command", ["-A", "-I", "-D", "-R", "-N", "-P", ":", "[0:0] -A", "[0:0] -I"])
def test_a_command_with_only_blanks_after_it_is_a_syntax_error_at_its_line(command: str, blank: str,
                                                                           validate: bool) -> None:
    """"-A " (a truncated line) takes the fast paths' split before any strip: it is reported as "-A" is. (-X alone
    deletes every user chain: see restore_cases.)"""
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(f"*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-X - [0:0]\n{command}{blank}\nCOMMIT\n",
                      file="bad.rules", validate=validate)
    assert str(info.value).startswith("bad.rules:4: ")
    assert info.value.expected


def test_bulk_mode_defers_rule_syntax_errors_to_the_typed_view() -> None:
    rs = parse_ruleset("*filter\n:X - [0:0]\n-A X --bogus 1 -j DROP\nCOMMIT\n", validate=False)
    rule = next(rs.tables[0].rules())
    with pytest.raises(RulesSyntaxError) as info:
        _ = rule.parsed
    assert info.value.line == 3
