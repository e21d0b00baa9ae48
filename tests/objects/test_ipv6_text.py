"""IPv6 text (objects.addr.ipv6_text): inet_ntop's speed, Go's text, for every address.

inet_ntop writes the IPv4-compatible addresses of ::/96 with a dotted quad (``::1.2.3.4``) where Go writes hex
(``::102:304``); the fast writer hands those to the exact one (go_ipv6_text). Both are checked against a port of
Go's own writer (net.IP.String's IPv6 branch: the first longest run of two or more zero groups is ``::``), with
the mapped addresses in netip's and ip6tables-save's form (``::ffff:1.2.3.4``).
"""

from __future__ import annotations

import ipaddress
import platform
import socket

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kubeproxy_sim.netfilter.packet import format_address
from kubeproxy_sim.objects import addr
from kubeproxy_sim.objects.addr import ParsedIP, go_ipv6_text, ipv6_text, parse_cidr, parse_ip, special_address
from kubeproxy_sim.objects.model import IPFamily

ALL = (1 << 128) - 1
MAPPED = 0xFFFF << 32


def go_string(value: int) -> str:
    """Go's net.IP.String for a 16-byte address that is not IPv4-mapped, step by step; mapped ones end in their
    dotted quad (netip)."""
    if value >> 32 == 0xFFFF:
        return "::ffff:" + ".".join(str(value >> shift & 255) for shift in (24, 16, 8, 0))
    groups = [value >> (112 - 16 * i) & 0xFFFF for i in range(8)]
    e0 = e1 = -1
    i = 0
    while i < 8:
        j = i
        while j < 8 and groups[j] == 0:
            j += 1
        if j > i and j - i > e1 - e0:
            e0, e1 = i, j
        i = max(j, i + 1)
    if e1 - e0 <= 1:  # "::" never stands for a single zero group
        e0 = e1 = -1
    head = ":".join(f"{g:x}" for g in groups[:e0]) if e0 >= 0 else ":".join(f"{g:x}" for g in groups)
    if e0 < 0:
        return head
    return head + "::" + ":".join(f"{g:x}" for g in groups[e1:])


def _packed(value: int) -> bytes:
    return value.to_bytes(16, "big")


GROUPS = st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF]) | st.integers(0, 0xFFFF), min_size=8, max_size=8)
"""Eight groups, mostly 0: runs of zero groups of every length, several of equal length, single ones."""
EDGES = st.one_of(
    GROUPS.map(lambda groups: sum(g << (112 - 16 * i) for i, g in enumerate(groups))),
    st.integers(0, (1 << 32) - 1),  # ::/96, IPv4-compatible: inet_ntop's dotted quads
    st.integers(0, (1 << 32) - 1).map(lambda v: MAPPED | v),  # ::ffff:0:0/96, IPv4-mapped
    st.integers(0, (1 << 48) - 1),  # around both
)


@given(st.integers(0, ALL) | EDGES)
@example(0)
@example(1)
@example(2)
@example(MAPPED)
@example(MAPPED - 1)
@example(0x0102_0304)
@example(ALL)
def test_the_fast_text_is_the_exact_text_and_gos(value: int) -> None:
    packed = _packed(value)
    assert ipv6_text(packed) == go_ipv6_text(packed) == go_string(value)
    assert socket.inet_pton(socket.AF_INET6, ipv6_text(packed)) == packed


@pytest.mark.parametrize(("text", "go"), [
    ("::", "::"), ("::1", "::1"), ("::2", "::2"), ("::1.2.3.4", "::102:304"), ("::0.0.1.0", "::100"),
    ("::ffff:0:0", "::ffff:0.0.0.0"), ("::ffff:1.2.3.4", "::ffff:1.2.3.4"), ("::fffe:1.2.3.4", "::fffe:102:304"),
    ("::1:ffff:1.2.3.4", "::1:ffff:102:304"), ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
    ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("FD00:0:0:0:0:0:0:A", "fd00::a"),
    ("1::", "1::"), ("0:0:1::", "0:0:1::"),
])
def test_the_text_go_writes(text: str, go: str) -> None:
    packed = socket.inet_pton(socket.AF_INET6, text)
    assert ipv6_text(packed) == go == go_string(int.from_bytes(packed, "big"))


