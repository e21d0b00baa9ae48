"""Forms iptables-save prints differently from what was written, pinned against both tools (session 22, b4).

Each expected line below is what iptables-legacy-restore then iptables-legacy-save, and iptables-nft-restore then
iptables-nft-save, v1.8.9 (ip6tables-* for IPv6) printed in ``unshare --net``, the two alike unless a case says
otherwise; the kernel tests at the end re-check every case against both tools on this machine.
"""

from __future__ import annotations

import subprocess

import pytest

from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.hostmask import read_conntrack_host
from kubeproxy_sim.netfilter.saveform import render_save, render_saved, save_lines, to_save_form

TOOLS = ("legacy", "nft")

ICMP = [
    # (family, as written, as saved): names in any case and their unambiguous prefixes, numbers in C's bases and
    # code ranges are saved as the type's number and the range's first code (none for every code, 0:255)
    (4, "--icmp-type ECHO-REQ", "--icmp-type 8"),
    (4, "--icmp-type Ping", "--icmp-type 8"),
    (4, "! --icmp-type port-unr", "! --icmp-type 3/3"),
    (4, "--icmp-type network-unr", "--icmp-type 3/0"),
    (4, "--icmp-type TOS-HOST-REDIRECT", "--icmp-type 5/3"),
    (4, "--icmp-type Destination", "--icmp-type 3"),
    (4, "--icmp-type AN", "--icmp-type any"),
    (4, "--icmp-type 255", "--icmp-type any"),
    (4, "--icmp-type 0x3/0x3", "--icmp-type 3/3"),
    (4, "--icmp-type 010", "--icmp-type 8"),
    (4, "--icmp-type 3/3:5", "--icmp-type 3/3"),
    (4, "--icmp-type 8/5:2", "--icmp-type 8/5"),
    (4, "--icmp-type 3/0:0", "--icmp-type 3/0"),
    (4, "--icmp-type 3/1:255", "--icmp-type 3/1"),
    (4, "--icmp-type 3/0:255", "--icmp-type 3"),
    (4, "--icmp-type 8/0", "--icmp-type 8/0"),
    (6, "--icmpv6-type ECHO-REQ", "--icmpv6-type 128"),
    (6, "--icmpv6-type No-Route", "--icmpv6-type 1/0"),
    (6, "--icmpv6-type neighbor-s", "--icmpv6-type 135"),
    (6, "! --icmpv6-type packet", "! --icmpv6-type 2"),
    (6, "--icmpv6-type 0x80", "--icmpv6-type 128"),
    (6, "--icmpv6-type 1/3:5", "--icmpv6-type 1/3"),
    (6, "--icmpv6-type 1/0:255", "--icmpv6-type 1"),
    (6, "--icmpv6-type 128/0", "--icmpv6-type 128/0"),
    (6, "--icmpv6-type 255", "--icmpv6-type 255"),  # (IPv6 has no "any": 255 is a type)
]

CONNTRACK = [
    # (family, as written, as saved): XTTYPE_HOSTMASK, the host by getaddrinfo (a decimal zone dropped, an
    # interface's on a link-local address too), the mask a length 0-32/0-128 first, else an address getaddrinfo
    # reads as a number, one that is no prefix the full mask
    (6, "fd00::1%1", "fd00::1"),
    (6, "fe80::1%1", "fe80::1"),
    (6, "ff02::1%1", "ff02::1"),
    (6, "fe80::1%lo", "fe80::1"),
    (6, "fe80::1%lo/64", "fe80::1/64"),
    (6, "fd00::1/33", "fd00::1/33"),
    (6, "fd00::1/ffff:0:ffff::", "fd00::1"),
    (6, "fd00::1/::ffff:0:0", "fd00::1"),
    (4, "10.1.2.3/33", "10.1.2.3"),
    (4, "10.1.2.3/64", "10.1.2.3"),
    (4, "10.1.2.3/256", "10.1.2.3"),
    (4, "10.1.2.3/0.0.0.16", "10.1.2.3"),
    (4, "10.1.2.3/0.255.255.255", "10.1.2.3"),
    (4, "10.1.2.3/1.2.3", "10.1.2.3"),
    (4, "10.1.2.3/4294967040", "10.1.2.3/24"),
    (4, "10.1.2.3/0xffffff00", "10.1.2.3/24"),
    (4, "10.1.2.3/4294967295", "10.1.2.3"),
    (4, "10.1.2.3/::ffff:255.255.0.0", "10.1.2.3/16"),
    (4, "::ffff:1.2.3.4%1", "1.2.3.4"),
    (4, "::ffff:1.2.3.4/24", "1.2.3.4/24"),
]

