"""Upstream's tests of the dump helpers our comparisons with upstream rely on (tests/proxier/dumps.py).

proxier_test.go (531be81208e2): TestParseIPTablesData (``_tables_by_commit``),
TestCheckIPTablesRuleJumps (``check_jumps``), TestSortIPTablesRules
(``upstream_sort``). pkg/util/iptables/testing/parse_test.go (stored at
5ddc5356cedb, not at the reference): TestParseRule (``parse_rule``, which is
the non-strict parser only: strict mode's "unrecognized parameter" case has no
counterpart) and TestParseIPTablesDump (``parse_dump``). Upstream's inputs and
expected outputs, case by case; sort-basic.{in,out}.rules hold the first
TestSortIPTablesRules case verbatim.
"""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from .dumps import _tables_by_commit, check_jumps, parse_dump, parse_rule, upstream_sort

DATA = Path(__file__).parent / "data"

FILTER = dedent("""\
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    -A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    """)  # noqa: E501  (upstream's rules, verbatim)
NAT_BODY = dedent("""\
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
    :KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 10.20.30.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
    -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 10.20.30.41 --dport 80 ! -s 10.0.0.0/24 -j KUBE-MARK-MASQ
    -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment ns1/svc1:p80 -j KUBE-SEP-SXIVWICOYRO3J4NJ
    -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
    -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
    """)  # noqa: E501  (upstream's rules, verbatim)
FILTER_AS_OTHER = FILTER.replace("*filter\n", "")  # the filter table's body under another table's header


# --- proxier_test.go: TestParseIPTablesData


PARSE_DATA_CASES = {
    "basic test": ("\n" + FILTER + "*nat\n" + NAT_BODY + "COMMIT\n", None),
    "not enough tables": ("\n" + FILTER, "bad ruleData (1 tables)"),
    "trailing junk": ("\n" + FILTER + "*nat\n" + FILTER_AS_OTHER + "junk\n", "bad ruleData (2 tables)"),
    "bad start line": ("\n" + FILTER + FILTER_AS_OTHER, 'bad ruleData (table 2 starts with ":KUBE-SERVICES - [0:0]")'),
    "no nat": ("\n" + FILTER + "*mangle\n" + FILTER_AS_OTHER, 'bad ruleData (no "nat" table)'),
    "no filter": ("\n*mangle\n" + FILTER_AS_OTHER + "*nat\n" + FILTER_AS_OTHER, 'bad ruleData (no "filter" table)'),
}


@pytest.mark.parametrize(("text", "error"), PARSE_DATA_CASES.values(), ids=list(PARSE_DATA_CASES))
def test_parse_iptables_data(text: str, error: str | None) -> None:
    if error is None:
        tables = _tables_by_commit(text)
        assert tables == {"filter": FILTER.splitlines(), "nat": ["*nat", *NAT_BODY.splitlines(), "COMMIT"]}
        return
    with pytest.raises(ValueError) as raised:
        _tables_by_commit(text)
    # Go's %q and Python's repr quote differently; the words are upstream's
    assert str(raised.value).replace("'", '"') == error


# --- proxier_test.go: TestCheckIPTablesRuleJumps