def test_glibcs_inet_ntop_is_taken() -> None:
    """glibc's inet_ntop writes RFC 5952: a probe that failed here would silently cost ~9 us an address."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("the fast path is glibc's")
    assert addr.ipv6_text is addr._ntop_ipv6_text


def musl_inet_ntop(family: int, packed: bytes) -> str:
    """musl 1.1.20-1.2.3's inet_ntop (src/network/inet_ntop.c, before 1.2.4 gave a leading run one character's
    grace), ported: every group in hex, then the longest
    run of the characters ':' and '0' starting at a group (measured in characters, more than three) becomes
    ``::``. It is RFC 5952 but for two equal runs of zero groups after a single zero group
    (``0:0:1:0:0:2:3:4``: ``0:0:1::2:3:4``, the second run, as "0:0:" is four characters and ":0:0:" five)."""
    if family != socket.AF_INET6:
        return _REAL_NTOP(family, packed)
    words = [packed[i] << 8 | packed[i + 1] for i in range(0, 16, 2)]
    if packed[:12] != bytes(10) + b"\xff\xff":
        text = ":".join(f"{w:x}" for w in words)
    else:
        text = ":".join(f"{w:x}" for w in words[:6]) + ":" + ".".join(str(b) for b in packed[12:])
    best, longest = 0, 2
    for i in range(len(text)):
        if i and text[i] != ":":
            continue
        run = len(text[i:]) - len(text[i:].lstrip(":0"))
        if run > longest:
            best, longest = i, run
    if longest > 3:
        text = text[:best] + "::" + text[best + longest:]
    return text


_REAL_NTOP = socket.inet_ntop


def test_a_musl_inet_ntop_is_not_taken(monkeypatch) -> None:
    """musl's inet_ntop passed every probe but writes ``0:0:1::2:3:4`` where Go writes ``::1:0:0:2:3:4``: were it
    taken, the fast path would write another text than the loader's reader compares with."""
    def pton(text: str) -> bytes:
        return socket.inet_pton(socket.AF_INET6, text)

    assert [p for p in addr._NTOP_PROBES if musl_inet_ntop(socket.AF_INET6, pton(p)) != p] == ["::1:0:0:2:3:4"]
    assert musl_inet_ntop(socket.AF_INET6, pton("::1:0:0:2:3:4")) == "0:0:1::2:3:4"
    monkeypatch.setattr(addr.socket, "inet_ntop", musl_inet_ntop)  # (the module objects.addr calls: _socket)
    assert not addr._ntop_is_rfc5952()


@given(st.integers(0, ALL) | EDGES)
def test_every_ipv6_writer_is_the_one(value: int) -> None:
    """The objects loader (parse_ip, parse_cidr) and the evaluator (format_address) write one text."""
    packed = _packed(value)
    text = ipv6_text(packed)
    assert format_address(6, value) == text
    if value >> 32 != 0xFFFF:
        assert parse_ip(text) == ParsedIP(text, IPFamily.IPV6)
        cidr = parse_cidr(f"{text}/64")
        assert cidr is not None and cidr.text == f"{go_string(value >> 64 << 64)}/64"


SPECIAL_NETS = [ipaddress.ip_network(n) for n in ("::/126", "fe80::/10", "ff02::/16")]
NEAR_SPECIAL = st.sampled_from(SPECIAL_NETS + [ipaddress.ip_network(n) for n in ("fe00::/7", "ff00::/8")]).flatmap(
    lambda net: st.integers(int(net.network_address), int(net.broadcast_address)))


@given(st.integers(0, ALL) | EDGES | NEAR_SPECIAL)
def test_special_ipv6_addresses_are_all_found(value: int) -> None:
    """special_address asks ipaddress only about texts of its prefixes: it still finds ::, ::1, fe80::/10 and
    ff02::/16, and nothing else."""
    if value >> 32 == 0xFFFF:
        return  # IPv4 to the loader
    ip = ipaddress.IPv6Address(value)
    expected = ("an unspecified" if ip.is_unspecified else "a loopback" if ip.is_loopback
                else "a link-local" if ip.is_link_local
                else "a link-local multicast" if ip in ipaddress.ip_network("ff02::/16") else None)
    assert special_address(ParsedIP(ipv6_text(_packed(value)), IPFamily.IPV6)) == expected


NEAR_SPECIAL_V4 = st.sampled_from(["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/23"]).map(
    ipaddress.ip_network).flatmap(lambda net: st.integers(int(net.network_address), int(net.broadcast_address)))


@given(st.integers(0, (1 << 32) - 1) | NEAR_SPECIAL_V4)
def test_special_ipv4_addresses_are_all_found(value: int) -> None:
    ip = ipaddress.IPv4Address(value)
    expected = ("an unspecified" if ip.is_unspecified else "a loopback" if ip.is_loopback
                else "a link-local" if ip.is_link_local
                else "a link-local multicast" if ip in ipaddress.ip_network("224.0.0.0/24") else None)
    assert special_address(ParsedIP(str(ip), IPFamily.IPV4)) == expected


def test_node_and_pod_addresses_of_a_family_are_written_as_the_loader_writes_them() -> None:
    """objects.nodes.of_family (node IPs for rules, pod and node addresses of the netns stage) wrote netaddr's
    ``::1.2.3.4`` for an IPv4-compatible address, where the loader and ``canonical_address`` write Go's
    ``::102:304``: netns send's ``--from`` lookup of such a pod or node missed it (final read)."""
    from kubeproxy_sim.objects.nodes import of_family

    written = ["::1.2.3.4", "::102:304/64", "::ffff:10.0.0.1", "fd00::1", "10.0.0.1", "bogus::x"]
    assert of_family(written, 6) == ["::102:304", "::102:304", "::ffff:10.0.0.1", "fd00::1"]
    assert of_family(written, 6) == [format_address(6, int(ipaddress.IPv6Address(a.split("/")[0])))
                                     for a in written[:4]]
    assert of_family(written, 4) == ["10.0.0.1"]
