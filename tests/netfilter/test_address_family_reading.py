"""-s/-d in the trace read as the dump's family reads them (final reader f1's findings 1 and 2)."""

from __future__ import annotations

from types import SimpleNamespace

from kubeproxy_sim.netfilter.compile_match_packet import address_check

ONE_TWO_THREE_FOUR = 0x01020304


def test_an_ipv4_mapped_address_in_an_ipv4_dump_matches_its_ipv4_address() -> None:
    """iptables-legacy-restore v1.8.9 saves ``-s ::ffff:1.2.3.4`` in an IPv4 dump as ``-s 1.2.3.4/32``; the trace
    read it as IPv6 and never matched, so a DROP rule let 1.2.3.4 through with no warning."""
    check = address_check("src", "-s", "::ffff:1.2.3.4", False, 4)
    assert check(SimpleNamespace(src=ONE_TWO_THREE_FOUR)) is True
    assert check(SimpleNamespace(src=ONE_TWO_THREE_FOUR + 1)) is False
    negated = address_check("dst", "-d", "::ffff:102:304", True, 4)
    assert negated(SimpleNamespace(dst=ONE_TWO_THREE_FOUR)) is False
    assert negated(SimpleNamespace(dst=5)) is True


def test_a_list_matches_when_any_item_matches() -> None:
    """iptables-legacy-restore v1.8.9 makes one rule per item of ``-s 1.2.3.4/0,5.6.7.8`` (saved as ``-j DROP`` and
    ``-s 5.6.7.8/32 -j DROP``); the trace said the whole value was no address and assumed no match."""
    check = address_check("src", "-s", "1.2.3.4,5.6.7.8", False, 4)
    assert check(SimpleNamespace(src=0x05060708)) is True
    assert check(SimpleNamespace(src=ONE_TWO_THREE_FOUR)) is True
    assert check(SimpleNamespace(src=0x05060709)) is False
    every = address_check("src", "-s", "1.2.3.4/0,5.6.7.8", False, 4)
    assert every(SimpleNamespace(src=9)) is True
    ipv6 = address_check("dst", "-d", "fd00::1,fd00::2/127", False, 6)
    assert ipv6(SimpleNamespace(dst=0xFD00 << 112 | 3)) is True
    assert ipv6(SimpleNamespace(dst=0xFD00 << 112 | 4)) is False


def test_a_conntrack_address_is_never_a_list() -> None:
    """iptables-restore v1.8.9 refuses ``--ctorigdst 1.2.3.4,5.6.7.8`` (getaddrinfo: Name or service not known):
    only -s/-d take lists, so the trace says it cannot read one and assumes no match, as before lists were read."""
    answer = address_check("orig_dst", "--ctorigdst", "1.2.3.4,5.6.7.8", False, 4)(SimpleNamespace(orig_dst=0x05060708))
    assert getattr(answer, "assume", None) is False


def test_a_conntrack_address_is_read_as_getaddrinfo_reads_it() -> None:
    """libxt_conntrack reads its host as getaddrinfo does (iptables-legacy-save v1.8.9 prints ``--ctorigdst 1.2.3``
    as 1.2.0.3 and ``1`` as 0.0.0.1, tests/netfilter/test_saveform_conntrack_address.py), not as -s/-d's
    numeric reading (1.2.3.0, 1.0.0.0): the trace compared the connection with the address -s would mean."""
    check = address_check("orig_dst", "--ctorigdst", "1.2.3", False, 4)
    assert check(SimpleNamespace(orig_dst=0x01020003)) is True
    assert check(SimpleNamespace(orig_dst=0x01020300)) is False
    one = address_check("orig_src", "--ctorigsrc", "1/24", False, 4)
    assert one(SimpleNamespace(orig_src=0x000000FE)) is True
    assert one(SimpleNamespace(orig_src=0x01000000)) is False
    mapped = address_check("orig_src", "--ctorigsrc", "::ffff:1.2.3.4", False, 4)
    assert mapped(SimpleNamespace(orig_src=ONE_TWO_THREE_FOUR)) is True