SVC = "KUBE-SVC-XPGD46QRK7WJZT7O"
JUMP_SVC = f'-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j {SVC}'  # noqa: E501
JUMP_CASES = [
    ("valid", [":KUBE-MARK-MASQ - [0:0]", ":KUBE-SERVICES - [0:0]", f":{SVC} - [0:0]",
               "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
               f'-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 10.20.30.41'
               f" --dport 80 -j {SVC}",
               f'-A {SVC} -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 10.20.30.41 --dport 80'
               " ! -s 10.0.0.0/24 -j KUBE-MARK-MASQ"], ""),
    ("can't jump to chain that wasn't created", [":KUBE-SERVICES - [0:0]", JUMP_SVC],
     f"some chains in nat are used but were not created: [{SVC}]"),
    ("can't jump to chain that has no rules", [":KUBE-SERVICES - [0:0]", f":{SVC} - [0:0]", JUMP_SVC],
     f"some chains in nat are jumped to but have no rules: [{SVC}]"),
    ("can't add rules to a chain that wasn't created",
     [":KUBE-MARK-MASQ - [0:0]", ":KUBE-SERVICES - [0:0]",
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" ...',
      f'-A {SVC} -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80'
      " ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ"],
     f"some chains in nat are used but were not created: [{SVC}]"),
    ("can't create chain and then not use it",
     [":KUBE-MARK-MASQ - [0:0]", ":KUBE-SERVICES - [0:0]", f":{SVC} - [0:0]",
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" ...'],
     f"some chains in nat are created but not used: [{SVC}]"),
]
"""Upstream lists the second, third and fourth cases twice, identically; they are here once."""


@pytest.mark.parametrize(("nat", "error"), [c[1:] for c in JUMP_CASES], ids=[c[0] for c in JUMP_CASES])
def test_check_iptables_rule_jumps(nat: list[str], error: str) -> None:
    text = "*filter\nCOMMIT\n*nat\n" + "".join(line + "\n" for line in nat) + "COMMIT\n"
    problems = check_jumps(text)
    assert (problems[0].replace("'", "") if problems else "") == error


# --- proxier_test.go: TestSortIPTablesRules

SAME_NAME_IN = dedent("""\
    *filter
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" svc2 line 1
    -A KUBE-SERVICES -m comment --comment ns2/svc2 svc2 line 2
    -A KUBE-SERVICES -m comment --comment "ns2/svc2 blah" svc2 line 3
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" svc1 line 1
    -A KUBE-SERVICES -m comment --comment ns1/svc1 svc1 line 2
    -A KUBE-SERVICES -m comment --comment "ns1/svc1 blah" svc1 line 3
    -A KUBE-SERVICES -m comment --comment ns4/svc4 svc4 line 1
    -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" svc4 line 2
    -A KUBE-SERVICES -m comment --comment "ns4/svc4 blah" svc4 line 3
    -A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" svc3 line 1
    -A KUBE-SERVICES -m comment --comment "ns3/svc3 blah" svc3 line 2
    -A KUBE-SERVICES -m comment --comment ns3/svc3 svc3 line 3
    COMMIT
    """)
SAME_NAME_OUT = dedent("""\
    *filter
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" svc1 line 1
    -A KUBE-SERVICES -m comment --comment ns1/svc1 svc1 line 2
    -A KUBE-SERVICES -m comment --comment "ns1/svc1 blah" svc1 line 3
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" svc2 line 1
    -A KUBE-SERVICES -m comment --comment ns2/svc2 svc2 line 2
    -A KUBE-SERVICES -m comment --comment "ns2/svc2 blah" svc2 line 3
    -A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" svc3 line 1
    -A KUBE-SERVICES -m comment --comment "ns3/svc3 blah" svc3 line 2
    -A KUBE-SERVICES -m comment --comment ns3/svc3 svc3 line 3
    -A KUBE-SERVICES -m comment --comment ns4/svc4 svc4 line 1
    -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" svc4 line 2
    -A KUBE-SERVICES -m comment --comment "ns4/svc4 blah" svc4 line 3
    COMMIT
    """)
JUNK_IN = dedent("""\
    *filter
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]
    :KUBE-AAAAA - [0:0]
    :KUBE-ZZZZZ - [0:0]
    :WHY-IS-THIS-CHAIN-HERE - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" svc2 line 1
    -A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
    -A KUBE-ZZZZZ -m comment --comment "mystery chain number 1"
    -A KUBE-SERVICES -m comment --comment ns2/svc2 svc2 line 2
    -A WHY-IS-THIS-CHAIN-HERE -j ACCEPT
    -A KUBE-SERVICES -m comment --comment "ns2/svc2 blah" svc2 line 3
    -A KUBE-AAAAA -m comment --comment "mystery chain number 2"
    COMMIT
    """)
JUNK_OUT = dedent("""\
    *filter
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-AAAAA - [0:0]
    :KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]
    :KUBE-ZZZZZ - [0:0]
    :WHY-IS-THIS-CHAIN-HERE - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" svc2 line 1
    -A KUBE-SERVICES -m comment --comment ns2/svc2 svc2 line 2
    -A KUBE-SERVICES -m comment --comment "ns2/svc2 blah" svc2 line 3
    -A KUBE-AAAAA -m comment --comment "mystery chain number 2"
    -A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
    -A KUBE-ZZZZZ -m comment --comment "mystery chain number 1"
    -A WHY-IS-THIS-CHAIN-HERE -j ACCEPT
    COMMIT
    """)


SORTED_BODY = dedent("""\
    :KUBE-NODEPORTS - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    -A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    """)  # noqa: E501  (upstream's rules, verbatim)
"""The "extra tables" case's expected table body: KUBE-NODEPORTS and KUBE-SERVICES first, rules in chain order."""


SORT_CASES = {
    "basic test using each match type": ((DATA / "sort-basic.in.rules").read_text(),
                                         (DATA / "sort-basic.out.rules").read_text()),
    "extra tables": ("".join(f"*{t}\n{FILTER_AS_OTHER}" for t in ("filter", "nat", "mangle")),
                     "".join(f"*{t}\n{SORTED_BODY}" for t in ("filter", "mangle", "nat"))),
    "correctly match same service name in different styles of comments": (SAME_NAME_IN, SAME_NAME_OUT),
    "unexpected junk lines are preserved": (JUNK_IN, JUNK_OUT),
}


@pytest.mark.parametrize(("text", "expected"), SORT_CASES.values(), ids=list(SORT_CASES))
def test_sort_iptables_rules(text: str, expected: str) -> None:
    assert upstream_sort(text) == expected


# --- parse_test.go: TestParseRule (non-strict) and TestParseIPTablesDump

PARSE_RULE_CASES = {
    "basic rule": ('-A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp'
                   " --dport 30000 -j ACCEPT",
                   {"-A": "KUBE-NODEPORTS", "--comment": "ns2/svc2:p80 health check node port", "-p": "tcp",
                    "--dport": "30000", "-j": "ACCEPT"}),
    "unquoted comment": ("-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment ns1/svc1:p80 -j KUBE-SEP-SXIVWICOYRO3J4NJ",
                         {"-A": "KUBE-SVC-XPGD46QRK7WJZT7O", "--comment": "ns1/svc1:p80",
                          "-j": "KUBE-SEP-SXIVWICOYRO3J4NJ"}),
    "local source": ('-A KUBE-XLB-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80'
                     ' LB IP" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
                     {"-A": "KUBE-XLB-GNZBNJ2PO5MGZ6GT", "--comment": "masquerade LOCAL traffic for ns2/svc2:p80 LB IP",
                      "--src-type": "LOCAL", "-j": "KUBE-MARK-MASQ"}),
    "not local destination": ("-A RULE-TYPE-NOT-CURRENTLY-USED-BY-KUBE-PROXY -m addrtype ! --dst-type LOCAL"
                              " -j KUBE-MARK-MASQ",
                              {"-A": "RULE-TYPE-NOT-CURRENTLY-USED-BY-KUBE-PROXY", "!--dst-type": "LOCAL",
                               "-j": "KUBE-MARK-MASQ"}),
    "destination IP/port": ('-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp'
                            " -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O",
                            {"-A": "KUBE-SERVICES", "--comment": "ns1/svc1:p80 cluster IP", "-p": "tcp",
                             "-d": "172.30.0.41", "--dport": "80", "-j": "KUBE-SVC-XPGD46QRK7WJZT7O"}),
    "source IP": ("-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ",
                  {"-A": "KUBE-SEP-SXIVWICOYRO3J4NJ", "--comment": "ns1/svc1:p80", "-s": "10.180.0.1",
                   "-j": "KUBE-MARK-MASQ"}),
    "not source IP": ('-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp'
                      " -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ",
                      {"-A": "KUBE-SVC-XPGD46QRK7WJZT7O", "--comment": "ns1/svc1:p80 cluster IP", "-p": "tcp",
                       "-d": "172.30.0.41", "--dport": "80", "!-s": "10.0.0.0/8", "-j": "KUBE-MARK-MASQ"}),
    "affinity": ("-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment ns1/svc1:p80 -m recent --name"
                 " KUBE-SEP-SXIVWICOYRO3J4NJ --rcheck --seconds 10800 --reap -j KUBE-SEP-SXIVWICOYRO3J4NJ",
                 {"-A": "KUBE-SVC-XPGD46QRK7WJZT7O", "--comment": "ns1/svc1:p80", "--name": "KUBE-SEP-SXIVWICOYRO3J4NJ",
                  "--rcheck": True, "--seconds": "10800", "--reap": True, "-j": "KUBE-SEP-SXIVWICOYRO3J4NJ"}),
    "jump to DNAT": ("-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT"
                     " --to-destination 10.180.0.1:80",
                     {"-A": "KUBE-SEP-SXIVWICOYRO3J4NJ", "--comment": "ns1/svc1:p80", "-p": "tcp", "-j": "DNAT",
                      "--to-destination": "10.180.0.1:80"}),
    "jump to endpoint": ("-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment ns4/svc4:p80 -m statistic --mode random"
                         " --probability 0.5000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC",
                         {"-A": "KUBE-SVC-4SW47YFZTEDKD3PK", "--comment": "ns4/svc4:p80", "--mode": "random",
                          "--probability": "0.5000000000", "-j": "KUBE-SEP-UKSFD7AGPMPPLUHC"}),
    "unrecognized arguments with strict=false": (
        "-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment ns4/svc4:p80 -i eth0 -j KUBE-SEP-UKSFD7AGPMPPLUHC",
        {"-A": "KUBE-SVC-4SW47YFZTEDKD3PK", "--comment": "ns4/svc4:p80", "-j": "KUBE-SEP-UKSFD7AGPMPPLUHC"}),
    "negated bool arg": ("-A TEST -m recent ! --rcheck -j KUBE-SEP-SXIVWICOYRO3J4NJ",
                         {"-A": "TEST", "!--rcheck": True, "-j": "KUBE-SEP-SXIVWICOYRO3J4NJ"}),
}
PARSE_RULE_ERRORS = {
    "addRuleToChainRegex requires an actual rule, not just a chain name": ("-A KUBE-NODEPORTS", "(no match rules)"),
    "ParseRule only parses adds": ('-D KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port"'
                                   " -m tcp -p tcp --dport 30000 -j ACCEPT", '(does not start with "-A CHAIN")'),
    "bad use of !": ("-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment ns4/svc4:p80 ! -j KUBE-SEP-UKSFD7AGPMPPLUHC",
                     'cannot negate parameter "-j"'),
    "missing argument": ("-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment ns4/svc4:p80 -j",
                         'parameter "-j" requires an argument'),
}


@pytest.mark.parametrize(("rule", "parsed"), PARSE_RULE_CASES.values(), ids=list(PARSE_RULE_CASES))
def test_parse_rule(rule: str, parsed: dict) -> None:
    assert parse_rule(rule) == parsed


@pytest.mark.parametrize(("rule", "error"), PARSE_RULE_ERRORS.values(), ids=list(PARSE_RULE_ERRORS))
def test_parse_rule_errors(rule: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error).replace('"', "[\"']")):
        parse_rule(rule)