BUILTINS = [
    # (family, as written, as saved): the protocol "all" and a /0 host are no option in the kernel's rule
    (4, "-p all -j ACCEPT", "-j ACCEPT"),
    (4, "-p ALL -j ACCEPT", "-j ACCEPT"),
    (4, "-p 0 -j ACCEPT", "-j ACCEPT"),
    (4, "-s 0.0.0.0/0 -j ACCEPT", "-j ACCEPT"),
    (4, "-s 0/0 -j ACCEPT", "-j ACCEPT"),
    (4, "-p all -s 0.0.0.0/0 -d 0.0.0.0/0 -j ACCEPT", "-j ACCEPT"),
    (4, "-s 1.2.3.4/0 -j ACCEPT", "-j ACCEPT"),
    (4, "-s 1.2.3.4/0,5.6.7.8 -j ACCEPT", "-j ACCEPT\n-A FORWARD -s 5.6.7.8/32 -j ACCEPT"),
    (4, "-i + -o + -j ACCEPT", "-j ACCEPT"),
    (4, "-s ::ffff:1.2.3.4%1 -j ACCEPT", "-s 1.2.3.4/32 -j ACCEPT"),  # (a decimal zone dropped, as getaddrinfo does)
    (6, "-p all -j ACCEPT", "-j ACCEPT"),
    (6, "-s ::/0 -j ACCEPT", "-j ACCEPT"),
    (6, "-d fd00::1/0 -j ACCEPT", "-j ACCEPT"),
]

DIFFERING = [
    # (family, as written, as iptables-legacy-save prints it, as iptables-nft-save prints it; None: refused)
    # nft refuses a negated /0 host ("RULE_APPEND failed (Invalid argument)": nf_tables takes no compare of zero
    # bytes); we print legacy's line: the parser decides what is refused, and a dump that holds the line came from
    # a legacy node.
    (4, "! -s 0.0.0.0/0 -j ACCEPT", "! -s 0.0.0.0/0 -j ACCEPT", None),
    (4, "! -d 1.2.3.4/0 -j ACCEPT", "! -d 0.0.0.0/0 -j ACCEPT", None),
    (6, "! -s ::/0 -j ACCEPT", "! -s ::/0 -j ACCEPT", None),
    # legacy's save prints no interface of an empty mask, even negated (the rule, which the kernel never matches,
    # reads back as one that always does); nft's prints it. We follow nft, kube-proxy's nodes' usual tool.
    (4, "! -i + -j ACCEPT", "-j ACCEPT", "! -i + -j ACCEPT"),
    (4, "! -o + -j ACCEPT", "-j ACCEPT", "! -o + -j ACCEPT"),
    (6, "! -i + -j ACCEPT", "-j ACCEPT", "! -i + -j ACCEPT"),
]
OURS = [(family, written, legacy if nft is None else nft) for family, written, legacy, nft in DIFFERING]


def _rules(cases: list[tuple[int, str, str]], family: int) -> list[tuple[str, str]]:
    """(the rule after ``-A FORWARD``, its saved lines after ``-A FORWARD``) of one family's cases."""
    rules = []
    for case_family, written, saved in cases:
        if case_family != family:
            continue
        if written.startswith(("--icmp", "! --icmp")):
            protocol = "icmp" if family == 4 else "ipv6-icmp"
            rules.append((f"-p {protocol} {written} -j ACCEPT",
                          f"-p {protocol} -m {'icmp' if family == 4 else 'icmp6'} {saved} -j ACCEPT"))
        elif written.startswith("-") or written.startswith("!"):
            rules.append((written, saved))
        else:
            rules.append((f"-m conntrack --ctorigdst {written} -j DROP", f"-m conntrack --ctorigdst {saved} -j DROP"))
    return rules


def _filter(rules: list[str]) -> str:
    return "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                      *(f"-A FORWARD {rule}" for rule in rules), "COMMIT", ""])


def _ours(text: str, ipv6: bool) -> list[str]:
    """The ``-A`` lines of `rules --full`'s text for ``text``, checked equal to the rule-by-rule reference."""
    ruleset = parse_ruleset(text, ipv6=ipv6)
    saved = render_saved(save_lines(ruleset))
    assert saved == render_save(to_save_form(ruleset))
    return [line for line in saved.splitlines() if line.startswith("-A")]


ALL = ICMP + CONNTRACK + BUILTINS + OURS


