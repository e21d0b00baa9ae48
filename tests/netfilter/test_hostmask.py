"""-s/-d values read as iptables 1.8.9 reads them (kubeproxy_sim.netfilter.hostmask); what the restores decide on
each spelling is pinned in restore_cases.ADDRESSES (and re-checked against the kernel's tools there)."""

from __future__ import annotations

import ipaddress
import re
import socket

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kubeproxy_sim.errors import RulesSyntaxError
from kubeproxy_sim.netfilter import syntax
from kubeproxy_sim.netfilter.codec import parse_ruleset
from kubeproxy_sim.netfilter.hostmask import (
    V6_ALL,
    V6_EXPECTED,
    HostName,
    HostNetwork,
    HostRefusal,
    inet_aton_exact,
    read_host,
    read_hosts,
    xt_dotted,
)
from tests.budget import budget
from tests.netfilter.restore_cases import filter_with


@settings(max_examples=budget(400), deadline=None)
@example("1.65535")
@example("0x")
@example("1..2")
@example("0x1.0xffffff")
@given(st.text(alphabet="0123456789.xXabcdef", max_size=20))
def test_inet_aton_exact_reads_as_glibc_s_inet_aton(text: str) -> None:
    """Without blanks (after which glibc's inet_aton ignores the rest) the two agree on every text."""
    try:
        expected: int | None = int.from_bytes(socket.inet_aton(text), "big")
    except OSError:
        expected = None
    assert inet_aton_exact(text) == expected


@pytest.mark.parametrize(("text", "value"), [
    ("1.2.3", 0x01020300), ("1", 0x01000000), ("010.1.1.1", 0x08010101), ("0x1.2.3.0x4", 0x01020304),
    ("+1.2.3.4", 0x01020304), ("1.2.3.000000000000004", 0x01020300),  # (only 19 characters read)
    ("1.2..4", None), ("1.2.3.256", None), ("09.1.1.1", None), ("1.2.3.4.5", None), ("-1.2.3.4", None),
    ("", None), ("256", None),
])
def test_libxtables_own_numeric_reading(text: str, value: int | None) -> None:
    assert xt_dotted(text) == value


def test_a_mask_of_fewer_than_four_numbers_is_a_length() -> None:
    assert xt_dotted("255.255", is_mask=True) is None
    assert read_host("1.2.3.4/255.255") == HostRefusal("invalid mask `255.255' specified",
                                                        "a mask length 0-32 or a dotted mask such as 255.255.0.0")


@settings(max_examples=budget(400), deadline=None)
@given(st.integers(0, (1 << 128) - 1), st.integers(0, 128))
def test_every_ipv6_address_as_ip6tables_save_prints_it_takes_the_fast_pattern(value: int, length: int) -> None:
    text = f"{ipaddress.IPv6Address(value)}/{length}"
    if "." not in text:  # (an IPv4 tail is read by the interpreter)
        assert re.fullmatch(syntax.ADDRESS_VALUE, text)
    host = read_host(text)
    assert isinstance(host, HostNetwork) and host.family == 6


@settings(max_examples=budget(600), deadline=None)
@example("1::2::3")
@example(":1::")
@example("1:2:3:4:5:6:7:8:9")
@example("::1:2:3:4:5:6:7:8")
@given(st.text(alphabet="0123456789abcdefABCDEF:.", max_size=40))
def test_the_fast_pattern_takes_only_what_inet_pton_takes(text: str) -> None:
    """A shape vouches for a rule's -s without reading it: what the pattern takes must be an address."""
    if re.fullmatch(syntax.ADDRESS_VALUE, text):
        if ":" in text:
            socket.inet_pton(socket.AF_INET6, text.partition("/")[0])
        assert syntax.value_problem("address", text) is None


@pytest.mark.parametrize("value", ["x.x.x.x", "10.0.0.0/x.x.x.x", "zz::1/64", "localhost", "link-local/16",
                                   "node-1.example/24"])
def test_a_name_or_an_anonymised_value_is_kept_as_written(value: str) -> None:
    """What a name resolves to is the machine's (iptables asks /etc/hosts, /etc/networks and DNS): never resolved."""
    assert read_hosts(value) == (HostName(value),)


@pytest.mark.parametrize("value", ["fd00::1%lo", "fd00::1%eth0/64", "zz::1%lo", "fd00::1%4294967296", "fd00::1%",
                                   "fd00::1%+1", "fe80::1%", "ff05::1%lo"])