def test_parse_iptables_dump() -> None:
    """The "basic test", "deletion" and "whitespace and comments" cases: chains in declaration order, each
    with its counters and its rules' text in order (and the deleted flag)."""
    basic = parse_dump("\n" + FILTER + "*nat\n" + NAT_BODY + "COMMIT\n")
    f, n = FILTER.splitlines(), NAT_BODY.splitlines()  # f[5:9] and n[6:16] are the rules, as upstream lists them
    assert [(t.name, [(c.name, c.packets, c.bytes, c.rules) for c in t.chains]) for t in basic] == [
        ("filter", [("KUBE-SERVICES", 0, 0, []), ("KUBE-EXTERNAL-SERVICES", 0, 0, []),
                    ("KUBE-FORWARD", 0, 0, [f[6], f[7], f[8]]), ("KUBE-NODEPORTS", 0, 0, [f[5]])]),
        ("nat", [("KUBE-SERVICES", 0, 0, [n[10], n[15]]), ("KUBE-NODEPORTS", 0, 0, []),
                 ("KUBE-POSTROUTING", 0, 0, [n[6], n[7], n[8]]), ("KUBE-MARK-MASQ", 0, 0, [n[9]]),
                 (SVC, 0, 0, [n[11], n[12]]), ("KUBE-SEP-SXIVWICOYRO3J4NJ", 0, 0, [n[13], n[14]])])]
    assert all(rule.startswith(f"-A {c.name} ") for t in basic for c in t.chains for rule in c.rules)
    deletion = parse_dump(dedent(f"""\
        *nat
        :KUBE-SERVICES - [0:0]
        :{SVC} - [0:0]
        :KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
        -X {SVC}
        -X KUBE-SEP-SXIVWICOYRO3J4NJ
        -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
        COMMIT
        """))  # noqa: E501  (upstream's rules, verbatim)
    assert [(c.name, len(c.rules), c.deleted) for c in deletion[0].chains] == [
        ("KUBE-SERVICES", 1, False), (SVC, 0, True), ("KUBE-SEP-SXIVWICOYRO3J4NJ", 0, True)]
    spaced = FILTER.replace(":KUBE-FORWARD", "\n:KUBE-FORWARD").replace("-A KUBE-FORWARD -m conntrack",
                                                                        "  -A KUBE-FORWARD -m conntrack")
    spaced = ("# Generated by iptables-save v1.8.7 on Mon May  9 11:22:21 2022\n# (not really...)\n"
              + spaced.replace('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack',
                               '# This rule does a thing\n-A KUBE-FORWARD -m comment --comment "kubernetes'
                               ' forwarding conntrack')
              + "# Completed on Mon May  9 11:22:21 2022\n")
    assert [[(c.name, c.rules) for c in t.chains] for t in parse_dump(spaced)] == \
        [[(c.name, c.rules) for c in t.chains] for t in parse_dump(FILTER)]