@pytest.mark.parametrize(("family", "written", "saved"), ALL, ids=lambda x: str(x))
def test_a_rule_is_saved_as_the_tools_print_it(family: int, written: str, saved: str) -> None:
    """Before: ICMP names and numbers other than the table's exact names were kept as written (``ECHO-REQ``,
    ``0x3/0x3``, ``3/3:5``, ``255``); a conntrack address's decimal or interface zone was kept (``fd00::1%1``),
    an IPv4 ``/33`` or ``/256`` kept as written, and ``/4294967040`` or ``/1.2.3`` too."""
    ((rule, expected),) = _rules([(family, written, saved)], family)
    assert _ours(_filter([rule]), family == 6) == [f"-A FORWARD {line}" for line in expected.split("\n-A FORWARD ")]


@pytest.mark.parametrize(("value", "ipv6", "read"), [
    ("10.1.2.3/33", False, (0x0A010203, 0xFFFFFFFF)), ("10.1.2.3/255.0.255.0", False, (0x0A010203, 0xFFFFFFFF)),
    ("10.1.2.3/4294967040", False, (0x0A010203, 0xFFFFFF00)), ("::ffff:1.2.3.4%1", False, (0x01020304, 0xFFFFFFFF)),
    ("fd00::1%1", True, ((0xFD00 << 112) | 1, (1 << 128) - 1)), ("fe80::1%lo/64", True, ((0xFE80 << 112) | 1,
                                                                                          ((1 << 64) - 1) << 64)),
    ("fd00::1%lo", True, None), ("fd00::1%4294967296", True, None), ("10.1.2.3/-1", False, None),
    ("fd00::1/129", True, None), ("fd00::1", False, None), ("10.0.0.1", True, None)], ids=str)
def test_the_conntrack_match_reads_what_it_keeps(value: str, ipv6: bool, read: tuple[int, int] | None) -> None:
    """What the kernel's match holds (and a trace compares): a mask that is no prefix is the full one (its saved
    line has none), not the mask as written, which the trace used to compare by; None for what no tool takes
    (both refuse ``fd00::1`` in IPv4 and ``10.0.0.1`` in IPv6, "getaddrinfo: Address family for hostname not
    supported", and ``fd00::1%lo``, ``%4294967296``, ``/-1``, ``/129``)."""
    assert read_conntrack_host(value, ipv6) == read


NAMED_LIKE_TARGETS = "\n".join([
    "*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":TPROXY - [0:0]", ":MARK - [0:0]",
    "-A PREROUTING -p tcp -j TPROXY", "-A INPUT -j MARK", "-A INPUT -g TPROXY", "-A TPROXY -j ACCEPT", "COMMIT",
    "*filter", ":INPUT ACCEPT [0:0]", ":REJECT - [0:0]", ":LOG - [0:0]", ":FORWARD ACCEPT [0:0]",
    "-A INPUT -j REJECT", "-A INPUT -j LOG", "-A FORWARD -p tcp -j REJECT", "COMMIT", ""])
NAMED_LIKE_TARGETS_SAVED = [
    "-A PREROUTING -p tcp -j TPROXY", "-A INPUT -j MARK", "-A INPUT -g TPROXY", "-A TPROXY -j ACCEPT",
    "-A INPUT -j REJECT", "-A INPUT -j LOG", "-A FORWARD -p tcp -j REJECT"]
"""Both tools take ``-j NAME`` after ``:NAME - [0:0]`` as a jump to the chain, and print no option of the target
(it takes none: 'unknown option "--on-port"' after ``-j TPROXY``)."""


def test_a_jump_to_a_chain_named_like_a_target_gets_none_of_its_options() -> None:
    """Before: ``-j TPROXY`` to a chain TPROXY was saved with TPROXY's ``--on-ip 0.0.0.0 --tproxy-mark 0x0/0x0``,
    ``-j REJECT`` to a chain REJECT with ``--reject-with icmp-port-unreachable``."""
    assert _ours(NAMED_LIKE_TARGETS, False) == NAMED_LIKE_TARGETS_SAVED


def test_a_trace_cites_such_a_jump_as_saved() -> None:
    """:func:`saved_rule_text` with the table's jumps (what a trace's citation reads) prints the jump."""
    from kubeproxy_sim.netfilter.saveform import RuleShapes, SavedLines, saved_rule_text

    ruleset = parse_ruleset(NAMED_LIKE_TARGETS)
    lines = SavedLines(ruleset)
    shapes = RuleShapes(False)
    chain = ruleset.table("mangle").chain("PREROUTING")  # type: ignore[union-attr]
    assert chain is not None
    assert saved_rule_text(chain.rules[0], False, shapes, lines.jumps("mangle")) == "-A PREROUTING -p tcp -j TPROXY"
    assert lines.jumps("filter") == frozenset({"REJECT", "LOG"}) and lines.jumps("raw") == frozenset()