def test_an_address_with_a_zone_is_refused_not_kept_as_anonymised(value: str) -> None:
    """ip6tables-legacy-restore and -nft-restore 1.8.9: "host/network `fd00::1%lo' not found" (the interface's
    letters made it look anonymised, and it was kept); restore_cases ADDRESSES pins the tools' refusal."""
    host = value.rpartition("/")[0] or value
    for ipv6 in (True, None):
        assert read_host(value, ipv6=ipv6) == HostRefusal(f"host/network `{host}' not found", V6_EXPECTED)


@pytest.mark.parametrize(("value", "read"), [
    ("fd00::1%1", HostNetwork(6, 0xFD00 << 112 | 1, V6_ALL)), ("::1%4294967295", HostNetwork(6, 1, V6_ALL)),
    ("fe80::1%01/64", HostNetwork(6, 0xFE80 << 112, V6_ALL ^ (V6_ALL >> 64))),
    ("fe80::1%lo", HostName("fe80::1%lo")), ("ff02::1%eth0/64", HostName("ff02::1%eth0/64")),
    # node- and link-local multicast of any flags (ffX1::, ffX2::), as glibc's __inet6_scopeid_pton takes them:
    # ip6tables-legacy-restore v1.8.9 (unshare --net) saves -s ff01::1%lo and ff12::1%lo as ff01::1/128, ff12::1/128
    ("ff01::1%lo", HostName("ff01::1%lo")), ("ff12::1%lo", HostName("ff12::1%lo")),
    ("ff11::1%lo", HostName("ff11::1%lo")),
])
def test_a_zone_is_read_as_getaddrinfo_reads_it(value: str, read: HostNetwork | HostName) -> None:
    """ip6tables-legacy-restore and -nft-restore 1.8.9 (unshare --net): a numeric zone up to 2^32-1 on any
    address is dropped (``fd00::1%1`` saved as fd00::1/128), an interface name on a link-local address is the
    machine's (``fe80::1%lo`` taken where lo exists: kept as a name); m5's 80c992a refused them all."""
    assert read_host(value, ipv6=True) == read


def test_the_family_is_the_ruleset_s_once_known() -> None:
    """ip6tables refuses what only IPv4 reads (``1``, ``1.2.3``); a name's mask is judged by its family."""
    assert read_host("1", ipv6=True) == HostRefusal(
        "host/network `1' not found",
        "an IPv6 address such as fd00::1, with an optional /LENGTH 0-128 or /MASK such as /ffff:ffff::")
    assert read_host("x/64", ipv6=True) == HostName("x/64")
    assert isinstance(read_host("x/64", ipv6=False), HostRefusal)
    assert read_host("x/64") == HostName("x/64")  # (not known yet: either family's mask)


@pytest.mark.parametrize(("rule", "message"), [
    ("-s 10.0.0.0/33", "node.rules:5: invalid mask `33' specified at '10.0.0.0/33'; expected a mask length 0-32 or a "
                       "dotted mask such as 255.255.0.0"),
    ("-d 10.0.0.256", "node.rules:5: host/network `10.0.0.256' not found at '10.0.0.256'; expected an IPv4 address "
                      "such as 10.0.0.1, with an optional /LENGTH 0-32 or /MASK such as /255.255.0.0"),
    ("! -s 10.0.0.1 -d 10.0.0.2,10.0.0.3", "node.rules:5: ! not allowed with multiple source or destination IP "
                                           "addresses at '10.0.0.2,10.0.0.3'; expected one address after ! -s, or no "
                                           "! (a list makes one rule per address)"),
])
def test_a_refused_address_is_named_in_iptables_words(rule: str, message: str) -> None:
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with(f"-A INPUT {rule} -j ACCEPT"), file="node.rules")
    assert str(info.value) == message


def test_an_address_is_checked_after_the_rule_s_other_options() -> None:
    """iptables reads the addresses after every option and the extensions' final checks (legacy v1.8.9: ``-s
    1.2.3.4/33 -j DNAT`` is 'DNAT: option "--to-destination" must be specified')."""
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with("-A INPUT -s 1.2.3.4/33 -p tcp --dport 99999 -j ACCEPT"))
    assert "99999" in str(info.value)


def test_rules_of_one_shape_are_each_checked() -> None:
    """The skeleton's fast path vouches only for the usual spellings: a rule of the same shape with another is read
    by the interpreter and refused."""
    rules = [f"-A INPUT -s 10.0.0.{i}/32 -j ACCEPT" for i in range(5)] + ["-A INPUT -s 10.0.0.9/33 -j ACCEPT"]
    with pytest.raises(RulesSyntaxError) as info:
        parse_ruleset(filter_with(*rules))
    assert info.value.line == 10