PARSE_DUMP_ERRORS = {
    "no COMMIT line": (FILTER.removesuffix("COMMIT\n"), "no COMMIT line?"),
    "two tables, no second COMMIT line": (FILTER + "*nat\n" + NAT_BODY, "no COMMIT line?"),
    "two tables, no second header line": (FILTER + NAT_BODY + "COMMIT\n", "not a table name"),
    "trailing junk": (FILTER + "*nat\n" + FILTER_AS_OTHER + "junk\n", 'table 3 starts with "junk"'),
    "add to missing chain": (FILTER.replace(":KUBE-FORWARD - [0:0]\n", ""), 'no such chain "KUBE-FORWARD"'),
    "add to deleted chain": (FILTER.replace("-A KUBE-FORWARD -m conntrack", "-X KUBE-FORWARD\n-A KUBE-FORWARD -m"
                                            " conntrack"), "cannot add rules to deleted chain"),
    "deleted non-empty chain": (FILTER.replace("COMMIT", "-X KUBE-FORWARD\nCOMMIT"),
                                'cannot delete chain "KUBE-FORWARD" after adding rules'),
    "junk rule": (FILTER.replace("-A KUBE-FORWARD -m conntrack", "-Q KUBE-FORWARD -m conntrack"), '"-Q KUBE-FORWARD'),
}


@pytest.mark.parametrize(("text", "error"), PARSE_DUMP_ERRORS.values(), ids=list(PARSE_DUMP_ERRORS))
def test_parse_iptables_dump_errors(text: str, error: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_dump(text)
    assert error in str(raised.value).replace("'", '"')