# ---------------------------------------------------------------------------
# The pins, against this machine's tools
# ---------------------------------------------------------------------------


def _tool_save(tool: str, text: str, ipv6: bool) -> subprocess.CompletedProcess[str]:
    binary = f"{'ip6tables' if ipv6 else 'iptables'}-{tool}"
    return subprocess.run(["unshare", "--net", "sh", "-c", f"{binary}-restore && {binary}-save"], input=text,
                          capture_output=True, text=True, timeout=60)


def _saved_rules(done: subprocess.CompletedProcess[str], tables: tuple[str, ...] = ("filter",)) -> list[str]:
    """The ``-A`` lines of what a tool saved, table by table in the order ``tables`` names them (iptables-save
    prints its tables in the kernel's order)."""
    assert done.returncode == 0, done.stderr
    by_table: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in done.stdout.splitlines():
        if line.startswith("*"):
            lines = by_table.setdefault(line[1:], [])
        elif line.startswith("-A"):
            lines.append(line)
    return [line for table in tables for line in by_table.get(table, [])]


@pytest.mark.kernel
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("family", [4, 6])
def test_the_pins_are_what_the_tools_print(kernel_iptables: None, tool: str, family: int) -> None:
    rules = _rules(ICMP + CONNTRACK + BUILTINS, family)
    expected = [f"-A FORWARD {line}" for _, saved in rules for line in saved.split("\n-A FORWARD ")]
    assert _saved_rules(_tool_save(tool, _filter([rule for rule, _ in rules]), family == 6)) == expected


@pytest.mark.kernel
@pytest.mark.parametrize(("family", "written", "legacy", "nft"), DIFFERING, ids=str)
def test_where_the_tools_differ(kernel_iptables: None, family: int, written: str, legacy: str,
                                nft: str | None) -> None:
    assert _saved_rules(_tool_save("legacy", _filter([written]), family == 6)) == [f"-A FORWARD {legacy}"]
    done = _tool_save("nft", _filter([written]), family == 6)
    if nft is None:
        assert done.returncode != 0 and "RULE_APPEND failed (Invalid argument)" in done.stderr
    else:
        assert _saved_rules(done) == [f"-A FORWARD {nft}"]


@pytest.mark.kernel
@pytest.mark.parametrize("tool", TOOLS)
def test_a_chain_named_like_a_target_is_jumped_to_by_both_tools(kernel_iptables: None, tool: str) -> None:
    saved = _saved_rules(_tool_save(tool, NAMED_LIKE_TARGETS, False), ("mangle", "filter"))
    assert saved == NAMED_LIKE_TARGETS_SAVED
    with_options = NAMED_LIKE_TARGETS.replace("-j TPROXY\n", "-j TPROXY --on-port 1\n")
    refused = _tool_save(tool, with_options, False)
    assert refused.returncode != 0 and 'unknown option "--on-port"' in refused.stderr


MAPPED_WITH_ZONE = "\n".join([
    "*mangle", ":PREROUTING ACCEPT [0:0]", "-A PREROUTING -p tcp -j TPROXY --on-port 1 --on-ip ::ffff:1.2.3.4%1",
    "COMMIT", "*nat", ":PREROUTING ACCEPT [0:0]", "-A PREROUTING -j NETMAP --to ::ffff:1.2.3.4%1/24", "COMMIT", ""])
MAPPED_WITH_ZONE_SAVED = ["-A PREROUTING -p tcp -j TPROXY --on-port 1 --on-ip 1.2.3.4 --tproxy-mark 0x0/0x0",
                          "-A PREROUTING -j NETMAP --to 1.2.3.0/24"]
"""getaddrinfo's other readers (libxt_TPROXY's --on-ip, libxt_NETMAP's --to) take an IPv4-mapped address with a
decimal zone in IPv4 as its IPv4 address too (hostmask.mapped_ipv4)."""


def test_tproxy_and_netmap_read_a_mapped_address_with_a_zone() -> None:
    """Before: both were saved as written (``--on-ip ::ffff:1.2.3.4%1``, ``--to ::ffff:1.2.3.4%1/24``)."""
    assert _ours(MAPPED_WITH_ZONE, False) == MAPPED_WITH_ZONE_SAVED


@pytest.mark.kernel
@pytest.mark.parametrize("tool", TOOLS)
def test_tproxy_and_netmap_pins(kernel_iptables: None, tool: str) -> None:
    assert _saved_rules(_tool_save(tool, MAPPED_WITH_ZONE, False), ("mangle", "nat")) == MAPPED_WITH_ZONE_SAVED
